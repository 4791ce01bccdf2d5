/** The exactly-once skeleton shared by every money operation on a card (see money.ts). */
import { isUniqueViolation, withTx, type PoolClient } from '../../kernel/db.js';
import { businessDate } from '../../kernel/clock.js';
import { fail, ok } from '../../kernel/errors.js';
import * as store from './cards.store.js';
import { serialPerCard, type CardsResult, type Ctx } from './context.js';
import { legsOf, legToRecord, runLegs, type Leg } from './money.js';
import type { Card, CardTransaction, CardTxKind } from './types.js';

export interface Intent {
  kind: CardTxKind;
  amount: bigint;
  principalAmount?: bigint;
  bonusAmount?: bigint;
  feeAmount?: bigint;
  merchantId?: bigint | null;
  terminalId?: string | null;
  relatedId?: bigint | null;
  paymentMethod?: string | null;
  policyVersion: string;
  legs: Leg[];
  /** A promotional bonus granted by this operation expires then (recharges). */
  bonusExpiresAt?: Date | null;
  /** Facts the effects need when the operation is finished later (by a retry or recovery). */
  facts?: Record<string, string | null>;
  /** Reserves something on another record in the same transaction as the intent (refunds, voids). */
  reserve?: (db: PoolClient) => Promise<CardsResult<void>>;
}

export type Planner = (c: PoolClient, card: Card) => Promise<CardsResult<Intent>>;

/** What finishing an operation of a kind does besides moving money, and how to undo a reservation. */
export interface KindHooks {
  effects?: (c: PoolClient, card: Card, tx: CardTransaction) => Promise<void>;
  unreserve?: (c: PoolClient, tx: CardTransaction) => Promise<void>;
  /** Runs before the legs, under the card lock (e.g. lifting a loss-report debit freeze to move the balance). */
  prepare?: (c: PoolClient, card: Card, tx: CardTransaction) => Promise<void>;
  /**
   * Ledger refusals that mean the operation's aim was already reached without it (a release whose
   * hold the ledger has just expired): the operation then succeeds, and its effects run.
   */
  settledBy?: (ledgerCode: string) => boolean;
}

type Hooks = Partial<Record<CardTxKind, KindHooks>>;

/** Runs a pending operation to its end, under the card lock held by `c`. */
export async function complete(ctx: Ctx, hooks: Hooks, c: PoolClient, card: Card, tx: CardTransaction, currency: string): Promise<CardsResult<CardTransaction>> {
  const h = hooks[tx.kind] ?? {};
  await h.prepare?.(c, card, tx);
  let r = await runLegs(ctx, tx.id, currency, legsOf(tx));
  if (!r.ok && h.settledBy?.(String(r.details?.['ledger_code'] ?? ''))) r = ok(undefined);
  if (r.ok) {
    await h.effects?.(c, card, tx);
    await store.finishTx(c, tx.id, 'succeeded', null);
  } else {
    await h.unreserve?.(c, tx);
    await store.finishTx(c, tx.id, 'failed', r.code);
    // A refusal must be on disk before the caller hears it: if it were lost in a crash, recovery
    // would retry the legs and might move money after "declined" was answered.
    await c.query('SET LOCAL synchronous_commit TO on');
  }
  const done: CardTransaction = { ...tx, status: r.ok ? 'succeeded' : 'failed', failureCode: r.ok ? null : r.code };
  return r.ok ? ok(done) : fail(r.code, r.message, { transaction_id: tx.id.toString() });
}

function answer(tx: CardTransaction): CardsResult<CardTransaction> {
  return tx.status === 'failed' ? fail(tx.failureCode ?? 'ledger_rejected', 'this operation failed earlier', { transaction_id: tx.id.toString() }) : ok(tx);
}

export function execute(ctx: Ctx, hooks: Hooks, inp: { cardId: bigint; key: string; hash: string; currency: string; plan: Planner }): Promise<CardsResult<CardTransaction>> {
  return serialPerCard(ctx, inp.cardId, () => executeLocked(ctx, hooks, inp));
}

async function executeLocked(ctx: Ctx, hooks: Hooks, inp: { cardId: bigint; key: string; hash: string; currency: string; plan: Planner }): Promise<CardsResult<CardTransaction>> {
  // Commits on this path need not wait for their own WAL flush: a success is only answered after
  // the ledger's synchronous flush, which (WAL being sequential) makes the intent and everything
  // before it durable too; a lost success record is redone by recovery from the durable intent.
  // Refusals switch back to a synchronous commit (see complete).
  return withTx(ctx.lockPool, async (c) => {
    const card = await store.getCard(c, inp.cardId, true);
    if (!card) return fail('card_not_found', `card ${inp.cardId} does not exist`);
    // Checked under the lock: a concurrent retry with the same key waits here and then sees it.
    const { prior, pendingIds } = await store.priorAndPending(c, inp.key, card.id);
    if (prior) {
      if (prior.requestHash !== inp.hash || prior.tx.cardId !== card.id) return fail('idempotency_key_reused', 'this idempotency key was used for a different card operation');
      if (prior.tx.status === 'pending') return complete(ctx, hooks, c, card, prior.tx, inp.currency);
      return answer(prior.tx);
    }
    // Operations a crash left pending on this card are finished first: the new one must be planned
    // on the card as it will be once they are done (they may change its balance, holder or state).
    if (pendingIds.length > 0) {
      for (const id of pendingIds) {
        const t = (await store.getTx(c, id))!;
        try {
          await complete(ctx, ctx.recoveryHooks, c, card, t, inp.currency);
        } catch (e) {
          ctx.log?.error({ cardId: card.id.toString(), txId: id.toString(), err: (e as Error).message }, 'a pending card operation cannot be finished');
          return fail('card_operation_pending', 'an earlier operation on this card is still being resolved; try again later');
        }
      }
      // Re-read the card: the finished operations may have changed it.
      const fresh = (await store.getCard(c, card.id))!;
      Object.assign(card, fresh);
    }
    const p = await inp.plan(c, card);
    if (!p.ok) return p;
    const intent = p.value;
    const now = ctx.clock.now();
    const tx: store.NewTx = {
      id: ctx.nextId(),
      idempotencyKey: inp.key,
      requestHash: inp.hash,
      cardId: card.id,
      kind: intent.kind,
      amount: intent.amount,
      principalAmount: intent.principalAmount ?? 0n,
      bonusAmount: intent.bonusAmount ?? 0n,
      feeAmount: intent.feeAmount ?? 0n,
      merchantId: intent.merchantId ?? null,
      terminalId: intent.terminalId ?? null,
      relatedId: intent.relatedId ?? null,
      paymentMethod: intent.paymentMethod ?? null,
      businessDate: businessDate(now, ctx.businessTimeZone),
      policyVersion: intent.policyVersion,
      metadata: {
        legs: intent.legs.map(legToRecord),
        ...(intent.facts ? { facts: intent.facts } : {}),
      },
      createdAt: now,
      bonusExpiresAt: intent.bonusExpiresAt ?? null,
    };
    // The intent (and any reservation it makes) is committed on its own before money moves.
    const reserved = await withTx(ctx.pool, async (c2) => {
      if (intent.reserve) {
        const r = await intent.reserve(c2);
        if (!r.ok) return r;
      }
      await store.insertTx(c2, tx);
      return ok(undefined);
    }, { asyncCommit: true }).catch((e: unknown) => {
      // The same key is being used right now for an operation on another card.
      if (isUniqueViolation(e, 'card_transactions_idempotency_key_key')) return fail('idempotency_key_reused', 'this idempotency key is in use for another card operation');
      throw e;
    });
    if (!reserved.ok) return reserved;
    const { requestHash: _h, ...rest } = tx;
    const saved: CardTransaction = { ...rest, status: 'pending', refundedAmount: 0n, voided: false, failureCode: null };
    return complete(ctx, hooks, c, card, saved, inp.currency);
  }, { asyncCommit: true });
}

/** Finishes an operation left pending by a crash (used by retries and the recovery worker). */
export async function resume(ctx: Ctx, hooks: Hooks, txId: bigint, currency: string): Promise<CardsResult<CardTransaction>> {
  const t = await store.getTx(ctx.pool, txId);
  if (!t) return fail('transaction_not_found', `card transaction ${txId} does not exist`);
  return serialPerCard(ctx, t.cardId, () => withTx(ctx.lockPool, async (c) => {
    const card = await store.getCard(c, t.cardId, true);
    const tx = (await store.getTx(c, txId))!;
    if (tx.status !== 'pending' || !card) return answer(tx);
    return complete(ctx, hooks, c, card, tx, currency);
  }));
}
