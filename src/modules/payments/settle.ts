/**
 * Applying what a channel says about a trade. Only verified facts reach this file — a signed
 * notification or a query answer, never the payer's browser — and each is applied in ONE database
 * transaction with its ledger postings and the merchant notification (outbox): the order's state,
 * the money and the promise to tell the merchant change together or not at all.
 */
import type { Queryable } from '../../kernel/db.js';
import { channelFee, type ChannelAccountRow } from '../channels/index.js';
import type { LedgerTx } from '../ledger/index.js';
import type { TradeStatus } from '../channels/adapter.js';
import { alert, channelAccount, feeIncomeAccount, merchantPayable, payerBalance, postAll, warm, type Ctx } from './context.js';
import { orderView } from './orders.js';
import { createCompensation } from './refunds.js';
import * as store from './payments.store.js';
import { reviewRejected } from './review-block.js';
import type { PaymentLeg, PaymentOrder } from './types.js';

export interface TradeFact {
  status: TradeStatus;
  channelTradeNo?: string | undefined;
  amountMinor: bigint;
  currency: string;
  paidAt?: Date | undefined;
}

export type Applied = 'applied' | 'duplicate' | 'mismatch' | 'ignored';

const DEFAULT_MERCHANT_FEE = { bps: 60, fixedMinor: 0n, minMinor: 0n, maxMinor: null };

/** Legs that may still take money. */
export const LIVE_LEG: readonly string[] = ['created', 'pending', 'unknown'];

/** Whether a leg belongs to a combined payment (its attempt, recorded together, has an internal leg). */
export function isCombinedLeg(legs: readonly PaymentLeg[], leg: PaymentLeg): boolean {
  return legs.some((l) => l.kind !== 'channel' && l.createdAt.getTime() === leg.createdAt.getTime());
}

/** Whether a combined payment of the order is still under way (an earlier one that failed does not count). */
export function combinedInFlight(legs: readonly PaymentLeg[]): boolean {
  return legs.some((l) => (l.kind !== 'channel' && (l.status === 'created' || l.status === 'held')) || (l.kind === 'channel' && LIVE_LEG.includes(l.status) && isCombinedLeg(legs, l)));
}

export async function applyChannelFact(ctx: Ctx, legId: bigint, fact: TradeFact, source: string): Promise<{ applied: Applied; orderId: bigint; combined: boolean }> {
  const pre = await store.getLeg(ctx.pool, legId);
  const preOrder = pre ? await store.getOrder(ctx.pool, pre.orderId) : undefined;
  // Everything the postings need is loaded before the transaction: a callback must not wait for
  // a second pool connection (see Ledger.transaction).
  let loaded: Loaded | undefined;
  if (pre && preOrder && pre.channelAccountId !== null) {
    await warm(ctx, preOrder);
    const credit = preOrder.strategy === 'topup_then_pay' ? await payerBalance(ctx, preOrder) : await merchantPayable(ctx, preOrder.merchantId);
    if (typeof credit !== 'bigint' && !credit.ok) throw new Error(credit.message);
    loaded = { account: await channelAccount(ctx, pre.channelAccountId), credit: typeof credit === 'bigint' ? credit : credit.value };
  }
  return ctx.ledger.transaction(async (tx) => {
    const c = tx.client;
    const leg0 = await store.getLeg(c, legId);
    if (!leg0) return { applied: 'ignored' as const, orderId: 0n, combined: false };
    const order = (await store.getOrder(c, leg0.orderId, true))!;
    const legs = await store.legsOf(c, order.id, true);
    const leg = legs.find((l) => l.id === legId)!;
    // topup_then_pay orders complete through the combined path (it moves the topped-up money on).
    const combined = isCombinedLeg(legs, leg) || order.strategy === 'topup_then_pay';
    const now = ctx.clock.now();
    if (fact.status === 'succeeded' || fact.status === 'refunded') {
      if (fact.amountMinor !== leg.amount || fact.currency !== order.currency) {
        // A paid trade whose amount does not match what we asked for: forged, or broken. Nothing
        // changes; an operator looks at it.
        await alert(ctx, c, 'amount_mismatch', 'critical', order.id, leg.id, { source, expected: leg.amount.toString(), reported: fact.amountMinor.toString(), currency: fact.currency, channel_trade_no: fact.channelTradeNo ?? null });
        return { applied: 'mismatch' as const, orderId: order.id, combined };
      }
      if (leg.status === 'succeeded') return { applied: 'duplicate' as const, orderId: order.id, combined };
      if (!loaded) throw new Error(`leg ${leg.id} has no channel account`);
      await markLegPaid(ctx, tx, order, leg, fact, loaded);
      const others = legs.filter((l) => l.id !== leg.id);
      const attemptFailed = combined && legs.some((l) => l.createdAt.getTime() === leg.createdAt.getTime() && ['failed', 'closed', 'cancelled'].includes(l.status));
      if (order.status === 'succeeded' || order.status === 'closed' || order.status === 'failed' || attemptFailed || (!combined && others.some((l) => l.status === 'succeeded'))) {
        // Money arrived for an order that is already final, or for a combined payment that had
        // already failed (a late payment, or a second attempt paid too): it is not the merchant's.
        // It goes back to the payer — by a refund, or, for topup_then_pay, it simply stays in the
        // payer's balance where this payment put it.
        await alert(ctx, c, 'payment_after_final', 'warning', order.id, leg.id, { source, order_status: order.status, attempt_failed: attemptFailed });
        if (order.strategy !== 'topup_then_pay') await createCompensation(ctx, c, order, { ...leg, status: 'succeeded' }, 'paid after the payment was over');
        return { applied: 'applied' as const, orderId: order.id, combined: false };
      }
      if (!combined) await completeOrder(ctx, tx, order, now);
      return { applied: 'applied' as const, orderId: order.id, combined };
    }
    if (fact.status === 'closed' || fact.status === 'failed') {
      if (!LIVE_LEG.includes(leg.status)) return { applied: 'duplicate' as const, orderId: order.id, combined };
      await store.updateLeg(c, leg.id, { status: fact.status === 'closed' ? 'closed' : 'failed', failure_code: fact.status === 'failed' ? 'payer_failed' : 'trade_closed', next_query_at: null }, now);
      if (!combined) await reopenOrCloseIfIdle(ctx, c, order, legs.filter((l) => l.id !== leg.id), now);
      return { applied: 'applied' as const, orderId: order.id, combined };
    }
    return { applied: 'ignored' as const, orderId: order.id, combined };
  });
}

/** A channel leg was paid: its record and its postings (Dr channel receivable / Cr merchant payable; channel cost). */
interface Loaded {
  account: ChannelAccountRow;
  /** The account the payment is credited to: the merchant's payable, or (topup_then_pay) the payer's balance. */
  credit: bigint;
}

export async function markLegPaid(ctx: Ctx, tx: LedgerTx, order: PaymentOrder, leg: PaymentLeg, fact: TradeFact, loaded: Loaded): Promise<void> {
  const now = ctx.clock.now();
  const account = { value: loaded.account };
  const payable = { value: loaded.credit };
  const cost = channelFee(account.value.fee, leg.amount);
  await store.updateLeg(tx.client, leg.id, { status: 'succeeded', channel_trade_no: fact.channelTradeNo ?? leg.channelTradeNo, paid_at: fact.paidAt ?? now, channel_cost: cost, next_query_at: null, failure_code: null }, now);
  await postAll(tx, [
    { idempotencyKey: `pay:${leg.id}:in`, debitAccountId: account.value.receivableAccountId, creditAccountId: payable.value, amount: leg.amount, currency: order.currency, code: 'channel_payment', metadata: { order: order.orderNo, leg: leg.id.toString() }, linked: cost > 0n },
    { idempotencyKey: `pay:${leg.id}:cost`, debitAccountId: account.value.costAccountId, creditAccountId: account.value.receivableAccountId, amount: cost, currency: order.currency, code: 'channel_cost', metadata: { order: order.orderNo, leg: leg.id.toString() } },
  ]);
}

/** The merchant fee of an order (posted as fee income when it succeeds). */
export function merchantFeeOf(ctx: Ctx, order: PaymentOrder): bigint {
  return channelFee(ctx.merchantFee ?? DEFAULT_MERCHANT_FEE, order.amount);
}

export async function feePosting(ctx: Ctx, order: PaymentOrder, fee: bigint) {
  const payable = await merchantPayable(ctx, order.merchantId);
  if (!payable.ok) throw new Error(payable.message);
  return { idempotencyKey: `order:${order.id}:fee`, debitAccountId: payable.value, creditAccountId: await feeIncomeAccount(ctx, order.currency), amount: fee, currency: order.currency, code: 'merchant_fee', metadata: { order: order.orderNo } };
}

/**
 * Posts an order's merchant fee through the batched ledger, ahead of the transaction that records
 * the order's success — for callers that already know the order will succeed (every leg is paid).
 * The merchant's payable account is the hottest account there is; posting in batches keeps it from
 * serialising every checkout. Idempotent by the order: a repeat after a crash posts nothing more.
 */
export async function postOrderFee(ctx: Ctx, order: PaymentOrder): Promise<bigint> {
  const fee = merchantFeeOf(ctx, order);
  if (fee === 0n) return fee;
  const r = await ctx.ledger.createTransfers([await feePosting(ctx, order, fee)]);
  if (!r.ok) throw new Error(`fee posting refused: ${r.code}`);
  const o = r.value[0]!;
  if (!o.ok) throw new Error(`fee posting refused: ${o.code} ${o.message}`);
  return fee;
}

/** The order succeeded: the merchant fee is taken (unless already posted) and the merchant will be told. */
export async function completeOrder(ctx: Ctx, tx: LedgerTx, order: PaymentOrder, now: Date, feeAlreadyPosted = false): Promise<void> {
  const fee = merchantFeeOf(ctx, order);
  // Two paths may finish one order (the checkout and the recovery job): only the one whose update
  // applies tells the merchant and takes the fee.
  if (!(await store.updateOrder(tx.client, order.id, { status: 'succeeded', fee_amount: fee, succeeded_at: now, failure_code: null }, now))) return;
  const done = { ...order, status: 'succeeded' as const, feeAmount: fee, succeededAt: now };
  await store.enqueueNotification(tx.client, { id: ctx.nextId(), merchantId: order.merchantId, orderId: order.id, refundId: null, eventType: 'payment.succeeded', url: order.notifyUrl, payload: { event: 'payment.succeeded', order: orderView(done) }, now });
  // Postings last: the accounts they lock stay locked until the commit, so as briefly as possible.
  if (!feeAlreadyPosted) await postAll(tx, [await feePosting(ctx, order, fee)]);
}

/**
 * When no leg of an order can take money any more, the order goes back to `created` (the payer
 * may try another way) or, past its expiry, is closed — unless a risk review of it was rejected
 * meanwhile: then the attempt that just ended was its last, and the order fails (`risk_rejected`).
 */
export async function reopenOrCloseIfIdle(ctx: Ctx, c: Queryable, order: PaymentOrder, otherLegs: readonly PaymentLeg[], now: Date): Promise<void> {
  if (order.status === 'succeeded' || order.status === 'closed' || order.status === 'failed') return;
  if (otherLegs.some((l) => LIVE_LEG.includes(l.status) || l.status === 'held' || l.status === 'succeeded')) return;
  if (await reviewRejected(c, order.id)) await store.updateOrder(c, order.id, { status: 'failed', failure_code: 'risk_rejected' }, now);
  else if (now.getTime() >= order.expiresAt.getTime()) await store.updateOrder(c, order.id, { status: 'closed', closed_at: now }, now);
  else await store.updateOrder(c, order.id, { status: 'created' }, now);
}
