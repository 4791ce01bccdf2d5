/** SQL for merchant profiles. */
import type { Queryable } from '../../kernel/db.js';
import type { Merchant, MerchantStatus } from './domain/types.js';

type Row = Record<string, unknown>;
const COLS = 'id, customer_id, merchant_no, display_name, notify_domains, mcc, fee_plan_ref, settlement_cycle, settlement_account_id, status, created_at, updated_at';

function toMerchant(r: Row): Merchant {
  return {
    id: r['id'] as bigint,
    customerId: r['customer_id'] as bigint,
    merchantNo: r['merchant_no'] as string,
    displayName: r['display_name'] as string,
    notifyDomains: r['notify_domains'] as string[],
    mcc: r['mcc'] as string,
    feePlanRef: (r['fee_plan_ref'] as string | null) ?? null,
    settlementCycle: r['settlement_cycle'] as string,
    settlementAccountId: r['settlement_account_id'] as bigint,
    status: r['status'] as MerchantStatus,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

/** Throws a unique violation on merchants_customer_id_key when the customer already has a merchant profile. */
export async function insertMerchant(db: Queryable, m: Omit<Merchant, 'createdAt' | 'updatedAt' | 'status'>, now: Date): Promise<Merchant> {
  const r = await db.query(
    `INSERT INTO merchants (id, customer_id, merchant_no, display_name, notify_domains, mcc, fee_plan_ref, settlement_cycle, settlement_account_id, status, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'pending',$10,$10) RETURNING ${COLS}`,
    [m.id, m.customerId, m.merchantNo, m.displayName, m.notifyDomains, m.mcc, m.feePlanRef, m.settlementCycle, m.settlementAccountId, now],
  );
  return toMerchant(r.rows[0] as Row);
}

export async function getMerchant(db: Queryable, id: bigint, lock = false): Promise<Merchant | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM merchants WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  const row = r.rows[0] as Row | undefined;
  return row ? toMerchant(row) : undefined;
}

export async function getByCustomer(db: Queryable, customerId: bigint): Promise<Merchant | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM merchants WHERE customer_id = $1`, [customerId]);
  const row = r.rows[0] as Row | undefined;
  return row ? toMerchant(row) : undefined;
}

export async function getByNo(db: Queryable, merchantNo: string): Promise<Merchant | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM merchants WHERE merchant_no = $1`, [merchantNo]);
  const row = r.rows[0] as Row | undefined;
  return row ? toMerchant(row) : undefined;
}

export async function listMerchants(db: Queryable, f: { status?: MerchantStatus; afterId?: bigint; limit: number }): Promise<Merchant[]> {
  const r = await db.query(
    `SELECT ${COLS} FROM merchants WHERE id > $1 AND ($2::text IS NULL OR status = $2) ORDER BY id LIMIT $3`,
    [f.afterId ?? -1n, f.status ?? null, f.limit],
  );
  return (r.rows as Row[]).map(toMerchant);
}

export async function updateStatus(db: Queryable, id: bigint, status: MerchantStatus, now: Date): Promise<Merchant> {
  const r = await db.query(`UPDATE merchants SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, status, now]);
  return toMerchant(r.rows[0] as Row);
}
