/**
 * `Idempotency-Key` for every POST: the first request with a key runs and its successful (2xx)
 * response is stored; a retry with the same key and the same body gets that stored response
 * (marked `Idempotent-Replayed: true`); the same key with a different body is refused with
 * `idempotency_key_reused`; a retry while the first is still running gets
 * `idempotency_key_in_progress`. Refused requests (4xx/5xx) are not stored: they wrote nothing,
 * so the client may correct and retry under the same key. A claim left by a crashed process
 * is kept alive by a heartbeat while its request runs, expires a minute after a crash and can then
 * be taken over; each claim has an owner, so a late first attempt cannot complete or drop the
 * claim of the attempt that took over. The operations underneath that move money are idempotent
 * themselves (ledger idempotency keys), so a re-run cannot move money twice.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from '../kernel/db.js';
import { DomainError } from '../kernel/errors.js';
import { principalKey, type Principal } from './auth.js';
import * as store from './idempotency.store.js';

const KEY_RE = /^[\x21-\x7e]{1,128}$/;
const LOCK_MS = 60_000;
/** A claim is kept alive for at most this long; a request running longer is considered lost. */
const MAX_HOLD_MS = 10 * 60_000;

export interface IdemState {
  principal: string;
  key: string;
  owner: string;
  heartbeat: NodeJS.Timeout;
}

export function requestHash(req: FastifyRequest): string {
  return createHash('sha256')
    .update(`${req.method}\n${req.url}\n${JSON.stringify(req.body ?? null)}`)
    .digest('hex');
}

/** Returns true when the reply was already sent from the stored response. */
export async function beginIdempotent(pool: Pool, req: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<IdemState | 'replayed' | undefined> {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0] ?? '' : raw;
  if (!KEY_RE.test(key)) throw new DomainError('invalid_idempotency_key', 'Idempotency-Key must be 1-128 printable ASCII characters');
  const p = principalKey(principal);
  const hash = requestHash(req);
  const path = req.routeOptions.url ?? req.url;
  const owner = randomUUID();
  const held = (): IdemState => {
    // While the request runs, keep the claim from looking abandoned; stop after MAX_HOLD_MS.
    const started = Date.now();
    const heartbeat: NodeJS.Timeout = setInterval(() => {
      if (Date.now() - started > MAX_HOLD_MS) clearInterval(heartbeat);
      else void store.extend(pool, p, key, LOCK_MS, owner).catch(() => undefined);
    }, LOCK_MS / 3);
    heartbeat.unref();
    return { principal: p, key, owner, heartbeat };
  };
  if (await store.claim(pool, p, key, req.method, path, hash, LOCK_MS, owner)) return held();
  const prior = await store.load(pool, p, key);
  if (!prior) {
    // Purged between our insert attempt and the read; claim again once.
    if (await store.claim(pool, p, key, req.method, path, hash, LOCK_MS, owner)) return held();
    throw new DomainError('idempotency_key_in_progress', 'a request with this Idempotency-Key is being processed');
  }
  if (prior.requestHash !== hash) throw new DomainError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
  if (prior.state === 'done') {
    await reply
      .code(prior.statusCode ?? 200)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .send(prior.responseBody ?? '');
    return 'replayed';
  }
  if (await store.takeOver(pool, p, key, hash, LOCK_MS, owner)) return held();
  throw new DomainError('idempotency_key_in_progress', 'a request with this Idempotency-Key is being processed');
}

export async function finishIdempotent(pool: Pool, st: IdemState, status: number, body: string): Promise<void> {
  clearInterval(st.heartbeat);
  if (status >= 200 && status < 300) await store.complete(pool, st.principal, st.key, status, body, st.owner);
  else await store.release(pool, st.principal, st.key, st.owner);
}
