/**
 * The decision (决策) for one event under one compiled rule set. Pure apart from the velocity
 * values, which the caller observes first (so a live and a shadow version share one observation).
 *
 * The order, documented in docs/risk.md:
 *   1. a value of the event on a BLACK list → reject (rule `list:black`);
 *   2. a value on a WHITE list → accept (rule `list:white`); no rule runs;
 *   3. the rules, by priority (lower first, then id): the first that matches decides; every rule
 *      that matches is logged;
 *   4. no rule matched: the score thresholds, strictest action first;
 *   5. otherwise accept.
 */
import type { ListIndex } from './lists.js';
import { ACTIONS, countBelow, ENTITIES, EVENT_FIELDS, type Action, type CompiledRuleSet, type CompiledVelocity, type Entity } from './ruleset.js';
import type { MemoryVelocityStore, Observation } from './velocity.js';

export interface RiskEvent {
  /** Unique per event (the payment order, the card transaction key, ...). */
  id: string;
  kind: string;
  /** Epoch ms. */
  at: number;
  amount: bigint;
  currency?: string;
  card?: string;
  device?: string;
  ip?: string;
  user?: string;
  phone?: string;
  bank_account?: string;
  merchant?: string;
  merchant_mcc?: string;
  category?: string;
  channel?: string;
  notify_url_ok?: boolean;
  return_url_ok?: boolean;
  failed?: boolean;
  payee?: string;
  /**
   * Values the payer's side asserted rather than we observed (a browser's device id, an IP a
   * merchant passes on): they count in windows and on black and grey lists, but a white-listed one
   * never lets an event skip the rules — anyone can claim a trusted device's id.
   */
  claimed?: readonly Entity[];
}

export interface MatchedRule {
  id: string;
  action: Action;
  reason: string;
}

export interface Decision {
  action: Action;
  /** The rule (or `list:black`, `list:white`, `score:<name>`) that decided; null: nothing did. */
  rule: string | null;
  reason: string | null;
  matched: MatchedRule[];
  scores: Record<string, number>;
  /** Velocity and derived feature values, as evaluated. */
  features: Record<string, number | string | boolean | null>;
  lists: { black: Entity[]; white: Entity[]; grey: Entity[] };
  /** Expressions that failed at run time (e.g. a division by zero): the rule did not match. */
  errors: string[];
}

const STRING_FIELDS = Object.entries(EVENT_FIELDS).filter(([, t]) => t === 'string').map(([k]) => k);

/**
 * A window's `where` filter on an event. One that fails at run time (a value of an unexpected type)
 * does not count the event rather than failing the decision: the filter is a counting condition,
 * and a decision must always be made.
 */
function passes(v: CompiledVelocity, base: Record<string, unknown>): boolean {
  if (!v.filter) return true;
  try {
    return v.filter(base) === true;
  } catch {
    return false;
  }
}

/** The observations an event makes in the given windows (a window whose key the event lacks is skipped: its value is 0). */
export function observationsFor(windows: readonly CompiledVelocity[], ev: RiskEvent, base: Record<string, unknown>): (Observation | null)[] {
  return windows.map((v) => {
    const o = {} as Observation;
    return fillObservation(o, v, ev, base) ? o : null;
  });
}

const scratch = {} as Observation;

/** observationsFor + MemoryVelocityStore.observe without an object per window (the hot path in one process). */
export function observeInMemory(store: MemoryVelocityStore, windows: readonly CompiledVelocity[], ev: RiskEvent, base: Record<string, unknown>): number[] {
  const out = new Array<number>(windows.length);
  for (let i = 0; i < windows.length; i++) out[i] = fillObservation(scratch, windows[i]!, ev, base) ? store.observeOne(scratch) : 0;
  store.endEvent(ev.at);
  return out;
}

/**
 * Fills `o` with the event's observation in window `v`; false when the event lacks the window's key.
 * (The in-memory store reuses one object for all of an event's windows: nothing is allocated.)
 */
export function fillObservation(o: Observation, v: CompiledVelocity, ev: RiskEvent, base: Record<string, unknown>): boolean {
  let key: string;
  const keys = v.keys;
  if (keys.length === 1) {
    key = (ev[keys[0]!] as string | undefined) ?? '';
    if (key === '') return false;
  } else {
    key = '';
    for (let i = 0; i < keys.length; i++) {
      const part = (ev[keys[i]!] as string | undefined) ?? '';
      if (part === '') return false;
      key = i === 0 ? part : `${key}\u0001${part}`;
    }
  }
  const member = v.kind === 'distinct' ? ((ev[v.of!] as string | undefined) ?? '') : '';
  o.window = v.id;
  o.kind = v.kind;
  o.windowMs = v.windowMs;
  o.key = key;
  o.at = ev.at;
  o.value = v.kind === 'sum' ? Number(ev.amount) : 1;
  o.member = member;
  o.eventId = ev.id;
  // An event the window does not count (its filter, or no member to count) still reads its value.
  o.add = passes(v, base) && !(v.kind === 'distinct' && member === '');
  return true;
}

/** The CEL context of the event's own fields (defaults for what it does not carry). */
export function baseContext(ev: RiskEvent): Record<string, unknown> {
  const ctx: Record<string, unknown> = {};
  for (const k of STRING_FIELDS) ctx[k] = (ev as unknown as Record<string, unknown>)[k] ?? '';
  ctx['amount'] = ev.amount;
  ctx['notify_url_ok'] = ev.notify_url_ok ?? true;
  ctx['return_url_ok'] = ev.return_url_ok ?? true;
  ctx['failed'] = ev.failed ?? false;
  ctx['hour'] = BigInt(Math.floor((((ev.at % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000)); // UTC hour
  return ctx;
}

function points(value: number, buckets: readonly { below?: number; points: number }[]): number {
  for (const b of buckets) if (b.below === undefined || value < b.below) return b.points;
  return buckets[buckets.length - 1]!.points;
}

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' ? v : 0);

/** Where each value goes in the slot array (computed once per rule set), and scratch space. */
interface Layout {
  event: [string, number][];
  velocity: number[];
  features: number[];
  scores: number[];
  black: number;
  white: number;
  grey: number;
  graph: number;
  cycle: number;
  /** Reused by every decision (decide is synchronous). */
  mark: Uint8Array;
  /** The decision's features and scores objects start as copies of these (one shape, no growing). */
  featureTemplate: Record<string, null>;
  scoreTemplate: Record<string, number>;
}

const layouts = new WeakMap<CompiledRuleSet, Layout>();

function layoutOf(set: CompiledRuleSet): Layout {
  let l = layouts.get(set);
  if (l) return l;
  const at = (k: string) => set.slots.get(k)!;
  l = {
    event: Object.keys(EVENT_FIELDS).map((k) => [k, at(k)]), velocity: set.velocity.map((v) => at(v.name)), features: set.features.map((f) => at(f.name)),
    scores: set.scorecards.map((x) => at(x.name)), black: at('black'), white: at('white'), grey: at('grey'), graph: at('graph_size'), cycle: at('funds_cycle'), mark: new Uint8Array(set.rules.length),
    featureTemplate: Object.fromEntries([...set.velocity.map((v) => v.name), ...set.features.map((f) => f.name)].map((n) => [n, null])),
    scoreTemplate: Object.fromEntries(set.scorecards.map((x) => [x.name, 0])),
  };
  layouts.set(set, l);
  return l;
}

const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/**
 * Decides. `velocity[i]` is the value of `set.velocity[i]` including this event (0 when the event
 * made no observation there). Values live in a slot array (ints as numbers) that the compiled
 * guards read; the CEL context (ints as bigint) is built only if an expression must run.
 */
export function decide(set: CompiledRuleSet, ev: RiskEvent, base: Record<string, unknown>, velocity: readonly number[], lists: ListIndex, extra: { graphSize?: number; fundsCycle?: boolean } = {}): Decision {
  const black: Entity[] = [];
  const white: Entity[] = [];
  const grey: Entity[] = [];
  const now = ev.at;
  for (const e of ENTITIES) {
    const v = ev[e];
    if (!v) continue;
    const s = lists.slot(e, v);
    if (!s) continue;
    if (s.black !== undefined && s.black > now) black.push(e);
    if (s.white !== undefined && s.white > now && !ev.claimed?.includes(e)) white.push(e);
    if (s.grey !== undefined && s.grey > now) grey.push(e);
  }
  const lay = layoutOf(set);
  const vals = new Array<unknown>(set.slots.size);
  for (const [k, i] of lay.event) vals[i] = plain(base[k]);
  vals[lay.black] = black;
  vals[lay.white] = white;
  vals[lay.grey] = grey;
  vals[lay.graph] = extra.graphSize ?? 1;
  vals[lay.cycle] = extra.fundsCycle ?? false;
  const features: Decision['features'] = { ...lay.featureTemplate };
  const vel = set.velocity;
  for (let i = 0; i < vel.length; i++) {
    const x = velocity[i] ?? 0;
    vals[lay.velocity[i]!] = x;
    features[vel[i]!.name] = x;
  }
  // The CEL context, built on first need from the slots filled so far and kept in step after.
  let ctx: Record<string, unknown> | undefined;
  const celCtx = (): Record<string, unknown> => {
    if (ctx) return ctx;
    ctx = base;
    for (const [name, i] of set.slots) {
      const v = vals[i];
      if (v === undefined) continue;
      ctx[name] = set.slotTypes[i] === 'int' && typeof v === 'number' ? BigInt(v) : v;
    }
    return ctx;
  };
  const out: Decision = { action: 'accept', rule: null, reason: null, matched: [], scores: { ...lay.scoreTemplate }, features, lists: { black, white, grey }, errors: [] };
  if (black.length > 0) {
    out.action = 'reject';
    out.rule = 'list:black';
    out.reason = `on the black list: ${black.join(', ')}`;
    return out;
  }
  if (white.length > 0) {
    out.rule = 'list:white';
    out.reason = `on the white list: ${white.join(', ')}`;
    return out;
  }
  let errored = false;
  for (let i = 0; i < set.features.length; i++) {
    const f = set.features[i]!;
    if (f.fast) {
      const v = f.fast(vals);
      vals[lay.features[i]!] = v;
      features[f.name] = v;
      if (ctx) ctx[f.name] = v;
      continue;
    }
    const c = celCtx();
    try {
      const v = f.cel(c);
      c[f.name] = v;
      vals[lay.features[i]!] = plain(v);
      features[f.name] = typeof v === 'bigint' ? Number(v) : (v as number | string | boolean);
    } catch (e) {
      errored = true;
      c[f.name] = null;
      vals[lay.features[i]!] = null;
      features[f.name] = null;
      out.errors.push(`${f.name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  for (let si = 0; si < set.scorecards.length; si++) {
    const s = set.scorecards[si]!;
    let total = 0;
    let weights = 0;
    for (const d of s.dimensions) {
      total += d.weight * points(num(vals[set.slots.get(d.feature)!]), d.buckets);
      weights += d.weight;
    }
    const score = Math.round(total / weights);
    if (ctx) ctx[s.name] = BigInt(score);
    vals[lay.scores[si]!] = score;
    out.scores[s.name] = score;
  }
  const rules = set.rules;
  if (!errored) {
    // Candidates from the index (see ruleset.buildIndex), then tested in priority order.
    const mark = lay.mark;
    mark.fill(0);
    const ix = set.index;
    for (let g = 0; g < ix.ranges.length; g++) {
      const r = ix.ranges[g]!;
      const x = vals[r.slot] as number;
      const n = r.cs.length;
      if (r.op === '>' || r.op === '>=') {
        // x > c (or >=): the constants below x.
        const end = countBelow(r.cs, x, r.op === '>=');
        for (let j = 0; j < end; j++) mark[r.rules[j]!] = 1;
      } else {
        // x < c (or <=): the constants above x.
        for (let j = countBelow(r.cs, x, r.op === '<'); j < n; j++) mark[r.rules[j]!] = 1;
      }
    }
    for (let g = 0; g < ix.equal.length; g++) {
      const e = ix.equal[g]!;
      const hit = e.map.get(vals[e.slot]);
      if (hit) for (const j of hit) mark[j] = 1;
    }
    for (let g = 0; g < ix.member.length; g++) {
      const e = ix.member[g]!;
      const list = vals[e.slot] as string[];
      for (let m = 0; m < list.length; m++) {
        const hit = e.map.get(list[m]);
        if (hit) for (const j of hit) mark[j] = 1;
      }
    }
    for (let j = 0; j < ix.always.length; j++) mark[ix.always[j]!] = 1;
    for (let i = 0; i < rules.length; i++) {
      if (mark[i] === 0) continue;
      const r = rules[i]!;
      const g = r.guards;
      let pass = true;
      for (let j = 0; j < g.length; j++) {
        if (!g[j]!(vals)) {
          pass = false;
          break;
        }
      }
      if (pass && (r.complete || runRule(r, celCtx(), out))) out.matched.push({ id: r.id, action: r.action, reason: r.reason });
    }
  } else {
    // A derived feature failed: every rule runs in full, as CEL defines it.
    const c = celCtx();
    for (const r of rules) if (runRule(r, c, out)) out.matched.push({ id: r.id, action: r.action, reason: r.reason });
  }
  const first = out.matched[0];
  if (first) {
    out.action = first.action;
    out.rule = first.id;
    out.reason = first.reason;
    return out;
  }
  for (const t of set.thresholds) {
    const s = out.scores[t.score] ?? 0;
    if (s >= t.at_least) {
      out.action = t.action;
      out.rule = `score:${t.score}`;
      out.reason = `${t.score} ${s} >= ${t.at_least}`;
      return out;
    }
  }
  return out;
}

function runRule(r: CompiledRuleSet['rules'][number], ctx: Record<string, unknown>, out: Decision): boolean {
  try {
    return r.cel(ctx) === true;
  } catch (e) {
    out.errors.push(`${r.id}: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

/** The stricter of two actions. */
export function stricter(a: Action, b: Action): Action {
  return ACTIONS.indexOf(a) >= ACTIONS.indexOf(b) ? a : b;
}
