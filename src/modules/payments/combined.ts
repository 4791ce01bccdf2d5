/**
 * Combined payments (组合支付): one order paid by several legs — prepaid cards, a stored-value
 * balance, and at most `maxChannelLegs` external channel legs — that succeeds as a whole or not at
 * all. A saga:
 *
 *   1. every leg is recorded (`created`) before anything moves;
 *   2. internal legs are HELD: a card hold (cards.hold: pending Dr card / Cr merchant payable) or a
 *      pending ledger transfer on the balance;
 *   3. the channel leg is paid (the payer acts: QR code, SMS, ...); its outcome arrives by
 *      notification or query, as for a single payment;
 *   4. when every leg holds or is paid, the holds are captured and the order succeeds;
 *   5. when any leg fails — a refusal, the payer giving up, expiry, a hold that lapsed — every hold
 *      is released, channel legs still open are closed, and legs already paid are given back by a
 *      compensation refund (no fee: a failed order never took one). The order returns to `created`
 *      (the payer may try again another way), or is closed past its expiry.
 *
 * `driveCombined` looks at the legs as they are and takes the next step; it is idempotent (every
 * step is keyed by the leg: `leg:<id>:hold`, `:capture`, `:release`), so the recovery worker can
 * run it on any order a crash left in between and it completes or compensates.
 *
 * The `topup_then_pay` strategy turns the external part into a local transaction: the channel leg
 * tops up the payer's own stored-value balance, and the order is then paid from that balance and
 * the other legs locally. Its failure path never needs a channel refund — the money stays in the
 * payer's balance — at the price of the payer holding a balance with the platform (docs/payments.md).
 */
import { withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { Secret } from '../../kernel/secret.js';
import type { PayAction } from '../channels/index.js';
import { merchantPayable, payerBalance, postAll, warm, type Ctx, type PaymentsResult } from './context.js';
import { closeLeg, payable } from './pay.js';
import { payChannelLeg } from './channel-leg.js';
import { checkLegInstruments, checkLegShape, type LegSpec } from './pay-request.js';
import * as store from './payments.store.js';
import { checkoutWithOneCard } from './checkout.js';
import { createCompensation } from './refunds.js';
import { reviewBlock, reviewRejected } from './review-block.js';
import { completeOrder, LIVE_LEG, postOrderFee } from './settle.js';
import type { PaymentLeg, PaymentOrder } from './types.js';

export interface CombinedAnswer {
  order: PaymentOrder;
  legs: PaymentLeg[];
  action: PayAction | null;
}

export async function payCombined(ctx: Ctx, inp: { orderId: bigint; legs: LegSpec[]; order?: PaymentOrder }): Promise<PaymentsResult<CombinedAnswer>> {
  const order = inp.order?.id === inp.orderId ? inp.order : await store.getOrder(ctx.pool, inp.orderId);
  if (!order) return fail('order_not_found', `order ${inp.orderId} does not exist`);
  const can = payable(ctx, order);
  if (!can.ok) return can;
  const shape = checkLegShape(ctx, order, inp.legs);
  if (!shape.ok) return shape;
  // One card alone: the checkout fast path, which checks the order under its lock itself.
  const only = inp.legs[0]!;
  if (inp.legs.length === 1 && only.kind === 'card' && only.pin === undefined && ctx.cards) {
    const fast = await checkoutWithOneCard(ctx, order, only.cardId);
    if (fast !== 'general') return fast;
  }
  const existing = await store.legsOf(ctx.pool, order.id);
  if (existing.some((l) => LIVE_LEG.includes(l.status) || l.status === 'held')) return fail('payment_in_progress', 'a payment of this order is in progress');
  const instruments = await checkLegInstruments(ctx, order, inp.legs);
  if (!instruments.ok) return instruments;
  const ledgerOf = instruments.value;
  const now = ctx.clock.now();
  const base = existing.length;
  const rows = inp.legs.map((l, i) => ({
    id: ctx.nextId(), orderId: order.id, legNo: base + i + 1, kind: l.kind, amount: l.amountMinor,
    method: l.kind === 'channel' ? l.method : null, cardId: l.kind === 'card' ? l.cardId : null, ledgerAccountId: ledgerOf.get(i) ?? null, now,
  }));
  // Under the order's lock, so two submits of the cashier cannot both start a payment. Not
  // acknowledged by itself: any later durable commit (the consume, the capture) flushes it too.
  const started = await withTx(ctx.pool, async (c) => {
    const locked = (await store.getOrder(c, order.id, true))!;
    if (!['created', 'processing', 'unknown'].includes(locked.status)) return fail('order_already_paid' as const, `the order is ${locked.status}`);
    const live = await store.legsOf(c, order.id);
    if (live.some((l) => LIVE_LEG.includes(l.status) || l.status === 'held') || live.length !== existing.length) return fail('payment_in_progress' as const, 'a payment of this order is in progress');
    // A request screened just before another was held for review must not move money meanwhile.
    const blocked = await reviewBlock(c, order.id);
    if (!blocked.ok) return blocked;
    await store.insertLegs(c, rows);
    await store.updateOrder(c, order.id, { status: 'processing', failure_code: null }, now);
    return ok(undefined);
  }, { asyncCommit: true });
  if (!started.ok) return started.code === 'order_already_paid' ? payable(ctx, (await store.getOrder(ctx.pool, order.id))!) as PaymentsResult<never> : started;
  const pins = new Map<bigint, Secret>();
  const channelExtras = new Map<bigint, Record<string, string>>();
  inp.legs.forEach((l, i) => {
    if (l.kind === 'card' && l.pin) pins.set(rows[i]!.id, l.pin);
    if (l.kind === 'channel' && l.bankCard) channelExtras.set(rows[i]!.id, l.bankCard);
  });
  const action = await driveCombined(ctx, order.id, { pins, channelExtras });
  return ok({ order: (await store.getOrder(ctx.pool, order.id))!, legs: await store.legsOf(ctx.pool, order.id), action });
}

const busy = new Map<bigint, Promise<PayAction | null>>();

/** Takes the next steps of a combined payment; returns the payer's next action if a channel leg needs one. */
export function driveCombined(ctx: Ctx, orderId: bigint, opts: { pins?: Map<bigint, Secret>; channelExtras?: Map<bigint, Record<string, string>> } = {}): Promise<PayAction | null> {
  // One driver per order in this process; across processes every step is idempotent by its key.
  const prev = busy.get(orderId) ?? Promise.resolve(null);
  const next = prev.catch(() => null).then(() => step(ctx, orderId, opts));
  busy.set(orderId, next);
  void next.finally(() => {
    if (busy.get(orderId) === next) busy.delete(orderId);
  }).catch(() => undefined);
  return next;
}

async function step(ctx: Ctx, orderId: bigint, opts: { pins?: Map<bigint, Secret>; channelExtras?: Map<bigint, Record<string, string>> }): Promise<PayAction | null> {
  // One driver per order across processes: a lease on the order row (released at the end, or
  // lapsing after a crash). Another process driving it now finishes the step itself.
  if (!(await store.claimDriver(ctx.pool, orderId, ctx.clock.now(), DRIVER_LEASE_MS))) return null;
  try {
    return await stepLeased(ctx, orderId, opts);
  } finally {
    await store.releaseDriver(ctx.pool, orderId);
  }
}

const DRIVER_LEASE_MS = 60_000;

async function stepLeased(ctx: Ctx, orderId: bigint, opts: { pins?: Map<bigint, Secret>; channelExtras?: Map<bigint, Record<string, string>> }): Promise<PayAction | null> {
  const order = (await store.getOrder(ctx.pool, orderId))!;
  if (order.status !== 'processing' && order.status !== 'unknown') return null;
  let legs = current(await store.legsOf(ctx.pool, orderId));
  const expired = ctx.clock.now().getTime() >= order.expiresAt.getTime();
  if (!legs.some(isFailure) && legs.every((l) => l.status === 'held' || l.status === 'succeeded')) {
    // Everything is paid or held: the payer did their part, so it completes even past the expiry.
    await capture(ctx, order, legs);
    legs = current(await store.legsOf(ctx.pool, orderId));
    if (!legs.some(isFailure)) return null;
  }
  if (expired) {
    // An internal leg still `created` may have moved money just before a crash: replaying its
    // key (without a PIN; the earlier answer is returned if there was one) finds out, so the
    // compensation below releases or refunds it.
    for (const l of legs.filter((x) => x.kind !== 'channel' && x.status === 'created')) await hold(ctx, order, l, undefined, legs.length === 1, screenedCard(ctx, legs));
    legs = current(await store.legsOf(ctx.pool, orderId));
  }
  if (!legs.some(isFailure) && !expired) {
    // Hold the internal legs first.
    // A payment by one internal instrument alone needs no saga: it is paid at once (a card consume,
    // or a posted balance transfer), which is also the fast path for card-only checkouts.
    const single = legs.length === 1 && legs[0]!.kind !== 'channel';
    for (const l of legs.filter((x) => x.kind !== 'channel' && x.status === 'created')) await hold(ctx, order, l, opts.pins?.get(l.id), single, screenedCard(ctx, legs));
    legs = current(await store.legsOf(ctx.pool, orderId));
  }
  if (!legs.some(isFailure) && !expired) {
    let action: PayAction | null = null;
    for (const l of legs.filter((x) => x.kind === 'channel' && x.status === 'created')) {
      const r = await payChannelLeg(ctx, order, l, opts.channelExtras?.get(l.id));
      if (r.action) action = r.action;
    }
    legs = current(await store.legsOf(ctx.pool, orderId));
    const pendingAction = legs.find((l) => l.kind === 'channel' && l.status === 'pending')?.action ?? null;
    if (!legs.some(isFailure)) {
      if (legs.every((l) => l.status === 'held' || l.status === 'succeeded')) {
        await capture(ctx, order, legs);
        legs = current(await store.legsOf(ctx.pool, orderId));
        if (!legs.some(isFailure)) return null;
      } else {
        return action ?? pendingAction;
      }
    }
  }
  await compensate(ctx, order, legs, expired ? 'expired' : 'leg_failed');
  return null;
}

/** The legs of the latest attempt: the last ones recorded together (a new attempt starts only when no leg is live). */
function current(all: PaymentLeg[]): PaymentLeg[] {
  const last = Math.max(...all.map((l) => l.createdAt.getTime()));
  return all.filter((l) => l.createdAt.getTime() === last);
}

function isFailure(l: PaymentLeg): boolean {
  return l.status === 'failed' || l.status === 'closed' || l.status === 'cancelled';
}

/**
 * The card the cashier's risk check already covered: the first card of the attempt (risk-gate.ts).
 * Every other card is asked about by the cards module itself.
 */
function screenedCard(ctx: Ctx, legs: readonly PaymentLeg[]): bigint | null {
  if (!ctx.risk) return null;
  const cards = legs.filter((l) => l.kind === 'card').sort((a, b) => a.legNo - b.legNo);
  return cards[0]?.cardId ?? null;
}

async function hold(ctx: Ctx, order: PaymentOrder, l: PaymentLeg, pin: Secret | undefined, payNow: boolean, screened: bigint | null): Promise<void> {
  const now = ctx.clock.now();
  const timeoutSeconds = Math.max(60, Math.ceil((order.expiresAt.getTime() - now.getTime()) / 1000) + (ctx.holdGraceSeconds ?? 3600));
  if (payNow && l.kind === 'card') {
    const r = await ctx.cards!.consume({ cardId: l.cardId!, idempotencyKey: `leg:${l.id}:consume`, amountMinor: l.amount, merchantId: order.merchantId, riskScreened: l.cardId === screened, ...(pin ? { pin } : {}) });
    if (r.ok) await store.updateLeg(ctx.pool, l.id, { status: 'succeeded', card_tx_id: r.value.id, paid_at: now }, now);
    else await store.updateLeg(ctx.pool, l.id, { status: 'failed', failure_code: `card:${r.code}`.slice(0, 100), failure_message: r.message.slice(0, 500) }, now);
    return;
  }
  if (l.kind === 'card') {
    const r = await ctx.cards!.hold({ cardId: l.cardId!, idempotencyKey: `leg:${l.id}:hold`, amountMinor: l.amount, merchantId: order.merchantId, timeoutSeconds, reference: order.orderNo, riskScreened: l.cardId === screened, ...(pin ? { pin } : {}) });
    if (r.ok) await store.updateLeg(ctx.pool, l.id, { status: 'held', card_tx_id: r.value.id }, now);
    else await store.updateLeg(ctx.pool, l.id, { status: 'failed', failure_code: `card:${r.code}`.slice(0, 100), failure_message: r.message.slice(0, 500) }, now);
    return;
  }
  const payableId = await merchantPayable(ctx, order.merchantId);
  if (!payableId.ok) throw new Error(payableId.message);
  const r = await ctx.ledger.transfer({ idempotencyKey: `leg:${l.id}:hold`, kind: 'pending', debitAccountId: l.ledgerAccountId!, creditAccountId: payableId.value, amount: l.amount, currency: order.currency, timeoutSeconds, code: 'balance_hold', metadata: { order: order.orderNo } });
  if (r.ok) await store.updateLeg(ctx.pool, l.id, { status: 'held', hold_transfer_id: r.value.transfer.id }, now);
  else await store.updateLeg(ctx.pool, l.id, { status: 'failed', failure_code: `balance:${r.code}`.slice(0, 100), failure_message: r.message.slice(0, 500) }, now);
}

async function capture(ctx: Ctx, order: PaymentOrder, legs: PaymentLeg[]): Promise<void> {
  for (const l of legs.filter((x) => x.status === 'held')) {
    const now = ctx.clock.now();
    const r = l.kind === 'card'
      ? await ctx.cards!.captureHold({ holdTransactionId: l.cardTxId!, idempotencyKey: `leg:${l.id}:capture` })
      : await ctx.ledger.transfer({ idempotencyKey: `leg:${l.id}:capture`, kind: 'post_pending', pendingId: l.holdTransferId!, code: 'balance_capture' });
    if (r.ok) {
      await store.updateLeg(ctx.pool, l.id, { status: 'succeeded', paid_at: now }, now);
      continue;
    }
    // The hold cannot be taken (the card was frozen, the hold lapsed, ...): it is released now;
    // the payment as a whole then fails and is compensated.
    await store.updateLeg(ctx.pool, l.id, { failure_code: `capture:${r.code}`.slice(0, 100), failure_message: r.message.slice(0, 500) }, now);
    if (await release(ctx, l)) await store.updateLeg(ctx.pool, l.id, { status: 'cancelled' }, ctx.clock.now());
  }
  const fresh = await store.legsOf(ctx.pool, order.id);
  const mine = fresh.filter((x) => legs.some((l) => l.id === x.id));
  if (mine.some(isFailure)) return;
  await warm(ctx, order);
  // Loaded before the transaction: its callback must not wait for another pool connection.
  const payerAccount = order.strategy === 'topup_then_pay' ? await payerBalance(ctx, order) : undefined;
  // Every leg is paid: the order will succeed, so its fee can go through the batched ledger first.
  await postOrderFee(ctx, order);
  await ctx.ledger.transaction(async (tx) => {
    const o = (await store.getOrder(tx.client, order.id, true))!;
    if (o.status === 'succeeded') return;
    if (o.status === 'closed' || o.status === 'failed') {
      // Finished another way meanwhile: what was captured goes back.
      for (const l of mine.filter((x) => x.status === 'succeeded' && x.refundedAmount < x.amount)) await createCompensation(ctx, tx.client, o, l, `paid after the order was ${o.status}`);
      return;
    }
    if (o.strategy === 'topup_then_pay') {
      // The channel legs topped up the payer's balance; now the order is paid from it, locally.
      const payableId = await merchantPayable(ctx, o.merchantId);
      if (!payableId.ok) throw new Error(payableId.message);
      const balance = payerAccount!;
      await postAll(tx, mine.filter((l) => l.kind === 'channel').map((l) => ({ idempotencyKey: `leg:${l.id}:pay_from_balance`, debitAccountId: balance, creditAccountId: payableId.value, amount: l.amount, currency: o.currency, code: 'topup_payment' })));
    }
    await completeOrder(ctx, tx, o, ctx.clock.now(), true);
  });
}

/** Releases a leg's hold; true when nothing is held any more. */
async function release(ctx: Ctx, l: PaymentLeg): Promise<boolean> {
  if (l.kind === 'card') return (await ctx.cards!.releaseHold({ holdTransactionId: l.cardTxId!, idempotencyKey: `leg:${l.id}:release` })).ok;
  const r = await ctx.ledger.transfer({ idempotencyKey: `leg:${l.id}:release`, kind: 'void_pending', pendingId: l.holdTransferId!, code: 'balance_release' });
  return r.ok || r.code === 'pending_transfer_expired' || r.code === 'pending_transfer_already_voided';
}

async function compensate(ctx: Ctx, order: PaymentOrder, legs: PaymentLeg[], why: string): Promise<void> {
  let unresolved = false;
  for (const l of legs) {
    const now = ctx.clock.now();
    if (l.status === 'held') {
      if (await release(ctx, l)) await store.updateLeg(ctx.pool, l.id, { status: 'cancelled' }, now);
      else unresolved = true;
    } else if (l.status === 'created' && (l.kind !== 'channel' || l.outTradeNo === null)) {
      // Never sent anywhere (an internal leg still created was replayed by its key above).
      await store.updateLeg(ctx.pool, l.id, { status: 'cancelled' }, now);
    } else if (l.kind === 'channel' && LIVE_LEG.includes(l.status)) {
      // Possibly sent: closed at the channel (or found paid, and then given back below).
      const r = await closeLeg(ctx, l);
      if (r === 'unknown') unresolved = true;
    }
  }
  // Legs that took money (a paid channel leg, a captured hold) are given back.
  const after = await store.legsOf(ctx.pool, order.id);
  await ctx.ledger.transaction(async (tx) => {
    for (const l of after.filter((x) => legs.some((y) => y.id === x.id) && x.status === 'succeeded' && x.refundedAmount < x.amount)) {
      if (order.strategy === 'topup_then_pay' && l.kind === 'channel') continue; // the money stays in the payer's balance
      await createCompensation(ctx, tx.client, order, l, `combined payment failed: ${why}`);
    }
  });
  if (unresolved) return; // the recovery worker comes back
  const now = ctx.clock.now();
  const expired = now.getTime() >= order.expiresAt.getTime();
  // After a rejected review this attempt was the order's last chance: it is not reopened.
  const end = (await reviewRejected(ctx.pool, order.id))
    ? { status: 'failed' as const, failure_code: 'risk_rejected' }
    : expired ? { status: 'closed' as const, closed_at: now, failure_code: 'expired' } : { status: 'created' as const, failure_code: 'combined_payment_failed' };
  await store.updateOrder(ctx.pool, order.id, end, now);
}
