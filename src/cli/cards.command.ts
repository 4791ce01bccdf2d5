/** `paycore cards ...`: batch issuance (numbers to a private file) and reports as CSV. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { lastQuarter, reportCsv } from '../modules/cards/index.js';
import { orFail, withDbOption, withRuntime, type DbOpts } from './common.js';

export function registerCardCommands(program: Command): void {
  const cards = program.command('cards').description('prepaid cards (预付卡)');

  withDbOption(cards.command('issue').description('issue a batch of cards into stock; full numbers go to --out (mode 0600), never to the terminal'))
    .requiredOption('--product <id>', 'card product id')
    .requiredOption('--count <n>', 'cards to issue (1-1000)', (v) => Number(v))
    .requiredOption('--out <file>', 'CSV file for card_id,number (created; must not exist)')
    .action(async (opts: DbOpts & { product: string; count: number; out: string }, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        const b = orFail(await rt.cards.issueBatch({ productId: BigInt(opts.product), count: opts.count }));
        const numbers = await rt.cards.batchNumbers(b.batchId);
        const csv = ['card_id,number', ...numbers.map((n) => `${n.cardId},${n.number.reveal()}`)].join('\n') + '\n';
        writeFileSync(opts.out, csv, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`issued batch ${b.batchId}: ${b.cards.length} card(s); numbers written to ${opts.out}\n`);
      }),
    );

  withDbOption(cards.command('report').description('card reports as CSV: outstanding | escrow | dormant | breakage'))
    .argument('<report>', 'outstanding, escrow, dormant or breakage')
    .option('--quarter <YYYYQn>', 'escrow: the quarter whose end balance counts (default: last quarter)')
    .option('--days <n>', 'dormant: days without a transaction', (v) => Number(v), 365)
    .action(async (report: string, opts: DbOpts & { quarter?: string; days: number }, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        let rows: Record<string, unknown>[];
        switch (report) {
          case 'outstanding':
            rows = (await rt.cards.outstandingReport()) as unknown as Record<string, unknown>[];
            break;
          case 'escrow':
            rows = orFail(await rt.cards.escrowReport({ quarter: opts.quarter ?? lastQuarter(rt.clock.now(), rt.config.businessTimeZone) })).rows as unknown as Record<string, unknown>[];
            break;
          case 'dormant':
            rows = orFail(await rt.cards.dormantReport(opts.days)) as unknown as Record<string, unknown>[];
            break;
          case 'breakage':
            rows = (await rt.cards.breakageReport()) as unknown as Record<string, unknown>[];
            break;
          default:
            throw new Error(`unknown report ${report}; use outstanding, escrow, dormant or breakage`);
        }
        process.stdout.write(reportCsv(rows));
      }),
    );
}
