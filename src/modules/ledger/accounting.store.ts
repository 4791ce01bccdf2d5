/**
 * SQL for the accounting side: the chart of subjects, the day's posted sums read from the ledger
 * tables, and the vouchers and closed days derived from them. `date` columns are always read as
 * text (`::text`), because the driver would otherwise turn them into a Date at local midnight.
 * Sums come back from PostgreSQL as numeric, which the driver hands over as a decimal string; they
 * are converted to bigint from that string, never through a float.
 */
import type { Queryable } from '../../kernel/db.js';
import type { Subject, SubjectSums, Voucher, VoucherLine } from './domain/trial-balance.js';
import type { AccountType } from './domain/types.js';

type Row = Record<string, unknown>;

/** A numeric or int8 value from the driver as bigint; a float here would be a bug in the query. */
function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (v === null) return 0n;
  throw new Error(`expected an integer from the database, got ${typeof v} ${String(v)}`);
}

// ---- subjects -------------------------------------------------------------------------------

const SUBJECT_COLS = 'code, name, name_en, type, parent_code, active, created_at';

function rowToSubject(r: Row): Subject {
  return {
    code: r['code'] as string,
    name: r['name'] as string,
    nameEn: r['name_en'] as string,
    type: r['type'] as AccountType,
    parentCode: (r['parent_code'] as string | null) ?? null,
    active: r['active'] as boolean,
    createdAt: r['created_at'] as Date,
  };
}

export async function listSubjects(db: Queryable): Promise<Subject[]> {
  const r = await db.query(`SELECT ${SUBJECT_COLS} FROM accounting_subjects ORDER BY code`);
  return (r.rows as Row[]).map(rowToSubject);
}

export async function getSubject(db: Queryable, code: string): Promise<Subject | undefined> {
  const r = await db.query(`SELECT ${SUBJECT_COLS} FROM accounting_subjects WHERE code = $1`, [code]);
  return r.rows[0] ? rowToSubject(r.rows[0] as Row) : undefined;
}

/** Inserts a subject; when the code is taken, returns the existing one with inserted = false. */
export async function insertSubject(
  db: Queryable,
  s: { code: string; name: string; nameEn: string; type: AccountType; parentCode: string | null; now: Date },
): Promise<{ subject: Subject; inserted: boolean }> {
  const r = await db.query(
    `INSERT INTO accounting_subjects (code, name, name_en, type, parent_code, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (code) DO NOTHING RETURNING ${SUBJECT_COLS}`,
    [s.code, s.name, s.nameEn, s.type, s.parentCode, s.now],
  );
  if (r.rows[0]) return { subject: rowToSubject(r.rows[0] as Row), inserted: true };
  const existing = await getSubject(db, s.code);
  if (!existing) throw new Error(`subject ${s.code} conflicted on insert but cannot be read`);
  return { subject: existing, inserted: false };
}

export async function updateSubjectActive(db: Queryable, code: string, active: boolean): Promise<Subject | undefined> {
  const r = await db.query(`UPDATE accounting_subjects SET active = $2 WHERE code = $1 RETURNING ${SUBJECT_COLS}`, [code, active]);
  return r.rows[0] ? rowToSubject(r.rows[0] as Row) : undefined;
}

// ---- the ledger's posted money --------------------------------------------------------------

export interface RangePostings {
  sums: SubjectSums[];
  /** Number of money-moving transfers per currency. */
  transferCounts: Map<string, bigint>;
}

/**
 * Gross posted movement per (currency, subject) of the transfers created in [start, end). Only
 * `posted` and `post_pending` transfers move posted money (a `post_pending` row's amount is the
 * amount actually posted); holds, voids and expiries only touch pending balances. One statement,
 * so the counts and the sums come from the same snapshot.
 */
export async function postingsBetween(db: Queryable, start: Date, end: Date): Promise<RangePostings> {
  const r = await db.query(
    `WITH day AS (
       SELECT currency, debit_account_id, credit_account_id, amount FROM transfers
       WHERE created_at >= $1 AND created_at < $2 AND kind IN ('posted', 'post_pending')
     ), sides AS (
       SELECT day.currency, a.subject_code, day.amount AS debit, 0::bigint AS credit FROM day JOIN accounts a ON a.id = day.debit_account_id
       UNION ALL
       SELECT day.currency, a.subject_code, 0::bigint, day.amount FROM day JOIN accounts a ON a.id = day.credit_account_id
     )
     SELECT currency, subject_code, sum(debit)::text AS debit, sum(credit)::text AS credit,
            (SELECT count(*) FROM day d WHERE d.currency = sides.currency)::text AS transfers
     FROM sides GROUP BY currency, subject_code`,
    [start, end],
  );
  const sums: SubjectSums[] = [];
  const transferCounts = new Map<string, bigint>();
  for (const row of r.rows as Row[]) {
    const currency = row['currency'] as string;
    sums.push({ currency, subjectCode: row['subject_code'] as string, debitMinor: big(row['debit']), creditMinor: big(row['credit']) });
    transferCounts.set(currency, big(row['transfers']));
  }
  return { sums, transferCounts };
}

/**
 * The creation time of the earliest money-moving transfer created before `before` (or at all),
 * or undefined. Bounding the scan matters: the catch-up worker asks this on every tick, and with
 * a bound at the first closed day it reads only the oldest part of the created_at index.
 */
export async function firstPostingAt(db: Queryable, before?: Date): Promise<Date | undefined> {
  const r = before === undefined
    ? await db.query(`SELECT min(created_at) AS at FROM transfers WHERE kind IN ('posted', 'post_pending')`)
    : await db.query(`SELECT min(created_at) AS at FROM transfers WHERE kind IN ('posted', 'post_pending') AND created_at < $1`, [before]);
  return ((r.rows[0] as Row | undefined)?.['at'] as Date | null | undefined) ?? undefined;
}

// ---- closed days and vouchers ---------------------------------------------------------------

export async function getAccountingDay(db: Queryable, date: string): Promise<{ timeZone: string } | undefined> {
  const r = await db.query('SELECT time_zone FROM accounting_days WHERE business_date = $1::date', [date]);
  const row = r.rows[0] as Row | undefined;
  return row ? { timeZone: row['time_zone'] as string } : undefined;
}

/** The earliest closed business day, if any. */
export async function firstClosedDay(db: Queryable): Promise<string | undefined> {
  const r = await db.query('SELECT business_date::text AS d FROM accounting_days ORDER BY business_date LIMIT 1');
  return (r.rows[0] as Row | undefined)?.['d'] as string | undefined;
}

/** Some time zone other than `tz` that a closed day was computed in, if there is one. */
export async function otherTimeZone(db: Queryable, tz: string): Promise<string | undefined> {
  const r = await db.query('SELECT time_zone FROM accounting_days WHERE time_zone <> $1 LIMIT 1', [tz]);
  return (r.rows[0] as Row | undefined)?.['time_zone'] as string | undefined;
}

/** Dates in [from, to] (inclusive, calendar order) that are not closed yet, at most `limit` of them. */
export async function unclosedDays(db: Queryable, from: string, to: string, limit: number): Promise<string[]> {
  const r = await db.query(
    `SELECT d::date::text AS d FROM generate_series($1::date, $2::date, interval '1 day') AS d
     WHERE NOT EXISTS (SELECT 1 FROM accounting_days a WHERE a.business_date = d::date)
     ORDER BY d LIMIT $3`,
    [from, to, limit],
  );
  return (r.rows as Row[]).map((x) => x['d'] as string);
}

export interface NewVoucher {
  id: bigint;
  voucherNo: string;
  currency: string;
  totalDebitMinor: bigint;
  totalCreditMinor: bigint;
  transferCount: bigint;
  lines: { lineNo: number; subjectCode: string; debitMinor: bigint; creditMinor: bigint }[];
}

/**
 * Closes a day: writes its accounting_days row, its vouchers and their lines in ONE statement, so
 * they commit together without needing a transaction from the caller. When the day is already
 * closed (by an earlier call or a concurrent one), the day insert conflicts, the CTEs below it
 * select nothing, and nothing at all is written. Returns whether this call closed the day.
 */
export async function closeDay(
  db: Queryable,
  day: { date: string; timeZone: string; transferCount: bigint; now: Date },
  vouchers: readonly NewVoucher[],
): Promise<boolean> {
  const lines = vouchers.flatMap((v) => v.lines.map((l) => ({ ...l, voucherId: v.id })));
  const r = await db.query(
    `WITH d AS (
       INSERT INTO accounting_days (business_date, time_zone, voucher_count, transfer_count, closed_at)
       VALUES ($1::date, $2, $3, $4, $5) ON CONFLICT (business_date) DO NOTHING RETURNING business_date
     ), v AS (
       INSERT INTO vouchers (id, voucher_no, business_date, currency, time_zone, status, total_debit, total_credit, transfer_count, created_at)
       SELECT x.id, x.no, d.business_date, x.cur, $2, 'posted', x.td, x.tc, x.n, $5
       FROM d, unnest($6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[]) AS x(id, no, cur, td, tc, n)
       RETURNING id
     ), l AS (
       INSERT INTO voucher_lines (voucher_id, line_no, subject_code, debit_amount, credit_amount)
       SELECT y.vid, y.no, y.subject, y.dr, y.cr
       FROM d, unnest($12::bigint[], $13::int[], $14::text[], $15::bigint[], $16::bigint[]) AS y(vid, no, subject, dr, cr)
       RETURNING voucher_id
     )
     SELECT (SELECT count(*) FROM d)::int AS closed, (SELECT count(*) FROM v)::int AS vouchers, (SELECT count(*) FROM l)::int AS lines`,
    [
      day.date, day.timeZone, vouchers.length, day.transferCount, day.now,
      vouchers.map((v) => v.id), vouchers.map((v) => v.voucherNo), vouchers.map((v) => v.currency),
      vouchers.map((v) => v.totalDebitMinor), vouchers.map((v) => v.totalCreditMinor), vouchers.map((v) => v.transferCount),
      lines.map((l) => l.voucherId), lines.map((l) => l.lineNo), lines.map((l) => l.subjectCode),
      lines.map((l) => l.debitMinor), lines.map((l) => l.creditMinor),
    ],
  );
  const row = r.rows[0] as { closed: number; vouchers: number; lines: number };
  if (row.closed === 1 && (row.vouchers !== vouchers.length || row.lines !== lines.length)) {
    throw new Error(`closing ${day.date} wrote ${row.vouchers} vouchers and ${row.lines} lines instead of ${vouchers.length} and ${lines.length}`);
  }
  return row.closed === 1;
}

const VOUCHER_COLS = `v.id, v.voucher_no, v.business_date::text AS business_date, v.currency, v.time_zone, v.status,
  v.total_debit, v.total_credit, v.transfer_count, v.created_at`;

/** Reads the lines of the given voucher headers (one query) and returns complete vouchers. */
async function withLines(db: Queryable, rows: Row[]): Promise<Voucher[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r['id'] as bigint);
  const lr = await db.query(
    `SELECT l.voucher_id, l.line_no, l.subject_code, s.name, l.debit_amount, l.credit_amount
     FROM voucher_lines l JOIN accounting_subjects s ON s.code = l.subject_code
     WHERE l.voucher_id = ANY($1::bigint[]) ORDER BY l.voucher_id, l.line_no`,
    [ids],
  );
  const byVoucher = new Map<bigint, VoucherLine[]>();
  for (const l of lr.rows as Row[]) {
    const vid = l['voucher_id'] as bigint;
    const list = byVoucher.get(vid) ?? [];
    list.push({ lineNo: l['line_no'] as number, subjectCode: l['subject_code'] as string, subjectName: l['name'] as string, debitMinor: big(l['debit_amount']), creditMinor: big(l['credit_amount']) });
    byVoucher.set(vid, list);
  }
  return rows.map((r) => ({
    id: r['id'] as bigint,
    voucherNo: r['voucher_no'] as string,
    businessDate: r['business_date'] as string,
    currency: r['currency'] as string,
    timeZone: r['time_zone'] as string,
    status: 'posted',
    totalDebitMinor: big(r['total_debit']),
    totalCreditMinor: big(r['total_credit']),
    transferCount: big(r['transfer_count']),
    createdAt: r['created_at'] as Date,
    lines: byVoucher.get(r['id'] as bigint) ?? [],
  }));
}

export async function vouchersOn(db: Queryable, date: string): Promise<Voucher[]> {
  const r = await db.query(`SELECT ${VOUCHER_COLS} FROM vouchers v WHERE v.business_date = $1::date ORDER BY v.voucher_no`, [date]);
  return withLines(db, r.rows as Row[]);
}

/**
 * Vouchers in voucher-number order, which is (business date, currency) order because the number
 * is 'V' + yyyymmdd + currency; `afterNo` is the keyset cursor. Dates are inclusive.
 */
export async function listVouchers(db: Queryable, f: { from?: string; to?: string; afterNo?: string; limit: number }): Promise<Voucher[]> {
  const r = await db.query(
    `SELECT ${VOUCHER_COLS} FROM vouchers v
     WHERE ($1::date IS NULL OR v.business_date >= $1::date) AND ($2::date IS NULL OR v.business_date <= $2::date)
       AND ($3::text IS NULL OR v.voucher_no > $3)
     ORDER BY v.voucher_no LIMIT $4`,
    [f.from ?? null, f.to ?? null, f.afterNo ?? null, f.limit],
  );
  return withLines(db, r.rows as Row[]);
}

/** Gross voucher movement per (currency, subject) of the days before `date`, or of `date` itself. */
export async function voucherSums(db: Queryable, date: string, which: 'before' | 'on'): Promise<SubjectSums[]> {
  const r = await db.query(
    `SELECT v.currency, l.subject_code, sum(l.debit_amount)::text AS debit, sum(l.credit_amount)::text AS credit
     FROM vouchers v JOIN voucher_lines l ON l.voucher_id = v.id
     WHERE ${which === 'before' ? 'v.business_date < $1::date' : 'v.business_date = $1::date'}
     GROUP BY v.currency, l.subject_code`,
    [date],
  );
  return (r.rows as Row[]).map((x) => ({ currency: x['currency'] as string, subjectCode: x['subject_code'] as string, debitMinor: big(x['debit']), creditMinor: big(x['credit']) }));
}
