/** SQL for merchant API credentials and the nonces of signed requests. */
import type { Queryable } from '../../kernel/db.js';
import type { SignatureAlg } from '../../kernel/signature.js';
import type { Credential, CredentialStatus, CustomerStatus, MerchantStatus } from './domain/types.js';

type Row = Record<string, unknown>;
// secret_sealed is selected only by authLookup, the one read that needs it.
const COLS = 'id, key_id, merchant_id, alg, name, public_key_pem, public_key_bits, status, created_at, disabled_at';

function toCredential(r: Row): Credential {
  return {
    id: r['id'] as bigint,
    keyId: r['key_id'] as string,
    merchantId: r['merchant_id'] as bigint,
    alg: r['alg'] as SignatureAlg,
    name: r['name'] as string,
    publicKeyPem: (r['public_key_pem'] as string | null) ?? null,
    publicKeyBits: (r['public_key_bits'] as number | null) ?? null,
    status: r['status'] as CredentialStatus,
    createdAt: r['created_at'] as Date,
    disabledAt: (r['disabled_at'] as Date | null) ?? null,
  };
}

export interface NewCredentialRow {
  id: bigint;
  keyId: string;
  merchantId: bigint;
  alg: SignatureAlg;
  name: string;
  secretSealed: string | null;
  publicKeyPem: string | null;
  publicKeyBits: number | null;
}

export async function insertCredential(db: Queryable, c: NewCredentialRow, now: Date): Promise<Credential> {
  const r = await db.query(
    `INSERT INTO merchant_credentials (id, key_id, merchant_id, alg, secret_sealed, public_key_pem, public_key_bits, name, status, created_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'active',$9) RETURNING ${COLS}`,
    [c.id, c.keyId, c.merchantId, c.alg, c.secretSealed, c.publicKeyPem, c.publicKeyBits, c.name, now],
  );
  return toCredential(r.rows[0] as Row);
}

export async function countActive(db: Queryable, merchantId: bigint): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM merchant_credentials WHERE merchant_id = $1 AND status = 'active'`, [merchantId]);
  return (r.rows[0] as Row)['n'] as number;
}

export async function getByKeyId(db: Queryable, keyId: string, lock = false): Promise<Credential | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM merchant_credentials WHERE key_id = $1${lock ? ' FOR UPDATE' : ''}`, [keyId]);
  const row = r.rows[0] as Row | undefined;
  return row ? toCredential(row) : undefined;
}

export async function listCredentials(db: Queryable, f: { merchantId: bigint; afterId?: bigint; limit: number }): Promise<Credential[]> {
  const r = await db.query(`SELECT ${COLS} FROM merchant_credentials WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [f.merchantId, f.afterId ?? -1n, f.limit]);
  return (r.rows as Row[]).map(toCredential);
}

export async function disableCredential(db: Queryable, id: bigint, now: Date): Promise<Credential> {
  const r = await db.query(`UPDATE merchant_credentials SET status = 'disabled', disabled_at = $2 WHERE id = $1 RETURNING ${COLS}`, [id, now]);
  return toCredential(r.rows[0] as Row);
}

export interface AuthRow {
  credential: Credential;
  secretSealed: string | null;
  merchantStatus: MerchantStatus;
  customerStatus: CustomerStatus;
}

/** Everything a signed request needs checked, in one round trip. */
export async function authLookup(db: Queryable, keyId: string): Promise<AuthRow | undefined> {
  const r = await db.query(
    `SELECT c.id, c.key_id, c.merchant_id, c.alg, c.name, c.public_key_pem, c.public_key_bits, c.status, c.created_at, c.disabled_at,
            c.secret_sealed, m.status AS merchant_status, cu.status AS customer_status
       FROM merchant_credentials c JOIN merchants m ON m.id = c.merchant_id JOIN customers cu ON cu.id = m.customer_id
      WHERE c.key_id = $1`,
    [keyId],
  );
  const row = r.rows[0] as Row | undefined;
  if (!row) return undefined;
  return {
    credential: toCredential(row),
    secretSealed: (row['secret_sealed'] as string | null) ?? null,
    merchantStatus: row['merchant_status'] as MerchantStatus,
    customerStatus: row['customer_status'] as CustomerStatus,
  };
}

/**
 * Records a nonce; false when this key already used it (a replay). Committed without waiting for
 * its own WAL flush (one round trip, no fsync): a request that changes anything commits durably
 * afterwards, which flushes the nonce too; one that changes nothing is harmless to replay.
 */
export async function recordNonce(db: Queryable, keyId: string, nonce: string): Promise<boolean> {
  const r = await db.query(
    `WITH s AS (SELECT set_config('synchronous_commit', 'off', true)) INSERT INTO request_nonces (key_id, nonce) SELECT $1, $2 FROM s ON CONFLICT DO NOTHING`,
    [keyId, nonce],
  );
  return (r.rowCount ?? 0) === 1;
}

/** The sealed secret of the merchant's newest active HMAC credential, if any. */
export async function newestHmacSecret(db: Queryable, merchantId: bigint): Promise<{ keyId: string; sealed: string } | undefined> {
  const r = await db.query(
    `SELECT key_id, secret_sealed FROM merchant_credentials WHERE merchant_id = $1 AND status = 'active' AND alg = 'HMAC-SHA256' ORDER BY id DESC LIMIT 1`,
    [merchantId],
  );
  const row = r.rows[0] as Row | undefined;
  return row ? { keyId: row['key_id'] as string, sealed: row['secret_sealed'] as string } : undefined;
}

export async function platformKey(db: Queryable): Promise<{ keyId: string; privateSealed: string; publicKeyPem: string } | undefined> {
  const r = await db.query('SELECT key_id, private_sealed, public_key_pem FROM platform_signing_keys ORDER BY created_at DESC LIMIT 1');
  const row = r.rows[0] as Row | undefined;
  return row ? { keyId: row['key_id'] as string, privateSealed: row['private_sealed'] as string, publicKeyPem: row['public_key_pem'] as string } : undefined;
}

/** Stores a platform key unless one exists (concurrent first starts keep the first). */
export async function insertPlatformKey(db: Queryable, k: { keyId: string; privateSealed: string; publicKeyPem: string; now: Date }): Promise<void> {
  await db.query(
    `INSERT INTO platform_signing_keys (key_id, private_sealed, public_key_pem, created_at)
     SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM platform_signing_keys)`,
    [k.keyId, k.privateSealed, k.publicKeyPem, k.now],
  );
}
