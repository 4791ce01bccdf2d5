/** Stored responses for the Idempotency-Key header (see idempotency.ts). */
import type { Queryable } from '../kernel/db.js';

export interface StoredRequest {
  requestHash: string;
  state: 'in_progress' | 'done';
  statusCode: number | null;
  responseBody: string | null;
  lockedUntil: Date;
}

export async function claim(db: Queryable, principal: string, key: string, method: string, path: string, hash: string, lockMs: number, owner: string): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO http_idempotency (principal, key, method, path, request_hash, state, owner, locked_until)
     VALUES ($1, $2, $3, $4, $5, 'in_progress', $7, clock_timestamp() + make_interval(secs => $6::double precision / 1000))
     ON CONFLICT (principal, key) DO NOTHING`,
    [principal, key, method, path, hash, lockMs, owner],
  );
  return r.rowCount === 1;
}

export async function load(db: Queryable, principal: string, key: string): Promise<StoredRequest | undefined> {
  const r = await db.query('SELECT request_hash, state, status_code, response_body, locked_until FROM http_idempotency WHERE principal = $1 AND key = $2', [principal, key]);
  const row = r.rows[0] as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return {
    requestHash: row['request_hash'] as string,
    state: row['state'] as 'in_progress' | 'done',
    statusCode: (row['status_code'] as number | null) ?? null,
    responseBody: (row['response_body'] as string | null) ?? null,
    lockedUntil: row['locked_until'] as Date,
  };
}

/** Takes over an in-progress claim whose holder died (its lock expired). */
export async function takeOver(db: Queryable, principal: string, key: string, hash: string, lockMs: number, owner: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE http_idempotency SET locked_until = clock_timestamp() + make_interval(secs => $4::double precision / 1000), owner = $5
     WHERE principal = $1 AND key = $2 AND request_hash = $3 AND state = 'in_progress' AND locked_until < clock_timestamp()`,
    [principal, key, hash, lockMs, owner],
  );
  return r.rowCount === 1;
}

/** Keeps a claim alive while its request is still running. */
export async function extend(db: Queryable, principal: string, key: string, lockMs: number, owner: string): Promise<void> {
  await db.query(
    `UPDATE http_idempotency SET locked_until = clock_timestamp() + make_interval(secs => $3::double precision / 1000)
     WHERE principal = $1 AND key = $2 AND owner = $4 AND state = 'in_progress'`,
    [principal, key, lockMs, owner],
  );
}

export async function complete(db: Queryable, principal: string, key: string, status: number, body: string, owner: string): Promise<void> {
  await db.query(`UPDATE http_idempotency SET state = 'done', status_code = $3, response_body = $4 WHERE principal = $1 AND key = $2 AND owner = $5 AND state = 'in_progress'`, [
    principal, key, status, body, owner,
  ]);
}

export async function release(db: Queryable, principal: string, key: string, owner: string): Promise<void> {
  await db.query(`DELETE FROM http_idempotency WHERE principal = $1 AND key = $2 AND state = 'in_progress' AND owner = $3`, [principal, key, owner]);
}

export async function purgeOlderThan(db: Queryable, before: Date): Promise<number> {
  const r = await db.query('DELETE FROM http_idempotency WHERE created_at < $1', [before]);
  return r.rowCount ?? 0;
}
