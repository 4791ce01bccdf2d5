/**
 * The checkout fast path: an order paid by one prepaid card. It is a local transaction, so it is
 * made as one: the order is locked and checked, the card consumed, the merchant fee posted (linked
 * to the consume: both or neither), the leg recorded, the order marked succeeded and the merchant
 * notification queued — all in the card batch's database transaction (cards' BatchParticipant),
 * shared with the other checkouts and consumes of the same millisecond. Nothing is half done after
 * a crash, so no saga and no recovery are needed; the answer is given once the commit is durable.
 *
 * Anything unusual — the order locked by someone else, already being paid, held or refused by a
 * risk review, a PIN card, a card with pending work — leaves this path before anything is written,
 * and the payment takes the general combined-payment path (hold, capture) instead.
 */
import { withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { BatchParticipant, CardTransaction, CardsResult } from '../cards/index.js';
import type { TransferRequest } from '../ledger/index.js';
import { warm, type Ctx, type PaymentsResult } from './context.js';
import { orderView } from './orders.js';
import * as store from './payments.store.js';
import { feePosting, merchantFeeOf } from './settle.js';
import type { PaymentLeg, PaymentOrder } from './types.js';

interface Item {
  order: PaymentOrder;
  legId: bigint;
  /** Set under the order's lock. */
  legNo: number;
  cardId: bigint;
  fee: bigint;
  feeTransfer: TransferRequest | null;
  /** When the batch recorded it. */
  at?: Date;
}

/** Why an item left the fast path: the general path answers it. */
type Refusal = 'general';

const participants = new WeakMap<Ctx, BatchParticipant<Item, Refusal>>();

function participant(ctx: Ctx): BatchParticipant<Item, Refusal> {
  let p = participants.get(ctx);
  if (p) return p;
  p = {
    async prepare(tx, items) {
      const locked = await store.lockCheckoutOrders(tx.client, [...new Set(items.map((i) => i.order.id))]);
      const now = ctx.clock.now().getTime();
      const seen = new Set<bigint>();
      return items.map((i) => {
        const o = locked.get(i.order.id);
        // Locked elsewhere, not payable as it stands, stopped by a risk review (the general path
        // answers why), or a second submit in this very batch.
        if (!o || o.status !== 'created' || o.live || o.reviewed || now >= o.expiresAt.getTime() || seen.has(i.order.id)) return 'general';
        seen.add(i.order.id);
        i.legNo = o.legs + 1;
        return null;
      });
    },
    extraTransfers: (i) => (i.feeTransfer ? [i.feeTransfer] : []),
    async record(tx, all) {
      // A card that does not exist is bad input: nothing is recorded for it.
      const done = all.filter((x) => x.result.ok || x.result.code !== 'card_not_found');
      const now = ctx.clock.now();
      for (const x of done) x.data.at = now;
      await store.insertDecidedCardLegs(tx.client, done.map(({ data: i, result: r }) => ({
        id: i.legId, orderId: i.order.id, legNo: i.legNo, amount: i.order.amount, cardId: i.cardId, now,
        ...(r.ok ? { status: 'succeeded' as const, cardTxId: r.value.id, failureCode: null, failureMessage: null } : { status: 'failed' as const, cardTxId: null, failureCode: `card:${r.code}`.slice(0, 100), failureMessage: r.message.slice(0, 500) }),
      })));
      const paid = done.filter((x) => x.result.ok).map((x) => x.data);
      await store.markOrdersSucceeded(tx.client, paid.map((i) => ({ id: i.order.id, fee: i.fee })), now);
      await store.markOrdersRefused(tx.client, done.filter((x) => !x.result.ok).map((x) => ({ id: x.data.order.id, failureCode: `card:${(x.result as { code: string }).code}`.slice(0, 100) })), now);
      await store.enqueueNotifications(tx.client, paid.map((i) => ({
        id: ctx.nextId(), merchantId: i.order.merchantId, orderId: i.order.id, eventType: 'payment.succeeded', url: i.order.notifyUrl,
        payload: { event: 'payment.succeeded', order: orderView(succeeded(i.order, i.fee, now)) },
      })), now);
    },
    async amend(tx, refused) {
      // Recorded as paid a moment ago in this same transaction; nobody else has seen it.
      await store.unrecordCardCheckouts(tx.client, refused.map(({ data: i, result: r }) => ({ legId: i.legId, orderId: i.order.id, failureCode: `card:${r.ok ? 'refused' : r.code}`.slice(0, 100) })), ctx.clock.now());
    },
  };
  participants.set(ctx, p);
  return p;
}

function succeeded(o: PaymentOrder, fee: bigint, now: Date): PaymentOrder {
  return { ...o, status: 'succeeded', feeAmount: fee, succeededAt: now, failureCode: null, updatedAt: now };
}

export interface CheckoutAnswer {
  order: PaymentOrder;
  legs: PaymentLeg[];
  action: null;
}

/** Pays `order` with one card in one transaction; 'general' when the general path must do it. */
export async function checkoutWithOneCard(ctx: Ctx, order: PaymentOrder, cardId: bigint): Promise<PaymentsResult<CheckoutAnswer> | 'general'> {
  if (!ctx.cards) return 'general';
  await warm(ctx, order);
  const fee = merchantFeeOf(ctx, order);
  const item: Item = { order, legId: ctx.nextId(), legNo: 0, cardId, fee, feeTransfer: fee > 0n ? await feePosting(ctx, order, fee) : null };
  const out = await ctx.cards.consumeAttached({ cardId, idempotencyKey: `leg:${item.legId}:consume`, amountMinor: order.amount, merchantId: order.merchantId, riskScreened: ctx.risk !== undefined }, participant(ctx), item);
  if (out.kind === 'unbatched' || out.kind === 'refused') return 'general';
  let r: CardsResult<CardTransaction>;
  if (out.kind === 'declined') {
    // Risk control said no before the batch: the attempt goes on record like any refused one.
    r = out.result;
    if (!r.ok && r.code === 'card_not_found') return fail('invalid_legs', `card ${cardId} does not exist`);
    const recorded = await withTx(ctx.pool, async (c) => {
      const o = (await store.lockCheckoutOrders(c, [order.id])).get(order.id);
      if (!o || o.status !== 'created' || o.live || o.reviewed) return false;
      const now = ctx.clock.now();
      await store.insertDecidedCardLegs(c, [{ id: item.legId, orderId: order.id, legNo: o.legs + 1, amount: order.amount, cardId, cardTxId: null, status: 'failed', failureCode: `card:${r.ok ? '' : r.code}`.slice(0, 100), failureMessage: r.ok ? null : r.message.slice(0, 500), now }]);
      await store.markOrdersRefused(c, [{ id: order.id, failureCode: `card:${r.ok ? '' : r.code}`.slice(0, 100) }], now);
      return true;
    });
    if (!recorded) return 'general';
  } else r = out.result;
  if (!r.ok && r.code === 'card_not_found') return fail('invalid_legs', `card ${cardId} does not exist`);
  if (!r.ok) return fail('card_leg_failed', r.message, { card_code: r.code });
  const now = item.at ?? r.value.createdAt;
  const leg: PaymentLeg = {
    id: item.legId, orderId: order.id, legNo: item.legNo, kind: 'card', amount: order.amount, status: 'succeeded', channelAccountId: null, method: null, outTradeNo: null,
    channelTradeNo: null, action: null, routeTrace: null, feeAmount: 0n, channelCost: 0n, cardId, cardTxId: r.value.id, ledgerAccountId: null,
    holdTransferId: null, refundedAmount: 0n, failureCode: null, failureMessage: null, queryAttempts: 0, nextQueryAt: null, paidAt: now, createdAt: now, updatedAt: now,
  };
  return ok({ order: succeeded(order, fee, now), legs: [leg], action: null });
}
