/**
 * Batched consume authorization: concurrent consumes are gathered for a millisecond and decided
 * together, in ONE database transaction (`Ledger.transaction`) that
 *
 *   1. locks their cards in id order, skipping cards another transaction holds — those wait for a
 *      later batch, so batches run side by side instead of queueing on each other's locks;
 *   2. finds earlier answers under their keys and pending operations on their cards (one query),
 *      and reads every balance;
 *   3. decides in memory (several consumes on one card see each other);
 *   4. writes every card transaction (one statement) and posts the legs to the ledger (a linked
 *      chain per consume; the ledger checks the balances again under its own account locks,
 *      and a consume it refuses is marked failed), and commits.
 *
 * The card records and the money commit together or not at all, so this path needs no intent
 * record and no recovery; the answer is given after the commit is durable. Anything unusual — a
 * card with a PIN or with a pending operation, a key already used, a card held for too long — is
 * handed to the one-by-one path (operations.ts, with the intent-first protocol of money.ts).
 */
import { businessDate } from '../../kernel/clock.js';
import { isUniqueViolation } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import { availableBalance } from '../ledger/index.js';
import type { LedgerTx, TransferRequest } from '../ledger/index.js';
import * as store from './cards.store.js';
import { cachedProduct, type CardsResult, type Ctx } from './context.js';
import type { CardsErrorCode } from './errors.js';
import { legKey, mapLedgerCode, type Leg } from './money.js';
import { consumeHash, consumeOneByOne, planConsume, type ConsumeInput } from './operations.js';
import type { CardTransaction } from './types.js';

/**
 * A caller whose own records change in the same transaction as an attached consume (the payments
 * checkout: the order, its leg and the merchant notification). All of it commits with the card
 * records and the money, or none of it does.
 */
export interface BatchParticipant<D, R> {
  /**
   * Locks and checks the caller's records for its items, before the cards are locked. An item
   * answered with a reason here is not consumed (`refused`); null lets it go on.
   */
  prepare(tx: LedgerTx, items: readonly D[]): Promise<(R | null)[]>;
  /** Postings appended to the item's consume chain: they are made with the consume or not at all. */
  extraTransfers(d: D): TransferRequest[];
  /**
   * The caller's writes for the items decided in this batch: consumed, or refused by the card.
   * Called BEFORE the postings, as if the ledger accepted every consume — the merchant's payable
   * account, which every consume credits, is locked from the postings to the commit, and nothing
   * else should happen while it is.
   */
  record(tx: LedgerTx, done: readonly { data: D; result: CardsResult<CardTransaction> }[]): Promise<void>;
  /** Items the ledger then refused after all (a balance taken meanwhile outside the batch): undo what `record` wrote as paid. */
  amend(tx: LedgerTx, refused: readonly { data: D; result: CardsResult<CardTransaction> }[]): Promise<void>;
}

/**
 * What an attached consume comes to: decided in the batch (the participant's writes made with it),
 * refused by the participant, or not decidable in a batch (a PIN card, a card with pending work, a
 * key race) — then nothing was written and the caller takes its one-by-one path.
 */
export type AttachedOutcome<R> = { kind: 'decided'; result: CardsResult<CardTransaction> } | { kind: 'refused'; reason: R } | { kind: 'unbatched' };

interface Attachment {
  participant: BatchParticipant<unknown, unknown>;
  data: unknown;
}

interface Pending {
  inp: ConsumeInput;
  attach?: Attachment;
  /** How many batches found its card held by another transaction. */
  deferrals: number;
  resolve: (r: never) => void;
  reject: (e: unknown) => void;
}

interface Decision {
  /** Answers to give once the transaction is durable. */
  outcomes: [Pending, CardsResult<CardTransaction>][];
  /** Attached items their participant refused. */
  refused: [Pending, unknown][];
  /** For the one-by-one path. */
  later: Pending[];
  /** Their card was held by another transaction. */
  held: Pending[];
}

export class ConsumeBatcher {
  private queue: Pending[] = [];
  /** Requests whose card another batch holds; they rejoin the queue when a batch ends. */
  private deferred: Pending[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly opts: { windowMs: number; maxBatch: number; maxInFlight: number; maxDeferrals: number } = { windowMs: 1, maxBatch: 64, maxInFlight: 4, maxDeferrals: 4 },
  ) {}

  submit(inp: ConsumeInput): Promise<CardsResult<CardTransaction>> {
    return new Promise((resolve, reject) => {
      this.enqueue({ inp, deferrals: 0, resolve: resolve as (r: never) => void, reject });
    });
  }

  /** A consume decided together with the participant's own writes (see BatchParticipant). */
  submitAttached<D, R>(inp: ConsumeInput, participant: BatchParticipant<D, R>, data: D): Promise<AttachedOutcome<R>> {
    return new Promise((resolve, reject) => {
      this.enqueue({ inp, attach: { participant: participant as BatchParticipant<unknown, unknown>, data }, deferrals: 0, resolve: resolve as (r: never) => void, reject });
    });
  }

  /** Hands a request to the one-by-one path; an attached one goes back to its caller untouched. */
  private oneByOne(p: Pending): void {
    if (p.attach) (p.resolve as (r: AttachedOutcome<unknown>) => void)({ kind: 'unbatched' });
    else consumeOneByOne(this.ctx, p.inp).then(p.resolve as (r: CardsResult<CardTransaction>) => void, p.reject);
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    if (this.queue.length >= this.opts.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.windowMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        for (const p of this.deferred.splice(0)) this.enqueue(p);
        if (this.queue.length > 0) this.flush();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    let d: Decision;
    try {
      d = await this.decide(batch);
    } catch (e) {
      // A key of the batch was taken meanwhile (by another process, or for another card): nothing
      // was written, and the one-by-one path answers each key exactly.
      if (isUniqueViolation(e, 'card_transactions_idempotency_key_key')) {
        for (const p of batch) this.oneByOne(p);
        return;
      }
      for (const p of batch) p.reject(e);
      return;
    }
    for (const [p, r] of d.outcomes) (p.resolve as (x: unknown) => void)(p.attach ? { kind: 'decided', result: r } : r);
    for (const [p, reason] of d.refused) (p.resolve as (x: unknown) => void)({ kind: 'refused', reason });
    // A card another batch holds is tried again when a batch ends; one held too often (by a
    // one-by-one operation or another process) waits for its lock on the one-by-one path.
    for (const p of d.held) {
      p.deferrals++;
      if (p.deferrals > this.opts.maxDeferrals) d.later.push(p);
      else if (this.inFlight > 1) this.deferred.push(p);
      else this.enqueue(p);
    }
    for (const p of d.later) this.oneByOne(p);
  }

  private decide(batch: Pending[]): Promise<Decision> {
    // Runs again from the start if the ledger asks for it, so all state is local to one run.
    return this.ctx.ledger.transaction((tx) => this.decideIn(tx, batch));
  }

  private async decideIn(tx: LedgerTx, batch: Pending[]): Promise<Decision> {
    const d: Decision = { outcomes: [], refused: [], later: [], held: [] };
    // Participants lock and check their own records first (the order before the card, as the
    // payments module does everywhere); an item they refuse goes no further.
    const groups = new Map<BatchParticipant<unknown, unknown>, Pending[]>();
    for (const p of batch) if (p.attach) groups.set(p.attach.participant, [...(groups.get(p.attach.participant) ?? []), p]);
    const refusedHere = new Set<Pending>();
    for (const [part, ps] of groups) {
      const answers = await part.prepare(tx, ps.map((p) => p.attach!.data));
      ps.forEach((p, i) => {
        if (answers[i] !== null && answers[i] !== undefined) {
          d.refused.push([p, answers[i]]);
          refusedHere.add(p);
        }
      });
    }
    if (refusedHere.size > 0) batch = batch.filter((p) => !refusedHere.has(p));
    return this.decideCards(tx, batch, d);
  }

  /** Hands each participant its decided items (see BatchParticipant.record / amend). */
  private static async participants(tx: LedgerTx, outcomes: readonly [Pending, CardsResult<CardTransaction>][], phase: 'record' | 'amend'): Promise<void> {
    const by = new Map<BatchParticipant<unknown, unknown>, { data: unknown; result: CardsResult<CardTransaction> }[]>();
    for (const [p, result] of outcomes) if (p.attach) by.set(p.attach.participant, [...(by.get(p.attach.participant) ?? []), { data: p.attach.data, result }]);
    for (const [part, items] of by) await part[phase](tx, items);
  }

  private async decideCards(tx: LedgerTx, batch: Pending[], d: Decision): Promise<Decision> {
    const ctx = this.ctx;
    const c = tx.client;
    const cardIds = [...new Set(batch.map((p) => p.inp.cardId))].sort((a, b) => (a < b ? -1 : 1));
    const { cards, held } = await store.lockFreeCards(c, cardIds);
    const heldIds = new Set(held);
    const mine: Pending[] = [];
    for (const p of batch) (heldIds.has(p.inp.cardId) ? d.held : mine).push(p);
    const [{ priors, pendingCards }, accounts] = await Promise.all([
      store.priorsAndPendingCards(c, mine.map((p) => p.inp.idempotencyKey), [...cards.keys()]),
      tx.getAccounts([...cards.values()].flatMap((x) => [x.principalAccountId, x.bonusAccountId])),
    ]);
    const avail = new Map(accounts.map((a) => [a.id, availableBalance(a)]));
    const now = ctx.clock.now();
    const seenKeys = new Set<string>();
    const planned: { p: Pending; tx: store.NewTx; legs: Leg[] }[] = [];
    for (const p of mine) {
      const card = cards.get(p.inp.cardId);
      if (!card) {
        d.outcomes.push([p, fail('card_not_found', `card ${p.inp.cardId} does not exist`)]);
        continue;
      }
      // Retries, keys repeated in the batch, PIN cards and cards with pending work go one by one.
      if (priors.has(p.inp.idempotencyKey) || seenKeys.has(p.inp.idempotencyKey) || card.hasPin || pendingCards.has(card.id)) {
        d.later.push(p);
        continue;
      }
      seenKeys.add(p.inp.idempotencyKey);
      const product = (await cachedProduct(ctx, card.productId))!;
      const bal = { principal: avail.get(card.principalAccountId) ?? 0n, bonus: avail.get(card.bonusAccountId) ?? 0n };
      const plan = await planConsume(ctx, card, product, bal, p.inp);
      if (!plan.ok) {
        d.outcomes.push([p, plan]);
        continue;
      }
      const intent = plan.value;
      // Later consumes of the same card in this batch see what this one takes.
      avail.set(card.principalAccountId, bal.principal - (intent.principalAmount ?? 0n));
      avail.set(card.bonusAccountId, bal.bonus - (intent.bonusAmount ?? 0n));
      planned.push({
        p,
        tx: {
          id: ctx.nextId(), idempotencyKey: p.inp.idempotencyKey, requestHash: consumeHash(p.inp), cardId: card.id, kind: 'consume',
          amount: intent.amount, principalAmount: intent.principalAmount ?? 0n, bonusAmount: intent.bonusAmount ?? 0n, feeAmount: 0n,
          merchantId: intent.merchantId ?? null, terminalId: intent.terminalId ?? null, relatedId: null, paymentMethod: null,
          businessDate: businessDate(now, ctx.businessTimeZone), policyVersion: intent.policyVersion,
          metadata: { legs: intent.legs.map((l) => ({ leg: l.leg, debit: l.debitAccountId.toString(), credit: l.creditAccountId.toString(), amount: l.amount.toString(), code: l.code })) },
          createdAt: now,
        },
        legs: intent.legs,
      });
    }
    if (planned.length === 0) {
      await ConsumeBatcher.participants(tx, d.outcomes, 'record');
      return d;
    }
    const reqs: TransferRequest[] = [];
    const owner: number[] = [];
    planned.forEach((x, i) => {
      const legs = x.legs.filter((l) => l.amount > 0n);
      const extra = x.p.attach ? x.p.attach.participant.extraTransfers(x.p.attach.data).filter((t) => t.amount === undefined || t.amount > 0n) : [];
      const chain: TransferRequest[] = [
        ...legs.map((l) => ({ idempotencyKey: legKey(x.tx.id, l.leg), debitAccountId: l.debitAccountId, creditAccountId: l.creditAccountId, amount: l.amount, currency: 'CNY', code: l.code, metadata: { card_tx: x.tx.id.toString() } })),
        ...extra,
      ];
      chain.forEach((t, k) => {
        reqs.push({ ...t, linked: k < chain.length - 1 });
        owner.push(i);
      });
    });
    // The card transactions are written before the transfers, as succeeded: the merchant's
    // payable account, which every consume at that merchant credits, stays locked from the
    // transfers to the commit, so nothing else should happen in between. The rare consume the
    // ledger refuses (a balance taken meanwhile outside the cards module) is marked failed after.
    const decided = planned.map((x) => ({ ...x.tx, status: 'succeeded' as const, failureCode: null }));
    await store.insertDecidedTxs(c, decided);
    const answer = (x: (typeof planned)[number], code: CardsErrorCode | undefined): CardsResult<CardTransaction> => {
      const { requestHash: _h, ...rest } = x.tx;
      const done: CardTransaction = { ...rest, status: code ? 'failed' : 'succeeded', failureCode: code ?? null, refundedAmount: 0n, voided: false };
      return code ? fail(code, 'the ledger refused the payment', { transaction_id: x.tx.id.toString() }) : ok(done);
    };
    await ConsumeBatcher.participants(tx, [...d.outcomes, ...planned.map((x): [Pending, CardsResult<CardTransaction>] => [x.p, answer(x, undefined)])], 'record');
    const r = await tx.createTransfers(reqs);
    if (!r.ok) throw new Error(`ledger refused the batch: ${r.code}`);
    const failures = new Map<number, CardsErrorCode>();
    r.value.forEach((o, j) => {
      if (!o.ok && (o.code !== 'linked_event_failed' || !failures.has(owner[j]!))) failures.set(owner[j]!, mapLedgerCode(o.code));
    });
    if (failures.size > 0) {
      await store.markTxsFailed(c, [...failures].map(([i, code]) => ({ id: planned[i]!.tx.id, code })));
      await ConsumeBatcher.participants(tx, [...failures].map(([i, code]): [Pending, CardsResult<CardTransaction>] => [planned[i]!.p, answer(planned[i]!, code)]), 'amend');
    }
    planned.forEach((x, i) => d.outcomes.push([x.p, answer(x, failures.get(i))]));
    return d;
  }
}
