/**
 * The simulator's trades and refunds, and the business rules of the trade APIs. Handlers return
 * the fields of the `<method>_response` object (code, msg, sub_code, ...) plus the events the
 * simulator must announce by notification. Amounts are fen (bigint) throughout.
 *
 * Alipay semantics kept here: a precreate / page.pay order becomes a trade only when the payer
 * scans the code or logs in on the cashier ("preorder" until then: query, close and refund answer
 * ACQ.TRADE_NOT_EXIST); an unpaid trade closes at its time_expire; partial refunds never exceed
 * what is left; repeating an out_request_no returns the refund made before (fund_change=N).
 */
import { parseMajor } from '../../src/kernel/money.js';
import { beijing, parseBeijing, yuan } from './alipay.crypto.js';

export type TradeState = 'preorder' | 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED';

export interface SimRefund {
  outRequestNo: string;
  amountFen: bigint;
  feeReturnedFen: bigint;
  at: Date;
  reason?: string;
}

export interface SimTrade {
  appId: string;
  pid: string;
  outTradeNo: string;
  tradeNo: string;
  kind: 'precreate' | 'page';
  subject: string;
  totalFen: bigint;
  notifyUrl?: string;
  createdAt: Date;
  expiresAt: Date;
  state: TradeState;
  /** A preorder whose code expired before anyone scanned it: it can no longer become a trade. */
  expired: boolean;
  scannedAt?: Date;
  paidAt?: Date;
  closedAt?: Date;
  feeFen: bigint;
  refunds: SimRefund[];
  qrCode: string;
}

export type TradeEvent = { type: 'trade'; trade: SimTrade } | { type: 'refund'; trade: SimTrade; refund: SimRefund };

export interface Outcome {
  fields: Record<string, unknown>;
  events: TradeEvent[];
}

export const OK = { code: '10000', msg: 'Success' } as const;

export function businessError(subCode: string, subMsg: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg, ...extra };
}

const DEFAULT_TIMEOUT_MS = 3 * 3_600_000;
const MAX_TOTAL_FEN = 10_000_000_000n;
const OUT_NO = /^[A-Za-z0-9_]{1,64}$/;

export function refundedFen(t: SimTrade): bigint {
  return t.refunds.reduce((s, r) => s + r.amountFen, 0n);
}

export class AlipayState {
  private trades = new Map<string, SimTrade>();

  constructor(
    private readonly ids: { tradeNo(at: Date): string; qrCode(): string },
    private readonly feeRateBp: number,
  ) {}

  reset(): void {
    this.trades.clear();
  }

  all(): SimTrade[] {
    return [...this.trades.values()];
  }

  /** Finds a trade by out_trade_no for the control endpoints, which do not name an app. */
  findAny(outTradeNo: string): SimTrade | undefined {
    return this.all().find((t) => t.outTradeNo === outTradeNo);
  }

  private key(appId: string, outTradeNo: string): string {
    return `${appId}\u0000${outTradeNo}`;
  }

  /** The trade Alipay would acknowledge: preorders are invisible to the trade APIs. */
  private visible(appId: string, biz: Record<string, unknown>): SimTrade | undefined {
    const byOut = typeof biz['out_trade_no'] === 'string' ? this.trades.get(this.key(appId, biz['out_trade_no'])) : undefined;
    const t = byOut ?? (typeof biz['trade_no'] === 'string' ? this.all().find((x) => x.appId === appId && x.tradeNo === biz['trade_no']) : undefined);
    return t && t.state !== 'preorder' ? t : undefined;
  }

  /** alipay.trade.precreate and alipay.trade.page.pay: registers (or repeats) a preorder. */
  order(app: { appId: string; pid: string }, kind: 'precreate' | 'page', biz: Record<string, unknown>, notifyUrl: string | undefined, now: Date): { fields: Record<string, unknown>; trade?: SimTrade } {
    const outTradeNo = biz['out_trade_no'];
    const subject = biz['subject'];
    const totalFen = typeof biz['total_amount'] === 'string' ? parseMajor(biz['total_amount'], 'CNY') : undefined;
    if (typeof outTradeNo !== 'string' || !OUT_NO.test(outTradeNo)) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: out_trade_no') };
    if (totalFen === undefined || totalFen < 1n || totalFen > MAX_TOTAL_FEN) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: total_amount') };
    if (typeof subject !== 'string' || subject === '' || [...subject].length > 256) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: subject') };
    const wantProduct = kind === 'page' ? 'FAST_INSTANT_TRADE_PAY' : 'FACE_TO_FACE_PAYMENT';
    if (biz['product_code'] !== undefined && biz['product_code'] !== wantProduct) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: product_code') };
    const expiresAt = expiry(biz, now);
    if (expiresAt === undefined) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: time_expire / timeout_express') };
    if (expiresAt.getTime() <= now.getTime()) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: time_expire 已过') };

    const existing = this.trades.get(this.key(app.appId, outTradeNo));
    if (existing) {
      // The same out_trade_no with other content is refused; a faithful repeat returns the same order.
      if (existing.totalFen !== totalFen || existing.subject !== subject || existing.kind !== kind) {
        return { fields: businessError('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改') };
      }
      if (existing.state === 'TRADE_SUCCESS') return { fields: businessError('ACQ.TRADE_HAS_SUCCESS', '交易已被支付') };
      if (existing.state === 'TRADE_CLOSED' || existing.expired) return { fields: businessError('ACQ.TRADE_HAS_CLOSE', '交易已经关闭') };
      return { fields: { ...OK, out_trade_no: outTradeNo, qr_code: existing.qrCode }, trade: existing };
    }
    const trade: SimTrade = {
      appId: app.appId,
      pid: app.pid,
      outTradeNo,
      tradeNo: this.ids.tradeNo(now),
      kind,
      subject,
      totalFen,
      createdAt: now,
      expiresAt,
      state: 'preorder',
      expired: false,
      feeFen: 0n,
      refunds: [],
      qrCode: this.ids.qrCode(),
    };
    if (notifyUrl) trade.notifyUrl = notifyUrl;
    this.trades.set(this.key(app.appId, outTradeNo), trade);
    return { fields: { ...OK, out_trade_no: outTradeNo, qr_code: trade.qrCode }, trade };
  }

  /** The payer scans the code / logs in on the cashier: Alipay creates the trade (WAIT_BUYER_PAY). */
  scan(t: SimTrade, now: Date): string | undefined {
    if (t.expired || now.getTime() >= t.expiresAt.getTime()) return 'the order has expired';
    if (t.state === 'preorder') {
      t.state = 'WAIT_BUYER_PAY';
      t.scannedAt = now;
    }
    return undefined;
  }

  /** The payer pays (or gives up: the trade closes). */
  pay(t: SimTrade, success: boolean, now: Date): { error?: string; events: TradeEvent[] } {
    const scanError = this.scan(t, now);
    if (scanError) return { error: scanError, events: [] };
    if (t.state !== 'WAIT_BUYER_PAY') return { error: `the trade is ${t.state}`, events: [] };
    if (success) {
      t.state = 'TRADE_SUCCESS';
      t.paidAt = now;
      t.feeFen = roundedShare(t.totalFen, BigInt(this.feeRateBp), 10_000n);
    } else {
      t.state = 'TRADE_CLOSED';
      t.closedAt = now;
    }
    return { events: [{ type: 'trade', trade: t }] };
  }

  /** Closes unpaid trades whose time has come; returns the ones Alipay announces. */
  sweep(now: Date): TradeEvent[] {
    const events: TradeEvent[] = [];
    for (const t of this.trades.values()) {
      if (now.getTime() < t.expiresAt.getTime()) continue;
      if (t.state === 'preorder') t.expired = true;
      else if (t.state === 'WAIT_BUYER_PAY') {
        t.state = 'TRADE_CLOSED';
        t.closedAt = t.expiresAt;
        events.push({ type: 'trade', trade: t });
      }
    }
    return events;
  }

  query(appId: string, biz: Record<string, unknown>): Record<string, unknown> {
    const t = this.visible(appId, biz);
    if (!t) return businessError('ACQ.TRADE_NOT_EXIST', '交易不存在');
    const paid = t.paidAt !== undefined;
    const fields: Record<string, unknown> = {
      ...OK,
      trade_no: t.tradeNo,
      out_trade_no: t.outTradeNo,
      buyer_logon_id: buyerLogon(t),
      trade_status: t.state,
      total_amount: yuan(t.totalFen),
      buyer_pay_amount: paid ? yuan(t.totalFen) : '0.00',
      point_amount: '0.00',
      invoice_amount: paid ? yuan(t.totalFen) : '0.00',
      receipt_amount: paid ? yuan(t.totalFen) : '0.00',
      buyer_user_id: buyerId(t),
    };
    if (t.paidAt) fields['send_pay_date'] = beijing(t.paidAt);
    return fields;
  }

  close(appId: string, biz: Record<string, unknown>, now: Date): Record<string, unknown> {
    const t = this.visible(appId, biz);
    if (!t) return businessError('ACQ.TRADE_NOT_EXIST', '交易不存在');
    if (t.state === 'WAIT_BUYER_PAY') {
      t.state = 'TRADE_CLOSED';
      t.closedAt = now;
    } else if (t.paidAt !== undefined) {
      return businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    }
    // Closing an unpaid trade that is already closed answers success again (not confirmed against Alipay).
    return { ...OK, trade_no: t.tradeNo, out_trade_no: t.outTradeNo };
  }

  refund(appId: string, biz: Record<string, unknown>, now: Date, decline: boolean): Outcome {
    const t = this.visible(appId, biz);
    const amountFen = typeof biz['refund_amount'] === 'string' ? parseMajor(biz['refund_amount'], 'CNY') : undefined;
    if (amountFen === undefined || amountFen < 1n) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: refund_amount'), events: [] };
    if (!t) return { fields: businessError('ACQ.TRADE_NOT_EXIST', '交易不存在'), events: [] };
    const given = biz['out_request_no'];
    if (given !== undefined && (typeof given !== 'string' || !OUT_NO.test(given))) return { fields: businessError('ACQ.INVALID_PARAMETER', '参数无效: out_request_no'), events: [] };
    // Without out_request_no the refund is identified by the out_trade_no and must be full.
    const outRequestNo = typeof given === 'string' ? given : t.outTradeNo;
    const base = { trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: buyerLogon(t), buyer_user_id: buyerId(t) };
    const previous = t.refunds.find((r) => r.outRequestNo === outRequestNo);
    if (previous) {
      if (previous.amountFen !== amountFen) return { fields: businessError('ACQ.DISCORDANT_REPEAT_REQUEST', '不一致的请求', base), events: [] };
      return { fields: { ...OK, ...base, fund_change: 'N', refund_fee: yuan(refundedFen(t)), gmt_refund_pay: beijing(previous.at) }, events: [] };
    }
    if (t.paidAt === undefined) return { fields: businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法', base), events: [] };
    const left = t.totalFen - refundedFen(t);
    if (left === 0n) return { fields: businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法', base), events: [] };
    const zero = { refund_fee: yuan(refundedFen(t)), send_back_fee: '0.00' };
    if (given === undefined && amountFen !== t.totalFen) return { fields: businessError('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '撤销或退款金额与订单金额不一致', { ...base, ...zero }), events: [] };
    if (amountFen > left) return { fields: businessError('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限', { ...base, ...zero }), events: [] };
    if (decline) return { fields: businessError('ACQ.SELLER_BALANCE_NOT_ENOUGH', '卖家余额不足', { ...base, ...zero }), events: [] };

    const before = refundedFen(t);
    const feeBack = roundedShare(t.feeFen, before + amountFen, t.totalFen) - roundedShare(t.feeFen, before, t.totalFen);
    const refund: SimRefund = { outRequestNo, amountFen, feeReturnedFen: feeBack, at: now };
    if (typeof biz['refund_reason'] === 'string') refund.reason = biz['refund_reason'];
    t.refunds.push(refund);
    if (refundedFen(t) === t.totalFen) {
      t.state = 'TRADE_CLOSED';
      t.closedAt = now;
    }
    const fields = { ...OK, ...base, fund_change: 'Y', refund_fee: yuan(refundedFen(t)), gmt_refund_pay: beijing(now), send_back_fee: yuan(amountFen) };
    return { fields, events: [{ type: 'refund', trade: t, refund }] };
  }

  refundQuery(appId: string, biz: Record<string, unknown>): Record<string, unknown> {
    const t = this.visible(appId, biz);
    if (!t) return businessError('ACQ.TRADE_NOT_EXIST', '交易不存在');
    const outRequestNo = typeof biz['out_request_no'] === 'string' ? biz['out_request_no'] : undefined;
    if (!outRequestNo) return businessError('ACQ.INVALID_PARAMETER', '参数无效: out_request_no');
    const r = t.refunds.find((x) => x.outRequestNo === outRequestNo);
    // No refund under this number: a bare success, which Alipay documents as "not received or failed".
    if (!r) return { ...OK };
    const fields: Record<string, unknown> = {
      ...OK,
      trade_no: t.tradeNo,
      out_trade_no: t.outTradeNo,
      out_request_no: r.outRequestNo,
      total_amount: yuan(t.totalFen),
      refund_amount: yuan(r.amountFen),
      refund_status: 'REFUND_SUCCESS',
    };
    if (r.reason) fields['refund_reason'] = r.reason;
    const options = biz['query_options'];
    if (Array.isArray(options) && options.includes('gmt_refund_pay')) fields['gmt_refund_pay'] = beijing(r.at, true);
    return fields;
  }
}

/** The absolute expiry: time_expire wins over timeout_express; the default is three hours. */
function expiry(biz: Record<string, unknown>, now: Date): Date | undefined {
  const abs = biz['time_expire'];
  if (abs !== undefined) return typeof abs === 'string' ? parseBeijing(abs) : undefined;
  const rel = biz['timeout_express'];
  if (rel === undefined) return new Date(now.getTime() + DEFAULT_TIMEOUT_MS);
  const m = typeof rel === 'string' ? /^(\d+)([mhd])$/.exec(rel) : null;
  if (!m) return undefined;
  const unitMs = m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 86_400_000;
  const ms = Number(m[1]) * unitMs;
  if (ms < 60_000 || ms > 15 * 86_400_000) return undefined;
  return new Date(now.getTime() + ms);
}

/** round-half-up(value * num / den) in integers. */
function roundedShare(value: bigint, num: bigint, den: bigint): bigint {
  return (value * num * 2n + den) / (den * 2n);
}

function buyerLogon(t: SimTrade): string {
  return `159****${t.tradeNo.slice(-4)}`;
}

function buyerId(t: SimTrade): string {
  return `2088${t.tradeNo.slice(-12)}`;
}
