/**
 * Builds Alipay's asynchronous notifications (notify_type=trade_status_sync): form-encoded, signed
 * with Alipay's private key over every parameter except `sign` and `sign_type`, posted to the
 * notify_url of the pay request. Refunds are announced on the same URL, adding out_biz_no (the
 * out_request_no), refund_fee (the trade's total refunded so far), send_back_fee (what this refund
 * sent back; here its amount, the documented meaning being 商户实际退款给用户的金额) and gmt_refund.
 *
 * Alipay announces TRADE_SUCCESS, TRADE_FINISHED and TRADE_CLOSED (timeout close, or full refund);
 * WAIT_BUYER_PAY is not announced by default. Whether Alipay announces a refund for every product
 * (当面付 included) could not be confirmed; the simulator announces them for both.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import type { Faults } from '../common/faults.js';
import type { OutgoingNotification } from '../common/notifier.js';
import { beijing, contentToSign, signRsa2, yuan } from './alipay.crypto.js';
import { refundedFen, type TradeEvent } from './alipay.state.js';

export function buildNotification(ev: TradeEvent, alipayKey: KeyObject, faults: Faults, now: Date): OutgoingNotification | undefined {
  const t = ev.trade;
  if (!t.notifyUrl) return undefined;
  const shownFen = t.totalFen + BigInt(faults.notifyAmountDeltaMinor);
  const paid = t.paidAt !== undefined;
  const p: Record<string, string> = {
    notify_time: beijing(now),
    notify_type: 'trade_status_sync',
    notify_id: randomUUID().replace(/-/g, ''),
    app_id: t.appId,
    auth_app_id: t.appId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    trade_no: t.tradeNo,
    out_trade_no: t.outTradeNo,
    buyer_id: `2088${t.tradeNo.slice(-12)}`,
    buyer_logon_id: `159****${t.tradeNo.slice(-4)}`,
    seller_id: t.pid,
    trade_status: t.state,
    total_amount: yuan(shownFen),
    receipt_amount: paid ? yuan(shownFen) : '0.00',
    invoice_amount: paid ? yuan(shownFen) : '0.00',
    buyer_pay_amount: paid ? yuan(shownFen) : '0.00',
    point_amount: '0.00',
    subject: t.subject,
    gmt_create: beijing(t.scannedAt ?? t.createdAt),
  };
  if (t.paidAt) {
    p['gmt_payment'] = beijing(t.paidAt);
    p['fund_bill_list'] = JSON.stringify([{ amount: yuan(shownFen), fundChannel: 'ALIPAYACCOUNT' }]);
  }
  if (t.closedAt && t.state === 'TRADE_CLOSED') p['gmt_close'] = beijing(t.closedAt);
  let key = `${t.outTradeNo}:${t.state}`;
  if (ev.type === 'refund') {
    p['out_biz_no'] = ev.refund.outRequestNo;
    p['refund_fee'] = yuan(refundedFen(t));
    p['send_back_fee'] = yuan(ev.refund.amountFen);
    p['gmt_refund'] = beijing(ev.refund.at, true);
    key = `${t.outTradeNo}:refund:${ev.refund.outRequestNo}`;
  }
  p['sign'] = signRsa2(contentToSign(p, ['sign', 'sign_type']), alipayKey);
  return {
    url: t.notifyUrl,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams(p).toString(),
    key,
  };
}
