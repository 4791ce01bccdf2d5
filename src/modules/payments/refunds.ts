/**
 * Refunds (退款): partial and repeated, never more than was paid. A refund is split over the
 * order's paid legs by a documented policy — external channel legs first (the default: money
 * goes back the way it came from outside before internal balances are touched), or in
 * proportion to the legs (largest remainder, so the parts always sum to the refund) — and each
 * part goes back through its own instrument: the channel's refund API, the card (or the card that
 * replaced it), or the stored-value balance. The refund is reserved on the order and the legs in
 * the same transaction that records it, so two concurrent refunds can never exceed what was paid.
 *
 * Postings per part: Dr merchant payable / Cr channel receivable (or card / balance); the share of
 * the merchant fee is returned (Dr fee income / Cr merchant payable) and so is the share of the
 * channel's cost (Dr channel receivable / Cr channel cost) — WeChat Pay and Alipay return their
 * fee on refunds in proportion. Compensation refunds of a failed combined payment (no fee was ever
 * taken on a failed order) and of a payment that arrived after the order was final use the same path.
 */
import { fail, ok } from '../../kernel/errors.js';
import { businessNo } from '../../kernel/ids.js';
import { allocateLargestRemainder } from '../../kernel/money.js';
import { refundFeeShare } from '../channels/index.js';
import { availableBalance } from '../ledger/index.js';
import type { PoolClient } from '../../kernel/db.js';
import { channelAccount, feeIncomeAccount, merchantAdvanceAccount, merchantPayable, postAll, requestHash, warm, type Ctx, type PaymentsResult } from './context.js';
import { channelNotifyUrl, nextQueryAt } from './channel-leg.js';
import * as store from './payments.store.js';
import type { PaymentLeg, PaymentOrder, PaymentRefund, RefundPart } from './types.js';

export type RefundPolicy = 'channel_first' | 'proportional';

/** Splits a refund over the legs' refundable amounts. Pure. */
export function allocateRefund(legs: readonly { id: bigint; kind: string; refundable: bigint }[], amount: bigint, policy: RefundPolicy): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  const live = legs.filter((l) => l.refundable > 0n);
  if (policy === 'proportional') {
    const parts = allocateLargestRemainder(amount, live.map((l) => l.refundable));
    live.forEach((l, i) => {
      if (parts[i]! > 0n) out.set(l.id, parts[i]!);
    });
    return out;
  }
  const order = (k: string): number => (k === 'channel' ? 0 : k === 'card' ? 1 : 2);
  let left = amount;
  for (const l of [...live].sort((a, b) => order(a.kind) - order(b.kind))) {
    if (left === 0n) break;
    const take = l.refundable < left ? l.refundable : left;
    out.set(l.id, take);
    left -= take;
  }
  return out;
}

export interface RefundInput {
  orderId: bigint;
  merchantRefundNo: string;
  amountMinor: bigint;
  reason?: string;
  policy?: RefundPolicy;
}

const REFUND_NO_RE = /^[A-Za-z0-9_\-|*@]{1,64}$/;

export async function refundOrder(ctx: Ctx, inp: RefundInput): Promise<PaymentsResult<{ refund: PaymentRefund; parts: RefundPart[] }>> {
  if (!REFUND_NO_RE.test(inp.merchantRefundNo)) return fail('invalid_order', 'merchant_refund_no must be 1-64 characters of letters, digits and _-|*@');
  if (inp.amountMinor <= 0n) return fail('invalid_order', 'the refund amount must be positive');
  const order0 = await store.getOrder(ctx.pool, inp.orderId);
  if (!order0) return fail('order_not_found', `order ${inp.orderId} does not exist`);
  const hash = requestHash({ order: inp.orderId, amount: inp.amountMinor, policy: inp.policy ?? 'channel_first' });
  const prior = await store.getRefundByMerchantNo(ctx.pool, order0.merchantId, inp.merchantRefundNo);
  if (prior) return answerPrior(ctx, prior, hash);
  if (order0.status !== 'succeeded') return fail('order_not_paid', `the order is ${order0.status}; only a paid order can be refunded`);
  // The refund is paid from the merchant's payable balance (plus the fee share it gets back): a
  // merchant whose money was already settled out cannot refund more than it holds.
  if (order0.amount - order0.refundedAmount < inp.amountMinor) return fail('refund_exceeds_refundable', `at most ${order0.amount - order0.refundedAmount} can still be refunded`);
  const payable = await merchantPayable(ctx, order0.merchantId);
  if (!payable.ok) return payable;
  const [acct] = await ctx.ledger.getAccounts([payable.value]);
  const feeBack = order0.feeAmount > 0n ? refundFeeShare(order0.feeAmount, order0.amount, order0.refundedAmount, inp.amountMinor) : 0n;
  if (acct && availableBalance(acct) + feeBack < inp.amountMinor) return fail('merchant_balance_insufficient', 'the merchant\'s balance does not cover this refund');
  const created = await ctx.ledger.transaction(async (tx) => {
    const c = tx.client;
    const order = (await store.getOrder(c, inp.orderId, true))!;
    const legs = (await store.legsOf(c, order.id, true)).filter((l) => l.status === 'succeeded');
    if (order.amount - order.refundedAmount < inp.amountMinor) return fail('refund_exceeds_refundable', `at most ${order.amount - order.refundedAmount} can still be refunded`);
    const now = ctx.clock.now();
    const id = ctx.nextId();
    const refund: PaymentRefund = { id, refundNo: businessNo('R', id), orderId: order.id, merchantId: order.merchantId, merchantRefundNo: inp.merchantRefundNo, amount: inp.amountMinor, reason: inp.reason ?? '', purpose: 'merchant', status: 'processing', failureCode: null, succeededAt: null, createdAt: now, updatedAt: now };
    const saved = await store.insertRefund(c, { ...refund, requestHash: hash });
    if (!saved.inserted) return ok({ prior: saved.refund });
    if (!(await store.reserveOrderRefund(c, order.id, inp.amountMinor))) throw new Error('order refund reservation failed under lock');
    const split = allocateRefund(legs.map((l) => ({ id: l.id, kind: l.kind, refundable: l.amount - l.refundedAmount })), inp.amountMinor, inp.policy ?? 'channel_first');
    for (const [legId, amount] of split) {
      if (!(await store.reserveLegRefund(c, legId, amount))) throw new Error('leg refund reservation failed under lock');
      const partId = ctx.nextId();
      await store.insertRefundPart(c, { id: partId, refundId: id, legId, amount, outRefundNo: businessNo('RF', partId), now });
    }
    return ok({ prior: undefined });
  });
  if (!created.ok) return created;
  const refund = created.value.prior ?? (await store.getRefundByMerchantNo(ctx.pool, order0.merchantId, inp.merchantRefundNo))!;
  if (created.value.prior) return answerPrior(ctx, created.value.prior, hash);
  await driveRefund(ctx, refund.id);
  return ok({ refund: (await store.getRefund(ctx.pool, refund.id))!, parts: await store.partsOf(ctx.pool, refund.id) });
}

async function answerPrior(ctx: Ctx, prior: PaymentRefund, hash: string): Promise<PaymentsResult<{ refund: PaymentRefund; parts: RefundPart[] }>> {
  const same = await ctx.pool.query<{ request_hash: string }>('SELECT request_hash FROM payment_refunds WHERE id = $1', [prior.id]);
  if (same.rows[0]?.request_hash !== hash) return fail('refund_exists_with_different_content', 'this merchant refund number was used for a different refund', { refund_no: prior.refundNo });
  return ok({ refund: prior, parts: await store.partsOf(ctx.pool, prior.id) });
}

/**
 * A refund that gives back a leg of an order that is not the merchant's to keep: a payment that
 * arrived after the order was final, or a leg of a combined payment that failed as a whole.
 * Written in the caller's transaction; driven by the refund worker.
 */
export async function createCompensation(ctx: Ctx, c: PoolClient, order: PaymentOrder, leg: PaymentLeg, why: string): Promise<void> {
  const now = ctx.clock.now();
  const id = ctx.nextId();
  const saved = await store.insertRefund(c, { id, refundNo: businessNo('R', id), orderId: order.id, merchantId: order.merchantId, merchantRefundNo: `~comp:${leg.id}`, amount: leg.amount - leg.refundedAmount, reason: why, purpose: 'compensation', status: 'processing', failureCode: null, succeededAt: null, createdAt: now, updatedAt: now, requestHash: 'compensation' });
  if (!saved.inserted || saved.refund.amount <= 0n) return;
  await store.reserveLegRefund(c, leg.id, saved.refund.amount);
  const partId = ctx.nextId();
  await store.insertRefundPart(c, { id: partId, refundId: id, legId: leg.id, amount: saved.refund.amount, outRefundNo: businessNo('RF', partId), now });
}

/** Moves every unfinished part of a refund forward once; finishes the refund when all parts are done. */
export async function driveRefund(ctx: Ctx, refundId: bigint): Promise<void> {
  const refund = await store.getRefund(ctx.pool, refundId);
  if (!refund || refund.status !== 'processing') return;
  for (const part of await store.partsOf(ctx.pool, refundId)) {
    if (part.status === 'succeeded' || part.status === 'failed') continue;
    const leg = (await store.getLeg(ctx.pool, part.legId))!;
    await drivePart(ctx, refund, part, leg);
  }
  await finishIfDone(ctx, refundId);
}

async function drivePart(ctx: Ctx, refund: PaymentRefund, part: RefundPart, leg: PaymentLeg): Promise<void> {
  const order = (await store.getOrder(ctx.pool, refund.orderId))!;
  const now = ctx.clock.now();
  if (leg.kind === 'card') {
    if (!ctx.cards || leg.cardTxId === null) throw new Error('card refund without the cards module or the capture transaction');
    const r = await ctx.cards.refund({ idempotencyKey: `refund-part:${part.id}`, transactionId: leg.cardTxId, amountMinor: part.amount });
    if (r.ok) await partSucceeded(ctx, order, refund, part, leg, null);
    else await partFailed(ctx, part, leg, refund, `card:${r.code}`);
    return;
  }
  if (leg.kind === 'balance') {
    await warm(ctx, order);
    const r = await ctx.ledger.transaction(async (tx) => {
      const payable = await merchantPayable(ctx, order.merchantId);
      if (!payable.ok) throw new Error(payable.message);
      const t = await tx.createTransfers([{ idempotencyKey: `refund-part:${part.id}:balance`, debitAccountId: payable.value, creditAccountId: leg.ledgerAccountId!, amount: part.amount, currency: order.currency, code: 'balance_refund' }]);
      return t.ok && t.value[0]!.ok ? 'ok' : t.ok && !t.value[0]!.ok ? t.value[0]!.code : 'ledger_refused';
    });
    if (r === 'ok') await partSucceeded(ctx, order, refund, part, leg, null);
    else await partFailed(ctx, part, leg, refund, `balance:${r}`);
    return;
  }
  // A channel part: asked for once; after that only queried (the channel keys refunds by out_refund_no, so a repeat is safe too).
  if (part.status === 'created') {
    const r = await ctx.channels.refund(leg.channelAccountId!, { outTradeNo: leg.outTradeNo!, ...(leg.channelTradeNo ? { channelTradeNo: leg.channelTradeNo } : {}), outRefundNo: part.outRefundNo, refundMinor: part.amount, totalMinor: leg.amount, currency: order.currency, notifyUrl: channelNotifyUrl(ctx, leg.channelAccountId!), ...(refund.reason ? { reason: refund.reason.slice(0, 80) } : {}) });
    if (r.kind === 'declined') return partFailed(ctx, part, leg, refund, `declined:${r.code}`);
    if (r.kind === 'accepted' && r.status === 'succeeded') return partSucceeded(ctx, order, refund, part, leg, r.channelRefundNo ?? null);
    if (r.kind === 'accepted' && (r.status === 'failed' || r.status === 'closed')) return partFailed(ctx, part, leg, refund, `channel_${r.status}`);
    await store.updatePart(ctx.pool, part.id, { status: r.kind === 'accepted' ? 'processing' : 'unknown', ...(r.kind === 'accepted' && r.channelRefundNo ? { channel_refund_no: r.channelRefundNo } : {}), next_query_at: nextQueryAt(ctx, 0) }, now);
    return;
  }
  if (part.nextQueryAt && part.nextQueryAt.getTime() > now.getTime()) return;
  const q = await ctx.channels.refundQuery(leg.channelAccountId!, { outTradeNo: leg.outTradeNo!, outRefundNo: part.outRefundNo });
  if (q.kind === 'found' && q.status === 'succeeded') return partSucceeded(ctx, order, refund, part, leg, q.channelRefundNo ?? null);
  if (q.kind === 'found' && (q.status === 'failed' || q.status === 'closed')) return partFailed(ctx, part, leg, refund, `channel_${q.status}`);
  // Never heard of: the request was lost before it arrived; asking again with the same out_refund_no is safe.
  if (q.kind === 'not_found' && part.status === 'unknown') return void (await store.updatePart(ctx.pool, part.id, { status: 'created', next_query_at: now }, now));
  await store.updatePart(ctx.pool, part.id, { query_attempts: part.queryAttempts + 1, next_query_at: nextQueryAt(ctx, part.queryAttempts + 1) }, now);
}

/** A part went back: postings (with the fee shares returned) in one transaction with the record. */
export async function partSucceeded(ctx: Ctx, order: PaymentOrder, refund: PaymentRefund, part: RefundPart, leg: PaymentLeg, channelRefundNo: string | null): Promise<void> {
  await warm(ctx, order, [leg.channelAccountId]);
  const account = leg.kind === 'channel' ? await channelAccount(ctx, leg.channelAccountId!) : undefined;
  const advance = leg.kind === 'channel' ? await merchantAdvanceAccount(ctx, order.merchantId, order.currency) : undefined;
  await ctx.ledger.transaction(async (tx) => {
    const c = tx.client;
    const p = (await store.getPart(c, part.id, true))!;
    if (p.status === 'succeeded') return;
    const now = ctx.clock.now();
    if (p.status === 'failed') {
      // Declared failed earlier (its amount released), yet the channel now says it went through:
      // an operator must reconcile it; posting it now could let the order be refunded twice.
      await store.raiseAlert(c, { id: ctx.nextId(), kind: 'refund_succeeded_after_failure', severity: 'critical', orderId: order.id, legId: leg.id, details: { refund_no: refund.refundNo, out_refund_no: part.outRefundNo }, now });
      return;
    }
    const payable = await merchantPayable(ctx, order.merchantId);
    if (!payable.ok) throw new Error(payable.message);
    const refundedBefore = await store.refundedBeforeOnOrder(c, order.id, part.id);
    // The merchant fee share goes back only for merchant refunds of a paid order.
    const fee = refund.purpose === 'merchant' && order.feeAmount > 0n ? refundFeeShare(order.feeAmount, order.amount, refundedBefore, part.amount) : 0n;
    // The merchant's share of the fee comes back first, so a refund of everything the merchant was
    // paid is covered by what it received plus that share.
    const reqs = [{ idempotencyKey: `refund-part:${part.id}:fee`, debitAccountId: await feeIncomeAccount(ctx, order.currency), creditAccountId: payable.value, amount: fee, currency: order.currency, code: 'merchant_fee_returned' }];
    if (leg.kind === 'channel') {
      if (!account) throw new Error('channel leg without its account');
      const legBefore = await store.refundedBeforeOnLeg(c, leg.id, part.id);
      const cost = refundFeeShare(leg.channelCost, leg.amount, legBefore, part.amount);
      await postAll(tx, reqs.splice(0));
      // The channel has already given the money back. If the merchant's balance no longer covers it
      // (settled out between the check and now), the platform advances it: the merchant owes it
      // (Dr receivable from the merchant, 1122) and an operator is told.
      const out = await tx.createTransfers([{ idempotencyKey: `refund-part:${part.id}:out`, debitAccountId: payable.value, creditAccountId: account.receivableAccountId, amount: part.amount, currency: order.currency, code: 'channel_refund' }]);
      const o = out.ok ? out.value[0]! : undefined;
      if (!o || !o.ok) {
        if (o && !o.ok && o.code === 'insufficient_funds') {
          reqs.push({ idempotencyKey: `refund-part:${part.id}:advance`, debitAccountId: advance!, creditAccountId: account.receivableAccountId, amount: part.amount, currency: order.currency, code: 'refund_advanced' });
          await store.raiseAlert(c, { id: ctx.nextId(), kind: 'refund_advanced', severity: 'warning', orderId: order.id, legId: leg.id, details: { refund_no: refund.refundNo, amount: part.amount.toString() }, now });
        } else throw new Error(`refund posting refused: ${o && !o.ok ? o.code : out.ok ? '' : out.code}`);
      }
      reqs.push({ idempotencyKey: `refund-part:${part.id}:cost`, debitAccountId: account.receivableAccountId, creditAccountId: account.costAccountId, amount: cost, currency: order.currency, code: 'channel_cost_returned' });
    }
    await postAll(tx, reqs);
    await store.updatePart(c, part.id, { status: 'succeeded', fee_returned: fee, channel_refund_no: channelRefundNo, next_query_at: null }, now);
  });
}

async function partFailed(ctx: Ctx, part: RefundPart, leg: PaymentLeg, refund: PaymentRefund, code: string): Promise<void> {
  await ctx.ledger.transaction(async (tx) => {
    const c = tx.client;
    const p = (await store.getPart(c, part.id, true))!;
    if (p.status === 'failed' || p.status === 'succeeded') return;
    const now = ctx.clock.now();
    await store.updatePart(c, part.id, { status: 'failed', failure_code: code.slice(0, 100), next_query_at: null }, now);
    // What this part reserved is refundable again.
    await store.releaseLegRefund(c, leg.id, part.amount);
    if (refund.purpose === 'merchant') await store.releaseOrderRefund(c, refund.orderId, part.amount);
    // Money the payer must get back did not go back: an operator has to act (refund by another way).
    else await store.raiseAlert(c, { id: ctx.nextId(), kind: 'compensation_failed', severity: 'critical', orderId: refund.orderId, legId: leg.id, details: { refund_no: refund.refundNo, code }, now });
  });
}

async function finishIfDone(ctx: Ctx, refundId: bigint): Promise<void> {
  await ctx.ledger.transaction(async (tx) => {
    const c = tx.client;
    const refund = (await store.getRefund(c, refundId, true))!;
    if (refund.status !== 'processing') return;
    const parts = await store.partsOf(c, refundId);
    if (parts.some((p) => p.status !== 'succeeded' && p.status !== 'failed')) return;
    const now = ctx.clock.now();
    const failed = parts.filter((p) => p.status === 'failed');
    const status: 'succeeded' | 'failed' = failed.length === 0 ? 'succeeded' : 'failed';
    const code = failed.length === 0 ? null : failed.length === parts.length ? failed[0]!.failureCode : 'partially_refunded';
    await store.updateRefund(c, refundId, status === 'succeeded' ? { status, succeeded_at: now } : { status, failure_code: code }, now);
    if (failed.length > 0 && failed.length < parts.length) {
      await store.raiseAlert(c, { id: ctx.nextId(), kind: 'refund_partially_failed', severity: 'warning', orderId: refund.orderId, legId: null, details: { refund_no: refund.refundNo }, now });
    }
    if (refund.purpose === 'merchant') {
      const order = (await store.getOrder(c, refund.orderId))!;
      const done = { ...refund, status, failureCode: code, succeededAt: status === 'succeeded' ? now : null };
      await store.enqueueNotification(c, { id: ctx.nextId(), merchantId: refund.merchantId, orderId: refund.orderId, refundId, eventType: `refund.${status}`, url: order.notifyUrl, payload: { event: `refund.${status}`, refund: refundView(done, order) }, now });
    }
  });
}

export function refundView(r: PaymentRefund, o: PaymentOrder): Record<string, unknown> {
  return {
    refund_no: r.refundNo, merchant_refund_no: r.merchantRefundNo, order_no: o.orderNo, merchant_order_no: o.merchantOrderNo, amount: Number(r.amount),
    currency: o.currency, status: r.status, failure_code: r.failureCode, reason: r.reason, succeeded_at: r.succeededAt?.toISOString() ?? null, created_at: r.createdAt.toISOString(),
  };
}
