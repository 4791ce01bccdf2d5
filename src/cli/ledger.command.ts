/** `paycore ledger ...`: invariant checks, day close, vouchers and trial balance exports. */
import type { Command } from 'commander';
import { businessDate } from '../kernel/clock.js';
import * as acc from '../modules/ledger/accounting.js';
import { json, orFail, withDbOption, withRuntime, type DbOpts } from './common.js';

export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('ledger and accounting tools');

  withDbOption(ledger.command('verify').description('check every ledger invariant; exits 1 on any violation'))
    .action(async (opts: DbOpts, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        const v = await rt.ledger.verify();
        for (const c of v.checks) {
          const bad = v.violations.filter((x) => x.check === c);
          process.stdout.write(`${bad.length === 0 ? 'ok  ' : 'FAIL'} ${c}${bad.length ? ` (${bad.length})` : ''}\n`);
          for (const b of bad.slice(0, 10)) process.stdout.write(`     ${b.detail}\n`);
        }
        process.stdout.write(v.violations.length === 0 ? 'ledger verified: every invariant holds\n' : `ledger verification FAILED: ${v.violations.length} violation(s)\n`);
        process.exitCode = v.violations.length === 0 ? 0 : 1;
      }),
    );

  withDbOption(ledger.command('close-day').description('generate the vouchers of a closed business day (idempotent)'))
    .requiredOption('--date <YYYY-MM-DD>', 'business date in the business time zone')
    .action(async (opts: DbOpts & { date: string }, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        const r = orFail(await acc.generateVouchers(rt.pool, { date: opts.date, tz: rt.config.businessTimeZone, clock: rt.clock, nextId: rt.nextId }));
        process.stdout.write(`${r.created ? 'closed' : 'already closed'} ${opts.date}: ${r.vouchers.length} voucher(s)\n`);
      }),
    );

  withDbOption(ledger.command('vouchers').description('print the vouchers (记账凭证) of a business day'))
    .requiredOption('--date <YYYY-MM-DD>', 'business date')
    .option('--csv', 'CSV instead of JSON')
    .action(async (opts: DbOpts & { date: string; csv?: boolean }, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        const v = orFail(await acc.getVouchers(rt.pool, opts.date));
        process.stdout.write(opts.csv ? acc.vouchersCsv(v) : json(v) + '\n');
      }),
    );

  withDbOption(ledger.command('trial-balance').description('print the trial balance (试算平衡表) of a business day; exits 1 if it does not balance'))
    .option('--date <YYYY-MM-DD>', 'business date (default: today in the business time zone)')
    .option('--csv', 'CSV instead of JSON')
    .action(async (opts: DbOpts & { date?: string; csv?: boolean }, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        const date = opts.date ?? businessDate(rt.clock.now(), rt.config.businessTimeZone);
        const tb = orFail(await acc.trialBalance(rt.pool, { date, tz: rt.config.businessTimeZone, clock: rt.clock, nextId: rt.nextId }));
        process.stdout.write(opts.csv ? acc.trialBalanceCsv(tb) : json(tb) + '\n');
        process.exitCode = tb.balanced ? 0 : 1;
      }),
    );
}
