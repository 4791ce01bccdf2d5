/** `paycore bench <name>`: measured figures, last stdout line one JSON object. */
import type { Command } from 'commander';
import { runCardsBench } from '../../bench/cards.bench.js';
import { runIdsBench } from '../../bench/ids.bench.js';
import { runLedgerBench } from '../../bench/ledger.bench.js';
import { runPaymentsBench } from '../../bench/payments.bench.js';
import { runRiskBench } from '../../bench/risk.bench.js';
import { loadConfig } from '../kernel/config.js';
import { createPool } from '../kernel/db.js';
import type { EmbeddedDb } from '../kernel/embedded-db.js';
import { createLogger } from '../kernel/logger.js';
import { migrate } from '../kernel/migrate.js';
import { openDatabase } from '../main.js';
import { json, overrides } from './common.js';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
};

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks; each prints one JSON line of measured figures');

  bench
    .command('ids')
    .description('id generation rate and duplicate check, in one or several processes')
    .option('--count <n>', 'ids to generate in total', int, 10_000_000)
    .option('--processes <p>', 'generator processes (each leases its own worker id)', int, 1)
    .option('--database-url <url>', 'PostgreSQL for worker leases (default: DATABASE_URL, else the embedded database)')
    .action(async (o: { count: number; processes: number; databaseUrl?: string }, cmd: Command) => {
      let url = o.databaseUrl ?? process.env['DATABASE_URL'];
      let embedded: EmbeddedDb | undefined;
      if (!url && o.processes > 1) {
        // Several processes need leased worker ids, so they need a database: use the embedded one.
        const config = loadConfig(overrides(cmd, {}));
        const db = await openDatabase(config, createLogger('warn'));
        url = db.url;
        embedded = db.embedded;
        const pool = createPool(url, { max: 1 });
        await migrate(pool).finally(() => pool.end());
      }
      try {
        const r = await runIdsBench({ count: o.count, processes: o.processes, ...(url ? { databaseUrl: url } : {}) });
        process.stdout.write(json(r) + '\n');
      } finally {
        await embedded?.stop();
      }
    });

  bench
    .command('payments')
    .description('create + pay orders with a prepaid card over the HTTP API of a real server process')
    .option('--database-url <url>', 'PostgreSQL to run against (default: a fresh embedded database in a temp dir)')
    .option('--concurrency <c>', 'concurrent clients', int, 32)
    .option('--seconds <s>', 'measured duration', int, 10)
    .option('--cards <n>', 'sold cards to spread the load over', int, 1000)
    .option('--risk', 'make the default risk rule pack live first (every payment is decided by it)', false)
    .action(async (o: { databaseUrl?: string; concurrency: number; seconds: number; cards: number; risk: boolean }) => {
      const r = await runPaymentsBench({ concurrency: o.concurrency, seconds: o.seconds, cards: o.cards, risk: o.risk, ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}) });
      process.stdout.write(json(r) + '\n');
    });

  bench
    .command('cards')
    .description('online card consume authorizations through the cards module')
    .option('--database-url <url>', 'PostgreSQL to run against (default: a fresh embedded database in a temp dir)')
    .option('--cards <n>', 'sold cards to spread the load over', int, 1000)
    .option('--concurrency <c>', 'concurrent terminals', int, 32)
    .option('--seconds <s>', 'measured duration', int, 10)
    .action(async (o: { databaseUrl?: string; cards: number; concurrency: number; seconds: number }) => {
      const r = await runCardsBench({ cards: o.cards, concurrency: o.concurrency, seconds: o.seconds, ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}) });
      process.stdout.write(json(r) + '\n');
    });

  bench
    .command('ledger')
    .description('transfer throughput and latency through the batched ledger')
    .option('--database-url <url>', 'PostgreSQL to run against (default: a fresh embedded database in a temp dir)')
    .option('--accounts <n>', 'accounts', int, 1000)
    .option('--concurrency <c>', 'concurrent submitters', int, 8)
    .option('--seconds <s>', 'measured duration', int, 10)
    .option('--per-request <n>', 'transfers per submitted request', int, 100)
    .option('--hot', 'every transfer credits the same account (a merchant taking all payments)', false)
    .action(async (o: { databaseUrl?: string; accounts: number; concurrency: number; seconds: number; perRequest: number; hot: boolean }) => {
      const r = await runLedgerBench({ accounts: o.accounts, concurrency: o.concurrency, seconds: o.seconds, perRequest: o.perRequest, hot: o.hot, ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}) });
      process.stdout.write(json(r) + '\n');
    });

  bench
    .command('risk')
    .description('risk engine decisions in one process (rules, lists of 1,000,000 entries, 10 velocity windows)')
    .option('--rules <r>', 'rules in the rule set', int, 500)
    .option('--events <n>', 'events to decide', int, 200_000)
    .option('--list-entries <n>', 'black/white/grey list entries', int, 1_000_000)
    .action((o: { rules: number; events: number; listEntries: number }) => {
      process.stdout.write(json(runRiskBench({ rules: o.rules, events: o.events, listEntries: o.listEntries })) + '\n');
    });
}
