/** SQL of the cards module: products, cards, their events and transactions. */
import { SqlFilter, type Queryable } from '../../kernel/db.js';
import type { BonusEvent } from './domain/bonus-lots.js';
import type { BonusRule, Card, CardProduct, CardStatus, CardTransaction, CardTxKind, HoldState } from './types.js';

type Row = Record<string, unknown>;

// ---- policies ---------------------------------------------------------------------------------

export async function ensurePolicy(db: Queryable, version: string, effectiveFrom: Date, document: unknown, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO card_policies (version, effective_from, document, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (version) DO NOTHING`,
    [version, effectiveFrom, JSON.stringify(document, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), now],
  );
}

// ---- products ---------------------------------------------------------------------------------

const PRODUCT_COLS = `id, code, name, issuer_kind, issuer_merchant_id, issuer_class, purpose, named, currency, bin_prefix, number_length, validity_months,
  rechargeable, issuance_fee, replacement_fee, bonus_rules, bonus_spend_order, policy_version, policy_overrides, status, created_at`;

function rowToProduct(r: Row): CardProduct {
  const rules = (r['bonus_rules'] as { min_recharge: string; bonus: string; valid_days?: number }[]).map(
    (x): BonusRule => ({ minRechargeMinor: BigInt(x.min_recharge), bonusMinor: BigInt(x.bonus), ...(x.valid_days !== undefined ? { validDays: x.valid_days } : {}) }),
  );
  return {
    id: r['id'] as bigint,
    code: r['code'] as string,
    name: r['name'] as string,
    issuerKind: r['issuer_kind'] as CardProduct['issuerKind'],
    issuerMerchantId: (r['issuer_merchant_id'] as bigint | null) ?? null,
    issuerClass: r['issuer_class'] as CardProduct['issuerClass'],
    purpose: r['purpose'] as CardProduct['purpose'],
    named: r['named'] as boolean,
    currency: r['currency'] as string,
    binPrefix: r['bin_prefix'] as string,
    numberLength: r['number_length'] as number,
    validityMonths: (r['validity_months'] as number | null) ?? null,
    rechargeable: r['rechargeable'] as boolean,
    issuanceFee: r['issuance_fee'] as bigint,
    replacementFee: r['replacement_fee'] as bigint,
    bonusRules: rules,
    bonusSpendOrder: r['bonus_spend_order'] as CardProduct['bonusSpendOrder'],
    policyVersion: r['policy_version'] as string,
    policyOverrides: r['policy_overrides'] as Record<string, unknown>,
    status: r['status'] as CardProduct['status'],
    createdAt: r['created_at'] as Date,
  };
}

export async function insertProduct(db: Queryable, p: CardProduct): Promise<{ product: CardProduct; inserted: boolean }> {
  const r = await db.query(
    `INSERT INTO card_products (id, code, name, issuer_kind, issuer_merchant_id, purpose, named, currency, bin_prefix, number_length,
       validity_months, rechargeable, issuance_fee, replacement_fee, bonus_rules, bonus_spend_order, policy_version, policy_overrides, status, created_at, issuer_class)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)
     ON CONFLICT (code) DO NOTHING RETURNING ${PRODUCT_COLS}`,
    [
      p.id, p.code, p.name, p.issuerKind, p.issuerMerchantId, p.purpose, p.named, p.currency, p.binPrefix, p.numberLength,
      p.validityMonths, p.rechargeable, p.issuanceFee, p.replacementFee,
      JSON.stringify(p.bonusRules.map((b) => ({ min_recharge: b.minRechargeMinor.toString(), bonus: b.bonusMinor.toString(), ...(b.validDays !== undefined ? { valid_days: b.validDays } : {}) }))),
      p.bonusSpendOrder, p.policyVersion, JSON.stringify(p.policyOverrides), p.status, p.createdAt, p.issuerClass,
    ],
  );
  if (r.rows[0]) return { product: rowToProduct(r.rows[0] as Row), inserted: true };
  const existing = await db.query(`SELECT ${PRODUCT_COLS} FROM card_products WHERE code = $1`, [p.code]);
  return { product: rowToProduct(existing.rows[0] as Row), inserted: false };
}

export async function getProduct(db: Queryable, id: bigint): Promise<CardProduct | undefined> {
  const r = await db.query(`SELECT ${PRODUCT_COLS} FROM card_products WHERE id = $1`, [id]);
  return r.rows[0] ? rowToProduct(r.rows[0] as Row) : undefined;
}

export async function listProducts(db: Queryable, f: { afterId?: bigint; limit: number }): Promise<CardProduct[]> {
  const q = new SqlFilter();
  if (f.afterId !== undefined) q.add('id > ?', f.afterId);
  const r = await db.query(`SELECT ${PRODUCT_COLS} FROM card_products ${q.where()} ORDER BY id LIMIT ${q.param(f.limit)}`, q.args);
  return r.rows.map((x) => rowToProduct(x as Row));
}

export async function addAcceptance(db: Queryable, productId: bigint, merchantId: bigint, now: Date): Promise<void> {
  await db.query('INSERT INTO card_product_merchants (product_id, merchant_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [productId, merchantId, now]);
}

export async function removeAcceptance(db: Queryable, productId: bigint, merchantId: bigint): Promise<void> {
  await db.query('DELETE FROM card_product_merchants WHERE product_id = $1 AND merchant_id = $2', [productId, merchantId]);
}

export async function accepts(db: Queryable, productId: bigint, merchantId: bigint): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM card_product_merchants WHERE product_id = $1 AND merchant_id = $2', [productId, merchantId]);
  return (r.rowCount ?? 0) > 0;
}

export async function listAcceptance(db: Queryable, productId: bigint): Promise<bigint[]> {
  const r = await db.query('SELECT merchant_id FROM card_product_merchants WHERE product_id = $1 ORDER BY merchant_id', [productId]);
  return r.rows.map((x: Row) => x['merchant_id'] as bigint);
}

/** Reserves `count` serials of a product; serials are never reused, even if the batch fails later. */
export async function reserveSerials(db: Queryable, productId: bigint, count: number): Promise<bigint> {
  const r = await db.query('UPDATE card_products SET next_serial = next_serial + $2 WHERE id = $1 RETURNING next_serial - $2 AS first', [productId, count]);
  return (r.rows[0] as Row)['first'] as bigint;
}

// ---- cards ------------------------------------------------------------------------------------

const CARD_COLS = `id, product_id, serial, last4, named, status, prior_status, holder_customer_id, principal_account_id, bonus_account_id, purse_account_id,
  pin_hash IS NOT NULL AS has_pin, pin_failed_attempts, pin_locked_until, batch_id, sale_id, sold_at, valid_until, loss_reported_at,
  replaced_by, replaced_from, policy_version, created_at, updated_at`;

function rowToCard(r: Row): Card {
  return {
    id: r['id'] as bigint,
    productId: r['product_id'] as bigint,
    serial: r['serial'] as bigint,
    last4: r['last4'] as string,
    named: r['named'] as boolean,
    status: r['status'] as CardStatus,
    priorStatus: (r['prior_status'] as 'active' | 'frozen' | null) ?? null,
    holderCustomerId: (r['holder_customer_id'] as bigint | null) ?? null,
    principalAccountId: r['principal_account_id'] as bigint,
    bonusAccountId: r['bonus_account_id'] as bigint,
    purseAccountId: r['purse_account_id'] as bigint,
    hasPin: r['has_pin'] as boolean,
    pinFailedAttempts: r['pin_failed_attempts'] as number,
    pinLockedUntil: (r['pin_locked_until'] as Date | null) ?? null,
    batchId: r['batch_id'] as bigint,
    saleId: (r['sale_id'] as bigint | null) ?? null,
    soldAt: (r['sold_at'] as Date | null) ?? null,
    validUntil: (r['valid_until'] as Date | null) ?? null,
    lossReportedAt: (r['loss_reported_at'] as Date | null) ?? null,
    replacedBy: (r['replaced_by'] as bigint | null) ?? null,
    replacedFrom: (r['replaced_from'] as bigint | null) ?? null,
    policyVersion: r['policy_version'] as string,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

export interface NewCard {
  id: bigint;
  productId: bigint;
  serial: bigint;
  numberSealed: string;
  numberHash: string;
  last4: string;
  named: boolean;
  principalAccountId: bigint;
  bonusAccountId: bigint;
  purseAccountId: bigint;
  batchId: bigint;
  policyVersion: string;
  now: Date;
}

export async function insertCards(db: Queryable, cs: readonly NewCard[]): Promise<void> {
  if (cs.length === 0) return;
  const col = <T>(f: (c: NewCard) => T): T[] => cs.map(f);
  await db.query(
    `INSERT INTO cards (id, product_id, serial, number_sealed, number_hash, last4, named, status, principal_account_id, bonus_account_id,
       purse_account_id, batch_id, policy_version, created_at, updated_at)
     SELECT u.id, u.product_id, u.serial, u.sealed, u.hash, u.last4, u.named, 'in_stock', u.pa, u.ba, u.pu, u.batch, u.pv, $13, $13
     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::bigint[], $9::bigint[],
       $10::bigint[], $11::bigint[], $12::text[]) AS u(id, product_id, serial, sealed, hash, last4, named, pa, ba, pu, batch, pv)`,
    [
      col((c) => c.id), col((c) => c.productId), col((c) => c.serial), col((c) => c.numberSealed), col((c) => c.numberHash), col((c) => c.last4),
      col((c) => c.named), col((c) => c.principalAccountId), col((c) => c.bonusAccountId), col((c) => c.purseAccountId), col((c) => c.batchId),
      col((c) => c.policyVersion), cs[0]!.now,
    ],
  );
}

/**
 * With `forUpdate`, locks the card for the caller's transaction. FOR NO KEY UPDATE, not FOR
 * UPDATE: the intent row of an operation is inserted on another connection while the lock is
 * held, and its foreign key to the card takes a KEY SHARE lock, which FOR UPDATE would block.
 */
export async function getCard(db: Queryable, id: bigint, forUpdate = false): Promise<Card | undefined> {
  const r = await db.query(`SELECT ${CARD_COLS} FROM cards WHERE id = $1${forUpdate ? ' FOR NO KEY UPDATE' : ''}`, [id]);
  return r.rows[0] ? rowToCard(r.rows[0] as Row) : undefined;
}

/** Locks several cards in id order (so two batches never wait on each other in a cycle). */
/**
 * Locks those of these cards no other transaction holds, without waiting; returns them and the ids
 * that exist but are held elsewhere (unknown ids are in neither).
 */
export async function lockFreeCards(db: Queryable, ids: readonly bigint[]): Promise<{ cards: Map<bigint, Card>; held: bigint[] }> {
  const cards = new Map<bigint, Card>();
  const r = await db.query(`SELECT ${CARD_COLS} FROM cards WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED`, [ids]);
  for (const x of r.rows as Row[]) {
    const c = rowToCard(x);
    cards.set(c.id, c);
  }
  if (cards.size === ids.length) return { cards, held: [] };
  const missing = ids.filter((id) => !cards.has(id));
  const e = await db.query('SELECT id FROM cards WHERE id = ANY($1::bigint[])', [missing]);
  return { cards, held: (e.rows as Row[]).map((x) => x['id'] as bigint) };
}

export async function cardIdByHash(db: Queryable, hash: string): Promise<bigint | undefined> {
  const r = await db.query('SELECT id FROM cards WHERE number_hash = $1', [hash]);
  return (r.rows[0] as Row | undefined)?.['id'] as bigint | undefined;
}

export async function pinHashOf(db: Queryable, id: bigint): Promise<string | null> {
  const r = await db.query('SELECT pin_hash FROM cards WHERE id = $1', [id]);
  return ((r.rows[0] as Row | undefined)?.['pin_hash'] as string | null) ?? null;
}

export async function sealedNumbersOfBatch(db: Queryable, batchId: bigint): Promise<{ id: bigint; sealed: string }[]> {
  const r = await db.query('SELECT id, number_sealed FROM cards WHERE batch_id = $1 ORDER BY serial', [batchId]);
  return r.rows.map((x: Row) => ({ id: x['id'] as bigint, sealed: x['number_sealed'] as string }));
}

export async function listCards(db: Queryable, f: { productId?: bigint; status?: CardStatus; holderCustomerId?: bigint; batchId?: bigint; afterId?: bigint; limit: number }): Promise<Card[]> {
  const q = new SqlFilter();
  if (f.productId !== undefined) q.add('product_id = ?', f.productId);
  if (f.status !== undefined) q.add('status = ?', f.status);
  if (f.holderCustomerId !== undefined) q.add('holder_customer_id = ?', f.holderCustomerId);
  if (f.batchId !== undefined) q.add('batch_id = ?', f.batchId);
  if (f.afterId !== undefined) q.add('id > ?', f.afterId);
  const r = await db.query(`SELECT ${CARD_COLS} FROM cards ${q.where()} ORDER BY id LIMIT ${q.param(f.limit)}`, q.args);
  return r.rows.map((x) => rowToCard(x as Row));
}

/** Sets the given columns of a card (names are fixed by the callers in this module). */
export async function updateCard(db: Queryable, id: bigint, fields: Record<string, unknown>, now: Date): Promise<void> {
  const names = Object.keys(fields);
  const sets = names.map((n, i) => `${n} = $${i + 3}`);
  await db.query(`UPDATE cards SET ${[...sets, 'updated_at = $2'].join(', ')} WHERE id = $1`, [id, now, ...names.map((n) => fields[n])]);
}

export async function insertEvent(db: Queryable, e: { id: bigint; cardId: bigint; event: string; from: CardStatus; to: CardStatus; reason: string; actor: string; now: Date }): Promise<void> {
  await db.query('INSERT INTO card_events (id, card_id, event, from_status, to_status, reason, actor, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [
    e.id, e.cardId, e.event, e.from, e.to, e.reason, e.actor, e.now,
  ]);
}

export async function listEvents(db: Queryable, cardId: bigint): Promise<{ event: string; from: string; to: string; reason: string; actor: string; createdAt: Date }[]> {
  const r = await db.query('SELECT event, from_status, to_status, reason, actor, created_at FROM card_events WHERE card_id = $1 ORDER BY id', [cardId]);
  return r.rows.map((x: Row) => ({ event: x['event'] as string, from: x['from_status'] as string, to: x['to_status'] as string, reason: x['reason'] as string, actor: x['actor'] as string, createdAt: x['created_at'] as Date }));
}

// ---- transactions -----------------------------------------------------------------------------

const TX_COLS = `id, idempotency_key, card_id, kind, status, amount, principal_amount, bonus_amount, fee_amount, merchant_id, terminal_id,
  related_id, refunded_amount, voided, payment_method, failure_code, business_date::text AS business_date, policy_version, metadata, created_at, bonus_expires_at,
  hold_state, hold_expires_at`;

function rowToTx(r: Row): CardTransaction {
  return {
    id: r['id'] as bigint,
    idempotencyKey: r['idempotency_key'] as string,
    cardId: r['card_id'] as bigint,
    kind: r['kind'] as CardTxKind,
    status: r['status'] as CardTransaction['status'],
    amount: r['amount'] as bigint,
    principalAmount: r['principal_amount'] as bigint,
    bonusAmount: r['bonus_amount'] as bigint,
    feeAmount: r['fee_amount'] as bigint,
    merchantId: (r['merchant_id'] as bigint | null) ?? null,
    terminalId: (r['terminal_id'] as string | null) ?? null,
    relatedId: (r['related_id'] as bigint | null) ?? null,
    refundedAmount: r['refunded_amount'] as bigint,
    voided: r['voided'] as boolean,
    paymentMethod: (r['payment_method'] as string | null) ?? null,
    failureCode: (r['failure_code'] as CardTransaction['failureCode']) ?? null,
    businessDate: r['business_date'] as string,
    policyVersion: r['policy_version'] as string,
    metadata: r['metadata'] as Record<string, unknown>,
    createdAt: r['created_at'] as Date,
    bonusExpiresAt: (r['bonus_expires_at'] as Date | null) ?? null,
    holdState: (r['hold_state'] as HoldState | null) ?? null,
    holdExpiresAt: (r['hold_expires_at'] as Date | null) ?? null,
  };
}

export type NewTx = Omit<CardTransaction, 'refundedAmount' | 'voided' | 'failureCode' | 'status' | 'holdState' | 'holdExpiresAt'> & { requestHash: string };

export async function insertTx(db: Queryable, t: NewTx): Promise<void> {
  await db.query(
    `INSERT INTO card_transactions (id, idempotency_key, request_hash, card_id, kind, status, amount, principal_amount, bonus_amount, fee_amount,
       merchant_id, terminal_id, related_id, payment_method, business_date, policy_version, metadata, created_at, bonus_expires_at)
     VALUES ($1,$2,$3,$4,$5,'pending',$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
    [
      t.id, t.idempotencyKey, t.requestHash, t.cardId, t.kind, t.amount, t.principalAmount, t.bonusAmount, t.feeAmount, t.merchantId, t.terminalId,
      t.relatedId, t.paymentMethod, t.businessDate, t.policyVersion, JSON.stringify(t.metadata), t.createdAt, t.bonusExpiresAt ?? null,
    ],
  );
}

/**
 * Inserts many card transactions, already decided, in one statement (the batched consume path
 * writes them in the same transaction as their ledger transfers).
 */
export async function insertDecidedTxs(db: Queryable, ts: readonly (NewTx & { status: 'succeeded' | 'failed'; failureCode: string | null })[]): Promise<void> {
  if (ts.length === 0) return;
  const col = <T>(f: (t: (typeof ts)[number]) => T): T[] => ts.map(f);
  await db.query(
    `INSERT INTO card_transactions (id, idempotency_key, request_hash, card_id, kind, status, amount, principal_amount, bonus_amount, fee_amount,
       merchant_id, terminal_id, related_id, payment_method, business_date, policy_version, metadata, created_at, failure_code)
     SELECT u.id, u.k, u.h, u.card, u.kind, u.st, u.amount, u.p, u.b, u.fee, u.m, u.term, u.rel, u.pm, u.bd, u.pv, u.meta, $17, u.fc
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
       $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::date[], $15::text[], $16::jsonb[], $18::text[], $19::text[])
       AS u(id, k, h, card, kind, amount, p, b, fee, m, term, rel, pm, bd, pv, meta, st, fc)`,
    [
      col((t) => t.id), col((t) => t.idempotencyKey), col((t) => t.requestHash), col((t) => t.cardId), col((t) => t.kind), col((t) => t.amount),
      col((t) => t.principalAmount), col((t) => t.bonusAmount), col((t) => t.feeAmount), col((t) => t.merchantId), col((t) => t.terminalId),
      col((t) => t.relatedId), col((t) => t.paymentMethod), col((t) => t.businessDate), col((t) => t.policyVersion), col((t) => JSON.stringify(t.metadata)),
      ts[0]!.createdAt, col((t) => t.status), col((t) => t.failureCode),
    ],
  );
}

/** Marks card transactions the ledger refused (the batched path wrote them as succeeded first). */
export async function markTxsFailed(db: Queryable, rows: readonly { id: bigint; code: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE card_transactions t SET status = 'failed', failure_code = v.c FROM unnest($1::bigint[], $2::text[]) AS v(id, c) WHERE t.id = v.id`,
    [rows.map((r) => r.id), rows.map((r) => r.code)],
  );
}

/** Stored transactions under these keys, and which of these cards have pending ones. */
export async function priorsAndPendingCards(db: Queryable, keys: readonly string[], cardIds: readonly bigint[]): Promise<{ priors: Map<string, { tx: CardTransaction; requestHash: string }>; pendingCards: Set<bigint> }> {
  const r = await db.query(
    `SELECT ${TX_COLS}, request_hash FROM card_transactions WHERE idempotency_key = ANY($1::text[]) OR (card_id = ANY($2::bigint[]) AND status = 'pending')`,
    [keys, cardIds],
  );
  const priors = new Map<string, { tx: CardTransaction; requestHash: string }>();
  const pendingCards = new Set<bigint>();
  const wanted = new Set(keys);
  for (const row of r.rows as Row[]) {
    const tx = rowToTx(row);
    if (wanted.has(tx.idempotencyKey)) priors.set(tx.idempotencyKey, { tx, requestHash: row['request_hash'] as string });
    if (tx.status === 'pending') pendingCards.add(tx.cardId);
  }
  return { priors, pendingCards };
}

export async function txByKey(db: Queryable, key: string): Promise<{ tx: CardTransaction; requestHash: string } | undefined> {
  const r = await db.query(`SELECT ${TX_COLS}, request_hash FROM card_transactions WHERE idempotency_key = $1`, [key]);
  const row = r.rows[0] as Row | undefined;
  return row ? { tx: rowToTx(row), requestHash: row['request_hash'] as string } : undefined;
}

/** In one query: the transaction stored under `key` (if any) and the card's pending ones, oldest first. */
export async function priorAndPending(db: Queryable, key: string, cardId: bigint): Promise<{ prior: { tx: CardTransaction; requestHash: string } | undefined; pendingIds: bigint[] }> {
  const r = await db.query(
    `SELECT ${TX_COLS}, request_hash FROM card_transactions WHERE idempotency_key = $1 OR (card_id = $2 AND status = 'pending') ORDER BY id`,
    [key, cardId],
  );
  let prior: { tx: CardTransaction; requestHash: string } | undefined;
  const pendingIds: bigint[] = [];
  for (const row of r.rows as Row[]) {
    const tx = rowToTx(row);
    if (tx.idempotencyKey === key) prior = { tx, requestHash: row['request_hash'] as string };
    else pendingIds.push(tx.id);
  }
  return { prior, pendingIds };
}

export async function getTx(db: Queryable, id: bigint, forUpdate = false): Promise<CardTransaction | undefined> {
  const r = await db.query(`SELECT ${TX_COLS} FROM card_transactions WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? rowToTx(r.rows[0] as Row) : undefined;
}

export async function finishTx(db: Queryable, id: bigint, status: 'succeeded' | 'failed', failureCode: string | null): Promise<void> {
  await db.query(`UPDATE card_transactions SET status = $2, failure_code = $3 WHERE id = $1 AND status = 'pending'`, [id, status, failureCode]);
}

export async function addRefunded(db: Queryable, id: bigint, delta: bigint): Promise<void> {
  await db.query('UPDATE card_transactions SET refunded_amount = refunded_amount + $2 WHERE id = $1', [id, delta]);
}

export async function markVoided(db: Queryable, id: bigint): Promise<void> {
  await db.query('UPDATE card_transactions SET voided = true WHERE id = $1', [id]);
}

export async function listTxs(db: Queryable, f: { cardId?: bigint; kind?: CardTxKind; merchantId?: bigint; from?: Date; to?: Date; afterId?: bigint; limit: number }): Promise<CardTransaction[]> {
  const q = new SqlFilter();
  if (f.cardId !== undefined) q.add('card_id = ?', f.cardId);
  if (f.kind !== undefined) q.add('kind = ?', f.kind);
  if (f.merchantId !== undefined) q.add('merchant_id = ?', f.merchantId);
  if (f.from !== undefined) q.add('created_at >= ?', f.from);
  if (f.to !== undefined) q.add('created_at < ?', f.to);
  if (f.afterId !== undefined) q.add('id > ?', f.afterId);
  const r = await db.query(`SELECT ${TX_COLS} FROM card_transactions ${q.where()} ORDER BY id LIMIT ${q.param(f.limit)}`, q.args);
  return r.rows.map((x) => rowToTx(x as Row));
}

export async function pendingTxIds(db: Queryable, olderThan: Date, limit: number): Promise<bigint[]> {
  const r = await db.query(`SELECT id FROM card_transactions WHERE status = 'pending' AND created_at < $1 ORDER BY id LIMIT $2`, [olderThan, limit]);
  return r.rows.map((x: Row) => x['id'] as bigint);
}

// ---- holds ------------------------------------------------------------------------------------

/** Records where a hold stands (on the hold; with `expiresAt`, when it was placed). */
export async function setHoldState(db: Queryable, id: bigint, state: HoldState | null, expiresAt?: Date): Promise<void> {
  if (expiresAt) await db.query('UPDATE card_transactions SET hold_state = $2, hold_expires_at = $3 WHERE id = $1', [id, state, expiresAt]);
  else await db.query('UPDATE card_transactions SET hold_state = $2 WHERE id = $1', [id, state]);
}

/** The successful capture of a hold, if it was captured. */
export async function captureOf(db: Queryable, holdId: bigint): Promise<CardTransaction | undefined> {
  const r = await db.query(`SELECT ${TX_COLS} FROM card_transactions WHERE related_id = $1 AND kind = 'capture' AND status = 'succeeded'`, [holdId]);
  return r.rows[0] ? rowToTx(r.rows[0] as Row) : undefined;
}

/** Holds still recorded as active although their timeout has passed, oldest first. */
export async function activeHoldsPast(db: Queryable, now: Date, limit: number): Promise<{ id: bigint; cardId: bigint }[]> {
  const r = await db.query(
    `SELECT id, card_id FROM card_transactions WHERE kind = 'hold' AND hold_state = 'active' AND hold_expires_at <= $1 ORDER BY hold_expires_at LIMIT $2`,
    [now, limit],
  );
  return (r.rows as Row[]).map((x) => ({ id: x['id'] as bigint, cardId: x['card_id'] as bigint }));
}

// ---- bonus expiry -----------------------------------------------------------------------------

/** Grants whose bonus has expired and that the expiry job has not dealt with yet, oldest first. */
export async function dueBonusGrants(db: Queryable, now: Date, limit: number): Promise<{ id: bigint; cardId: bigint; expiresAt: Date }[]> {
  const r = await db.query(
    `SELECT id, card_id, bonus_expires_at FROM card_transactions
     WHERE bonus_expires_at IS NOT NULL AND NOT bonus_expiry_done AND bonus_expires_at <= $1
     ORDER BY bonus_expires_at, id LIMIT $2`,
    [now, limit],
  );
  return (r.rows as Row[]).map((x) => ({ id: x['id'] as bigint, cardId: x['card_id'] as bigint, expiresAt: x['bonus_expires_at'] as Date }));
}

export async function markBonusExpiryDone(db: Queryable, grantId: bigint): Promise<void> {
  await db.query('UPDATE card_transactions SET bonus_expiry_done = true WHERE id = $1', [grantId]);
}

/** The bonus history of this card and the cards it replaced (a replacement carries their bonus over). */
export async function bonusHistory(db: Queryable, cardId: bigint): Promise<BonusEvent[]> {
  const r = await db.query(
    `WITH RECURSIVE chain(id, depth) AS (SELECT $1::bigint, 0 UNION ALL SELECT c.replaced_from, chain.depth + 1 FROM cards c JOIN chain ON c.id = chain.id WHERE c.replaced_from IS NOT NULL AND chain.depth < 100)
     SELECT id, kind, bonus_amount, created_at, bonus_expires_at, related_id FROM card_transactions
     WHERE card_id IN (SELECT id FROM chain) AND status = 'succeeded' AND bonus_amount > 0
       AND kind IN ('load', 'recharge', 'consume', 'capture', 'void', 'refund', 'breakage', 'redeem')`,
    [cardId],
  );
  return (r.rows as Row[]).map((x): BonusEvent => {
    const base = { id: x['id'] as bigint, at: x['created_at'] as Date, amountMinor: x['bonus_amount'] as bigint };
    switch (x['kind'] as CardTxKind) {
      case 'load':
      case 'recharge':
        return { ...base, kind: 'grant', expiresAt: (x['bonus_expires_at'] as Date | null) ?? null };
      case 'void':
      case 'refund':
        return { ...base, kind: 'return' };
      case 'breakage':
        return { ...base, kind: 'forfeit', grantId: x['related_id'] as bigint };
      default:
        return { ...base, kind: 'spend' };
    }
  });
}

/** Breakage recognised as income (forfeited bonus), by product. */
export async function breakageRecognisedByProduct(db: Queryable): Promise<Map<bigint, bigint>> {
  const r = await db.query(
    `SELECT c.product_id, sum(t.amount)::bigint AS s FROM card_transactions t JOIN cards c ON c.id = t.card_id
     WHERE t.kind = 'breakage' AND t.status = 'succeeded' GROUP BY c.product_id`,
  );
  return new Map((r.rows as Row[]).map((x) => [x['product_id'] as bigint, x['s'] as bigint]));
}
