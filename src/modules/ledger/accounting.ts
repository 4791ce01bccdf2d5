/**
 * The accounting side (会计), derived from the business ledger (账务), DESIGN.md §3: the chart of
 * accounting subjects, daily vouchers (记账凭证) that sum a closed business day's posted money by
 * subject, and the trial balance (试算平衡表). Every function takes the database and its
 * dependencies (clock, time zone, id source) explicitly; nothing here keeps state between calls.
 *
 * A business day is closed `graceMs` after its end, not at its end: a transfer batch stamps its
 * transfers with the time it was applied and commits a moment later, so a batch stamped 23:59:59
 * may become visible just after midnight. Vouchers are written once, so we wait out that window.
 */
import { Buffer } from 'node:buffer';
import { businessDate, businessDayRange, isIsoDate, type Clock } from '../../kernel/clock.js';
import type { Queryable } from '../../kernel/db.js';
import { fail, ok, type Result } from '../../kernel/errors.js';
import * as store from './accounting.store.js';
import { buildTrialBalance, mergeSums, type Subject, type SubjectSums, type TrialBalance, type Voucher } from './domain/trial-balance.js';
import { ACCOUNT_TYPES, type AccountType } from './domain/types.js';
import type { LedgerErrorCode } from './errors.js';

export type { Subject, SubjectSums, TrialBalance, TrialBalanceRow, TrialBalanceTotals, Voucher, VoucherLine } from './domain/trial-balance.js';
export { csvField, trialBalanceCsv, vouchersCsv, TRIAL_BALANCE_CSV_HEADER, VOUCHER_CSV_HEADER } from './domain/trial-balance.js';

export type AccountingResult<T> = Result<T, LedgerErrorCode>;

/** How long after a business day ends it counts as closed (see the file comment). */
export const DEFAULT_CLOSE_GRACE_MS = 5 * 60_000;
/** How many days one catch-up call closes at most, so a worker tick stays short. */
export const MAX_DAYS_PER_CATCH_UP = 31;
export const MAX_VOUCHER_PAGE = 100;

// ---- business-day arithmetic (all through kernel/clock) -----------------------------------

function previousDate(date: string, tz: string): string {
  return businessDate(new Date(businessDayRange(date, tz).start.getTime() - 1), tz);
}

function nextDate(date: string, tz: string): string {
  return businessDate(businessDayRange(date, tz).end, tz);
}

function isClosed(date: string, tz: string, clock: Clock, graceMs: number): boolean {
  return clock.nowMs() >= businessDayRange(date, tz).end.getTime() + graceMs;
}

/** The latest closed business day: the day before the one that contains `now - grace`. */
function lastClosedDate(tz: string, clock: Clock, graceMs: number): string {
  return previousDate(businessDate(new Date(clock.nowMs() - graceMs), tz), tz);
}

// ---- subjects ---------------------------------------------------------------------------

/** Four digits, then up to three further two-digit levels (1131, 113101, 11310101, 1131010101). */
const SUBJECT_CODE_RE = /^[0-9]{4}([0-9]{2}){0,3}$/;

export function listSubjects(db: Queryable): Promise<Subject[]> {
  return store.listSubjects(db);
}

export interface CreateSubjectInput {
  code: string;
  name: string;
  nameEn: string;
  type: AccountType;
  /** Optional: a sub-subject's parent is always its code without the last two digits. */
  parentCode?: string;
}

/**
 * Adds a subject to the chart. A sub-subject hangs under the subject whose code is its own minus
 * the last two digits, and has that subject's type: otherwise the roll-up of a report would mix
 * debit-normal and credit-normal balances. Creating an identical subject again returns it.
 */
export async function createSubject(db: Queryable, inp: CreateSubjectInput, clock: Clock): Promise<AccountingResult<{ subject: Subject; created: boolean }>> {
  if (typeof inp.code !== 'string' || !SUBJECT_CODE_RE.test(inp.code)) {
    return fail('invalid_subject', 'code must be 4 digits followed by up to three 2-digit groups');
  }
  if (!ACCOUNT_TYPES.includes(inp.type)) return fail('invalid_subject', `type must be one of ${ACCOUNT_TYPES.join(', ')}`);
  const name = typeof inp.name === 'string' ? inp.name.trim() : '';
  const nameEn = typeof inp.nameEn === 'string' ? inp.nameEn.trim() : '';
  if (name.length === 0 || name.length > 100) return fail('invalid_subject', 'name must be 1-100 characters');
  if (nameEn.length === 0 || nameEn.length > 200) return fail('invalid_subject', 'name_en must be 1-200 characters');
  const parentCode = inp.code.length > 4 ? inp.code.slice(0, -2) : null;
  if (inp.parentCode !== undefined && inp.parentCode !== parentCode) {
    return fail('invalid_subject', parentCode === null
      ? `${inp.code} is a top-level subject and has no parent`
      : `the parent of ${inp.code} must be ${parentCode} (its code without the last two digits)`);
  }
  const same = (s: Subject): boolean => s.name === name && s.nameEn === nameEn && s.type === inp.type && s.parentCode === parentCode;
  // An identical retry is answered before the parent checks, so it succeeds even if the parent
  // was deactivated in between.
  const existing = await store.getSubject(db, inp.code);
  if (existing) return same(existing) ? ok({ subject: existing, created: false }) : fail('subject_exists', `subject ${inp.code} already exists with different fields`);
  if (parentCode !== null) {
    const parent = await store.getSubject(db, parentCode);
    if (!parent || !parent.active) return fail('unknown_subject', `parent subject ${parentCode} does not exist or is inactive`);
    if (parent.type !== inp.type) return fail('subject_type_mismatch', `parent subject ${parentCode} is a ${parent.type} subject, not ${inp.type}`);
  }
  const { subject, inserted } = await store.insertSubject(db, { code: inp.code, name, nameEn, type: inp.type, parentCode, now: clock.now() });
  if (!inserted && !same(subject)) return fail('subject_exists', `subject ${inp.code} already exists with different fields`);
  return ok({ subject, created: inserted });
}

/**
 * Activates or deactivates a subject. An inactive subject takes no new accounts or sub-subjects;
 * accounts already on it keep posting, so its vouchers and balances continue.
 */
export async function setSubjectActive(db: Queryable, inp: { code: string; active: boolean }): Promise<AccountingResult<Subject>> {
  const s = await store.updateSubjectActive(db, inp.code, inp.active);
  return s ? ok(s) : fail('unknown_subject', `accounting subject ${inp.code} does not exist`);
}

// ---- the day's postings -----------------------------------------------------------------

export interface CurrencyPostingTotals {
  currency: string;
  transferCount: bigint;
  totalDebitMinor: bigint;
  totalCreditMinor: bigint;
}

export interface DayPostings {
  date: string;
  timeZone: string;
  /** The UTC range [start, end) the business day covers. */
  start: Date;
  end: Date;
  /** Gross debit and credit per (currency, subject), sorted by currency, then subject code. */
  lines: SubjectSums[];
  currencies: CurrencyPostingTotals[];
}

/** Sums the posted money of one business day (closed or not) by currency and subject. */
export async function computeDayPostings(db: Queryable, date: string, tz: string): Promise<AccountingResult<DayPostings>> {
  if (!isIsoDate(date)) return fail('invalid_date', `${date} is not a YYYY-MM-DD date`);
  const { start, end } = businessDayRange(date, tz);
  const { sums, transferCounts } = await store.postingsBetween(db, start, end);
  const lines = mergeSums(sums);
  const totals = new Map<string, CurrencyPostingTotals>();
  for (const l of lines) {
    const t = totals.get(l.currency) ?? { currency: l.currency, transferCount: transferCounts.get(l.currency) ?? 0n, totalDebitMinor: 0n, totalCreditMinor: 0n };
    t.totalDebitMinor += l.debitMinor;
    t.totalCreditMinor += l.creditMinor;
    totals.set(l.currency, t);
  }
  for (const t of totals.values()) {
    // Every transfer has one debit and one credit of the same amount, so this cannot differ
    // unless the ledger itself is broken; stop rather than write an unbalanced voucher.
    if (t.totalDebitMinor !== t.totalCreditMinor) throw new Error(`postings of ${date} in ${t.currency} do not balance: ${t.totalDebitMinor} != ${t.totalCreditMinor}`);
  }
  return ok({ date, timeZone: tz, start, end, lines, currencies: [...totals.values()] });
}

// ---- vouchers ---------------------------------------------------------------------------

export interface GenerateVouchersInput {
  date: string;
  tz: string;
  clock: Clock;
  nextId: () => bigint;
  graceMs?: number;
}

/**
 * Writes one voucher per currency for a closed business day. Idempotent and safe to run from
 * several processes at once: the day's row in accounting_days is inserted in the same statement
 * as its vouchers, so exactly one caller closes the day and every caller returns what is stored.
 * A day without postings is closed with no voucher.
 */
export async function generateVouchers(db: Queryable, inp: GenerateVouchersInput): Promise<AccountingResult<{ vouchers: Voucher[]; created: boolean }>> {
  if (!isIsoDate(inp.date)) return fail('invalid_date', `${inp.date} is not a YYYY-MM-DD date`);
  const graceMs = inp.graceMs ?? DEFAULT_CLOSE_GRACE_MS;
  if (!isClosed(inp.date, inp.tz, inp.clock, graceMs)) {
    return fail('business_day_not_closed', `business day ${inp.date} (${inp.tz}) is not closed yet`, { closesAt: new Date(businessDayRange(inp.date, inp.tz).end.getTime() + graceMs).toISOString() });
  }
  const day = await store.getAccountingDay(db, inp.date);
  if (day) {
    if (day.timeZone !== inp.tz) return fail('time_zone_mismatch', `business day ${inp.date} was closed in ${day.timeZone}, not ${inp.tz}`);
    return ok({ vouchers: await store.vouchersOn(db, inp.date), created: false });
  }
  const other = await store.otherTimeZone(db, inp.tz);
  if (other !== undefined) return fail('time_zone_mismatch', `earlier business days were closed in ${other}; closing ${inp.date} in ${inp.tz} would overlap or skip instants`);
  const postings = await computeDayPostings(db, inp.date, inp.tz);
  if (!postings.ok) return postings;
  const vouchers: store.NewVoucher[] = postings.value.currencies.map((c) => {
    const lines: store.NewVoucher['lines'] = [];
    // One-sided lines in subject order, the debit line of a subject before its credit line.
    for (const l of postings.value.lines) {
      if (l.currency !== c.currency) continue;
      if (l.debitMinor > 0n) lines.push({ lineNo: lines.length + 1, subjectCode: l.subjectCode, debitMinor: l.debitMinor, creditMinor: 0n });
      if (l.creditMinor > 0n) lines.push({ lineNo: lines.length + 1, subjectCode: l.subjectCode, debitMinor: 0n, creditMinor: l.creditMinor });
    }
    return {
      id: inp.nextId(),
      voucherNo: `V${inp.date.replaceAll('-', '')}${c.currency}`,
      currency: c.currency,
      totalDebitMinor: c.totalDebitMinor,
      totalCreditMinor: c.totalCreditMinor,
      transferCount: c.transferCount,
      lines,
    };
  });
  const transferCount = postings.value.currencies.reduce((n, c) => n + c.transferCount, 0n);
  const created = await store.closeDay(db, { date: inp.date, timeZone: inp.tz, transferCount, now: inp.clock.now() }, vouchers);
  if (!created) {
    // A concurrent caller closed the day first; answer with what it stored, as a retry would.
    const winner = await store.getAccountingDay(db, inp.date);
    if (winner && winner.timeZone !== inp.tz) return fail('time_zone_mismatch', `business day ${inp.date} was closed in ${winner.timeZone}, not ${inp.tz}`);
  }
  return ok({ vouchers: await store.vouchersOn(db, inp.date), created });
}

/** The vouchers of one business day (empty when the day is open, not generated, or had no postings). */
export async function getVouchers(db: Queryable, date: string): Promise<AccountingResult<Voucher[]>> {
  if (!isIsoDate(date)) return fail('invalid_date', `${date} is not a YYYY-MM-DD date`);
  return ok(await store.vouchersOn(db, date));
}

export interface ListVouchersInput {
  /** Inclusive business-date bounds. */
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

const VOUCHER_NO_RE = /^V[0-9]{8}[A-Z]{3}$/;

/** Vouchers by business date then currency, a page at a time with an opaque cursor. */
export async function listVouchers(db: Queryable, inp: ListVouchersInput): Promise<AccountingResult<{ vouchers: Voucher[]; nextCursor: string | null }>> {
  for (const d of [inp.from, inp.to]) if (d !== undefined && !isIsoDate(d)) return fail('invalid_date', `${d} is not a YYYY-MM-DD date`);
  const limit = inp.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_VOUCHER_PAGE) return fail('invalid_query', `limit must be an integer in [1, ${MAX_VOUCHER_PAGE}]`);
  let afterNo: string | undefined;
  if (inp.cursor !== undefined) {
    afterNo = Buffer.from(inp.cursor, 'base64url').toString('utf8');
    if (!VOUCHER_NO_RE.test(afterNo)) return fail('invalid_query', 'cursor is not one this API returned');
  }
  const vouchers = await store.listVouchers(db, { ...(inp.from !== undefined && { from: inp.from }), ...(inp.to !== undefined && { to: inp.to }), ...(afterNo !== undefined && { afterNo }), limit });
  const last = vouchers.at(-1);
  return ok({ vouchers, nextCursor: vouchers.length === limit && last ? Buffer.from(last.voucherNo, 'utf8').toString('base64url') : null });
}

export interface CatchUpInput {
  tz: string;
  clock: Clock;
  nextId: () => bigint;
  graceMs?: number;
  maxDays?: number;
}

/**
 * Closes, oldest first, every closed business day from the first posting's day up to the latest
 * closed day that is not closed in the books yet, at most `maxDays` per call. `more` says that
 * days are left for the next call. Meant for a background worker; safe to run from several.
 */
export async function generateMissingVouchers(db: Queryable, inp: CatchUpInput): Promise<AccountingResult<{ days: string[]; voucherCount: number; more: boolean }>> {
  const graceMs = inp.graceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const maxDays = inp.maxDays ?? MAX_DAYS_PER_CATCH_UP;
  // Start at the first posting's day. Once some day is closed, only postings before it can start
  // earlier, so the search for the first posting is bounded by that day and stays cheap.
  const firstClosed = await store.firstClosedDay(db);
  const first = await store.firstPostingAt(db, firstClosed === undefined ? undefined : businessDayRange(firstClosed, inp.tz).start);
  const from = first ? businessDate(first, inp.tz) : firstClosed;
  const to = lastClosedDate(inp.tz, inp.clock, graceMs);
  if (from === undefined || from > to) return ok({ days: [], voucherCount: 0, more: false });
  const missing = await store.unclosedDays(db, from, to, maxDays + 1);
  const days = missing.slice(0, maxDays);
  let voucherCount = 0;
  for (const date of days) {
    const r = await generateVouchers(db, { date, tz: inp.tz, clock: inp.clock, nextId: inp.nextId, graceMs });
    if (!r.ok) return r;
    if (r.value.created) voucherCount += r.value.vouchers.length;
  }
  return ok({ days, voucherCount, more: missing.length > maxDays });
}

// ---- trial balance ----------------------------------------------------------------------

export interface TrialBalanceInput {
  date: string;
  tz: string;
  clock: Clock;
  /** Needed because earlier closed days without vouchers are closed first. */
  nextId: () => bigint;
  graceMs?: number;
}

/**
 * The trial balance of one business date (today or earlier). Opening balances are the vouchers
 * of every earlier day; the period is the date's own voucher. A day that is not closed yet (the
 * date itself, and yesterday during the grace period) is summed live from the ledger and makes
 * the result provisional. Closed days still missing vouchers are closed first, so the figures
 * always cover the whole ledger.
 */
export async function trialBalance(db: Queryable, inp: TrialBalanceInput): Promise<AccountingResult<TrialBalance>> {
  if (!isIsoDate(inp.date)) return fail('invalid_date', `${inp.date} is not a YYYY-MM-DD date`);
  const today = businessDate(inp.clock.now(), inp.tz);
  if (inp.date > today) return fail('invalid_date', `${inp.date} is in the future (today is ${today} in ${inp.tz})`);
  const graceMs = inp.graceMs ?? DEFAULT_CLOSE_GRACE_MS;
  for (;;) {
    const r = await generateMissingVouchers(db, { tz: inp.tz, clock: inp.clock, nextId: inp.nextId, graceMs });
    if (!r.ok) return r;
    if (!r.value.more) break;
  }
  let provisional = false;
  const live = async (date: string): Promise<SubjectSums[]> => {
    const p = await computeDayPostings(db, date, inp.tz);
    if (!p.ok) throw new Error(p.message);
    return p.value.lines;
  };
  const opening = [await store.voucherSums(db, inp.date, 'before')];
  // Days before the date that are not closed in the books are at most the one or two still
  // inside the grace period; a day closed meanwhile is already in the voucher sums above.
  const closedThrough = lastClosedDate(inp.tz, inp.clock, graceMs);
  for (let d = nextDate(closedThrough, inp.tz); d < inp.date; d = nextDate(d, inp.tz)) {
    if (await store.getAccountingDay(db, d)) continue;
    opening.push(await live(d));
    provisional = true;
  }
  let period: SubjectSums[];
  if (await store.getAccountingDay(db, inp.date)) period = await store.voucherSums(db, inp.date, 'on');
  else {
    // A closed date without a row here predates the first posting, so its live sums are empty.
    period = await live(inp.date);
    if (inp.date > closedThrough) provisional = true;
  }
  const subjects = new Map((await store.listSubjects(db)).map((s) => [s.code, s]));
  return ok(buildTrialBalance({ date: inp.date, timeZone: inp.tz, provisional, opening: mergeSums(...opening), period, subjects }));
}
