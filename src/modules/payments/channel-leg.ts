/**
 * One channel attempt of a leg: the request to the channel and what its answer means for the leg.
 * The leg (with its out_trade_no) is on record before this is called, so an answer lost in a crash
 * can always be asked for again.
 */
import { businessDate, businessDayRange } from '../../kernel/clock.js';
import type { PayAction, PayMethod, PayResult, RouteDecision } from '../channels/index.js';
import { baseUrl, outTradeNo, type Ctx } from './context.js';
import * as store from './payments.store.js';
import { applyChannelFact } from './settle.js';
import type { PaymentLeg, PaymentOrder } from './types.js';
import { DEFAULT_QUERY_BACKOFF_MS } from './context.js';

export interface AttemptExtras {
  bankCard?: { agreementNo?: string; cardNo?: string; holderName?: string; idNumber?: string; phone?: string; bankCode?: string };
  payerOpenId?: string;
  clientIp?: string;
}

export function nextQueryAt(ctx: Ctx, attempts: number): Date {
  const s = ctx.queryBackoffMs ?? DEFAULT_QUERY_BACKOFF_MS;
  return new Date(ctx.clock.now().getTime() + s[Math.min(attempts, s.length - 1)]!);
}

export function channelNotifyUrl(ctx: Ctx, accountId: bigint): string {
  return `${baseUrl(ctx)}/v1/channel-notify/${accountId}`;
}

/** Routes a payment of `amount` by `method` for the order's merchant, excluding accounts already tried. */
export async function routeFor(ctx: Ctx, order: PaymentOrder, method: PayMethod, amount: bigint, exclude: ReadonlySet<bigint>, bankCode?: string): Promise<RouteDecision> {
  const { start } = businessDayRange(businessDate(ctx.clock.now()));
  const used = await store.channelVolumeSince(ctx.pool, start);
  return ctx.channels.route({ merchantId: order.merchantId, method, amountMinor: amount, currency: order.currency, usedTodayMinor: used, exclude, ...(bankCode ? { bankCode } : {}) });
}

/** Sends the leg's payment to the channel and records what the answer proves. */
export async function attemptChannel(ctx: Ctx, order: PaymentOrder, leg: PaymentLeg, account: { id: bigint }, extras: AttemptExtras): Promise<PayResult> {
  const r = await ctx.channels.pay(account.id, {
    outTradeNo: leg.outTradeNo!, amountMinor: leg.amount, currency: order.currency, subject: order.subject, expiresAt: order.expiresAt, notifyUrl: channelNotifyUrl(ctx, account.id),
    method: leg.method!, ...(order.returnUrl ? { returnUrl: order.returnUrl } : {}), ...(extras.clientIp ? { clientIp: extras.clientIp } : {}),
    ...(extras.payerOpenId ? { payerOpenId: extras.payerOpenId } : {}), ...(extras.bankCard ? { bankCard: extras.bankCard } : {}),
  });
  const now = ctx.clock.now();
  switch (r.kind) {
    case 'accepted':
      await store.updateLeg(ctx.pool, leg.id, { status: 'pending', channel_trade_no: r.channelTradeNo ?? null, action: JSON.stringify(r.action), next_query_at: nextQueryAt(ctx, 0) }, now);
      break;
    case 'succeeded':
      await applyChannelFact(ctx, leg.id, { status: 'succeeded', channelTradeNo: r.channelTradeNo, amountMinor: r.amountMinor, currency: r.currency, paidAt: r.paidAt }, 'pay');
      break;
    case 'unknown':
      await store.updateLeg(ctx.pool, leg.id, { status: 'unknown', failure_message: r.reason.slice(0, 500), next_query_at: nextQueryAt(ctx, 0) }, now);
      break;
    case 'declined':
      // Proven that no money moved: this attempt is over.
      await store.updateLeg(ctx.pool, leg.id, { status: 'failed', failure_code: `${r.retryable ? 'declined_retryable' : 'declined'}:${r.code}`.slice(0, 100), failure_message: r.message.slice(0, 500), next_query_at: null }, now);
      break;
  }
  return r;
}

/** A combined payment's channel leg: routed and paid (no failover: a refusal fails the whole payment). */
export async function payChannelLeg(ctx: Ctx, order: PaymentOrder, leg: PaymentLeg, bankCard: Record<string, string> | undefined): Promise<{ action: PayAction | null }> {
  // A leg that already has its out_trade_no was sent (or is being sent) by someone: it is never
  // sent again — only asked about, on its own account, by the query job.
  if (leg.outTradeNo !== null) {
    await store.updateLeg(ctx.pool, leg.id, { status: 'unknown', next_query_at: ctx.clock.now() }, ctx.clock.now());
    return { action: null };
  }
  const decision = await routeFor(ctx, order, leg.method!, leg.amount, new Set(), bankCard?.['bankCode']);
  const account = decision.ranked[0];
  const now = ctx.clock.now();
  if (!account) {
    await store.updateLeg(ctx.pool, leg.id, { status: 'failed', failure_code: 'no_channel_available', failure_message: decision.trace.explanation.slice(0, 500) }, now);
    return { action: null };
  }
  const no = outTradeNo(leg.id);
  if (!(await store.assignLegChannel(ctx.pool, leg.id, { channelAccountId: account.id, outTradeNo: no, routeTrace: { ...decision.trace, chosen: account.code } }, now))) return { action: null };
  const r = await attemptChannel(ctx, order, { ...leg, channelAccountId: account.id, outTradeNo: no }, account, bankCard ? { bankCard } : {});
  return { action: r.kind === 'accepted' ? r.action : null };
}
