/**
 * Risk control at the cashier (支付风控): every payment attempt is decided by the risk engine
 * before anything is authorized.
 *
 *   accept    -> the payment goes on;
 *   reject    -> refused (`risk_rejected`), nothing written;
 *   review    -> a case is opened and the payment is HELD: the order stays payable by nobody else
 *                until an operator decides; approved, the held request is carried out; rejected,
 *                the order fails (`risk_rejected`);
 *   challenge -> step-up: a one-time code goes to the payer (SMS gateway hook) and the held request
 *                is carried out once the payer types it (5 minutes, 5 tries).
 *
 * A held request is stored without PINs or bank card details; one that needed them is cleared
 * instead, and the payer's next submit of the same request (same legs, cards, amounts, method) goes
 * through without a second risk decision. A different request is decided afresh.
 *
 * The cashier puts the first card of a request into the risk event; that card is not asked about
 * again by the cards module, every other card of the request is (cards' own risk hook).
 *
 * A request is checked before it can be held (pay-request.ts, the checks the payment itself
 * makes): its shape before the engine is asked, the cards and accounts it names before a case is
 * opened or a challenge sent. Bad input is refused as such and never holds the order.
 * A review that is open, or was rejected, stops every new attempt of the order (review-block.ts).
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import type { PayAction, PayMethod } from '../channels/index.js';
import type { Ctx, PaymentsResult } from './context.js';
import { payable } from './pay.js';
import { checkLegInstruments, checkPayShape, legSpecsOf } from './pay-request.js';
import * as store from './payments.store.js';
import { combinedInFlight, LIVE_LEG } from './settle.js';
import type { PaymentOrder } from './types.js';

/** What the risk engine needs from payments (the Risk module implements it; see main.ts). */
export interface PaymentRiskPort {
  decide(event: {
    id: string; kind: string; at: number; amount: bigint; currency?: string; merchant?: string; merchant_mcc?: string; category?: string; channel?: string;
    card?: string; device?: string; ip?: string; user?: string; notify_url_ok?: boolean; return_url_ok?: boolean; claimed?: ('device' | 'ip' | 'user')[];
  }, opts: {
    subject?: { kind: string; id: string };
    /** Asked before a `review` opens a case for the subject; false: no case (the request is bad input). */
    beforeCase?: () => Promise<boolean>;
  }): Promise<{ action: 'accept' | 'challenge' | 'review' | 'reject'; rule: string | null; reason: string | null; caseId: bigint | null }>;
  /** A case's state (`open`, `approved`, `rejected`), or null when there is no such case: the recovery job's question. */
  caseStatus(caseId: bigint): Promise<string | null>;
}

/** A pay request as it can be stored and carried out later. */
export interface HeldRequest {
  legs?: { kind: 'card' | 'balance' | 'channel'; amount: string; card_id?: string; account_id?: string; method?: string }[];
  method?: string;
  /** Server-to-server payments (the merchant API): the payer's open id and IP as the merchant gave them. */
  payer_open_id?: string;
  client_ip?: string;
  /** It carried a PIN or bank card details, which are not stored: the payer submits again. */
  needs_payer: boolean;
}

/**
 * What identifies a request for a cleared hold: the legs (kind, amount, card, account, method) and
 * the method, in a fixed order (the stored form is jsonb, whose key order is not ours).
 */
function requestKey(r: HeldRequest): string {
  return JSON.stringify([r.method ?? null, r.payer_open_id ?? null, (r.legs ?? []).map((l) => [l.kind, l.amount, l.card_id ?? null, l.account_id ?? null, l.method ?? null])]);
}

export type Screen = { kind: 'proceed' } | { kind: 'review'; caseId: bigint } | { kind: 'challenge'; challengeId: bigint };

const CHALLENGE_MS = 5 * 60_000;
const CHALLENGE_TRIES = 5;

const codeHash = (holdId: bigint, code: string): string => createHash('sha256').update(`${holdId}:${code}`).digest('hex');

/**
 * `claimed`: which of the device id and IP the payer's side asserted (the cashier's device id, the
 * IP a merchant passes on) rather than we saw: a white-listed claim does not skip the rules.
 * `payerVerified`: the payer proved in this request that they are the order's payer customer (a
 * valid payer token). Without it the order's payer is only the merchant's word, and goes into the
 * event as a claimed `user`: a merchant could otherwise name a white-listed customer on its orders
 * and have every payment of them accepted without a rule run.
 */
export async function screen(ctx: Ctx, inp: { order: PaymentOrder; request: HeldRequest; clientIp?: string; deviceId?: string; cardId?: bigint; channel: string; claimed?: ('device' | 'ip')[]; payerVerified?: boolean }): Promise<PaymentsResult<Screen>> {
  if (!ctx.risk) return ok({ kind: 'proceed' });
  const { order } = inp;
  // An order that cannot be paid, and a request the payment would refuse, are refused as such,
  // not asked about: asking could hold the order for a request that can never be carried out.
  const can = payable(ctx, order);
  if (!can.ok) return can;
  // The request's shape first (no lookups); the instruments it names (cards, balance accounts) are
  // looked up only when the answer would hold or refuse it — an accepted request meets the same
  // checks in the payment itself, and the common path saves the round trips.
  const shape = checkPayShape(ctx, order, inp.request);
  if (!shape.ok) return shape;
  const now = ctx.clock.now();
  const { current: hold, rejected } = await store.holdsForScreen(ctx.pool, order.id);
  if (rejected) return fail('risk_rejected', 'a payment of this order was declined by risk control', { case_id: rejected.caseId === null ? null : String(rejected.caseId) });
  if (hold) {
    if (hold.status === 'cleared') {
      // Cleared by an operator or the payer's code: the same request goes through, once; a
      // different one gives the clearance up and is decided on its own.
      if (requestKey(hold.request) === requestKey(inp.request)) {
        if (await store.useHold(ctx.pool, hold.id, now)) return ok({ kind: 'proceed' });
        return fail('payment_in_progress', 'the cleared payment is being carried out');
      }
      if (!(await store.finishHold(ctx.pool, hold.id, 'failed', now, 'cleared'))) return fail('payment_in_progress', 'the cleared payment is being carried out');
    } else if (hold.kind === 'review') {
      return fail('payment_in_progress', 'the payment is being reviewed by risk control', { case_id: String(hold.caseId) });
    } else if (hold.expiresAt.getTime() > now.getTime()) {
      return ok({ kind: 'challenge', challengeId: hold.id });
    } else {
      await store.finishHold(ctx.pool, hold.id, 'failed', now);
    }
  }
  // Nothing new is asked while a combined payment is under way (it would be refused anyway), and a
  // payer coming back to the channel attempt already under way sees it again without a new decision.
  const legs = await store.legsOf(ctx.pool, order.id);
  if (combinedInFlight(legs)) return fail('payment_in_progress', 'this order is being paid by a combined payment');
  if (inp.request.method && !inp.request.legs && legs.some((l) => l.status === 'pending' && l.method === inp.request.method && l.action !== null)) return ok({ kind: 'proceed' });
  const m = await ctx.merchants.get(order.merchantId, () => ctx.parties.getMerchant({ id: order.merchantId }));
  const category = typeof order.metadata['category'] === 'string' ? (order.metadata['category'] as string) : undefined;
  let invalid: PaymentsResult<never> | undefined;
  const claimed = [...(inp.claimed ?? []), ...(order.payerCustomerId !== null && !inp.payerVerified ? ['user' as const] : [])];
  const d = await ctx.risk.decide({
    id: `pay:${order.id}:${ctx.nextId()}`, kind: 'payment', at: now.getTime(), amount: order.amount, currency: order.currency, merchant: order.merchantId.toString(),
    ...(m.ok ? { merchant_mcc: m.value.mcc } : {}), ...(category ? { category } : {}), channel: inp.channel,
    ...(inp.cardId !== undefined ? { card: inp.cardId.toString() } : {}), ...(inp.deviceId ? { device: inp.deviceId } : {}), ...(inp.clientIp ? { ip: inp.clientIp } : {}),
    ...(order.payerCustomerId !== null ? { user: order.payerCustomerId.toString() } : {}),
    // Both were checked against the merchant's registered domains when the order was created.
    notify_url_ok: true, return_url_ok: true, ...(claimed.length > 0 ? { claimed } : {}),
  }, {
    subject: { kind: 'payment_order', id: order.id.toString() },
    // A request that names a card or account that does not exist is bad input: no case for it.
    beforeCase: async () => (invalid = await instrumentsFault(ctx, order, inp.request)) === undefined,
  });
  if (d.action === 'accept') return ok({ kind: 'proceed' });
  // A refusal says nothing about the request's card (a card tester must not learn which ids exist);
  // a challenge is sent only for a request that can be carried out.
  if (d.action === 'reject') return fail('risk_rejected', 'the payment was declined by risk control', { rule: d.rule });
  if (d.action === 'challenge') invalid = await instrumentsFault(ctx, order, inp.request);
  if (invalid) return invalid;
  const id = ctx.nextId();
  if (d.action === 'review') {
    if (!(await store.insertHold(ctx.pool, { id, orderId: order.id, kind: 'review', caseId: d.caseId, request: inp.request, codeHash: null, expiresAt: order.expiresAt, now }))) {
      return fail('payment_in_progress', 'a payment of this order is held by risk control');
    }
    ctx.log?.info({ order: order.orderNo, case: String(d.caseId), rule: d.rule }, 'payment held for risk review');
    return ok({ kind: 'review', caseId: d.caseId ?? 0n });
  }
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  if (!(await store.insertHold(ctx.pool, { id, orderId: order.id, kind: 'challenge', caseId: null, request: inp.request, codeHash: codeHash(id, code), expiresAt: new Date(now.getTime() + CHALLENGE_MS), now }))) {
    return fail('payment_in_progress', 'a payment of this order is held by risk control');
  }
  if (ctx.stepUp) await ctx.stepUp({ orderNo: order.orderNo, challengeId: id, code, payerCustomerId: order.payerCustomerId });
  else ctx.log?.warn({ order: order.orderNo, challenge: id.toString(), code }, 'step-up code (no SMS gateway configured: development only)');
  return ok({ kind: 'challenge', challengeId: id });
}

export interface Carried {
  order: PaymentOrder;
  action: PayAction | null;
  /** The held request needed the payer again (PIN, bank card): cleared, waiting for their submit. */
  waitingForPayer: boolean;
}

type Runner = (orderId: bigint, req: HeldRequest) => Promise<PaymentsResult<{ order: PaymentOrder; action: PayAction | null }>>;

/** Carries out a cleared hold's request (or leaves it cleared for the payer's own submit). */
async function carryOut(ctx: Ctx, hold: store.RiskHold, run: Runner): Promise<PaymentsResult<Carried>> {
  const now = ctx.clock.now();
  if (hold.request.needs_payer) return ok({ order: (await store.getOrder(ctx.pool, hold.orderId))!, action: null, waitingForPayer: true });
  if (!(await store.useHold(ctx.pool, hold.id, now))) return fail('payment_in_progress', 'the cleared payment is being carried out');
  const r = await run(hold.orderId, hold.request);
  // Carried out, whatever the answer (a decline, an insufficient balance): recovery leaves it be.
  await store.markHoldCarried(ctx.pool, hold.id, ctx.clock.now());
  if (!r.ok) return r;
  return ok({ ...r.value, waitingForPayer: false });
}

/**
 * An operator decided the case of a held payment. Rejected: the held request is cancelled, and the
 * order fails (`risk_rejected`) unless another attempt is under way (one that was screened before
 * the hold was opened). That attempt may still pay the order; if it fails, the order fails then
 * (review-block.ts): it is never reopened for a fresh decision.
 */
export async function resolveReview(ctx: Ctx, caseId: bigint, approved: boolean, run: Runner): Promise<void> {
  const hold = await store.holdOfCase(ctx.pool, caseId);
  if (!hold || hold.status !== 'open') return;
  const now = ctx.clock.now();
  if (!approved) {
    // The rejection and the order's failure are one transaction under the order's lock, so no
    // crash comes between them. An attempt ending concurrently waits for the lock (a channel's
    // answer) or finds the rejection once committed, and fails the order itself. One that ends
    // without the lock at this very moment may still put the order back to `created`; every new
    // attempt is refused then all the same, and the order fails when it is closed or expires.
    await withTx(ctx.pool, async (c) => {
      await store.getOrder(c, hold.orderId, true);
      if (!(await store.finishHold(c, hold.id, 'rejected', now))) return;
      const legs = await store.legsOf(c, hold.orderId);
      if (!legs.some((l) => LIVE_LEG.includes(l.status) || l.status === 'held')) {
        await store.updateOrder(c, hold.orderId, { status: 'failed', failure_code: 'risk_rejected' }, now);
      }
    });
    return;
  }
  if (!(await store.finishHold(ctx.pool, hold.id, 'cleared', now))) return;
  const r = await carryOut(ctx, { ...hold, status: 'cleared' }, run);
  if (!r.ok) ctx.log?.warn({ order: hold.orderId.toString(), code: r.code }, 'approved payment could not be carried out');
}

/**
 * Recovery: a review hold whose case was decided but whose handler did not run to the end (a crash,
 * a database error) is resolved here; one whose order expired is given up. So is an approved hold
 * that the handler cleared but did not get to carry out: it is carried out now, or given up when
 * its order can no longer be paid.
 */
export async function recoverReviews(ctx: Ctx, run: Runner, olderThanMs = 30_000): Promise<number> {
  if (!ctx.risk) return 0;
  const now = ctx.clock.now();
  const before = new Date(now.getTime() - olderThanMs);
  let n = 0;
  for (const h of await store.openReviewHolds(ctx.pool, before, 100)) {
    const status = h.caseId === null ? null : await ctx.risk.caseStatus(h.caseId);
    if (status === 'approved' || status === 'rejected') {
      await resolveReview(ctx, h.caseId!, status === 'approved', run);
      n++;
    } else if (h.expiresAt.getTime() <= now.getTime() || status === null) {
      if (await store.finishHold(ctx.pool, h.id, 'failed', now)) n++;
    }
  }
  for (const h of await store.strandedClearedReviews(ctx.pool, before, 100)) {
    const order = await store.getOrder(ctx.pool, h.orderId);
    if (!order || !payable(ctx, order).ok) {
      if (await store.finishHold(ctx.pool, h.id, 'failed', now, 'cleared')) n++;
      continue;
    }
    const r = await carryOut(ctx, h, run);
    if (!r.ok) ctx.log?.warn({ order: h.orderId.toString(), code: r.code }, 'approved payment could not be carried out');
    n++;
  }
  // Taken for carrying out, but the process died before the request was carried out to its end
  // and before it wrote anything: it is run again (a few times at most; one process takes each
  // try). Five minutes on, so a request still closing earlier attempts at their channels (before
  // it writes its own leg) is not run twice.
  for (const h of await store.strandedUsedReviews(ctx.pool, new Date(now.getTime() - USED_STRANDED_MS), USED_RETRIES, 100)) {
    if (!(await store.retakeUsedHold(ctx.pool, h.id, h.attempts, now))) continue;
    const r = await run(h.orderId, h.request);
    await store.markHoldCarried(ctx.pool, h.id, ctx.clock.now());
    if (!r.ok) ctx.log?.warn({ order: h.orderId.toString(), code: r.code }, 'approved payment could not be carried out');
    n++;
  }
  return n;
}

/** How many times in all the recovery job runs an approved request that never wrote a leg. */
const USED_RETRIES = 3;
const USED_STRANDED_MS = 5 * 60_000;

/** The payer typed the step-up code. Every try counts, taken atomically: parallel guesses get no more than five. */
export async function passChallenge(ctx: Ctx, inp: { orderId: bigint; challengeId: bigint; code: string }, run: Runner): Promise<PaymentsResult<Carried>> {
  const hold = await store.getHold(ctx.pool, inp.challengeId);
  if (!hold || hold.orderId !== inp.orderId || hold.kind !== 'challenge' || hold.codeHash === null) return fail('challenge_not_found', 'no such challenge for this order');
  const now = ctx.clock.now();
  const tries = await store.takeHoldAttempt(ctx.pool, hold.id, now, CHALLENGE_TRIES);
  if (tries === null) {
    const cur = (await store.getHold(ctx.pool, hold.id))!;
    if (cur.status !== 'open') return fail('challenge_not_found', `the challenge is ${cur.status}`);
    await store.finishHold(ctx.pool, hold.id, 'failed', now);
    if (cur.expiresAt.getTime() <= now.getTime()) return fail('challenge_expired', 'the code has expired; pay again for a new one');
    return fail('challenge_failed', 'too many wrong codes; pay again for a new one');
  }
  if (!timingSafeEqual(Buffer.from(codeHash(hold.id, inp.code), 'hex'), Buffer.from(hold.codeHash, 'hex'))) {
    if (tries >= CHALLENGE_TRIES) {
      await store.finishHold(ctx.pool, hold.id, 'failed', now);
      return fail('challenge_failed', 'too many wrong codes; pay again for a new one');
    }
    return fail('challenge_code_wrong', 'the code is wrong', { tries_left: CHALLENGE_TRIES - tries });
  }
  if (!(await store.finishHold(ctx.pool, hold.id, 'cleared', now))) return fail('challenge_not_found', 'the challenge was answered already');
  return carryOut(ctx, { ...hold, status: 'cleared' }, run);
}

/** The stored form of a pay request (cashier or merchant API). */
export function heldRequest(b: {
  method?: string; bank_card?: unknown; payer_open_id?: string; client_ip?: string;
  legs?: { kind: string; amount: number; card_id?: string; account_id?: string; method?: string; pin?: string; bank_card?: unknown }[];
}): HeldRequest {
  const needs = b.bank_card !== undefined || (b.legs ?? []).some((l) => l.pin !== undefined || l.bank_card !== undefined);
  return {
    ...(b.legs ? { legs: b.legs.map((l) => ({ kind: l.kind as 'card', amount: String(l.amount), ...(l.card_id ? { card_id: l.card_id } : {}), ...(l.account_id ? { account_id: l.account_id } : {}), ...(l.method ? { method: l.method as PayMethod } : {}) })) } : {}),
    ...(b.method ? { method: b.method } : {}),
    ...(b.payer_open_id ? { payer_open_id: b.payer_open_id } : {}),
    ...(b.client_ip ? { client_ip: b.client_ip } : {}),
    needs_payer: needs,
  };
}

/** The request's instruments checked (cards exist, balance accounts are the payer's): the fault, or undefined. */
async function instrumentsFault(ctx: Ctx, order: PaymentOrder, req: HeldRequest): Promise<PaymentsResult<never> | undefined> {
  if (!req.legs) return undefined;
  const r = await checkLegInstruments(ctx, order, legSpecsOf(req));
  return r.ok ? undefined : r;
}
