/**
 * SimBank's records: trades (quick, gateway, collection), refunds and payouts, per merchant, with
 * the JSON shapes the API answers with (README §3-5). Amounts are integers in fen.
 */
import { randomInt } from 'node:crypto';

export type TradeMethod = 'QUICK' | 'GATEWAY' | 'COLLECTION';
export type TradeState = 'AWAITING_CONFIRMATION' | 'PENDING' | 'SUCCESS' | 'FAILED' | 'CLOSED';

export interface Trade {
  merchantId: string;
  outTradeNo: string;
  tradeNo: string;
  method: TradeMethod;
  amountFen: number;
  subject: string;
  expireAt: Date;
  notifyUrl: string;
  returnUrl?: string;
  status: TradeState;
  closeReason?: string;
  failCode?: string;
  createdAt: Date;
  paidAt?: Date;
  refundedFen: number;
  fingerprint: string;
  cardNo?: string;
  maskedPhone?: string;
  sms?: { code: string; expiresAt: Date; attemptsLeft: number };
  cashierToken?: string;
}

export interface Refund {
  merchantId: string;
  outRefundNo: string;
  refundNo: string;
  outTradeNo: string;
  tradeNo: string;
  amountFen: number;
  status: 'PROCESSING' | 'SUCCESS' | 'FAILED';
  createdAt: Date;
  successTime?: Date;
  notifyUrl: string;
  fingerprint: string;
}

export interface Payout {
  merchantId: string;
  outPayoutNo: string;
  payoutNo: string;
  amountFen: number;
  accountNo: string;
  accountName: string;
  bankCode: string;
  notifyUrl?: string;
  status: 'PROCESSING' | 'SUCCESS' | 'FAILED';
  failCode?: string;
  failReason?: string;
  createdAt: Date;
  successTime?: Date;
  fingerprint: string;
}

/** The flat fee per successful payout, in fen. */
export const PAYOUT_FEE_FEN = 100;

/** 0.30% of a payment or collection, rounded half up. */
export function paymentFeeFen(amountFen: number): number {
  return Math.floor((amountFen * 30 + 5000) / 10000);
}

const CHINA_MS = 8 * 3600_000;

export function chinaIso(at: Date): string {
  return `${new Date(at.getTime() + CHINA_MS).toISOString().slice(0, 19)}+08:00`;
}

export function chinaDate(at: Date): string {
  return new Date(at.getTime() + CHINA_MS).toISOString().slice(0, 10);
}

function serial(prefix: string, at: Date): string {
  return `${prefix}${new Date(at.getTime() + CHINA_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14)}${String(randomInt(1_000_000)).padStart(6, '0')}`;
}

export class BankStore {
  readonly trades = new Map<string, Trade>();
  readonly refunds = new Map<string, Refund>();
  readonly payouts = new Map<string, Payout>();

  static key(merchantId: string, no: string): string {
    return `${merchantId}|${no}`;
  }

  trade(merchantId: string, outTradeNo: string, now = new Date()): Trade | undefined {
    const t = this.trades.get(BankStore.key(merchantId, outTradeNo));
    if (t) this.lapseIfDue(t, now);
    return t;
  }

  /** For the control endpoints, which do not name the merchant. */
  tradeByNo(outTradeNo: string): Trade | undefined {
    for (const t of this.trades.values()) if (t.outTradeNo === outTradeNo) return this.trade(t.merchantId, outTradeNo);
    return undefined;
  }

  payoutByNo(outPayoutNo: string): Payout | undefined {
    for (const p of this.payouts.values()) if (p.outPayoutNo === outPayoutNo) return p;
    return undefined;
  }

  newTrade(t: Omit<Trade, 'tradeNo' | 'refundedFen'>): Trade {
    const trade: Trade = { ...t, tradeNo: serial('B', t.createdAt), refundedFen: 0 };
    this.trades.set(BankStore.key(t.merchantId, t.outTradeNo), trade);
    return trade;
  }

  newRefund(r: Omit<Refund, 'refundNo' | 'status'>, trade: Trade): Refund {
    const refund: Refund = { ...r, refundNo: serial('BR', r.createdAt), status: 'PROCESSING' };
    this.refunds.set(BankStore.key(r.merchantId, r.outRefundNo), refund);
    trade.refundedFen += refund.amountFen;
    return refund;
  }

  newPayout(p: Omit<Payout, 'payoutNo'>): Payout {
    const payout: Payout = { ...p, payoutNo: serial('BO', p.createdAt) };
    this.payouts.set(BankStore.key(p.merchantId, p.outPayoutNo), payout);
    return payout;
  }

  clear(): void {
    this.trades.clear();
    this.refunds.clear();
    this.payouts.clear();
  }

  /** An unpaid trade closes itself at its expireTime. */
  private lapseIfDue(t: Trade, now: Date): void {
    if ((t.status === 'AWAITING_CONFIRMATION' || t.status === 'PENDING') && now.getTime() >= t.expireAt.getTime()) {
      t.status = 'CLOSED';
      t.closeReason = 'EXPIRED';
      delete t.sms;
    }
  }
}

export function tradeData(t: Trade, cashierUrl: string): Record<string, unknown> {
  const fullyRefunded = t.status === 'SUCCESS' && t.refundedFen > 0 && t.refundedFen >= t.amountFen;
  return {
    outTradeNo: t.outTradeNo,
    tradeNo: t.tradeNo,
    method: t.method,
    status: fullyRefunded ? 'REFUNDED' : t.status,
    amount: t.amountFen,
    currency: 'CNY',
    refundedAmount: t.refundedFen,
    ...(t.paidAt ? { paidTime: chinaIso(t.paidAt) } : {}),
    ...(t.closeReason ? { closeReason: t.closeReason } : {}),
    ...(t.failCode ? { failCode: t.failCode } : {}),
    ...(t.status === 'AWAITING_CONFIRMATION' && t.sms ? { maskedPhone: t.maskedPhone, smsExpireTime: chinaIso(t.sms.expiresAt) } : {}),
    ...(t.status === 'PENDING' && t.cashierToken ? { cashierUrl, cashierFields: { merchantId: t.merchantId, tradeToken: t.cashierToken } } : {}),
  };
}

export function refundData(r: Refund): Record<string, unknown> {
  return {
    outRefundNo: r.outRefundNo,
    refundNo: r.refundNo,
    outTradeNo: r.outTradeNo,
    tradeNo: r.tradeNo,
    amount: r.amountFen,
    currency: 'CNY',
    status: r.status,
    createTime: chinaIso(r.createdAt),
    ...(r.successTime ? { successTime: chinaIso(r.successTime) } : {}),
  };
}

export function payoutData(p: Payout): Record<string, unknown> {
  return {
    outPayoutNo: p.outPayoutNo,
    payoutNo: p.payoutNo,
    amount: p.amountFen,
    fee: p.status === 'SUCCESS' ? PAYOUT_FEE_FEN : 0,
    currency: 'CNY',
    accountNo: `${p.accountNo.slice(0, 4)}****${p.accountNo.slice(-4)}`,
    bankCode: p.bankCode,
    status: p.status,
    ...(p.failCode ? { failCode: p.failCode, failReason: p.failReason ?? '' } : {}),
    createTime: chinaIso(p.createdAt),
    ...(p.successTime ? { successTime: chinaIso(p.successTime) } : {}),
  };
}
