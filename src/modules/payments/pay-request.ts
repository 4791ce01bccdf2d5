/**
 * The checks of a pay request that need no lock, in one place: payCombined and payWithChannel make
 * them before they write anything, and the risk gate makes them before it holds a request (the
 * shape before it asks the risk engine, the instruments before it opens a case or sends a
 * challenge) — a request that could never be carried out must not hold the order for review.
 */
import { fail, ok } from '../../kernel/errors.js';
import type { Secret } from '../../kernel/secret.js';
import { PAY_METHODS, type PayMethod } from '../channels/index.js';
import type { Ctx, PaymentsResult } from './context.js';
import type { HeldRequest } from './risk-gate.js';
import type { PaymentOrder } from './types.js';

export type LegSpec =
  | { kind: 'card'; cardId: bigint; amountMinor: bigint; pin?: Secret }
  | { kind: 'balance'; businessAccountId: bigint; amountMinor: bigint }
  | { kind: 'channel'; method: PayMethod; amountMinor: bigint; bankCard?: Record<string, string> };

export const MAX_LEGS = 5;

/** A single channel payment: a method the order offers, on an order that is not paid with legs. */
export function checkMethod(order: PaymentOrder, method: string): PaymentsResult<void> {
  if (!(PAY_METHODS as readonly string[]).includes(method) || !order.methods.includes(method)) return fail('method_not_allowed', `this order can be paid by ${order.methods.join(', ')}`);
  if (order.strategy === 'topup_then_pay') return fail('method_not_allowed', 'a topup_then_pay order is paid with legs (its channel part tops up the payer\'s balance)');
  return ok(undefined);
}

/**
 * The shape of a combined payment, from the request alone: how many legs, amounts that add up to
 * the order, methods the order offers, no card twice, and what the order's strategy and currency
 * allow. No lookups, so the one-card checkout fast path can run right after it.
 */
export function checkLegShape(ctx: Ctx, order: PaymentOrder, legs: readonly LegSpec[]): PaymentsResult<void> {
  const bad = (m: string) => fail('invalid_legs' as const, m);
  if (legs.length < 1 || legs.length > MAX_LEGS) return bad(`a combined payment has 1-${MAX_LEGS} legs`);
  if (legs.some((l) => l.amountMinor <= 0n)) return bad('every leg needs a positive amount');
  const sum = legs.reduce((s, l) => s + l.amountMinor, 0n);
  if (sum !== order.amount) return bad(`the legs add up to ${sum}, the order is ${order.amount}`);
  const channelLegs = legs.filter((l) => l.kind === 'channel');
  if (channelLegs.length > (ctx.maxChannelLegs ?? 1)) return bad(`at most ${ctx.maxChannelLegs ?? 1} channel leg(s) per payment`);
  for (const l of legs) {
    const m = l.kind === 'channel' ? l.method : l.kind;
    if (!order.methods.includes(m) || (l.kind === 'channel' && !PAY_METHODS.includes(l.method))) return fail('method_not_allowed', `this order can be paid by ${order.methods.join(', ')}`);
  }
  const cards = legs.flatMap((l) => (l.kind === 'card' ? [l.cardId] : []));
  if (new Set(cards).size !== cards.length) return bad('a card appears twice');
  if (order.strategy === 'topup_then_pay' && channelLegs.length === 0) return bad('topup_then_pay needs a channel leg (it tops up the balance)');
  // Prepaid cards hold renminbi: a card pays only a CNY order (its fen are the order's minor units).
  if (order.currency !== 'CNY' && cards.length > 0) return bad(`a card pays CNY orders only; this order is in ${order.currency}`);
  return ok(undefined);
}

/**
 * The instruments a combined payment names: balance legs must be the payer's own balance accounts
 * in the order's currency, and cards must exist. Answers the ledger account of each balance leg,
 * by the leg's index.
 */
export async function checkLegInstruments(ctx: Ctx, order: PaymentOrder, legs: readonly LegSpec[]): Promise<PaymentsResult<Map<number, bigint>>> {
  const bad = (m: string) => fail('invalid_legs' as const, m);
  const ledgerOf = new Map<number, bigint>();
  for (const [i, l] of legs.entries()) {
    if (l.kind !== 'balance') continue;
    if (order.payerCustomerId === null) return bad('balance legs need an order with payer_customer_id');
    const a = await ctx.parties.getAccount({ customerId: order.payerCustomerId, accountId: l.businessAccountId });
    if (!a.ok || a.value.account.kind !== 'balance' || a.value.account.currency !== order.currency) return bad(`business account ${l.businessAccountId} is not a ${order.currency} balance of the payer`);
    ledgerOf.set(i, a.value.account.ledgerAccountId);
  }
  if (!ctx.cards && legs.some((l) => l.kind === 'card')) return bad('cards are not enabled on this server');
  for (const l of legs) {
    if (l.kind === 'card' && !(await ctx.cards!.getCard(l.cardId)).ok) return bad(`card ${l.cardId} does not exist`);
  }
  return ok(ledgerOf);
}

/** The checks of a request that need no lookup: its legs' shape, or its method. */
export function checkPayShape(ctx: Ctx, order: PaymentOrder, req: HeldRequest): PaymentsResult<void> {
  if (req.legs) return checkLegShape(ctx, order, legSpecsOf(req));
  // The routes refuse a request without either before it gets here.
  if (req.method === undefined) return fail('invalid_legs', 'give method, or legs for a combined payment');
  return checkMethod(order, req.method);
}


/** The legs of a request in its stored form (without PINs or bank card details). */
export function legSpecsOf(req: HeldRequest): LegSpec[] {
  return (req.legs ?? []).map((l): LegSpec => {
    if (l.kind === 'card') return { kind: 'card', cardId: BigInt(l.card_id!), amountMinor: BigInt(l.amount) };
    if (l.kind === 'balance') return { kind: 'balance', businessAccountId: BigInt(l.account_id!), amountMinor: BigInt(l.amount) };
    return { kind: 'channel', method: l.method as PayMethod, amountMinor: BigInt(l.amount) };
  });
}
