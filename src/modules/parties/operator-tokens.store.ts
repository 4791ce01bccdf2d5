/** SQL for operator tokens; only the SHA-256 of a token is ever stored. */
import type { Queryable } from '../../kernel/db.js';
import type { OperatorToken, OperatorTokenRole } from './domain/types.js';

type Row = Record<string, unknown>;
const TOKEN_COLS = 'id, name, role, created_by, created_at, revoked_at';

function toToken(r: Row): OperatorToken {
  return {
    id: r['id'] as bigint,
    name: r['name'] as string,
    role: r['role'] as OperatorTokenRole,
    createdBy: r['created_by'] as string,
    createdAt: r['created_at'] as Date,
    revokedAt: (r['revoked_at'] as Date | null) ?? null,
  };
}

export async function insertToken(db: Queryable, t: { id: bigint; name: string; role: OperatorTokenRole; tokenSha256: string; createdBy: string }, now: Date): Promise<OperatorToken> {
  const r = await db.query(
    `INSERT INTO operator_tokens (id, name, role, token_sha256, created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6) RETURNING ${TOKEN_COLS}`,
    [t.id, t.name, t.role, t.tokenSha256, t.createdBy, now],
  );
  return toToken(r.rows[0] as Row);
}

export async function listTokens(db: Queryable, f: { afterId?: bigint; limit: number }): Promise<OperatorToken[]> {
  const r = await db.query(`SELECT ${TOKEN_COLS} FROM operator_tokens WHERE id > $1 ORDER BY id LIMIT $2`, [f.afterId ?? -1n, f.limit]);
  return (r.rows as Row[]).map(toToken);
}

export async function getToken(db: Queryable, id: bigint, lock = false): Promise<OperatorToken | undefined> {
  const r = await db.query(`SELECT ${TOKEN_COLS} FROM operator_tokens WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  const row = r.rows[0] as Row | undefined;
  return row ? toToken(row) : undefined;
}

/** Revokes a token once; a second revoke keeps the first time. */
export async function revokeToken(db: Queryable, id: bigint, now: Date): Promise<OperatorToken> {
  const r = await db.query(`UPDATE operator_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${TOKEN_COLS}`, [id, now]);
  return toToken(r.rows[0] as Row);
}

export async function findActiveTokenBySha(db: Queryable, sha256Hex: string): Promise<{ id: bigint; role: OperatorTokenRole } | undefined> {
  const r = await db.query('SELECT id, role FROM operator_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL', [sha256Hex]);
  const row = r.rows[0] as Row | undefined;
  return row ? { id: row['id'] as bigint, role: row['role'] as OperatorTokenRole } : undefined;
}
