/**
 * The bank channel: SimBank's corporate payment API (simulators/bank/README.md), quick pay
 * (快捷支付, SMS-confirmed) and gateway pay (网关支付, redirect to the bank's cashier). Signed JSON,
 * RSA-SHA256 both ways; see bank.codec.ts.
 *
 * Proof that no money moved (`declined`) is a signed answer with HTTP 400 / 401 / 409 (state
 * conflicts such as ORDER_CLOSED) / 422 / 503, or a trade the bank reports FAILED or CLOSED. A 409
 * DUPLICATE_* (an earlier request under the number exists), any 5xx other than 503, and any answer
 * whose signature or freshness does not check out are `unknown`.
 *
 * Outside the common contract, this file also exports collections (代收: `buildCollection` /
 * `parseCollection`), payouts (代付: `buildPayout` / `parsePayout` / `buildPayoutQuery` /
 * `parsePayoutQuery` / `verifyPayoutNotification`, from bank.payout.ts) and the full statement
 * including payouts (`parseBankStatement`), for the settlement and collections modules.
 */
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
  RefundStatus,
  StatementResult,
  TradeStatus,
} from '../../adapter.js';
import { amount, amountJson, chinaIso, signedRequest, str, time, verifiedEnvelope, verifyFromBank, type Envelope } from './bank.codec.js';
import { parseBankConfig, type BankConfig } from './bank.config.js';
import { BANK_ACK, bankNack } from './bank.payout.js';
import { contractLines, contractTotals, parseBankStatementCsv, type BankStatement } from './bank.statement.js';

export type { BankConfig, BankConfigJson } from './bank.config.js';
export { buildPayout, buildPayoutQuery, parsePayout, parsePayoutQuery, verifyPayoutNotification, type PayoutQueryResult, type PayoutRequest, type PayoutResult } from './bank.payout.js';
export { parseBankStatementCsv, type BankStatement, type BankStatementRecord } from './bank.statement.js';

interface Trade {
  outTradeNo: string;
  tradeNo: string;
  status: string;
  amountMinor: bigint;
  currency: string;
  paidAt?: Date;
  closeReason?: string;
  failCode?: string;
  cashierUrl?: string;
  cashierFields?: Record<string, string>;
}

function tradeFrom(d: Record<string, unknown> | undefined): Trade | undefined {
  const outTradeNo = str(d, 'outTradeNo');
  const tradeNo = str(d, 'tradeNo');
  const status = str(d, 'status');
  const amountMinor = amount(d, 'amount');
  const currency = str(d, 'currency');
  if (!outTradeNo || !tradeNo || !status || amountMinor === undefined || !currency) return undefined;
  const paidAt = time(d, 'paidTime');
  const fields = d?.['cashierFields'];
  const cashierFields =
    typeof fields === 'object' && fields !== null && Object.values(fields).every((v) => typeof v === 'string') ? (fields as Record<string, string>) : undefined;
  return {
    outTradeNo,
    tradeNo,
    status,
    amountMinor,
    currency,
    ...(paidAt ? { paidAt } : {}),
    ...(str(d, 'closeReason') ? { closeReason: str(d, 'closeReason')! } : {}),
    ...(str(d, 'failCode') ? { failCode: str(d, 'failCode')! } : {}),
    ...(str(d, 'cashierUrl') ? { cashierUrl: str(d, 'cashierUrl')! } : {}),
    ...(cashierFields ? { cashierFields } : {}),
  };
}

function tradeStatus(s: string): TradeStatus | undefined {
  switch (s) {
    case 'AWAITING_CONFIRMATION':
    case 'PENDING':
      return 'pending';
    case 'SUCCESS':
      return 'succeeded';
    case 'REFUNDED':
      return 'refunded';
    case 'FAILED':
      return 'failed';
    case 'CLOSED':
      return 'closed';
    default:
      return undefined;
  }
}

function refundStatus(s: string | undefined): RefundStatus | undefined {
  switch (s) {
    case 'PROCESSING':
      return 'processing';
    case 'SUCCESS':
      return 'succeeded';
    case 'FAILED':
      return 'failed';
    default:
      return undefined;
  }
}

/**
 * What a trade record means as the answer to a pay or confirm request. A dead trade is retryable
 * after a pay request (another channel may try) but not after a confirmation (this attempt is over).
 */
function payResultOf(t: Trade, step: 'pay' | 'confirm'): PayResult {
  switch (tradeStatus(t.status)) {
    case 'pending':
      if (t.status === 'AWAITING_CONFIRMATION') return { kind: 'accepted', channelTradeNo: t.tradeNo, action: { type: 'sms_code' } };
      if (!t.cashierUrl) return { kind: 'unknown', reason: 'pending trade without a cashier URL' };
      return { kind: 'accepted', channelTradeNo: t.tradeNo, action: { type: 'form_post', url: t.cashierUrl, fields: t.cashierFields ?? {} } };
    case 'succeeded':
    case 'refunded':
      if (!t.paidAt) return { kind: 'unknown', reason: 'paid trade without paidTime' };
      return { kind: 'succeeded', channelTradeNo: t.tradeNo, paidAt: t.paidAt, amountMinor: t.amountMinor, currency: t.currency };
    case 'failed':
      return { kind: 'declined', code: t.failCode ?? 'FAILED', message: 'the bank refused the debit', retryable: step === 'pay' };
    case 'closed':
      return { kind: 'declined', code: t.closeReason ?? 'CLOSED', message: 'the trade is closed', retryable: step === 'pay' };
    case undefined:
      return { kind: 'unknown', reason: `unexpected trade status ${t.status}` };
  }
}

const REFUSALS = [400, 401, 409, 422, 503];

/** A signed refusal proves nothing moved, except a duplicate number (an earlier request exists). */
function refusalOf(env: Envelope): PayResult {
  if (env.code.startsWith('DUPLICATE_')) return { kind: 'unknown', reason: `${env.code}: an earlier request under this number exists; query it` };
  if (REFUSALS.includes(env.httpStatus)) return { kind: 'declined', code: env.code, message: env.message, retryable: env.code !== 'RISK_REJECTED' };
  return { kind: 'unknown', reason: `bank answered HTTP ${env.httpStatus} ${env.code}` };
}

function parsePayAnswer(cfg: BankConfig, outTradeNo: string, res: HttpResponseData, cx: CallContext): PayResult {
  const v = verifiedEnvelope(cfg, res, cx);
  if (!v.ok) return { kind: 'unknown', reason: v.reason };
  if (v.env.httpStatus !== 200 || v.env.code !== 'SUCCESS') return refusalOf(v.env);
  const t = tradeFrom(v.env.data);
  if (!t || t.outTradeNo !== outTradeNo) return { kind: 'unknown', reason: 'answer does not describe this trade' };
  return payResultOf(t, 'pay');
}

export interface CollectionRequest {
  outTradeNo: string;
  amountMinor: bigint;
  currency: string;
  subject: string;
  /** The signed direct-debit agreement (代收协议号). */
  agreementNo: string;
  expiresAt: Date;
  notifyUrl: string;
}

/** 代收: debit under a signed agreement, no SMS; the answer is final (succeeded or declined). */
export function buildCollection(cfg: BankConfig, req: CollectionRequest, cx: CallContext): HttpRequestSpec {
  if (req.currency !== 'CNY') throw new Error('bank collections are in CNY only');
  return signedRequest(cfg, 'POST', '/openapi/v1/payments', {
    outTradeNo: req.outTradeNo,
    method: 'COLLECTION',
    amount: amountJson(req.amountMinor),
    currency: req.currency,
    subject: req.subject,
    expireTime: chinaIso(req.expiresAt),
    notifyUrl: req.notifyUrl,
    agreementNo: req.agreementNo,
  }, cx);
}

export function parseCollection(cfg: BankConfig, req: { outTradeNo: string }, res: HttpResponseData, cx: CallContext): PayResult {
  return parsePayAnswer(cfg, req.outTradeNo, res, cx);
}

/** The whole statement, payouts included (the contract's parseStatement leaves payouts out). */
export function parseBankStatement(cfg: BankConfig, res: HttpResponseData, cx: CallContext): { kind: 'statement'; statement: BankStatement } | { kind: 'not_ready' } | { kind: 'unknown'; reason: string } {
  if (res.status !== 200) {
    const v = verifiedEnvelope(cfg, res, cx);
    if (!v.ok) return { kind: 'unknown', reason: v.reason };
    return v.env.code === 'STATEMENT_NOT_READY' ? { kind: 'not_ready' } : { kind: 'unknown', reason: `statement answered HTTP ${v.env.httpStatus} ${v.env.code}` };
  }
  const v = verifyFromBank(cfg, res.headers, res.body, cx.now);
  if (!v.ok) return { kind: 'unknown', reason: `statement not trusted: ${v.reason}` };
  const parsed = parseBankStatementCsv(res.body);
  return parsed.ok ? { kind: 'statement', statement: parsed.statement } : { kind: 'unknown', reason: parsed.reason };
}

function notificationEvent(eventType: string, d: Record<string, unknown> | undefined): ChannelEvent | string {
  if (eventType.startsWith('PAYMENT.')) {
    const t = tradeFrom(d);
    const status = t ? tradeStatus(t.status) : undefined;
    if (!t || !status) return 'payment event without a valid trade';
    return { type: 'payment', outTradeNo: t.outTradeNo, channelTradeNo: t.tradeNo, status, amountMinor: t.amountMinor, currency: t.currency, ...(t.paidAt ? { paidAt: t.paidAt } : {}), raw: d ?? {} };
  }
  if (eventType.startsWith('REFUND.')) {
    const outTradeNo = str(d, 'outTradeNo');
    const outRefundNo = str(d, 'outRefundNo');
    const refundMinor = amount(d, 'amount');
    const status = refundStatus(str(d, 'status'));
    if (!outTradeNo || !outRefundNo || refundMinor === undefined || !status) return 'refund event without a valid refund';
    const refundedAt = time(d, 'successTime');
    return { type: 'refund', outTradeNo, outRefundNo, ...(str(d, 'refundNo') ? { channelRefundNo: str(d, 'refundNo')! } : {}), status, refundMinor, ...(refundedAt ? { refundedAt } : {}), raw: d ?? {} };
  }
  return `event ${eventType} does not belong on the payment notify URL (payout events go to the payout's notifyUrl)`;
}

export const bankAdapter: ChannelAdapter<BankConfig> = {
  provider: 'bank',
  methods: ['bank_quick', 'bank_gateway'],
  parseConfig: parseBankConfig,

  buildPay(cfg: BankConfig, req: PayRequest, cx: CallContext): HttpRequestSpec {
    if (req.currency !== 'CNY') throw new Error('bank payments are in CNY only');
    const common = {
      outTradeNo: req.outTradeNo,
      amount: amountJson(req.amountMinor),
      currency: req.currency,
      subject: req.subject,
      expireTime: chinaIso(req.expiresAt),
      notifyUrl: req.notifyUrl,
      ...(req.returnUrl === undefined ? {} : { returnUrl: req.returnUrl }),
    };
    switch (req.method) {
      case 'bank_quick': {
        const c = req.bankCard ?? {};
        const card = c.agreementNo
          ? { agreementNo: c.agreementNo }
          : { cardNo: c.cardNo, holderName: c.holderName, idType: 'ID_CARD', idNumber: c.idNumber, phone: c.phone, ...(c.bankCode ? { bankCode: c.bankCode } : {}) };
        return signedRequest(cfg, 'POST', '/openapi/v1/payments', { ...common, method: 'QUICK', card }, cx);
      }
      case 'bank_gateway':
        return signedRequest(cfg, 'POST', '/openapi/v1/payments', { ...common, method: 'GATEWAY' }, cx);
      default:
        throw new Error(`bank cannot pay with method ${req.method}`);
    }
  },

  parsePay(cfg: BankConfig, req: PayRequest, res: HttpResponseData, cx: CallContext): PayResult {
    return parsePayAnswer(cfg, req.outTradeNo, res, cx);
  },

  buildConfirm(cfg: BankConfig, req: { outTradeNo: string; smsCode: string }, cx: CallContext): HttpRequestSpec {
    return signedRequest(cfg, 'POST', `/openapi/v1/payments/${encodeURIComponent(req.outTradeNo)}/confirm`, { smsCode: req.smsCode }, cx);
  },

  parseConfirm(cfg: BankConfig, res: HttpResponseData, cx: CallContext): PayResult {
    const v = verifiedEnvelope(cfg, res, cx);
    if (!v.ok) return { kind: 'unknown', reason: v.reason };
    const { env } = v;
    const t = tradeFrom(env.data);
    if (env.httpStatus === 200 && env.code === 'SUCCESS') return t ? payResultOf(t, 'confirm') : { kind: 'unknown', reason: 'confirm answer lacks the trade' };
    if (env.code === 'ORDER_NOT_PAYABLE') return t ? payResultOf(t, 'confirm') : { kind: 'unknown', reason: 'ORDER_NOT_PAYABLE without the trade' };
    // Refusals after which the trade still waits for a code (a wrong code with attempts left, a
    // malformed code, the bank in maintenance, our signature refused): nothing moved and the payer
    // may enter the code again, so `retryable`. Every other refusal ended the trade.
    const open = env.code === 'SMS_CODE_INVALID' || env.code === 'PARAM_ERROR' || env.httpStatus === 401 || env.httpStatus === 503;
    if (REFUSALS.includes(env.httpStatus) || env.httpStatus === 404) {
      const left = typeof env.data?.['attemptsLeft'] === 'number' ? ` (${env.data['attemptsLeft']} attempts left)` : '';
      return { kind: 'declined', code: env.code, message: `${env.message}${left}`, retryable: open };
    }
    return { kind: 'unknown', reason: `confirm answered HTTP ${env.httpStatus} ${env.code}` };
  },

  buildQuery(cfg: BankConfig, req: { outTradeNo: string }, cx: CallContext): HttpRequestSpec {
    return signedRequest(cfg, 'GET', `/openapi/v1/payments/${encodeURIComponent(req.outTradeNo)}`, undefined, cx);
  },

  parseQuery(cfg: BankConfig, res: HttpResponseData, cx: CallContext): QueryResult {
    const v = verifiedEnvelope(cfg, res, cx);
    if (!v.ok) return { kind: 'unknown', reason: v.reason };
    const { env } = v;
    if (env.httpStatus === 404 && env.code === 'ORDER_NOT_FOUND') return { kind: 'not_found' };
    if (env.httpStatus !== 200 || env.code !== 'SUCCESS') return { kind: 'unknown', reason: `query answered HTTP ${env.httpStatus} ${env.code}` };
    const t = tradeFrom(env.data);
    const status = t ? tradeStatus(t.status) : undefined;
    if (!t || !status) return { kind: 'unknown', reason: 'query answer lacks a valid trade' };
    return { kind: 'found', status, channelTradeNo: t.tradeNo, amountMinor: t.amountMinor, currency: t.currency, ...(t.paidAt ? { paidAt: t.paidAt } : {}) };
  },

  buildClose(cfg: BankConfig, req: { outTradeNo: string }, cx: CallContext): HttpRequestSpec {
    return signedRequest(cfg, 'POST', `/openapi/v1/payments/${encodeURIComponent(req.outTradeNo)}/close`, {}, cx);
  },

  parseClose(cfg: BankConfig, res: HttpResponseData, cx: CallContext): CloseResult {
    const v = verifiedEnvelope(cfg, res, cx);
    if (!v.ok) return { kind: 'unknown', reason: v.reason };
    const { env } = v;
    if (env.httpStatus === 200 && env.code === 'SUCCESS') {
      const s = str(env.data, 'status');
      return s === 'CLOSED' || s === 'FAILED' ? { kind: 'closed' } : { kind: 'unknown', reason: `close answered status ${s ?? '(none)'}` };
    }
    if (env.code === 'ORDER_PAID') return { kind: 'already_paid' };
    if ([400, 401, 503].includes(env.httpStatus)) return { kind: 'declined', code: env.code, message: env.message };
    return { kind: 'unknown', reason: `close answered HTTP ${env.httpStatus} ${env.code}` };
  },

  buildRefund(cfg: BankConfig, req: RefundRequest, cx: CallContext): HttpRequestSpec {
    if (req.currency !== 'CNY') throw new Error('bank refunds are in CNY only');
    return signedRequest(cfg, 'POST', '/openapi/v1/refunds', {
      outTradeNo: req.outTradeNo,
      outRefundNo: req.outRefundNo,
      amount: amountJson(req.refundMinor),
      currency: req.currency,
      ...(req.reason === undefined ? {} : { reason: req.reason }),
      ...(req.notifyUrl === undefined ? {} : { notifyUrl: req.notifyUrl }),
    }, cx);
  },

  parseRefund(cfg: BankConfig, res: HttpResponseData, cx: CallContext): RefundResult {
    const v = verifiedEnvelope(cfg, res, cx);
    if (!v.ok) return { kind: 'unknown', reason: v.reason };
    const { env } = v;
    if (env.httpStatus === 200 && env.code === 'SUCCESS') {
      const status = refundStatus(str(env.data, 'status'));
      if (!status) return { kind: 'unknown', reason: 'refund answer lacks a valid status' };
      const refundedAt = time(env.data, 'successTime');
      return { kind: 'accepted', status, ...(str(env.data, 'refundNo') ? { channelRefundNo: str(env.data, 'refundNo')! } : {}), ...(refundedAt ? { refundedAt } : {}) };
    }
    if (env.code.startsWith('DUPLICATE_')) return { kind: 'unknown', reason: `${env.code}: a refund under this number exists; query it` };
    if ([...REFUSALS, 404].includes(env.httpStatus)) return { kind: 'declined', code: env.code, message: env.message };
    return { kind: 'unknown', reason: `refund answered HTTP ${env.httpStatus} ${env.code}` };
  },

  buildRefundQuery(cfg: BankConfig, req: { outTradeNo: string; outRefundNo: string }, cx: CallContext): HttpRequestSpec {
    return signedRequest(cfg, 'GET', `/openapi/v1/refunds/${encodeURIComponent(req.outRefundNo)}`, undefined, cx);
  },

  parseRefundQuery(cfg: BankConfig, res: HttpResponseData, cx: CallContext): RefundQueryResult {
    const v = verifiedEnvelope(cfg, res, cx);
    if (!v.ok) return { kind: 'unknown', reason: v.reason };
    const { env } = v;
    if (env.httpStatus === 404 && env.code === 'REFUND_NOT_FOUND') return { kind: 'not_found' };
    if (env.httpStatus !== 200 || env.code !== 'SUCCESS') return { kind: 'unknown', reason: `refund query answered HTTP ${env.httpStatus} ${env.code}` };
    const status = refundStatus(str(env.data, 'status'));
    const refundMinor = amount(env.data, 'amount');
    if (!status || refundMinor === undefined) return { kind: 'unknown', reason: 'refund query answer lacks status or amount' };
    const refundedAt = time(env.data, 'successTime');
    return { kind: 'found', status, ...(str(env.data, 'refundNo') ? { channelRefundNo: str(env.data, 'refundNo')! } : {}), refundMinor, ...(refundedAt ? { refundedAt } : {}) };
  },

  verifyNotification(cfg: BankConfig, req: { headers: Record<string, string>; body: string }, cx: CallContext): NotificationResult {
    const v = verifyFromBank(cfg, req.headers, req.body, cx.now);
    if (!v.ok) return { ok: false, code: v.stale ? 'stale' : 'bad_signature', message: v.reason, nack: bankNack(v.reason) };
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return { ok: false, code: 'bad_format', message: 'notification is not JSON', nack: bankNack('not JSON') };
    }
    const data = typeof o['data'] === 'object' && o['data'] !== null ? (o['data'] as Record<string, unknown>) : undefined;
    const event = notificationEvent(typeof o['eventType'] === 'string' ? o['eventType'] : '', data);
    if (typeof event === 'string') return { ok: false, code: 'bad_format', message: event, nack: bankNack(event) };
    return { ok: true, event, ack: BANK_ACK };
  },

  buildStatement(cfg: BankConfig, req: { date: string }, cx: CallContext): HttpRequestSpec {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(req.date)) throw new Error(`statement date must be YYYY-MM-DD, got ${req.date}`);
    const spec = signedRequest(cfg, 'GET', `/openapi/v1/statements/${req.date}`, undefined, cx);
    return { ...spec, headers: { ...spec.headers, accept: 'text/csv' } };
  },

  parseStatement(cfg: BankConfig, res: HttpResponseData, cx: CallContext): StatementResult {
    const r = parseBankStatement(cfg, res, cx);
    switch (r.kind) {
      case 'statement': {
        const lines = contractLines(r.statement.records);
        return { kind: 'lines', lines, totals: contractTotals(lines) };
      }
      case 'not_ready':
      case 'unknown':
        return r;
    }
  },
};
