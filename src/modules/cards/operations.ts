/** Online card transactions (联机): sale with initial load, recharge, consume, void (撤销) and refund. */
import type { AttachedOutcome, BatchParticipant } from './consume-batcher.js';
import type { PoolClient } from '../../kernel/db.js';
import { businessDate } from '../../kernel/clock.js';
import { fail, ok } from '../../kernel/errors.js';
import { allocateLargestRemainder, MAX_AMOUNT_MINOR } from '../../kernel/money.js';
import type { Secret } from '../../kernel/secret.js';
import { availableBalance, postedBalance } from '../ledger/index.js';
import * as store from './cards.store.js';
import { cachedAcceptance, cachedPayee, cachedProduct, requestHash, systemAccount, type CardsResult, type Ctx } from './context.js';
import { canCredit, canDebit, isTerminated, type CardState } from './domain/lifecycle.js';
import { pinAttemptDecision, verifyPin } from './domain/pin.js';
import { addCalendarMonths, checkBalanceLimit, checkPurchase, checkRecharge, checkValidity, type BuyerKind, type PaymentMethod } from './domain/policy.js';
import { execute, type Intent, type KindHooks } from './execute.js';
import { legTransferId, type Leg } from './money.js';
import { policyFor } from './products.js';
import type { Card, CardProduct, CardTransaction, CardTxKind } from './types.js';

const amountOk = (a: bigint): boolean => a > 0n && a <= MAX_AMOUNT_MINOR;

async function productOf(ctx: Ctx, card: Card): Promise<CardProduct> {
  return (await cachedProduct(ctx, card.productId))!;
}

/** Why a card cannot take money out, in the holder's terms. */
export function notUsable(card: Card, now: Date): CardsResult<never> | undefined {
  if (isTerminated(card.status as CardState)) return fail('card_terminated', `the card is ${card.status}`);
  if (card.validUntil && card.validUntil.getTime() <= now.getTime()) return fail('card_expired', 'the card has expired; it can be re-activated or replaced');
  if (!canDebit(card.status as CardState)) return fail('card_not_active', `the card is ${card.status}`);
  return undefined;
}

async function balances(ctx: Ctx, card: Card): Promise<{ principal: bigint; bonus: bigint; onHold: bigint; heldFunds: bigint }> {
  const [p, b, u] = await ctx.ledger.getAccounts([card.principalAccountId, card.bonusAccountId, card.purseAccountId]);
  if (!p || !b || !u) throw new Error(`card ${card.id} ledger accounts are missing`);
  // The holder's funds the balance limit applies to: principal and the offline purse (both are
  // prepaid money, as in the outstanding report); promotional bonus is not.
  const heldFunds = postedBalance(p) + p.creditsPending + postedBalance(u) + u.creditsPending;
  // Available balances leave out money held for captures (pending debits), so nothing can spend it twice.
  return { principal: availableBalance(p), bonus: availableBalance(b), onHold: p.debitsPending + b.debitsPending, heldFunds };
}

const leg = (name: string, debit: bigint, credit: bigint, amount: bigint, code: string, reversesId?: bigint): Leg => ({ leg: name, debitAccountId: debit, creditAccountId: credit, amount, code, ...(reversesId !== undefined ? { reversesId } : {}) });

async function sys(ctx: Ctx, which: Parameters<typeof systemAccount>[1]): Promise<bigint> {
  const r = await systemAccount(ctx, which, 'CNY');
  if (!r.ok) throw new Error(`system account ${which}: ${r.message}`);
  return r.value;
}

// ---- sale -------------------------------------------------------------------------------------

export interface SellInput {
  cardId: bigint;
  idempotencyKey: string;
  amountMinor: bigint;
  paymentMethod: PaymentMethod;
  buyerKind: BuyerKind;
  buyerRealName: boolean;
  holderCustomerId?: bigint;
  /** The whole purchase's total when this card is one of several bought together (policy thresholds apply to the purchase). */
  purchaseTotalMinor?: bigint;
}

export const hooks: Partial<Record<CardTxKind, KindHooks>> = {
  load: {
    // Activation of a sold card: its state and sale facts change only once the money moved.
    effects: async (c, card, tx) => {
      const f = (tx.metadata['facts'] ?? {}) as Record<string, string | null>;
      await store.updateCard(c, card.id, {
        status: 'active',
        sold_at: tx.createdAt,
        sale_id: tx.id,
        holder_customer_id: f['holder'] ? BigInt(f['holder']) : null,
        valid_until: f['valid_until'] ? new Date(f['valid_until']) : null,
      }, tx.createdAt);
      await store.insertEvent(c, { id: BigInt(f['event_id']!), cardId: card.id, event: 'sell_activate', from: 'in_stock', to: 'active', reason: 'sold', actor: f['actor'] ?? '', now: tx.createdAt });
    },
  },
  void: {
    unreserve: async (c, tx) => {
      await c.query('UPDATE card_transactions SET voided = false WHERE id = $1', [tx.relatedId]);
    },
  },
  refund: {
    unreserve: async (c, tx) => {
      await store.addRefunded(c, tx.relatedId!, -tx.amount);
    },
  },
};

export async function sell(ctx: Ctx, inp: SellInput & { actor?: string }): Promise<CardsResult<CardTransaction>> {
  const hash = requestHash({ op: 'sell', ...inp, actor: undefined });
  return execute(ctx, hooks, {
    cardId: inp.cardId, key: inp.idempotencyKey, hash, currency: 'CNY',
    plan: async (c, card) => {
      if (card.status !== 'in_stock') return fail('card_not_in_stock', `the card is ${card.status}, not in stock`);
      if (card.replacedFrom !== null) return fail('card_not_in_stock', 'the card is reserved as the replacement of another card');
      if (!amountOk(inp.amountMinor)) return fail('invalid_amount', 'the initial load must be a positive amount');
      const p = await productOf(ctx, card);
      if (p.status !== 'active') return fail('product_suspended', 'the product is suspended');
      if (p.named && inp.holderCustomerId === undefined) return fail('holder_required', 'a named card needs its holder (a customer with real-name data)');
      if (inp.holderCustomerId !== undefined) {
        // A named card's holder is a verified person or organization (记名: real-name data on file).
        const holder = await ctx.parties.getCustomer({ id: inp.holderCustomerId });
        if (!holder.ok) return fail('holder_not_found', `customer ${inp.holderCustomerId} does not exist`);
        if (holder.value.realNameLevel < 2 || holder.value.status !== 'active') return fail('holder_not_verified', 'the holder needs verified real-name data (level 2) and an active status');
      }
      const policy = policyFor(p);
      const now = ctx.clock.now();
      const limit = checkBalanceLimit(policy, { named: p.named, balanceAfterMinor: inp.amountMinor });
      if (!limit.ok) return limit;
      const purchase = checkPurchase(policy, { buyerKind: inp.buyerKind, named: p.named, totalMinor: inp.purchaseTotalMinor ?? inp.amountMinor + p.issuanceFee, paymentMethod: inp.paymentMethod, buyerRealName: inp.buyerRealName });
      if (!purchase.ok) return purchase;
      const validUntil = p.validityMonths === null ? null : new Date(`${addCalendarMonths(businessDate(now, ctx.businessTimeZone), p.validityMonths)}T16:00:00Z`);
      const validity = checkValidity(policy, { named: p.named, validUntil, issuedAt: now, timeZone: ctx.businessTimeZone });
      if (!validity.ok) return validity;
      const funding = await sys(ctx, `funding:${inp.paymentMethod}`);
      const intent: Intent = {
        kind: 'load', amount: inp.amountMinor, principalAmount: inp.amountMinor, feeAmount: p.issuanceFee,
        paymentMethod: inp.paymentMethod, policyVersion: policy.version,
        legs: [leg('load', funding, card.principalAccountId, inp.amountMinor, 'card_sale_load'), leg('fee', funding, await sys(ctx, 'fee_income'), p.issuanceFee, 'card_issuance_fee')],
        facts: { holder: inp.holderCustomerId?.toString() ?? null, valid_until: validUntil?.toISOString() ?? null, event_id: ctx.nextId().toString(), actor: inp.actor ?? '', buyer_kind: inp.buyerKind },
      };
      return ok(intent);
    },
  });
}

// ---- recharge ---------------------------------------------------------------------------------

export async function recharge(ctx: Ctx, inp: { cardId: bigint; idempotencyKey: string; amountMinor: bigint; paymentMethod: PaymentMethod }): Promise<CardsResult<CardTransaction>> {
  return execute(ctx, hooks, {
    cardId: inp.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'recharge', ...inp }), currency: 'CNY',
    plan: async (c, card) => {
      if (!amountOk(inp.amountMinor)) return fail('invalid_amount', 'the recharge must be a positive amount');
      const now = ctx.clock.now();
      if (isTerminated(card.status as CardState)) return fail('card_terminated', `the card is ${card.status}`);
      if (card.validUntil && card.validUntil.getTime() <= now.getTime()) return fail('card_expired', 'the card has expired');
      if (!canCredit(card.status as CardState, 'recharge')) return fail('card_not_active', `the card is ${card.status}`);
      const p = await productOf(ctx, card);
      if (!p.rechargeable) return fail('card_not_rechargeable', 'this product cannot be recharged');
      const policy = policyFor(p);
      const funding = checkRecharge(policy, { amountMinor: inp.amountMinor, paymentMethod: inp.paymentMethod });
      if (!funding.ok) return funding;
      const b = await balances(ctx, card);
      const limit = checkBalanceLimit(policy, { named: p.named, balanceAfterMinor: b.heldFunds + inp.amountMinor });
      if (!limit.ok) return limit;
      const rule = [...p.bonusRules].reverse().find((r) => r.minRechargeMinor <= inp.amountMinor);
      const bonus = rule?.bonusMinor ?? 0n;
      const bonusExpiresAt = bonus > 0n && rule?.validDays !== undefined ? new Date(now.getTime() + rule.validDays * 86_400_000) : null;
      return ok({
        kind: 'recharge', amount: inp.amountMinor, principalAmount: inp.amountMinor, bonusAmount: bonus, bonusExpiresAt, paymentMethod: inp.paymentMethod, policyVersion: policy.version,
        legs: [
          leg('load', await sys(ctx, `funding:${inp.paymentMethod}`), card.principalAccountId, inp.amountMinor, 'card_recharge'),
          leg('bonus', await sys(ctx, 'promotion_expense'), card.bonusAccountId, bonus, 'card_bonus_grant'),
        ],
      });
    },
  });
}

// ---- consume ----------------------------------------------------------------------------------

export interface ConsumeInput {
  cardId: bigint;
  idempotencyKey: string;
  amountMinor: bigint;
  merchantId: bigint;
  terminalId?: string;
  pin?: Secret;
  /** The caller asked the risk engine about this payment already (the cashier): not asked again. */
  riskScreened?: boolean;
}

/** Checks the PIN when the card has one, counting failures and locking after too many. */
async function checkPin(ctx: Ctx, c: PoolClient, card: Card, pin: Secret | undefined): Promise<CardsResult<void>> {
  if (!card.hasPin) return ok(undefined);
  const now = ctx.clock.now();
  const d = pinAttemptDecision({ failedAttempts: card.pinFailedAttempts, lockedUntil: card.pinLockedUntil, now });
  if (!d.allowed) return fail('pin_locked', 'too many wrong PINs; the card is locked for a while', { locked_until: d.lockedUntil.toISOString() });
  if (pin === undefined) return fail('pin_required', 'this card needs its PIN');
  const good = await verifyPin(pin, (await store.pinHashOf(c, card.id))!);
  const next = good ? d.onSuccess : d.onFailure;
  if (next.failedAttempts !== card.pinFailedAttempts || next.lockedUntil?.getTime() !== card.pinLockedUntil?.getTime()) {
    await store.updateCard(c, card.id, { pin_failed_attempts: next.failedAttempts, pin_locked_until: next.lockedUntil }, now);
  }
  if (!good) return fail('pin_incorrect', 'the PIN is wrong', { remaining_attempts: d.onFailure.remainingAttempts });
  return ok(undefined);
}

/**
 * Asks the risk engine about a payment (consume or hold). It is asked before the card is locked: it
 * may be a network call, and no card lock or connection should be held while it answers.
 */
export async function askRisk(ctx: Ctx, inp: { idempotencyKey: string; cardId: bigint; merchantId: bigint; amountMinor: bigint; terminalId?: string; riskScreened?: boolean }): Promise<CardsResult<void>> {
  if (!ctx.authorize || inp.riskScreened) return ok(undefined);
  const card = await store.getCard(ctx.pool, inp.cardId);
  if (!card) return fail('card_not_found', `card ${inp.cardId} does not exist`);
  const decision = await ctx.authorize({ idempotencyKey: inp.idempotencyKey, cardId: card.id, productId: card.productId, merchantId: inp.merchantId, amountMinor: inp.amountMinor, terminalId: inp.terminalId ?? null });
  if (decision === 'accept') return ok(undefined);
  // A retry of a key that was already decided gets its stored answer (or its conflict), not a new
  // decline: the engine's features now include the first attempt, so asking again is not the same
  // question. Looked up only on a decline, so the accepted path costs no extra query.
  if (await store.txByKey(ctx.pool, inp.idempotencyKey)) return ok(undefined);
  return fail('risk_rejected', 'the payment was declined by risk control');
}

export async function consume(ctx: Ctx, inp: ConsumeInput): Promise<CardsResult<CardTransaction>> {
  const risk = await askRisk(ctx, inp);
  if (!risk.ok) return risk;
  return ctx.consumeBatcher ? ctx.consumeBatcher.submit(inp) : consumeOneByOne(ctx, inp);
}

/**
 * A consume decided in a batch together with a participant's own writes (the payments checkout).
 * `declined`: risk control refused it before anything was written.
 */
export async function consumeAttached<D, R>(ctx: Ctx, inp: ConsumeInput, participant: BatchParticipant<D, R>, data: D): Promise<AttachedOutcome<R> | { kind: 'declined'; result: CardsResult<never> }> {
  if (!ctx.consumeBatcher) return { kind: 'unbatched' };
  const risk = await askRisk(ctx, inp);
  if (!risk.ok) return { kind: 'declined', result: risk };
  return ctx.consumeBatcher.submitAttached(inp, participant, data);
}

/** The one-by-one consume path (PIN cards, cards with pending operations, and the batcher's fallbacks). */
export async function consumeOneByOne(ctx: Ctx, inp: ConsumeInput): Promise<CardsResult<CardTransaction>> {
  const hash = consumeHash(inp);
  return execute(ctx, hooks, {
    cardId: inp.cardId, key: inp.idempotencyKey, hash, currency: 'CNY',
    plan: (c, card) => planAuthorization(ctx, c, card, inp),
  });
}

/**
 * Everything a payment out of the card checks under its lock — the card's state, the PIN, then
 * the consume decision on its available balances — for a consume or a hold (holds.ts).
 */
export async function planAuthorization(ctx: Ctx, c: PoolClient, card: Card, inp: ConsumeInput): Promise<CardsResult<Intent>> {
  // The PIN is checked first only when the card is otherwise usable, so a wrong PIN on a dead
  // card does not count against it.
  const unusable = notUsable(card, ctx.clock.now());
  if (unusable) return unusable;
  const pin = await checkPin(ctx, c, card, inp.pin);
  if (!pin.ok) return pin;
  return planConsume(ctx, card, await productOf(ctx, card), await balances(ctx, card), inp);
}

/**
 * The consume decision once the card, its product and its spendable balances are known (and the
 * PIN, if any, was checked): balance, then the split between principal and bonus by the product's
 * order, then the legs. Shared by the one-by-one path and the batched authorizer.
 */
export async function planConsume(ctx: Ctx, card: Card, p: CardProduct, b: { principal: bigint; bonus: bigint }, inp: ConsumeInput): Promise<CardsResult<Intent>> {
  if (!amountOk(inp.amountMinor)) return fail('invalid_amount', 'the amount must be positive');
  const unusable = notUsable(card, ctx.clock.now());
  if (unusable) return unusable;
  if (!(await cachedAcceptance(ctx, card.productId, inp.merchantId))) return fail('merchant_not_accepted', 'this merchant does not accept this card');
  const payee = await cachedPayee(ctx, inp.merchantId);
  if (!payee.ok) return fail('merchant_not_found', `merchant ${inp.merchantId} does not exist`);
  if (payee.value.merchant.status !== 'active') return fail('merchant_not_active', 'the merchant is not active');
  if (b.principal + b.bonus < inp.amountMinor) return fail('insufficient_balance', 'the card balance is too low', { available: Number(b.principal + b.bonus) });
  let fromPrincipal: bigint;
  if (p.bonusSpendOrder === 'bonus_first') fromPrincipal = inp.amountMinor - (b.bonus < inp.amountMinor ? b.bonus : inp.amountMinor);
  else fromPrincipal = b.principal < inp.amountMinor ? b.principal : inp.amountMinor;
  const fromBonus = inp.amountMinor - fromPrincipal;
  const payable = payee.value.settlementLedgerAccountId;
  return ok({
    kind: 'consume', amount: inp.amountMinor, principalAmount: fromPrincipal, bonusAmount: fromBonus, merchantId: inp.merchantId,
    terminalId: inp.terminalId ?? null, policyVersion: card.policyVersion,
    legs: [leg('principal', card.principalAccountId, payable, fromPrincipal, 'card_consume'), leg('bonus', card.bonusAccountId, payable, fromBonus, 'card_consume_bonus')],
  });
}

export function consumeHash(inp: ConsumeInput): string {
  return requestHash({ op: 'consume', cardId: inp.cardId, amount: inp.amountMinor, merchant: inp.merchantId, terminal: inp.terminalId ?? null });
}

// ---- void and refund --------------------------------------------------------------------------

export async function voidConsume(ctx: Ctx, inp: { cardId: bigint; idempotencyKey: string; transactionId: bigint }): Promise<CardsResult<CardTransaction>> {
  return execute(ctx, hooks, {
    cardId: inp.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'void', ...inp }), currency: 'CNY',
    plan: async (c, card) => {
      const o = await store.getTx(c, inp.transactionId);
      if (!o || o.cardId !== card.id) return fail('transaction_not_found', 'no such transaction on this card');
      if (o.kind !== 'consume' || o.status !== 'succeeded' || o.voided || o.refundedAmount > 0n) return fail('not_voidable', 'only an untouched successful consume can be voided');
      if (o.businessDate !== businessDate(ctx.clock.now(), ctx.businessTimeZone)) return fail('not_voidable', 'a void (撤销) is only possible on the same business day; use a refund');
      // Like a refund, a void may not lift the card over its balance limit (it was recharged up to
      // it after the consume): the holder gets the money back another way.
      const held = await balances(ctx, card);
      const limit = checkBalanceLimit(policyFor(await productOf(ctx, card)), { named: card.named, balanceAfterMinor: held.heldFunds + o.principalAmount });
      if (!limit.ok) return limit;
      const payee = await cachedPayee(ctx, o.merchantId!);
      if (!payee.ok) return fail('merchant_not_found', 'the merchant of the transaction no longer exists');
      const payable = payee.value.settlementLedgerAccountId;
      const pr = await legTransferId(ctx, o.id, 'principal');
      const br = await legTransferId(ctx, o.id, 'bonus');
      return ok({
        kind: 'void', amount: o.amount, principalAmount: o.principalAmount, bonusAmount: o.bonusAmount, merchantId: o.merchantId, relatedId: o.id, policyVersion: o.policyVersion,
        legs: [leg('principal', payable, card.principalAccountId, o.principalAmount, 'card_void', pr), leg('bonus', payable, card.bonusAccountId, o.bonusAmount, 'card_void', br)],
        reserve: async (db) => {
          const r = await db.query('UPDATE card_transactions SET voided = true WHERE id = $1 AND NOT voided AND refunded_amount = 0', [o.id]);
          return r.rowCount === 1 ? ok(undefined) : fail('not_voidable', 'the transaction was voided or refunded meanwhile');
        },
      });
    },
  });
}

/** The live card that holds a card's value today (a replaced card's value moved to its successor). */
export async function liveCardId(ctx: Ctx, cardId: bigint): Promise<bigint> {
  let id = cardId;
  for (let i = 0; i < 20; i++) {
    const c = await store.getCard(ctx.pool, id);
    if (!c || c.replacedBy === null) return id;
    id = c.replacedBy;
  }
  return id;
}

/**
 * Refund of a consume, or of a captured hold (the capture's id, or the hold's, which stands for its
 * capture): the money goes back to the card, or to its replacement, in the proportion principal
 * and bonus were spent, never more than was taken.
 */
export async function refund(ctx: Ctx, inp: { idempotencyKey: string; transactionId: bigint; amountMinor: bigint }): Promise<CardsResult<CardTransaction>> {
  let original = await store.getTx(ctx.pool, inp.transactionId);
  if (original?.kind === 'hold') {
    original = await store.captureOf(ctx.pool, original.id);
    if (!original) return fail('hold_not_captured', 'only a captured hold can be refunded');
  }
  if (!original || (original.kind !== 'consume' && original.kind !== 'capture')) return fail('transaction_not_found', 'no such consume or captured hold');
  const originalId = original.id;
  // A retry goes to the card the first attempt was made on, even if the card was replaced since.
  const prior = await store.txByKey(ctx.pool, inp.idempotencyKey);
  const target = prior && prior.tx.kind === 'refund' && prior.tx.relatedId === original.id ? prior.tx.cardId : await liveCardId(ctx, original.cardId);
  return execute(ctx, hooks, {
    cardId: target, key: inp.idempotencyKey, hash: requestHash({ op: 'refund', ...inp }), currency: 'CNY',
    plan: async (c, card) => {
      if (!amountOk(inp.amountMinor)) return fail('invalid_amount', 'the refund must be a positive amount');
      const o = (await store.getTx(c, originalId))!;
      if (o.status !== 'succeeded' || o.voided) return fail('not_voidable', 'only a successful, not voided consume or capture can be refunded');
      if (inp.amountMinor > o.amount - o.refundedAmount) return fail('refund_exceeds_remaining', `at most ${o.amount - o.refundedAmount} is left to refund`);
      if (!canCredit(card.status as CardState, 'refund')) return fail('card_terminated', `the card is ${card.status}`);
      // Give back principal and bonus in the proportion they were spent; what earlier refunds gave
      // back is subtracted so the parts never exceed what was taken from each.
      const prior = await c.query<{ p: string; b: string }>(
        `SELECT coalesce(sum(principal_amount), 0)::text AS p, coalesce(sum(bonus_amount), 0)::text AS b FROM card_transactions WHERE related_id = $1 AND kind = 'refund' AND status <> 'failed'`,
        [o.id],
      );
      const leftP = o.principalAmount - BigInt(prior.rows[0]!.p);
      const leftB = o.bonusAmount - BigInt(prior.rows[0]!.b);
      let [p, b] = leftP + leftB > 0n ? allocateLargestRemainder(inp.amountMinor, [leftP, leftB]) as [bigint, bigint] : [inp.amountMinor, 0n];
      if (p > leftP) [p, b] = [leftP, inp.amountMinor - leftP];
      if (b > leftB) [p, b] = [inp.amountMinor - leftB, leftB];
      // A refund may not lift the card over its balance limit either.
      const prod = await productOf(ctx, card);
      const held = await balances(ctx, card);
      const limit = checkBalanceLimit(policyFor(prod), { named: card.named, balanceAfterMinor: held.heldFunds + p });
      if (!limit.ok) return limit;
      const payee = await cachedPayee(ctx, o.merchantId!);
      if (!payee.ok) return fail('merchant_not_found', 'the merchant of the transaction no longer exists');
      const payable = payee.value.settlementLedgerAccountId;
      return ok({
        kind: 'refund', amount: inp.amountMinor, principalAmount: p, bonusAmount: b, merchantId: o.merchantId, relatedId: o.id, policyVersion: o.policyVersion,
        legs: [leg('principal', payable, card.principalAccountId, p, 'card_refund'), leg('bonus', payable, card.bonusAccountId, b, 'card_refund')],
        reserve: async (db) => {
          const r = await db.query('UPDATE card_transactions SET refunded_amount = refunded_amount + $2 WHERE id = $1 AND NOT voided AND refunded_amount + $2 <= amount', [o.id, inp.amountMinor]);
          return r.rowCount === 1 ? ok(undefined) : fail('refund_exceeds_remaining', 'the refundable amount changed meanwhile');
        },
      });
    },
  });
}

// ---- queries ----------------------------------------------------------------------------------

/** Spendable principal and bonus (held money excluded), the value held for captures, and the offline purse. */
export async function cardBalance(ctx: Ctx, cardId: bigint): Promise<CardsResult<{ card: Card; principalMinor: bigint; bonusMinor: bigint; heldMinor: bigint; purseMinor: bigint }>> {
  const card = await store.getCard(ctx.pool, cardId);
  if (!card) return fail('card_not_found', `card ${cardId} does not exist`);
  const b = await balances(ctx, card);
  const purse = await ctx.ledger.getAccount(card.purseAccountId);
  return ok({ card, principalMinor: b.principal, bonusMinor: b.bonus, heldMinor: b.onHold, purseMinor: purse.ok ? postedBalance(purse.value) : 0n });
}

// ---- purchases of several cards ---------------------------------------------------------------

export interface PurchaseInput {
  idempotencyKey: string;
  cards: { cardId: bigint; amountMinor: bigint }[];
  paymentMethod: PaymentMethod;
  buyerKind: BuyerKind;
  buyerRealName: boolean;
  buyerCustomerId?: bigint;
  /** The holder of named cards in this purchase. */
  holderCustomerId?: bigint;
  actor?: string;
}

export const MAX_CARDS_PER_PURCHASE = 100;

/**
 * One purchase (购卡) of several cards. The policy thresholds (real name, non-cash payment) are
 * decided on the purchase's total, so splitting a purchase into single-card sales cannot dodge
 * them. The purchase is validated as a whole first; the cards are then sold one by one, each an
 * idempotent operation keyed `<purchase key>:<n>`, so a retry after an interruption sells exactly
 * the cards not sold yet.
 */
export async function sellPurchase(ctx: Ctx, inp: PurchaseInput): Promise<CardsResult<{ saleId: bigint; transactions: CardTransaction[] }>> {
  if (inp.cards.length < 1 || inp.cards.length > MAX_CARDS_PER_PURCHASE) return fail('invalid_request', `a purchase has 1-${MAX_CARDS_PER_PURCHASE} cards`);
  if (new Set(inp.cards.map((c) => c.cardId)).size !== inp.cards.length) return fail('invalid_request', 'each card appears once in a purchase');
  if (inp.cards.some((c) => !amountOk(c.amountMinor))) return fail('invalid_amount', 'every card needs a positive initial load');
  const hash = requestHash({ op: 'purchase', ...inp, actor: undefined });
  const existing = await ctx.pool.query<{ id: bigint; request_hash: string }>('SELECT id, request_hash FROM card_sales WHERE idempotency_key = $1', [inp.idempotencyKey]);
  let saleId: bigint;
  let total = 0n;
  if (existing.rows[0]) {
    if (existing.rows[0].request_hash !== hash) return fail('idempotency_key_reused', 'this idempotency key was used for a different purchase');
    saleId = existing.rows[0].id;
    const t = await ctx.pool.query<{ total: bigint }>('SELECT total FROM card_sales WHERE id = $1', [saleId]);
    total = t.rows[0]!.total;
  } else {
    let policyVersion = '';
    for (const item of inp.cards) {
      const card = await store.getCard(ctx.pool, item.cardId);
      if (!card) return fail('card_not_found', `card ${item.cardId} does not exist`);
      if (card.status !== 'in_stock' || card.replacedFrom !== null) return fail('card_not_in_stock', `card ${card.id} is not in stock`);
      const p = await productOf(ctx, card);
      total += item.amountMinor + p.issuanceFee;
      policyVersion = policyFor(p).version;
    }
    // Each product's policy judges the whole purchase.
    for (const item of inp.cards) {
      const card = (await store.getCard(ctx.pool, item.cardId))!;
      const p = await productOf(ctx, card);
      const r = checkPurchase(policyFor(p), { buyerKind: inp.buyerKind, named: p.named, totalMinor: total, paymentMethod: inp.paymentMethod, buyerRealName: inp.buyerRealName });
      if (!r.ok) return r;
    }
    saleId = ctx.nextId();
    const ins = await ctx.pool.query(
      `INSERT INTO card_sales (id, idempotency_key, request_hash, buyer_kind, buyer_customer_id, payment_method, total, card_count, policy_version, created_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (idempotency_key) DO NOTHING`,
      [saleId, inp.idempotencyKey, hash, inp.buyerKind, inp.buyerCustomerId ?? null, inp.paymentMethod, total, inp.cards.length, policyVersion, ctx.clock.now()],
    );
    if (ins.rowCount === 0) return sellPurchase(ctx, inp);
  }
  const transactions: CardTransaction[] = [];
  for (const [i, item] of inp.cards.entries()) {
    const r = await sell(ctx, {
      cardId: item.cardId, idempotencyKey: `${inp.idempotencyKey}:${i}`, amountMinor: item.amountMinor, paymentMethod: inp.paymentMethod, buyerKind: inp.buyerKind,
      buyerRealName: inp.buyerRealName, purchaseTotalMinor: total, ...(inp.holderCustomerId !== undefined ? { holderCustomerId: inp.holderCustomerId } : {}), ...(inp.actor ? { actor: inp.actor } : {}),
    });
    if (!r.ok) return fail(r.code, `card ${i + 1} of the purchase: ${r.message}`, { sale_id: saleId.toString(), sold: transactions.map((t) => t.cardId.toString()) });
    transactions.push(r.value);
  }
  return ok({ saleId, transactions });
}
