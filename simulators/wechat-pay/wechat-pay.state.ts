/**
 * The simulator's trades and refunds, per merchant, with WeChat Pay's rules: an out_trade_no is
 * unique per mchid and a repeat with the same content returns the same order; refunds may be
 * partial and many (at most 50) but never above the paid amount less earlier refunds; a repeated
 * out_refund_no returns the existing refund. Amounts are integer fen.
 */
import { randomBytes } from 'node:crypto';
import { randomAlphanumeric, randomDigits } from './wechat-pay.keys.js';
import { chinaDate, chinaStamp } from './wechat-pay.time.js';

export type TradeType = 'NATIVE' | 'JSAPI';
/** What is stored; REFUND is derived (a paid trade with refunds). */
export type StoredTradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'USERPAYING' | 'PAYERROR';
export type TradeState = StoredTradeState | 'REFUND';
export type RefundState = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

export interface SimRefund {
  outRefundNo: string;
  refundId: string;
  refundMinor: number;
  status: RefundState;
  reason?: string;
  notifyUrl?: string;
  createdAt: Date;
  successAt?: Date;
}

export interface SimTrade {
  mchid: string;
  appid: string;
  outTradeNo: string;
  tradeType: TradeType;
  description: string;
  attach?: string;
  notifyUrl: string;
  totalMinor: number;
  openid?: string;
  createdAt: Date;
  expireAt: Date;
  state: StoredTradeState;
  prepayId: string;
  codeUrl?: string;
  transactionId?: string;
  successAt?: Date;
  /** The openid of whoever paid (JSAPI: the order's openid; Native: a generated one). */
  payerOpenid?: string;
  refunds: SimRefund[];
}

export type NewTrade = Pick<SimTrade, 'mchid' | 'appid' | 'outTradeNo' | 'tradeType' | 'description' | 'attach' | 'notifyUrl' | 'totalMinor' | 'openid' | 'expireAt'>;

export type CreateResult = { kind: 'created' | 'existing'; trade: SimTrade } | { kind: 'conflict' | 'closed' | 'paid'; trade: SimTrade };

export type RefundInput = { outRefundNo: string; refundMinor: number; totalMinor: number; reason?: string; notifyUrl?: string };
export type RefundAdd =
  | { kind: 'created' | 'existing'; refund: SimRefund }
  | { kind: 'conflict' | 'not_paid' | 'total_mismatch' | 'too_many' }
  | { kind: 'exceeds'; refundableMinor: number };

export type PayOutcome = 'success' | 'fail' | 'userpaying';
export type PayResult = { ok: true; trade: SimTrade; newlyPaid: boolean } | { ok: false; reason: 'closed' | 'paid' | 'expired' | 'failed' };

const MAX_REFUNDS_PER_TRADE = 50;

function key(mchid: string, no: string): string {
  return `${mchid}\u0000${no}`;
}

function sameOrder(t: SimTrade, n: NewTrade): boolean {
  return t.tradeType === n.tradeType && t.totalMinor === n.totalMinor && t.description === n.description && t.openid === n.openid && t.appid === n.appid;
}

export class WechatPayState {
  private readonly trades = new Map<string, SimTrade>();
  private readonly refunds = new Map<string, { trade: SimTrade; refund: SimRefund }>();

  /** The state queries show: a paid trade with any refund reads REFUND (转入退款). */
  static visibleState(t: SimTrade): TradeState {
    return t.state === 'SUCCESS' && t.refunds.length > 0 ? 'REFUND' : t.state;
  }

  static isPaid(t: SimTrade): boolean {
    return t.state === 'SUCCESS';
  }

  create(n: NewTrade, now: Date): CreateResult {
    const existing = this.trades.get(key(n.mchid, n.outTradeNo));
    if (existing) {
      if (existing.state === 'CLOSED') return { kind: 'closed', trade: existing };
      if (existing.state === 'SUCCESS') return { kind: 'paid', trade: existing };
      return sameOrder(existing, n) ? { kind: 'existing', trade: existing } : { kind: 'conflict', trade: existing };
    }
    const trade: SimTrade = {
      ...n,
      createdAt: now,
      state: 'NOTPAY',
      prepayId: `wx${chinaStamp(now)}${randomBytes(10).toString('hex')}`,
      refunds: [],
      ...(n.tradeType === 'NATIVE' ? { codeUrl: `weixin://wxpay/bizpayurl?pr=${randomAlphanumeric(7)}` } : {}),
    };
    this.trades.set(key(n.mchid, n.outTradeNo), trade);
    return { kind: 'created', trade };
  }

  get(mchid: string, outTradeNo: string): SimTrade | undefined {
    return this.trades.get(key(mchid, outTradeNo));
  }

  findByTransactionId(mchid: string, transactionId: string): SimTrade | undefined {
    for (const t of this.trades.values()) if (t.mchid === mchid && t.transactionId === transactionId) return t;
    return undefined;
  }

  /** Control endpoints name a trade by out_trade_no alone; the first merchant's wins (tests use unique numbers). */
  find(outTradeNo: string, mchid?: string): SimTrade | undefined {
    if (mchid) return this.get(mchid, outTradeNo);
    for (const t of this.trades.values()) if (t.outTradeNo === outTradeNo) return t;
    return undefined;
  }

  /** Closing an unpaid order; a paid one cannot be closed. */
  close(t: SimTrade): 'closed' | 'paid' {
    if (WechatPayState.isPaid(t)) return 'paid';
    t.state = 'CLOSED';
    return 'closed';
  }

  /** The payer acts on the order (scans the QR code / confirms in WeChat). */
  pay(t: SimTrade, outcome: PayOutcome, now: Date): PayResult {
    if (t.state === 'CLOSED') return { ok: false, reason: 'closed' };
    if (t.state === 'SUCCESS') return { ok: false, reason: 'paid' };
    if (t.state === 'PAYERROR') return { ok: false, reason: 'failed' };
    // After time_expire the payer can no longer pay; the order itself stays NOTPAY until closed.
    if (now.getTime() > t.expireAt.getTime()) return { ok: false, reason: 'expired' };
    switch (outcome) {
      case 'userpaying':
        t.state = 'USERPAYING';
        return { ok: true, trade: t, newlyPaid: false };
      case 'fail':
        t.state = 'PAYERROR';
        return { ok: true, trade: t, newlyPaid: false };
      case 'success':
        t.state = 'SUCCESS';
        t.successAt = now;
        t.transactionId = `42000${randomDigits(5)}${chinaStamp(now).slice(0, 8)}${randomDigits(10)}`;
        t.payerOpenid = t.openid ?? `o${randomAlphanumeric(27)}`;
        return { ok: true, trade: t, newlyPaid: true };
    }
  }

  /** Paid amount less refunds that are not closed (a closed refund gave the money back to the merchant). */
  static refundableMinor(t: SimTrade): number {
    return t.totalMinor - t.refunds.filter((r) => r.status !== 'CLOSED').reduce((a, r) => a + r.refundMinor, 0);
  }

  addRefund(t: SimTrade, input: RefundInput, now: Date): RefundAdd {
    const found = this.refunds.get(key(t.mchid, input.outRefundNo));
    if (found) {
      return found.trade === t && found.refund.refundMinor === input.refundMinor ? { kind: 'existing', refund: found.refund } : { kind: 'conflict' };
    }
    if (!WechatPayState.isPaid(t)) return { kind: 'not_paid' };
    if (input.totalMinor !== t.totalMinor) return { kind: 'total_mismatch' };
    if (t.refunds.length >= MAX_REFUNDS_PER_TRADE) return { kind: 'too_many' };
    const refundable = WechatPayState.refundableMinor(t);
    if (input.refundMinor > refundable) return { kind: 'exceeds', refundableMinor: refundable };
    const refund: SimRefund = {
      outRefundNo: input.outRefundNo,
      refundId: `503${randomDigits(8)}${chinaStamp(now).slice(0, 8)}${randomDigits(10)}`,
      refundMinor: input.refundMinor,
      status: 'PROCESSING',
      createdAt: now,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.notifyUrl ? { notifyUrl: input.notifyUrl } : {}),
    };
    t.refunds.push(refund);
    this.refunds.set(key(t.mchid, input.outRefundNo), { trade: t, refund });
    return { kind: 'created', refund };
  }

  getRefund(mchid: string, outRefundNo: string): { trade: SimTrade; refund: SimRefund } | undefined {
    return this.refunds.get(key(mchid, outRefundNo));
  }

  findRefund(outRefundNo: string): { trade: SimTrade; refund: SimRefund } | undefined {
    for (const r of this.refunds.values()) if (r.refund.outRefundNo === outRefundNo) return r;
    return undefined;
  }

  /** Moves a refund out of PROCESSING; false when it already left it. */
  settleRefund(refund: SimRefund, status: Exclude<RefundState, 'PROCESSING'>, now: Date): boolean {
    if (refund.status !== 'PROCESSING') return false;
    refund.status = status;
    if (status === 'SUCCESS') refund.successAt = now;
    return true;
  }

  /** Payments whose success time, and refunds whose acceptance time, fall on the China business date. */
  billRows(mchid: string, date: string): { payments: SimTrade[]; refunds: { trade: SimTrade; refund: SimRefund }[] } {
    const payments: SimTrade[] = [];
    const refunds: { trade: SimTrade; refund: SimRefund }[] = [];
    for (const t of this.trades.values()) {
      if (t.mchid !== mchid) continue;
      if (t.successAt && chinaDate(t.successAt) === date) payments.push(t);
      for (const r of t.refunds) if (chinaDate(r.createdAt) === date) refunds.push({ trade: t, refund: r });
    }
    payments.sort((a, b) => a.successAt!.getTime() - b.successAt!.getTime());
    refunds.sort((a, b) => a.refund.createdAt.getTime() - b.refund.createdAt.getTime());
    return { payments, refunds };
  }

  reset(): void {
    this.trades.clear();
    this.refunds.clear();
  }
}
