/**
 * SimBank's daily statement CSV (README §7): completed payments, collections, refunds and payouts
 * whose completion falls on the China calendar date, then per-type summaries and NET.
 */
import { chinaDate, chinaIso, paymentFeeFen, PAYOUT_FEE_FEN, type BankStore } from './bank.state.js';

type RecordType = 'PAYMENT' | 'COLLECTION' | 'REFUND' | 'PAYOUT';

interface Row {
  type: RecordType;
  at: Date;
  outNo: string;
  bankNo: string;
  outTradeNo: string;
  bankTradeNo: string;
  method: string;
  amountFen: number;
  feeFen: number;
}

export function statementCsv(store: BankStore, merchantId: string, date: string): string {
  const rows: Row[] = [];
  for (const t of store.trades.values()) {
    if (t.merchantId !== merchantId || !t.paidAt || chinaDate(t.paidAt) !== date) continue;
    rows.push({ type: t.method === 'COLLECTION' ? 'COLLECTION' : 'PAYMENT', at: t.paidAt, outNo: t.outTradeNo, bankNo: t.tradeNo, outTradeNo: t.outTradeNo, bankTradeNo: t.tradeNo, method: t.method, amountFen: t.amountFen, feeFen: paymentFeeFen(t.amountFen) });
  }
  for (const r of store.refunds.values()) {
    if (r.merchantId !== merchantId || r.status !== 'SUCCESS' || !r.successTime || chinaDate(r.successTime) !== date) continue;
    rows.push({ type: 'REFUND', at: r.successTime, outNo: r.outRefundNo, bankNo: r.refundNo, outTradeNo: r.outTradeNo, bankTradeNo: r.tradeNo, method: '', amountFen: r.amountFen, feeFen: 0 });
  }
  for (const p of store.payouts.values()) {
    if (p.merchantId !== merchantId || p.status !== 'SUCCESS' || !p.successTime || chinaDate(p.successTime) !== date) continue;
    rows.push({ type: 'PAYOUT', at: p.successTime, outNo: p.outPayoutNo, bankNo: p.payoutNo, outTradeNo: '', bankTradeNo: '', method: '', amountFen: p.amountFen, feeFen: PAYOUT_FEE_FEN });
  }
  rows.sort((a, b) => a.at.getTime() - b.at.getTime());
  const out = ['record_type,occurred_at,out_no,bank_no,out_trade_no,bank_trade_no,method,amount,fee,currency,status'];
  for (const r of rows) out.push([r.type, chinaIso(r.at), r.outNo, r.bankNo, r.outTradeNo, r.bankTradeNo, r.method, r.amountFen, r.feeFen, 'CNY', 'SUCCESS'].join(','));
  out.push('', 'summary_type,count,amount,fee,currency');
  let netCount = 0;
  let netAmount = 0;
  let netFee = 0;
  for (const type of ['PAYMENT', 'COLLECTION', 'REFUND', 'PAYOUT'] as const) {
    const of = rows.filter((r) => r.type === type);
    const amount = of.reduce((s, r) => s + r.amountFen, 0);
    const fee = of.reduce((s, r) => s + r.feeFen, 0);
    out.push([type, of.length, amount, fee, 'CNY'].join(','));
    netCount += of.length;
    netAmount += type === 'PAYMENT' || type === 'COLLECTION' ? amount : -amount;
    netFee += fee;
  }
  out.push(['NET', netCount, netAmount, netFee, 'CNY'].join(','));
  return `${out.join('\n')}\n`;
}
