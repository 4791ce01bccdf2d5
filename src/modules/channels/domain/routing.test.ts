// Proves routing removes every ineligible account with a named reason, ranks the rest by health, preference, direct contract and strategy, and explains it in a JSON-safe trace.
import { describe, expect, it } from 'vitest';
import { PAY_METHODS } from '../adapter.js';
import { inMaintenance, route, UNKNOWN_SUCCESS_RATE_PCT, validateMaintenanceWindow, validateRoutingRule, type ChannelAccountView, type ChannelHealth, type IneligibleReason, type MaintenanceWindow, type RouteRequest, type RoutingRule } from './routing.js';

const M = 7n; // the paying merchant
const NOON_SHANGHAI = new Date('2026-03-10T04:00:00Z');

function acct(id: bigint, over: Partial<ChannelAccountView> = {}): ChannelAccountView {
  return {
    id,
    code: `acct-${id}`,
    provider: 'wechatpay',
    mode: 'aggregated',
    merchantId: null,
    methods: [...PAY_METHODS],
    currencies: ['CNY'],
    fee: { bps: 60, fixedMinor: 0n, minMinor: 0n, maxMinor: null },
    perTxMinMinor: 1n,
    perTxMaxMinor: null,
    dailyLimitMinor: null,
    bankLimits: {},
    maintenance: [],
    priority: 10,
    status: 'active',
    ...over,
  };
}

function req(over: Partial<RouteRequest> = {}): RouteRequest {
  return {
    merchantId: M,
    method: 'wechat_native',
    amountMinor: 10_000n,
    currency: 'CNY',
    now: NOON_SHANGHAI,
    usedTodayMinor: new Map(),
    health: new Map(),
    exclude: new Set(),
    ...over,
  };
}

const health = (entries: [bigint, ChannelHealth['state'], number | null][]) => new Map(entries.map(([id, state, successRatePct]) => [id, { state, successRatePct }]));
const ids = (d: ReturnType<typeof route>) => d.ranked.map((a) => a.id);
const reasonsOf = (d: ReturnType<typeof route>, id: bigint) => d.trace.candidates.find((c) => c.id === String(id))!.reasons.map((r) => r.code);
const rule = (id: string, priority: number, action: RoutingRule['action'], match: RoutingRule['match'] = {}): RoutingRule => ({ id, priority, match, action });

describe('eligibility filters', () => {
  const cases: [IneligibleReason, Partial<ChannelAccountView>, Partial<RouteRequest>][] = [
    ['disabled', { status: 'disabled' }, {}],
    ['invalid_config', { fee: { bps: 1.5, fixedMinor: 0n, minMinor: 0n, maxMinor: null } }, {}],
    ['invalid_config', { maintenance: [{ kind: 'daily', start: '01:00', end: '02:00', timeZone: 'Mars/Olympus' }] }, {}],
    ['method_not_supported', { methods: ['alipay_qr'] }, {}],
    ['currency_not_supported', { currencies: ['HKD'] }, {}],
    ['direct_account_of_other_merchant', { mode: 'direct', merchantId: 8n }, {}],
    ['direct_account_of_other_merchant', { mode: 'direct', merchantId: null }, {}],
    ['below_per_tx_min', { perTxMinMinor: 10_001n }, {}],
    ['above_per_tx_max', { perTxMaxMinor: 9_999n }, {}],
    ['bank_not_supported', { bankLimits: { ICBC: 50_000n } }, { method: 'bank_quick', bankCode: 'CMB' }],
    ['bank_limit_exceeded', { bankLimits: { ICBC: 9_999n } }, { method: 'bank_gateway', bankCode: 'ICBC' }],
    ['daily_limit_exceeded', { dailyLimitMinor: 50_000n }, { usedTodayMinor: new Map([[1n, 40_001n]]) }],
    ['in_maintenance', { maintenance: [{ kind: 'once', from: new Date('2026-03-10T03:00:00Z'), to: new Date('2026-03-10T05:00:00Z') }] }, {}],
    ['circuit_open', {}, { health: health([[1n, 'open', 10]]) }],
    ['already_tried', {}, { exclude: new Set([1n]) }],
  ];
  it.each(cases)('removes an account for %s and routes to the next', (code, over, reqOver) => {
    const d = route([acct(1n, { fee: { bps: 1, fixedMinor: 0n, minMinor: 0n, maxMinor: null }, ...over }), acct(2n)], [], req(reqOver));
    expect(d.chosen?.id).toBe(2n);
    expect(ids(d)).toEqual([2n]);
    expect(reasonsOf(d, 1n)).toEqual([code]);
    const c = d.trace.candidates[0]!;
    expect(c.eligible).toBe(false);
    expect(c.rank).toBeNull();
  });

  it('removes an account excluded by a matching rule, naming the rule', () => {
    const d = route([acct(1n), acct(2n)], [rule('no-1', 1, { exclude: [1n] })], req());
    expect(ids(d)).toEqual([2n]);
    expect(d.trace.candidates[0]!.reasons).toEqual([{ code: 'excluded_by_rule', message: 'excluded by rule no-1', detail: 'excluded by rule no-1' }]);
  });

  it('lists every reason an account fails, with numbers in the detail', () => {
    const d = route([acct(1n, { status: 'disabled', currencies: ['USD'], perTxMaxMinor: 100n })], [], req());
    expect(reasonsOf(d, 1n)).toEqual(['disabled', 'currency_not_supported', 'above_per_tx_max']);
    expect(d.trace.candidates[0]!.reasons[2]!.detail).toBe('amount 10000 > max 100');
  });

  it('treats per-transaction bounds as inclusive', () => {
    expect(ids(route([acct(1n, { perTxMinMinor: 10_000n, perTxMaxMinor: 10_000n })], [], req()))).toEqual([1n]);
  });

  it('allows exactly reaching the daily limit and refuses one fen more', () => {
    const a = acct(1n, { dailyLimitMinor: 50_000n });
    expect(route([a], [], req({ usedTodayMinor: new Map([[1n, 40_000n]]) })).chosen?.id).toBe(1n);
    const over = route([a], [], req({ usedTodayMinor: new Map([[1n, 40_001n]]) }));
    expect(over.chosen).toBeNull();
    expect(over.trace.candidates[0]!.reasons[0]!.detail).toBe('used today 40001 + amount 10000 > daily limit 50000');
    expect(route([a], [], req({ amountMinor: 50_000n })).chosen?.id).toBe(1n); // no usage yet counts as 0
  });

  it('applies bank limits only to bank methods, only when the bank is named and the account lists limits', () => {
    const limited = acct(1n, { bankLimits: { ICBC: 10_000n } });
    expect(ids(route([limited], [], req({ method: 'bank_quick', bankCode: 'ICBC' })))).toEqual([1n]); // exactly at the limit
    expect(ids(route([limited], [], req({ method: 'bank_quick' })))).toEqual([1n]); // bank not known yet
    expect(ids(route([limited], [], req({ bankCode: 'CMB' })))).toEqual([1n]); // not a bank method
    expect(ids(route([acct(2n)], [], req({ method: 'bank_quick', bankCode: 'CMB' })))).toEqual([2n]); // no limits listed
    expect(reasonsOf(route([limited], [], req({ method: 'bank_quick', bankCode: 'toString' })), 1n)).toEqual(['bank_not_supported']);
  });

  it('gives chosen null with every reason when nothing is eligible', () => {
    const d = route([acct(1n, { status: 'disabled', code: 'wx-1' }), acct(2n, { code: 'ali-1', methods: ['alipay_qr'] })], [], req());
    expect(d.chosen).toBeNull();
    expect(d.ranked).toEqual([]);
    expect(d.trace.chosen).toBeNull();
    expect(d.trace.explanation).toBe('no eligible channel account, 2 candidates excluded: wx-1 disabled, ali-1 does not support wechat_native');
    expect(route([], [], req()).trace.explanation).toBe('no eligible channel account: no channel accounts were given');
  });

  it('refuses a non-positive amount and duplicate account ids', () => {
    expect(() => route([acct(1n)], [], req({ amountMinor: 0n }))).toThrow(/positive/);
    expect(() => route([acct(1n), acct(1n)], [], req())).toThrow(/duplicate/);
  });
});

describe('maintenance windows', () => {
  const overnight: MaintenanceWindow = { kind: 'daily', start: '23:00', end: '01:00', timeZone: 'Asia/Shanghai' };
  const at = (iso: string) => new Date(iso);

  it('handles a daily window crossing midnight in Asia/Shanghai (UTC+8), start inclusive, end exclusive', () => {
    expect(inMaintenance(overnight, at('2026-03-10T14:59:59Z'))).toBe(false); // 22:59:59
    expect(inMaintenance(overnight, at('2026-03-10T15:00:00Z'))).toBe(true); // 23:00
    expect(inMaintenance(overnight, at('2026-03-10T16:00:00Z'))).toBe(true); // 00:00 next day
    expect(inMaintenance(overnight, at('2026-03-10T16:59:59Z'))).toBe(true); // 00:59:59
    expect(inMaintenance(overnight, at('2026-03-10T17:00:00Z'))).toBe(false); // 01:00
    expect(inMaintenance(overnight, NOON_SHANGHAI)).toBe(false);
  });

  it('handles a same-day window and the local time, not UTC', () => {
    const w: MaintenanceWindow = { kind: 'daily', start: '02:00', end: '04:00', timeZone: 'Asia/Shanghai' };
    expect(inMaintenance(w, at('2026-03-09T18:00:00Z'))).toBe(true); // 02:00 Shanghai
    expect(inMaintenance(w, at('2026-03-10T02:00:00Z'))).toBe(false); // 02:00 UTC is 10:00 Shanghai
    const ends = { ...w, start: '22:00', end: '00:00' };
    expect(inMaintenance(ends, at('2026-03-10T15:59:00Z'))).toBe(true); // 23:59
    expect(inMaintenance(ends, at('2026-03-10T16:00:00Z'))).toBe(false); // 00:00
  });

  it('follows daylight saving time in zones that have it', () => {
    const w: MaintenanceWindow = { kind: 'daily', start: '02:00', end: '03:00', timeZone: 'Europe/London' };
    expect(inMaintenance(w, at('2026-01-15T02:30:00Z'))).toBe(true); // GMT
    expect(inMaintenance(w, at('2026-07-15T02:30:00Z'))).toBe(false); // 03:30 BST
    expect(inMaintenance(w, at('2026-07-15T01:30:00Z'))).toBe(true); // 02:30 BST
  });

  it('treats a one-off window as [from, to)', () => {
    const w: MaintenanceWindow = { kind: 'once', from: at('2026-03-10T00:00:00Z'), to: at('2026-03-10T01:00:00Z') };
    expect(inMaintenance(w, at('2026-03-10T00:00:00Z'))).toBe(true);
    expect(inMaintenance(w, at('2026-03-10T00:59:59.999Z'))).toBe(true);
    expect(inMaintenance(w, at('2026-03-10T01:00:00Z'))).toBe(false);
  });

  it('routes around an account in its overnight window and names it', () => {
    const d = route([acct(1n, { maintenance: [overnight] }), acct(2n, { fee: { bps: 100, fixedMinor: 0n, minMinor: 0n, maxMinor: null } })], [], req({ now: at('2026-03-10T16:30:00Z') }));
    expect(ids(d)).toEqual([2n]);
    expect(d.trace.candidates[0]!.reasons[0]!.detail).toBe('in maintenance window daily 23:00–01:00 Asia/Shanghai');
  });

  it('validates windows with clear messages', () => {
    const msg = (w: MaintenanceWindow) => {
      const r = validateMaintenanceWindow(w);
      return r.ok ? 'ok' : r.message;
    };
    expect(msg(overnight)).toBe('ok');
    expect(msg({ ...overnight, start: '24:00' })).toBe('daily maintenance times must be HH:MM (00:00–23:59), got 24:00–01:00');
    expect(msg({ ...overnight, start: '1:00' })).toMatch(/HH:MM/);
    expect(msg({ ...overnight, end: '23:00' })).toMatch(/must not start and end at the same time/);
    expect(msg({ ...overnight, timeZone: 'Nowhere/Land' })).toBe('unknown time zone "Nowhere/Land"');
    expect(msg({ kind: 'once', from: at('2026-01-02T00:00:00Z'), to: at('2026-01-01T00:00:00Z') })).toMatch(/must end after it starts/);
    expect(msg({ kind: 'once', from: new Date(Number.NaN), to: at('2026-01-01T00:00:00Z') })).toMatch(/valid dates/);
    expect(() => inMaintenance({ ...overnight, timeZone: 'Nowhere/Land' }, NOON_SHANGHAI)).toThrow(RangeError);
  });
});

describe('ranking', () => {
  const fee = (bps: number, fixedMinor = 0n) => ({ bps, fixedMinor, minMinor: 0n, maxMinor: null });

  it('cost (default): cheapest fee for this amount, then success rate, then priority, then id', () => {
    const accounts = [acct(1n, { fee: fee(60) }), acct(2n, { fee: fee(30, 31n) }), acct(3n, { fee: fee(38) }), acct(4n, { fee: fee(38) }), acct(5n, { fee: fee(38), priority: 1 }), acct(6n, { fee: fee(38), priority: 1 })];
    // Fees at 100.00 CNY: 60, 61, 38, 38, 38, 38. 3 and 4 tie on fee; 4 has the better success rate.
    const h = health([[3n, 'closed', 97], [4n, 'closed', 99.5], [5n, 'closed', 97], [6n, 'closed', 97]]);
    const d = route(accounts, [], req({ health: h }));
    expect(ids(d)).toEqual([4n, 5n, 6n, 3n, 1n, 2n]);
    expect(d.trace.strategy).toBe('cost');
    expect(d.trace.strategySource).toBe('default');
    expect(d.trace.explanation).toBe('chose acct-4: cheapest eligible (fee 38 fen), tied with acct-5 on fee, ahead on success rate');
  });

  it('success_rate: highest first; no data counts as UNKNOWN_SUCCESS_RATE_PCT', () => {
    expect(UNKNOWN_SUCCESS_RATE_PCT).toBe(98);
    const accounts = [acct(1n), acct(2n), acct(3n), acct(4n, { fee: fee(10) })];
    const h = health([[1n, 'closed', 97.9], [2n, 'closed', 98.1], [4n, 'closed', 97.9]]);
    const d = route(accounts, [rule('sr', 1, { strategy: 'success_rate' })], req({ health: h }));
    // 2 (98.1) > 3 (unknown, 98) > 4 (97.9, cheaper) > 1 (97.9).
    expect(ids(d)).toEqual([2n, 3n, 4n, 1n]);
    expect(d.trace.strategySource).toBe('rule:sr');
    expect(d.trace.explanation).toBe('chose acct-2: highest success rate among eligible (98.1%, fee 60 fen)');
    const unknownWins = route([acct(3n), acct(4n)], [rule('sr', 1, { strategy: 'success_rate' })], req({ health: h }));
    expect(unknownWins.trace.explanation).toBe('chose acct-3: highest success rate among eligible (no recent data, counted as 98%, fee 60 fen)');
  });

  it('priority: lowest number first, then fee', () => {
    const accounts = [acct(1n, { priority: 5, fee: fee(100) }), acct(2n, { priority: 1, fee: fee(100) }), acct(3n, { priority: 1, fee: fee(50) })];
    const d = route(accounts, [rule('p', 1, { strategy: 'priority' })], req());
    expect(ids(d)).toEqual([3n, 2n, 1n]);
    expect(d.trace.explanation).toBe('chose acct-3: highest priority among eligible (priority 1, fee 50 fen), tied with acct-2 on priority, ahead on fee');
  });

  it("puts the merchant's preference first, then the deciding rule's prefer list, each in its order", () => {
    const accounts = [acct(1n, { fee: fee(10) }), acct(2n), acct(3n), acct(4n), acct(5n, { status: 'disabled' })];
    const rules = [rule('r1', 1, { prefer: [4n, 3n] }), rule('r2', 2, { prefer: [1n] })];
    const d = route(accounts, rules, req({ merchantPreference: [5n, 3n, 2n] }));
    expect(ids(d)).toEqual([3n, 2n, 4n, 1n]); // 5 is preferred but disabled; 3 keeps its merchant position
    expect(d.trace.preferred).toEqual([{ id: '5', source: 'merchant' }, { id: '3', source: 'merchant' }, { id: '2', source: 'merchant' }, { id: '4', source: 'rule:r1' }]);
    expect(d.trace.explanation).toBe("chose acct-3: first in the merchant's preference (fee 60 fen), 1 candidate excluded: acct-5 disabled");
    expect(route(accounts, rules, req()).trace.explanation).toBe('chose acct-4: preferred by rule r1 (fee 60 fen), 1 candidate excluded: acct-5 disabled');
  });

  it("puts the merchant's own direct account before aggregated ones, even when dearer", () => {
    const accounts = [acct(1n, { fee: fee(20) }), acct(2n, { mode: 'direct', merchantId: M, fee: fee(60) }), acct(3n, { mode: 'direct', merchantId: 99n, fee: fee(1) })];
    const d = route(accounts, [], req());
    expect(ids(d)).toEqual([2n, 1n]);
    expect(d.trace.explanation).toBe("chose acct-2: the merchant's own direct account (fee 60 fen), 1 candidate excluded: acct-3 another merchant's direct account");
    // A preference still comes before the direct contract.
    expect(ids(route(accounts, [], req({ merchantPreference: [1n] })))).toEqual([1n, 2n]);
  });

  it('ranks half-open accounts after closed ones, even when cheaper or preferred, and probes when only they remain', () => {
    const accounts = [acct(1n, { fee: fee(10) }), acct(2n), acct(3n, { fee: fee(5) })];
    const h = health([[1n, 'half_open', 50], [2n, 'closed', 99], [3n, 'open', 0]]);
    const d = route(accounts, [], req({ health: h, merchantPreference: [1n] }));
    expect(ids(d)).toEqual([2n, 1n]);
    expect(d.trace.explanation).toBe('chose acct-2: the only eligible candidate with a closed circuit (fee 60 fen), 1 candidate excluded: acct-3 circuit open');
    const probe = route(accounts, [], req({ health: h, exclude: new Set([2n]) }));
    expect(probe.chosen?.id).toBe(1n);
    expect(probe.trace.explanation).toBe('chose acct-1: the only eligible candidate (fee 10 fen), circuit half-open so this is a probe, 2 candidates excluded: acct-2 already tried for this order, acct-3 circuit open');
    expect(probe.trace.candidates[0]!.health).toEqual({ state: 'half_open', successRatePct: 50 });
  });
});

describe('rules', () => {
  it('applies only matching rules, in priority order, accumulating excludes; the first strategy and prefer decide', () => {
    const accounts = [1n, 2n, 3n, 4n, 5n].map((id) => acct(id));
    const rules = [
      rule('late', 9, { exclude: [2n], strategy: 'priority', prefer: [5n] }),
      rule('other-merchant', 0, { exclude: [1n] }, { merchantIds: [8n] }),
      rule('big', 1, { exclude: [3n], strategy: 'success_rate' }, { minAmountMinor: 10_000n }),
      rule('small', 1, { exclude: [4n] }, { maxAmountMinor: 9_999n }),
      rule('alipay', 0, { exclude: [5n] }, { methods: ['alipay_qr'] }),
      rule('empty', 0, { exclude: [5n] }, { merchantIds: [] }),
      rule('mine', 5, { prefer: [4n] }, { merchantIds: [M], methods: ['wechat_native'], maxAmountMinor: 10_000n }),
    ];
    const d = route(accounts, rules, req());
    expect(d.trace.rulesApplied).toEqual(['big', 'mine', 'late']);
    expect(d.trace.strategy).toBe('success_rate');
    expect(ids(d)).toEqual([4n, 1n, 5n]);
    expect(reasonsOf(d, 2n)).toEqual(['excluded_by_rule']);
    expect(d.trace.candidates[1]!.reasons[0]!.message).toBe('excluded by rule late');
  });

  it('validates rules with clear messages', () => {
    const msg = (r: RoutingRule) => {
      const v = validateRoutingRule(r);
      return v.ok ? 'ok' : v.message;
    };
    expect(msg(rule('ok', 1, { prefer: [1n], exclude: [2n] }, { merchantIds: [M] }))).toBe('ok');
    expect(msg(rule(' ', 1, {}))).toBe('a routing rule needs an id');
    expect(msg(rule('r', 1.5, {}))).toBe('rule "r": priority must be an integer');
    expect(msg(rule('r', 1, {}, { methods: [] }))).toBe('rule "r": match.methods is empty and would match nothing; leave it out to match all');
    expect(msg(rule('r', 1, {}, { minAmountMinor: 2n, maxAmountMinor: 1n }))).toMatch(/must not exceed/);
    expect(msg(rule('r', 1, { prefer: [3n], exclude: [3n] }))).toBe('rule "r": account 3 is both preferred and excluded');
  });
});

describe('trace', () => {
  it('is JSON-safe, complete, and explains the choice in one sentence', () => {
    const accounts = [
      acct(11n, { code: 'wx-agg-1' }),
      acct(12n, { code: 'ali-1', provider: 'alipay', fee: { bps: 38, fixedMinor: 0n, minMinor: 0n, maxMinor: null }, maintenance: [{ kind: 'daily', start: '11:30', end: '12:30', timeZone: 'Asia/Shanghai' }] }),
      acct(13n, { code: 'bank-1', provider: 'bank', fee: { bps: 0, fixedMinor: 10n, minMinor: 0n, maxMinor: null }, perTxMaxMinor: 5_000n }),
      acct(14n, { code: 'wx-agg-2', fee: { bps: 60, fixedMinor: 1n, minMinor: 0n, maxMinor: null } }),
    ];
    const d = route(accounts, [rule('r0', 1, {}, { maxAmountMinor: 1n })], req({ usedTodayMinor: new Map([[11n, 300n]]), health: health([[11n, 'closed', 99.123]]), exclude: new Set([99n]) }));
    expect(d.trace.explanation).toBe('chose wx-agg-1: cheapest eligible (fee 60 fen), 2 candidates excluded: ali-1 in maintenance, bank-1 above per-transaction max');
    const json = JSON.parse(JSON.stringify(d.trace));
    expect(json).toEqual(d.trace);
    expect(json.request).toEqual({ merchantId: '7', method: 'wechat_native', amountMinor: '10000', currency: 'CNY', bankCode: null, at: '2026-03-10T04:00:00.000Z', exclude: ['99'], merchantPreference: [] });
    expect(json.rulesApplied).toEqual([]);
    expect(json.chosen).toBe('11');
    expect(json.candidates[0]).toEqual({ id: '11', code: 'wx-agg-1', provider: 'wechatpay', mode: 'aggregated', priority: 10, feeMinor: '60', usedTodayMinor: '300', health: { state: 'closed', successRatePct: 99.12 }, eligible: true, rank: 1, reasons: [] });
    expect(json.candidates[1].feeMinor).toBe('38');
    expect(json.candidates[3]).toMatchObject({ feeMinor: '61', eligible: true, rank: 2 });
    expect(json.candidates[2].reasons).toEqual([{ code: 'above_per_tx_max', message: 'above per-transaction max', detail: 'amount 10000 > max 5000' }]);
  });

  it('lists at most five exclusions in the explanation and names other currencies plainly', () => {
    const accounts = [acct(1n, { currencies: ['USD'] }), ...[2n, 3n, 4n, 5n, 6n, 7n].map((id) => acct(id, { status: 'disabled' }))];
    const d = route(accounts, [], req({ currency: 'USD' }));
    expect(d.trace.explanation).toBe('chose acct-1: the only eligible candidate (fee 60 USD minor units), 6 candidates excluded: acct-2 disabled, acct-3 disabled, acct-4 disabled, acct-5 disabled, acct-6 disabled, and 1 more');
  });
});
