/**
 * UnionPay QR payments (银联二维码 / 云闪付, merchant-presented "主扫") over UnionPay's online
 * payment interface (全渠道, ACP version 5.1.0, signMethod 01). See unionpay.codec.ts for the message
 * and signature rules and unionpay.codes.ts for what the response codes mean.
 *
 * Requests used (all bizType 000000, accessType 0):
 * - pay: 消费(申请二维码) txnType 01 / txnSubType 07 to backTransReq.do; the answer carries `qrCode`.
 * - query: txnType 00 / 00 to queryTrans.do by orderId + txnTime; the original's state is in
 *   `origRespCode`.
 * - refund: 退货 txnType 04 / 00 to backTransReq.do, itself an order (orderId + txnTime) that is
 *   queried like any other; its result also comes as a back notification.
 * - statement: file transfer txnType 76 / 01 (fileType 00) to the file download host.
 *
 * Two things UnionPay needs that our contract does not carry, and how we get them:
 * - Every order is named by merId + orderId + txnTime, and a query must repeat the original
 *   txnTime. The adapter keeps no state, so txnTime is derived from the order number itself:
 *   Paycore business numbers embed their creation instant (kernel/ids `businessNo`), and txnTime is
 *   that instant in China time, both when paying and when querying. Order numbers that are not
 *   business numbers are a programmer error here.
 * - There is no "close" for an unpaid QR order: the dynamic code simply lapses at `payTimeout`,
 *   which we set to the attempt's expiry. 消费撤销 (txnType 31) reverses a *paid* consume and needs
 *   its amount, so it is not a close. `buildClose` therefore asks by query: paid -> already_paid,
 *   ended without payment (e.g. lapsed) -> closed, still payable -> declined ORDER_OPEN.
 */
import { decodeId, parseBusinessNo } from '../../../../kernel/ids.js';
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
import {
  acpFormEncode,
  acpParseAnswer,
  acpParseForm,
  acpSign,
  acpVerifyFromUnionPay,
  chinaTime,
  resolveMonthDayTime,
  parseChinaTime,
  type AcpFields,
} from './unionpay.codec.js';
import { classifyRespCode, paymentStatusFromOrig, refundStatusFromOrig, refusalRetryable } from './unionpay.codes.js';
import { parseUnionPayConfig, type UnionPayConfig } from './unionpay.config.js';
import { decodeFileContent, statementTotals, zmToStatementLines } from './unionpay.statement.js';

export type { UnionPayConfig, UnionPayConfigJson } from './unionpay.config.js';

const CNY_NUMERIC = '156';

/** txnTime of an order named by a Paycore business number: its embedded creation instant, China time. */
export function unionPayTxnTime(orderNo: string): string {
  const parsed = parseBusinessNo(orderNo);
  if (!parsed) {
    throw new Error(`UnionPay order number ${JSON.stringify(orderNo)} is not a Paycore business number; txnTime is derived from it so queries can repeat it`);
  }
  return chinaTime(decodeId(parsed.id).timestamp);
}

function baseFields(cfg: UnionPayConfig, txnType: string, txnSubType: string): AcpFields {
  return { version: '5.1.0', encoding: 'UTF-8', signMethod: '01', certId: cfg.signCertId, txnType, txnSubType, bizType: '000000', accessType: '0', merId: cfg.merId };
}

function signedPost(cfg: UnionPayConfig, url: string, fields: AcpFields): HttpRequestSpec {
  const signature = acpSign(fields, cfg.signKey.reveal());
  return { method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' }, body: acpFormEncode({ ...fields, signature }) };
}

type Answer = { ok: true; f: AcpFields } | { ok: false; reason: string };

/** Parses and verifies a synchronous answer; anything we cannot trust is a reason for `unknown`. */
function verifiedAnswer(cfg: UnionPayConfig, res: HttpResponseData, cx: CallContext): Answer {
  if (res.status !== 200) return { ok: false, reason: `HTTP ${res.status} from UnionPay` };
  const f = acpParseAnswer(res.body);
  if (!f || f['respCode'] === undefined) return { ok: false, reason: 'UnionPay answer is not a key=value message with respCode' };
  const v = acpVerifyFromUnionPay(f, cfg.trust, cx.now);
  if (!v.ok) return { ok: false, reason: `UnionPay answer failed verification: ${v.reason}` };
  if (f['merId'] !== undefined && f['merId'] !== cfg.merId) return { ok: false, reason: 'UnionPay answer names another merchant' };
  return { ok: true, f };
}

function amountOf(v: string | undefined): bigint | undefined {
  return v !== undefined && /^\d{1,12}$/.test(v) ? BigInt(v) : undefined;
}

function respText(f: AcpFields): string {
  return `${f['respCode'] ?? '??'} ${f['respMsg'] ?? ''}`.trim();
}

/** When the money moved: the trace time (MMDDhhmmss) placed in the year of the order's txnTime. */
function completedAt(f: AcpFields): Date | undefined {
  const reference = parseChinaTime(f['txnTime']);
  return reference ? resolveMonthDayTime(f['traceTime'], reference) : undefined;
}

function buildQueryFor(cfg: UnionPayConfig, orderId: string): HttpRequestSpec {
  return signedPost(cfg, cfg.singleQueryUrl, { ...baseFields(cfg, '00', '00'), orderId, txnTime: unionPayTxnTime(orderId) });
}

function ack(): HttpResponseData {
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' };
}

function nack(message: string): HttpResponseData {
  // Any answer other than HTTP 200/302 makes UnionPay send the notification again later.
  return { status: 400, headers: { 'content-type': 'text/plain' }, body: message };
}

function notificationEvent(f: AcpFields): ChannelEvent | { error: string } {
  const amountMinor = amountOf(f['txnAmt']);
  const orderId = f['orderId'];
  if (amountMinor === undefined || !orderId) return { error: 'notification lacks txnAmt or orderId' };
  const at = completedAt(f);
  const succeeded = f['respCode'] === '00';
  switch (f['txnType']) {
    case '01':
      if (!f['queryId']) return { error: 'payment notification lacks queryId' };
      return {
        type: 'payment',
        outTradeNo: orderId,
        channelTradeNo: f['queryId'],
        status: succeeded ? 'succeeded' : 'failed',
        amountMinor,
        currency: 'CNY',
        ...(succeeded && at ? { paidAt: at } : {}),
        raw: { ...f },
      };
    case '04':
    case '31': {
      // The refund request carried the original order number in reqReserved, which UnionPay echoes.
      const outTradeNo = f['reqReserved'];
      if (!outTradeNo) return { error: 'refund notification lacks reqReserved (the original order number)' };
      return {
        type: 'refund',
        outTradeNo,
        outRefundNo: orderId,
        ...(f['queryId'] ? { channelRefundNo: f['queryId'] } : {}),
        status: succeeded ? 'succeeded' : 'failed',
        refundMinor: amountMinor,
        ...(succeeded && at ? { refundedAt: at } : {}),
        raw: { ...f },
      };
    }
    default:
      return { error: `unexpected txnType ${f['txnType'] ?? '(none)'} in notification` };
  }
}

export const unionPayAdapter: ChannelAdapter<UnionPayConfig> = {
  provider: 'unionpay',
  methods: ['unionpay_qr'],
  parseConfig: parseUnionPayConfig,

  buildPay(cfg: UnionPayConfig, req: PayRequest): HttpRequestSpec {
    if (req.method !== 'unionpay_qr') throw new Error(`unionpay cannot pay with method ${req.method}`);
    if (req.currency !== 'CNY') throw new Error('unionpay QR payments are in CNY only');
    return signedPost(cfg, cfg.backTransUrl, {
      ...baseFields(cfg, '01', '07'),
      channelType: cfg.channelType,
      orderId: req.outTradeNo,
      txnTime: unionPayTxnTime(req.outTradeNo),
      txnAmt: req.amountMinor.toString(),
      currencyCode: CNY_NUMERIC,
      backUrl: req.notifyUrl,
      // payTimeout (支付超时时间) ends the window in which the code can be paid.
      payTimeout: chinaTime(req.expiresAt),
    });
  },

  parsePay(cfg: UnionPayConfig, req: PayRequest, res: HttpResponseData, cx: CallContext): PayResult {
    const a = verifiedAnswer(cfg, res, cx);
    if (!a.ok) return { kind: 'unknown', reason: a.reason };
    const f = a.f;
    const kind = classifyRespCode(f['respCode']);
    switch (kind) {
      case 'success': {
        const qrCode = f['qrCode'];
        if (!qrCode || f['orderId'] !== req.outTradeNo) return { kind: 'unknown', reason: 'success answer without qrCode or for another order' };
        return { kind: 'accepted', action: { type: 'qr_code', codeUrl: qrCode } };
      }
      case 'in_progress':
      case 'duplicate':
        return { kind: 'unknown', reason: `UnionPay answered ${respText(f)}; ask by query` };
      case 'refused':
        return { kind: 'declined', code: f['respCode']!, message: f['respMsg'] ?? '', retryable: refusalRetryable(f['respCode']!) };
    }
  },

  buildQuery(cfg: UnionPayConfig, req: { outTradeNo: string }): HttpRequestSpec {
    return buildQueryFor(cfg, req.outTradeNo);
  },

  parseQuery(cfg: UnionPayConfig, res: HttpResponseData, cx: CallContext): QueryResult {
    const a = verifiedAnswer(cfg, res, cx);
    if (!a.ok) return { kind: 'unknown', reason: a.reason };
    const f = a.f;
    if (f['respCode'] !== '00') {
      // 34 (查无此交易) is not proof: UnionPay's own guidance is to treat it as "state unknown, ask
      // again or wait for the reconciliation file", so it never becomes not_found here.
      return { kind: 'unknown', reason: `query answered ${respText(f)}` };
    }
    const amountMinor = amountOf(f['txnAmt']);
    if (amountMinor === undefined) return { kind: 'unknown', reason: 'query answer lacks txnAmt' };
    if (f['txnType'] !== undefined && f['txnType'] !== '01') return { kind: 'unknown', reason: `order is a txnType ${f['txnType']} transaction, not a payment` };
    if (f['currencyCode'] !== undefined && f['currencyCode'] !== CNY_NUMERIC) return { kind: 'unknown', reason: `unexpected currency ${f['currencyCode']}` };
    const status = paymentStatusFromOrig(f['origRespCode']);
    const paidAt = status === 'succeeded' ? completedAt(f) : undefined;
    return { kind: 'found', status, ...(f['queryId'] ? { channelTradeNo: f['queryId'] } : {}), amountMinor, currency: 'CNY', ...(paidAt ? { paidAt } : {}) };
  },

  buildClose(cfg: UnionPayConfig, req: { outTradeNo: string }): HttpRequestSpec {
    return buildQueryFor(cfg, req.outTradeNo);
  },

  parseClose(cfg: UnionPayConfig, res: HttpResponseData, cx: CallContext): CloseResult {
    const a = verifiedAnswer(cfg, res, cx);
    if (!a.ok) return { kind: 'unknown', reason: a.reason };
    const f = a.f;
    if (f['respCode'] !== '00') return { kind: 'unknown', reason: `query for close answered ${respText(f)}` };
    const status = paymentStatusFromOrig(f['origRespCode']);
    switch (status) {
      case 'succeeded':
      case 'refunded':
        return { kind: 'already_paid' };
      case 'pending':
        return {
          kind: 'declined',
          code: 'ORDER_OPEN',
          message: 'UnionPay cannot close an unpaid QR order; it lapses at its payTimeout (the attempt expiry), after which close reports closed',
        };
      case 'closed':
      case 'failed':
        return { kind: 'closed' };
    }
  },

  buildRefund(cfg: UnionPayConfig, req: RefundRequest): HttpRequestSpec {
    if (req.currency !== 'CNY') throw new Error('unionpay refunds are in CNY only');
    const backUrl = req.notifyUrl ?? cfg.defaultBackUrl;
    if (!backUrl) throw new Error('unionpay refunds need a notify URL (backUrl is mandatory): pass notifyUrl or configure defaultBackUrl');
    // The original is named by its queryId when we have it (the documented way), otherwise by
    // origOrderId + origTxnTime (accepted for 消费撤销; for 退货 not confirmed in the public docs).
    const original: AcpFields = req.channelTradeNo ? { origQryId: req.channelTradeNo } : { origOrderId: req.outTradeNo, origTxnTime: unionPayTxnTime(req.outTradeNo) };
    return signedPost(cfg, cfg.backTransUrl, {
      ...baseFields(cfg, '04', '00'),
      channelType: cfg.channelType,
      orderId: req.outRefundNo,
      txnTime: unionPayTxnTime(req.outRefundNo),
      txnAmt: req.refundMinor.toString(),
      currencyCode: CNY_NUMERIC,
      backUrl,
      // reqReserved is echoed in queries, notifications and the file: it carries the original order
      // number so a refund notification can name the payment it belongs to.
      reqReserved: req.outTradeNo,
      ...original,
    });
  },

  parseRefund(cfg: UnionPayConfig, res: HttpResponseData, cx: CallContext): RefundResult {
    const a = verifiedAnswer(cfg, res, cx);
    if (!a.ok) return { kind: 'unknown', reason: a.reason };
    const f = a.f;
    switch (classifyRespCode(f['respCode'])) {
      case 'success':
        // 00 on a refund means accepted (受理), not done: the result follows by notification or query.
        return { kind: 'accepted', status: 'processing', ...(f['queryId'] ? { channelRefundNo: f['queryId'] } : {}) };
      case 'in_progress':
      case 'duplicate':
        return { kind: 'unknown', reason: `UnionPay answered ${respText(f)}; ask by query` };
      case 'refused':
        return { kind: 'declined', code: f['respCode']!, message: f['respMsg'] ?? '' };
    }
  },

  buildRefundQuery(cfg: UnionPayConfig, req: { outTradeNo: string; outRefundNo: string }): HttpRequestSpec {
    return buildQueryFor(cfg, req.outRefundNo);
  },

  parseRefundQuery(cfg: UnionPayConfig, res: HttpResponseData, cx: CallContext): RefundQueryResult {
    const a = verifiedAnswer(cfg, res, cx);
    if (!a.ok) return { kind: 'unknown', reason: a.reason };
    const f = a.f;
    if (f['respCode'] !== '00') return { kind: 'unknown', reason: `refund query answered ${respText(f)}` };
    if (f['txnType'] !== '04' && f['txnType'] !== '31') return { kind: 'unknown', reason: `order is a txnType ${f['txnType'] ?? '(none)'} transaction, not a refund` };
    const refundMinor = amountOf(f['txnAmt']);
    if (refundMinor === undefined) return { kind: 'unknown', reason: 'refund query answer lacks txnAmt' };
    const status = refundStatusFromOrig(f['origRespCode']);
    const refundedAt = status === 'succeeded' ? completedAt(f) : undefined;
    return { kind: 'found', status, ...(f['queryId'] ? { channelRefundNo: f['queryId'] } : {}), refundMinor, ...(refundedAt ? { refundedAt } : {}) };
  },

  verifyNotification(cfg: UnionPayConfig, req: { headers: Record<string, string>; body: string }, cx: CallContext): NotificationResult {
    const f = acpParseForm(req.body);
    if (!f) return { ok: false, code: 'bad_format', message: 'notification is not form-encoded', nack: nack('bad format') };
    const v = acpVerifyFromUnionPay(f, cfg.trust, cx.now);
    if (!v.ok) return { ok: false, code: 'bad_signature', message: v.reason, nack: nack('bad signature') };
    if (f['merId'] !== cfg.merId) return { ok: false, code: 'bad_format', message: 'notification names another merchant', nack: nack('wrong merchant') };
    const event = notificationEvent(f);
    if ('error' in event) return { ok: false, code: 'bad_format', message: event.error, nack: nack('bad format') };
    return { ok: true, event, ack: ack() };
  },

  buildStatement(cfg: UnionPayConfig, req: { date: string }, cx: CallContext): HttpRequestSpec {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(req.date);
    if (!m) throw new Error(`statement date must be YYYY-MM-DD, got ${req.date}`);
    return signedPost(cfg, cfg.fileTransUrl, { ...baseFields(cfg, '76', '01'), settleDate: `${m[2]}${m[3]}`, txnTime: chinaTime(cx.now), fileType: '00' });
  },

  parseStatement(cfg: UnionPayConfig, res: HttpResponseData, cx: CallContext): StatementResult {
    const a = verifiedAnswer(cfg, res, cx);
    if (!a.ok) return { kind: 'unknown', reason: a.reason };
    const f = a.f;
    if (f['respCode'] === '98') return { kind: 'not_ready' };
    if (f['respCode'] !== '00') return { kind: 'unknown', reason: `file transfer answered ${respText(f)}` };
    const content = f['fileContent'];
    if (!content) return { kind: 'unknown', reason: 'file transfer answer lacks fileContent' };
    let entries: Record<string, Uint8Array>;
    try {
      entries = decodeFileContent(content);
    } catch (e) {
      return { kind: 'unknown', reason: `fileContent is not a deflated zip: ${(e as Error).message}` };
    }
    const zmName = Object.keys(entries).find((n) => n.includes('ZM_') && !n.includes('ZME_'));
    if (!zmName) return { kind: 'unknown', reason: 'the reconciliation zip holds no ZM file' };
    // The zip is named merId_yyyyMMdd.zip; its date places the MMDD times of the file in a year.
    const dated = /(\d{4})(\d{2})(\d{2})\.zip$/.exec(f['fileName'] ?? '');
    const reference = dated ? (parseChinaTime(`${dated[1]}${dated[2]}${dated[3]}120000`) ?? cx.now) : cx.now;
    const parsed = zmToStatementLines(Buffer.from(entries[zmName]!), reference);
    if (!parsed.ok) return { kind: 'unknown', reason: parsed.reason };
    return { kind: 'lines', lines: parsed.lines, totals: statementTotals(parsed.lines) };
  },
};
