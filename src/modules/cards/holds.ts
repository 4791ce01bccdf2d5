/**
 * Card holds for combined payments (组合支付, DESIGN.md §3): when a card pays part of an order whose
 * other parts go through channels, the card's part is held first and captured only once every part
 * succeeded, or released otherwise.
 *
 * - hold: the checks of a consume (state, expiry, acceptance, PIN, risk, principal/bonus split by
 *   the product's order), but the legs are ledger pending transfers — Dr principal / bonus,
 *   Cr merchant payable — with a timeout after which the ledger expires them by itself. Held money
 *   counts against the available balance, so no consume can spend it.
 * - capture: posts the pending legs in full (post_pending).
 * - release: voids them (void_pending); releasing a hold that no longer holds anything succeeds.
 *
 * Each is a card transaction run by the exactly-once protocol of money.ts, under the card's lock.
 * Where a hold stands is recorded on it (`hold_state`); a capture or release records the state it
 * left the hold in. The ledger decides in the end: a hold it expired between our check and the
 * capture makes the capture fail (`hold_not_active`), and a release succeed.
 */
import { withTx, type PoolClient } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { Secret } from '../../kernel/secret.js';
import { isStorableText } from '../../kernel/text.js';
import type { Transfer } from '../ledger/index.js';
import * as store from './cards.store.js';
import { requestHash, serialPerCard, type CardsResult, type Ctx } from './context.js';
import { execute, type Intent, type KindHooks } from './execute.js';
import { legKey, legsOf, type Leg, type LegKind } from './money.js';
import { askRisk, hooks, notUsable, planAuthorization } from './operations.js';
import type { CardTransaction, CardTxKind, HoldState } from './types.js';

export interface HoldInput {
  cardId: bigint;
  idempotencyKey: string;
  amountMinor: bigint;
  merchantId: bigint;
  pin?: Secret;
  /** After this many seconds the ledger releases the hold by itself. */
  timeoutSeconds: number;
  /** The caller's reference (e.g. the combined payment's order number), kept on the hold. */
  reference?: string;
  /** The caller asked the risk engine about this payment already (the cashier): not asked again. */
  riskScreened?: boolean;
}

/** Combined payments settle within minutes; a month covers even a hotel-style pre-authorization. */
export const MAX_HOLD_TIMEOUT_SECONDS = 30 * 86_400;
const MAX_REFERENCE_LENGTH = 64;

/** What finishing a hold, capture or release does besides moving money (also used by recovery). */
export function holdHooks(ctx: Ctx): Partial<Record<CardTxKind, KindHooks>> {
  return {
    hold: {
      effects: async (c, _card, tx) => {
        // The hold times out when the ledger says (its clock started when it applied the legs,
        // which for an operation finished by recovery is later than the intent).
        const [first] = await legTransfers(ctx, tx);
        if (!first?.timeoutAt) throw new Error(`hold ${tx.id} has no timed ledger transfer`);
        await store.setHoldState(c, tx.id, 'active', first.timeoutAt);
      },
    },
    capture: {
      effects: async (c, _card, tx) => {
        await store.setHoldState(c, tx.relatedId!, 'captured');
        await store.setHoldState(c, tx.id, 'captured');
      },
    },
    release: {
      // The ledger expired the hold between our check and the void (or it was voided by an earlier
      // attempt): nothing is held any more, which is all a release asks for.
      settledBy: (code) => code === 'pending_transfer_expired' || code === 'pending_transfer_already_voided',
      effects: async (c, _card, tx) => {
        const legs = legsOf(tx);
        let state: HoldState | null;
        if (legs.length === 0) {
          state = (factsOf(tx)['hold_state'] ?? null) as HoldState | null;
        } else {
          const held = await Promise.all(legs.map(async (l) => {
            const t = await ctx.ledger.getTransfer(l.pendingId!);
            if (!t.ok) throw new Error(`release ${tx.id}: pending transfer ${l.pendingId} is missing`);
            return t.value;
          }));
          if (held.some((t) => t.pendingStatus === 'posted')) throw new Error(`release ${tx.id}: the hold was posted in the ledger`);
          state = held.every((t) => t.pendingStatus === 'voided') ? 'released' : 'expired';
          await store.setHoldState(c, tx.relatedId!, state);
        }
        await store.setHoldState(c, tx.id, state);
      },
    },
  };
}

function factsOf(tx: CardTransaction): Record<string, string | null> {
  return (tx.metadata['facts'] ?? {}) as Record<string, string | null>;
}

/** The ledger transfers of an operation's legs that moved something (zero legs were never sent). */
async function legTransfers(ctx: Ctx, tx: CardTransaction): Promise<Transfer[]> {
  const out: Transfer[] = [];
  for (const l of legsOf(tx)) {
    if (l.amount <= 0n) continue;
    const t = await ctx.ledger.getTransferByKey(legKey(tx.id, l.leg));
    if (!t.ok) throw new Error(`card transaction ${tx.id}: leg ${l.leg} has no ledger transfer`);
    out.push(t.value);
  }
  return out;
}

/**
 * Where a hold stands, as seen under its card's lock (operations left pending on the card have been
 * finished by then). A hold past its timeout is recorded as expired: the ledger refuses to post
 * or void it from that instant, whether or not its expiry worker has run yet.
 */
async function holdStateNow(ctx: Ctx, c: PoolClient, h: CardTransaction): Promise<HoldState | null> {
  if (h.status !== 'succeeded') return null;
  const state = h.holdState ?? null;
  if (state === 'active' && h.holdExpiresAt && h.holdExpiresAt.getTime() <= ctx.clock.nowMs()) {
    await store.setHoldState(c, h.id, 'expired');
    return 'expired';
  }
  return state;
}

/** Legs that post or void every leg of the hold, in full. */
async function resolving(ctx: Ctx, h: CardTransaction, kind: LegKind, code: string): Promise<Leg[]> {
  const byLeg = new Map((await legTransfers(ctx, h)).map((t) => [t.idempotencyKey, t.id]));
  return legsOf(h)
    .filter((l) => l.amount > 0n)
    .map((l) => ({
      leg: l.leg, debitAccountId: l.debitAccountId, creditAccountId: l.creditAccountId, amount: l.amount, kind,
      code: l.leg === 'bonus' ? `${code}_bonus` : code, pendingId: byLeg.get(legKey(h.id, l.leg))!,
    }));
}

const allHooks = (ctx: Ctx): Partial<Record<CardTxKind, KindHooks>> => ({ ...hooks, ...holdHooks(ctx) });

/** The transaction as stored once the operation is over (with the hold state its effects wrote). */
async function stored(ctx: Ctx, r: CardsResult<CardTransaction>): Promise<CardsResult<CardTransaction>> {
  if (!r.ok) return r;
  return ok((await store.getTx(ctx.pool, r.value.id)) ?? r.value);
}

export async function hold(ctx: Ctx, inp: HoldInput): Promise<CardsResult<CardTransaction>> {
  if (!Number.isInteger(inp.timeoutSeconds) || inp.timeoutSeconds < 1 || inp.timeoutSeconds > MAX_HOLD_TIMEOUT_SECONDS) {
    return fail('invalid_request', `timeout_seconds must be an integer in [1, ${MAX_HOLD_TIMEOUT_SECONDS}]`);
  }
  if (inp.reference !== undefined && (inp.reference.length === 0 || inp.reference.length > MAX_REFERENCE_LENGTH || !isStorableText(inp.reference))) {
    return fail('invalid_request', `reference must be 1-${MAX_REFERENCE_LENGTH} characters of text`);
  }
  const risk = await askRisk(ctx, inp);
  if (!risk.ok) return risk;
  const hash = requestHash({ op: 'hold', cardId: inp.cardId, amount: inp.amountMinor, merchant: inp.merchantId, timeout: inp.timeoutSeconds, reference: inp.reference ?? null });
  const r = await execute(ctx, allHooks(ctx), {
    cardId: inp.cardId, key: inp.idempotencyKey, hash, currency: 'CNY',
    plan: async (c, card) => {
      const p = await planAuthorization(ctx, c, card, { cardId: inp.cardId, idempotencyKey: inp.idempotencyKey, amountMinor: inp.amountMinor, merchantId: inp.merchantId, ...(inp.pin ? { pin: inp.pin } : {}) });
      if (!p.ok) return p;
      const intent: Intent = {
        ...p.value,
        kind: 'hold',
        legs: p.value.legs.map((l) => ({ ...l, kind: 'pending', timeoutSeconds: inp.timeoutSeconds, code: l.leg === 'bonus' ? 'card_hold_bonus' : 'card_hold' })),
        facts: { timeout_seconds: String(inp.timeoutSeconds), reference: inp.reference ?? null },
      };
      return ok(intent);
    },
  });
  return stored(ctx, r);
}

/** Finds the hold a capture or release names; they run under its card's lock. */
async function holdFor(ctx: Ctx, id: bigint): Promise<CardsResult<CardTransaction>> {
  const h = await store.getTx(ctx.pool, id);
  return h && h.kind === 'hold' ? ok(h) : fail('transaction_not_found', `card transaction ${id} is not a hold`);
}

export async function captureHold(ctx: Ctx, inp: { holdTransactionId: bigint; idempotencyKey: string }): Promise<CardsResult<CardTransaction>> {
  const found = await holdFor(ctx, inp.holdTransactionId);
  if (!found.ok) return found;
  const r = await execute(ctx, allHooks(ctx), {
    cardId: found.value.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'capture', hold: inp.holdTransactionId }), currency: 'CNY',
    plan: async (c, card) => {
      const h = (await store.getTx(c, inp.holdTransactionId))!;
      const state = await holdStateNow(ctx, c, h);
      if (state !== 'active') return fail('hold_not_active', state ? `the hold is ${state}` : 'the hold was declined', { hold_state: state });
      // Posting moves money, so the card must still be able to pay: a card frozen, reported lost or
      // expired since the hold is not charged (the ledger would refuse too); release the hold.
      const unusable = notUsable(card, ctx.clock.now());
      if (unusable) return unusable;
      return ok({
        kind: 'capture', amount: h.amount, principalAmount: h.principalAmount, bonusAmount: h.bonusAmount, merchantId: h.merchantId, relatedId: h.id,
        policyVersion: h.policyVersion, legs: await resolving(ctx, h, 'post_pending', 'card_capture'),
      });
    },
  });
  return stored(ctx, r);
}

export async function releaseHold(ctx: Ctx, inp: { holdTransactionId: bigint; idempotencyKey: string }): Promise<CardsResult<CardTransaction>> {
  const found = await holdFor(ctx, inp.holdTransactionId);
  if (!found.ok) return found;
  const r = await execute(ctx, allHooks(ctx), {
    cardId: found.value.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'release', hold: inp.holdTransactionId }), currency: 'CNY',
    plan: async (c) => {
      const h = (await store.getTx(c, inp.holdTransactionId))!;
      const state = await holdStateNow(ctx, c, h);
      if (state === 'captured') return fail('hold_captured', 'the hold was captured; refund the capture instead');
      const base = { kind: 'release' as const, merchantId: h.merchantId, relatedId: h.id, policyVersion: h.policyVersion };
      // Nothing is held (released before, expired, or never placed): the release succeeds as a
      // record of that, moving nothing, so compensating a saga step is always safe to repeat.
      if (state !== 'active') return ok({ ...base, amount: 0n, legs: [], facts: { hold_state: state } });
      return ok({ ...base, amount: h.amount, principalAmount: h.principalAmount, bonusAmount: h.bonusAmount, legs: await resolving(ctx, h, 'void_pending', 'card_hold_release') });
    },
  });
  return stored(ctx, r);
}

/**
 * Records holds past their timeout as expired (the ledger's expiry worker gives the money back).
 * Only the record changes; a hold whose capture or release is still being finished (its ledger
 * legs already posted or voided) is left to that operation.
 */
export async function expireHolds(ctx: Ctx, limit = 500): Promise<number> {
  let n = 0;
  for (const due of await store.activeHoldsPast(ctx.pool, ctx.clock.now(), limit)) {
    const state = await serialPerCard(ctx, due.cardId, () => withTx(ctx.lockPool, async (c) => {
      await store.getCard(c, due.cardId, true);
      const h = (await store.getTx(c, due.id))!;
      const legs = await legTransfers(ctx, h);
      if (legs.some((t) => t.pendingStatus === 'posted' || t.pendingStatus === 'voided')) return null;
      return holdStateNow(ctx, c, h);
    }));
    if (state === 'expired') n++;
  }
  return n;
}
