/**
 * The JSON resources WeChat Pay returns and notifies: the transaction (查询订单 answer and the
 * decrypted TRANSACTION.* notification resource) and the refund (申请退款 / 查询单笔退款 answer, and
 * the REFUND.* notification resource), plus the notifications themselves.
 */
import { randomUUID } from 'node:crypto';
import type { SimContext } from './wechat-pay.context.js';
import { encryptResource, platformSignatureHeaders } from './wechat-pay.sign.js';
import { WechatPayState, type SimRefund, type SimTrade, type TradeState } from './wechat-pay.state.js';
import { chinaRfc3339 } from './wechat-pay.time.js';

const STATE_DESC: Record<TradeState, string> = {
  SUCCESS: '支付成功',
  REFUND: '订单发生过退款',
  NOTPAY: '订单未支付',
  CLOSED: '订单已关闭',
  USERPAYING: '用户支付中，需要输入密码',
  PAYERROR: '支付失败，请重新下单支付',
};

/** `amountDeltaMinor` only for the wrong-amount notification fault. */
export function transactionResource(t: SimTrade, amountDeltaMinor = 0): Record<string, unknown> {
  const state = WechatPayState.visibleState(t);
  const paid = t.successAt !== undefined;
  const total = t.totalMinor + amountDeltaMinor;
  return {
    appid: t.appid,
    mchid: t.mchid,
    out_trade_no: t.outTradeNo,
    ...(t.transactionId ? { transaction_id: t.transactionId } : {}),
    trade_type: t.tradeType,
    trade_state: state,
    trade_state_desc: STATE_DESC[state],
    ...(paid ? { bank_type: 'OTHERS' } : {}),
    attach: t.attach ?? '',
    ...(t.successAt ? { success_time: chinaRfc3339(t.successAt) } : {}),
    ...((t.payerOpenid ?? t.openid) ? { payer: { openid: t.payerOpenid ?? t.openid } } : {}),
    amount: { total, ...(paid ? { payer_total: total } : {}), currency: 'CNY', payer_currency: 'CNY' },
  };
}

export function refundResource(t: SimTrade, r: SimRefund): Record<string, unknown> {
  return {
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    transaction_id: t.transactionId,
    out_trade_no: t.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(r.successAt ? { success_time: chinaRfc3339(r.successAt) } : {}),
    create_time: chinaRfc3339(r.createdAt),
    status: r.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: t.totalMinor,
      refund: r.refundMinor,
      payer_total: t.totalMinor,
      payer_refund: r.refundMinor,
      settlement_refund: r.refundMinor,
      settlement_total: t.totalMinor,
      discount_refund: 0,
      currency: 'CNY',
    },
  };
}

function refundNotifyResource(t: SimTrade, r: SimRefund, amountDeltaMinor: number): Record<string, unknown> {
  const refund = r.refundMinor + amountDeltaMinor;
  return {
    mchid: t.mchid,
    transaction_id: t.transactionId,
    out_trade_no: t.outTradeNo,
    refund_id: r.refundId,
    out_refund_no: r.outRefundNo,
    refund_status: r.status,
    ...(r.successAt ? { success_time: chinaRfc3339(r.successAt) } : {}),
    user_received_account: '支付用户零钱',
    amount: { total: t.totalMinor, refund, payer_total: t.totalMinor, payer_refund: refund },
  };
}

function notify(ctx: SimContext, mchid: string, url: string, key: string, eventType: string, summary: string, originalType: string, resource: Record<string, unknown>): void {
  const record = ctx.merchants.get(mchid);
  if (!record) return;
  const now = new Date();
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: chinaRfc3339(now),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary,
    resource: { original_type: originalType, ...encryptResource(record.merchant.apiV3Key, JSON.stringify(resource), originalType) },
  });
  const headers = { 'Content-Type': 'application/json', 'User-Agent': 'Mozilla/4.0', ...platformSignatureHeaders(ctx.platform, body, now) };
  ctx.notifier().send({ url, headers, body, key });
}

/** TRANSACTION.SUCCESS to the order's notify_url. WeChat notifies successful payments only. */
export function notifyPayment(ctx: SimContext, t: SimTrade): void {
  const delta = ctx.faults().notifyAmountDeltaMinor;
  notify(ctx, t.mchid, t.notifyUrl, `${t.outTradeNo}:TRANSACTION.SUCCESS`, 'TRANSACTION.SUCCESS', '支付成功', 'transaction', transactionResource(t, delta));
}

const REFUND_EVENTS = { SUCCESS: ['REFUND.SUCCESS', '退款成功'], ABNORMAL: ['REFUND.ABNORMAL', '退款异常'], CLOSED: ['REFUND.CLOSED', '退款关闭'] } as const;

/** REFUND.SUCCESS / ABNORMAL / CLOSED to the refund's notify_url, when the refund request named one. */
export function notifyRefund(ctx: SimContext, t: SimTrade, r: SimRefund): void {
  if (!r.notifyUrl || r.status === 'PROCESSING') return;
  const [eventType, summary] = REFUND_EVENTS[r.status];
  const delta = ctx.faults().notifyAmountDeltaMinor;
  notify(ctx, t.mchid, r.notifyUrl, `${r.outRefundNo}:${eventType}`, eventType, summary, 'refund', refundNotifyResource(t, r, delta));
}
