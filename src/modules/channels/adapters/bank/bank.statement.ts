/**
 * The SimBank daily statement (simulators/bank/README.md §7): a CSV of completed money movements
 * (payments, collections, refunds, payouts) followed, after a blank line, by per-type summary rows
 * and a NET row. The parser checks the summary against the detail rows, so a truncated or altered
 * file is refused rather than half-read.
 */
import type { StatementLine } from '../../adapter.js';

export const RECORD_HEADER = 'record_type,occurred_at,out_no,bank_no,out_trade_no,bank_trade_no,method,amount,fee,currency,status';
export const SUMMARY_HEADER = 'summary_type,count,amount,fee,currency';
export const RECORD_TYPES = ['PAYMENT', 'COLLECTION', 'REFUND', 'PAYOUT'] as const;
export type BankRecordType = (typeof RECORD_TYPES)[number];

export interface BankStatementRecord {
  type: BankRecordType;
  occurredAt: Date;
  outNo: string;
  bankNo: string;
  outTradeNo: string;
  bankTradeNo: string;
  method: string;
  amountMinor: bigint;
  feeMinor: bigint;
  currency: string;
  status: string;
}

export interface Totals {
  count: number;
  amountMinor: bigint;
  feeMinor: bigint;
}

export interface BankStatement {
  records: BankStatementRecord[];
  summary: Record<BankRecordType | 'NET', Totals>;
}

function isRecordType(v: string | undefined): v is BankRecordType {
  return (RECORD_TYPES as readonly string[]).includes(v ?? '');
}

const INT = /^-?\d{1,16}$/;

/** The summary the records imply: per type, and NET (money in minus money out; fees summed). */
export function summarise(records: BankStatementRecord[]): Record<BankRecordType | 'NET', Totals> {
  const zero = (): Totals => ({ count: 0, amountMinor: 0n, feeMinor: 0n });
  const s: Record<BankRecordType | 'NET', Totals> = { PAYMENT: zero(), COLLECTION: zero(), REFUND: zero(), PAYOUT: zero(), NET: zero() };
  for (const r of records) {
    const t = s[r.type];
    t.count++;
    t.amountMinor += r.amountMinor;
    t.feeMinor += r.feeMinor;
    s.NET.count++;
    s.NET.amountMinor += r.type === 'PAYMENT' || r.type === 'COLLECTION' ? r.amountMinor : -r.amountMinor;
    s.NET.feeMinor += r.feeMinor;
  }
  return s;
}

export function parseBankStatementCsv(csv: string): { ok: true; statement: BankStatement } | { ok: false; reason: string } {
  const lines = csv.replace(/\r\n/g, '\n').split('\n');
  if (lines[0] !== RECORD_HEADER) return { ok: false, reason: 'statement does not start with the record header' };
  const records: BankStatementRecord[] = [];
  let i = 1;
  for (; i < lines.length && lines[i] !== ''; i++) {
    const c = lines[i]!.split(',');
    const [type, occurred, outNo, bankNo, outTradeNo, bankTradeNo, method, amt, fee, currency, status] = c;
    const at = Date.parse(occurred ?? '');
    if (c.length !== 11 || !isRecordType(type) || Number.isNaN(at) || !outNo || !bankNo || !INT.test(amt ?? '') || !INT.test(fee ?? '') || !currency || !status) {
      return { ok: false, reason: `statement line ${i + 1} is malformed` };
    }
    records.push({ type, occurredAt: new Date(at), outNo, bankNo, outTradeNo: outTradeNo ?? '', bankTradeNo: bankTradeNo ?? '', method: method ?? '', amountMinor: BigInt(amt!), feeMinor: BigInt(fee!), currency, status });
  }
  if (lines[i + 1] !== SUMMARY_HEADER) return { ok: false, reason: 'statement lacks its summary section' };
  const expected = summarise(records);
  const seen = new Set<string>();
  for (i += 2; i < lines.length && lines[i] !== ''; i++) {
    const [type, count, amt, fee] = lines[i]!.split(',');
    if ((!isRecordType(type) && type !== 'NET') || !INT.test(count ?? '') || !INT.test(amt ?? '') || !INT.test(fee ?? '')) return { ok: false, reason: `summary line ${i + 1} is malformed` };
    const want = expected[type];
    if (want.count !== Number(count) || want.amountMinor !== BigInt(amt!) || want.feeMinor !== BigInt(fee!)) {
      return { ok: false, reason: `summary ${type} does not match the records` };
    }
    seen.add(type);
  }
  if (seen.size !== RECORD_TYPES.length + 1) return { ok: false, reason: 'statement summary is incomplete' };
  return { ok: true, statement: { records, summary: expected } };
}

/**
 * The contract's view: payments and collections as payments, refunds as refunds. Payouts are not
 * payment-channel lines (the contract has no kind for them); read them with parseBankStatementCsv.
 */
export function contractLines(records: BankStatementRecord[]): StatementLine[] {
  const out: StatementLine[] = [];
  for (const r of records) {
    switch (r.type) {
      case 'PAYMENT':
      case 'COLLECTION':
        out.push({ kind: 'payment', outTradeNo: r.outNo, channelTradeNo: r.bankNo, amountMinor: r.amountMinor, feeMinor: r.feeMinor, currency: r.currency, occurredAt: r.occurredAt, status: r.status });
        break;
      case 'REFUND':
        out.push({
          kind: 'refund',
          outTradeNo: r.outTradeNo,
          channelTradeNo: r.bankTradeNo,
          outRefundNo: r.outNo,
          channelRefundNo: r.bankNo,
          amountMinor: r.amountMinor,
          feeMinor: r.feeMinor,
          currency: r.currency,
          occurredAt: r.occurredAt,
          status: r.status,
        });
        break;
      case 'PAYOUT':
        break;
    }
  }
  return out;
}

/** Totals of contract lines: count, net amount (payments minus refunds), net fee. */
export function contractTotals(lines: StatementLine[]): Totals {
  let amountMinor = 0n;
  let feeMinor = 0n;
  for (const l of lines) {
    const sign = l.kind === 'payment' ? 1n : -1n;
    amountMinor += sign * l.amountMinor;
    feeMinor += sign * l.feeMinor;
  }
  return { count: lines.length, amountMinor, feeMinor };
}
