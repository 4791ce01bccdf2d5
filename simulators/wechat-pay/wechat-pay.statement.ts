/**
 * The trade bill (交易账单) file for one merchant and China business date, bill_type ALL (SUCCESS
 * and REFUND give the payment rows or the refund rows only), in WeChat's published layout:
 *
 *   交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,
 *   货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,
 *   商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
 *   `2021-01-28 17:07:11,`wx81be3101902f7cb2,`1601959334,`0,`,`4200000925…,`S2021…,`ofyak5…,`NATIVE,`SUCCESS,…
 *   总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
 *   `3,`0.03,`0.00,`0.00,`0.00000,`0.03,`0.00
 *
 * Amounts are yuan with two decimals, fees with five (WeChat rounds the fee to the fen; a refund
 * row gives back its share of the fee as a negative fee). Payment rows are dated by payment
 * success, refund rows by refund acceptance — a snapshot, as WeChat's bills are. Lines end in
 * CRLF; the detail and summary rows prefix every field with a backtick. The layout was checked
 * against published example files; the exact refund-row fee sign convention could not be confirmed.
 */
import type { WechatPayMerchant } from './wechat-pay.keys.js';
import type { SimRefund, SimTrade, WechatPayState } from './wechat-pay.state.js';
import { chinaDateTime } from './wechat-pay.time.js';

export type BillType = 'ALL' | 'SUCCESS' | 'REFUND';

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const SUMMARY_HEADER = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

/** Fen as yuan with two decimals ("-0.05"). */
export function yuan(fen: number): string {
  const abs = Math.abs(fen);
  return `${fen < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A fee in fen as yuan with five decimals, WeChat's fee format ("0.06000"). */
function feeYuan(fen: number): string {
  return `${yuan(fen)}000`;
}

/** The fee on an amount at a rate in basis points, rounded half up to the fen. */
export function feeFen(amountFen: number, rateBps: number): number {
  return Math.floor((amountFen * rateBps + 5000) / 10_000);
}

function rateText(rateBps: number): string {
  return `${(rateBps / 100).toFixed(2)}%`;
}

function row(fields: readonly string[]): string {
  return fields.map((f) => '`' + f).join(',');
}

function paymentRow(t: SimTrade, rateBps: number): { text: string; orderFen: number; feeFen: number } {
  const fee = feeFen(t.totalMinor, rateBps);
  const text = row([
    chinaDateTime(t.successAt!),
    t.appid,
    t.mchid,
    '0',
    '',
    t.transactionId!,
    t.outTradeNo,
    t.payerOpenid ?? '',
    t.tradeType,
    'SUCCESS',
    'OTHERS',
    'CNY',
    yuan(t.totalMinor),
    '0.00',
    '0',
    '0',
    '0.00',
    '0.00',
    '',
    '',
    t.description,
    t.attach ?? '',
    feeYuan(fee),
    rateText(rateBps),
    yuan(t.totalMinor),
    '0.00',
    '',
  ]);
  return { text, orderFen: t.totalMinor, feeFen: fee };
}

function refundRow(t: SimTrade, r: SimRefund, rateBps: number): { text: string; refundFen: number; feeFen: number } {
  const fee = -feeFen(r.refundMinor, rateBps);
  const text = row([
    chinaDateTime(r.createdAt),
    t.appid,
    t.mchid,
    '0',
    '',
    t.transactionId!,
    t.outTradeNo,
    t.payerOpenid ?? '',
    t.tradeType,
    'REFUND',
    'OTHERS',
    'CNY',
    '0.00',
    '0.00',
    r.refundId,
    r.outRefundNo,
    yuan(r.refundMinor),
    '0.00',
    'ORIGINAL',
    r.status,
    t.description,
    t.attach ?? '',
    feeYuan(fee),
    rateText(rateBps),
    '0.00',
    yuan(r.refundMinor),
    '',
  ]);
  return { text, refundFen: r.refundMinor, feeFen: fee };
}

/** The bill bytes, or undefined when the day has no rows (WeChat: NO_STATEMENT_EXIST). */
export function buildTradeBill(state: WechatPayState, merchant: WechatPayMerchant, date: string, type: BillType, rateBps: number): Buffer | undefined {
  const { payments, refunds } = state.billRows(merchant.mchid, date);
  const pays = type === 'REFUND' ? [] : payments.map((t) => paymentRow(t, rateBps));
  const refs = type === 'SUCCESS' ? [] : refunds.map(({ trade, refund }) => refundRow(trade, refund, rateBps));
  if (pays.length + refs.length === 0) return undefined;
  const orderFen = pays.reduce((a, p) => a + p.orderFen, 0);
  const refundFen = refs.reduce((a, r) => a + r.refundFen, 0);
  const fees = [...pays, ...refs].reduce((a, x) => a + x.feeFen, 0);
  const summary = row([String(pays.length + refs.length), yuan(orderFen), yuan(refundFen), '0.00', feeYuan(fees), yuan(orderFen), yuan(refundFen)]);
  const lines = [HEADER, ...pays.map((p) => p.text), ...refs.map((r) => r.text), SUMMARY_HEADER, summary];
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

