// Proves that acknowledged transfers survive a PostgreSQL crash (kill -9 of the postmaster and every backend, losing WAL still in its buffers): the ledger answers only after the WAL flush, so after restart every acknowledged transfer exists exactly once and every invariant holds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/kernel/clock.js';
import { createPool, type Pool } from '../src/kernel/db.js';
import { startEmbeddedDb, type EmbeddedDb } from '../src/kernel/embedded-db.js';
import { IdGenerator } from '../src/kernel/ids.js';
import { migrate } from '../src/kernel/migrate.js';
import { Ledger } from '../src/modules/ledger/index.js';
import { freePort } from './support/net.js';

const dir = mkdtempSync(join(tmpdir(), 'paycore-pgcrash-'));
let db: EmbeddedDb | undefined;
const pools: Pool[] = [];

afterAll(async () => {
  for (const p of pools) await p.end().catch(() => undefined);
  await db?.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function killPostgres(): void {
  const pid = Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    // No children listed.
  }
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PostgreSQL crash', () => {
  it('keeps every acknowledged transfer', async () => {
    const port = await freePort();
    db = await startEmbeddedDb({ dataDir: dir, port });
    const pool = createPool(db.url, { max: 10 });
    pools.push(pool);
    pool.on('error', () => undefined);
    await migrate(pool);
    // A fixed worker id keeps this test independent of lease timing around the crash.
    const gen = new IdGenerator({ workerId: 1 });
    const ledger = new Ledger({ pool, clock: systemClock, nextId: () => gen.next() });
    const bank = await ledger.createAccount({ type: 'asset', currency: 'CNY', subjectCode: '101101', ref: 'bank' });
    const wallet = await ledger.createAccount({ type: 'liability', currency: 'CNY', subjectCode: '225103', ref: 'wallet' });
    if (!bank.ok || !wallet.ok) throw new Error('setup failed');
    const acked = new Map<string, bigint>();
    let stop = false;
    let n = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const reqs = Array.from({ length: 20 }, () => {
          const i = n++;
          return { idempotencyKey: `t-${i}`, debitAccountId: bank.value.account.id, creditAccountId: wallet.value.account.id, amount: BigInt(1 + (i % 50)), currency: 'CNY' };
        });
        try {
          const r = await ledger.createTransfers(reqs);
          if (r.ok) r.value.forEach((o, k) => o.ok && acked.set(reqs[k]!.idempotencyKey, reqs[k]!.amount!));
        } catch {
          return; // The database went away: these requests' outcomes are unknown.
        }
      }
    };
    const writers = Array.from({ length: 6 }, writer);
    while (acked.size < 2000) await new Promise((r) => setTimeout(r, 5));
    const pid = Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    killPostgres();
    stop = true;
    await Promise.all(writers);
    await waitGone(pid);
    await new Promise((r) => setTimeout(r, 500));

    db = await startEmbeddedDb({ dataDir: dir, port });
    const after = createPool(db.url, { max: 4 });
    pools.push(after);
    const ledger2 = new Ledger({ pool: after, clock: systemClock, nextId: () => gen.next() });
    const v = await ledger2.verify();
    expect(v.violations).toEqual([]);
    const keys = [...acked.keys()];
    const found = await after.query<{ idempotency_key: string; amount: bigint }>('SELECT idempotency_key, amount FROM transfers WHERE idempotency_key = ANY($1::text[])', [keys]);
    expect(found.rowCount).toBe(keys.length);
    for (const r of found.rows) expect(r.amount).toBe(acked.get(r.idempotency_key));
    await ledger2.close();
    await ledger.close().catch(() => undefined);
  }, 120_000);
});
