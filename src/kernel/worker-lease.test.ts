// Proves worker id leases on real PostgreSQL: concurrent starters get distinct ids, a live (heartbeating) lease is never handed out again, a crashed holder's id is reused only after its lease ends and only for later timestamps, and a taken-over lease stops its generator.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../../test/support/db.js';
import { createPool } from './db.js';
import { decodeId, MAX_WORKER_ID, WorkerLeaseLostError } from './ids.js';
import { acquireWorkerLease, generatorForLease, type WorkerLease } from './worker-lease.js';

let db: TestDb;
// Every lease a test takes, so afterEach can stop its heartbeat before the table is emptied.
const taken: WorkerLease[] = [];

beforeAll(async () => {
  db = await createTestDb({ poolMax: 24 });
});

afterEach(async () => {
  await Promise.all(taken.splice(0).map((l) => l.release()));
  await db.pool.query('DELETE FROM worker_leases');
});

afterAll(async () => {
  await db.drop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function lease(opts: Parameters<typeof acquireWorkerLease>[1] = {}, pool = db.pool): Promise<WorkerLease> {
  const l = await acquireWorkerLease(pool, opts);
  taken.push(l);
  return l;
}

interface LeaseRow {
  holder: string;
  /** lease_until in ms, rounded exactly as acquireWorkerLease reports a previous holder's end. */
  leaseUntilMs: number;
  heartbeatMs: number;
  /** The database's clock when the row was read, so "still live" is judged by the clock that decides. */
  dbNowMs: number;
}

async function leaseRow(workerId: number): Promise<LeaseRow> {
  const r = await db.pool.query<{ holder: string; until_ms: string; hb_ms: string; now_ms: string }>(
    `SELECT holder,
            (extract(epoch FROM lease_until) * 1000)::bigint::text AS until_ms,
            (extract(epoch FROM heartbeat_at) * 1000)::bigint::text AS hb_ms,
            (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS now_ms
       FROM worker_leases WHERE worker_id = $1`,
    [workerId],
  );
  const row = r.rows[0];
  if (!row) throw new Error(`no lease row for worker ${workerId}`);
  return { holder: row.holder, leaseUntilMs: Number(row.until_ms), heartbeatMs: Number(row.hb_ms), dbNowMs: Number(row.now_ms) };
}

/** Marks every worker id except `keep` as held for an hour, so the only id an acquirer could get is `keep`. */
async function holdAllExcept(keep: number[]): Promise<void> {
  await db.pool.query(
    `INSERT INTO worker_leases (worker_id, holder, lease_until, acquired_at, heartbeat_at)
     SELECT g, 'filler', now() + interval '1 hour', now(), now() FROM generate_series(0, $1::int) g
     WHERE g <> ALL($2::int[])`,
    [MAX_WORKER_ID, keep],
  );
}

async function expectNoFreeWorkerId(): Promise<void> {
  await expect(acquireWorkerLease(db.pool, { label: 'intruder' })).rejects.toThrow(/no free worker id/);
}

describe('acquireWorkerLease', () => {
  it('gives 20 concurrent acquirers 20 distinct worker ids', async () => {
    const leases = await Promise.all(Array.from({ length: 20 }, () => lease({ label: 'concurrent' })));
    const ids = leases.map((l) => l.workerId);
    expect(new Set(ids).size).toBe(20);
    for (const l of leases) {
      expect(l.previousLeaseEndMs).toBe(-1);
      expect((await leaseRow(l.workerId)).holder).toBe(l.holder);
    }
  });

  it('gives 20 concurrent acquirers distinct worker ids when only 24 are free, so they must collide', async () => {
    // With 1024 free ids, random picks rarely collide; with 24 free, many acquirers pick the same
    // candidate at once, which exercises the atomic claim rather than luck.
    const free = Array.from({ length: 24 }, (_, i) => i * 40);
    await holdAllExcept(free);
    const leases = await Promise.all(Array.from({ length: 20 }, () => lease({ label: 'contended' })));
    const ids = leases.map((l) => l.workerId);
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(free).toContain(id);
    const holders = await db.pool.query<{ n: string }>(`SELECT count(DISTINCT holder)::text AS n FROM worker_leases WHERE holder LIKE 'contended@%'`);
    expect(holders.rows[0]?.n).toBe('20');
  });

  it('never hands out a live, heartbeating lease, and hands out a released one again', async () => {
    const live = await lease({ leaseMs: 600, label: 'live' });
    const first = await leaseRow(live.workerId);
    await holdAllExcept([live.workerId]);

    // Over more than three lease periods, every acquisition attempt must find no free id: the only
    // non-filler id is held by `live`, whose heartbeat keeps pushing lease_until forward.
    const until = Date.now() + 2_000;
    let attempts = 0;
    while (Date.now() < until) {
      await expectNoFreeWorkerId();
      attempts++;
      await sleep(50);
    }
    expect(attempts).toBeGreaterThan(3);

    const later = await leaseRow(live.workerId);
    expect(later.holder).toBe(live.holder);
    expect(later.leaseUntilMs).toBeGreaterThan(later.dbNowMs);
    expect(later.leaseUntilMs).toBeGreaterThan(first.leaseUntilMs + 1_000);
    expect(later.heartbeatMs).toBeGreaterThan(first.heartbeatMs);
    const id = generatorForLease(live).next();
    expect(decodeId(id).workerId).toBe(live.workerId);

    await live.release();
    const released = await leaseRow(live.workerId);
    expect(released.leaseUntilMs).toBeLessThanOrEqual(released.dbNowMs);
    const next = await lease({ label: 'next' });
    expect(next.workerId).toBe(live.workerId);
    expect(next.holder).not.toBe(live.holder);
    // The released lease's end (shortened to the release time, on the database's clock and on
    // the holder's own) is the successor's high-water mark.
    expect(next.previousLeaseEndMs).toBeGreaterThanOrEqual(released.leaseUntilMs);
    expect(next.previousLeaseEndMs).toBeLessThan(released.leaseUntilMs + 1_000);
  });

  it("does not reuse a crashed holder's worker id before its lease ends, and afterwards issues only later ids", async () => {
    // A crash is simulated by closing the holder's own pool: its heartbeat keeps firing but every
    // renewal fails, and it never releases, exactly like a process that lost its database or died.
    const crashPool = createPool(db.url, { max: 2 });
    const crashed = await lease({ leaseMs: 1_500, label: 'crashed' }, crashPool);
    const crashedGen = generatorForLease(crashed);
    const crashedIds = [crashedGen.next(), crashedGen.next()];
    await crashPool.end();

    await holdAllExcept([crashed.workerId]);
    const dead = await leaseRow(crashed.workerId);
    expect(dead.holder).toBe(crashed.holder);
    // The holder's own deadline ends before the database's, so it stops issuing ids before anyone
    // else can take the worker id over.
    expect(crashed.validUntilMs()).toBeLessThan(dead.leaseUntilMs);

    // Until lease_until passes (by the database's clock), nobody gets the worker id.
    let attemptsWhileLive = 0;
    for (;;) {
      const before = await leaseRow(crashed.workerId);
      if (before.dbNowMs >= dead.leaseUntilMs - 150) break;
      await expectNoFreeWorkerId();
      const after = await leaseRow(crashed.workerId);
      // Count only attempts that provably finished while the lease was still live.
      if (after.dbNowMs < dead.leaseUntilMs) attemptsWhileLive++;
      expect(after.holder).toBe(crashed.holder);
      expect(after.leaseUntilMs).toBe(dead.leaseUntilMs);
      await sleep(50);
    }
    expect(attemptsWhileLive).toBeGreaterThan(3);

    // The crashed holder's generator refuses once its local deadline has passed.
    await sleep(Math.max(0, crashed.validUntilMs() - Date.now() + 5));
    expect(() => crashedGen.next()).toThrow(WorkerLeaseLostError);

    await sleep(Math.max(0, dead.leaseUntilMs - Date.now() + 50));
    const successor = await lease({ label: 'successor' });
    expect(successor.workerId).toBe(crashed.workerId);
    expect(successor.holder).not.toBe(crashed.holder);
    expect(successor.previousLeaseEndMs).toBe(dead.leaseUntilMs);

    const gen = generatorForLease(successor);
    const maxCrashedId = crashedIds.reduce((a, b) => (a > b ? a : b));
    for (let i = 0; i < 20_000; i++) {
      const id = gen.next();
      const d = decodeId(id);
      if (d.timestamp.getTime() <= successor.previousLeaseEndMs || d.workerId !== crashed.workerId || id <= maxCrashedId) {
        throw new Error(`successor issued ${id} (${d.timestamp.toISOString()}, worker ${d.workerId}) at or before the previous lease end`);
      }
    }
  });

  it('stops the generator once another holder has taken the lease row over', async () => {
    const l = await lease({ leaseMs: 600, label: 'victim' });
    const gen = generatorForLease(l);
    expect(decodeId(gen.next()).workerId).toBe(l.workerId);

    await db.pool.query(`UPDATE worker_leases SET holder = 'other' WHERE worker_id = $1`, [l.workerId]);
    const deadline = Date.now() + 5_000;
    while (l.validUntilMs() !== 0 && Date.now() < deadline) await sleep(20);
    expect(l.validUntilMs()).toBe(0);

    // The generator checks the lease whenever the millisecond changes; wait for a new one.
    await sleep(2);
    expect(() => gen.next()).toThrow(WorkerLeaseLostError);
    await sleep(2);
    expect(() => gen.next()).toThrow(WorkerLeaseLostError);

    // The old holder's heartbeat must not take the row back or extend the new holder's lease.
    const takenOver = await leaseRow(l.workerId);
    await sleep(700);
    const still = await leaseRow(l.workerId);
    expect(still.holder).toBe('other');
    expect(still.leaseUntilMs).toBe(takenOver.leaseUntilMs);
  });
});

describe('worker leases under clock skew', () => {
  it("starts a successor after the previous holder's own-clock bound when that clock ran ahead of the database", async () => {
    const first = await lease({ label: 'skewed' });
    await first.release();
    // Pretend the released holder's clock ran 3 s ahead: it may have stamped ids up to then.
    const ahead = Date.now() + 3_000;
    await db.pool.query('UPDATE worker_leases SET issued_until_ms = $2 WHERE worker_id = $1', [first.workerId, ahead]);
    // Make every other worker id busy so the successor must take this one.
    await db.pool.query(
      `INSERT INTO worker_leases (worker_id, holder, lease_until, acquired_at, heartbeat_at)
       SELECT g, 'busy', now() + interval '1 hour', now(), now() FROM generate_series(0, 1023) g WHERE g <> $1
       ON CONFLICT (worker_id) DO UPDATE SET holder = 'busy', lease_until = now() + interval '1 hour'`,
      [first.workerId],
    );
    try {
      const next = await lease({ label: 'successor' });
      expect(next.workerId).toBe(first.workerId);
      expect(next.previousLeaseEndMs).toBe(ahead);
      // It waited for its own clock to pass the bound, and its ids lie after it.
      expect(Date.now()).toBeGreaterThan(ahead);
      expect(decodeId(generatorForLease(next).next()).timestamp.getTime()).toBeGreaterThan(ahead);
      await next.release();
    } finally {
      await db.pool.query(`DELETE FROM worker_leases WHERE holder = 'busy'`);
    }
  });
});
