/**
 * Alipay asynchronous notifications (异步通知, notify_type=trade_status_sync): a form POST to the
 * notify_url given with the pay request, signed over every parameter except `sign` and
 * `sign_type`. The merchant acknowledges with the plain-text body `success`; any other answer
 * makes Alipay resend (over about 25 hours). Refunds are announced on the same URL with the refund
 * fields (out_biz_no, refund_fee, gmt_refund) added.
 */
import type { CallContext, ChannelEvent, HttpResponseData, NotificationResult, TradeStatus } from '../../adapter.js';
import { yuanToFen } from './alipay.answer.js';
import type { AlipayConfig } from './alipay.config.js';
import { parseChinaTime, rsa2Verify, signingContent } from './alipay.sign.js';

const ACK: HttpResponseData = { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'success' };
const NACK: HttpResponseData = { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'failure' };

type Failure = Extract<NotificationResult, { ok: false }>;

function fail(code: Failure['code'], message: string): Failure {
  return { ok: false, code, message, nack: NACK };
}

export function verifyAlipayNotification(cfg: AlipayConfig, req: { headers: Record<string, string>; body: string }, _cx: CallContext): NotificationResult {
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(req.body)) {
    if (Object.prototype.hasOwnProperty.call(params, k)) return fail('bad_format', `parameter ${k} appears twice`);
    params[k] = v;
  }
  const sign = params['sign'];
  if (!sign) return fail('bad_signature', 'the notification carries no sign');
  if (params['sign_type'] !== 'RSA2') return fail('bad_signature', `sign_type must be RSA2, got ${JSON.stringify(params['sign_type'] ?? null)}`);
  if (!rsa2Verify(signingContent(params, ['sign', 'sign_type']), sign, cfg.alipayPublicKey)) return fail('bad_signature', 'the notification signature does not verify');
  // A genuine notice for another app of ours (same Alipay key) must not move this account's payments.
  if (params['app_id'] !== cfg.appId) return fail('bad_signature', `the notification is for app ${params['app_id'] ?? '?'}, not ${cfg.appId}`);
  if (params['notify_type'] !== 'trade_status_sync') return fail('bad_format', `unexpected notify_type ${params['notify_type'] ?? '?'}`);
  const event = toEvent(params);
  if (typeof event === 'string') return fail('bad_format', event);
  return { ok: true, event, ack: ACK };
}

const STATUS: Record<string, TradeStatus> = {
  WAIT_BUYER_PAY: 'pending',
  TRADE_SUCCESS: 'succeeded',
  // TRADE_FINISHED: paid, and the refund window has ended.
  TRADE_FINISHED: 'succeeded',
  TRADE_CLOSED: 'closed',
};

function toEvent(p: Record<string, string>): ChannelEvent | string {
  const outTradeNo = p['out_trade_no'];
  const tradeNo = p['trade_no'];
  const tradeStatus = p['trade_status'] ?? '';
  if (!outTradeNo || !tradeNo) return 'out_trade_no and trade_no are required';
  const raw: Record<string, unknown> = { ...p };
  if (p['out_biz_no'] && p['refund_fee'] !== undefined) {
    // A refund notice. Alipay's refund_fee here is the trade's TOTAL refunded so far, not this
    // refund's amount (the notice names no per-refund amount); confirm a refund's own amount with
    // alipay.trade.fastpay.refund.query.
    const refundedMinor = yuanToFen(p['refund_fee']);
    if (refundedMinor === undefined) return `refund_fee ${p['refund_fee']} is not a yuan amount`;
    const ev: ChannelEvent = { type: 'refund', outTradeNo, outRefundNo: p['out_biz_no'], status: 'succeeded', refundMinor: refundedMinor, raw };
    const at = parseChinaTime(p['gmt_refund']);
    if (at) ev.refundedAt = at;
    return ev;
  }
  const status = STATUS[tradeStatus];
  if (!status) return `unknown trade_status ${tradeStatus}`;
  const amountMinor = yuanToFen(p['total_amount']);
  if (amountMinor === undefined) return `total_amount ${p['total_amount'] ?? '?'} is not a yuan amount`;
  const ev: ChannelEvent = { type: 'payment', outTradeNo, channelTradeNo: tradeNo, status, amountMinor, currency: 'CNY', raw };
  const paidAt = parseChinaTime(p['gmt_payment']);
  if (paidAt && status === 'succeeded') ev.paidAt = paidAt;
  return ev;
}
