/** What every cards use case needs: the database, clock, ids, the ledger, parties, keys, system accounts. */
import { createHash } from 'node:crypto';
import type { Clock } from '../../kernel/clock.js';
import type { Pool } from '../../kernel/db.js';
import { fail, ok, type Result } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { MasterKey } from '../../kernel/secret.js';
import type { Ledger } from '../ledger/index.js';
import type { Parties } from '../parties/index.js';
import type { CardsErrorCode } from './errors.js';
import * as store from './cards.store.js';
import type { PaymentMethod } from './domain/policy.js';
import { TtlCache } from '../../kernel/ttl-cache.js';
import type { CardProduct, CardTxKind } from './types.js';
import type { KindHooks } from './execute.js';

export interface CardsDeps {
  pool: Pool;
  /**
   * Connections that hold a card's row lock for the length of one operation. Kept apart from
   * `pool` (short queries) and from the ledger's pool: an operation holding a lock connection also
   * takes short-lived connections from those, and if all three came from one bounded pool,
   * enough concurrent operations would each hold one connection while waiting for another.
   */
  lockPool: Pool;
  clock: Clock;
  nextId: () => bigint;
  ledger: Ledger;
  parties: Pick<Parties, 'merchantPayee' | 'getCustomer'>;
  /**
   * The risk engine's hook (风控): asked before every consume is authorized. Without one, every
   * authorization that passes the card's own checks goes through.
   */
  /** Authorize concurrent consumes in batches (default true); false keeps the one-by-one path. */
  batchConsumes?: boolean;
  authorize?: (event: { idempotencyKey: string; cardId: bigint; productId: bigint; merchantId: bigint; amountMinor: bigint; terminalId: string | null }) => Promise<'accept' | 'reject'>;
  masterKey: MasterKey;
  businessTimeZone: string;
  log?: Logger;
}

export type CardsResult<T> = Result<T, CardsErrorCode>;

export interface Ctx extends CardsDeps {
  /** Key of the card-number permutation (distinct numbers that do not look sequential). */
  numberKey: Buffer;
  /** Key of the card-number lookup hash. */
  lookupKey: Buffer;
  /** Issuer master key of the offline e-cash purses. */
  ecashKey: Buffer;
  systemAccounts: Map<string, bigint>;
  /** Operations on one card queue here first, so waiters for a busy card hold no connection. */
  cardQueues: Map<bigint, Promise<unknown>>;
  /**
   * Hot-path facts, at most a few seconds stale: a merchant suspended or a product changed takes
   * effect on authorizations within CACHE_TTL_MS.
   */
  payees: TtlCache<bigint, Awaited<ReturnType<Parties['merchantPayee']>>>;
  products: TtlCache<bigint, CardProduct | undefined>;
  acceptance: TtlCache<string, boolean>;
  /** Hooks of every operation kind, for finishing operations left pending (set by the Cards facade). */
  recoveryHooks: Partial<Record<CardTxKind, KindHooks>>;
  /** Batches concurrent consume authorizations (set by the Cards facade). */
  consumeBatcher?: Pick<import('./consume-batcher.js').ConsumeBatcher, 'submit' | 'submitAttached'>;
}

export const CACHE_TTL_MS = 5_000;

export function makeCtx(deps: CardsDeps): Ctx {
  return {
    ...deps,
    numberKey: deps.masterKey.deriveKey('paycore/cards/number-permutation/v1'),
    lookupKey: deps.masterKey.deriveKey('paycore/cards/number-lookup/v1'),
    ecashKey: deps.masterKey.deriveKey('paycore/cards/ecash-issuer/v1'),
    systemAccounts: new Map(),
    cardQueues: new Map(),
    payees: new TtlCache(CACHE_TTL_MS, () => deps.clock.nowMs()),
    products: new TtlCache(CACHE_TTL_MS, () => deps.clock.nowMs()),
    acceptance: new TtlCache(CACHE_TTL_MS, () => deps.clock.nowMs()),
    recoveryHooks: {},
  };
}

/**
 * The platform's own ledger accounts the card postings use (DESIGN.md §3): where the money of a
 * payment method arrives (cash, reserve funds at the bank, channel receivable), fee income, the
 * promotion expense that funds bonuses, and breakage income. Created on first use, by ref.
 */
export type SystemAccount = `funding:${PaymentMethod}` | 'fee_income' | 'promotion_expense' | 'breakage_income';

const SYSTEM_ACCOUNTS: Record<SystemAccount, { type: 'asset' | 'income' | 'expense'; subjectCode: string; name: string }> = {
  'funding:cash': { type: 'asset', subjectCode: '1001', name: 'cash received for cards' },
  'funding:bank_transfer': { type: 'asset', subjectCode: '101101', name: 'reserve funds (bank transfers for cards)' },
  'funding:debit_card': { type: 'asset', subjectCode: '113104', name: 'receivable from banks (card payments)' },
  'funding:credit_card': { type: 'asset', subjectCode: '113104', name: 'receivable from banks (credit cards, never used for cards)' },
  'funding:channel': { type: 'asset', subjectCode: '113104', name: 'receivable from payment channels' },
  fee_income: { type: 'income', subjectCode: '600101', name: 'card fee income' },
  promotion_expense: { type: 'expense', subjectCode: '660101', name: 'card bonus promotions' },
  breakage_income: { type: 'income', subjectCode: '630101', name: 'card breakage income' },
};

export async function systemAccount(ctx: Ctx, which: SystemAccount, currency: string): Promise<Result<bigint, CardsErrorCode>> {
  const ref = `cards:${which}:${currency}`;
  const cached = ctx.systemAccounts.get(ref);
  if (cached !== undefined) return ok(cached);
  const spec = SYSTEM_ACCOUNTS[which];
  const r = await ctx.ledger.createAccount({ ref, type: spec.type, currency, subjectCode: spec.subjectCode, name: spec.name });
  if (!r.ok) return fail(r.code, r.message);
  ctx.systemAccounts.set(ref, r.value.account.id);
  return ok(r.value.account.id);
}

/** A stable fingerprint of a request, to tell a retry from a different request under the same key. */
export function requestHash(v: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)))
    .digest('hex');
}

/** Runs `fn` after every earlier operation of this process on the same card has finished. */
export function serialPerCard<T>(ctx: Ctx, cardId: bigint, fn: () => Promise<T>): Promise<T> {
  const before = ctx.cardQueues.get(cardId) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => undefined);
  ctx.cardQueues.set(cardId, tail);
  void tail.then(() => {
    if (ctx.cardQueues.get(cardId) === tail) ctx.cardQueues.delete(cardId);
  });
  return run;
}

export function cachedPayee(ctx: Ctx, merchantId: bigint): ReturnType<Parties['merchantPayee']> {
  return ctx.payees.get(merchantId, () => ctx.parties.merchantPayee({ merchantId }));
}

export function cachedProduct(ctx: Ctx, id: bigint): Promise<CardProduct | undefined> {
  return ctx.products.get(id, () => store.getProduct(ctx.pool, id));
}

export function cachedAcceptance(ctx: Ctx, productId: bigint, merchantId: bigint): Promise<boolean> {
  return ctx.acceptance.get(`${productId}:${merchantId}`, () => store.accepts(ctx.pool, productId, merchantId));
}
