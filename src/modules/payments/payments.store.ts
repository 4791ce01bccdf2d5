/** SQL of the payments module: orders, legs, refunds and their parts, the notification outbox, alerts. */
import type { Queryable } from '../../kernel/db.js';
import type { PayAction, PayMethod } from '../channels/index.js';
import type { LegKind, LegStatus, MerchantNotification, OrderStatus, PaymentLeg, PaymentOrder, PaymentRefund, RefundPart, RefundPartStatus, RefundStatus, Strategy } from './types.js';

type Row = Record<string, unknown>;
const n = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (v as T));

// ---- orders -----------------------------------------------------------------------------------

const ORDER_COLS = `id, order_no, merchant_id, merchant_order_no, amount, currency, subject, notify_url, return_url, methods, expires_at, status, strategy,
  payer_customer_id, fee_amount, refunded_amount, failure_code, succeeded_at, closed_at, metadata, created_at, updated_at`;

function toOrder(r: Row): PaymentOrder {
  return {
    id: r['id'] as bigint, orderNo: r['order_no'] as string, merchantId: r['merchant_id'] as bigint, merchantOrderNo: r['merchant_order_no'] as string,
    amount: r['amount'] as bigint, currency: r['currency'] as string, subject: r['subject'] as string, notifyUrl: r['notify_url'] as string,
    returnUrl: n<string>(r['return_url']), methods: r['methods'] as string[], expiresAt: r['expires_at'] as Date, status: r['status'] as OrderStatus,
    strategy: r['strategy'] as Strategy, payerCustomerId: n<bigint>(r['payer_customer_id']), feeAmount: r['fee_amount'] as bigint,
    refundedAmount: r['refunded_amount'] as bigint, failureCode: n<string>(r['failure_code']), succeededAt: n<Date>(r['succeeded_at']),
    closedAt: n<Date>(r['closed_at']), metadata: r['metadata'] as Record<string, unknown>, createdAt: r['created_at'] as Date, updatedAt: r['updated_at'] as Date,
  };
}

export async function insertOrder(db: Queryable, o: PaymentOrder & { requestHash: string }): Promise<{ order: PaymentOrder; requestHash: string; inserted: boolean }> {
  const r = await db.query(
    `INSERT INTO payment_orders (id, order_no, merchant_id, merchant_order_no, request_hash, amount, currency, subject, notify_url, return_url, methods,
       expires_at, status, strategy, payer_customer_id, metadata, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'created',$13,$14,$15,$16,$16)
     ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING RETURNING ${ORDER_COLS}`,
    [o.id, o.orderNo, o.merchantId, o.merchantOrderNo, o.requestHash, o.amount, o.currency, o.subject, o.notifyUrl, o.returnUrl, o.methods,
      o.expiresAt, o.strategy, o.payerCustomerId, JSON.stringify(o.metadata), o.createdAt],
  );
  if (r.rows[0]) return { order: toOrder(r.rows[0] as Row), requestHash: o.requestHash, inserted: true };
  const e = await db.query(`SELECT ${ORDER_COLS}, request_hash FROM payment_orders WHERE merchant_id = $1 AND merchant_order_no = $2`, [o.merchantId, o.merchantOrderNo]);
  const row = e.rows[0] as Row;
  return { order: toOrder(row), requestHash: row['request_hash'] as string, inserted: false };
}

export async function getOrder(db: Queryable, id: bigint, lock = false): Promise<PaymentOrder | undefined> {
  const r = await db.query(`SELECT ${ORDER_COLS} FROM payment_orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toOrder(r.rows[0] as Row) : undefined;
}

export async function getOrderByNo(db: Queryable, orderNo: string): Promise<PaymentOrder | undefined> {
  const r = await db.query(`SELECT ${ORDER_COLS} FROM payment_orders WHERE order_no = $1`, [orderNo]);
  return r.rows[0] ? toOrder(r.rows[0] as Row) : undefined;
}

export async function getOrderByMerchantNo(db: Queryable, merchantId: bigint, merchantOrderNo: string): Promise<PaymentOrder | undefined> {
  const r = await db.query(`SELECT ${ORDER_COLS} FROM payment_orders WHERE merchant_id = $1 AND merchant_order_no = $2`, [merchantId, merchantOrderNo]);
  return r.rows[0] ? toOrder(r.rows[0] as Row) : undefined;
}

export async function listOrders(db: Queryable, f: { merchantId?: bigint; status?: OrderStatus; afterId?: bigint; limit: number }): Promise<PaymentOrder[]> {
  const r = await db.query(
    `SELECT ${ORDER_COLS} FROM payment_orders WHERE ($1::bigint IS NULL OR merchant_id = $1) AND ($2::text IS NULL OR status = $2) AND id > $3 ORDER BY id LIMIT $4`,
    [f.merchantId ?? null, f.status ?? null, f.afterId ?? -1n, f.limit],
  );
  return r.rows.map((x) => toOrder(x as Row));
}

/**
 * Updates an order. A status change applies only to an order that is not final yet: a late
 * answer of one path can never reopen, close or re-complete an order another path finished.
 * Returns whether the row was updated.
 */
export async function updateOrder(db: Queryable, id: bigint, set: Partial<{ status: OrderStatus; fee_amount: bigint; failure_code: string | null; succeeded_at: Date; closed_at: Date }>, now: Date): Promise<boolean> {
  const cols = Object.keys(set);
  const vals = Object.values(set);
  const guard = set.status !== undefined ? ` AND status IN ('created', 'processing', 'unknown')` : '';
  const r = await db.query(`UPDATE payment_orders SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}${cols.length ? ', ' : ''}updated_at = $2 WHERE id = $1${guard}`, [id, now, ...vals]);
  return r.rowCount === 1;
}

/** Reserves a refund on the order; false when it would exceed what was paid. */
export async function reserveOrderRefund(db: Queryable, id: bigint, amount: bigint): Promise<boolean> {
  const r = await db.query(`UPDATE payment_orders SET refunded_amount = refunded_amount + $2 WHERE id = $1 AND status = 'succeeded' AND refunded_amount + $2 <= amount`, [id, amount]);
  return r.rowCount === 1;
}

export async function releaseOrderRefund(db: Queryable, id: bigint, amount: bigint): Promise<void> {
  await db.query('UPDATE payment_orders SET refunded_amount = refunded_amount - $2 WHERE id = $1', [id, amount]);
}

export async function dueOrders(db: Queryable, now: Date, limit: number): Promise<bigint[]> {
  const r = await db.query(
    `SELECT id FROM payment_orders WHERE status IN ('created', 'processing', 'unknown') AND coalesce(recheck_at, expires_at) <= $1 ORDER BY coalesce(recheck_at, expires_at) LIMIT $2`,
    [now, limit],
  );
  return (r.rows as Row[]).map((x) => x['id'] as bigint);
}

/** The expiry job could not settle this order yet: look again later. */
export async function recheckLater(db: Queryable, id: bigint, at: Date): Promise<void> {
  await db.query(`UPDATE payment_orders SET recheck_at = $2 WHERE id = $1 AND status IN ('created', 'processing', 'unknown')`, [id, at]);
}

/** Claims the right to drive an order's combined payment for a while; false if another process has it. */
export async function claimDriver(db: Queryable, id: bigint, now: Date, untilMs: number): Promise<boolean> {
  const r = await db.query('UPDATE payment_orders SET driver_until = $3 WHERE id = $1 AND (driver_until IS NULL OR driver_until < $2)', [id, now, new Date(now.getTime() + untilMs)]);
  return r.rowCount === 1;
}

export async function releaseDriver(db: Queryable, id: bigint): Promise<void> {
  await db.query('UPDATE payment_orders SET driver_until = NULL WHERE id = $1', [id]);
}

/** Combined orders still in flight and not touched for a while: the recovery worker drives them on. */
export async function stalledCombinedOrders(db: Queryable, before: Date, limit: number): Promise<bigint[]> {
  const r = await db.query(
    `SELECT o.id FROM payment_orders o WHERE o.status IN ('processing', 'unknown') AND o.updated_at <= $1
       AND EXISTS (SELECT 1 FROM payment_legs l WHERE l.order_id = o.id AND l.kind <> 'channel') ORDER BY o.updated_at LIMIT $2`,
    [before, limit],
  );
  return (r.rows as Row[]).map((x) => x['id'] as bigint);
}

// ---- legs -------------------------------------------------------------------------------------

const LEG_COLS = `id, order_id, leg_no, kind, amount, status, channel_account_id, method, out_trade_no, channel_trade_no, action, route_trace, fee_amount,
  channel_cost, card_id, card_tx_id, ledger_account_id, hold_transfer_id, refunded_amount, failure_code, failure_message, query_attempts, next_query_at,
  paid_at, created_at, updated_at`;

function toLeg(r: Row): PaymentLeg {
  return {
    id: r['id'] as bigint, orderId: r['order_id'] as bigint, legNo: r['leg_no'] as number, kind: r['kind'] as LegKind, amount: r['amount'] as bigint,
    status: r['status'] as LegStatus, channelAccountId: n<bigint>(r['channel_account_id']), method: n<PayMethod>(r['method']),
    outTradeNo: n<string>(r['out_trade_no']), channelTradeNo: n<string>(r['channel_trade_no']), action: n<PayAction>(r['action']),
    routeTrace: r['route_trace'] ?? null, feeAmount: r['fee_amount'] as bigint, channelCost: r['channel_cost'] as bigint, cardId: n<bigint>(r['card_id']),
    cardTxId: n<bigint>(r['card_tx_id']), ledgerAccountId: n<bigint>(r['ledger_account_id']), holdTransferId: n<bigint>(r['hold_transfer_id']),
    refundedAmount: r['refunded_amount'] as bigint, failureCode: n<string>(r['failure_code']), failureMessage: n<string>(r['failure_message']),
    queryAttempts: r['query_attempts'] as number, nextQueryAt: n<Date>(r['next_query_at']), paidAt: n<Date>(r['paid_at']),
    createdAt: r['created_at'] as Date, updatedAt: r['updated_at'] as Date,
  };
}

export interface NewLeg {
  id: bigint;
  orderId: bigint;
  legNo: number;
  kind: LegKind;
  amount: bigint;
  channelAccountId?: bigint | null;
  method?: string | null;
  outTradeNo?: string | null;
  routeTrace?: unknown;
  cardId?: bigint | null;
  ledgerAccountId?: bigint | null;
  now: Date;
}

export async function insertLegs(db: Queryable, legs: readonly NewLeg[]): Promise<void> {
  for (const l of legs) {
    await db.query(
      `INSERT INTO payment_legs (id, order_id, leg_no, kind, amount, status, channel_account_id, method, out_trade_no, route_trace, card_id, ledger_account_id, created_at, updated_at)
       VALUES ($1,$2,$3,$4,$5,'created',$6,$7,$8,$9,$10,$11,$12,$12)`,
      [l.id, l.orderId, l.legNo, l.kind, l.amount, l.channelAccountId ?? null, l.method ?? null, l.outTradeNo ?? null, l.routeTrace === undefined ? null : JSON.stringify(l.routeTrace), l.cardId ?? null, l.ledgerAccountId ?? null, l.now],
    );
  }
}

export async function legsOf(db: Queryable, orderId: bigint, lock = false): Promise<PaymentLeg[]> {
  const r = await db.query(`SELECT ${LEG_COLS} FROM payment_legs WHERE order_id = $1 ORDER BY leg_no, id${lock ? ' FOR UPDATE' : ''}`, [orderId]);
  return r.rows.map((x) => toLeg(x as Row));
}

export async function getLeg(db: Queryable, id: bigint, lock = false): Promise<PaymentLeg | undefined> {
  const r = await db.query(`SELECT ${LEG_COLS} FROM payment_legs WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toLeg(r.rows[0] as Row) : undefined;
}

export async function legByOutTradeNo(db: Queryable, outTradeNo: string): Promise<PaymentLeg | undefined> {
  const r = await db.query(`SELECT ${LEG_COLS} FROM payment_legs WHERE out_trade_no = $1`, [outTradeNo]);
  return r.rows[0] ? toLeg(r.rows[0] as Row) : undefined;
}

export async function updateLeg(
  db: Queryable,
  id: bigint,
  set: Partial<{ status: LegStatus; channel_trade_no: string | null; action: string | null; fee_amount: bigint; channel_cost: bigint; card_tx_id: bigint; hold_transfer_id: bigint; failure_code: string | null; failure_message: string | null; query_attempts: number; next_query_at: Date | null; paid_at: Date }>,
  now: Date,
): Promise<void> {
  const cols = Object.keys(set);
  // A leg never goes back from an outcome to "still waiting": a notification may have settled it
  // while the answer to our own request was on its way.
  const guard = set.status !== undefined && ['created', 'pending', 'unknown', 'held'].includes(set.status) ? ` AND status IN ('created', 'pending', 'unknown', 'held')` : '';
  await db.query(`UPDATE payment_legs SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}${cols.length ? ', ' : ''}updated_at = $2 WHERE id = $1${guard}`, [id, now, ...Object.values(set)]);
}

/** Gives a created channel leg its channel account and out_trade_no (before the channel is called); false if it already had them. */
export async function assignLegChannel(db: Queryable, id: bigint, a: { channelAccountId: bigint; outTradeNo: string; routeTrace: unknown }, now: Date): Promise<boolean> {
  const r = await db.query("UPDATE payment_legs SET channel_account_id = $2, out_trade_no = $3, route_trace = $4, updated_at = $5 WHERE id = $1 AND out_trade_no IS NULL AND status = 'created'", [id, a.channelAccountId, a.outTradeNo, JSON.stringify(a.routeTrace), now]);
  return r.rowCount === 1;
}

export async function dueLegQueries(db: Queryable, now: Date, limit: number): Promise<bigint[]> {
  const r = await db.query(`SELECT id FROM payment_legs WHERE status IN ('pending', 'unknown') AND next_query_at <= $1 ORDER BY next_query_at LIMIT $2`, [now, limit]);
  return (r.rows as Row[]).map((x) => x['id'] as bigint);
}

/** Channel volume since `since` per channel account that may still take money (daily limits). */
export async function channelVolumeSince(db: Queryable, since: Date): Promise<Map<bigint, bigint>> {
  const r = await db.query(
    `SELECT channel_account_id, sum(amount)::bigint AS s FROM payment_legs
     WHERE kind = 'channel' AND created_at >= $1 AND status IN ('created', 'pending', 'unknown', 'succeeded') GROUP BY channel_account_id`,
    [since],
  );
  return new Map((r.rows as Row[]).map((x) => [x['channel_account_id'] as bigint, x['s'] as bigint]));
}

export async function reserveLegRefund(db: Queryable, id: bigint, amount: bigint): Promise<boolean> {
  const r = await db.query(`UPDATE payment_legs SET refunded_amount = refunded_amount + $2 WHERE id = $1 AND refunded_amount + $2 <= amount`, [id, amount]);
  return r.rowCount === 1;
}

export async function releaseLegRefund(db: Queryable, id: bigint, amount: bigint): Promise<void> {
  await db.query('UPDATE payment_legs SET refunded_amount = refunded_amount - $2 WHERE id = $1', [id, amount]);
}

// ---- refunds ----------------------------------------------------------------------------------

const REFUND_COLS = 'id, refund_no, order_id, merchant_id, merchant_refund_no, amount, reason, purpose, status, failure_code, succeeded_at, created_at, updated_at';

function toRefund(r: Row): PaymentRefund {
  return {
    id: r['id'] as bigint, refundNo: r['refund_no'] as string, orderId: r['order_id'] as bigint, merchantId: r['merchant_id'] as bigint,
    merchantRefundNo: r['merchant_refund_no'] as string, amount: r['amount'] as bigint, reason: r['reason'] as string,
    purpose: r['purpose'] as 'merchant' | 'compensation', status: r['status'] as RefundStatus, failureCode: n<string>(r['failure_code']),
    succeededAt: n<Date>(r['succeeded_at']), createdAt: r['created_at'] as Date, updatedAt: r['updated_at'] as Date,
  };
}

export async function insertRefund(db: Queryable, f: PaymentRefund & { requestHash: string }): Promise<{ refund: PaymentRefund; requestHash: string; inserted: boolean }> {
  const r = await db.query(
    `INSERT INTO payment_refunds (id, refund_no, order_id, merchant_id, merchant_refund_no, request_hash, amount, reason, purpose, status, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'processing',$10,$10) ON CONFLICT (merchant_id, merchant_refund_no) DO NOTHING RETURNING ${REFUND_COLS}`,
    [f.id, f.refundNo, f.orderId, f.merchantId, f.merchantRefundNo, f.requestHash, f.amount, f.reason, f.purpose, f.createdAt],
  );
  if (r.rows[0]) return { refund: toRefund(r.rows[0] as Row), requestHash: f.requestHash, inserted: true };
  const e = await db.query(`SELECT ${REFUND_COLS}, request_hash FROM payment_refunds WHERE merchant_id = $1 AND merchant_refund_no = $2`, [f.merchantId, f.merchantRefundNo]);
  return { refund: toRefund(e.rows[0] as Row), requestHash: (e.rows[0] as Row)['request_hash'] as string, inserted: false };
}

export async function getRefund(db: Queryable, id: bigint, lock = false): Promise<PaymentRefund | undefined> {
  const r = await db.query(`SELECT ${REFUND_COLS} FROM payment_refunds WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toRefund(r.rows[0] as Row) : undefined;
}

export async function getRefundByMerchantNo(db: Queryable, merchantId: bigint, merchantRefundNo: string): Promise<PaymentRefund | undefined> {
  const r = await db.query(`SELECT ${REFUND_COLS} FROM payment_refunds WHERE merchant_id = $1 AND merchant_refund_no = $2`, [merchantId, merchantRefundNo]);
  return r.rows[0] ? toRefund(r.rows[0] as Row) : undefined;
}

export async function refundsOf(db: Queryable, orderId: bigint): Promise<PaymentRefund[]> {
  const r = await db.query(`SELECT ${REFUND_COLS} FROM payment_refunds WHERE order_id = $1 ORDER BY id`, [orderId]);
  return r.rows.map((x) => toRefund(x as Row));
}

export async function updateRefund(db: Queryable, id: bigint, set: Partial<{ status: RefundStatus; failure_code: string | null; succeeded_at: Date }>, now: Date): Promise<void> {
  const cols = Object.keys(set);
  await db.query(`UPDATE payment_refunds SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}${cols.length ? ', ' : ''}updated_at = $2 WHERE id = $1`, [id, now, ...Object.values(set)]);
}

const PART_COLS = 'id, refund_id, leg_id, amount, fee_returned, out_refund_no, channel_refund_no, status, failure_code, query_attempts, next_query_at, created_at, updated_at';

function toPart(r: Row): RefundPart {
  return {
    id: r['id'] as bigint, refundId: r['refund_id'] as bigint, legId: r['leg_id'] as bigint, amount: r['amount'] as bigint, feeReturned: r['fee_returned'] as bigint,
    outRefundNo: r['out_refund_no'] as string, channelRefundNo: n<string>(r['channel_refund_no']), status: r['status'] as RefundPartStatus,
    failureCode: n<string>(r['failure_code']), queryAttempts: r['query_attempts'] as number, nextQueryAt: n<Date>(r['next_query_at']),
    createdAt: r['created_at'] as Date, updatedAt: r['updated_at'] as Date,
  };
}

export async function insertRefundPart(db: Queryable, p: { id: bigint; refundId: bigint; legId: bigint; amount: bigint; outRefundNo: string; now: Date }): Promise<void> {
  await db.query(
    `INSERT INTO payment_refund_parts (id, refund_id, leg_id, amount, out_refund_no, status, next_query_at, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,'created',$6,$6,$6)`,
    [p.id, p.refundId, p.legId, p.amount, p.outRefundNo, p.now],
  );
}

export async function partsOf(db: Queryable, refundId: bigint, lock = false): Promise<RefundPart[]> {
  const r = await db.query(`SELECT ${PART_COLS} FROM payment_refund_parts WHERE refund_id = $1 ORDER BY id${lock ? ' FOR UPDATE' : ''}`, [refundId]);
  return r.rows.map((x) => toPart(x as Row));
}

export async function getPart(db: Queryable, id: bigint, lock = false): Promise<RefundPart | undefined> {
  const r = await db.query(`SELECT ${PART_COLS} FROM payment_refund_parts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toPart(r.rows[0] as Row) : undefined;
}

export async function partByOutRefundNo(db: Queryable, outRefundNo: string): Promise<RefundPart | undefined> {
  const r = await db.query(`SELECT ${PART_COLS} FROM payment_refund_parts WHERE out_refund_no = $1`, [outRefundNo]);
  return r.rows[0] ? toPart(r.rows[0] as Row) : undefined;
}

export async function updatePart(db: Queryable, id: bigint, set: Partial<{ status: RefundPartStatus; channel_refund_no: string | null; fee_returned: bigint; failure_code: string | null; query_attempts: number; next_query_at: Date | null }>, now: Date): Promise<void> {
  const cols = Object.keys(set);
  // Likewise, a finished part is never reopened by a late answer.
  const guard = set.status === 'succeeded' || set.status === 'failed' ? '' : ` AND status NOT IN ('succeeded', 'failed')`;
  await db.query(`UPDATE payment_refund_parts SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}${cols.length ? ', ' : ''}updated_at = $2 WHERE id = $1${guard}`, [id, now, ...Object.values(set)]);
}

/** Sum of the succeeded parts of merchant refunds of an order, other than `partId`. */
export async function refundedBeforeOnOrder(db: Queryable, orderId: bigint, partId: bigint): Promise<bigint> {
  const r = await db.query(
    `SELECT coalesce(sum(p.amount), 0)::bigint AS s FROM payment_refund_parts p JOIN payment_refunds f ON f.id = p.refund_id
     WHERE f.order_id = $1 AND f.purpose = 'merchant' AND p.status = 'succeeded' AND p.id <> $2`,
    [orderId, partId],
  );
  return (r.rows[0] as Row)['s'] as bigint;
}

/** Sum of the succeeded refund parts of a leg, other than `partId`. */
export async function refundedBeforeOnLeg(db: Queryable, legId: bigint, partId: bigint): Promise<bigint> {
  const r = await db.query(`SELECT coalesce(sum(amount), 0)::bigint AS s FROM payment_refund_parts WHERE leg_id = $1 AND status = 'succeeded' AND id <> $2`, [legId, partId]);
  return (r.rows[0] as Row)['s'] as bigint;
}

export async function dueRefundParts(db: Queryable, now: Date, limit: number): Promise<bigint[]> {
  const r = await db.query(`SELECT DISTINCT refund_id FROM payment_refund_parts WHERE status IN ('created', 'processing', 'unknown') AND next_query_at <= $1 LIMIT $2`, [now, limit]);
  return (r.rows as Row[]).map((x) => x['refund_id'] as bigint);
}

// ---- merchant notifications -------------------------------------------------------------------

const NOTE_COLS = 'id, merchant_id, order_id, refund_id, event_type, url, payload, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at';

function toNote(r: Row): MerchantNotification {
  return {
    id: r['id'] as bigint, merchantId: r['merchant_id'] as bigint, orderId: n<bigint>(r['order_id']), refundId: n<bigint>(r['refund_id']),
    eventType: r['event_type'] as string, url: r['url'] as string, payload: r['payload'] as Record<string, unknown>,
    status: r['status'] as MerchantNotification['status'], attempts: r['attempts'] as number, nextAttemptAt: r['next_attempt_at'] as Date,
    lastStatus: n<number>(r['last_status']), lastError: n<string>(r['last_error']), createdAt: r['created_at'] as Date, deliveredAt: n<Date>(r['delivered_at']),
  };
}

/** Writes a notification into the outbox (once per event: a repeat of the same event is ignored). */
export async function enqueueNotification(db: Queryable, x: { id: bigint; merchantId: bigint; orderId: bigint | null; refundId: bigint | null; eventType: string; url: string; payload: Record<string, unknown>; now: Date }): Promise<void> {
  await db.query(
    `INSERT INTO merchant_notifications (id, merchant_id, order_id, refund_id, event_type, url, payload, status, next_attempt_at, created_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,'pending',$8,$8) ON CONFLICT DO NOTHING`,
    [x.id, x.merchantId, x.orderId, x.refundId, x.eventType, x.url, JSON.stringify(x.payload), x.now],
  );
}

/** Claims due notifications for delivery: each is leased until `leaseUntil`, so other workers skip it. */
export async function claimDueNotifications(db: Queryable, now: Date, leaseUntil: Date, limit: number): Promise<MerchantNotification[]> {
  const r = await db.query(
    `UPDATE merchant_notifications SET next_attempt_at = $2 WHERE id IN (
       SELECT id FROM merchant_notifications WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING ${NOTE_COLS}`,
    [now, leaseUntil, limit],
  );
  return r.rows.map((x) => toNote(x as Row));
}

export async function recordNotificationAttempt(db: Queryable, a: { id: bigint; notificationId: bigint; at: Date; httpStatus: number | null; error: string | null; durationMs: number; delivered: boolean; dead: boolean; nextAttemptAt: Date }): Promise<void> {
  // One statement, committed without waiting for its WAL flush: lost in a crash, the attempt is
  // simply made again (notifications are at least once, and carry their id for merchants to dedupe).
  await db.query(
    `WITH s AS (SELECT set_config('synchronous_commit', 'off', true)),
     ins AS (INSERT INTO merchant_notification_attempts (id, notification_id, attempted_at, http_status, error, duration_ms) SELECT $8, $1, $6, $2, $3, $9 FROM s)
     UPDATE merchant_notifications SET attempts = attempts + 1, last_status = $2, last_error = $3,
       status = CASE WHEN $4 THEN 'delivered' WHEN $5 THEN 'dead' ELSE 'pending' END,
       delivered_at = CASE WHEN $4 THEN $6 ELSE delivered_at END, next_attempt_at = $7
     WHERE id = $1 AND status = 'pending'`,
    [a.notificationId, a.httpStatus, a.error, a.delivered, a.dead, a.at, a.nextAttemptAt, a.id, a.durationMs],
  );
}

export async function getNotification(db: Queryable, id: bigint): Promise<MerchantNotification | undefined> {
  const r = await db.query(`SELECT ${NOTE_COLS} FROM merchant_notifications WHERE id = $1`, [id]);
  return r.rows[0] ? toNote(r.rows[0] as Row) : undefined;
}

export async function listNotifications(db: Queryable, f: { merchantId?: bigint; orderId?: bigint; status?: string; afterId?: bigint; limit: number }): Promise<MerchantNotification[]> {
  const r = await db.query(
    `SELECT ${NOTE_COLS} FROM merchant_notifications WHERE ($1::bigint IS NULL OR merchant_id = $1) AND ($2::bigint IS NULL OR order_id = $2)
       AND ($3::text IS NULL OR status = $3) AND id > $4 ORDER BY id LIMIT $5`,
    [f.merchantId ?? null, f.orderId ?? null, f.status ?? null, f.afterId ?? -1n, f.limit],
  );
  return r.rows.map((x) => toNote(x as Row));
}

export async function notificationAttempts(db: Queryable, notificationId: bigint): Promise<{ at: Date; httpStatus: number | null; error: string | null; durationMs: number }[]> {
  const r = await db.query('SELECT attempted_at, http_status, error, duration_ms FROM merchant_notification_attempts WHERE notification_id = $1 ORDER BY id', [notificationId]);
  return (r.rows as Row[]).map((x) => ({ at: x['attempted_at'] as Date, httpStatus: n<number>(x['http_status']), error: n<string>(x['error']), durationMs: x['duration_ms'] as number }));
}

/** Operator replay of a dead-lettered notification: pending again, due now, attempts counted afresh. */
export async function replayNotification(db: Queryable, id: bigint, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE merchant_notifications SET status = 'pending', attempts = 0, next_attempt_at = $2 WHERE id = $1 AND status = 'dead'`, [id, now]);
  return r.rowCount === 1;
}

// ---- inbound channel notifications and alerts -------------------------------------------------

export async function logChannelNotification(db: Queryable, x: { id: bigint; channelAccountId: bigint; at: Date; verified: boolean; outTradeNo: string | null; event: unknown; outcome: string }): Promise<void> {
  await db.query(
    'INSERT INTO channel_notifications (id, channel_account_id, received_at, verified, out_trade_no, event, outcome) VALUES ($1,$2,$3,$4,$5,$6,$7)',
    [x.id, x.channelAccountId, x.at, x.verified, x.outTradeNo, x.event === null ? null : JSON.stringify(x.event, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), x.outcome],
  );
}

export async function raiseAlert(db: Queryable, a: { id: bigint; kind: string; severity: 'info' | 'warning' | 'critical'; orderId: bigint | null; legId: bigint | null; details: Record<string, unknown>; now: Date }): Promise<void> {
  await db.query(
    'INSERT INTO payment_alerts (id, kind, severity, order_id, leg_id, details, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)',
    [a.id, a.kind, a.severity, a.orderId, a.legId, JSON.stringify(a.details, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), a.now],
  );
}

export async function listAlerts(db: Queryable, f: { open?: boolean; orderId?: bigint; limit: number }): Promise<{ id: bigint; kind: string; severity: string; orderId: bigint | null; legId: bigint | null; details: Record<string, unknown>; createdAt: Date; resolvedAt: Date | null }[]> {
  const r = await db.query(
    `SELECT id, kind, severity, order_id, leg_id, details, created_at, resolved_at FROM payment_alerts
     WHERE ($1::boolean IS NULL OR (resolved_at IS NULL) = $1) AND ($2::bigint IS NULL OR order_id = $2) ORDER BY id DESC LIMIT $3`,
    [f.open ?? null, f.orderId ?? null, f.limit],
  );
  return (r.rows as Row[]).map((x) => ({ id: x['id'] as bigint, kind: x['kind'] as string, severity: x['severity'] as string, orderId: n<bigint>(x['order_id']), legId: n<bigint>(x['leg_id']), details: x['details'] as Record<string, unknown>, createdAt: x['created_at'] as Date, resolvedAt: n<Date>(x['resolved_at']) }));
}

/**
 * The checkout batch (payments/checkout.ts): locks its orders, skipping any another transaction
 * holds, and reports for each the status, expiry, legs so far (count, and whether one is live) and
 * whether a risk review stops new attempts (open or rejected: review-block.ts).
 */
export async function lockCheckoutOrders(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, { status: OrderStatus; expiresAt: Date; legs: number; live: boolean; reviewed: boolean }>> {
  const r = await db.query(
    `WITH o AS (SELECT id, status, expires_at FROM payment_orders WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE SKIP LOCKED)
     SELECT o.id, o.status, o.expires_at,
            (SELECT count(*) FROM payment_legs l WHERE l.order_id = o.id)::int AS legs,
            EXISTS (SELECT 1 FROM payment_legs l WHERE l.order_id = o.id AND l.status IN ('created', 'pending', 'unknown', 'held')) AS live,
            EXISTS (SELECT 1 FROM payment_risk_holds h WHERE h.order_id = o.id AND h.kind = 'review' AND h.status IN ('open', 'rejected')) AS reviewed
     FROM o`,
    [ids],
  );
  return new Map(r.rows.map((x: Row) => [x['id'] as bigint, { status: x['status'] as OrderStatus, expiresAt: x['expires_at'] as Date, legs: x['legs'] as number, live: x['live'] as boolean, reviewed: x['reviewed'] as boolean }]));
}

/** Card legs recorded already decided (the checkout batch): succeeded with their card transaction, or failed. */
export async function insertDecidedCardLegs(db: Queryable, legs: readonly { id: bigint; orderId: bigint; legNo: number; amount: bigint; cardId: bigint; cardTxId: bigint | null; status: 'succeeded' | 'failed'; failureCode: string | null; failureMessage: string | null; now: Date }[]): Promise<void> {
  if (legs.length === 0) return;
  const col = <T>(f: (l: (typeof legs)[number]) => T): T[] => legs.map(f);
  await db.query(
    `INSERT INTO payment_legs (id, order_id, leg_no, kind, amount, status, card_id, card_tx_id, failure_code, failure_message, paid_at, created_at, updated_at)
     SELECT id, order_id, leg_no, 'card', amount, status, card_id, card_tx_id, failure_code, failure_message, CASE WHEN status = 'succeeded' THEN at END, at, at
     FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::timestamptz[])
       AS t(id, order_id, leg_no, amount, status, card_id, card_tx_id, failure_code, failure_message, at)`,
    [col((l) => l.id), col((l) => l.orderId), col((l) => l.legNo), col((l) => l.amount), col((l) => l.status), col((l) => l.cardId), col((l) => l.cardTxId), col((l) => l.failureCode), col((l) => l.failureMessage), col((l) => l.now)],
  );
}

/** Orders the checkout batch paid: succeeded with their fee (only while still live). */
export async function markOrdersSucceeded(db: Queryable, rows: readonly { id: bigint; fee: bigint }[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE payment_orders o SET status = 'succeeded', fee_amount = t.fee, succeeded_at = $3, failure_code = NULL, updated_at = $3
     FROM unnest($1::bigint[], $2::bigint[]) AS t(id, fee) WHERE o.id = t.id AND o.status IN ('created', 'processing', 'unknown')`,
    [rows.map((r) => r.id), rows.map((r) => r.fee), now],
  );
}

/** Orders whose checkout the card refused: they stay payable, with the refusal on record. */
export async function markOrdersRefused(db: Queryable, rows: readonly { id: bigint; failureCode: string }[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE payment_orders o SET failure_code = t.code, updated_at = $3 FROM unnest($1::bigint[], $2::text[]) AS t(id, code) WHERE o.id = t.id`,
    [rows.map((r) => r.id), rows.map((r) => r.failureCode), now],
  );
}

/** Several outbox rows in one statement (see enqueueNotification). */
export async function enqueueNotifications(db: Queryable, xs: readonly { id: bigint; merchantId: bigint; orderId: bigint; eventType: string; url: string; payload: Record<string, unknown> }[], now: Date): Promise<void> {
  if (xs.length === 0) return;
  await db.query(
    `INSERT INTO merchant_notifications (id, merchant_id, order_id, refund_id, event_type, url, payload, status, next_attempt_at, created_at)
     SELECT id, merchant_id, order_id, NULL, event_type, url, payload, 'pending', $7, $7
     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[]) AS t(id, merchant_id, order_id, event_type, url, payload)
     ON CONFLICT DO NOTHING`,
    [xs.map((x) => x.id), xs.map((x) => x.merchantId), xs.map((x) => x.orderId), xs.map((x) => x.eventType), xs.map((x) => x.url), xs.map((x) => JSON.stringify(x.payload)), now],
  );
}

/** Undoes a checkout recorded as paid earlier in the same transaction, which the ledger then refused. */
export async function unrecordCardCheckouts(db: Queryable, xs: readonly { legId: bigint; orderId: bigint; failureCode: string }[], now: Date): Promise<void> {
  if (xs.length === 0) return;
  const legs = xs.map((x) => x.legId);
  const orders = xs.map((x) => x.orderId);
  const codes = xs.map((x) => x.failureCode);
  await db.query(
    `UPDATE payment_legs l SET status = 'failed', failure_code = t.code, failure_message = 'the ledger refused the payment', paid_at = NULL, updated_at = $3
     FROM unnest($1::bigint[], $2::text[]) AS t(id, code) WHERE l.id = t.id`,
    [legs, codes, now],
  );
  await db.query(
    `UPDATE payment_orders o SET status = 'created', fee_amount = 0, succeeded_at = NULL, failure_code = t.code, updated_at = $3
     FROM unnest($1::bigint[], $2::text[]) AS t(id, code) WHERE o.id = t.id`,
    [orders, codes, now],
  );
  await db.query(`DELETE FROM merchant_notifications WHERE order_id = ANY($1::bigint[]) AND event_type = 'payment.succeeded' AND status = 'pending' AND attempts = 0`, [orders]);
}

// ---- payments held by risk control (risk-gate.ts) ----------------------------------------------

export interface RiskHold {
  id: bigint;
  orderId: bigint;
  kind: 'review' | 'challenge';
  caseId: bigint | null;
  request: import('./risk-gate.js').HeldRequest;
  codeHash: string | null;
  attempts: number;
  expiresAt: Date;
  status: 'open' | 'cleared' | 'used' | 'rejected' | 'failed';
  createdAt: Date;
}

const HOLD_COLUMNS = 'id, order_id, kind, case_id, request, code_hash, attempts, expires_at, status, created_at';
const toHold = (r: Row): RiskHold => ({
  id: r['id'] as bigint, orderId: r['order_id'] as bigint, kind: r['kind'] as RiskHold['kind'], caseId: (r['case_id'] as bigint | null) ?? null, request: r['request'] as RiskHold['request'],
  codeHash: (r['code_hash'] as string | null) ?? null, attempts: r['attempts'] as number, expiresAt: r['expires_at'] as Date, status: r['status'] as RiskHold['status'], createdAt: r['created_at'] as Date,
});

/** Opens a hold; false when the order already has one open or cleared. */
export async function insertHold(db: Queryable, x: { id: bigint; orderId: bigint; kind: 'review' | 'challenge'; caseId: bigint | null; request: unknown; codeHash: string | null; expiresAt: Date; now: Date }): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO payment_risk_holds (id, order_id, kind, case_id, request, code_hash, expires_at, status, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,'open',$8) ON CONFLICT DO NOTHING`,
    [x.id, x.orderId, x.kind, x.caseId, JSON.stringify(x.request), x.codeHash, x.expiresAt, x.now],
  );
  return r.rowCount === 1;
}

/**
 * In one round trip, what the risk gate asks first: the order's current hold (open or cleared), and
 * whether a review of it was rejected.
 */
export async function holdsForScreen(db: Queryable, orderId: bigint): Promise<{ current: RiskHold | undefined; rejected: RiskHold | undefined }> {
  const r = await db.query(`SELECT ${HOLD_COLUMNS} FROM payment_risk_holds WHERE order_id = $1 AND (status IN ('open', 'cleared') OR (kind = 'review' AND status = 'rejected'))`, [orderId]);
  const rows = r.rows.map((x) => toHold(x as Row));
  return { current: rows.find((h) => h.status === 'open' || h.status === 'cleared'), rejected: rows.find((h) => h.status === 'rejected') };
}

export async function getHold(db: Queryable, id: bigint): Promise<RiskHold | undefined> {
  const r = await db.query(`SELECT ${HOLD_COLUMNS} FROM payment_risk_holds WHERE id = $1`, [id]);
  return r.rows[0] ? toHold(r.rows[0] as Row) : undefined;
}

export async function holdOfCase(db: Queryable, caseId: bigint): Promise<RiskHold | undefined> {
  const r = await db.query(`SELECT ${HOLD_COLUMNS} FROM payment_risk_holds WHERE case_id = $1 ORDER BY created_at DESC LIMIT 1`, [caseId]);
  return r.rows[0] ? toHold(r.rows[0] as Row) : undefined;
}

/** Uses a cleared hold (once). */
export async function useHold(db: Queryable, id: bigint, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE payment_risk_holds SET status = 'used', decided_at = $2 WHERE id = $1 AND status = 'cleared'`, [id, now]);
  return r.rowCount === 1;
}

/** Moves an open hold on (cleared, rejected, failed); `from` guards the transition. */
export async function finishHold(db: Queryable, id: bigint, status: 'cleared' | 'rejected' | 'failed', now: Date, from: 'open' | 'cleared' = 'open'): Promise<boolean> {
  const r = await db.query(`UPDATE payment_risk_holds SET status = $2, decided_at = $3 WHERE id = $1 AND status = $4`, [id, status, now, from]);
  return r.rowCount === 1;
}

/** Counts a try at an open, unexpired challenge with tries left; the try's number, or null when none may be taken. */
export async function takeHoldAttempt(db: Queryable, id: bigint, now: Date, maxTries: number): Promise<number | null> {
  const r = await db.query(`UPDATE payment_risk_holds SET attempts = attempts + 1 WHERE id = $1 AND status = 'open' AND expires_at > $2 AND attempts < $3 RETURNING attempts`, [id, now, maxTries]);
  return ((r.rows[0] as Row | undefined)?.['attempts'] as number | undefined) ?? null;
}

/**
 * The review that stops new attempts of an order: a rejected one if there is any (it stops them
 * for good), else an open one. Served by the partial index of migration 014.
 */
export async function blockingReview(db: Queryable, orderId: bigint): Promise<{ status: 'open' | 'rejected'; caseId: bigint | null } | undefined> {
  const r = await db.query(
    `SELECT status, case_id FROM payment_risk_holds WHERE order_id = $1 AND kind = 'review' AND status IN ('open', 'rejected') ORDER BY status = 'rejected' DESC LIMIT 1`,
    [orderId],
  );
  const row = r.rows[0] as Row | undefined;
  return row ? { status: row['status'] as 'open' | 'rejected', caseId: n<bigint>(row['case_id']) } : undefined;
}

/**
 * Approved review holds that nobody carried out: cleared (by resolveReview) before `before` and
 * never used, because the process stopped in between. Those that wait for the payer's own submit
 * (a PIN, bank card details) are not on the list: they are not ours to carry out.
 */
export async function strandedClearedReviews(db: Queryable, before: Date, limit: number): Promise<RiskHold[]> {
  const r = await db.query(
    `SELECT ${HOLD_COLUMNS} FROM payment_risk_holds WHERE status = 'cleared' AND kind = 'review' AND request @> '{"needs_payer": false}' AND decided_at < $1 ORDER BY decided_at LIMIT $2`,
    [before, limit],
  );
  return r.rows.map((x) => toHold(x as Row));
}

/**
 * Approved review holds taken for carrying out (`used`) before `before` whose request was never
 * carried out to its end and wrote no leg (the process died in between), on an order still waiting
 * for payment: taken again at most `maxTries` times in all.
 */
export async function strandedUsedReviews(db: Queryable, before: Date, maxTries: number, limit: number): Promise<RiskHold[]> {
  const r = await db.query(
    `SELECT ${HOLD_COLUMNS.split(', ').map((c) => `h.${c}`).join(', ')} FROM payment_risk_holds h JOIN payment_orders o ON o.id = h.order_id
      WHERE h.status = 'used' AND h.kind = 'review' AND h.carried_at IS NULL AND h.request @> '{"needs_payer": false}' AND h.decided_at < $1 AND h.attempts < $2 AND o.status = 'created'
        AND NOT EXISTS (SELECT 1 FROM payment_legs l WHERE l.order_id = h.order_id AND l.created_at >= h.decided_at)
      ORDER BY h.decided_at LIMIT $3`,
    [before, maxTries, limit],
  );
  return r.rows.map((x) => toHold(x as Row));
}

/** Takes a stranded used hold for one more try (one process wins: its count of tries is compared and raised). */
export async function retakeUsedHold(db: Queryable, id: bigint, attempts: number, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE payment_risk_holds SET decided_at = $3, attempts = attempts + 1 WHERE id = $1 AND status = 'used' AND attempts = $2`, [id, attempts, now]);
  return r.rowCount === 1;
}

/** The hold's request was carried out to its end (whatever it answered): never run again. */
export async function markHoldCarried(db: Queryable, id: bigint, now: Date): Promise<void> {
  await db.query(`UPDATE payment_risk_holds SET carried_at = $2 WHERE id = $1 AND carried_at IS NULL`, [id, now]);
}

/** Review holds still open that were opened before `before` (the recovery job's list). */
export async function openReviewHolds(db: Queryable, before: Date, limit: number): Promise<RiskHold[]> {
  const r = await db.query(`SELECT ${HOLD_COLUMNS} FROM payment_risk_holds WHERE status = 'open' AND kind = 'review' AND created_at < $1 ORDER BY created_at LIMIT $2`, [before, limit]);
  return r.rows.map((x) => toHold(x as Row));
}
