/**
 * Ledger benchmark: C concurrent submitters send requests of `perRequest` transfers each through
 * the real batched write path into PostgreSQL, for `seconds` seconds. Every debit account has the
 * no-overdraft limit on and every transfer carries its own idempotency key, so the figures include
 * both checks. `--hot` makes every transfer credit one account (a merchant taking all payments).
 *
 * Latency is per request (submit to outcome). Without --database-url a fresh embedded PostgreSQL
 * with default settings is started in a temp dir and removed afterwards. After the run, every
 * ledger invariant is verified and reported.
 */
import { performance } from 'node:perf_hooks';
import { benchDatabase, percentile, round } from './support.js';
import { systemClock } from '../src/kernel/clock.js';
import { createPool } from '../src/kernel/db.js';
import { migrate } from '../src/kernel/migrate.js';
import { acquireWorkerLease, generatorForLease } from '../src/kernel/worker-lease.js';
import { Ledger, type TransferRequest } from '../src/modules/ledger/index.js';

export interface LedgerBenchOptions {
  databaseUrl?: string;
  accounts: number;
  concurrency: number;
  seconds: number;
  perRequest: number;
  hot: boolean;
}




export async function runLedgerBench(o: LedgerBenchOptions) {
  if (o.accounts < 2 || o.concurrency < 1 || o.seconds < 1 || o.perRequest < 1) throw new Error('need accounts >= 2, concurrency >= 1, seconds >= 1, per-request >= 1');
  const db = await benchDatabase(o.databaseUrl);
  const url = db.url;
  const pool = createPool(url, { max: 8 });
  try {
    await migrate(pool);
    const lease = await acquireWorkerLease(pool, { label: 'bench' });
    const gen = generatorForLease(lease);
    const nextId = (): bigint => gen.next();
    const ledger = new Ledger({ pool, clock: systemClock, nextId });
    const run = nextId().toString(36);
    const mk = async (ref: string, type: 'asset' | 'liability', limited: boolean): Promise<bigint> => {
      const r = await ledger.createAccount({ ref: `bench-${run}-${ref}`, type, currency: 'CNY', subjectCode: type === 'asset' ? '101101' : '225103', debitsMustNotExceedCredits: limited });
      if (!r.ok) throw new Error(r.code);
      return r.value.account.id;
    };
    const funding = await mk('funding', 'asset', false);
    const merchant = await mk('merchant', 'liability', true);
    const accounts: bigint[] = [];
    for (let i = 0; i < o.accounts; i++) accounts.push(await mk(`a${i}`, 'liability', true));
    // Fund every account generously so transfers are not refused for lack of money.
    for (let i = 0; i < accounts.length; i += 4000) {
      const chunk = accounts.slice(i, i + 4000).map((a, k): TransferRequest => ({ idempotencyKey: `bench-${run}-fund-${i + k}`, debitAccountId: funding, creditAccountId: a, amount: 1_000_000_000n, currency: 'CNY' }));
      const r = await ledger.createTransfers(chunk);
      if (!r.ok || r.value.some((x) => !x.ok)) throw new Error('funding failed');
    }
    const latencies: number[] = [];
    let ok = 0;
    let failed = 0;
    let seqNo = 0;
    const statsBefore = { ...ledger.batchStats };
    const started = performance.now();
    const deadline = started + o.seconds * 1000;
    const submitter = async (w: number): Promise<void> => {
      while (performance.now() < deadline) {
        const reqs: TransferRequest[] = [];
        for (let k = 0; k < o.perRequest; k++) {
          const d = accounts[Math.floor(Math.random() * accounts.length)]!;
          let c = o.hot ? merchant : accounts[Math.floor(Math.random() * accounts.length)]!;
          if (c === d) c = accounts[(accounts.indexOf(d) + 1) % accounts.length]!;
          reqs.push({ idempotencyKey: `bench-${run}-${w}-${seqNo++}`, debitAccountId: d, creditAccountId: c, amount: BigInt(1 + Math.floor(Math.random() * 100)), currency: 'CNY', code: 'bench' });
        }
        const t0 = performance.now();
        const r = await ledger.createTransfers(reqs);
        latencies.push(performance.now() - t0);
        if (!r.ok) {
          failed += reqs.length;
          continue;
        }
        for (const x of r.value) x.ok ? ok++ : failed++;
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, (_, w) => submitter(w)));
    const elapsed = (performance.now() - started) / 1000;
    const batches = ledger.batchStats.batches - statsBefore.batches;
    await ledger.close();
    const v = await ledger.verify();
    await lease.release();
    latencies.sort((a, b) => a - b);
    return {
      bench: 'ledger' as const,
      transfers_per_s: Math.round(ok / elapsed),
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      accounts: o.accounts,
      concurrency: o.concurrency,
      hot: o.hot,
      per_request: o.perRequest,
      seconds: round(elapsed),
      transfers: ok,
      rejected: failed,
      batches,
      avg_batch: batches ? Math.round((ledger.batchStats.transfers - statsBefore.transfers) / batches) : 0,
      retries: ledger.batchStats.retries - statsBefore.retries,
      verified: v.violations.length === 0,
    };
  } finally {
    await pool.end();
    await db.close();
  }
}
