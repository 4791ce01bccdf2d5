/**
 * Operator tokens: bearer tokens of platform staff for the console and the API, each with a
 * role (admin > operator > viewer). A token is "pco_" + 32 random bytes (base64url), shown once
 * at creation; only its SHA-256 is stored, which is enough because the token itself carries
 * 256 bits of entropy (a slow password hash would add nothing but latency to every request).
 */
import { createHash, randomBytes } from 'node:crypto';
import { withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import { Secret } from '../../kernel/secret.js';
import * as changes from './changes.store.js';
import type { Ctx, PartiesResult } from './context.js';
import { OPERATOR_TOKEN_ROLES, type OperatorToken, type OperatorTokenRole } from './domain/types.js';
import { checkText, isOneOf } from './domain/validate.js';
import * as store from './operator-tokens.store.js';

/** The same digest as http/auth.ts tokenSha256: hex SHA-256 of the token's UTF-8 bytes. */
export function operatorTokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export async function createOperatorToken(ctx: Ctx, inp: { name: string; role: string; createdBy?: string }): Promise<PartiesResult<{ token: OperatorToken; value: Secret }>> {
  const name = checkText('invalid_operator_token', 'name', inp.name, 1, 100);
  if (!name.ok) return name;
  if (!isOneOf(OPERATOR_TOKEN_ROLES, inp.role)) return fail('invalid_operator_token', `role must be one of ${OPERATOR_TOKEN_ROLES.join(', ')}`, { field: 'role' });
  const role: OperatorTokenRole = inp.role;
  const value = new Secret(`pco_${randomBytes(32).toString('base64url')}`);
  const token = await store.insertToken(ctx.pool, { id: ctx.nextId(), name: name.value, role, tokenSha256: operatorTokenSha256(value.reveal()), createdBy: inp.createdBy ?? '' }, ctx.clock.now());
  ctx.log?.info({ operatorTokenId: token.id.toString(), role, createdBy: token.createdBy }, 'operator token created');
  return ok({ token, value });
}

export function listOperatorTokens(ctx: Ctx, f: { afterId?: bigint; limit: number }): Promise<OperatorToken[]> {
  return store.listTokens(ctx.pool, f);
}

export async function revokeOperatorToken(ctx: Ctx, inp: { id: bigint; actor?: string }): Promise<PartiesResult<OperatorToken>> {
  return withTx(ctx.pool, async (db): Promise<PartiesResult<OperatorToken>> => {
    const before = await store.getToken(db, inp.id, true);
    if (!before) return fail('operator_token_not_found', `operator token ${inp.id} does not exist`);
    if (before.revokedAt) return ok(before);
    const now = ctx.clock.now();
    const t = await store.revokeToken(db, inp.id, now);
    await changes.insertChange(db, ctx.nextId(), { entity: 'operator_token', entityId: t.id.toString(), field: 'revoked_at', oldValue: '', newValue: now.toISOString(), reason: '', actor: inp.actor ?? '' }, now);
    ctx.log?.info({ operatorTokenId: t.id.toString(), actor: inp.actor ?? '' }, 'operator token revoked');
    return ok(t);
  });
}

/** Finds an active token by the SHA-256 of its value (the shape http/auth.ts OperatorTokenLookup expects). */
export async function lookupOperatorToken(ctx: Ctx, tokenSha256: string): Promise<{ id: string; role: OperatorTokenRole } | undefined> {
  if (!/^[0-9a-f]{64}$/.test(tokenSha256)) return undefined;
  const t = await store.findActiveTokenBySha(ctx.pool, tokenSha256);
  return t ? { id: `token:${t.id}`, role: t.role } : undefined;
}
