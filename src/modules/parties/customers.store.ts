/** SQL for customers. Sealed columns are written here and never read back by ordinary queries. */
import type { Queryable } from '../../kernel/db.js';
import type { Customer, CustomerKind, CustomerStatus, IdType, RealNameLevel } from './domain/types.js';

type Row = Record<string, unknown>;

// Sealed columns are never selected for reads: nothing outside this file can leak them by accident.
const COLS = 'id, kind, legal_name, id_type, id_number_masked, phone_masked, real_name_level, status, created_at, updated_at';

function toCustomer(r: Row): Customer {
  return {
    id: r['id'] as bigint,
    kind: r['kind'] as CustomerKind,
    legalName: r['legal_name'] as string,
    idType: r['id_type'] as IdType,
    idNumberMasked: r['id_number_masked'] as string,
    phoneMasked: (r['phone_masked'] as string | null) ?? null,
    realNameLevel: Number(r['real_name_level']) as RealNameLevel,
    status: r['status'] as CustomerStatus,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

export interface NewCustomerRow {
  id: bigint;
  kind: CustomerKind;
  legalName: string;
  idType: IdType;
  idNumberSealed: string;
  idNumberHash: string;
  idNumberMasked: string;
  phoneSealed: string | null;
  phoneMasked: string | null;
  realNameLevel: RealNameLevel;
  now: Date;
}

/** Throws a unique violation on customers_open_document when the document is already open. */
export async function insertCustomer(db: Queryable, c: NewCustomerRow): Promise<Customer> {
  const r = await db.query(
    `INSERT INTO customers (id, kind, legal_name, id_type, id_number_sealed, id_number_hash, id_number_masked, phone_sealed, phone_masked, real_name_level, status, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'active',$11,$11) RETURNING ${COLS}`,
    [c.id, c.kind, c.legalName, c.idType, c.idNumberSealed, c.idNumberHash, c.idNumberMasked, c.phoneSealed, c.phoneMasked, c.realNameLevel, c.now],
  );
  return toCustomer(r.rows[0] as Row);
}

export async function getCustomer(db: Queryable, id: bigint, lock?: 'update' | 'share'): Promise<Customer | undefined> {
  const suffix = lock === 'update' ? ' FOR UPDATE' : lock === 'share' ? ' FOR SHARE' : '';
  const r = await db.query(`SELECT ${COLS} FROM customers WHERE id = $1${suffix}`, [id]);
  const row = r.rows[0] as Row | undefined;
  return row ? toCustomer(row) : undefined;
}

export async function findOpenByDocument(db: Queryable, idType: IdType, idNumberHash: string): Promise<Customer | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM customers WHERE id_type = $1 AND id_number_hash = $2 AND status <> 'closed'`, [idType, idNumberHash]);
  const row = r.rows[0] as Row | undefined;
  return row ? toCustomer(row) : undefined;
}

export interface CustomerFilter {
  kind?: CustomerKind;
  status?: CustomerStatus;
  afterId?: bigint;
  limit: number;
}

export async function listCustomers(db: Queryable, f: CustomerFilter): Promise<Customer[]> {
  const r = await db.query(
    `SELECT ${COLS} FROM customers
      WHERE id > $1 AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR status = $3)
      ORDER BY id LIMIT $4`,
    [f.afterId ?? -1n, f.kind ?? null, f.status ?? null, f.limit],
  );
  return (r.rows as Row[]).map(toCustomer);
}

export async function updateStatus(db: Queryable, id: bigint, status: CustomerStatus, now: Date): Promise<Customer> {
  const r = await db.query(`UPDATE customers SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, status, now]);
  return toCustomer(r.rows[0] as Row);
}

export async function updateRealNameLevel(db: Queryable, id: bigint, level: RealNameLevel, now: Date): Promise<Customer> {
  const r = await db.query(`UPDATE customers SET real_name_level = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, level, now]);
  return toCustomer(r.rows[0] as Row);
}

/** What still keeps a customer from being closed. */
export async function openHoldings(db: Queryable, customerId: bigint): Promise<{ openAccounts: number; openMerchant: boolean }> {
  const r = await db.query(
    `SELECT (SELECT count(*) FROM business_accounts WHERE customer_id = $1 AND status <> 'closed')::int AS accounts,
            EXISTS (SELECT 1 FROM merchants WHERE customer_id = $1 AND status <> 'closed') AS merchant`,
    [customerId],
  );
  const row = r.rows[0] as Row;
  return { openAccounts: row['accounts'] as number, openMerchant: row['merchant'] as boolean };
}
