/**
 * Batched consume authorization: concurrent consumes are gathered for a millisecond and decided
 * together, the way the ledger batches transfers — one transaction locks all their cards (in id
 * order), one query finds earlier answers and pending operations, one query reads every balance,
 * the decisions are made in memory (several consumes on one card see each other), all intents are
 * written by one statement and committed before money moves, the legs go to the ledger as one
 * request (a linked chain per consume), and one statement records the outcomes. The exactly-once
 * protocol is the same as the one-by-one path (money.ts); anything unusual — a card with a PIN or
 * with a pending operation, a key already used — is handed to the one-by-one path afterwards.
 */
import { businessDate } from '../../kernel/clock.js';
import { isUniqueViolation, withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import { availableBalance } from '../ledger/index.js';
import type { TransferRequest } from '../ledger/index.js';
import * as store from './cards.store.js';
import { cachedProduct, type CardsResult, type Ctx } from './context.js';
import { legKey, mapLedgerCode, type Leg } from './money.js';
import { consumeHash, consumeOneByOne, planConsume, type ConsumeInput } from './operations.js';
import type { CardsErrorCode } from './errors.js';
import type { CardTransaction } from './types.js';

interface Pending {
  inp: ConsumeInput;
  resolve: (r: CardsResult<CardTransaction>) => void;
  reject: (e: unknown) => void;
}

export class ConsumeBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly opts: { windowMs: number; maxBatch: number; maxInFlight: number } = { windowMs: 1, maxBatch: 400, maxInFlight: 2 },
  ) {}

  submit(inp: ConsumeInput): Promise<CardsResult<CardTransaction>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ inp, resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.windowMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.flush();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    let later: Pending[];
    try {
      later = await this.decide(batch);
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    // Handed over after the batch's locks are released.
    for (const p of later) consumeOneByOne(this.ctx, p.inp).then(p.resolve, p.reject);
  }

  /** Decides the batch; returns the requests the one-by-one path must take. */
  private async decide(batch: Pending[]): Promise<Pending[]> {
    const ctx = this.ctx;
    const later: Pending[] = [];
    const outcomes: [Pending, CardsResult<CardTransaction>][] = [];
    const cardIds = [...new Set(batch.map((p) => p.inp.cardId))].sort((a, b) => (a < b ? -1 : 1));
    await withTx(ctx.lockPool, async (c) => {
      const cards = await store.lockCards(c, cardIds);
      const { priors, pendingCards } = await store.priorsAndPendingCards(c, batch.map((p) => p.inp.idempotencyKey), cardIds);
      const accounts = await ctx.ledger.getAccounts([...cards.values()].flatMap((x) => [x.principalAccountId, x.bonusAccountId]));
      const avail = new Map(accounts.map((a) => [a.id, availableBalance(a)]));
      const now = ctx.clock.now();
      const seenKeys = new Set<string>();
      const planned: { p: Pending; tx: store.NewTx; legs: Leg[] }[] = [];
      for (const p of batch) {
        const card = cards.get(p.inp.cardId);
        // Refusals decided before anything is written need no commit to be true.
        const answer = (r: CardsResult<CardTransaction>): void => p.resolve(r);
        if (!card) {
          answer(fail('card_not_found', `card ${p.inp.cardId} does not exist`));
          continue;
        }
        // Retries, keys repeated in the batch, PIN cards and cards with pending work go one by one.
        if (priors.has(p.inp.idempotencyKey) || seenKeys.has(p.inp.idempotencyKey) || card.hasPin || pendingCards.has(card.id)) {
          later.push(p);
          continue;
        }
        seenKeys.add(p.inp.idempotencyKey);
        const product = (await cachedProduct(ctx, card.productId))!;
        const bal = { principal: avail.get(card.principalAccountId) ?? 0n, bonus: avail.get(card.bonusAccountId) ?? 0n };
        const plan = await planConsume(ctx, card, product, bal, p.inp);
        if (!plan.ok) {
          answer(plan);
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
      if (planned.length === 0) return;
      // The intents are committed before money moves (made durable by the ledger's flush). If one
      // of the keys was taken meanwhile (another process, another card), nothing was written and
      // the whole batch goes the one-by-one way, which answers each key exactly.
      const written = await withTx(ctx.pool, (c2) => store.insertTxs(c2, planned.map((x) => x.tx)), { asyncCommit: true }).then(
        () => true,
        (e: unknown) => {
          if (isUniqueViolation(e)) return false;
          throw e;
        },
      );
      if (!written) {
        later.push(...planned.map((x) => x.p));
        return;
      }
      const reqs: TransferRequest[] = [];
      const owner: number[] = [];
      planned.forEach((x, i) => {
        const legs = x.legs.filter((l) => l.amount > 0n);
        legs.forEach((l, k) => {
          reqs.push({ idempotencyKey: legKey(x.tx.id, l.leg), debitAccountId: l.debitAccountId, creditAccountId: l.creditAccountId, amount: l.amount, currency: 'CNY', code: l.code, linked: k < legs.length - 1, metadata: { card_tx: x.tx.id.toString() } });
          owner.push(i);
        });
      });
      const r = await ctx.ledger.createTransfers(reqs);
      if (!r.ok) throw new Error(`ledger refused the batch: ${r.code}`);
      const failures = new Map<number, CardsErrorCode>();
      r.value.forEach((o, j) => {
        if (!o.ok && (o.code !== 'linked_event_failed' || !failures.has(owner[j]!))) failures.set(owner[j]!, mapLedgerCode(o.code));
      });
      await store.finishTxs(c, planned.map((x, i) => ({ id: x.tx.id, status: failures.has(i) ? ('failed' as const) : ('succeeded' as const), code: failures.get(i) ?? null })));
      // Refusals must be durable before they are answered (see execute.ts); successes ride on the ledger's flush.
      if (failures.size > 0) await c.query('SET LOCAL synchronous_commit TO on');
      else await c.query('SET LOCAL synchronous_commit TO off');
      // Answered only after the commit below (a refusal must be on disk before it is heard).
      planned.forEach((x, i) => {
        const { requestHash: _h, ...rest } = x.tx;
        const code = failures.get(i);
        const done: CardTransaction = { ...rest, status: code ? 'failed' : 'succeeded', failureCode: code ?? null, refundedAmount: 0n, voided: false };
        outcomes.push([x.p, code ? fail(code, 'the ledger refused the payment', { transaction_id: x.tx.id.toString() }) : ok(done)]);
      });
    });
    for (const [p, r] of outcomes) p.resolve(r);
    return later;
  }
}
