/** `paycore cards ...`: batch issuance (numbers to a private file) and reports as CSV. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CardPurse, lastQuarter, PURSE_LIMIT_MINOR, reportCsv, tornRetryDecision, type SignedOfflineDebit } from '../modules/cards/index.js';
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

  withDbOption(cards.command('offline-demo').description('simulate a card chip spending its offline purse at a terminal (one debit torn), then upload the batch twice'))
    .requiredOption('--card <id>', 'a sold card with value loaded onto its purse (POST /v1/cards/{id}/purse-load)')
    .requiredOption('--merchant <id>', 'an active merchant that accepts the card')
    .option('--amounts <fen,...>', 'offline debits in fen', '300,500')
    .option('--torn <n>', 'which debit (1-based) is torn: the card debits but the terminal sees a failure', (v) => Number(v), 2)
    .action(async (opts: DbOpts & { card: string; merchant: string; amounts: string; torn: number }, cmd: Command) =>
      withRuntime(cmd, opts, async (rt) => {
        const cardId = BigInt(opts.card);
        const bal = orFail(await rt.cards.balance(cardId));
        // The chip: personalised with the card's key, holding what was loaded onto the purse.
        const chip = new CardPurse({ cardId: opts.card, cardKey: rt.cards.purseKey(cardId), balanceLimitMinor: PURSE_LIMIT_MINOR, singleTxLimitMinor: PURSE_LIMIT_MINOR, balanceMinor: bal.purseMinor });
        const records: SignedOfflineDebit[] = [];
        for (const [i, a] of opts.amounts.split(',').map((x) => BigInt(x.trim())).entries()) {
          const debit = { amountMinor: a, terminalId: 'DEMO-POS', merchantId: opts.merchant, occurredAt: new Date(rt.clock.nowMs() + i * 1000) };
          if (i + 1 === opts.torn) {
            const before = chip.atc;
            const torn = chip.tornDebit(debit);
            if (!torn.ok) throw new Error(`${torn.code}: ${torn.message}`);
            // The terminal retries with the same card: the card's log proves the debit happened.
            const d = tornRetryDecision({ cardId: opts.card, atcBeforeAttempt: before, atcNow: chip.atc, proof: chip.transactionProof(before + 1), intended: { amountMinor: a, terminalId: 'DEMO-POS', merchantId: opts.merchant } });
            process.stdout.write(`debit ${i + 1}: torn; retry with the same card -> ${d.kind}\n`);
            if (d.kind === 'already_debited') records.push(d.record);
          } else {
            const d = chip.debit(debit);
            if (!d.ok) throw new Error(`${d.code}: ${d.message}`);
            process.stdout.write(`debit ${i + 1}: ${a} fen, ATC ${d.value.atc}\n`);
            records.push(d.value);
          }
        }
        for (const round of ['upload', 'upload again']) {
          const r = orFail(await rt.cards.uploadOffline({ merchantId: BigInt(opts.merchant), terminalId: 'DEMO-POS', records }));
          process.stdout.write(`${round}: ${r.results.map((x) => `ATC ${x.atc} ${x.status}${x.code ? ` (${x.code})` : ''}`).join(', ')}; applied ${r.appliedMinor} fen\n`);
        }
        const after = orFail(await rt.cards.balance(cardId));
        process.stdout.write(`chip purse ${chip.balanceMinor} fen, platform purse ${after.purseMinor} fen\n`);
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
