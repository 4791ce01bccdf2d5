/**
 * Alipay OpenAPI adapter (支付宝开放平台, gateway.do, RSA2 public-key mode).
 *
 * Methods: `alipay_qr` is 当面付 预下单 (alipay.trade.precreate → qr_code); `alipay_page` is 电脑网站支付
 * (alipay.trade.page.pay). Page pay has no server-to-server call of its own: the signed parameters
 * are a form the payer's browser posts to the gateway. `buildPay` still describes that request (a
 * harmless preflight POST that answers with the cashier page, or an error page when the
 * parameters are refused), and `parsePay` hands the same signed parameters to the cashier as a
 * `form_post` action.
 *
 * Alipay creates a QR/page trade only when the payer scans the code or logs in on the cashier;
 * before that, query and close answer ACQ.TRADE_NOT_EXIST although the code can still be paid until
 * its time_expire. So `not_found` from a query before expiry is not the end of a payment, and a
 * close answered ACQ.TRADE_NOT_EXIST is reported as declined, not as closed.
 */
import { formatMajor } from '../../../../kernel/money.js';
import type {
  CallContext,
  ChannelAdapter,
  CloseResult,
  HttpRequestSpec,
  HttpResponseData,
  PayMethod,
  PayRequest,
  PayResult,
  QueryResult,
  RefundQueryResult,
  RefundRequest,
  RefundResult,
  StatementResult,
  TradeStatus,
} from '../../adapter.js';
import { readAnswer, refusal, yuanToFen, type VerifiedAnswer } from './alipay.answer.js';
import { parseAlipayConfig, type AlipayConfig } from './alipay.config.js';
import { verifyAlipayNotification } from './alipay.notify.js';
import { call, gatewayRequest, signedParams } from './alipay.request.js';
import { chinaTime, parseChinaTime } from './alipay.sign.js';
import { isZip, parseBillZip } from './alipay.statement.js';

export type { AlipayConfig } from './alipay.config.js';

const M = {
  precreate: 'alipay.trade.precreate',
  pagePay: 'alipay.trade.page.pay',
  query: 'alipay.trade.query',
  close: 'alipay.trade.close',
  refund: 'alipay.trade.refund',
  refundQuery: 'alipay.trade.fastpay.refund.query',
  bill: 'alipay.data.dataservice.bill.downloadurl.query',
} as const;

/**
 * 40004 sub_codes of the pay APIs that prove no trade was created, with whether another channel may
 * try. Everything else (ACQ.SYSTEM_ERROR; ACQ.TRADE_HAS_SUCCESS, which means this out_trade_no is
 * already paid; ACQ.CONTEXT_INCONSISTENT, an existing trade with other content) is unknown.
 */
const PAY_DECLINES: ReadonlyMap<string, boolean> = new Map([
  ['ACQ.INVALID_PARAMETER', false],
  ['ACQ.TRADE_HAS_CLOSE', false],
  ['ACQ.INVALID_STORE_ID', false],
  ['ACQ.ACCESS_FORBIDDEN', true],
  ['ACQ.PARTNER_ERROR', true],
  ['ACQ.EXIST_FORBIDDEN_WORD', true],
  ['ACQ.TOTAL_FEE_EXCEED', true],
  ['ACQ.SELLER_BEEN_BLOCKED', true],
  ['ACQ.BEYOND_PER_RECEIPT_RESTRICTION', true],
  ['ACQ.BEYOND_PAY_RESTRICTION', true],
  ['ACQ.SECONDARY_MERCHANT_STATUS_ERROR', true],
]);

/**
 * 40004 sub_codes of alipay.trade.refund that prove the refund was not made (over-refund, balance,
 * state). ACQ.SYSTEM_ERROR and ACQ.DISCORDANT_REPEAT_REQUEST (this out_request_no already names a
 * refund of another amount) are unknown.
 */
const REFUND_DECLINES: ReadonlyMap<string, boolean> = new Map(
  [
    'ACQ.INVALID_PARAMETER',
    'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
    'ACQ.REASON_TRADE_REFUND_FEE_ERR',
    'ACQ.REFUND_FEE_ERROR',
    'ACQ.SELLER_BALANCE_NOT_ENOUGH',
    'ACQ.REASON_TRADE_BEEN_FREEZEN',
    'ACQ.TRADE_NOT_EXIST',
    'ACQ.TRADE_STATUS_ERROR',
    'ACQ.TRADE_HAS_FINISHED',
    'ACQ.TRADE_NOT_ALLOW_REFUND',
    'ACQ.ACCESS_FORBIDDEN',
  ].map((c) => [c, false] as const),
);

const CLOSE_DECLINES: ReadonlyMap<string, boolean> = new Map([['ACQ.INVALID_PARAMETER', false]]);

const TRADE_STATUS: Record<string, TradeStatus> = { WAIT_BUYER_PAY: 'pending', TRADE_SUCCESS: 'succeeded', TRADE_FINISHED: 'succeeded', TRADE_CLOSED: 'closed' };

function assertCny(currency: string): void {
  // Domestic Alipay settles CNY only; routing another currency here is a bug upstream.
  if (currency !== 'CNY') throw new Error(`Alipay accepts CNY only, got ${currency}`);
}

function payBiz(cfg: AlipayConfig, req: PayRequest): Record<string, unknown> {
  assertCny(req.currency);
  const biz: Record<string, unknown> = {
    out_trade_no: req.outTradeNo,
    total_amount: formatMajor(req.amountMinor, 'CNY'),
    subject: Array.from(req.subject).slice(0, 256).join(''),
    product_code: req.method === 'alipay_page' ? 'FAST_INSTANT_TRADE_PAY' : 'FACE_TO_FACE_PAYMENT',
    time_expire: chinaTime(req.expiresAt),
  };
  if (cfg.sellerId) biz['seller_id'] = cfg.sellerId;
  return biz;
}

function pagePayParams(cfg: AlipayConfig, req: PayRequest, cx: CallContext): Record<string, string> {
  return signedParams(cfg, M.pagePay, payBiz(cfg, req), cx, { notify_url: req.notifyUrl, ...(req.returnUrl ? { return_url: req.returnUrl } : {}) });
}

/** The public result code a page error's sub_code belongs to (the HTML page shows only the sub_code). */
function publicCodeOf(subCode: string): string {
  if (subCode.startsWith('ACQ.')) return '40004';
  if (subCode.startsWith('isp.') || subCode === 'aop.unknow-error') return '20000';
  if (subCode.startsWith('aop.')) return '20001';
  return '40002';
}

function parsePagePay(cfg: AlipayConfig, req: PayRequest, res: HttpResponseData, cx: CallContext): PayResult {
  if (res.status >= 400) return { kind: 'unknown', reason: `HTTP ${res.status} from the Alipay gateway` };
  // Refused page requests answer an HTML page reading "错误代码 <code> 错误原因: <message>".
  const err = /错误代码[\s:：]*([A-Za-z0-9_.-]+)[\s\S]*?错误原因[\s:：]*([^<\n]*)/.exec(res.body);
  if (err) {
    const raw = err[1]!;
    // The page may drop the prefix: upper-case codes are the trade domain's (ACQ.), lower-case the gateway's (isv.).
    const code = /^(ACQ|isv|isp|aop)\./.test(raw) ? raw : /^[A-Z0-9_]+$/.test(raw) ? `ACQ.${raw}` : `isv.${raw}`;
    const r = refusal({ code: publicCodeOf(code), msg: 'page pay refused', subCode: code, subMsg: err[2]!.trim(), fields: {} }, PAY_DECLINES);
    return r.kind === 'declined' ? { kind: 'declined', code: r.code, message: r.message, retryable: r.retryable } : r;
  }
  return { kind: 'accepted', action: { type: 'form_post', url: `${cfg.gatewayUrl}?charset=utf-8`, fields: pagePayParams(cfg, req, cx) } };
}

function payRefusal(a: VerifiedAnswer): PayResult {
  const r = refusal(a, PAY_DECLINES);
  return r.kind === 'declined' ? { kind: 'declined', code: r.code, message: r.message, retryable: r.retryable } : r;
}

function parseQueryAnswer(a: VerifiedAnswer): QueryResult {
  if (a.code !== '10000') {
    if (a.code === '40004' && a.subCode === 'ACQ.TRADE_NOT_EXIST') return { kind: 'not_found' };
    return { kind: 'unknown', reason: `Alipay query answered ${a.code} ${a.subCode ?? ''} ${a.subMsg ?? ''}`.trim() };
  }
  const f = a.fields;
  let status = TRADE_STATUS[String(f['trade_status'])];
  const amountMinor = yuanToFen(f['total_amount']);
  if (!status || amountMinor === undefined) return { kind: 'unknown', reason: `unreadable trade_status ${String(f['trade_status'])} or total_amount` };
  const paidAt = parseChinaTime(f['send_pay_date']);
  // TRADE_CLOSED also means "paid, then refunded in full"; only a paid trade has a send_pay_date.
  if (status === 'closed' && paidAt) status = 'refunded';
  const out: QueryResult = { kind: 'found', status, amountMinor, currency: 'CNY' };
  if (typeof f['trade_no'] === 'string') out.channelTradeNo = f['trade_no'];
  if (paidAt && status !== 'pending') out.paidAt = paidAt;
  return out;
}

export const alipayAdapter: ChannelAdapter<AlipayConfig> = {
  provider: 'alipay',
  methods: ['alipay_qr', 'alipay_page'] satisfies PayMethod[],
  parseConfig: parseAlipayConfig,

  buildPay(cfg, req, cx): HttpRequestSpec {
    switch (req.method) {
      case 'alipay_qr':
        return call(cfg, M.precreate, payBiz(cfg, req), cx, { notify_url: req.notifyUrl });
      case 'alipay_page':
        return gatewayRequest(cfg, pagePayParams(cfg, req, cx));
      default:
        throw new Error(`the Alipay adapter does not handle ${req.method}`);
    }
  },

  parsePay(cfg, req, res, cx): PayResult {
    if (req.method === 'alipay_page') return parsePagePay(cfg, req, res, cx);
    const r = readAnswer(cfg, res, M.precreate);
    if (!r.ok) return { kind: 'unknown', reason: r.reason };
    const a = r.answer;
    if (a.code !== '10000') return payRefusal(a);
    const qr = a.fields['qr_code'];
    if (typeof qr !== 'string' || qr === '') return { kind: 'unknown', reason: 'precreate succeeded without a qr_code' };
    if (a.fields['out_trade_no'] !== req.outTradeNo) return { kind: 'unknown', reason: `precreate answered for out_trade_no ${String(a.fields['out_trade_no'])}` };
    return { kind: 'accepted', action: { type: 'qr_code', codeUrl: qr } };
  },

  buildQuery: (cfg, req, cx) => call(cfg, M.query, { out_trade_no: req.outTradeNo }, cx),

  parseQuery(cfg, res): QueryResult {
    const r = readAnswer(cfg, res, M.query);
    return r.ok ? parseQueryAnswer(r.answer) : { kind: 'unknown', reason: r.reason };
  },

  buildClose: (cfg, req, cx) => call(cfg, M.close, { out_trade_no: req.outTradeNo }, cx),

  parseClose(cfg, res): CloseResult {
    const r = readAnswer(cfg, res, M.close);
    if (!r.ok) return { kind: 'unknown', reason: r.reason };
    const a = r.answer;
    if (a.code === '10000') return { kind: 'closed' };
    if (a.code === '40004' && a.subCode === 'ACQ.TRADE_NOT_EXIST') {
      return { kind: 'declined', code: a.subCode, message: 'Alipay has no trade yet (the code was never scanned); it stays payable until its time_expire' };
    }
    if (a.code === '40004' && a.subCode === 'ACQ.TRADE_STATUS_ERROR') {
      return { kind: 'unknown', reason: 'the trade is no longer waiting for payment (paid or closed); query to learn which' };
    }
    const ref = refusal(a, CLOSE_DECLINES);
    return ref.kind === 'declined' ? { kind: 'declined', code: ref.code, message: ref.message } : ref;
  },

  buildRefund(cfg, req: RefundRequest, cx): HttpRequestSpec {
    assertCny(req.currency);
    const biz: Record<string, unknown> = { out_trade_no: req.outTradeNo, refund_amount: formatMajor(req.refundMinor, 'CNY'), out_request_no: req.outRefundNo };
    if (req.channelTradeNo) biz['trade_no'] = req.channelTradeNo;
    if (req.reason) biz['refund_reason'] = Array.from(req.reason).slice(0, 256).join('');
    return call(cfg, M.refund, biz, cx);
  },

  parseRefund(cfg, res): RefundResult {
    const r = readAnswer(cfg, res, M.refund);
    if (!r.ok) return { kind: 'unknown', reason: r.reason };
    const a = r.answer;
    if (a.code !== '10000') {
      const ref = refusal(a, REFUND_DECLINES);
      return ref.kind === 'declined' ? { kind: 'declined', code: ref.code, message: ref.message } : ref;
    }
    // fund_change=Y: money moved by this call. N (or absent): the request was accepted but this
    // call moved nothing (e.g. a repeat of an earlier refund); the refund query tells the state.
    if (a.fields['fund_change'] !== 'Y') return { kind: 'accepted', status: 'processing' };
    const out: RefundResult = { kind: 'accepted', status: 'succeeded' };
    const at = parseChinaTime(a.fields['gmt_refund_pay']);
    if (at) out.refundedAt = at;
    return out;
  },

  buildRefundQuery: (cfg, req, cx) => call(cfg, M.refundQuery, { out_trade_no: req.outTradeNo, out_request_no: req.outRefundNo, query_options: ['gmt_refund_pay'] }, cx),

  parseRefundQuery(cfg, res): RefundQueryResult {
    const r = readAnswer(cfg, res, M.refundQuery);
    if (!r.ok) return { kind: 'unknown', reason: r.reason };
    const a = r.answer;
    if (a.code !== '10000') {
      if (a.code === '40004' && a.subCode === 'ACQ.TRADE_NOT_EXIST') return { kind: 'not_found' };
      return { kind: 'unknown', reason: `Alipay refund query answered ${a.code} ${a.subCode ?? ''}`.trim() };
    }
    // 10000 only means the query worked. Without refund data (or refund_status) Alipay has no
    // successful refund under this out_request_no: never received, or failed; it may be retried
    // with the same out_request_no.
    const status = a.fields['refund_status'];
    const refundMinor = yuanToFen(a.fields['refund_amount']);
    if (refundMinor === undefined || (status !== undefined && status !== 'REFUND_SUCCESS')) return { kind: 'not_found' };
    const out: RefundQueryResult = { kind: 'found', status: 'succeeded', refundMinor };
    const at = parseChinaTime(a.fields['gmt_refund_pay']);
    if (at) out.refundedAt = at;
    return out;
  },

  verifyNotification: verifyAlipayNotification,

  buildStatement(cfg, req, cx): HttpRequestSpec {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(req.date)) throw new Error(`statement date must be YYYY-MM-DD, got ${req.date}`);
    return call(cfg, M.bill, { bill_type: 'trade', bill_date: req.date }, cx);
  },

  parseStatement(cfg, res): StatementResult | { kind: 'next'; request: HttpRequestSpec } {
    if (res.status === 200 && isZip(res.bytes)) return parseBillZip(res.bytes);
    const r = readAnswer(cfg, res, M.bill);
    if (!r.ok) return { kind: 'unknown', reason: r.reason };
    const a = r.answer;
    if (a.code === '10000') {
      const url = a.fields['bill_download_url'];
      if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return { kind: 'unknown', reason: 'no usable bill_download_url' };
      // The link is pre-signed and lives about 30 seconds: fetch it at once, without credentials.
      return { kind: 'next', request: { method: 'GET', url, headers: { accept: 'application/zip, application/octet-stream' } } };
    }
    if (a.code === '40004' && (a.subCode === 'isp.bill_not_exist' || a.subCode === 'BILL_NOT_EXIST')) return { kind: 'not_ready' };
    return { kind: 'unknown', reason: `Alipay bill query answered ${a.code} ${a.subCode ?? ''} ${a.subMsg ?? ''}`.trim() };
  },
};
