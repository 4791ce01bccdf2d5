/**
 * Who is calling. Operators present a bearer token (the admin token from the configuration, or an
 * operator token with a role); merchants sign their requests (merchant-auth.ts). Each route says
 * which kind of caller it accepts in its `config.auth`.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../kernel/errors.js';
import { safeEqual, type Secret } from '../kernel/secret.js';

export const OPERATOR_ROLES = ['admin', 'operator', 'viewer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

export type Principal =
  | { kind: 'operator'; id: string; role: OperatorRole }
  | { kind: 'merchant'; merchantId: bigint; keyId: string };

/** What a route requires: an operator of at least this role, a signed merchant, or nobody. */
export type RouteAuth = { auth: 'public' } | { auth: 'operator'; role?: OperatorRole } | { auth: 'merchant' };

const RANK: Record<OperatorRole, number> = { viewer: 0, operator: 1, admin: 2 };

export interface OperatorTokenLookup {
  /** Finds an active operator token by the SHA-256 of its value. */
  (tokenSha256: string): Promise<{ id: string; role: OperatorRole } | undefined>;
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export async function authenticateOperator(req: FastifyRequest, adminToken: Secret, lookup: OperatorTokenLookup | undefined, need: OperatorRole): Promise<Principal> {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  if (!m) throw new DomainError('unauthorized', 'this route needs an operator bearer token (Authorization: Bearer <token>)');
  const token = m[1]!;
  let p: Principal | undefined;
  if (safeEqual(token, adminToken.reveal())) p = { kind: 'operator', id: 'admin', role: 'admin' };
  else if (lookup) {
    const found = await lookup(tokenSha256(token));
    if (found) p = { kind: 'operator', id: found.id, role: found.role };
  }
  if (!p || p.kind !== 'operator') throw new DomainError('unauthorized', 'the bearer token is not valid');
  // Viewers may read; anything that changes state needs at least the operator role.
  const needed = req.method === 'GET' || req.method === 'HEAD' ? need : RANK[need] < RANK.operator ? 'operator' : need;
  if (RANK[p.role] < RANK[needed]) throw new DomainError('forbidden', `this route needs the ${needed} role`);
  return p;
}

export function principalKey(p: Principal): string {
  return p.kind === 'operator' ? `op:${p.id}` : `m:${p.merchantId}`;
}
