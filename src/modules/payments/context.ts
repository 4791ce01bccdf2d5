/** What the payments use cases share: dependencies, system accounts, and small helpers. */
import { createHash } from 'node:crypto';
import type { Clock } from '../../kernel/clock.js';
import type { Pool } from '../../kernel/db.js';
import { fail, ok, type Result } from '../../kernel/errors.js';
import { businessNo } from '../../kernel/ids.js';
import type { Logger } from '../../kernel/logger.js';
import type { Cards } from '../cards/index.js';
import type { ChannelAccountRow, Channels, FeeSchedule } from '../channels/index.js';
import { TtlCache } from '../../kernel/ttl-cache.js';
import type { Ledger, LedgerTx, TransferRequest } from '../ledger/index.js';
import type { Parties } from '../parties/index.js';
import type { PaymentsErrorCode } from './errors.js';
import * as store from './payments.store.js';

export type PaymentsResult<T> = Result<T, PaymentsErrorCode>;

export interface PaymentsDeps {
  pool: Pool;
  clock: Clock;
  nextId: () => bigint;
  ledger: Ledger;
  parties: Parties;
  channels: Channels;
  cards?: Cards;
  log?: Logger;
  /** Base URL channels reach us at, for their notify_url (e.g. https://pay.example.com); a function when known only after listening. */
  publicBaseUrl: string | (() => string);
  /** What the platform charges merchants (posted as fee income when an order succeeds). Default 0.6%. */
  merchantFee?: FeeSchedule;
  /** Delays before the 1st, 2nd, ... merchant notification attempt (the last is followed by dead-lettering). */
  notifyScheduleMs?: readonly number[];
  /** Delays between queries of a channel trade whose outcome we do not know yet. */
  queryBackoffMs?: readonly number[];
  defaultExpiryMinutes?: number;
  /** How many channel legs a combined payment may have (组合支付: operator setting). */
  maxChannelLegs?: number;
  /** Hold timeout for card and balance legs of combined payments (beyond the order's expiry). */
  holdGraceSeconds?: number;
  /** The risk engine, asked before every payment attempt at the cashier (risk-gate.ts). */
  risk?: import('./risk-gate.js').PaymentRiskPort;
  /** Delivers a step-up code to the payer (an SMS gateway); without it the code is only logged. */
  stepUp?: (x: { orderNo: string; challengeId: bigint; code: string; payerCustomerId: bigint | null }) => Promise<void>;
}

/** About 24 hours in all: 0s, 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 1h, 3h, 3h, 3h, 6h, 6h. */
export const DEFAULT_NOTIFY_SCHEDULE_MS: readonly number[] = [0, 15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600].map((s) => s * 1000);
export const DEFAULT_QUERY_BACKOFF_MS: readonly number[] = [5, 10, 30, 60, 120, 300, 600, 1800].map((s) => s * 1000);

export interface Ctx extends PaymentsDeps {
  systemAccounts: Map<string, bigint>;
  /** A merchant's settlement (payable) ledger account never changes once opened. */
  payables: Map<bigint, bigint>;
  channelAccounts: TtlCache<bigint, ChannelAccountRow | undefined>;
  payerBalances: TtlCache<string, bigint>;
  /** Merchants as order creation checks them (status, notification domains): stale for at most 5 s. */
  merchants: TtlCache<bigint, Awaited<ReturnType<Parties['getMerchant']>>>;
}

export function makeCtx(deps: PaymentsDeps): Ctx {
  return { ...deps, systemAccounts: new Map(), payables: new Map(), channelAccounts: new TtlCache(5_000), payerBalances: new TtlCache(5_000), merchants: new TtlCache(5_000) };
}

/** A channel account (cached briefly: code paths inside ledger transactions must not wait for the pool). */
export async function channelAccount(ctx: Ctx, id: bigint): Promise<ChannelAccountRow> {
  const a = await ctx.channelAccounts.get(id, async () => {
    const r = await ctx.channels.getAccount(id);
    return r.ok ? r.value : undefined;
  });
  if (!a) throw new Error(`channel account ${id} does not exist`);
  return a;
}

export function requestHash(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))).digest('hex');
}

/** The platform's fee income account in a currency (created on first use, by ref). */
export async function feeIncomeAccount(ctx: Ctx, currency: string): Promise<bigint> {
  const ref = `payments:fee_income:${currency}`;
  const have = ctx.systemAccounts.get(ref);
  if (have !== undefined) return have;
  const r = await ctx.ledger.createAccount({ ref, type: 'income', currency, subjectCode: '600101', name: 'payment fee income' });
  if (!r.ok) throw new Error(`fee income account: ${r.message}`);
  ctx.systemAccounts.set(ref, r.value.account.id);
  return r.value.account.id;
}

/** What a merchant owes the platform (refunds advanced beyond its balance): 1122 receivable, per merchant. */
export async function merchantAdvanceAccount(ctx: Ctx, merchantId: bigint, currency: string): Promise<bigint> {
  const ref = `payments:merchant_advance:${merchantId}:${currency}`;
  const have = ctx.systemAccounts.get(ref);
  if (have !== undefined) return have;
  const r = await ctx.ledger.createAccount({ ref, type: 'asset', currency, subjectCode: '1122', name: `refunds advanced to merchant ${merchantId}`, ownerId: merchantId });
  if (!r.ok) throw new Error(`merchant advance account: ${r.message}`);
  ctx.systemAccounts.set(ref, r.value.account.id);
  return r.value.account.id;
}

export async function merchantPayable(ctx: Ctx, merchantId: bigint): Promise<PaymentsResult<bigint>> {
  const have = ctx.payables.get(merchantId);
  if (have !== undefined) return ok(have);
  const p = await ctx.parties.merchantPayee({ merchantId });
  if (!p.ok) return fail('merchant_not_found', `merchant ${merchantId} does not exist`);
  if (ctx.payables.size > 100_000) ctx.payables.clear();
  ctx.payables.set(merchantId, p.value.settlementLedgerAccountId);
  return ok(p.value.settlementLedgerAccountId);
}

/** Loads what the postings of an order will need, before a ledger transaction starts. */
export async function warm(ctx: Ctx, order: { merchantId: bigint; currency: string }, channelAccountIds: readonly (bigint | null)[] = []): Promise<void> {
  await merchantPayable(ctx, order.merchantId);
  await feeIncomeAccount(ctx, order.currency);
  for (const id of channelAccountIds) if (id !== null) await channelAccount(ctx, id);
}

/** Posts transfers inside a ledger transaction; any refusal is a programming or data error here. */
export async function postAll(tx: LedgerTx, reqs: TransferRequest[]): Promise<void> {
  const real = reqs.filter((r) => r.amount === undefined || r.amount > 0n);
  if (real.length === 0) return;
  const r = await tx.createTransfers(real);
  if (!r.ok) throw new Error(`ledger refused postings: ${r.code}`);
  const bad = r.value.find((o) => !o.ok && o.code !== 'linked_event_failed') ?? r.value.find((o) => !o.ok);
  if (bad && !bad.ok) throw new Error(`ledger refused a posting: ${bad.code} ${bad.message}`);
}

export function outTradeNo(legId: bigint): string {
  return businessNo('T', legId);
}

export async function alert(ctx: Ctx, db: Pool | LedgerTx['client'], kind: string, severity: 'info' | 'warning' | 'critical', orderId: bigint | null, legId: bigint | null, details: Record<string, unknown>): Promise<void> {
  await store.raiseAlert(db, { id: ctx.nextId(), kind, severity, orderId, legId, details, now: ctx.clock.now() });
  ctx.log?.warn({ kind, orderId: orderId?.toString(), legId: legId?.toString() }, 'payment alert raised');
}

/** The payer's stored-value balance account (topup_then_pay): its first active balance account in the order's currency. */
export async function payerBalance(ctx: Ctx, order: { payerCustomerId: bigint | null; currency: string }): Promise<bigint> {
  return ctx.payerBalances.get(`${order.payerCustomerId}:${order.currency}`, async () => {
    const list = await ctx.parties.listAccounts({ customerId: order.payerCustomerId!, limit: 50 });
    const a = list.ok ? list.value.find((x) => x.account.kind === 'balance' && x.account.currency === order.currency && x.account.status === 'active') : undefined;
    if (!a) throw new Error(`payer ${order.payerCustomerId} has no active ${order.currency} balance account`);
    return a.account.ledgerAccountId;
  });
}

export function baseUrl(ctx: Ctx): string {
  const u = typeof ctx.publicBaseUrl === 'function' ? ctx.publicBaseUrl() : ctx.publicBaseUrl;
  return u.replace(/\/$/, '');
}
