/** The simulator's own JSON view of a trade, for GET /__sim/trades/:outTradeNo (amounts in fen). */
import { refundedFen, type SimTrade } from './alipay.state.js';

export interface TradeView {
  appId: string;
  outTradeNo: string;
  tradeNo: string;
  kind: SimTrade['kind'];
  /** Alipay's trade_status, or "preorder" while no one has scanned the code / logged in. */
  status: SimTrade['state'];
  expired: boolean;
  subject: string;
  amountMinor: number;
  feeMinor: number;
  refundedMinor: number;
  createdAt: string;
  expiresAt: string;
  scannedAt?: string;
  paidAt?: string;
  closedAt?: string;
  refunds: Array<{ outRequestNo: string; amountMinor: number; feeReturnedMinor: number; at: string }>;
}

export function tradeView(t: SimTrade): TradeView {
  const v: TradeView = {
    appId: t.appId,
    outTradeNo: t.outTradeNo,
    tradeNo: t.tradeNo,
    kind: t.kind,
    status: t.state,
    expired: t.expired,
    subject: t.subject,
    amountMinor: Number(t.totalFen),
    feeMinor: Number(t.feeFen),
    refundedMinor: Number(refundedFen(t)),
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt.toISOString(),
    refunds: t.refunds.map((r) => ({ outRequestNo: r.outRequestNo, amountMinor: Number(r.amountFen), feeReturnedMinor: Number(r.feeReturnedFen), at: r.at.toISOString() })),
  };
  if (t.scannedAt) v.scannedAt = t.scannedAt.toISOString();
  if (t.paidAt) v.paidAt = t.paidAt.toISOString();
  if (t.closedAt) v.closedAt = t.closedAt.toISOString();
  return v;
}
