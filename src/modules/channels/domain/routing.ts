/**
 * Channel routing: which channel account a payment attempt goes to, and in which order the others
 * are tried if it is declined. Pure: accounts, rules, daily usage, circuit health and the time all
 * come in with the call, and the answer carries a JSON-friendly trace that says why, which is
 * stored with the payment attempt.
 *
 * Steps: (1) the operator rules that match the request are applied in priority order (lower number
 * first, then id): their excludes accumulate, and the first matching rule that names a strategy
 * decides the strategy, the first that has a `prefer` list decides the preferred accounts.
 * (2) Every account is checked against every eligibility filter; an account is eligible only when
 * none objects, and each objection is a named reason in the trace. (3) The eligible are ranked by,
 * in this order:
 *   - circuit health: closed before half-open. A half-open account only gets traffic when nothing
 *     healthier is left (as a failover or when all are half-open), so probes never cost a payer who
 *     had a healthy alternative. The price is slower recovery: while healthy peers take all the
 *     traffic, a half-open account may wait for a probe until an operator resets it.
 *   - preference: the merchant's own list first, then the deciding rule's `prefer`, in list order.
 *   - the merchant's own direct account before aggregated ones.
 *   - the strategy: 'cost' (default) lowest `channelFee` for this amount, then success rate, then
 *     priority; 'success_rate' highest recent success rate, then fee, then priority; 'priority'
 *     lowest priority number, then fee, then success rate. The account id breaks any last tie.
 * An account without recent outcomes counts with UNKNOWN_SUCCESS_RATE_PCT: slightly below a perfect
 * record, so a proven account wins over an untried one, but an untried one beats a poor one.
 */
import { isValidTimeZone } from '../../../kernel/clock.js';
import { assertNever, fail, ok, type Result } from '../../../kernel/errors.js';
import type { ChannelProvider, PayMethod } from '../adapter.js';
import type { CircuitState } from './circuit-breaker.js';
import { channelFee, validateFeeSchedule, type FeeSchedule } from './fees.js';

export type MaintenanceWindow =
  /** Every day from `start` to `end` local time, [start, end); crosses midnight when end < start. */
  | { kind: 'daily'; start: string; end: string; timeZone: string }
  /** One period, [from, to). */
  | { kind: 'once'; from: Date; to: Date };

export interface ChannelAccountView {
  id: bigint;
  code: string;
  provider: ChannelProvider;
  mode: 'direct' | 'aggregated';
  /** For a direct account: the merchant whose contract it is. */
  merchantId: bigint | null;
  methods: PayMethod[];
  currencies: string[];
  fee: FeeSchedule;
  perTxMinMinor: bigint;
  perTxMaxMinor: bigint | null;
  dailyLimitMinor: bigint | null;
  /** Bank code → per-transaction max, for bank methods. Empty means no bank restriction. */
  bankLimits: Record<string, bigint>;
  maintenance: MaintenanceWindow[];
  /** Lower first. */
  priority: number;
  status: 'active' | 'disabled';
}

export type RouteStrategy = 'cost' | 'success_rate' | 'priority';

export interface RoutingRule {
  id: string;
  /** Lower applies first. */
  priority: number;
  /** Every given condition must hold; amounts are inclusive. A given but empty list matches nothing. */
  match: { merchantIds?: bigint[]; methods?: PayMethod[]; minAmountMinor?: bigint; maxAmountMinor?: bigint };
  action: { prefer?: bigint[]; exclude?: bigint[]; strategy?: RouteStrategy };
}

export type ChannelHealth = { state: CircuitState; successRatePct: number | null };

export interface RouteRequest {
  merchantId: bigint;
  method: PayMethod;
  amountMinor: bigint;
  currency: string;
  bankCode?: string;
  now: Date;
  /** Amount already routed to each account today; missing means 0. */
  usedTodayMinor: ReadonlyMap<bigint, bigint>;
  /** From the circuit breaker's snapshots; a missing account counts as closed with no data. */
  health: ReadonlyMap<bigint, ChannelHealth>;
  /** Accounts already tried for this order whose failure proved no money moved. */
  exclude: ReadonlySet<bigint>;
  merchantPreference?: bigint[];
}

/** Why an account was not eligible, in the order the filters run. */
export const INELIGIBLE_REASONS = [
  ...['disabled', 'invalid_config', 'method_not_supported', 'currency_not_supported', 'direct_account_of_other_merchant', 'below_per_tx_min', 'above_per_tx_max'],
  ...['bank_not_supported', 'bank_limit_exceeded', 'daily_limit_exceeded', 'in_maintenance', 'circuit_open', 'already_tried', 'excluded_by_rule'],
] as const;
export type IneligibleReason = (typeof INELIGIBLE_REASONS)[number];

/** `message` is the short phrase used in the explanation; `detail` has the numbers. */
export type ReasonTrace = { code: IneligibleReason; message: string; detail: string };

export interface CandidateTrace {
  id: string;
  code: string;
  provider: ChannelProvider;
  mode: 'direct' | 'aggregated';
  priority: number;
  /** This account's fee for this amount; null when its fee schedule is invalid. */
  feeMinor: string | null;
  usedTodayMinor: string;
  health: ChannelHealth;
  eligible: boolean;
  /** 1-based position among the eligible; null when not eligible. */
  rank: number | null;
  reasons: ReasonTrace[];
}

export interface RouteTrace {
  request: { merchantId: string; method: PayMethod; amountMinor: string; currency: string; bankCode: string | null; at: string; exclude: string[]; merchantPreference: string[] };
  /** Ids of the matching rules, in the order they were applied. */
  rulesApplied: string[];
  strategy: RouteStrategy;
  /** 'default' or 'rule:<id>'. */
  strategySource: string;
  /** Preferred account ids in preference order, with 'merchant' or 'rule:<id>' as source. */
  preferred: { id: string; source: string }[];
  /** Every account passed in, in input order. */
  candidates: CandidateTrace[];
  chosen: string | null;
  explanation: string;
}

export interface RouteDecision {
  chosen: ChannelAccountView | null;
  /** The eligible accounts, best first: the failover order. */
  ranked: ChannelAccountView[];
  trace: RouteTrace;
}

/** The success rate assumed for an account with no recent outcomes (100 minus a small penalty). */
export const UNKNOWN_SUCCESS_RATE_PCT = 98;

const UNKNOWN_HEALTH: ChannelHealth = { state: 'closed', successRatePct: null };
const MAX_LISTED_EXCLUSIONS = 5;

export function route(accounts: readonly ChannelAccountView[], rules: readonly RoutingRule[], req: RouteRequest): RouteDecision {
  if (req.amountMinor <= 0n) throw new Error(`route needs a positive amount, got ${req.amountMinor}`);
  if (new Set(accounts.map((a) => a.id)).size !== accounts.length) throw new Error('route got duplicate account ids');
  const applied = applyRules(rules, req);
  const preferred = preferenceOrder(req.merchantPreference ?? [], applied);
  const candidates = accounts.map((account) => evaluate(account, req, applied.excludedBy));
  const keys = rankingKeys(applied.strategy, preferred, req.merchantId);
  const eligible = candidates.filter((c) => c.reasons.length === 0).sort((x, y) => compareBy(keys, x, y).order);
  const rankOf = new Map(eligible.map((c, i) => [c.account.id, i + 1]));
  const chosen = eligible[0] ?? null;
  const { merchantId, method, amountMinor, currency, bankCode, now, exclude, merchantPreference } = req;
  const trace: RouteTrace = {
    request: { merchantId: String(merchantId), method, amountMinor: String(amountMinor), currency, bankCode: bankCode ?? null, at: now.toISOString(), exclude: [...exclude].map(String), merchantPreference: (merchantPreference ?? []).map(String) },
    rulesApplied: applied.ruleIds,
    strategy: applied.strategy,
    strategySource: applied.strategySource,
    preferred: [...preferred].map(([id, p]) => ({ id: String(id), source: p.source })),
    candidates: candidates.map(({ account: a, feeMinor, health, reasons }) => ({
      id: String(a.id), code: a.code, provider: a.provider, mode: a.mode, priority: a.priority,
      feeMinor: feeMinor === null ? null : String(feeMinor), usedTodayMinor: String(req.usedTodayMinor.get(a.id) ?? 0n),
      health: { state: health.state, successRatePct: health.successRatePct === null ? null : round2(health.successRatePct) },
      eligible: reasons.length === 0, rank: rankOf.get(a.id) ?? null, reasons,
    })),
    chosen: chosen === null ? null : String(chosen.account.id),
    explanation: explain(eligible, candidates, keys, applied.strategy, preferred, req.currency),
  };
  return { chosen: chosen?.account ?? null, ranked: eligible.map((c) => c.account), trace };
}

/** Whether `now` falls in the window. Throws on an invalid window; see validateMaintenanceWindow. */
export function inMaintenance(w: MaintenanceWindow, now: Date): boolean {
  switch (w.kind) {
    case 'once':
      return now.getTime() >= w.from.getTime() && now.getTime() < w.to.getTime();
    case 'daily': {
      const start = minutesOf(w.start);
      const end = minutesOf(w.end);
      if (start === null || end === null) throw new Error(`maintenance window times must be HH:MM, got ${w.start}–${w.end}`);
      const t = localMinutes(now, w.timeZone);
      return start <= end ? t >= start && t < end : t >= start || t < end;
    }
    default:
      return assertNever(w, 'maintenance window');
  }
}

export function validateMaintenanceWindow(w: MaintenanceWindow): Result<MaintenanceWindow, 'invalid_maintenance_window'> {
  const problem = maintenanceProblem(w);
  return problem === null ? ok(w) : fail('invalid_maintenance_window', problem);
}

function maintenanceProblem(w: MaintenanceWindow): string | null {
  switch (w.kind) {
    case 'once':
      if (Number.isNaN(w.from.getTime()) || Number.isNaN(w.to.getTime())) return 'maintenance window times must be valid dates';
      return w.to.getTime() > w.from.getTime() ? null : 'a one-off maintenance window must end after it starts';
    case 'daily': {
      const start = minutesOf(w.start);
      const end = minutesOf(w.end);
      if (start === null || end === null) return `daily maintenance times must be HH:MM (00:00–23:59), got ${w.start}–${w.end}`;
      if (start === end) return 'a daily maintenance window must not start and end at the same time (disable the account instead)';
      return isValidTimeZone(w.timeZone) ? null : `unknown time zone ${JSON.stringify(w.timeZone)}`;
    }
    default:
      return assertNever(w, 'maintenance window');
  }
}

/** Checks an operator's rule before it is saved. */
export function validateRoutingRule(r: RoutingRule): Result<RoutingRule, 'invalid_routing_rule'> {
  const bad = (message: string) => fail('invalid_routing_rule', `rule ${JSON.stringify(r.id)}: ${message}`);
  if (r.id.trim() === '') return fail('invalid_routing_rule', 'a routing rule needs an id');
  if (!Number.isSafeInteger(r.priority)) return bad('priority must be an integer');
  for (const key of ['merchantIds', 'methods'] as const) {
    if (r.match[key]?.length === 0) return bad(`match.${key} is empty and would match nothing; leave it out to match all`);
  }
  const { minAmountMinor: min, maxAmountMinor: max } = r.match;
  if (min !== undefined && max !== undefined && min > max) return bad('match.minAmountMinor must not exceed match.maxAmountMinor');
  const excluded = new Set(r.action.exclude ?? []);
  const both = (r.action.prefer ?? []).find((id) => excluded.has(id));
  if (both !== undefined) return bad(`account ${both} is both preferred and excluded`);
  return ok(r);
}

// ---- rules and preferences ----

interface AppliedRules {
  ruleIds: string[];
  excludedBy: Map<bigint, string[]>;
  strategy: RouteStrategy;
  strategySource: string;
  prefer: bigint[];
  preferSource: string;
}

function applyRules(rules: readonly RoutingRule[], req: RouteRequest): AppliedRules {
  const out: AppliedRules = { ruleIds: [], excludedBy: new Map(), strategy: 'cost', strategySource: 'default', prefer: [], preferSource: '' };
  let strategyDecided = false;
  let preferDecided = false;
  const ordered = [...rules].sort((a, b) => cmpNum(a.priority, b.priority) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of ordered) {
    if (!ruleMatches(r, req)) continue;
    out.ruleIds.push(r.id);
    for (const id of r.action.exclude ?? []) out.excludedBy.set(id, [...(out.excludedBy.get(id) ?? []), r.id]);
    if (!strategyDecided && r.action.strategy !== undefined) {
      strategyDecided = true;
      out.strategy = r.action.strategy;
      out.strategySource = `rule:${r.id}`;
    }
    if (!preferDecided && r.action.prefer !== undefined) {
      preferDecided = true;
      out.prefer = r.action.prefer;
      out.preferSource = `rule:${r.id}`;
    }
  }
  return out;
}

function ruleMatches(r: RoutingRule, req: RouteRequest): boolean {
  const m = r.match;
  if (m.merchantIds !== undefined && !m.merchantIds.includes(req.merchantId)) return false;
  if (m.methods !== undefined && !m.methods.includes(req.method)) return false;
  if (m.minAmountMinor !== undefined && req.amountMinor < m.minAmountMinor) return false;
  if (m.maxAmountMinor !== undefined && req.amountMinor > m.maxAmountMinor) return false;
  return true;
}

type Preferred = Map<bigint, { rank: number; source: string }>;

/** The merchant's list, then the deciding rule's; an id keeps its first position. */
function preferenceOrder(merchant: readonly bigint[], applied: AppliedRules): Preferred {
  const out: Preferred = new Map();
  for (const id of merchant) if (!out.has(id)) out.set(id, { rank: out.size, source: 'merchant' });
  for (const id of applied.prefer) if (!out.has(id)) out.set(id, { rank: out.size, source: applied.preferSource });
  return out;
}

// ---- eligibility ----

interface Candidate {
  account: ChannelAccountView;
  feeMinor: bigint | null;
  health: ChannelHealth;
  reasons: ReasonTrace[];
}

function evaluate(a: ChannelAccountView, req: RouteRequest, excludedBy: Map<bigint, string[]>): Candidate {
  const reasons: ReasonTrace[] = [];
  const no = (code: IneligibleReason, message: string, detail: string = message) => reasons.push({ code, message, detail });
  const amount = req.amountMinor;
  if (a.status === 'disabled') no('disabled', 'disabled');
  const feeCheck = validateFeeSchedule(a.fee);
  if (!feeCheck.ok) no('invalid_config', 'misconfigured', `fee schedule: ${feeCheck.message}`);
  if (!a.methods.includes(req.method)) no('method_not_supported', `does not support ${req.method}`);
  if (!a.currencies.includes(req.currency)) no('currency_not_supported', `does not support ${req.currency}`);
  if (a.mode === 'direct' && a.merchantId !== req.merchantId) {
    no('direct_account_of_other_merchant', "another merchant's direct account", `direct account of merchant ${String(a.merchantId)}`);
  }
  if (amount < a.perTxMinMinor) no('below_per_tx_min', 'below per-transaction min', `amount ${amount} < min ${a.perTxMinMinor}`);
  if (a.perTxMaxMinor !== null && amount > a.perTxMaxMinor) no('above_per_tx_max', 'above per-transaction max', `amount ${amount} > max ${a.perTxMaxMinor}`);
  bankChecks(a, req, no);
  const used = req.usedTodayMinor.get(a.id) ?? 0n;
  if (a.dailyLimitMinor !== null && used + amount > a.dailyLimitMinor) {
    no('daily_limit_exceeded', 'daily limit would be exceeded', `used today ${used} + amount ${amount} > daily limit ${a.dailyLimitMinor}`);
  }
  for (const w of a.maintenance) {
    const valid = validateMaintenanceWindow(w);
    if (!valid.ok) no('invalid_config', 'misconfigured', valid.message);
    else if (inMaintenance(w, req.now)) no('in_maintenance', 'in maintenance', `in maintenance window ${describeWindow(w)}`);
  }
  const health = req.health.get(a.id) ?? UNKNOWN_HEALTH;
  if (health.state === 'open') no('circuit_open', 'circuit open');
  if (req.exclude.has(a.id)) no('already_tried', 'already tried for this order', 'already tried for this order; its failure proved no money moved');
  for (const ruleId of excludedBy.get(a.id) ?? []) no('excluded_by_rule', `excluded by rule ${ruleId}`);
  return { account: a, feeMinor: feeCheck.ok ? channelFee(a.fee, amount) : null, health, reasons };
}

/** Bank limits apply to bank methods when the account lists any and the request names a bank. */
function bankChecks(a: ChannelAccountView, req: RouteRequest, no: (code: IneligibleReason, message: string, detail?: string) => void): void {
  if (!IS_BANK_METHOD[req.method] || req.bankCode === undefined || Object.keys(a.bankLimits).length === 0) return;
  const limit = Object.hasOwn(a.bankLimits, req.bankCode) ? a.bankLimits[req.bankCode] : undefined;
  if (limit === undefined) no('bank_not_supported', `does not support bank ${req.bankCode}`);
  else if (req.amountMinor > limit) no('bank_limit_exceeded', `above the ${req.bankCode} bank limit`, `amount ${req.amountMinor} > ${req.bankCode} limit ${limit}`);
}

/** A Record over the union, so a new method fails to compile until it is decided here. */
const IS_BANK_METHOD: Record<PayMethod, boolean> = {
  wechat_native: false,
  wechat_jsapi: false,
  alipay_qr: false,
  alipay_page: false,
  unionpay_qr: false,
  bank_quick: true,
  bank_gateway: true,
};

// ---- ranking ----

type KeyName = 'health' | 'preference' | 'direct' | 'fee' | 'success_rate' | 'priority' | 'id';
type RankingKey = { name: KeyName; cmp: (x: Candidate, y: Candidate) => number };

function rankingKeys(strategy: RouteStrategy, preferred: Preferred, merchantId: bigint): RankingKey[] {
  const all: Record<KeyName, RankingKey['cmp']> = {
    health: (x, y) => cmpNum(healthTier(x), healthTier(y)),
    preference: (x, y) => cmpNum(preferred.get(x.account.id)?.rank ?? Infinity, preferred.get(y.account.id)?.rank ?? Infinity),
    direct: (x, y) => cmpNum(ownDirect(x, merchantId), ownDirect(y, merchantId)),
    fee: (x, y) => cmpBig(x.feeMinor ?? 0n, y.feeMinor ?? 0n),
    success_rate: (x, y) => cmpNum(effectiveRate(y), effectiveRate(x)),
    priority: (x, y) => cmpNum(x.account.priority, y.account.priority),
    id: (x, y) => cmpBig(x.account.id, y.account.id),
  };
  return (['health', 'preference', 'direct', ...STRATEGY_KEYS[strategy], 'id'] as KeyName[]).map((name) => ({ name, cmp: all[name] }));
}

const STRATEGY_KEYS: Record<RouteStrategy, KeyName[]> = {
  cost: ['fee', 'success_rate', 'priority'],
  success_rate: ['success_rate', 'fee', 'priority'],
  priority: ['priority', 'fee', 'success_rate'],
};

/** The order of two candidates, and the first key that told them apart. */
function compareBy(keys: RankingKey[], x: Candidate, y: Candidate): { order: number; key: KeyName | null } {
  for (const k of keys) {
    const c = k.cmp(x, y);
    if (c !== 0) return { order: c, key: k.name };
  }
  return { order: 0, key: null };
}

const healthTier = (c: Candidate): number => (c.health.state === 'closed' ? 0 : 1);
const ownDirect = (c: Candidate, merchantId: bigint): number => (c.account.mode === 'direct' && c.account.merchantId === merchantId ? 0 : 1);
const effectiveRate = (c: Candidate): number => c.health.successRatePct ?? UNKNOWN_SUCCESS_RATE_PCT;

// ---- explanation ----

function explain(eligible: Candidate[], all: Candidate[], keys: RankingKey[], strategy: RouteStrategy, preferred: Preferred, currency: string): string {
  const excluded = all.filter((c) => c.reasons.length > 0);
  const listed = excluded.slice(0, MAX_LISTED_EXCLUSIONS).map((c) => `${c.account.code} ${c.reasons[0]!.message}`);
  if (excluded.length > MAX_LISTED_EXCLUSIONS) listed.push(`and ${excluded.length - MAX_LISTED_EXCLUSIONS} more`);
  const exclusions = excluded.length === 0 ? '' : `, ${excluded.length} candidate${excluded.length === 1 ? '' : 's'} excluded: ${listed.join(', ')}`;
  const top = eligible[0];
  if (top === undefined) {
    return all.length === 0 ? 'no eligible channel account: no channel accounts were given' : `no eligible channel account${exclusions}`;
  }
  const fee = `fee ${feeText(top.feeMinor ?? 0n, currency)}`;
  const second = eligible[1];
  let why: string;
  const decidedBy = second === undefined ? null : compareBy(keys, top, second).key;
  if (second === undefined) why = `the only eligible candidate (${fee})`;
  else if (decidedBy === 'health') why = `the only eligible candidate with a closed circuit (${fee})`;
  else if (decidedBy === 'preference') {
    const source = preferred.get(top.account.id)?.source ?? '';
    why = `${source === 'merchant' ? "first in the merchant's preference" : `preferred by ${source.replace('rule:', 'rule ')}`} (${fee})`;
  } else if (decidedBy === 'direct') why = `the merchant's own direct account (${fee})`;
  else {
    why = strategyPhrase(strategy, top, fee);
    const order = STRATEGY_KEYS[strategy];
    const tied = order.slice(0, decidedBy === 'id' ? order.length : order.indexOf(decidedBy as KeyName));
    if (tied.length > 0) why += `, tied with ${second.account.code} on ${tied.map(keyPhrase).join(' and ')}, ahead on ${keyPhrase(decidedBy)}`;
  }
  if (top.health.state === 'half_open') why += ', circuit half-open so this is a probe';
  return `chose ${top.account.code}: ${why}${exclusions}`;
}

function strategyPhrase(strategy: RouteStrategy, top: Candidate, fee: string): string {
  switch (strategy) {
    case 'cost':
      return `cheapest eligible (${fee})`;
    case 'success_rate': {
      const rate = top.health.successRatePct;
      return `highest success rate among eligible (${rate === null ? `no recent data, counted as ${UNKNOWN_SUCCESS_RATE_PCT}` : round2(rate)}%, ${fee})`;
    }
    case 'priority':
      return `highest priority among eligible (priority ${top.account.priority}, ${fee})`;
    default:
      return assertNever(strategy, 'routing strategy');
  }
}

const keyPhrase = (key: KeyName | null): string => (key === 'success_rate' ? 'success rate' : key === 'fee' || key === 'priority' ? key : 'account id');

function feeText(feeMinor: bigint, currency: string): string {
  return currency === 'CNY' ? `${feeMinor} fen` : `${feeMinor} ${currency} minor units`;
}

function describeWindow(w: MaintenanceWindow): string {
  return w.kind === 'daily' ? `daily ${w.start}–${w.end} ${w.timeZone}` : `${w.from.toISOString()}–${w.to.toISOString()}`;
}

// ---- time of day ----

const timeFormatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight in the time zone; throws RangeError on an unknown zone. */
function localMinutes(at: Date, timeZone: string): number {
  let f = timeFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    timeFormatters.set(timeZone, f);
  }
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(at)) {
    if (p.type === 'hour') hour = Number(p.value) % 24;
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return hour * 60 + minute;
}

function minutesOf(hhmm: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

const cmpNum = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);
const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
const round2 = (x: number): number => Math.round(x * 100) / 100;
