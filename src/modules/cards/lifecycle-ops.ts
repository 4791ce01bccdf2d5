/**
 * Card state changes outside money movements: PIN, freeze, loss report (预挂失 → 挂失) and
 * replacement (补卡). Every change is audited in card_events, runs under the card's row lock, and
 * mirrors onto the card's ledger accounts so the ledger itself refuses money the state forbids.
 */
import { withTx, type PoolClient } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { Secret } from '../../kernel/secret.js';
import type { AccountStatus } from '../ledger/index.js';
import * as store from './cards.store.js';
import { requestHash, serialPerCard, systemAccount, type CardsResult, type Ctx } from './context.js';
import { isLossReportLapsed, recordsPriorState, transition, type CardEvent, type CardState, type ResumableState } from './domain/lifecycle.js';
import { checkPinFormat, hashPin } from './domain/pin.js';
import { addCalendarMonths, checkLossReport, checkRedeem, checkResidualRefund, checkValidity, type PaymentMethod } from './domain/policy.js';
import { businessDate } from '../../kernel/clock.js';
import { execute } from './execute.js';
import { holdHooks } from './holds.js';
import { issueBatch } from './issuance.js';
import { hooks } from './operations.js';
import { policyFor } from './products.js';
import type { Card, CardTransaction } from './types.js';

/** What the ledger should allow for a card state: spending needs active, holds keep refunds possible. */
function ledgerStatusFor(s: CardState): AccountStatus {
  switch (s) {
    case 'in_stock':
    case 'active':
      return 'active';
    case 'frozen':
      // Refunds still reach a frozen card (the value is the holder's); recharges are refused by the
      // card's own checks.
      return 'debit_frozen';
    case 'loss_reported':
    case 'lost':
    case 'expired':
      return 'debit_frozen';
    case 'replaced':
    case 'closed':
      return 'debit_frozen';
  }
}

async function mirror(ctx: Ctx, card: Card, s: CardState, reason: string): Promise<void> {
  for (const id of [card.principalAccountId, card.bonusAccountId]) await setLedgerStatus(ctx, id, ledgerStatusFor(s), reason);
}

export async function applyEvent(ctx: Ctx, c: PoolClient, card: Card, event: CardEvent, inp: { reason: string; actor: string }): Promise<CardsResult<Card>> {
  const next = transition(card.status as CardState, event, { named: card.named, ...(card.priorStatus ? { priorState: card.priorStatus as ResumableState } : {}) });
  if (!next.ok) return next;
  const now = ctx.clock.now();
  const fields: Record<string, unknown> = { status: next.value };
  if (recordsPriorState(next.value)) fields['prior_status'] = card.status === 'frozen' ? 'frozen' : 'active';
  if (next.value === 'loss_reported') fields['loss_reported_at'] = now;
  await store.updateCard(c, card.id, fields, now);
  await store.insertEvent(c, { id: ctx.nextId(), cardId: card.id, event, from: card.status, to: next.value, reason: inp.reason, actor: inp.actor, now });
  await mirror(ctx, card, next.value, `card ${event}: ${inp.reason}`);
  return ok((await store.getCard(c, card.id))!);
}

export async function changeState(ctx: Ctx, inp: { cardId: bigint; event: CardEvent; reason: string; actor?: string }): Promise<CardsResult<Card>> {
  return serialPerCard(ctx, inp.cardId, () => withTx(ctx.lockPool, async (c) => {
    const card = await store.getCard(c, inp.cardId, true);
    if (!card) return fail('card_not_found', `card ${inp.cardId} does not exist`);
    if (inp.event === 'report_loss') {
      const p = (await store.getProduct(c, card.productId))!;
      const allowed = checkLossReport(policyFor(p), { named: card.named });
      if (!allowed.ok) return allowed;
    }
    const after = await applyEvent(ctx, c, card, inp.event, { reason: inp.reason, actor: inp.actor ?? '' });
    if (after.ok && inp.event === 'reactivate') {
      // A re-activated card gets a fresh validity period (the regulation asks issuers to extend
      // or replace expired cards that still hold value).
      const p = (await store.getProduct(c, card.productId))!;
      const now = ctx.clock.now();
      const validUntil = p.validityMonths === null ? null : new Date(`${addCalendarMonths(businessDate(now, ctx.businessTimeZone), p.validityMonths)}T16:00:00Z`);
      const valid = checkValidity(policyFor(p), { named: card.named, validUntil, issuedAt: now, timeZone: ctx.businessTimeZone });
      if (!valid.ok) throw new Error(`re-activation validity: ${valid.message}`);
      await store.updateCard(c, card.id, { valid_until: validUntil }, now);
      return ok((await store.getCard(c, card.id))!);
    }
    return after;
  }));
}

export async function setPin(ctx: Ctx, inp: { cardId: bigint; pin: Secret }): Promise<CardsResult<Card>> {
  const f = checkPinFormat(inp.pin);
  if (!f.ok) return f;
  const hash = await hashPin(inp.pin);
  return serialPerCard(ctx, inp.cardId, () => withTx(ctx.lockPool, async (c) => {
    const card = await store.getCard(c, inp.cardId, true);
    if (!card) return fail('card_not_found', `card ${inp.cardId} does not exist`);
    await store.updateCard(c, card.id, { pin_hash: hash, pin_failed_attempts: 0, pin_locked_until: null }, ctx.clock.now());
    return ok((await store.getCard(c, card.id))!);
  }));
}

/** Cards past their validity expire: they stop paying, the value stays theirs (re-activate or replace). */
export async function expireCards(ctx: Ctx): Promise<number> {
  const now = ctx.clock.now();
  const r = await ctx.pool.query<{ id: bigint }>(`SELECT id FROM cards WHERE status IN ('active', 'frozen') AND valid_until <= $1 ORDER BY valid_until LIMIT 500`, [now]);
  let n = 0;
  for (const { id } of r.rows) {
    const done = await serialPerCard(ctx, id, () => withTx(ctx.lockPool, async (c) => {
      const card = await store.getCard(c, id, true);
      if (!card || !card.validUntil || card.validUntil.getTime() > now.getTime() || !['active', 'frozen'].includes(card.status)) return false;
      return (await applyEvent(ctx, c, card, 'expire', { reason: 'validity ended', actor: 'system' })).ok;
    }));
    if (done) n++;
  }
  return n;
}

/** Loss reports not confirmed within the provisional window lapse back to the prior state. */
export async function lapseLossReports(ctx: Ctx): Promise<number> {
  const now = ctx.clock.now();
  const r = await ctx.pool.query<{ id: bigint }>(`SELECT id FROM cards WHERE status = 'loss_reported' ORDER BY loss_reported_at LIMIT 500`);
  let n = 0;
  for (const { id } of r.rows) {
    const done = await serialPerCard(ctx, id, () => withTx(ctx.lockPool, async (c) => {
      const card = await store.getCard(c, id, true);
      if (!card || card.status !== 'loss_reported' || !card.lossReportedAt) return false;
      const p = (await store.getProduct(c, card.productId))!;
      if (!isLossReportLapsed({ reportedAt: card.lossReportedAt, now, provisionalHours: policyFor(p).lossReport.provisionalHours })) return false;
      return (await applyEvent(ctx, c, card, 'loss_report_lapsed', { reason: 'provisional loss report not confirmed in time', actor: 'system' })).ok;
    }));
    if (done) n++;
  }
  return n;
}

/**
 * Replacement (补卡): a new card of the same product takes over the holder, validity, principal and
 * bonus of the old one, which is terminated. The balance moves through the ledger exactly once
 * (the move is an idempotent card transaction); the fee, if any, is paid by the given method.
 */
export async function replace(ctx: Ctx, inp: { cardId: bigint; idempotencyKey: string; paymentMethod: PaymentMethod; reason: string; actor?: string }): Promise<CardsResult<{ oldCard: Card; newCard: Card; transaction: CardTransaction }>> {
  const r = await execute(ctx, replaceHooks(ctx, inp.actor ?? ''), {
    cardId: inp.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'replace', card: inp.cardId, method: inp.paymentMethod }), currency: 'CNY',
    plan: async (c, card) => {
      const next = transition(card.status as CardState, 'replace', { named: card.named });
      if (!next.ok) return next;
      const [pa, ba] = await Promise.all([ctx.ledger.getAccount(card.principalAccountId), ctx.ledger.getAccount(card.bonusAccountId)]);
      if (!pa.ok || !ba.ok) throw new Error('card ledger accounts missing');
      // Held money (card holds of combined payments) cannot move to the successor while the hold
      // may still be captured, and the old accounts cannot close with holds open.
      if (pa.value.debitsPending > 0n || ba.value.debitsPending > 0n) return fail('card_has_active_holds', 'part of the balance is held for a payment; capture or release the holds first, or wait for them to time out');
      const p = (await store.getProduct(c, card.productId))!;
      const fund = await systemAccount(ctx, `funding:${inp.paymentMethod}`, 'CNY');
      const fee = await systemAccount(ctx, 'fee_income', 'CNY');
      if (!fund.ok || !fee.ok) throw new Error('system accounts unavailable');
      // The successor is made only now, under the old card's lock and after every check, and is
      // reserved for this replacement at once (replaced_from) so it can never be sold to anyone else.
      const issued = await issueBatch(ctx, { productId: card.productId, count: 1 });
      if (!issued.ok) return issued;
      const fresh = issued.value.cards[0]!;
      await store.updateCard(ctx.pool, fresh.id, { replaced_from: card.id }, ctx.clock.now());
      // Everything posted moves; the old card has no holds (checked above) — see closing below.
      const principal = pa.value.creditsPosted - pa.value.debitsPosted - pa.value.debitsPending;
      const bonus = ba.value.creditsPosted - ba.value.debitsPosted - ba.value.debitsPending;
      return ok({
        kind: 'replacement', amount: principal + bonus, principalAmount: principal, bonusAmount: bonus, feeAmount: p.replacementFee, paymentMethod: inp.paymentMethod, policyVersion: card.policyVersion,
        legs: [
          { leg: 'principal', debitAccountId: card.principalAccountId, creditAccountId: fresh.principalAccountId, amount: principal, code: 'card_replacement' },
          { leg: 'bonus', debitAccountId: card.bonusAccountId, creditAccountId: fresh.bonusAccountId, amount: bonus, code: 'card_replacement' },
          { leg: 'fee', debitAccountId: fund.value, creditAccountId: fee.value, amount: p.replacementFee, code: 'card_replacement_fee' },
        ],
        facts: { new_card: fresh.id.toString(), reason: inp.reason, new_event: ctx.nextId().toString(), old_event: ctx.nextId().toString() },
      });
    },
  });
  if (!r.ok) return r;
  if (r.value.kind !== 'replacement') return fail('idempotency_key_reused', 'this idempotency key was used for another kind of operation');
  // The successor is the one recorded on the transaction that ran, also for a retry.
  const newCardId = BigInt((r.value.metadata['facts'] as Record<string, string>)['new_card']!);
  return ok({ oldCard: (await store.getCard(ctx.pool, inp.cardId))!, newCard: (await store.getCard(ctx.pool, newCardId))!, transaction: r.value });
}

async function setLedgerStatus(ctx: Ctx, id: bigint, status: AccountStatus, reason: string): Promise<void> {
  const r = await ctx.ledger.setAccountStatus({ id, status, reason, actor: 'cards' });
  if (!r.ok && r.code !== 'invalid_status_transition') throw new Error(`ledger account ${id} -> ${status}: ${r.message}`);
}

/**
 * For operations that move a card's whole balance out (replacement, redemption): the card's
 * accounts may be debit-frozen by a loss report, so the freeze is lifted for the move only (the card
 * lock keeps every other operation out meanwhile) and put back if the move did not happen.
 */
function moveOutHooks(ctx: Ctx, what: string) {
  return {
    prepare: async (_c: PoolClient, card: Card) => {
      for (const id of [card.principalAccountId, card.bonusAccountId]) await setLedgerStatus(ctx, id, 'active', `card ${what}: moving the balance`);
    },
    unreserve: async (c: PoolClient, tx: CardTransaction) => {
      const card = (await store.getCard(c, tx.cardId))!;
      await mirror(ctx, card, card.status as CardState, `card ${what} did not complete`);
    },
  };
}

/** Every kind's hooks, for operations finished later by recovery. */
export function allHooks(ctx: Ctx, actor: string) {
  return { ...replaceHooks(ctx, actor), ...redeemHooks(ctx, actor), ...holdHooks(ctx) };
}

export function replaceHooks(ctx: Ctx, actor: string) {
  return {
    ...hooks,
    replacement: {
      ...moveOutHooks(ctx, 'replacement'),
      effects: async (c: PoolClient, card: Card, tx: CardTransaction) => {
        const f = tx.metadata['facts'] as Record<string, string>;
        const newId = BigInt(f['new_card']!);
        const now = tx.createdAt;
        await store.updateCard(c, newId, { status: 'active', holder_customer_id: card.holderCustomerId, sold_at: now, valid_until: card.validUntil, replaced_from: card.id, sale_id: tx.id }, now);
        await store.insertEvent(c, { id: BigInt(f['new_event']!), cardId: newId, event: 'sell_activate', from: 'in_stock', to: 'active', reason: `replaces card ${card.id}`, actor, now });
        await store.updateCard(c, card.id, { status: 'replaced', replaced_by: newId }, now);
        await store.insertEvent(c, { id: BigInt(f['old_event']!), cardId: card.id, event: 'replace', from: card.status, to: 'replaced', reason: f['reason'] ?? '', actor, now });
        for (const id of [card.principalAccountId, card.bonusAccountId]) await setLedgerStatus(ctx, id, 'closed', 'card replaced');
      },
    },
  };
}

/**
 * Redemption (赎回): a named card's principal is paid out to the holder and the card is closed.
 * Allowed from the policy's waiting period after purchase; the payout goes to a bank account in the
 * holder's name (cash only for small residual values). Promotional bonus is not money: it is
 * cancelled back against the promotion expense. Value on the offline purse stays on the chip.
 */
export async function redeem(ctx: Ctx, inp: { cardId: bigint; idempotencyKey: string; method: 'cash' | 'bank_account'; holderNameMatches: boolean; reason: string; actor?: string }): Promise<CardsResult<CardTransaction>> {
  const actor = inp.actor ?? '';
  return execute(ctx, allHooks(ctx, actor), {
    cardId: inp.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'redeem', card: inp.cardId, method: inp.method, match: inp.holderNameMatches }), currency: 'CNY',
    plan: async (c, card) => {
      const next = transition(card.status as CardState, 'redeem_close', { named: card.named });
      if (!next.ok) return next;
      const p = (await store.getProduct(c, card.productId))!;
      const policy = policyFor(p);
      if (!card.soldAt) return fail('card_not_redeemable', 'the card was never sold');
      const allowed = checkRedeem(policy, { named: card.named, purchasedAt: card.soldAt, now: ctx.clock.now(), timeZone: ctx.businessTimeZone });
      if (!allowed.ok) return allowed;
      const [pa, ba] = await Promise.all([ctx.ledger.getAccount(card.principalAccountId), ctx.ledger.getAccount(card.bonusAccountId)]);
      if (!pa.ok || !ba.ok) throw new Error('card ledger accounts missing');
      if (pa.value.debitsPending > 0n || ba.value.debitsPending > 0n) return fail('card_not_redeemable', 'the card has holds in progress');
      const principal = pa.value.creditsPosted - pa.value.debitsPosted;
      const bonus = ba.value.creditsPosted - ba.value.debitsPosted;
      if (principal > 0n) {
        const payout = checkResidualRefund(policy, { amountMinor: principal, method: inp.method, holderNameMatches: inp.holderNameMatches });
        if (!payout.ok) return payout;
      }
      const payTo = await systemAccount(ctx, inp.method === 'cash' ? 'funding:cash' : 'funding:bank_transfer', 'CNY');
      const promo = await systemAccount(ctx, 'promotion_expense', 'CNY');
      if (!payTo.ok || !promo.ok) throw new Error('system accounts unavailable');
      return ok({
        kind: 'redeem', amount: principal, principalAmount: principal, bonusAmount: bonus, paymentMethod: inp.method, policyVersion: policy.version,
        legs: [
          { leg: 'payout', debitAccountId: card.principalAccountId, creditAccountId: payTo.value, amount: principal, code: 'card_redemption' },
          { leg: 'bonus', debitAccountId: card.bonusAccountId, creditAccountId: promo.value, amount: bonus, code: 'card_bonus_cancelled' },
        ],
        facts: { event: ctx.nextId().toString(), reason: inp.reason },
      });
    },
  });
}

function redeemHooks(ctx: Ctx, actor: string) {
  return {
    redeem: {
      ...moveOutHooks(ctx, 'redemption'),
      effects: async (c: PoolClient, card: Card, tx: CardTransaction) => {
        const f = tx.metadata['facts'] as Record<string, string>;
        await store.updateCard(c, card.id, { status: 'closed' }, tx.createdAt);
        await store.insertEvent(c, { id: BigInt(f['event']!), cardId: card.id, event: 'redeem_close', from: card.status, to: 'closed', reason: f['reason'] ?? '', actor, now: tx.createdAt });
        for (const id of [card.principalAccountId, card.bonusAccountId]) await setLedgerStatus(ctx, id, 'closed', 'card redeemed');
      },
    },
  };
}
