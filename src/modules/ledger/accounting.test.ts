// Proves the accounting side against real PostgreSQL: daily vouchers match hand-computed sums, balance, land on the right business day, are written once, and the trial balance balances and agrees with the ledger's accounts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { businessDayRange, ManualClock } from '../../kernel/clock.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import {
  computeDayPostings, createSubject, csvField, DEFAULT_CLOSE_GRACE_MS, generateMissingVouchers, generateVouchers, getVouchers,
  listSubjects, listVouchers, setSubjectActive, trialBalance, trialBalanceCsv, vouchersCsv, type TrialBalance, type Voucher,
} from './accounting.js';
import type { TransferRequest } from './index.js';

const TZ = 'Asia/Shanghai';
// Business days in Shanghai (UTC+8): D runs from 2026-03-09T16:00Z to 2026-03-10T16:00Z.
const D_MINUS_1 = '2026-03-09';
const D = '2026-03-10';
const D_PLUS_1 = '2026-03-11';
const D_PLUS_2 = '2026-03-12';
const endOf = (date: string): number => businessDayRange(date, TZ).end.getTime();

const clock = new ManualClock(Date.parse('2026-03-09T02:00:00Z'));
let f: LedgerFixture;
let n = 0;
const acct: Record<string, bigint> = {};
let holdId = 0n;

async function transfer(at: string, req: Omit<TransferRequest, 'idempotencyKey'>): Promise<bigint> {
  clock.set(Date.parse(at));
  const r = await f.ledger.transfer({ idempotencyKey: `acc-${++n}`, currency: 'CNY', ...req });
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value.transfer.id;
}

const deps = () => ({ tz: TZ, clock, nextId: f.nextId });
const db = () => f.db.pool;

beforeAll(async () => {
  f = await ledgerFixture({ clock });
  acct['wechat'] = await f.account({ type: 'asset', subjectCode: '113101' });
  acct['card'] = await f.account({ type: 'liability', subjectCode: '225102' });
  acct['merchant'] = await f.account({ type: 'liability', subjectCode: '225101' });
  acct['fee'] = await f.account({ type: 'income', subjectCode: '600101' });
  acct['cost'] = await f.account({ type: 'expense', subjectCode: '640101' });
  acct['usdBank'] = await f.account({ type: 'asset', subjectCode: '1002', currency: 'USD' });
  acct['usdCustomer'] = await f.account({ type: 'liability', subjectCode: '225103', currency: 'USD' });
  const a = (k: string): bigint => acct[k]!;
  // D-1, 10:00 local: a card recharge through WeChat Pay.
  await transfer('2026-03-09T02:00:00Z', { debitAccountId: a('wechat'), creditAccountId: a('card'), amount: 10_000n });
  // D, 09:00 local: consumption, merchant fee, channel cost, a hold, a partial fee reversal, a USD top-up.
  await transfer('2026-03-10T01:00:00Z', { debitAccountId: a('card'), creditAccountId: a('merchant'), amount: 3000n });
  const fee = await transfer('2026-03-10T01:00:00Z', { debitAccountId: a('merchant'), creditAccountId: a('fee'), amount: 30n });
  await transfer('2026-03-10T01:00:00Z', { debitAccountId: a('cost'), creditAccountId: a('wechat'), amount: 20n });
  holdId = await transfer('2026-03-10T01:00:00Z', { kind: 'pending', debitAccountId: a('card'), creditAccountId: a('merchant'), amount: 500n });
  await transfer('2026-03-10T01:00:00Z', { debitAccountId: a('fee'), creditAccountId: a('merchant'), amount: 10n, reversesId: fee });
  await transfer('2026-03-10T01:00:00Z', { debitAccountId: a('usdBank'), creditAccountId: a('usdCustomer'), amount: 700n, currency: 'USD' });
  // 23:59 local on D and 00:01 local on D+1, either side of 16:00Z.
  await transfer('2026-03-10T15:59:00Z', { debitAccountId: a('wechat'), creditAccountId: a('card'), amount: 111n });
  await transfer('2026-03-10T16:01:00Z', { debitAccountId: a('wechat'), creditAccountId: a('card'), amount: 222n });
  // D+1, 10:00 local: 400 of the 500 hold is posted; only the 400 moves posted money, on D+1.
  await transfer('2026-03-11T02:00:00Z', { kind: 'post_pending', pendingId: holdId, amount: 400n });
});
afterAll(async () => {
  await f.close();
});

/** Voucher lines as [subject, debit, credit] for compact comparison. */
const linesOf = (v: Voucher | undefined): [string, bigint, bigint][] => (v?.lines ?? []).map((l) => [l.subjectCode, l.debitMinor, l.creditMinor]);

/** Per (currency, subject): the net debit balance of the ledger's accounts, from their posted totals. */
async function accountNets(): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const a of await f.ledger.listAccounts({ limit: 1000 })) {
    const k = `${a.currency} ${a.subjectCode}`;
    out.set(k, (out.get(k) ?? 0n) + a.debitsPosted - a.creditsPosted);
  }
  return out;
}

function expectClosingMatchesAccounts(tb: TrialBalance, nets: Map<string, bigint>): void {
  const closing = new Map(tb.rows.map((r) => [`${r.currency} ${r.subjectCode}`, r.closingDebitMinor - r.closingCreditMinor]));
  for (const [k, net] of nets) expect([k, closing.get(k) ?? 0n]).toEqual([k, net]);
  for (const [k, net] of closing) expect([k, nets.get(k) ?? 0n]).toEqual([k, net]);
}

describe('vouchers', () => {
  it('refuses an open business day and a malformed date, and gives a provisional trial balance meanwhile', async () => {
    clock.set(endOf(D) + 3 * 60_000); // 00:03 local on D+1: D has ended but is inside the grace period.
    const open = await generateVouchers(db(), { date: D, ...deps() });
    expect(open.ok ? 'ok' : open.code).toBe('business_day_not_closed');
    const bad = await generateVouchers(db(), { date: '2026-02-30', ...deps() });
    expect(bad.ok ? 'ok' : bad.code).toBe('invalid_date');
    const future = await trialBalance(db(), { date: D_PLUS_2, ...deps() });
    expect(future.ok ? 'ok' : future.code).toBe('invalid_date');
    const tb = await trialBalance(db(), { date: D_PLUS_1, ...deps() });
    if (!tb.ok) throw new Error(tb.code);
    expect([tb.value.provisional, tb.value.balanced]).toEqual([true, true]);
    expectClosingMatchesAccounts(tb.value, await accountNets());
    // The trial balance closed D-1 (missing and closed) but left D (inside its grace period) open.
    const before = await getVouchers(db(), D_MINUS_1);
    expect(before.ok && linesOf(before.value[0])).toEqual([['113101', 10_000n, 0n], ['225102', 0n, 10_000n]]);
    expect(await getVouchers(db(), D)).toEqual({ ok: true, value: [] });
  });

  it('writes one balanced voucher per currency that matches hand-computed sums', async () => {
    clock.set(endOf(D) + DEFAULT_CLOSE_GRACE_MS);
    const r = await generateVouchers(db(), { date: D, ...deps() });
    if (!r.ok) throw new Error(r.code);
    expect(r.value.created).toBe(true);
    const [cny, usd] = r.value.vouchers;
    expect(cny).toMatchObject({ voucherNo: 'V20260310CNY', businessDate: D, currency: 'CNY', timeZone: TZ, status: 'posted', totalDebitMinor: 3171n, totalCreditMinor: 3171n, transferCount: 5n });
    expect(linesOf(cny)).toEqual([
      ['113101', 111n, 0n], ['113101', 0n, 20n],
      ['225101', 30n, 0n], ['225101', 0n, 3010n],
      ['225102', 3000n, 0n], ['225102', 0n, 111n],
      ['600101', 10n, 0n], ['600101', 0n, 30n],
      ['640101', 20n, 0n],
    ]);
    expect(cny?.lines.map((l) => l.lineNo)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(cny?.lines[0]?.subjectName).toBe('应收渠道款-微信支付');
    expect(usd).toMatchObject({ voucherNo: 'V20260310USD', totalDebitMinor: 700n, totalCreditMinor: 700n, transferCount: 1n });
    expect(linesOf(usd)).toEqual([['1002', 700n, 0n], ['225103', 0n, 700n]]);
  });

  it('puts a transfer at 23:59 local on its day and one at 00:01 local on the next', async () => {
    const d = await computeDayPostings(db(), D, TZ);
    const d1 = await computeDayPostings(db(), D_PLUS_1, TZ);
    if (!d.ok || !d1.ok) throw new Error('postings');
    const wechat = (p: typeof d.value) => p.lines.find((l) => l.currency === 'CNY' && l.subjectCode === '113101')?.debitMinor;
    expect(wechat(d.value)).toBe(111n);
    expect(wechat(d1.value)).toBe(222n);
    expect(d1.value.start.toISOString()).toBe('2026-03-10T16:00:00.000Z');
  });

  it('returns the stored vouchers unchanged when a day is generated again', async () => {
    const first = await getVouchers(db(), D);
    clock.set(endOf(D) + 86_400_000 * 3);
    const again = await generateVouchers(db(), { date: D, ...deps() });
    if (!first.ok || !again.ok) throw new Error('vouchers');
    expect(again.value.created).toBe(false);
    expect(again.value.vouchers).toEqual(first.value);
    const otherZone = await generateVouchers(db(), { date: D, tz: 'UTC', clock, nextId: f.nextId });
    expect(otherZone.ok ? 'ok' : otherZone.code).toBe('time_zone_mismatch');
  });

  it('writes a day once when several callers generate it at the same time', async () => {
    clock.set(endOf(D_PLUS_1) + DEFAULT_CLOSE_GRACE_MS);
    const rs = await Promise.all([1, 2, 3, 4].map(() => generateVouchers(db(), { date: D_PLUS_1, ...deps() })));
    const oks = rs.map((r) => (r.ok ? r.value : undefined));
    expect(oks.filter((v) => v?.created)).toHaveLength(1);
    for (const v of oks) expect(v?.vouchers).toEqual(oks[0]?.vouchers);
    expect(oks[0]?.vouchers).toHaveLength(1);
    // The posted 400 of the hold appears on the day it was posted; the 500 held never does.
    expect(linesOf(oks[0]?.vouchers[0])).toEqual([['113101', 222n, 0n], ['225101', 0n, 400n], ['225102', 400n, 0n], ['225102', 0n, 222n]]);
  });

  it('keeps a hold out of the postings until it is posted', async () => {
    clock.set(Date.parse('2026-03-12T02:00:00Z')); // D+2, 10:00 local
    const hold = await transfer('2026-03-12T02:00:00Z', { kind: 'pending', debitAccountId: acct['card']!, creditAccountId: acct['merchant']!, amount: 77n });
    const before = await computeDayPostings(db(), D_PLUS_2, TZ);
    expect(before.ok && before.value.lines).toEqual([]);
    await transfer('2026-03-12T03:00:00Z', { kind: 'post_pending', pendingId: hold });
    const after = await computeDayPostings(db(), D_PLUS_2, TZ);
    expect(after.ok && after.value.lines).toEqual([
      { currency: 'CNY', subjectCode: '225101', debitMinor: 0n, creditMinor: 77n },
      { currency: 'CNY', subjectCode: '225102', debitMinor: 77n, creditMinor: 0n },
    ]);
    expect(after.ok && after.value.currencies).toEqual([{ currency: 'CNY', transferCount: 1n, totalDebitMinor: 77n, totalCreditMinor: 77n }]);
  });

  it('lists vouchers a page at a time in date and currency order', async () => {
    const p1 = await listVouchers(db(), { limit: 2 });
    if (!p1.ok) throw new Error(p1.code);
    expect(p1.value.vouchers.map((v) => v.voucherNo)).toEqual(['V20260309CNY', 'V20260310CNY']);
    const p2 = await listVouchers(db(), { limit: 2, cursor: p1.value.nextCursor! });
    expect(p2.ok && p2.value.vouchers.map((v) => v.voucherNo)).toEqual(['V20260310USD', 'V20260311CNY']);
    const p3 = await listVouchers(db(), { limit: 2, cursor: (p2.ok && p2.value.nextCursor) || '' });
    expect(p3.ok && p3.value).toEqual({ vouchers: [], nextCursor: null });
    const ranged = await listVouchers(db(), { from: D, to: D });
    expect(ranged.ok && ranged.value.vouchers.map((v) => v.voucherNo)).toEqual(['V20260310CNY', 'V20260310USD']);
    const badCursor = await listVouchers(db(), { cursor: 'bm90LWEtY3Vyc29y' });
    expect(badCursor.ok ? 'ok' : badCursor.code).toBe('invalid_query');
  });
});

describe('trial balance', () => {
  it('balances for a closed day, with closing = opening + movement and hand-computed figures', async () => {
    const r = await trialBalance(db(), { date: D, ...deps() });
    if (!r.ok) throw new Error(r.code);
    const tb = r.value;
    expect([tb.provisional, tb.balanced]).toEqual([false, true]);
    const row = (cur: string, code: string) => tb.rows.find((x) => x.currency === cur && x.subjectCode === code);
    expect(row('CNY', '113101')).toMatchObject({ openingDebitMinor: 10_000n, openingCreditMinor: 0n, periodDebitMinor: 111n, periodCreditMinor: 20n, closingDebitMinor: 10_091n, closingCreditMinor: 0n, closingBalanceMinor: 10_091n, normalSide: 'debit' });
    expect(row('CNY', '225102')).toMatchObject({ openingCreditMinor: 10_000n, periodDebitMinor: 3000n, periodCreditMinor: 111n, closingCreditMinor: 7111n, closingBalanceMinor: 7111n, normalSide: 'credit' });
    expect(row('CNY', '225101')).toMatchObject({ openingDebitMinor: 0n, openingCreditMinor: 0n, closingCreditMinor: 2980n, openingBalanceMinor: 0n });
    expect(row('CNY', '600101')).toMatchObject({ closingCreditMinor: 20n, closingBalanceMinor: 20n });
    expect(row('CNY', '640101')).toMatchObject({ closingDebitMinor: 20n, closingBalanceMinor: 20n });
    for (const x of tb.rows) {
      expect(x.closingDebitMinor - x.closingCreditMinor).toBe(x.openingDebitMinor - x.openingCreditMinor + x.periodDebitMinor - x.periodCreditMinor);
    }
    expect(tb.totals).toEqual([
      { currency: 'CNY', openingDebitMinor: 10_000n, openingCreditMinor: 10_000n, periodDebitMinor: 3171n, periodCreditMinor: 3171n, closingDebitMinor: 10_111n, closingCreditMinor: 10_111n, balanced: true },
      { currency: 'USD', openingDebitMinor: 0n, openingCreditMinor: 0n, periodDebitMinor: 700n, periodCreditMinor: 700n, closingDebitMinor: 700n, closingCreditMinor: 700n, balanced: true },
    ]);
  });

  it('closes to the ledger accounts: per subject, closing equals the sum of posted account balances', async () => {
    const nets = await accountNets();
    const today = await trialBalance(db(), { date: D_PLUS_2, ...deps() });
    if (!today.ok) throw new Error(today.code);
    expect([today.value.provisional, today.value.balanced]).toEqual([true, true]);
    expectClosingMatchesAccounts(today.value, nets);
    // D+2 is now closed (with its 77) and the catch-up closes it first, so the same figures come from vouchers.
    clock.set(endOf(D_PLUS_2) + DEFAULT_CLOSE_GRACE_MS);
    const closed = await trialBalance(db(), { date: D_PLUS_2, ...deps() });
    if (!closed.ok) throw new Error(closed.code);
    expect([closed.value.provisional, closed.value.balanced]).toEqual([false, true]);
    expectClosingMatchesAccounts(closed.value, nets);
  });

  it('catches up on closed days a bounded number at a time, closing empty days without vouchers', async () => {
    clock.set(endOf('2026-04-21') + DEFAULT_CLOSE_GRACE_MS); // D+3 .. 2026-04-21 is 40 days without postings.
    const first = await generateMissingVouchers(db(), { ...deps(), maxDays: 31 });
    expect(first.ok && [first.value.days.length, first.value.days[0], first.value.voucherCount, first.value.more]).toEqual([31, '2026-03-13', 0, true]);
    const second = await generateMissingVouchers(db(), deps());
    expect(second.ok && [second.value.days.length, second.value.days.at(-1), second.value.more]).toEqual([9, '2026-04-21', false]);
    const third = await generateMissingVouchers(db(), deps());
    expect(third.ok && third.value.days).toEqual([]);
    const tb = await trialBalance(db(), { date: '2026-04-21', ...deps() });
    if (!tb.ok) throw new Error(tb.code);
    expect([tb.value.provisional, tb.value.balanced, tb.value.rows.every((x) => x.periodDebitMinor === 0n && x.periodCreditMinor === 0n)]).toEqual([false, true, true]);
    expectClosingMatchesAccounts(tb.value, await accountNets());
  });
});

describe('CSV', () => {
  it('renders vouchers with a header and one record per line', async () => {
    const v = await getVouchers(db(), D);
    if (!v.ok) throw new Error(v.code);
    const text = vouchersCsv(v.value);
    const records = text.split('\r\n');
    expect(records.pop()).toBe(''); // every record, the last included, ends with CRLF
    expect(records[0]).toBe('voucher_no,business_date,currency,line_no,subject_code,subject_name,debit_minor,credit_minor');
    expect(records).toHaveLength(1 + 9 + 2);
    expect(records[1]).toBe('V20260310CNY,2026-03-10,CNY,1,113101,应收渠道款-微信支付,111,0');
  });

  it('renders a trial balance with one record per subject and a total per currency', async () => {
    const r = await trialBalance(db(), { date: D, ...deps() });
    if (!r.ok) throw new Error(r.code);
    const records = trialBalanceCsv(r.value).split('\r\n').slice(0, -1);
    expect(records[0]).toBe('business_date,currency,subject_code,subject_name,normal_side,opening_debit_minor,opening_credit_minor,period_debit_minor,period_credit_minor,closing_debit_minor,closing_credit_minor,provisional');
    expect(records).toHaveLength(1 + r.value.rows.length + 2);
    expect(r.value.rows).toHaveLength(7);
    expect(records.at(-2)).toBe('2026-03-10,CNY,,合计,,10000,10000,3171,3171,10111,10111,false');
  });

  it('quotes fields as RFC 4180 requires', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvField(-12n)).toBe('-12');
  });
});

describe('subjects', () => {
  const sub = { code: '113105', name: '应收渠道款-云闪付', nameEn: 'Receivable from UnionPay QuickPass', type: 'asset' as const };

  it('creates a sub-subject under its parent, idempotently', async () => {
    const a = await createSubject(db(), { ...sub, parentCode: '1131' }, clock);
    expect(a.ok && [a.value.created, a.value.subject.parentCode, a.value.subject.active]).toEqual([true, '1131', true]);
    const b = await createSubject(db(), sub, clock);
    expect(b.ok && [b.value.created, b.value.subject.code]).toEqual([false, '113105']);
    const c = await createSubject(db(), { ...sub, name: '别的名字' }, clock);
    expect(c.ok ? 'ok' : c.code).toBe('subject_exists');
    expect((await listSubjects(db())).some((s) => s.code === '113105')).toBe(true);
  });

  it('refuses malformed codes, wrong parents and type mismatches', async () => {
    const code = async (inp: Parameters<typeof createSubject>[1]) => {
      const r = await createSubject(db(), inp, clock);
      return r.ok ? 'ok' : r.code;
    };
    expect(await code({ ...sub, code: '11310' })).toBe('invalid_subject');
    expect(await code({ ...sub, code: 'abcd' })).toBe('invalid_subject');
    expect(await code({ ...sub, code: '113201', parentCode: '1131' })).toBe('invalid_subject');
    expect(await code({ ...sub, code: '11310601', parentCode: '1131' })).toBe('invalid_subject');
    expect(await code({ ...sub, code: '999901' })).toBe('unknown_subject');
    expect(await code({ ...sub, code: '113106', type: 'liability' })).toBe('subject_type_mismatch');
    expect(await code({ ...sub, code: '113107', name: ' ' })).toBe('invalid_subject');
    expect(await code({ ...sub, code: '7001', type: 'income', parentCode: '6001' })).toBe('invalid_subject');
    expect(await code({ ...sub, code: '7001', type: 'income' })).toBe('ok');
  });

  it('deactivates a subject so no new accounts open on it', async () => {
    const off = await setSubjectActive(db(), { code: '113105', active: false });
    expect(off.ok && off.value.active).toBe(false);
    const r = await f.ledger.createAccount({ type: 'asset', currency: 'CNY', subjectCode: '113105' });
    expect(r.ok ? 'ok' : r.code).toBe('unknown_subject');
    const child = await createSubject(db(), { ...sub, code: '11310501', parentCode: '113105' }, clock);
    expect(child.ok ? 'ok' : child.code).toBe('unknown_subject');
    const missing = await setSubjectActive(db(), { code: '8888', active: true });
    expect(missing.ok ? 'ok' : missing.code).toBe('unknown_subject');
  });
});
