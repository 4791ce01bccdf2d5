/**
 * Worker ids for the id generator, leased from PostgreSQL so that two live generators (processes
 * or threads) never hold the same one. A lease lasts `leaseMs` and is renewed every `leaseMs / 3`.
 * A holder that cannot renew stops issuing ids before its lease ends (judged by its own clock with
 * a safety margin), and a new holder of a worker id never issues ids for a millisecond at or before
 * the previous holder's lease end — so a crashed process's worker id is reused only after its
 * lease expired, and never with overlapping timestamps.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { IdGenerator, MAX_WORKER_ID } from './ids.js';
import type { Logger } from './logger.js';

export interface WorkerLease {
  workerId: number;
  holder: string;
  /** Previous holder's lease end (ms); ids must be issued after it. */
  previousLeaseEndMs: number;
  /** Local-clock deadline after which ids must not be issued unless renewed. */
  validUntilMs(): number;
  release(): Promise<void>;
}

export interface LeaseOptions {
  leaseMs?: number;
  log?: Logger;
  label?: string;
}

export async function acquireWorkerLease(pool: pg.Pool, opts: LeaseOptions = {}): Promise<WorkerLease> {
  const leaseMs = opts.leaseMs ?? 30_000;
  const holder = `${opts.label ?? 'paycore'}@${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  for (let attempt = 0; attempt < 20; attempt++) {
    const startedLocal = Date.now();
    const margin = marginFor(leaseMs);
    // Pick a free (never used or expired) worker id at random so concurrent starters rarely collide,
    // then claim it; the conditional upsert makes the claim atomic. The claim also requires the row
    // to still carry the lease_until we read: `prev` comes from the statement's snapshot, while
    // ON CONFLICT DO UPDATE acts on the latest committed row, so without that check a holder that
    // claimed and released the id in between would be missed and we would return its predecessor's
    // (earlier) lease end as the high-water mark. A lost race returns no row and we try again.
    const r = await pool.query<{ worker_id: number; prev_until_ms: string | null }>(
      `WITH candidate AS (
         SELECT g AS worker_id FROM generate_series(0, $3::int) g
         LEFT JOIN worker_leases w ON w.worker_id = g
         WHERE w.worker_id IS NULL OR w.lease_until < clock_timestamp()
         ORDER BY random() LIMIT 1
       ), prev AS (
         SELECT c.worker_id, w.lease_until, w.issued_until_ms FROM candidate c LEFT JOIN worker_leases w ON w.worker_id = c.worker_id
       )
       INSERT INTO worker_leases AS w (worker_id, holder, lease_until, issued_until_ms, acquired_at, heartbeat_at)
       SELECT worker_id, $1, clock_timestamp() + make_interval(secs => $2::double precision / 1000), $4, clock_timestamp(), clock_timestamp() FROM prev
       ON CONFLICT (worker_id) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until,
         issued_until_ms = EXCLUDED.issued_until_ms, acquired_at = EXCLUDED.acquired_at, heartbeat_at = EXCLUDED.heartbeat_at
       WHERE w.lease_until < clock_timestamp() AND w.lease_until IS NOT DISTINCT FROM (SELECT lease_until FROM prev)
       RETURNING worker_id,
         (SELECT greatest((extract(epoch FROM p.lease_until) * 1000)::bigint, coalesce(p.issued_until_ms, -1))::text FROM prev p) AS prev_until_ms`,
      [holder, leaseMs, MAX_WORKER_ID, startedLocal + leaseMs - margin],
    );
    const row = r.rows[0];
    if (!row) continue;
    const notBefore = Number(row.prev_until_ms ?? -1);
    // A previous holder whose clock ran ahead of ours may have stamped ids up to notBefore: wait
    // until our clock passes it rather than risk reusing a millisecond.
    const wait = notBefore - Date.now() + 1;
    if (wait > 60_000) throw new Error(`worker id ${row.worker_id} was used up to ${new Date(notBefore).toISOString()} by a clock ${wait} ms ahead of ours; fix the clocks`);
    // Timers run on the monotonic clock and may fire a little before the wall clock has moved on
    // as far: check the wall clock itself.
    while (Date.now() <= notBefore) await new Promise((res) => setTimeout(res, notBefore - Date.now() + 1));
    return startLease(pool, row.worker_id, holder, notBefore, startedLocal, leaseMs, opts.log);
  }
  throw new Error('no free worker id: 1024 generators hold leases');
}

/** Our deadline is this much earlier than the lease end the database records. */
function marginFor(leaseMs: number): number {
  return Math.min(2000, Math.floor(leaseMs / 5));
}

function startLease(pool: pg.Pool, workerId: number, holder: string, prevEnd: number, startedLocal: number, leaseMs: number, log?: Logger): WorkerLease {
  // Measured from before the request was sent, minus a margin, so our local deadline is never
  // later than the lease end the database recorded.
  const margin = marginFor(leaseMs);
  let validUntil = startedLocal + leaseMs - margin;
  let released = false;
  // Renewals in flight (more than one if the database is slow). release() waits for them, so a
  // renewal cannot land after the release and extend the row again or make the generator valid again.
  const renewing = new Set<Promise<void>>();
  const renew = async (): Promise<void> => {
    if (released) return;
    const sent = Date.now();
    try {
      // The new bound is recorded before we start using it, so the row always covers every
      // millisecond this holder may stamp.
      const bound = sent + leaseMs - margin;
      const r = await pool.query(
        `UPDATE worker_leases SET lease_until = clock_timestamp() + make_interval(secs => $3::double precision / 1000), heartbeat_at = clock_timestamp(),
           issued_until_ms = greatest(issued_until_ms, $4)
         WHERE worker_id = $1 AND holder = $2`,
        [workerId, holder, leaseMs, bound],
      );
      if (released) return;
      if (r.rowCount === 1) validUntil = bound;
      else {
        validUntil = 0;
        log?.error({ workerId }, 'worker id lease was taken over; id generation stops');
      }
    } catch (e) {
      log?.warn({ workerId, err: (e as Error).message }, 'worker lease renewal failed; will retry');
    }
  };
  const timer = setInterval(() => {
    // renew() never rejects: it catches and logs its own errors.
    const p = renew();
    renewing.add(p);
    void p.finally(() => renewing.delete(p));
  }, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    workerId,
    holder,
    previousLeaseEndMs: prevEnd,
    validUntilMs: () => validUntil,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      validUntil = 0;
      await Promise.all(renewing);
      // We have stopped issuing ids (validUntil = 0), so the high-water marks shrink to now: the
      // database's clock for lease_until, ours for issued_until_ms.
      await pool
        .query(`UPDATE worker_leases SET lease_until = clock_timestamp(), issued_until_ms = least(issued_until_ms, $3) WHERE worker_id = $1 AND holder = $2`, [workerId, holder, Date.now() + 1])
        .catch(() => undefined);
    },
  };
}

/** An id generator bound to a lease: it refuses to issue ids once the lease is not known to be held. */
export function generatorForLease(lease: WorkerLease): IdGenerator {
  return new IdGenerator({
    workerId: lease.workerId,
    notBeforeMs: lease.previousLeaseEndMs,
    leaseValid: (nowMs) => nowMs < lease.validUntilMs(),
  });
}
