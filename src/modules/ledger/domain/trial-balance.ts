/**
 * Pure accounting helpers: the records of the accounting side (vouchers, trial balance), the
 * arithmetic that turns per-subject debit and credit sums into a trial balance (试算平衡表), and
 * the CSV renderings. No SQL, no clock; amounts are bigint minor units throughout.
 */
import { normalSide, type AccountType, type NormalSide } from './types.js';

export interface Subject {
  code: string;
  name: string;
  nameEn: string;
  type: AccountType;
  parentCode: string | null;
  active: boolean;
  createdAt: Date;
}

/** Gross debit and credit movement of one subject in one currency over some period. */
export interface SubjectSums {
  currency: string;
  subjectCode: string;
  debitMinor: bigint;
  creditMinor: bigint;
}

export interface VoucherLine {
  lineNo: number;
  subjectCode: string;
  subjectName: string;
  /** Exactly one of the two amounts is non-zero: a line is either a debit or a credit. */
  debitMinor: bigint;
  creditMinor: bigint;
}

export interface Voucher {
  id: bigint;
  voucherNo: string;
  businessDate: string;
  currency: string;
  timeZone: string;
  status: 'posted';
  totalDebitMinor: bigint;
  totalCreditMinor: bigint;
  transferCount: bigint;
  createdAt: Date;
  lines: VoucherLine[];
}

/**
 * One subject's row. Balances appear twice, for two kinds of reader:
 * - the classic two-column layout of a Chinese trial balance (期初/期末余额 借方 | 贷方): the net
 *   balance (debits - credits) goes in the debit column when it is positive and in the credit
 *   column (as a positive number) when it is negative, the other column being 0;
 * - `openingBalanceMinor` / `closingBalanceMinor`: the signed balance in the subject's normal
 *   direction (debit-normal for asset and expense, credit-normal for liability, equity and
 *   income), positive when the subject holds value the usual way, as `postedBalance` does for an
 *   account. A negative number there flags an unusual balance (for example an overdrawn liability).
 */
export interface TrialBalanceRow {
  currency: string;
  subjectCode: string;
  subjectName: string;
  subjectType: AccountType;
  parentCode: string | null;
  normalSide: NormalSide;
  openingDebitMinor: bigint;
  openingCreditMinor: bigint;
  periodDebitMinor: bigint;
  periodCreditMinor: bigint;
  closingDebitMinor: bigint;
  closingCreditMinor: bigint;
  openingBalanceMinor: bigint;
  closingBalanceMinor: bigint;
}

export interface TrialBalanceTotals {
  currency: string;
  openingDebitMinor: bigint;
  openingCreditMinor: bigint;
  periodDebitMinor: bigint;
  periodCreditMinor: bigint;
  closingDebitMinor: bigint;
  closingCreditMinor: bigint;
  /** Debit and credit totals agree for opening balances, period movement and closing balances. */
  balanced: boolean;
}

export interface TrialBalance {
  date: string;
  timeZone: string;
  /** True when some of the figures come from a day that is not closed yet and may still change. */
  provisional: boolean;
  rows: TrialBalanceRow[];
  totals: TrialBalanceTotals[];
  balanced: boolean;
}

const key = (currency: string, subjectCode: string): string => `${currency}\u0000${subjectCode}`;
/** Plain code-unit comparison: codes and currencies are ASCII, and the order must not depend on locale. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Adds up sums that share a currency and subject; the result is sorted by currency, then subject code. */
export function mergeSums(...lists: readonly (readonly SubjectSums[])[]): SubjectSums[] {
  const out = new Map<string, SubjectSums>();
  for (const list of lists) {
    for (const s of list) {
      const k = key(s.currency, s.subjectCode);
      const cur = out.get(k);
      if (cur) {
        cur.debitMinor += s.debitMinor;
        cur.creditMinor += s.creditMinor;
      } else out.set(k, { ...s });
    }
  }
  return [...out.values()].sort((a, b) => cmp(a.currency, b.currency) || cmp(a.subjectCode, b.subjectCode));
}

/** Splits a net debit balance into the (debit, credit) column pair of the two-column layout. */
function columns(netDebit: bigint): [bigint, bigint] {
  return netDebit >= 0n ? [netDebit, 0n] : [0n, -netDebit];
}

export function buildTrialBalance(inp: {
  date: string;
  timeZone: string;
  provisional: boolean;
  /** Cumulative sums of every day before `date`. */
  opening: readonly SubjectSums[];
  /** Sums of `date` itself. */
  period: readonly SubjectSums[];
  subjects: ReadonlyMap<string, Subject>;
}): TrialBalance {
  const opening = new Map(mergeSums(inp.opening).map((s) => [key(s.currency, s.subjectCode), s]));
  const period = new Map(mergeSums(inp.period).map((s) => [key(s.currency, s.subjectCode), s]));
  const all = mergeSums(inp.opening, inp.period);
  const rows: TrialBalanceRow[] = all.map((s) => {
    const subject = inp.subjects.get(s.subjectCode);
    if (!subject) throw new Error(`accounting subject ${s.subjectCode} is referenced by postings but missing from the chart`);
    const o = opening.get(key(s.currency, s.subjectCode));
    const p = period.get(key(s.currency, s.subjectCode));
    const openingNet = (o?.debitMinor ?? 0n) - (o?.creditMinor ?? 0n);
    const periodDebit = p?.debitMinor ?? 0n;
    const periodCredit = p?.creditMinor ?? 0n;
    const closingNet = openingNet + periodDebit - periodCredit;
    const side = normalSide(subject.type);
    const [openingDebit, openingCredit] = columns(openingNet);
    const [closingDebit, closingCredit] = columns(closingNet);
    return {
      currency: s.currency,
      subjectCode: s.subjectCode,
      subjectName: subject.name,
      subjectType: subject.type,
      parentCode: subject.parentCode,
      normalSide: side,
      openingDebitMinor: openingDebit,
      openingCreditMinor: openingCredit,
      periodDebitMinor: periodDebit,
      periodCreditMinor: periodCredit,
      closingDebitMinor: closingDebit,
      closingCreditMinor: closingCredit,
      openingBalanceMinor: side === 'debit' ? openingNet : -openingNet,
      closingBalanceMinor: side === 'debit' ? closingNet : -closingNet,
    };
  });
  const totals = totalsByCurrency(rows);
  return { date: inp.date, timeZone: inp.timeZone, provisional: inp.provisional, rows, totals, balanced: totals.every((t) => t.balanced) };
}

function totalsByCurrency(rows: readonly TrialBalanceRow[]): TrialBalanceTotals[] {
  const out = new Map<string, TrialBalanceTotals>();
  for (const r of rows) {
    let t = out.get(r.currency);
    if (!t) {
      t = { currency: r.currency, openingDebitMinor: 0n, openingCreditMinor: 0n, periodDebitMinor: 0n, periodCreditMinor: 0n, closingDebitMinor: 0n, closingCreditMinor: 0n, balanced: false };
      out.set(r.currency, t);
    }
    t.openingDebitMinor += r.openingDebitMinor;
    t.openingCreditMinor += r.openingCreditMinor;
    t.periodDebitMinor += r.periodDebitMinor;
    t.periodCreditMinor += r.periodCreditMinor;
    t.closingDebitMinor += r.closingDebitMinor;
    t.closingCreditMinor += r.closingCreditMinor;
  }
  for (const t of out.values()) {
    t.balanced = t.openingDebitMinor === t.openingCreditMinor && t.periodDebitMinor === t.periodCreditMinor && t.closingDebitMinor === t.closingCreditMinor;
  }
  return [...out.values()];
}

// ---- CSV (RFC 4180) -------------------------------------------------------------------------

/**
 * Quotes one field as RFC 4180 requires: a field holding a comma, a double quote, CR or LF is
 * wrapped in double quotes, and each double quote inside it is doubled. Other fields go out as is.
 */
export function csvField(v: string | bigint | number | boolean): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Records end with CRLF, the RFC 4180 line break, including the last one. */
function csv(rows: readonly (readonly (string | bigint | number | boolean)[])[]): string {
  return rows.map((r) => r.map(csvField).join(',') + '\r\n').join('');
}

export const VOUCHER_CSV_HEADER = ['voucher_no', 'business_date', 'currency', 'line_no', 'subject_code', 'subject_name', 'debit_minor', 'credit_minor'] as const;

/** One record per voucher line, amounts in integer minor units. */
export function vouchersCsv(vouchers: readonly Voucher[]): string {
  const rows: (string | bigint | number)[][] = [[...VOUCHER_CSV_HEADER]];
  for (const v of vouchers) {
    for (const l of v.lines) rows.push([v.voucherNo, v.businessDate, v.currency, l.lineNo, l.subjectCode, l.subjectName, l.debitMinor, l.creditMinor]);
  }
  return csv(rows);
}

export const TRIAL_BALANCE_CSV_HEADER = [
  'business_date', 'currency', 'subject_code', 'subject_name', 'normal_side',
  'opening_debit_minor', 'opening_credit_minor', 'period_debit_minor', 'period_credit_minor',
  'closing_debit_minor', 'closing_credit_minor', 'provisional',
] as const;

/**
 * One record per subject row, then one total record per currency whose subject_code is empty
 * and whose subject_name is "合计" (total), as on the printed form.
 */
export function trialBalanceCsv(tb: TrialBalance): string {
  const rows: (string | bigint | boolean)[][] = [[...TRIAL_BALANCE_CSV_HEADER]];
  for (const r of tb.rows) {
    rows.push([tb.date, r.currency, r.subjectCode, r.subjectName, r.normalSide, r.openingDebitMinor, r.openingCreditMinor,
      r.periodDebitMinor, r.periodCreditMinor, r.closingDebitMinor, r.closingCreditMinor, tb.provisional]);
  }
  for (const t of tb.totals) {
    rows.push([tb.date, t.currency, '', '合计', '', t.openingDebitMinor, t.openingCreditMinor,
      t.periodDebitMinor, t.periodCreditMinor, t.closingDebitMinor, t.closingCreditMinor, tb.provisional]);
  }
  return csv(rows);
}
