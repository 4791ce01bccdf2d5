/**
 * The UnionPay simulator's transactions. UnionPay names every transaction (a QR consume, a refund,
 * a cancellation) by merId + orderId + txnTime, and queries find any of them that way, so they
 * share one table. Amounts are integers in fen.
 */
import { randomInt } from 'node:crypto';
import { chinaStamp, settleDateOf } from './unionpay.protocol.js';

export type ConsumeStatus = 'awaiting' | 'paid' | 'failed' | 'closed';

interface TxnBase {
  key: string;
  merId: string;
  orderId: string;
  txnTime: string;
  amountFen: number;
  backUrl: string;
  createdAt: Date;
  /** The request's business fields, to tell a resubmission from a different order under the same name. */
  fingerprint: string;
  reqReserved?: string;
  queryId: string;
  traceNo: string;
  /** MMDDhhmmss China time, set when the money moves. */
  traceTime?: string;
  settleDate?: string;
}

export interface Consume extends TxnBase {
  kind: 'consume';
  payTimeout: Date;
  qrCode: string;
  status: ConsumeStatus;
  /** origRespCode of a payment attempt that failed, or of the lapse. */
  failCode?: string;
  paidAt?: Date;
  accNo?: string;
  refundedFen: number;
  refundKeys: string[];
}

export interface Refund extends TxnBase {
  kind: 'refund';
  /** 04 退货 or 31 消费撤销. */
  txnType: '04' | '31';
  origKey: string;
  status: 'processing' | 'succeeded';
  completedAt?: Date;
}

export type Txn = Consume | Refund;

export function txnKey(merId: string, orderId: string, txnTime: string): string {
  return `${merId}|${orderId}|${txnTime}`;
}

function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

/** A 21-digit 交易查询流水号, unique within the simulator. */
function newQueryId(at: Date, used: Set<string>): string {
  for (;;) {
    const id = `${chinaStamp(at).slice(2, 14)}${digits(9)}`;
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
}

export class UnionPayStore {
  private readonly txns = new Map<string, Txn>();
  private readonly queryIds = new Set<string>();

  get(key: string): Txn | undefined {
    const t = this.txns.get(key);
    if (t?.kind === 'consume') this.lapseIfDue(t, new Date());
    return t;
  }

  /** The latest consume with this orderId, for the control endpoints. */
  consumeByOrderId(orderId: string): Consume | undefined {
    let found: Consume | undefined;
    for (const t of this.txns.values()) if (t.kind === 'consume' && t.orderId === orderId) found = t;
    if (found) this.lapseIfDue(found, new Date());
    return found;
  }

  byQueryId(merId: string, queryId: string): Txn | undefined {
    for (const t of this.txns.values()) if (t.merId === merId && t.queryId === queryId) return t;
    return undefined;
  }

  refundsOf(c: Consume): Refund[] {
    return c.refundKeys.map((k) => this.txns.get(k)).filter((t): t is Refund => t?.kind === 'refund');
  }

  addConsume(c: Omit<Consume, 'key' | 'kind' | 'status' | 'queryId' | 'traceNo' | 'refundedFen' | 'refundKeys' | 'qrCode'>): Consume {
    const key = txnKey(c.merId, c.orderId, c.txnTime);
    const consume: Consume = {
      ...c,
      key,
      kind: 'consume',
      status: 'awaiting',
      queryId: newQueryId(c.createdAt, this.queryIds),
      traceNo: digits(6),
      refundedFen: 0,
      refundKeys: [],
      qrCode: `https://qr.95516.com/00010000/01${digits(20)}`,
    };
    this.txns.set(key, consume);
    return consume;
  }

  /** The payer paid (or the issuer refused). Returns false if the order can no longer be paid. */
  settlePayment(c: Consume, success: boolean, at: Date): boolean {
    this.lapseIfDue(c, at);
    if (c.status !== 'awaiting') return false;
    if (success) {
      c.status = 'paid';
      c.paidAt = at;
      c.traceTime = chinaStamp(at).slice(4, 14);
      c.settleDate = settleDateOf(at);
      c.accNo = `621626******${digits(4)}`;
    } else {
      c.status = 'failed';
      // 64: 卡上的余额不足 — an issuer refusal; UnionPay sends no back notification for failures.
      c.failCode = '64';
    }
    return true;
  }

  addRefund(r: Omit<Refund, 'key' | 'kind' | 'status' | 'queryId' | 'traceNo'>, original: Consume): Refund {
    const key = txnKey(r.merId, r.orderId, r.txnTime);
    const refund: Refund = { ...r, key, kind: 'refund', status: 'processing', queryId: newQueryId(r.createdAt, this.queryIds), traceNo: digits(6) };
    this.txns.set(key, refund);
    original.refundKeys.push(key);
    original.refundedFen += refund.amountFen;
    return refund;
  }

  completeRefund(r: Refund, at: Date): void {
    if (r.status !== 'processing') return;
    r.status = 'succeeded';
    r.completedAt = at;
    r.traceTime = chinaStamp(at).slice(4, 14);
    r.settleDate = settleDateOf(at);
  }

  /** Money-moving transactions of a merchant that settle on a clearing date (YYYY-MM-DD). */
  settledOn(merId: string, settleDate: string): Txn[] {
    return [...this.txns.values()].filter((t) => t.merId === merId && t.settleDate === settleDate && (t.kind === 'refund' ? t.status === 'succeeded' : t.status === 'paid'));
  }

  clear(): void {
    this.txns.clear();
    this.queryIds.clear();
  }

  /** An unpaid code lapses at its payTimeout; from then on it can never be paid. */
  private lapseIfDue(c: Consume, now: Date): void {
    if (c.status === 'awaiting' && now.getTime() >= c.payTimeout.getTime()) {
      c.status = 'closed';
      c.failCode = '01';
    }
  }
}
