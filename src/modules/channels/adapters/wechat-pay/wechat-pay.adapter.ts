/**
 * The WeChat Pay APIv3 adapter, directly-connected merchant mode (直连商户): Native (QR code) and
 * JSAPI (inside WeChat) payments, query by out_trade_no, close, refunds, refund query, asynchronous
 * notifications and the daily trade bill. Pure: it builds signed request descriptions and reads
 * verified answers; I/O happens in http-exec.
 *
 * When an answer proves that no money moved (`declined`): a 4xx answer, correctly signed by the
 * platform, whose code is one of
 *   pay:    PARAM_ERROR, INVALID_REQUEST, APPID_MCHID_NOT_MATCH, MCH_NOT_EXISTS, ORDER_CLOSED,
 *           ACCOUNT_ERROR, NO_AUTH, NOT_ENOUGH, RULE_LIMIT, TRADE_ERROR, FREQUENCY_LIMITED, SIGN_ERROR
 *   refund: the same family plus RESOURCE_NOT_EXISTS (no such trade) and USER_ACCOUNT_ABNORMAL.
 * Everything else is `unknown` and is resolved by a query: 5xx (SYSTEM_ERROR, BANK_ERROR, …),
 * 202 USERPAYING, OUT_TRADE_NO_USED and ORDERPAID (a trade with this number exists and may be
 * paid), unparseable bodies, and any answer whose Wechatpay-Signature does not verify or is stale.
 * FREQUENCY_LIMITED (429) is also what WeChat answers while it sheds load, which is how the
 * simulator shows a maintenance window: refused before processing, so nothing moved.
 */
import { assertNever } from '../../../../kernel/errors.js';
import type {
  CallContext,
  ChannelAdapter,
  ChannelEvent,
  CloseResult,
  HttpRequestSpec,
  HttpResponseData,
  NotificationResult,
  PayRequest,
  PayResult,
  QueryResult,
  RefundQueryResult,
  RefundRequest,
  RefundResult,
  StatementResult,
} from '../../adapter.js';
import { parseWechatPayConfig, type WechatPayConfig } from './wechat-pay.config.js';
import { decryptResource, isEncryptedResource, jsapiPaySign, signedRequest, unixSeconds, verifyAnswer, verifyPlatformSignature } from './wechat-pay.crypto.js';
import { billResult, parseTradeBill } from './wechat-pay.statement.js';
import { errorOf, fenFromJson, obj, parseJsonObject, parseRfc3339, refundStatusOf, str, toChinaRfc3339, tradeStatusOf } from './wechat-pay.wire.js';

export type { WechatPayConfig } from './wechat-pay.config.js';

/** Codes (on a 4xx answer) that prove a pay request created nothing payable; value: may another channel try. */
const PAY_DECLINES: Readonly<Record<string, boolean>> = {
  PARAM_ERROR: false,
  INVALID_REQUEST: false,
  APPID_MCHID_NOT_MATCH: true,
  MCH_NOT_EXISTS: true,
  ORDER_CLOSED: true,
  ACCOUNT_ERROR: true,
  NO_AUTH: true,
  NOT_ENOUGH: true,
  RULE_LIMIT: true,
  TRADE_ERROR: true,
  FREQUENCY_LIMITED: true,
  SIGN_ERROR: true,
};

const REFUND_DECLINES = new Set(['PARAM_ERROR', 'INVALID_REQUEST', 'NOT_ENOUGH', 'NO_AUTH', 'USER_ACCOUNT_ABNORMAL', 'RESOURCE_NOT_EXISTS', 'MCH_NOT_EXISTS', 'FREQUENCY_LIMITED', 'SIGN_ERROR']);

/** Codes meaning "no such order": the current docs spell ORDER_NOT_EXIST, older ones ORDERNOTEXIST. */
const NOT_FOUND = new Set(['ORDER_NOT_EXIST', 'ORDERNOTEXIST', 'RESOURCE_NOT_EXISTS']);
const PAID = new Set(['ORDERPAID', 'ORDER_PAID']);

const MAX_DESCRIPTION_CHARS = 127;
const MAX_REASON_CHARS = 80;

/** An answer we may act on: verified, with its JSON body (undefined for empty bodies). */
type Verified = { ok: true; body: Record<string, unknown> | undefined } | { ok: false; reason: string };

function verified(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): Verified {
  const check = verifyAnswer(cfg.platformCertificates, res, cx);
  if (!check.ok) return { ok: false, reason: `answer (HTTP ${res.status}) not trusted: ${check.message}` };
  return { ok: true, body: res.body === '' ? undefined : parseJsonObject(res.body) };
}

function isClientError(status: number): boolean {
  return status >= 400 && status < 500;
}

function buildPay(cfg: WechatPayConfig, req: PayRequest, cx: CallContext) {
  if (req.currency !== 'CNY') throw new Error(`wechatpay domestic payments are in CNY, not ${req.currency}`);
  if (req.amountMinor <= 0n || req.amountMinor > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('amountMinor out of range');
  const body: Record<string, unknown> = {
    appid: cfg.appid,
    mchid: cfg.mchid,
    description: [...req.subject].slice(0, MAX_DESCRIPTION_CHARS).join(''),
    out_trade_no: req.outTradeNo,
    time_expire: toChinaRfc3339(req.expiresAt),
    notify_url: req.notifyUrl,
    amount: { total: Number(req.amountMinor), currency: 'CNY' },
  };
  switch (req.method) {
    case 'wechat_native':
      if (req.clientIp) body['scene_info'] = { payer_client_ip: req.clientIp };
      return signedRequest(cfg, 'POST', '/v3/pay/transactions/native', body, cx);
    case 'wechat_jsapi':
      if (!req.payerOpenId) throw new Error('wechat_jsapi needs payerOpenId');
      body['payer'] = { openid: req.payerOpenId };
      if (req.clientIp) body['scene_info'] = { payer_client_ip: req.clientIp };
      return signedRequest(cfg, 'POST', '/v3/pay/transactions/jsapi', body, cx);
    case 'alipay_qr':
    case 'alipay_page':
    case 'unionpay_qr':
    case 'bank_quick':
    case 'bank_gateway':
      throw new Error(`wechatpay does not support ${req.method}`);
    default:
      return assertNever(req.method, 'pay method');
  }
}

function payFailure(res: HttpResponseData): PayResult {
  const err = errorOf(res.status, res.body);
  const retryable = PAY_DECLINES[err.code];
  if (isClientError(res.status) && retryable !== undefined) return { kind: 'declined', code: err.code, message: err.message, retryable };
  if (PAID.has(err.code) || err.code === 'OUT_TRADE_NO_USED') return { kind: 'unknown', reason: `${err.code}: a trade with this out_trade_no exists; query it (${err.message})` };
  return { kind: 'unknown', reason: `HTTP ${res.status} ${err.code}: ${err.message}` };
}

function parsePay(cfg: WechatPayConfig, req: PayRequest, res: HttpResponseData, cx: CallContext): PayResult {
  const v = verified(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (res.status !== 200) return payFailure(res);
  const codeUrl = str(v.body, 'code_url');
  const prepayId = str(v.body, 'prepay_id');
  if (req.method === 'wechat_native' && codeUrl) return { kind: 'accepted', action: { type: 'qr_code', codeUrl } };
  if (req.method === 'wechat_jsapi' && prepayId) {
    const timeStamp = String(unixSeconds(cx.now));
    const nonceStr = cx.nonce.slice(0, 32);
    const pkg = `prepay_id=${prepayId}`;
    const params = { appId: cfg.appid, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign: jsapiPaySign(cfg, cfg.appid, timeStamp, nonceStr, pkg) };
    return { kind: 'accepted', action: { type: 'jsapi', params } };
  }
  return { kind: 'unknown', reason: 'HTTP 200 without code_url/prepay_id' };
}

function buildQuery(cfg: WechatPayConfig, req: { outTradeNo: string }, cx: CallContext) {
  return signedRequest(cfg, 'GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(req.outTradeNo)}?mchid=${encodeURIComponent(cfg.mchid)}`, undefined, cx);
}

function parseQuery(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): QueryResult {
  const v = verified(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (res.status === 200) {
    const status = tradeStatusOf(str(v.body, 'trade_state'));
    const amount = obj(v.body, 'amount');
    const total = fenFromJson(amount?.['total']);
    if (!status || total === undefined) return { kind: 'unknown', reason: `unreadable transaction: trade_state ${str(v.body, 'trade_state')}` };
    if (str(v.body, 'mchid') !== cfg.mchid) return { kind: 'unknown', reason: 'transaction of another merchant' };
    const paidAt = parseRfc3339(v.body?.['success_time']);
    return {
      kind: 'found',
      status,
      channelTradeNo: str(v.body, 'transaction_id'),
      amountMinor: total,
      currency: str(amount, 'currency') ?? 'CNY',
      ...(paidAt ? { paidAt } : {}),
    };
  }
  const err = errorOf(res.status, res.body);
  if (res.status === 404 && NOT_FOUND.has(err.code)) return { kind: 'not_found' };
  return { kind: 'unknown', reason: `HTTP ${res.status} ${err.code}: ${err.message}` };
}

function buildClose(cfg: WechatPayConfig, req: { outTradeNo: string }, cx: CallContext) {
  return signedRequest(cfg, 'POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(req.outTradeNo)}/close`, { mchid: cfg.mchid }, cx);
}

function parseClose(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): CloseResult {
  const v = verified(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (res.status === 204 || res.status === 200) return { kind: 'closed' };
  const err = errorOf(res.status, res.body);
  if (PAID.has(err.code)) return { kind: 'already_paid' };
  if (err.code === 'ORDER_CLOSED') return { kind: 'closed' };
  if (isClientError(res.status) && PAY_DECLINES[err.code] !== undefined) return { kind: 'declined', code: err.code, message: err.message };
  return { kind: 'unknown', reason: `HTTP ${res.status} ${err.code}: ${err.message}` };
}

function buildRefund(cfg: WechatPayConfig, req: RefundRequest, cx: CallContext) {
  if (req.currency !== 'CNY') throw new Error(`wechatpay domestic refunds are in CNY, not ${req.currency}`);
  if (req.refundMinor <= 0n || req.refundMinor > req.totalMinor) throw new Error('refundMinor must be within (0, totalMinor]');
  const body: Record<string, unknown> = { out_trade_no: req.outTradeNo, out_refund_no: req.outRefundNo };
  if (req.reason) body['reason'] = [...req.reason].slice(0, MAX_REASON_CHARS).join('');
  if (req.notifyUrl) body['notify_url'] = req.notifyUrl;
  body['amount'] = { refund: Number(req.refundMinor), total: Number(req.totalMinor), currency: 'CNY' };
  return signedRequest(cfg, 'POST', '/v3/refund/domestic/refunds', body, cx);
}

/** A refund object (answer of create and query): status, ids, amount, success time. */
function readRefund(body: Record<string, unknown> | undefined) {
  const status = refundStatusOf(str(body, 'status'));
  const refundMinor = fenFromJson(obj(body, 'amount')?.['refund']);
  const refundedAt = status === 'succeeded' ? parseRfc3339(body?.['success_time']) : undefined;
  return { status, refundMinor, channelRefundNo: str(body, 'refund_id'), refundedAt };
}

function parseRefund(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): RefundResult {
  const v = verified(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (res.status === 200) {
    const r = readRefund(v.body);
    if (!r.status) return { kind: 'unknown', reason: `unreadable refund status ${str(v.body, 'status')}` };
    return { kind: 'accepted', status: r.status, channelRefundNo: r.channelRefundNo, ...(r.refundedAt ? { refundedAt: r.refundedAt } : {}) };
  }
  const err = errorOf(res.status, res.body);
  if (isClientError(res.status) && REFUND_DECLINES.has(err.code)) return { kind: 'declined', code: err.code, message: err.message };
  return { kind: 'unknown', reason: `HTTP ${res.status} ${err.code}: ${err.message}` };
}

function buildRefundQuery(cfg: WechatPayConfig, req: { outTradeNo: string; outRefundNo: string }, cx: CallContext) {
  return signedRequest(cfg, 'GET', `/v3/refund/domestic/refunds/${encodeURIComponent(req.outRefundNo)}`, undefined, cx);
}

function parseRefundQuery(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): RefundQueryResult {
  const v = verified(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (res.status === 200) {
    const r = readRefund(v.body);
    if (!r.status || r.refundMinor === undefined) return { kind: 'unknown', reason: 'unreadable refund' };
    return { kind: 'found', status: r.status, channelRefundNo: r.channelRefundNo, refundMinor: r.refundMinor, ...(r.refundedAt ? { refundedAt: r.refundedAt } : {}) };
  }
  const err = errorOf(res.status, res.body);
  if (res.status === 404 && NOT_FOUND.has(err.code)) return { kind: 'not_found' };
  return { kind: 'unknown', reason: `HTTP ${res.status} ${err.code}: ${err.message}` };
}

type Nack = Extract<NotificationResult, { ok: false }>;

function nack(code: Nack['code'], message: string): Nack {
  const status = code === 'bad_signature' || code === 'stale' ? 401 : 400;
  return { ok: false, code, message, nack: { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'FAIL', message }) } };
}

/** The decrypted resource of a notification as one of our events; a string says what is wrong. */
function eventOf(eventType: string, data: Record<string, unknown>, raw: Record<string, unknown>): ChannelEvent | string {
  if (eventType.startsWith('TRANSACTION.')) {
    const status = tradeStatusOf(str(data, 'trade_state'));
    const amount = obj(data, 'amount');
    const total = fenFromJson(amount?.['total']);
    const outTradeNo = str(data, 'out_trade_no');
    const channelTradeNo = str(data, 'transaction_id');
    if (!status || total === undefined || !outTradeNo || !channelTradeNo) return 'transaction resource lacks trade_state, amount, out_trade_no or transaction_id';
    const paidAt = parseRfc3339(data['success_time']);
    return { type: 'payment', outTradeNo, channelTradeNo, status, amountMinor: total, currency: str(amount, 'currency') ?? 'CNY', ...(paidAt ? { paidAt } : {}), raw };
  }
  if (eventType.startsWith('REFUND.')) {
    const status = refundStatusOf(str(data, 'refund_status'));
    const refundMinor = fenFromJson(obj(data, 'amount')?.['refund']);
    const outTradeNo = str(data, 'out_trade_no');
    const outRefundNo = str(data, 'out_refund_no');
    if (!status || refundMinor === undefined || !outTradeNo || !outRefundNo) return 'refund resource lacks refund_status, amount, out_trade_no or out_refund_no';
    const refundedAt = status === 'succeeded' ? parseRfc3339(data['success_time']) : undefined;
    return { type: 'refund', outTradeNo, outRefundNo, channelRefundNo: str(data, 'refund_id'), status, refundMinor, ...(refundedAt ? { refundedAt } : {}), raw };
  }
  return `unhandled event_type ${eventType}`;
}

function verifyNotification(cfg: WechatPayConfig, req: { headers: Record<string, string>; body: string }, cx: CallContext): NotificationResult {
  const check = verifyPlatformSignature(cfg.platformCertificates, req.headers, req.body, cx.now);
  if (!check.ok) return nack(check.code, check.message);
  const envelope = parseJsonObject(req.body);
  const eventType = str(envelope, 'event_type');
  const resource = envelope?.['resource'];
  if (!eventType || !isEncryptedResource(resource)) return nack('bad_format', 'notification lacks event_type or an encrypted resource');
  if (resource.algorithm !== 'AEAD_AES_256_GCM') return nack('bad_format', `unsupported resource algorithm ${resource.algorithm}`);
  const plain = decryptResource(cfg.apiV3Key.reveal(), resource);
  if (!plain) return nack('decrypt_failed', 'resource does not decrypt with the APIv3 key');
  const data = parseJsonObject(plain.toString('utf8'));
  if (!data) return nack('bad_format', 'decrypted resource is not a JSON object');
  if (str(data, 'mchid') !== cfg.mchid) return nack('bad_format', 'notification for another merchant');
  const raw = { ...data, notification_id: str(envelope, 'id'), event_type: eventType };
  const event = eventOf(eventType, data, raw);
  if (typeof event === 'string') return nack('bad_format', event);
  // APIv3 takes HTTP 200/204 without a body as the acknowledgement.
  return { ok: true, event, ack: { status: 204, headers: {}, body: '' } };
}

function buildStatement(cfg: WechatPayConfig, req: { date: string }, cx: CallContext) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(req.date)) throw new Error(`statement date must be YYYY-MM-DD, got ${req.date}`);
  return signedRequest(cfg, 'GET', `/v3/bill/tradebill?bill_date=${req.date}&bill_type=ALL`, undefined, cx);
}

/**
 * First hop: the signed JSON {hash_type, hash_value, download_url} → the signed download request.
 * Second hop: the bill file itself, which WeChat does not sign (its integrity is the SHA1 from the
 * first hop). The contract gives the second hop no way to receive that hash, so here the file is
 * checked against its own summary row; `parseWechatPayBillFile` checks the hash as well when the
 * caller kept it (see `readWechatPayBillDownload`).
 */
function parseStatement(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): StatementResult | { kind: 'next'; request: HttpRequestSpec } {
  if (!res.body.replace(/^\uFEFF/, '').trimStart().startsWith('{')) {
    if (res.status !== 200) return { kind: 'unknown', reason: `bill download answered HTTP ${res.status}` };
    return billResult(parseTradeBill(res.body));
  }
  const first = readWechatPayBillDownload(cfg, res, cx);
  switch (first.kind) {
    case 'download':
      return { kind: 'next', request: first.request };
    case 'empty':
      return { kind: 'lines', lines: [], totals: { count: 0, amountMinor: 0n, feeMinor: 0n } };
    case 'not_ready':
      return { kind: 'not_ready' };
    case 'unknown':
      return { kind: 'unknown', reason: first.reason };
    default:
      return assertNever(first, 'bill answer');
  }
}

export type BillDownload =
  | { kind: 'download'; request: HttpRequestSpec; hashType: 'SHA1'; hashValue: string }
  /** NO_STATEMENT_EXIST: no trade or refund that day, so nothing to reconcile. */
  | { kind: 'empty' }
  /** STATEMENT_CREATING: ask again later (WeChat builds bills after 10:00 the next day). */
  | { kind: 'not_ready' }
  | { kind: 'unknown'; reason: string };

/** Reads the first hop of the bill download (申请交易账单) and builds the signed download request. */
export function readWechatPayBillDownload(cfg: WechatPayConfig, res: HttpResponseData, cx: CallContext): BillDownload {
  const v = verified(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (res.status === 200) {
    const url = str(v.body, 'download_url');
    const hashValue = str(v.body, 'hash_value');
    if (str(v.body, 'hash_type') !== 'SHA1' || !hashValue || !url || !/^https?:\/\//.test(url)) return { kind: 'unknown', reason: 'bill answer lacks SHA1 hash or download_url' };
    return { kind: 'download', request: signedRequest(cfg, 'GET', url, undefined, cx), hashType: 'SHA1', hashValue };
  }
  const err = errorOf(res.status, res.body);
  if (err.code === 'NO_STATEMENT_EXIST') return { kind: 'empty' };
  if (err.code === 'STATEMENT_CREATING') return { kind: 'not_ready' };
  return { kind: 'unknown', reason: `HTTP ${res.status} ${err.code}: ${err.message}` };
}

export { parseWechatPayBillFile } from './wechat-pay.statement.js';
export { buildWechatPayCertificatesRequest, parseWechatPayCertificatesResponse, type DownloadedPlatformCertificate } from './wechat-pay.certificates.js';
export { parseWechatPayCredentials, type WechatPayCredentials } from './wechat-pay.config.js';

export const wechatPayAdapter: ChannelAdapter<WechatPayConfig> = {
  provider: 'wechatpay',
  methods: ['wechat_native', 'wechat_jsapi'],
  parseConfig: parseWechatPayConfig,
  buildPay,
  parsePay,
  buildQuery,
  parseQuery,
  buildClose,
  parseClose,
  buildRefund,
  parseRefund,
  buildRefundQuery,
  parseRefundQuery,
  verifyNotification,
  buildStatement,
  parseStatement,
};
