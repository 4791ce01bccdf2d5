/**
 * Paying an order through a channel: routing, one attempt (leg) per try written before the call,
 * failover to the next candidate only when the channel's answer proves no money moved, and the
 * `unknown` outcome (timeout, 5xx, unverifiable answer) left to the query job — never retried
 * blindly, never guessed. Also: SMS confirmation (quick pay), the query job, closing and expiry.
 */
import { fail, ok } from '../../kernel/errors.js';
import type { PayAction, PayMethod, PayResult } from '../channels/index.js';
import { attemptChannel, nextQueryAt, routeFor } from './channel-leg.js';
import { outTradeNo, type Ctx, type PaymentsResult } from './context.js';
import { checkMethod } from './pay-request.js';
import * as store from './payments.store.js';
import { reviewBlock, reviewRejected } from './review-block.js';
import { applyChannelFact, combinedInFlight, LIVE_LEG, reopenOrCloseIfIdle } from './settle.js';
import type { PaymentLeg, PaymentOrder } from './types.js';

export interface ChannelPayInput {
  orderId: bigint;
  method: PayMethod;
  bankCode?: string;
  bankCard?: { agreementNo?: string; cardNo?: string; holderName?: string; idNumber?: string; phone?: string; bankCode?: string };
  payerOpenId?: string;
  clientIp?: string;
}

export interface PayAnswer {
  order: PaymentOrder;
  leg: PaymentLeg | null;
  /** What the payer does next (QR code, redirect, SMS code), when the channel accepted. */
  action: PayAction | null;
  outcome: 'action_required' | 'succeeded' | 'unknown';
}

const MAX_TRIES = 3;

/** Checks that an order can still be paid now. */
export function payable(ctx: Ctx, order: PaymentOrder): PaymentsResult<void> {
  if (order.status === 'succeeded') return fail('order_already_paid', 'the order is paid');
  if (order.status === 'closed') return fail('order_closed', 'the order is closed');
  if (order.status === 'failed') return fail('order_failed', 'the order failed');
  if (ctx.clock.now().getTime() >= order.expiresAt.getTime()) return fail('order_expired', 'the order has expired');
  return ok(undefined);
}

export async function payWithChannel(ctx: Ctx, inp: ChannelPayInput): Promise<PaymentsResult<PayAnswer>> {
  const order = await store.getOrder(ctx.pool, inp.orderId);
  if (!order) return fail('order_not_found', `order ${inp.orderId} does not exist`);
  const can = payable(ctx, order);
  if (!can.ok) return can;
  const allowed = checkMethod(order, inp.method);
  if (!allowed.ok) return allowed;
  const legs = await store.legsOf(ctx.pool, order.id);
  if (combinedInFlight(legs)) return fail('payment_in_progress', 'this order is being paid by a combined payment');
  // The payer came back (reloaded the cashier): the attempt already under way is shown again.
  const same = legs.find((l) => l.status === 'pending' && l.method === inp.method && l.action !== null);
  if (same) return ok({ order, leg: same, action: same.action, outcome: 'action_required' });
  // Nothing new starts while a review holds the order or after one refused it; not even the close
  // of the attempt under way, which a refused request has no business ending.
  const blocked = await reviewBlock(ctx.pool, order.id);
  if (!blocked.ok) return blocked;
  // Switching method: an earlier attempt must be closed first, or it could still be paid as well.
  for (const l of legs.filter((x) => LIVE_LEG.includes(x.status))) {
    const closed = await closeLeg(ctx, l);
    if (closed === 'paid') return fail('order_already_paid', 'the order was paid by an earlier attempt');
    if (closed === 'unknown') return fail('payment_in_progress', 'an earlier attempt is still being resolved; try again shortly');
  }
  const tried = new Set(legs.filter((l) => l.status === 'failed' && l.failureCode?.startsWith('declined_retryable')).map((l) => l.channelAccountId!));
  const bankCode = inp.bankCode ?? inp.bankCard?.bankCode;
  const decision = await routeFor(ctx, order, inp.method, order.amount, tried, bankCode);
  if (decision.ranked.length === 0) return fail('no_channel_available', decision.trace.explanation, { route_trace: decision.trace });
  let lastDecline: PayResult | undefined;
  for (const account of decision.ranked.slice(0, MAX_TRIES)) {
    // Asked again before each attempt: the closes and the channels' answers took time, in which
    // another request may have been held for review.
    const stillFree = await reviewBlock(ctx.pool, order.id);
    if (!stillFree.ok) {
      // Earlier attempts were closed or declined above: the order is left without a live one, so
      // it is settled now (failed after a rejected review) rather than left `processing`.
      await reopenOrCloseIfIdle(ctx, ctx.pool, (await store.getOrder(ctx.pool, order.id))!, await store.legsOf(ctx.pool, order.id), ctx.clock.now());
      return stillFree;
    }
    const legId = ctx.nextId();
    const now = ctx.clock.now();
    await store.insertLegs(ctx.pool, [{ id: legId, orderId: order.id, legNo: legs.length + 1, kind: 'channel', amount: order.amount, channelAccountId: account.id, method: inp.method, outTradeNo: outTradeNo(legId), routeTrace: { ...decision.trace, chosen: account.code }, now }]);
    await store.updateOrder(ctx.pool, order.id, { status: 'processing' }, now);
    const leg = (await store.getLeg(ctx.pool, legId))!;
    const r = await attemptChannel(ctx, order, leg, account, { ...(inp.bankCard ? { bankCard: inp.bankCard } : {}), ...(inp.payerOpenId ? { payerOpenId: inp.payerOpenId } : {}), ...(inp.clientIp ? { clientIp: inp.clientIp } : {}) });
    const answer = async (outcome: PayAnswer['outcome'], action: PayAction | null) => ok({ order: (await store.getOrder(ctx.pool, order.id))!, leg: (await store.getLeg(ctx.pool, legId))!, action, outcome });
    if (r.kind === 'accepted') return answer('action_required', r.action);
    if (r.kind === 'succeeded') return answer('succeeded', null);
    if (r.kind === 'unknown') {
      await store.updateOrder(ctx.pool, order.id, { status: 'unknown' }, ctx.clock.now());
      return answer('unknown', null);
    }
    // Declined: another channel may try only if the refusal was about the channel (busy,
    // maintenance), not about the payer or the order.
    lastDecline = r;
    if (!r.retryable) break;
  }
  const fresh = (await store.getOrder(ctx.pool, order.id))!;
  await reopenOrCloseIfIdle(ctx, ctx.pool, fresh, await store.legsOf(ctx.pool, order.id), ctx.clock.now());
  const d = lastDecline?.kind === 'declined' ? lastDecline : undefined;
  return fail('channel_declined', d ? `the channel declined: ${d.message}` : 'the channel declined', { channel_code: d?.code ?? null });
}

/** Quick pay's second step: the payer's SMS code. */
export async function confirmSms(ctx: Ctx, inp: { orderId: bigint; smsCode: string }): Promise<PaymentsResult<PayAnswer>> {
  const legs = await store.legsOf(ctx.pool, inp.orderId);
  const leg = legs.find((l) => l.status === 'pending' && l.action?.type === 'sms_code');
  if (!leg) return fail('leg_not_found', 'no payment of this order is waiting for an SMS code');
  if (!/^[0-9]{4,8}$/.test(inp.smsCode)) return fail('sms_confirm_failed', 'the SMS code is 4-8 digits');
  const r = await ctx.channels.confirm(leg.channelAccountId!, { outTradeNo: leg.outTradeNo!, smsCode: inp.smsCode });
  const now = ctx.clock.now();
  if (r.kind === 'succeeded') {
    await applyChannelFact(ctx, leg.id, { status: 'succeeded', channelTradeNo: r.channelTradeNo, amountMinor: r.amountMinor, currency: r.currency, paidAt: r.paidAt }, 'confirm');
  } else if (r.kind === 'unknown') {
    await store.updateLeg(ctx.pool, leg.id, { status: 'unknown', next_query_at: nextQueryAt(ctx, 0) }, now);
  } else if (r.kind === 'declined') {
    if (!r.retryable) {
      await store.updateLeg(ctx.pool, leg.id, { status: 'failed', failure_code: `declined:${r.code}`.slice(0, 100), failure_message: r.message.slice(0, 500), next_query_at: null }, now);
      const order = (await store.getOrder(ctx.pool, inp.orderId))!;
      await reopenOrCloseIfIdle(ctx, ctx.pool, order, legs.filter((l) => l.id !== leg.id), now);
    }
    return fail('sms_confirm_failed', r.message, { channel_code: r.code, can_retry: r.retryable });
  }
  const order = (await store.getOrder(ctx.pool, inp.orderId))!;
  return ok({ order, leg: (await store.getLeg(ctx.pool, leg.id))!, action: null, outcome: r.kind === 'succeeded' ? 'succeeded' : r.kind === 'unknown' ? 'unknown' : 'action_required' });
}

/**
 * Closes one channel attempt at the channel. 'closed': it can no longer be paid; 'paid': it was
 * paid (and that was applied); 'unknown': we could not tell — try again later.
 */
export async function closeLeg(ctx: Ctx, leg: PaymentLeg): Promise<'closed' | 'paid' | 'unknown'> {
  if (leg.kind !== 'channel' || !LIVE_LEG.includes(leg.status)) return leg.status === 'succeeded' ? 'paid' : 'closed';
  const r = await ctx.channels.close(leg.channelAccountId!, leg.outTradeNo!);
  if (r.kind === 'closed' || r.kind === 'declined' || r.kind === 'already_paid' || r.kind === 'unknown') {
    // Whatever the close said, the truth is what a query says now (a "declined" close can mean
    // the trade never existed, or that it is paid — providers differ).
    const q = await ctx.channels.query(leg.channelAccountId!, leg.outTradeNo!);
    if (q.kind === 'found') {
      if (q.status === 'succeeded' || q.status === 'refunded') {
        await applyChannelFact(ctx, leg.id, { status: 'succeeded', channelTradeNo: q.channelTradeNo, amountMinor: q.amountMinor, currency: q.currency, paidAt: q.paidAt }, 'close');
        return 'paid';
      }
      if (q.status === 'pending') return r.kind === 'closed' ? markClosed(ctx, leg) : 'unknown';
      return markClosed(ctx, leg);
    }
    if (q.kind === 'not_found' && r.kind !== 'unknown') return markClosed(ctx, leg);
  }
  return 'unknown';
}

async function markClosed(ctx: Ctx, leg: PaymentLeg): Promise<'closed'> {
  await store.updateLeg(ctx.pool, leg.id, { status: 'closed', next_query_at: null }, ctx.clock.now());
  return 'closed';
}

/** Asks the channel about one attempt whose outcome we are waiting for (query job). */
export async function queryLeg(ctx: Ctx, legId: bigint): Promise<void> {
  const leg = await store.getLeg(ctx.pool, legId);
  if (!leg || leg.kind !== 'channel' || !LIVE_LEG.includes(leg.status)) return;
  const order = (await store.getOrder(ctx.pool, leg.orderId))!;
  const q = await ctx.channels.query(leg.channelAccountId!, leg.outTradeNo!);
  const now = ctx.clock.now();
  if (q.kind === 'found' && q.status !== 'pending') {
    await applyChannelFact(ctx, leg.id, { status: q.status, channelTradeNo: q.channelTradeNo, amountMinor: q.amountMinor, currency: q.currency, paidAt: q.paidAt }, 'query');
    return;
  }
  const expired = now.getTime() >= order.expiresAt.getTime();
  if (expired) {
    // Past the order's expiry the attempt is closed at the channel (or found paid meanwhile).
    const closed = await closeLeg(ctx, leg);
    if (closed !== 'unknown') {
      const fresh = (await store.getOrder(ctx.pool, order.id))!;
      await reopenOrCloseIfIdle(ctx, ctx.pool, fresh, await store.legsOf(ctx.pool, order.id), now);
      return;
    }
  }
  await store.updateLeg(ctx.pool, leg.id, { query_attempts: leg.queryAttempts + 1, next_query_at: nextQueryAt(ctx, leg.queryAttempts + 1) }, now);
}

/** Merchant close (关单), or expiry: every live attempt is closed at its channel first. */
export async function closeOrder(ctx: Ctx, orderId: bigint, reason: 'merchant' | 'expired'): Promise<PaymentsResult<PaymentOrder>> {
  const order = await store.getOrder(ctx.pool, orderId);
  if (!order) return fail('order_not_found', `order ${orderId} does not exist`);
  if (order.status === 'succeeded') return fail('order_already_paid', 'a paid order cannot be closed; refund it');
  if (order.status === 'closed' || order.status === 'failed') return ok(order);
  const legs = await store.legsOf(ctx.pool, orderId);
  if (combinedInFlight(legs)) return fail('payment_in_progress', 'a combined payment is in progress; it closes by itself when it fails or expires');
  for (const l of legs.filter((x) => LIVE_LEG.includes(x.status))) {
    const r = await closeLeg(ctx, l);
    if (r === 'paid') return fail('order_already_paid', 'the order was paid meanwhile');
    if (r === 'unknown') return fail('payment_in_progress', 'an attempt could not be closed yet; try again shortly');
  }
  const now = ctx.clock.now();
  // An order whose review was rejected ends failed, however it ends (review-block.ts).
  const end = (await reviewRejected(ctx.pool, orderId))
    ? { status: 'failed' as const, failure_code: 'risk_rejected' }
    : { status: 'closed' as const, closed_at: now, failure_code: reason === 'expired' ? 'expired' : 'closed_by_merchant' };
  await store.updateOrder(ctx.pool, orderId, end, now);
  return ok((await store.getOrder(ctx.pool, orderId))!);
}
