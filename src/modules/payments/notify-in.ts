/**
 * Channel notifications (异步通知) as they arrive at /v1/channel-notify/{channel account}. Nothing
 * changes unless the adapter verified the provider's signature (and decrypted the body where the
 * provider encrypts it); every notification is logged with what we made of it, and suspicious ones
 * (forged, for another account's trade, with a wrong amount) raise an alert. A wrong amount never
 * changes the order: the trade is queried at once instead, and the query answer decides.
 */
import type { HttpResponseData } from '../channels/adapter.js';
import { alert, type Ctx } from './context.js';
import * as store from './payments.store.js';
import { driveRefund } from './refunds.js';
import { applyChannelFact } from './settle.js';

export interface NotifyOutcome {
  answer: HttpResponseData;
  /** Orders whose combined payment should be driven on after this notification. */
  touchedOrderId?: bigint;
  combined?: boolean;
}

export async function receiveChannelNotification(ctx: Ctx, accountId: bigint, req: { headers: Record<string, string>; body: string }): Promise<NotifyOutcome> {
  const now = ctx.clock.now();
  const account = await ctx.channels.getAccount(accountId);
  if (!account.ok) return { answer: { status: 404, headers: { 'content-type': 'text/plain' }, body: 'unknown channel account' } };
  const v = await ctx.channels.verifyNotification(accountId, req);
  const log = (verified: boolean, outTradeNo: string | null, event: unknown, outcome: string) =>
    store.logChannelNotification(ctx.pool, { id: ctx.nextId(), channelAccountId: accountId, at: now, verified, outTradeNo, event, outcome });
  if (!v.ok) {
    await log(false, null, null, `${v.code}: ${v.message}`.slice(0, 500));
    await alert(ctx, ctx.pool, 'unverified_channel_notification', 'warning', null, null, { channel_account: account.value.code, code: v.code, message: v.message });
    return { answer: v.nack };
  }
  const e = v.event;
  if (e.type === 'refund') {
    const part = await store.partByOutRefundNo(ctx.pool, e.outRefundNo);
    await log(true, e.outTradeNo, e, part ? 'refund: queried' : 'refund: unknown out_refund_no');
    if (part) {
      // Providers differ in what a refund notice carries (Alipay's is cumulative); the refund query is the one answer used.
      await store.updatePart(ctx.pool, part.id, { next_query_at: now }, now);
      await driveRefund(ctx, part.refundId);
    }
    return { answer: v.ack };
  }
  const leg = await store.legByOutTradeNo(ctx.pool, e.outTradeNo);
  if (!leg) {
    await log(true, e.outTradeNo, e, 'unknown out_trade_no');
    await alert(ctx, ctx.pool, 'notification_for_unknown_trade', 'info', null, null, { channel_account: account.value.code, out_trade_no: e.outTradeNo });
    return { answer: v.ack };
  }
  if (leg.channelAccountId !== accountId) {
    await log(true, e.outTradeNo, e, 'trade belongs to another channel account');
    await alert(ctx, ctx.pool, 'notification_account_mismatch', 'critical', leg.orderId, leg.id, { channel_account: account.value.code });
    return { answer: { status: 400, headers: { 'content-type': 'application/json' }, body: '{"code":"FAIL","message":"trade of another account"}' } };
  }
  const r = await applyChannelFact(ctx, leg.id, { status: e.status, channelTradeNo: e.channelTradeNo, amountMinor: e.amountMinor, currency: e.currency, paidAt: e.paidAt }, 'notification');
  await log(true, e.outTradeNo, e, r.applied);
  if (r.applied === 'mismatch') await store.updateLeg(ctx.pool, leg.id, { next_query_at: now }, now);
  return { answer: v.ack, touchedOrderId: r.orderId, combined: r.combined };
}
