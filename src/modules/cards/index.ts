/**
 * The cards module's public surface (预付卡): products, batch issue, sale and activation, recharge,
 * consume, void, refund, holds for combined payments (hold / capture / release), PIN, freeze,
 * loss report and replacement, balances and history.
 * Money moves only through the ledger; see money.ts for the exactly-once protocol.
 */
import { fail, ok } from '../../kernel/errors.js';
import type { Secret } from '../../kernel/secret.js';
import * as store from './cards.store.js';
import { makeCtx, type CardsDeps, type CardsResult, type Ctx } from './context.js';
import type { CardEvent } from './domain/lifecycle.js';
import type { PaymentMethod } from './domain/policy.js';
import type { SignedOfflineDebit } from './domain/ecash.js';
import { resume } from './execute.js';
import * as holds from './holds.js';
import * as issuance from './issuance.js';
import * as life from './lifecycle-ops.js';
import { expireBonuses } from './bonus-expiry.js';
import { ConsumeBatcher, type BatchParticipant } from './consume-batcher.js';
import * as offline from './offline.js';
import * as ops from './operations.js';
import * as products from './products.js';
import * as reports from './reports.js';
import type { Card, CardProduct, CardStatus, CardTransaction, CardTxKind, HoldState } from './types.js';

export type { Card, CardProduct, CardStatus, CardTransaction, CardTxKind, CardsDeps, CardsResult, HoldState, PaymentMethod };
export type { AttachedOutcome, BatchParticipant } from './consume-batcher.js';
export { DEFAULT_CARD_POLICY } from './domain/policy.js';
export { maskedNumber } from './issuance.js';
export { PURSE_LIMIT_MINOR } from './offline.js';
export { MAX_HOLD_TIMEOUT_SECONDS } from './holds.js';
export { lastQuarter, reportCsv, DEFAULT_ESCROW_BPS } from './reports.js';
export { CardPurse, tornRetryDecision, type SignedOfflineDebit } from './domain/ecash.js';

export class Cards {
  private readonly ctx: Ctx;
  private timers: NodeJS.Timeout[] = [];

  constructor(deps: CardsDeps) {
    this.ctx = makeCtx(deps);
    this.ctx.recoveryHooks = life.allHooks(this.ctx, 'system');
    if (deps.batchConsumes !== false) this.ctx.consumeBatcher = new ConsumeBatcher(this.ctx);
  }

  createProduct(inp: products.CreateProductInput) {
    return products.createProduct(this.ctx, inp);
  }
  getProduct(id: bigint) {
    return products.getProduct(this.ctx, id);
  }
  listProducts(inp: { afterId?: bigint; limit: number }): Promise<CardProduct[]> {
    return store.listProducts(this.ctx.pool, inp);
  }
  addAcceptingMerchant(inp: { productId: bigint; merchantId: bigint }) {
    return products.addAcceptingMerchant(this.ctx, inp);
  }
  async acceptingMerchants(productId: bigint): Promise<bigint[]> {
    return store.listAcceptance(this.ctx.pool, productId);
  }

  issueBatch(inp: { productId: bigint; count: number }) {
    return issuance.issueBatch(this.ctx, inp);
  }
  batchNumbers(batchId: bigint) {
    return issuance.batchNumbers(this.ctx, batchId);
  }
  findCardByNumber(number: string) {
    return issuance.findCardByNumber(this.ctx, number);
  }
  getCard(id: bigint) {
    return issuance.getCard(this.ctx, id);
  }
  listCards(inp: { productId?: bigint; status?: CardStatus; holderCustomerId?: bigint; batchId?: bigint; afterId?: bigint; limit: number }): Promise<Card[]> {
    return store.listCards(this.ctx.pool, inp);
  }
  cardEvents(cardId: bigint) {
    return store.listEvents(this.ctx.pool, cardId);
  }

  sell(inp: ops.SellInput & { actor?: string }) {
    return ops.sell(this.ctx, inp);
  }
  /** One purchase of several cards, judged by the policy on its total. */
  sellPurchase(inp: ops.PurchaseInput) {
    return ops.sellPurchase(this.ctx, inp);
  }
  recharge(inp: { cardId: bigint; idempotencyKey: string; amountMinor: bigint; paymentMethod: PaymentMethod }) {
    return ops.recharge(this.ctx, inp);
  }
  consume(inp: ops.ConsumeInput) {
    return ops.consume(this.ctx, inp);
  }
  /** A consume made in one transaction with the participant's own writes (see BatchParticipant). */
  consumeAttached<D, R>(inp: ops.ConsumeInput, participant: BatchParticipant<D, R>, data: D) {
    return ops.consumeAttached(this.ctx, inp, participant, data);
  }
  voidConsume(inp: { cardId: bigint; idempotencyKey: string; transactionId: bigint }) {
    return ops.voidConsume(this.ctx, inp);
  }
  /**
   * Refund of a consume or of a captured hold: `transactionId` is the consume, or the capture (the
   * hold's id also works and stands for its capture). Money goes back to the card or its replacement.
   */
  refund(inp: { idempotencyKey: string; transactionId: bigint; amountMinor: bigint }) {
    return ops.refund(this.ctx, inp);
  }

  // ---- holds for combined payments (组合支付) -----------------------------------------------------
  /** Holds part of the card's balance for a merchant (ledger pending transfers that time out by themselves). */
  hold(inp: holds.HoldInput): Promise<CardsResult<CardTransaction>> {
    return holds.hold(this.ctx, inp);
  }
  /** Pays a held amount to the merchant in full; `hold_not_active` if it was released, expired or captured. */
  captureHold(inp: { holdTransactionId: bigint; idempotencyKey: string }): Promise<CardsResult<CardTransaction>> {
    return holds.captureHold(this.ctx, inp);
  }
  /** Gives a held amount back; succeeds if nothing is held any more; `hold_captured` after a capture. */
  releaseHold(inp: { holdTransactionId: bigint; idempotencyKey: string }): Promise<CardsResult<CardTransaction>> {
    return holds.releaseHold(this.ctx, inp);
  }
  /** Records holds past their timeout as expired; returns how many. */
  expireHolds(): Promise<number> {
    return holds.expireHolds(this.ctx);
  }
  balance(cardId: bigint) {
    return ops.cardBalance(this.ctx, cardId);
  }
  async getTransaction(id: bigint): Promise<CardsResult<CardTransaction>> {
    const t = await store.getTx(this.ctx.pool, id);
    return t ? ok(t) : fail('transaction_not_found', `card transaction ${id} does not exist`);
  }
  listTransactions(inp: { cardId?: bigint; kind?: CardTxKind; merchantId?: bigint; from?: Date; to?: Date; afterId?: bigint; limit: number }): Promise<CardTransaction[]> {
    return store.listTxs(this.ctx.pool, inp);
  }

  /** Load value onto the card's offline purse (圈存). */
  purseLoad(inp: { cardId: bigint; idempotencyKey: string; amountMinor: bigint }) {
    return offline.purseLoad(this.ctx, inp);
  }
  /** Apply a terminal's uploaded offline debits, each exactly once. */
  uploadOffline(inp: { merchantId: bigint; terminalId: string; records: readonly SignedOfflineDebit[] }) {
    return offline.uploadOffline(this.ctx, inp);
  }
  /** The chip key personalised into a card (for card personalisation and the card simulator). */
  purseKey(cardId: bigint): Buffer {
    return offline.purseKey(this.ctx, cardId);
  }

  setPin(inp: { cardId: bigint; pin: Secret }) {
    return life.setPin(this.ctx, inp);
  }
  changeState(inp: { cardId: bigint; event: CardEvent; reason: string; actor?: string }) {
    return life.changeState(this.ctx, inp);
  }
  replace(inp: { cardId: bigint; idempotencyKey: string; paymentMethod: PaymentMethod; reason: string; actor?: string }) {
    return life.replace(this.ctx, inp);
  }
  /** Redemption (赎回) of a named card: principal paid out to the holder, bonus cancelled, card closed. */
  redeem(inp: { cardId: bigint; idempotencyKey: string; method: 'cash' | 'bank_account'; holderNameMatches: boolean; reason: string; actor?: string }) {
    return life.redeem(this.ctx, inp);
  }

  /** Finishes card operations a crash left pending (their intent is recorded; money moves once). */
  async recoverPending(olderThanMs = 30_000): Promise<number> {
    const ids = await store.pendingTxIds(this.ctx.pool, new Date(this.ctx.clock.nowMs() - olderThanMs), 200);
    let done = 0;
    for (const id of ids) {
      // One operation that cannot be finished must not stop the others; it is logged and retried.
      try {
        await resume(this.ctx, this.ctx.recoveryHooks, id, 'CNY');
        done++;
      } catch (e) {
        this.ctx.log?.error({ txId: id.toString(), err: (e as Error).message }, 'card operation recovery failed');
      }
    }
    return done;
  }

  lapseLossReports(): Promise<number> {
    return life.lapseLossReports(this.ctx);
  }

  expireCards(): Promise<number> {
    return life.expireCards(this.ctx);
  }

  /** Forfeits promotional bonus past its own expiry (to breakage income); returns grants dealt with. */
  expireBonuses(): Promise<number> {
    return expireBonuses(this.ctx);
  }

  // ---- reports ----------------------------------------------------------------------------------
  outstandingReport(at?: Date) {
    return reports.outstanding(this.ctx, at);
  }
  escrowReport(inp: { quarter: string; ratios?: Partial<Record<'A' | 'B' | 'C', number>> }) {
    return reports.escrow(this.ctx, inp);
  }
  dormantReport(days: number) {
    return reports.dormant(this.ctx, days);
  }
  breakageReport() {
    return reports.breakage(this.ctx);
  }

  startWorkers(intervalMs = 15_000): void {
    const run = (f: () => Promise<unknown>) => () => void f().catch((e: unknown) => this.ctx.log?.warn({ err: (e as Error).message }, 'card worker failed'));
    const t1 = setInterval(run(() => this.recoverPending()), intervalMs);
    const t2 = setInterval(run(async () => {
      await this.lapseLossReports();
      await this.expireCards();
      await this.expireBonuses();
      await this.expireHolds();
    }), intervalMs * 4);
    t1.unref();
    t2.unref();
    this.timers.push(t1, t2);
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
