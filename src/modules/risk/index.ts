/**
 * The real-time risk engine (风控): the live rule set version (hot-swapped by reference: a decision
 * uses one version from start to end), an optional shadow version decided beside it and logged
 * only, the lists, the velocity store, merchant circuit breakers, cases, and the decision log.
 *
 * The decision path touches no database: rule sets, lists and breakers are in memory and follow the
 * database (changes made here apply at once; other processes pick them up within `pollMs`). The
 * log of decisions is written behind them in batches (at most ~200 ms of it is lost in a crash);
 * what must not be lost — a case, a breaker trip — is written before the answer.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../kernel/clock.js';
import { isDataError, withTx, type Pool } from '../../kernel/db.js';
import { fail, ok, type Result } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { baseContext, decide, observationsFor, observeInMemory, type Decision, type RiskEvent } from './domain/engine.js';
import { AccountGraph, LINK_ENTITIES } from './domain/graph.js';
import { ListIndex } from './domain/lists.js';
import { compileRuleSet, ENTITIES, LIST_KINDS, parseDuration, RuleSetError, type CompiledRuleSet, type CompiledVelocity, type Entity, type ListKind } from './domain/ruleset.js';
import { LATE_GRACE_MS, MemoryVelocityStore, type Observation, type VelocityStore } from './domain/velocity.js';
import * as store from './risk.store.js';

export { compileRuleSet, RuleSetError, type CompiledRuleSet, type RuleSetDoc } from './domain/ruleset.js';
export type { Decision, RiskEvent } from './domain/engine.js';
export { MemoryVelocityStore, type VelocityStore } from './domain/velocity.js';
export { DEFAULT_RULE_PACK } from './default-pack.js';
export type { BreakerRow, CaseRow, DecisionRow, ListEntryRow, RuleSetRow } from './risk.store.js';

export type RiskErrorCode =
  | 'invalid_rule_set' | 'rule_set_not_found' | 'rule_set_retired' | 'invalid_list_entry' | 'list_entry_not_found'
  | 'case_not_found' | 'case_already_decided' | 'breaker_not_tripped' | 'invalid_backtest' | 'rule_set_is_live';
export type RiskResult<T> = Result<T, RiskErrorCode>;

export interface RiskDeps {
  pool: Pool;
  clock: Clock;
  nextId: () => bigint;
  log?: Logger;
  /** Default: in memory (one process). Several processes share a Redis store. */
  velocity?: VelocityStore;
  /** How often other processes' changes (versions, lists, breakers) are picked up. Default 1 s. */
  pollMs?: number;
}

export interface RiskAnswer extends Decision {
  decisionId: bigint;
  /** The rule set version that decided (0: none is active; everything is accepted). */
  version: number;
  latencyUs: number;
  caseId: bigint | null;
  shadow: { version: number; action: Decision['action']; rule: string | null } | null;
}

/** What a `review` case stands for, so that its decision can be carried out. */
export interface CaseSubject {
  kind: string;
  id: string;
}

type Loaded = { version: number; set: CompiledRuleSet };

const EMPTY_VELOCITY: number[] = [];
/** A released breaker is not tripped again by the score for this long unless the rule set says otherwise. */
const DEFAULT_REARM_MS = 3_600_000;
/** The longest re-arm period a rule set can set (parseDuration's bound). */
const MAX_REARM_MS = 31 * 86_400_000;
/** Decisions kept for the log while the database cannot take them; older ones are dropped (and counted in the error log). */
const MAX_LOG_BACKLOG = 100_000;
/** Graph edges and money flows kept while the database cannot take them. */
const MAX_GRAPH_BACKLOG = 1_000_000;

/** A local change; after a poll, with the sequence number of each list entry the poll read. */
type LocalChange = (polled: Map<string, bigint> | undefined) => void;

const listKey = (list: string, entity: string, value: string): string => `${list}\u0001${entity}\u0001${value}`;

/** The poll read a later change of this list entry than the local one (made elsewhere since). */
function newerElsewhere(polled: Map<string, bigint> | undefined, e: { list: string; entity: string; value: string; seq: bigint }): boolean {
  const seq = polled?.get(listKey(e.list, e.entity, e.value));
  return seq !== undefined && seq > e.seq;
}


export class Risk {
  private live: Loaded | null = null;
  private shadowSet: Loaded | null = null;
  readonly lists = new ListIndex();
  private listSeq = 0n;
  private readonly velocity: VelocityStore;
  private readonly breakers = new Map<string, store.BreakerRow>();
  /** When each merchant's breaker was last released (the score does not trip it again for its re-arm period). */
  private readonly releasedAt = new Map<string, number>();
  private logBuffer: store.DecisionRow[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly compiled = new Map<number, CompiledRuleSet>();
  readonly graph = new AccountGraph();
  private graphSeq = 0n;
  private flowSeq = 0n;
  private edgeBuffer: { user: string; entity: string; value: string }[] = [];
  private flowBuffer: { payer: string; payee: string }[] = [];
  /** Decision latency histogram since start: bucket i counts latencies in [2^(i/4), 2^((i+1)/4)) µs. */
  private readonly latencyBuckets = new Float64Array(128);
  private readonly actionCounts: Record<string, number> = { accept: 0, challenge: 0, review: 0, reject: 0 };
  private readonly caseHandlers = new Map<string, (c: store.CaseRow, approved: boolean) => Promise<void>>();

  constructor(private readonly deps: RiskDeps) {
    this.velocity = deps.velocity ?? new MemoryVelocityStore();
  }

  async start(): Promise<void> {
    await this.refresh();
    const every = this.deps.pollMs ?? 1_000;
    this.timer = setInterval(() => {
      void this.refresh().catch((e: Error) => this.deps.log?.warn({ err: e.message }, 'risk refresh failed'));
      void this.flush();
    }, Math.min(every, 200));
    this.timer.unref();
    this.pollEvery = every;
  }

  private pollEvery = 1_000;
  private lastPoll = 0;

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush(true);
    await this.velocity.close?.();
  }

  /** Picks up versions, list changes and breakers changed elsewhere (also called at start). */
  async refresh(force = false): Promise<void> {
    const now = Date.now();
    if (!force && (now - this.lastPoll < this.pollEvery || this.refreshing)) return;
    this.lastPoll = now;
    this.refreshing = true;
    try {
      await this.refreshNow();
    } finally {
      this.refreshing = false;
    }
  }

  private refreshing = false;

  /**
   * This process's own changes (versions, lists, breakers) made while a poll is reading, as they
   * were applied here. The poll may have read the state from before them, so they are applied again
   * on top of what it read; a later change elsewhere is then picked up by the next poll.
   */
  private readonly duringPolls = new Set<LocalChange[]>();

  /**
   * Applies a local change to the in-memory state, and again after each poll under way (a forced
   * one may run beside the timer's). A list change is not applied again over a newer change of the
   * same entry that the poll read (made elsewhere after this one).
   */
  private local(apply: LocalChange): void {
    apply(undefined);
    for (const p of this.duringPolls) p.push(apply);
  }

  private async refreshNow(): Promise<void> {
    const during: LocalChange[] = [];
    this.duringPolls.add(during);
    try {
      await this.readAndApply(during);
    } finally {
      this.duringPolls.delete(during);
    }
  }

  private async readAndApply(during: LocalChange[]): Promise<void> {
    const v = await store.liveVersions(this.deps.pool);
    const live = v.active === null ? null : this.live?.version === v.active ? this.live : { version: v.active, set: await this.compiledVersion(v.active) };
    const shadow = v.shadow === null ? null : this.shadowSet?.version === v.shadow ? this.shadowSet : { version: v.shadow, set: await this.compiledVersion(v.shadow) };
    // New changes by sequence, then the last seconds' again (see risk.store OVERLAP); applying a
    // change twice is harmless. Rows hold their latest state; applied in sequence order, a later
    // change of the same entry wins.
    const changes = await store.listChangesSince(this.deps.pool, this.listSeq, 50_000, true);
    let listSeq = this.listSeq;
    for (;;) {
      const page = await store.listChangesSince(this.deps.pool, listSeq, 50_000);
      changes.push(...page);
      for (const e of page) if (e.seq > listSeq) listSeq = e.seq;
      if (page.length < 50_000) break;
    }
    const recentEdges = await store.graphEdgesSince(this.deps.pool, this.graphSeq, 50_000, true);
    for (const e of recentEdges) this.graph.link(e.user, e.entity as Entity, e.value);
    for (;;) {
      const edges = await store.graphEdgesSince(this.deps.pool, this.graphSeq, 50_000);
      for (const e of edges) {
        this.graph.link(e.user, e.entity as Entity, e.value);
        if (e.seq > this.graphSeq) this.graphSeq = e.seq;
      }
      if (edges.length < 50_000) break;
    }
    const recentFlows = await store.flowsSince(this.deps.pool, this.flowSeq, 50_000, true);
    for (const f of recentFlows) this.graph.flow(f.payer, f.payee);
    for (;;) {
      const flows = await store.flowsSince(this.deps.pool, this.flowSeq, 50_000);
      for (const f of flows) {
        this.graph.flow(f.payer, f.payee);
        if (f.seq > this.flowSeq) this.flowSeq = f.seq;
      }
      if (flows.length < 50_000) break;
    }
    const breakers = await store.currentBreakers(this.deps.pool, new Date(this.deps.clock.nowMs() - MAX_REARM_MS));
    this.live = live;
    this.shadowSet = shadow;
    changes.sort((x, y) => (x.seq < y.seq ? -1 : x.seq > y.seq ? 1 : 0));
    for (const e of changes) {
      if (e.removedAt) this.lists.remove(e.list, e.entity, e.value);
      else this.lists.put({ kind: e.list, entity: e.entity, value: e.value, expiresAt: e.expiresAt?.getTime() ?? null });
    }
    this.listSeq = listSeq;
    this.breakers.clear();
    this.releasedAt.clear();
    for (const b of breakers) {
      if (b.state === 'tripped') this.breakers.set(b.merchant, b);
      else if (b.releasedAt) this.releasedAt.set(b.merchant, b.releasedAt.getTime());
    }
    const polled = new Map<string, bigint>();
    for (const e of changes) polled.set(listKey(e.list, e.entity, e.value), e.seq);
    for (const apply of during) apply(polled);
  }

  private async compiledVersion(version: number): Promise<CompiledRuleSet> {
    const have = this.compiled.get(version);
    if (have) return have;
    const row = await store.getRuleSet(this.deps.pool, version);
    if (!row) throw new Error(`rule set version ${version} is missing`);
    const set = compileRuleSet(row.document);
    this.compiled.set(version, set);
    return set;
  }

  // ---- rule set versions ------------------------------------------------------------------------

  /** Validates and stores a new version (a draft). An invalid document is refused with the path of the problem. */
  async uploadRuleSet(inp: { document: unknown; actor?: string }): Promise<RiskResult<store.RuleSetRow>> {
    let set: CompiledRuleSet;
    try {
      set = compileRuleSet(inp.document);
    } catch (e) {
      if (e instanceof RuleSetError) return fail('invalid_rule_set', e.message, { path: e.path });
      throw e;
    }
    const row = await withTx(this.deps.pool, (c) => store.insertRuleSet(c, { name: set.doc.name, document: inp.document, createdBy: inp.actor ?? '', now: this.deps.clock.now() }));
    this.compiled.set(row.version, set);
    return ok(row);
  }

  listRuleSets(limit = 50): Promise<store.RuleSetRow[]> {
    return store.listRuleSets(this.deps.pool, limit);
  }

  async getRuleSet(version: number): Promise<RiskResult<store.RuleSetRow>> {
    const r = await store.getRuleSet(this.deps.pool, version);
    return r ? ok(r) : fail('rule_set_not_found', `no rule set version ${version}`);
  }

  /**
   * Makes a version live: the previous live version is retired; in this process the swap is one
   * reference assignment (decisions under way finish on the version they started with), other
   * processes follow within pollMs.
   */
  async activate(inp: { version: number; actor?: string }): Promise<RiskResult<store.RuleSetRow>> {
    return this.setLive(inp.version, 'active', inp.actor ?? '');
  }

  /** Runs a version beside the live one, logging what it would have decided; null stops the shadow. */
  async setShadow(inp: { version: number | null; actor?: string }): Promise<RiskResult<store.RuleSetRow | null>> {
    if (inp.version === null) {
      await withTx(this.deps.pool, async (c) => {
        await store.retireStatus(c, 'shadow', -1);
        await store.audit(c, { id: this.deps.nextId(), kind: 'shadow_stopped', subject: 'rule_sets', details: {}, actor: inp.actor ?? '', now: this.deps.clock.now() });
      });
      this.local(() => (this.shadowSet = null));
      return ok(null);
    }
    return this.setLive(inp.version, 'shadow', inp.actor ?? '');
  }

  private async setLive(version: number, status: 'active' | 'shadow', actor: string): Promise<RiskResult<store.RuleSetRow>> {
    const set = await this.compiledVersion(version).catch(() => undefined);
    const r = await withTx(this.deps.pool, async (c): Promise<RiskResult<store.RuleSetRow>> => {
      const row = await store.getRuleSet(c, version, true);
      if (!row || !set) return fail('rule_set_not_found', `no rule set version ${version}`);
      if (row.status === status) return ok(row);
      // Shadowing the live version would leave no live version: every transaction accepted unseen.
      if (status === 'shadow' && row.status === 'active') return fail('rule_set_is_live', `version ${version} is the live version; activate another one first`);
      const now = this.deps.clock.now();
      await store.retireStatus(c, status, version);
      await store.setStatus(c, version, status, now);
      await store.audit(c, { id: this.deps.nextId(), kind: status === 'active' ? 'version_activated' : 'shadow_started', subject: 'rule_sets', details: { version, previous_status: row.status }, actor, now });
      return ok({ ...row, status, activatedAt: status === 'active' ? now : row.activatedAt });
    });
    if (!r.ok) return r;
    this.local(() => {
      if (status === 'active') {
        this.live = { version, set: set! };
        if (this.shadowSet?.version === version) this.shadowSet = null;
      } else {
        this.shadowSet = { version, set: set! };
        if (this.live?.version === version) this.live = null;
      }
    });
    this.deps.log?.info({ version, status }, 'risk rule set switched');
    return r;
  }

  /** The versions this process decides with now. */
  versions(): { active: number | null; shadow: number | null } {
    return { active: this.live?.version ?? null, shadow: this.shadowSet?.version ?? null };
  }

  // ---- decisions --------------------------------------------------------------------------------

  /**
   * Decides an event (before authorization). The velocity windows count it, whatever the answer.
   * A `review` with a subject opens a case (written before the answer); see decideCase.
   */
  async decide(given: RiskEvent, opts: { subject?: CaseSubject; beforeCase?: () => Promise<boolean> } = {}): Promise<RiskAnswer> {
    const t0 = performance.now();
    const event = this.asOfNow(given);
    const live = this.live;
    const shadow = this.shadowSet;
    const windows = uniqueWindows(live?.set, shadow?.set);
    const base = baseContext(event);
    const observed = windows.length === 0 ? EMPTY_VELOCITY : await this.observeWindows(windows, event, base);
    const byWindow = new Map<string, number>();
    windows.forEach((w, i) => byWindow.set(w.id, observed[i] ?? 0));
    const valuesFor = (set: CompiledRuleSet) => set.velocity.map((v) => byWindow.get(v.id) ?? 0);
    const related = this.relate(event);
    let d: Decision = live ? decide(live.set, event, base, valuesFor(live.set), this.lists, related) : { action: 'accept', rule: null, reason: null, matched: [], scores: {}, features: {}, lists: { black: [], white: [], grey: [] }, errors: [] };
    const sd = shadow ? decide(shadow.set, event, baseContext(event), valuesFor(shadow.set), this.lists, related) : null;
    if (related.cycle) await this.alert('funds_cycle', `user:${event.user}`, { cycle: related.cycle, event_id: event.id, amount: Number(event.amount) });
    // A tripped merchant breaker holds or refuses whatever the rules say.
    const b = event.merchant ? this.breakers.get(event.merchant) : undefined;
    if (b && d.action !== 'reject') d = { ...d, action: b.mode === 'refuse' ? 'reject' : 'review', rule: 'breaker:merchant', reason: `merchant circuit breaker tripped: ${b.reason}` };
    // The live rule set may trip the merchant's breaker on its anomaly score.
    if (live && event.merchant && !b) await this.maybeTrip(live.set, event.merchant, d);
    const latencyUs = Math.round((performance.now() - t0) * 1000);
    this.latencyBuckets[Math.min(127, Math.max(0, Math.floor(Math.log2(Math.max(1, latencyUs)) * 4)))]! += 1;
    this.actionCounts[d.action] = (this.actionCounts[d.action] ?? 0) + 1;
    const decisionId = this.deps.nextId();
    const at = new Date(event.at);
    const ev = eventJson(event);
    this.log({ id: decisionId, eventId: event.id, eventKind: event.kind, event: ev, at, version: live?.version ?? 0, shadow: false, action: d.action, rule: d.rule, matched: d.matched, features: d.features, scores: d.scores, errors: d.errors, latencyUs });
    if (sd && shadow) this.log({ id: this.deps.nextId(), eventId: event.id, eventKind: event.kind, event: ev, at, version: shadow.version, shadow: true, action: sd.action, rule: sd.rule, matched: sd.matched, features: sd.features, scores: sd.scores, errors: sd.errors, latencyUs });
    let caseId: bigint | null = null;
    // The caller may find the subject cannot be carried out at all (bad input): then no case.
    if (d.action === 'review' && opts.subject && (!opts.beforeCase || (await opts.beforeCase()))) {
      const c = await store.openCase(this.deps.pool, {
        id: this.deps.nextId(), eventId: event.id, subjectKind: opts.subject.kind, subjectId: opts.subject.id, merchant: event.merchant ?? null,
        version: live?.version ?? 0, rule: d.rule, reason: d.reason ?? 'review', event: ev, createdAt: this.deps.clock.now(),
      });
      caseId = c.id;
    }
    return { ...d, decisionId, version: live?.version ?? 0, latencyUs, caseId, shadow: sd && shadow ? { version: shadow.version, action: sd.action, rule: sd.rule } : null };
  }

  /**
   * Links the event's user to the values it carries, records who pays whom, and answers the user's
   * component size and any cycle of money this payment closes among related users.
   */
  private relate(event: RiskEvent): { graphSize: number; fundsCycle: boolean; cycle: string[] | null } {
    const user = event.user ?? '';
    if (user === '') return { graphSize: 1, fundsCycle: false, cycle: null };
    for (const e of LINK_ENTITIES) {
      const v = event[e];
      if (v && this.graph.link(user, e, v)) this.edgeBuffer.push({ user, entity: e, value: v });
    }
    let cycle: string[] | null = null;
    if (event.payee && event.payee !== user) {
      cycle = this.graph.flow(user, event.payee);
      this.flowBuffer.push({ payer: user, payee: event.payee });
    }
    return { graphSize: this.graph.componentSize(user), fundsCycle: cycle !== null, cycle };
  }

  private async alert(kind: string, subject: string, details: Record<string, unknown>): Promise<void> {
    await store.insertAlert(this.deps.pool, { id: this.deps.nextId(), kind, subject, details, now: this.deps.clock.now() });
    this.deps.log?.warn({ kind, subject }, 'risk alert raised');
  }

  listAlerts(limit = 100) {
    return store.listAlerts(this.deps.pool, limit);
  }

  /** A related-account component: its users and the values they share. */
  component(entity: Entity | 'user', value: string) {
    return this.graph.component(entity, value);
  }

  /** Decisions since this process started: counts by action, and latency percentiles (µs, within 19 %). */
  stats(): { decisions: number; actions: Record<string, number>; p50_us: number; p99_us: number; max_bucket_us: number } {
    const total = this.latencyBuckets.reduce((a, b) => a + b, 0);
    const pct = (p: number): number => {
      let seen = 0;
      for (let i = 0; i < this.latencyBuckets.length; i++) {
        seen += this.latencyBuckets[i]!;
        if (seen >= (p / 100) * total) return Math.round(2 ** ((i + 1) / 4));
      }
      return 0;
    };
    let top = 0;
    this.latencyBuckets.forEach((c, i) => (c > 0 ? (top = i) : undefined));
    return { decisions: total, actions: { ...this.actionCounts }, p50_us: total ? pct(50) : 0, p99_us: total ? pct(99) : 0, max_bucket_us: total ? Math.round(2 ** ((top + 1) / 4)) : 0 };
  }

  /** Counts an event in the velocity windows without deciding it (an outcome: a failure, a refund). */
  async observe(given: RiskEvent): Promise<void> {
    const event = this.asOfNow(given);
    const windows = uniqueWindows(this.live?.set, this.shadowSet?.set);
    if (windows.length === 0) return;
    await this.observeWindows(windows, event, baseContext(event));
  }

  /** The event in each window: in memory without an object per window, else through the store. */
  private observeWindows(windows: readonly CompiledVelocity[], event: RiskEvent, base: Record<string, unknown>): number[] | Promise<number[]> {
    const v = this.velocity;
    return v instanceof MemoryVelocityStore ? observeInMemory(v, windows, event, base) : v.observe(observationsFor(windows, event, base));
  }

  /**
   * The engine decides the present: an event timed more than the late-event grace from now is taken
   * as of that bound (the HTTP API refuses such events; this guards every other caller). One in
   * the future would move its windows past what the real present still needs; one far in the past
   * would be dropped by the windows at once and be judged by lists as they were (a white-list entry
   * that has expired since). Replaying the past is what backtests are for.
   */
  private asOfNow(e: RiskEvent): RiskEvent {
    const now = this.deps.clock.nowMs();
    if (e.at > now + LATE_GRACE_MS) return { ...e, at: now + LATE_GRACE_MS };
    if (e.at < now - LATE_GRACE_MS) return { ...e, at: now - LATE_GRACE_MS };
    return e;
  }

  private log(row: store.DecisionRow): void {
    this.logBuffer.push(row);
    // The database away for long: the oldest decisions of the log go first (and that is logged).
    if (this.logBuffer.length > MAX_LOG_BACKLOG + 10_000) {
      this.deps.log?.error({ dropped: this.logBuffer.length - MAX_LOG_BACKLOG }, 'risk decision log backlog full: the oldest dropped');
      this.logBuffer = this.logBuffer.slice(-MAX_LOG_BACKLOG);
    }
    // Early when the buffer is full, unless a failed flush is waiting for its retry (the timer's).
    if (this.logBuffer.length >= 2_000 && !this.flushing && Date.now() >= this.retryAt) void this.flush();
  }

  /** After a failed write, no flush before this time (Date.now()): a database away is not hammered. */
  private retryAt = 0;

  /**
   * Writes the buffered decision log and graph edges. A write that fails for a while (the database
   * is away) is put back for a later flush, at most one a second — every insert is idempotent. One
   * the database refuses for its data (SQLSTATE class 22, e.g. a NUL character in a value) is
   * retried row by row and the rows it refuses are dropped (logged), so one bad value cannot jam the
   * log. The graph's edges and flows are kept up to a bound as well as the log (they are linked in
   * memory once, and other processes learn them only from here).
   */
  async flush(force = false): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!force && Date.now() < this.retryAt) return;
    if (this.logBuffer.length === 0 && this.edgeBuffer.length === 0 && this.flowBuffer.length === 0) return;
    const rows = this.logBuffer;
    const edges = this.edgeBuffer;
    const flows = this.flowBuffer;
    this.logBuffer = [];
    this.edgeBuffer = [];
    this.flowBuffer = [];
    let failed = false;
    const write = async <T>(what: string, xs: T[], insert: (ys: T[]) => Promise<void>, back: (ys: T[]) => void): Promise<void> => {
      if (xs.length === 0) return;
      try {
        await insert(xs);
      } catch (e) {
        if (!isDataError(e)) {
          failed = true;
          this.deps.log?.error({ err: (e as Error).message, rows: xs.length }, `risk ${what} write failed; kept for a later flush`);
          back(xs);
          return;
        }
        // Find the rows the database refuses; the others are written. The database going away
        // meanwhile stops the search: what is left goes back whole, for a later flush.
        for (let i = 0; i < xs.length; i++) {
          try {
            await insert([xs[i]!]);
          } catch (e1) {
            if (isDataError(e1)) {
              this.deps.log?.error({ err: (e1 as Error).message }, `risk ${what} row refused by the database; dropped`);
              continue;
            }
            failed = true;
            this.deps.log?.error({ err: (e1 as Error).message, rows: xs.length - i }, `risk ${what} write failed; kept for a later flush`);
            back(xs.slice(i));
            return;
          }
        }
      }
    };
    const bounded = <T>(xs: T[], max: number, what: string): T[] => {
      if (xs.length <= max) return xs;
      this.deps.log?.error({ dropped: xs.length - max }, `risk ${what} backlog full: the oldest dropped`);
      return xs.slice(-max);
    };
    this.flushing = Promise.all([
      write('decision log', rows, (ys) => store.insertDecisions(this.deps.pool, ys), (ys) => (this.logBuffer = bounded(ys.concat(this.logBuffer), MAX_LOG_BACKLOG, 'decision log'))),
      write('graph edge', edges, (ys) => store.insertGraphEdges(this.deps.pool, ys), (ys) => (this.edgeBuffer = bounded(ys.concat(this.edgeBuffer), MAX_GRAPH_BACKLOG, 'graph edge'))),
      write('money flow', flows, (ys) => store.insertFlows(this.deps.pool, ys), (ys) => (this.flowBuffer = bounded(ys.concat(this.flowBuffer), MAX_GRAPH_BACKLOG, 'money flow'))),
    ]).then(() => {
      this.retryAt = failed ? Date.now() + 1_000 : 0;
    }).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  listDecisions(f: Parameters<typeof store.listDecisions>[1]): Promise<store.DecisionRow[]> {
    return store.listDecisions(this.deps.pool, f);
  }

  /**
   * Backtest (回测): replays the live decisions' events of a period, in order, through a version —
   * with fresh velocity windows built from the replayed events and today's lists — and reports
   * how its decisions differ from the ones logged.
   */
  async backtest(inp: { version: number; from: Date; to: Date; limit?: number; pageSize?: number }): Promise<RiskResult<{ version: number; events: number; same: number; changed: number; breaker_overridden: number; transitions: Record<string, number>; rules: Record<string, number>; samples: { event_id: string; logged: string; replayed: string; rule: string | null }[] }>> {
    if (!(inp.from.getTime() < inp.to.getTime())) return fail('invalid_backtest', 'from must be before to');
    const set = await this.compiledVersion(inp.version).catch(() => undefined);
    if (!set) return fail('rule_set_not_found', `no rule set version ${inp.version}`);
    await this.flush(true);
    const limit = Math.min(inp.limit ?? 100_000, 1_000_000);
    const vel = new MemoryVelocityStore();
    const out = { version: inp.version, events: 0, same: 0, changed: 0, breaker_overridden: 0, transitions: {} as Record<string, number>, rules: {} as Record<string, number>, samples: [] as { event_id: string; logged: string; replayed: string; rule: string | null }[] };
    // Page by page, so a long period is not held in memory at once.
    let after: { at: Date; id: bigint } | null = null;
    while (out.events < limit) {
      const rows: store.DecisionRow[] = await store.eventsForReplay(this.deps.pool, inp.from, inp.to, Math.min(inp.pageSize ?? 5_000, limit - out.events), after);
      if (rows.length === 0) break;
      for (const r of rows) {
        out.events++;
        const ev = eventFromJson(r.event);
        const base = baseContext(ev);
        const d = decide(set, ev, base, await vel.observe(observationsFor(set.velocity, ev, base)), this.lists);
        if (d.rule) out.rules[d.rule] = (out.rules[d.rule] ?? 0) + 1;
        // A tripped breaker decided the logged one, not its rules: not a difference of the version.
        if (r.rule === 'breaker:merchant') {
          out.breaker_overridden++;
          continue;
        }
        if (d.action === r.action) {
          out.same++;
          continue;
        }
        out.changed++;
        const k = `${r.action}->${d.action}`;
        out.transitions[k] = (out.transitions[k] ?? 0) + 1;
        if (out.samples.length < 20) out.samples.push({ event_id: r.eventId, logged: r.action, replayed: d.action, rule: d.rule });
      }
      const last = rows[rows.length - 1]!;
      after = { at: last.at, id: last.id };
    }
    return ok(out);
  }

  // ---- lists ------------------------------------------------------------------------------------

  async putListEntries(inp: { entries: { list: string; entity: string; value: string; expiresAt?: Date | null; source: string; reason?: string }[]; actor?: string }): Promise<RiskResult<store.ListEntryRow[]>> {
    const seen = new Set<string>();
    const rows: Parameters<typeof store.upsertListEntries>[1][number][] = [];
    for (const [i, e] of inp.entries.entries()) {
      const bad = (m: string) => fail('invalid_list_entry' as const, `entries[${i}]: ${m}`);
      if (!LIST_KINDS.includes(e.list as ListKind)) return bad(`list is one of ${LIST_KINDS.join(', ')}`);
      if (!ENTITIES.includes(e.entity as Entity)) return bad(`entity is one of ${ENTITIES.join(', ')}`);
      if (typeof e.value !== 'string' || e.value.length < 1 || e.value.length > 200) return bad('value: 1-200 characters');
      if (typeof e.source !== 'string' || e.source.length < 1 || e.source.length > 100) return bad('source: 1-100 characters (where the entry comes from)');
      if (e.expiresAt && e.expiresAt.getTime() <= this.deps.clock.nowMs()) return bad('expires_at is in the past');
      const k = `${e.list}|${e.entity}|${e.value}`;
      if (seen.has(k)) continue;
      seen.add(k);
      rows.push({ id: this.deps.nextId(), list: e.list as ListKind, entity: e.entity as Entity, value: e.value, expiresAt: e.expiresAt ?? null, source: e.source, reason: (e.reason ?? '').slice(0, 500), createdBy: inp.actor ?? '' });
    }
    const saved: store.ListEntryRow[] = [];
    for (let i = 0; i < rows.length; i += 10_000) saved.push(...(await store.upsertListEntries(this.deps.pool, rows.slice(i, i + 10_000), this.deps.clock.now())));
    this.local((polled) => {
      for (const e of saved) if (!newerElsewhere(polled, e)) this.lists.put({ kind: e.list, entity: e.entity, value: e.value, expiresAt: e.expiresAt?.getTime() ?? null });
    });
    return ok(saved);
  }

  async removeListEntry(inp: { id: bigint }): Promise<RiskResult<store.ListEntryRow>> {
    const r = await store.removeListEntry(this.deps.pool, inp.id, this.deps.clock.now());
    if (!r) return fail('list_entry_not_found', `no live list entry ${inp.id}`);
    this.local((polled) => {
      if (!newerElsewhere(polled, r)) this.lists.remove(r.list, r.entity, r.value);
    });
    return ok(r);
  }

  listEntries(f: Parameters<typeof store.listEntries>[1]): Promise<store.ListEntryRow[]> {
    return store.listEntries(this.deps.pool, f);
  }

  // ---- cases ------------------------------------------------------------------------------------

  /** Carries out case decisions for a kind of subject (payments registers 'payment_order'). */
  onCaseDecided(kind: string, handler: (c: store.CaseRow, approved: boolean) => Promise<void>): void {
    this.caseHandlers.set(kind, handler);
  }

  listCases(f: Parameters<typeof store.listCases>[1]): Promise<store.CaseRow[]> {
    return store.listCases(this.deps.pool, f);
  }

  async getCase(id: bigint): Promise<RiskResult<store.CaseRow>> {
    const c = await store.getCase(this.deps.pool, id);
    return c ? ok(c) : fail('case_not_found', `no case ${id}`);
  }

  /** Approves or rejects an open case; the subject's handler then lets the payment proceed or cancels it. */
  async decideCase(inp: { id: bigint; approve: boolean; actor: string; note?: string }): Promise<RiskResult<store.CaseRow>> {
    const now = this.deps.clock.now();
    const closed = await withTx(this.deps.pool, async (c) => {
      const cur = await store.getCase(c, inp.id, true);
      if (!cur) return fail('case_not_found' as const, `no case ${inp.id}`);
      if (cur.status !== 'open') return fail('case_already_decided' as const, `case ${inp.id} is ${cur.status}`, { status: cur.status });
      const done = (await store.closeCase(c, inp.id, inp.approve ? 'approved' : 'rejected', inp.actor, (inp.note ?? '').slice(0, 1000), now))!;
      await store.audit(c, { id: this.deps.nextId(), kind: inp.approve ? 'case_approved' : 'case_rejected', subject: `case:${inp.id}`, details: { note: inp.note ?? '' }, actor: inp.actor, now });
      return ok(done);
    });
    if (!closed.ok) return closed;
    // The decision stands whatever its handler does: a handler that fails (a database error) is
    // logged, and its module's recovery job finishes the work (payments: recoverReviews).
    const h = this.caseHandlers.get(closed.value.subjectKind);
    if (h) {
      try {
        await h(closed.value, inp.approve);
      } catch (e) {
        this.deps.log?.error({ case: inp.id.toString(), err: (e as Error).message }, 'a risk case handler failed; its module recovers it');
      }
    }
    return closed;
  }

  // ---- merchant circuit breakers (熔断) ----------------------------------------------------------

  private async maybeTrip(set: CompiledRuleSet, merchant: string, d: Decision): Promise<void> {
    const cfg = set.doc.breaker;
    if (!cfg) return;
    const score = d.scores[cfg.score];
    if (score === undefined || score < cfg.at_least) return;
    // An operator released it: the windows behind the score still hold what tripped it, so the
    // score alone does not trip it again before the re-arm period is over (checked again in SQL).
    const rearmMs = cfg.rearm_after ? parseDuration(cfg.rearm_after)! : DEFAULT_REARM_MS;
    const now = this.deps.clock.nowMs();
    const released = this.releasedAt.get(merchant);
    if (released !== undefined && now - released < rearmMs) return;
    // The database said no a moment ago (tripped or released elsewhere, not yet polled): not again
    // for every decision until the poll brings the news.
    const tried = this.tripRefused.get(merchant);
    if (tried !== undefined && now - tried < this.pollEvery) return;
    let row: store.BreakerRow | undefined;
    try {
      row = await this.trip({ merchant, mode: cfg.mode, score, reason: `${cfg.score} ${score} >= ${cfg.at_least}`, actor: 'risk-engine', rearmBefore: new Date(now - rearmMs) });
    } catch (e) {
      // The database away: the decision is made all the same; the trip is tried again later.
      this.deps.log?.error({ merchant, err: (e as Error).message }, 'merchant circuit breaker could not be tripped');
    }
    if (row) this.tripRefused.delete(merchant);
    else this.tripRefused.set(merchant, now);
  }

  /** When an automatic trip of each merchant was last refused by the database (see maybeTrip). */
  private readonly tripRefused = new Map<string, number>();

  /** Trips a merchant's breaker (automatically, or by an operator); audited. */
  async trip(inp: { merchant: string; mode: 'hold' | 'refuse'; score?: number | null; reason: string; actor: string; rearmBefore?: Date }): Promise<store.BreakerRow | undefined> {
    const now = this.deps.clock.now();
    const row = await withTx(this.deps.pool, async (c) => {
      const r = await store.tripBreaker(c, { merchant: inp.merchant, mode: inp.mode, score: inp.score ?? null, reason: inp.reason, now, releasedBefore: inp.rearmBefore ?? null });
      if (r) await store.audit(c, { id: this.deps.nextId(), kind: 'breaker_tripped', subject: `merchant:${inp.merchant}`, details: { mode: inp.mode, score: inp.score ?? null, reason: inp.reason }, actor: inp.actor, now });
      return r;
    });
    if (row) {
      this.local(() => this.breakers.set(inp.merchant, row));
      this.deps.log?.warn({ merchant: inp.merchant, reason: inp.reason }, 'merchant circuit breaker tripped');
    }
    return row;
  }

  async release(inp: { merchant: string; actor: string; reason?: string }): Promise<RiskResult<store.BreakerRow>> {
    const now = this.deps.clock.now();
    const r = await withTx(this.deps.pool, async (c) => {
      const row = await store.releaseBreaker(c, inp.merchant, inp.actor, now);
      if (row) await store.audit(c, { id: this.deps.nextId(), kind: 'breaker_released', subject: `merchant:${inp.merchant}`, details: { reason: inp.reason ?? '' }, actor: inp.actor, now });
      return row;
    });
    if (!r) return fail('breaker_not_tripped', `merchant ${inp.merchant} has no tripped breaker`);
    this.local(() => {
      this.breakers.delete(inp.merchant);
      this.releasedAt.set(inp.merchant, now.getTime());
    });
    return ok(r);
  }

  listBreakers(): Promise<store.BreakerRow[]> {
    return store.listBreakers(this.deps.pool);
  }

  auditOf(subject: string) {
    return store.auditOf(this.deps.pool, subject);
  }
}

/** The windows of the live and shadow versions, each once (shared by identity). */
function uniqueWindows(a: CompiledRuleSet | undefined, b: CompiledRuleSet | undefined): CompiledVelocity[] {
  if (!b || b === a) return a?.velocity ?? [];
  if (!a) return b.velocity;
  const ids = new Set(a.velocity.map((v) => v.id));
  return [...a.velocity, ...b.velocity.filter((v) => !ids.has(v.id))];
}

function eventJson(e: RiskEvent): Record<string, unknown> {
  return { ...e, amount: Number(e.amount) };
}

function eventFromJson(j: Record<string, unknown>): RiskEvent {
  return { ...(j as unknown as RiskEvent), amount: BigInt(j['amount'] as number) };
}

export type { Observation };
