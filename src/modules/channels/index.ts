/**
 * The channels module's public surface: channel accounts (直连 / 间连) with their fees, limits and
 * maintenance windows; operator routing rules; routing decisions with health (circuit breakers)
 * and a stored explanation; and every call to a provider, made through its pure adapter and the
 * one request sender. A provider call that gets no verifiable answer is reported as `unknown`,
 * never guessed (DESIGN.md §4).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../kernel/clock.js';
import type { Pool } from '../../kernel/db.js';
import { fail, ok, type Result } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { checkCurrency, MAX_AMOUNT_MINOR } from '../../kernel/money.js';
import type { MasterKey } from '../../kernel/secret.js';
import { isStorableText } from '../../kernel/text.js';
import type { Ledger } from '../ledger/index.js';
import type { Parties } from '../parties/index.js';
import {
  PAY_METHODS,
  type CallContext,
  type ChannelAdapter,
  type ChannelProvider,
  type CloseResult,
  type HttpRequestSpec,
  type HttpResponseData,
  type NotificationResult,
  type PayMethod,
  type PayRequest,
  type PayResult,
  type QueryResult,
  type RefundQueryResult,
  type RefundRequest,
  type RefundResult,
  type StatementResult,
} from './adapter.js';
import * as store from './channels.store.js';
import { CircuitBreaker } from './domain/circuit-breaker.js';
import { channelFee, validateFeeSchedule, type FeeSchedule } from './domain/fees.js';
import { route, type MaintenanceWindow, type RouteDecision, type RoutingRule } from './domain/routing.js';
import type { ChannelsErrorCode } from './errors.js';
import { sendChannelRequest } from './http-exec.js';
import { ADAPTERS, RECEIVABLE_SUBJECT } from './registry.js';

export type { ChannelAccountRow } from './channels.store.js';
export type { ChannelsErrorCode } from './errors.js';
export type { RouteDecision, RoutingRule, MaintenanceWindow } from './domain/routing.js';
export type { ChannelEvent, PayMethod, PayResult, PayAction, ChannelProvider } from './adapter.js';
export { PAY_METHODS } from './adapter.js';
export { channelFee, refundFeeShare, type FeeSchedule } from './domain/fees.js';

export type ChannelsResult<T> = Result<T, ChannelsErrorCode>;

export interface ChannelsDeps {
  pool: Pool;
  clock: Clock;
  nextId: () => bigint;
  ledger: Ledger;
  parties: Parties;
  masterKey: MasterKey;
  log?: Logger;
  /** Per provider call; an answer that takes longer is treated as lost (outcome unknown). */
  requestTimeoutMs?: number;
  breaker?: ConstructorParameters<typeof CircuitBreaker>[0];
}

export interface CreateChannelAccountInput {
  code: string;
  provider: ChannelProvider;
  mode: 'direct' | 'aggregated';
  merchantId?: bigint;
  /** The provider's credentials and base URL, as its adapter's parseConfig expects. Stored sealed. */
  config: unknown;
  methods: PayMethod[];
  currencies?: string[];
  fee?: Partial<FeeSchedule>;
  perTxMinMinor?: bigint;
  perTxMaxMinor?: bigint | null;
  dailyLimitMinor?: bigint | null;
  bankLimits?: Record<string, bigint>;
  maintenance?: MaintenanceWindow[];
  priority?: number;
}

interface Loaded {
  row: store.ChannelAccountRow;
  adapter: ChannelAdapter<unknown>;
  config: unknown;
}

const CODE_RE = /^[A-Za-z0-9_.-]{1,40}$/;

export class Channels {
  private readonly loaded = new Map<bigint, Loaded>();
  private rulesCache: { at: number; rules: RoutingRule[] } | undefined;
  readonly breaker: CircuitBreaker;

  constructor(private readonly deps: ChannelsDeps) {
    this.breaker = new CircuitBreaker(deps.breaker);
  }

  // ---- accounts ---------------------------------------------------------------------------------

  async createAccount(inp: CreateChannelAccountInput): Promise<ChannelsResult<{ account: store.ChannelAccountRow; created: boolean }>> {
    const bad = (m: string) => fail('invalid_channel_account' as const, m);
    if (!CODE_RE.test(inp.code)) return bad('code must be 1-40 letters, digits, _ . or -');
    const adapter = ADAPTERS[inp.provider];
    if (!adapter) return bad(`unknown provider ${String(inp.provider)}`);
    if (inp.mode !== 'direct' && inp.mode !== 'aggregated') return bad('mode is direct or aggregated');
    if (inp.mode === 'direct' && inp.merchantId === undefined) return bad('a direct (直连) account belongs to one merchant: give merchant_id');
    if (inp.merchantId !== undefined && !(await this.deps.parties.merchantPayee({ merchantId: inp.merchantId })).ok) return fail('merchant_not_found', `merchant ${inp.merchantId} does not exist`);
    if (inp.methods.length === 0 || inp.methods.some((m) => !adapter.methods.includes(m))) {
      return fail('unsupported_method', `${inp.provider} supports ${adapter.methods.join(', ')}`);
    }
    const currencies = inp.currencies ?? ['CNY'];
    if (currencies.some((c) => !checkCurrency(c).ok)) return bad('unknown currency');
    const fee: FeeSchedule = { bps: inp.fee?.bps ?? 0, fixedMinor: inp.fee?.fixedMinor ?? 0n, minMinor: inp.fee?.minMinor ?? 0n, maxMinor: inp.fee?.maxMinor ?? null };
    const feeCheck = validateFeeSchedule(fee);
    if (!feeCheck.ok) return bad(feeCheck.message);
    const perTxMin = inp.perTxMinMinor ?? 1n;
    const perTxMax = inp.perTxMaxMinor ?? null;
    if (perTxMin < 1n || (perTxMax !== null && (perTxMax < perTxMin || perTxMax > MAX_AMOUNT_MINOR))) return bad('per-transaction limits: 1 <= min <= max');
    if (inp.dailyLimitMinor !== undefined && inp.dailyLimitMinor !== null && inp.dailyLimitMinor <= 0n) return bad('daily_limit must be positive');
    const parsed = adapter.parseConfig(inp.config);
    if (!parsed.ok) return fail('invalid_channel_config', parsed.message);
    const configJson = JSON.stringify(inp.config);
    if (!isStorableText(configJson)) return fail('invalid_channel_config', 'the configuration holds text PostgreSQL cannot store');
    const id = this.deps.nextId();
    const receivable = await this.deps.ledger.createAccount({ ref: `channel:${inp.code}:receivable`, type: 'asset', currency: currencies[0]!, subjectCode: RECEIVABLE_SUBJECT[inp.provider], name: `receivable from ${inp.code}` });
    const cost = await this.deps.ledger.createAccount({ ref: `channel:${inp.code}:cost`, type: 'expense', currency: currencies[0]!, subjectCode: '640101', name: `channel cost ${inp.code}` });
    if (!receivable.ok || !cost.ok) return bad(`ledger accounts: ${!receivable.ok ? receivable.message : !cost.ok ? cost.message : ''}`);
    const now = this.deps.clock.now();
    const row: store.ChannelAccountRow = {
      id, code: inp.code, provider: inp.provider, mode: inp.mode, merchantId: inp.merchantId ?? null,
      configSealed: this.deps.masterKey.seal(configJson, `channel-config:${inp.code}`),
      methods: inp.methods, currencies, fee, perTxMinMinor: perTxMin, perTxMaxMinor: perTxMax, dailyLimitMinor: inp.dailyLimitMinor ?? null,
      bankLimits: inp.bankLimits ?? {}, maintenance: inp.maintenance ?? [], priority: inp.priority ?? 100, status: 'active',
      receivableAccountId: receivable.value.account.id, costAccountId: cost.value.account.id, createdAt: now, updatedAt: now,
    };
    const { account, inserted } = await store.insertAccount(this.deps.pool, row);
    if (!inserted && (account.provider !== row.provider || account.mode !== row.mode || account.merchantId !== row.merchantId)) {
      return fail('channel_account_exists_with_different_fields', `a channel account ${inp.code} already exists with different fields`);
    }
    return ok({ account, created: inserted });
  }

  async getAccount(id: bigint): Promise<ChannelsResult<store.ChannelAccountRow>> {
    const a = await store.getAccount(this.deps.pool, id);
    return a ? ok(a) : fail('channel_account_not_found', `channel account ${id} does not exist`);
  }

  listAccounts(): Promise<store.ChannelAccountRow[]> {
    return store.listAccounts(this.deps.pool);
  }

  async setAccountStatus(id: bigint, status: 'active' | 'disabled'): Promise<ChannelsResult<store.ChannelAccountRow>> {
    const a = await store.setStatus(this.deps.pool, id, status, this.deps.clock.now());
    this.loaded.delete(id);
    return a ? ok(a) : fail('channel_account_not_found', `channel account ${id} does not exist`);
  }

  async setMaintenance(id: bigint, windows: MaintenanceWindow[]): Promise<ChannelsResult<store.ChannelAccountRow>> {
    const a = await store.setMaintenance(this.deps.pool, id, windows, this.deps.clock.now());
    this.loaded.delete(id);
    return a ? ok(a) : fail('channel_account_not_found', `channel account ${id} does not exist`);
  }

  // ---- routing ----------------------------------------------------------------------------------

  async setRule(rule: RoutingRule): Promise<ChannelsResult<RoutingRule>> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(rule.id)) return fail('invalid_routing_rule', 'id must be 1-64 letters, digits, _ . or -');
    if (!Number.isInteger(rule.priority)) return fail('invalid_routing_rule', 'priority must be an integer');
    if (rule.match.methods?.some((m) => !PAY_METHODS.includes(m))) return fail('invalid_routing_rule', 'unknown method in match.methods');
    await store.upsertRule(this.deps.pool, rule, this.deps.clock.now());
    this.rulesCache = undefined;
    return ok(rule);
  }

  async deleteRule(id: string): Promise<ChannelsResult<true>> {
    const done = await store.deleteRule(this.deps.pool, id);
    this.rulesCache = undefined;
    return done ? ok(true) : fail('routing_rule_not_found', `no routing rule ${id}`);
  }

  listRules(): Promise<RoutingRule[]> {
    return store.listRules(this.deps.pool);
  }

  /**
   * Picks a channel account for one payment attempt (see domain/routing.ts). The caller supplies
   * what only it knows: today's volume per account and the accounts already tried for the order.
   */
  async route(req: { merchantId: bigint; method: PayMethod; amountMinor: bigint; currency: string; bankCode?: string; usedTodayMinor: ReadonlyMap<bigint, bigint>; exclude: ReadonlySet<bigint>; merchantPreference?: bigint[] }): Promise<RouteDecision> {
    const now = this.deps.clock.now();
    const accounts = await store.listAccounts(this.deps.pool);
    const nowMs = now.getTime();
    const health = new Map(accounts.map((a) => {
      const s = this.breaker.snapshot(a.id, nowMs);
      return [a.id, { state: s.state, successRatePct: s.requests > 0 ? s.successRatePct : null }] as const;
    }));
    const rules = await this.rules();
    return route(accounts, rules, { ...req, now, health });
  }

  private async rules(): Promise<RoutingRule[]> {
    const now = Date.now();
    if (this.rulesCache && now - this.rulesCache.at < 2_000) return this.rulesCache.rules;
    const rules = await store.listRules(this.deps.pool);
    this.rulesCache = { at: now, rules };
    return rules;
  }

  /** The fee the channel charges us for this amount (our cost). */
  async costOf(accountId: bigint, amountMinor: bigint): Promise<bigint> {
    const a = await this.load(accountId);
    return channelFee(a.row.fee, amountMinor);
  }

  // ---- provider calls -----------------------------------------------------------------------------

  private async load(accountId: bigint): Promise<Loaded> {
    const have = this.loaded.get(accountId);
    if (have) return have;
    const row = await store.getAccount(this.deps.pool, accountId);
    if (!row) throw new Error(`channel account ${accountId} does not exist`);
    const adapter = ADAPTERS[row.provider];
    const raw = JSON.parse(this.deps.masterKey.open(row.configSealed, `channel-config:${row.code}`).toString('utf8')) as unknown;
    const parsed = adapter.parseConfig(raw);
    if (!parsed.ok) throw new Error(`stored configuration of channel account ${row.code} no longer parses: ${parsed.message}`);
    const l = { row, adapter, config: parsed.config };
    this.loaded.set(accountId, l);
    return l;
  }

  private cx(): CallContext {
    return { now: this.deps.clock.now(), nonce: randomBytes(16).toString('hex') };
  }

  /**
   * One request/answer exchange. A lost answer or an adapter that cannot make sense of it is
   * `undefined` (the caller's outcome is unknown) and counts against the account's health.
   */
  private async exchange<T>(l: Loaded, build: (cx: CallContext) => HttpRequestSpec, parse: (res: HttpResponseData, cx: CallContext) => T, health: (r: T) => 'success' | 'failure' | 'none'): Promise<T | { lost: string }> {
    const cx = this.cx();
    const spec = build(cx);
    const sent = await sendChannelRequest(spec, { timeoutMs: this.deps.requestTimeoutMs ?? 10_000 });
    const nowMs = this.deps.clock.now().getTime();
    if (!sent.ok) {
      // Waiting for one of our own connections says nothing about the channel's health.
      if (!sent.queued) this.breaker.record(l.row.id, 'failure', nowMs);
      return { lost: sent.reason };
    }
    let r: T;
    try {
      r = parse(sent.response, this.cx());
    } catch (e) {
      this.deps.log?.error({ account: l.row.code, err: (e as Error).message }, 'channel adapter failed to parse an answer');
      this.breaker.record(l.row.id, 'failure', nowMs);
      return { lost: `unreadable answer: ${(e as Error).message}` };
    }
    const h = health(r);
    if (h !== 'none') this.breaker.record(l.row.id, h, nowMs);
    return r;
  }

  private static byKind(r: { kind: string }): 'success' | 'failure' | 'none' {
    return r.kind === 'unknown' ? 'failure' : r.kind === 'declined' ? 'none' : 'success';
  }

  async pay(accountId: bigint, req: PayRequest): Promise<PayResult> {
    const l = await this.load(accountId);
    const r = await this.exchange(l, (cx) => l.adapter.buildPay(l.config, req, cx), (res, cx) => l.adapter.parsePay(l.config, req, res, cx), Channels.byKind);
    return 'lost' in r ? { kind: 'unknown', reason: r.lost } : r;
  }

  async confirm(accountId: bigint, req: { outTradeNo: string; smsCode: string }): Promise<PayResult> {
    const l = await this.load(accountId);
    if (!l.adapter.buildConfirm || !l.adapter.parseConfirm) return { kind: 'declined', code: 'confirm_not_supported', message: `${l.row.provider} has no confirmation step`, retryable: false };
    const build = l.adapter.buildConfirm.bind(l.adapter);
    const parse = l.adapter.parseConfirm.bind(l.adapter);
    const r = await this.exchange(l, (cx) => build(l.config, req, cx), (res, cx) => parse(l.config, res, cx), Channels.byKind);
    return 'lost' in r ? { kind: 'unknown', reason: r.lost } : r;
  }

  async query(accountId: bigint, outTradeNo: string): Promise<QueryResult> {
    const l = await this.load(accountId);
    const r = await this.exchange(l, (cx) => l.adapter.buildQuery(l.config, { outTradeNo }, cx), (res, cx) => l.adapter.parseQuery(l.config, res, cx), Channels.byKind);
    return 'lost' in r ? { kind: 'unknown', reason: r.lost } : r;
  }

  async close(accountId: bigint, outTradeNo: string): Promise<CloseResult> {
    const l = await this.load(accountId);
    const r = await this.exchange(l, (cx) => l.adapter.buildClose(l.config, { outTradeNo }, cx), (res, cx) => l.adapter.parseClose(l.config, res, cx), Channels.byKind);
    return 'lost' in r ? { kind: 'unknown', reason: r.lost } : r;
  }

  async refund(accountId: bigint, req: RefundRequest): Promise<RefundResult> {
    const l = await this.load(accountId);
    const r = await this.exchange(l, (cx) => l.adapter.buildRefund(l.config, req, cx), (res, cx) => l.adapter.parseRefund(l.config, res, cx), Channels.byKind);
    return 'lost' in r ? { kind: 'unknown', reason: r.lost } : r;
  }

  async refundQuery(accountId: bigint, req: { outTradeNo: string; outRefundNo: string }): Promise<RefundQueryResult> {
    const l = await this.load(accountId);
    const r = await this.exchange(l, (cx) => l.adapter.buildRefundQuery(l.config, req, cx), (res, cx) => l.adapter.parseRefundQuery(l.config, res, cx), Channels.byKind);
    return 'lost' in r ? { kind: 'unknown', reason: r.lost } : r;
  }

  async verifyNotification(accountId: bigint, req: { headers: Record<string, string>; body: string }): Promise<NotificationResult> {
    const l = await this.load(accountId);
    return l.adapter.verifyNotification(l.config, req, this.cx());
  }

  /** Downloads and parses a provider's statement for a business date, following its hops. */
  async statement(accountId: bigint, date: string): Promise<StatementResult> {
    const l = await this.load(accountId);
    let spec = l.adapter.buildStatement(l.config, { date }, this.cx());
    for (let hop = 0; hop < 4; hop++) {
      const sent = await sendChannelRequest(spec, { timeoutMs: this.deps.requestTimeoutMs ?? 30_000 });
      if (!sent.ok) return { kind: 'unknown', reason: sent.reason };
      const r = l.adapter.parseStatement(l.config, sent.response, this.cx());
      if (r.kind !== 'next') return r;
      spec = r.request;
    }
    return { kind: 'unknown', reason: 'too many statement download hops' };
  }
}
