/** SQL for business accounts. Balances are not here: they live in the ledger, read by id. */
import type { Queryable } from '../../kernel/db.js';
import type { BusinessAccount, BusinessAccountKind, BusinessAccountStatus } from './domain/types.js';

type Row = Record<string, unknown>;
const COLS = 'id, customer_id, kind, currency, ledger_account_id, external_ref, status, created_at, updated_at';

function toAccount(r: Row): BusinessAccount {
  return {
    id: r['id'] as bigint,
    customerId: r['customer_id'] as bigint,
    kind: r['kind'] as BusinessAccountKind,
    currency: r['currency'] as string,
    ledgerAccountId: (r['ledger_account_id'] as bigint | null) ?? null,
    externalRef: (r['external_ref'] as string | null) ?? null,
    status: r['status'] as BusinessAccountStatus,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

/**
 * Records the intent to open an account (ledger_account_id still NULL). Throws a unique violation
 * on business_accounts_external_ref or business_accounts_one_settlement.
 */
export async function insertAccount(
  db: Queryable,
  a: { id: bigint; customerId: bigint; kind: BusinessAccountKind; currency: string; externalRef: string | null },
  now: Date,
): Promise<BusinessAccount> {
  const r = await db.query(
    `INSERT INTO business_accounts (id, customer_id, kind, currency, ledger_account_id, external_ref, status, created_at, updated_at)
     VALUES ($1,$2,$3,$4,NULL,$5,'active',$6,$6) RETURNING ${COLS}`,
    [a.id, a.customerId, a.kind, a.currency, a.externalRef, now],
  );
  return toAccount(r.rows[0] as Row);
}

export async function getAccount(db: Queryable, id: bigint, lock = false): Promise<BusinessAccount | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM business_accounts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  const row = r.rows[0] as Row | undefined;
  return row ? toAccount(row) : undefined;
}

export async function getByExternalRef(db: Queryable, customerId: bigint, externalRef: string): Promise<BusinessAccount | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM business_accounts WHERE customer_id = $1 AND external_ref = $2`, [customerId, externalRef]);
  const row = r.rows[0] as Row | undefined;
  return row ? toAccount(row) : undefined;
}

export async function findOpenSettlement(db: Queryable, customerId: bigint, currency: string): Promise<BusinessAccount | undefined> {
  const r = await db.query(
    `SELECT ${COLS} FROM business_accounts WHERE customer_id = $1 AND currency = $2 AND kind = 'merchant_settlement' AND status <> 'closed'`,
    [customerId, currency],
  );
  const row = r.rows[0] as Row | undefined;
  return row ? toAccount(row) : undefined;
}

export async function listAccounts(db: Queryable, f: { customerId: bigint; afterId?: bigint; limit: number }): Promise<BusinessAccount[]> {
  const r = await db.query(`SELECT ${COLS} FROM business_accounts WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [f.customerId, f.afterId ?? -1n, f.limit]);
  return (r.rows as Row[]).map(toAccount);
}

/** Records the ledger account once it exists; a concurrent completion wrote the same id. */
export async function setLedgerAccountId(db: Queryable, id: bigint, ledgerAccountId: bigint): Promise<void> {
  await db.query('UPDATE business_accounts SET ledger_account_id = $2 WHERE id = $1 AND ledger_account_id IS NULL', [id, ledgerAccountId]);
}

export async function updateStatus(db: Queryable, id: bigint, status: BusinessAccountStatus, now: Date): Promise<BusinessAccount> {
  const r = await db.query(`UPDATE business_accounts SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, status, now]);
  return toAccount(r.rows[0] as Row);
}
