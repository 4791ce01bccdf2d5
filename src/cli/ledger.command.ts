/** `paycore ledger ...`: invariant checks and accounting exports. */
import type { Command } from 'commander';
import { openRuntime } from '../main.js';
import { createLogger } from '../kernel/logger.js';
import { overrides, withDbOption, type DbOpts } from './common.js';

export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('ledger tools');

  withDbOption(ledger.command('verify').description('check every ledger invariant; exits 1 on any violation'))
    .action(async (opts: DbOpts, cmd: Command) => {
      const rt = await openRuntime(overrides(cmd, opts), { log: createLogger('warn'), poolMax: 2 });
      try {
        const v = await rt.ledger.verify();
        for (const c of v.checks) {
          const bad = v.violations.filter((x) => x.check === c);
          process.stdout.write(`${bad.length === 0 ? 'ok  ' : 'FAIL'} ${c}${bad.length ? ` (${bad.length})` : ''}\n`);
          for (const b of bad.slice(0, 10)) process.stdout.write(`     ${b.detail}\n`);
        }
        process.exitCode = v.violations.length === 0 ? 0 : 1;
      } finally {
        await rt.close();
      }
    });
}
