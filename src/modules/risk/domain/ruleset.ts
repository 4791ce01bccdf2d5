/**
 * Rule sets (规则集): versioned documents, validated and compiled once per version. Pure.
 *
 * A document declares, in this order of evaluation:
 *   - `velocity`: count / sum / distinct-count over exact sliding windows, per entity (or pair);
 *   - `features`: derived values, each a CEL expression over the event, the lists, the velocity
 *     features and other derived features (cycles are refused);
 *   - `scorecards`: 0–100 scores, each a weighted sum of bucketed features;
 *   - `rules`: a CEL condition, an action, a priority and a reason;
 *   - `thresholds`: actions taken on a score when no rule matches.
 *
 * Every expression is parsed and type-checked against the declared names at upload: a syntax
 * error, an unknown name or a non-boolean condition refuses the whole version with the path of
 * the offending expression. Evaluation runs the library's compiled expression (no `eval`).
 */
import { Environment } from '@marcbachmann/cel-js';

export const ENTITIES = ['card', 'device', 'ip', 'user', 'phone', 'bank_account', 'merchant'] as const;
export type Entity = (typeof ENTITIES)[number];
export const ACTIONS = ['accept', 'challenge', 'review', 'reject'] as const;
export type Action = (typeof ACTIONS)[number];
export const LIST_KINDS = ['black', 'white', 'grey'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

/** The event fields rules can read, with their CEL types. */
export const EVENT_FIELDS = {
  kind: 'string', // payment | card_consume | refund | ...
  amount: 'int', // minor units
  currency: 'string',
  card: 'string', device: 'string', ip: 'string', user: 'string', phone: 'string', bank_account: 'string', merchant: 'string',
  merchant_mcc: 'string', // the merchant's registered business category
  category: 'string', // the category the transaction declares (goods, MCC of the terminal)
  channel: 'string', // the payment method or instrument
  notify_url_ok: 'bool', // the notification / return URLs are within the merchant's registered domains
  return_url_ok: 'bool',
  failed: 'bool', // an outcome event: the attempt failed
  payee: 'string', // the user receiving the money, when it is a user (transfers, user-to-user payments)
  hour: 'int', // UTC hour of the event
} as const;
export type EventField = keyof typeof EVENT_FIELDS;

/**
 * Names the engine itself provides: the lists the event's values are on; the number of users in
 * the user's related-account component; whether this payment closes a cycle of money among them.
 */
export const ENGINE_FIELDS = { black: 'list<string>', white: 'list<string>', grey: 'list<string>', graph_size: 'int', funds_cycle: 'bool' } as const;

export interface VelocitySpec {
  name: string;
  kind: 'count' | 'sum' | 'distinct';
  /** The entity (or pair of entities) the window is kept per. */
  key: Entity | Entity[];
  /** distinct: what is counted distinctly. */
  of?: Entity;
  /** e.g. "10m", "1h", "24h", "30d" (at most 31 days). */
  window: string;
  /** Only events matching this CEL condition (over the event fields) count. */
  where?: string;
}

export interface FeatureSpec {
  name: string;
  expr: string;
}

export interface Bucket {
  /** Upper bound (exclusive); the last bucket has none. */
  below?: number;
  points: number;
}

export interface ScorecardSpec {
  name: string;
  dimensions: { feature: string; weight: number; buckets: Bucket[] }[];
}

export interface RuleSpec {
  id: string;
  when: string;
  action: Action;
  priority: number;
  reason: string;
}

export interface ThresholdSpec {
  score: string;
  at_least: number;
  action: Exclude<Action, 'accept'>;
}

export interface BreakerSpec {
  /** A scorecard (the merchant's anomaly score). */
  score: string;
  at_least: number;
  /** hold: new transactions go to review; refuse: they are rejected. */
  mode: 'hold' | 'refuse';
  /**
   * After an operator releases a merchant, the score does not trip it again for this long (default
   * 1h): the windows behind the score still hold the burst that tripped it.
   */
  rearm_after?: string;
}

export interface RuleSetDoc {
  name: string;
  description?: string;
  /** The merchant circuit breaker (熔断): trips when the score reaches the threshold. */
  breaker?: BreakerSpec;
  velocity?: VelocitySpec[];
  features?: FeatureSpec[];
  scorecards?: ScorecardSpec[];
  rules: RuleSpec[];
  thresholds?: ThresholdSpec[];
}

// ---- compiled form ----------------------------------------------------------------------------

type Cel = ((ctx: Record<string, unknown>) => unknown) & { ast: AstNode };
interface AstNode {
  op: string;
  args: unknown;
}

export interface CompiledVelocity extends VelocitySpec {
  /** What the window computes: windows are shared by identity (across versions too). */
  id: string;
  index: number;
  windowMs: number;
  keys: Entity[];
  /** The `where` filter over the event's CEL context (a closure for simple shapes, else CEL). */
  filter: ((ctx: Record<string, unknown>) => unknown) | null;
}

/**
 * A cheap necessary condition of a rule (one of its top-level conjuncts), tried before the full
 * expression, over the decision's values by slot: ints as numbers, bools, strings, string lists.
 */
export type Guard = (vals: readonly unknown[]) => boolean;

/**
 * A guard of the form `slot <op> constant` (or `"x" in list`), which the rule index can look up
 * instead of testing. A rule is filed under a list of them: a candidate when any holds (an `||`
 * files each side's key).
 */
export interface IndexKey {
  slot: number;
  op: '<' | '<=' | '>' | '>=' | '==' | 'in';
  c: number | string | boolean;
}

type Keyed = Guard & { key?: IndexKey[] };

/**
 * The key of a conjunction: a side that is list membership (which hardly ever holds) first, else
 * the first side that has one.
 */
function conjunctionKey(keys: readonly (IndexKey[] | undefined)[]): IndexKey[] | undefined {
  return keys.find((k) => k && k.every((x) => x.op === 'in')) ?? keys.find((k) => k !== undefined);
}

export interface CompiledRule extends RuleSpec {
  cel: Cel;
  /** The keys the rule index files the rule under (see conjunctionKey); null: always a candidate. */
  key: IndexKey[] | null;
  /** Necessary conditions (see guardsOf). */
  guards: Guard[];
  /** The guards are the whole condition: no need to run the expression. */
  complete: boolean;
}

export interface CompiledRuleSet {
  doc: RuleSetDoc;
  velocity: CompiledVelocity[];
  /** In dependency order. */
  /** `fast`: the feature is a bool that compiled to a plain closure (no CEL run needed). */
  features: { name: string; cel: Cel; fast: Guard | null }[];
  scorecards: ScorecardSpec[];
  /** By priority, then id. */
  rules: CompiledRule[];
  thresholds: ThresholdSpec[];
  /** The velocity windows' longest span (how much history a store keeps). */
  maxWindowMs: number;
  /** Every name a rule can read, by slot (the guards read values by slot). */
  slots: Map<string, number>;
  /** The CEL type of each slot. */
  slotTypes: string[];
  index: RuleIndex;
}

export class RuleSetError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

const NAME_RE = /^[a-z][a-z0-9_]{0,62}$/;
const RULE_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_EXPR = 4096;

export function parseDuration(s: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(s);
  if (!m) return undefined;
  const ms = Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return ms > 0 && ms <= 31 * 86_400_000 ? ms : undefined;
}

const EVENT_TYPES = new Map<string, string>(Object.entries(EVENT_FIELDS));

function baseEnv(): Environment {
  const env = new Environment({ limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000, maxMapEntries: 100, maxCallArguments: 8 } });
  for (const [k, t] of Object.entries(EVENT_FIELDS)) env.registerVariable(k, t);
  return env;
}

function compileExpr(env: Environment, path: string, text: unknown, want?: 'bool'): { cel: Cel; type: string } {
  if (typeof text !== 'string' || text.trim() === '') throw new RuleSetError(path, 'an expression is required');
  if (text.length > MAX_EXPR) throw new RuleSetError(path, `at most ${MAX_EXPR} characters`);
  let cel: Cel;
  try {
    cel = env.parse(text) as unknown as Cel;
  } catch (e) {
    throw new RuleSetError(path, `invalid CEL: ${(e as Error).message.split('\n')[0]}`);
  }
  const checked = (cel as unknown as { check(): { valid: boolean; type?: string; error?: Error } }).check();
  if (!checked.valid) throw new RuleSetError(path, `invalid CEL: ${(checked.error?.message ?? 'type error').split('\n')[0]}`);
  if (want && checked.type !== want && checked.type !== 'dyn') throw new RuleSetError(path, `must be a ${want} expression, not ${checked.type}`);
  return { cel, type: checked.type ?? 'dyn' };
}

/** Identifiers an expression reads (for dependency order and cycle detection). */
function identifiers(node: unknown, out = new Set<string>()): Set<string> {
  if (node === null || typeof node !== 'object') return out;
  const n = node as AstNode;
  if (n.op === 'id' && typeof n.args === 'string') {
    out.add(n.args);
    return out;
  }
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object' && 'op' in (x as object)) identifiers(x, out);
  };
  walk(n.args);
  return out;
}

function checkName(path: string, name: unknown, taken: Set<string>): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new RuleSetError(path, 'a name of lower-case letters, digits and _ (starting with a letter)');
  if (taken.has(name)) throw new RuleSetError(path, `the name ${name} is already taken`);
  taken.add(name);
  return name;
}

/**
 * An entry of the document must be a JSON object with only the fields its kind has (`description`
 * is allowed everywhere): a typo such as `filter` for `where` would otherwise be ignored silently.
 */
function fields<T>(v: unknown, path: string, allowed: readonly string[]): T {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RuleSetError(path, 'must be an object');
  for (const k of Object.keys(v)) if (k !== 'description' && !allowed.includes(k)) throw new RuleSetError(`${path}.${k}`, `unknown field (the fields are ${allowed.join(', ')})`);
  return v as T;
}

/** Validates and compiles a rule set document; throws RuleSetError with the path of the first problem. */
export function compileRuleSet(raw: unknown): CompiledRuleSet {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RuleSetError('$', 'a rule set is a JSON object');
  const doc = raw as RuleSetDoc;
  for (const k of Object.keys(doc)) if (!['name', 'velocity', 'features', 'scorecards', 'rules', 'thresholds', 'description', 'breaker'].includes(k)) throw new RuleSetError(`$.${k}`, 'unknown field');
  if (typeof doc.name !== 'string' || doc.name.length < 1 || doc.name.length > 100) throw new RuleSetError('$.name', '1-100 characters');
  const arr = <T>(v: T[] | undefined, path: string, max: number): T[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new RuleSetError(path, 'must be a list');
    if (v.length > max) throw new RuleSetError(path, `at most ${max} entries`);
    return v;
  };
  const taken = new Set<string>([...Object.keys(EVENT_FIELDS), ...Object.keys(ENGINE_FIELDS)]);
  const types = new Map<string, string>([...Object.entries(EVENT_FIELDS), ...Object.entries(ENGINE_FIELDS)]);

  // Velocity windows: filters see the event fields only.
  const eventEnv = baseEnv();
  const windowIds = new Map<string, number>();
  const velocity = arr(doc.velocity, '$.velocity', 64).map((raw, i): CompiledVelocity => {
    const p = `$.velocity[${i}]`;
    const v = fields<VelocitySpec>(raw, p, ['name', 'kind', 'key', 'of', 'window', 'where']);
    const name = checkName(`${p}.name`, v.name, taken);
    if (!['count', 'sum', 'distinct'].includes(v.kind)) throw new RuleSetError(`${p}.kind`, 'count, sum or distinct');
    const keys = Array.isArray(v.key) ? v.key : [v.key];
    if (keys.length < 1 || keys.length > 2 || keys.some((k) => !ENTITIES.includes(k))) throw new RuleSetError(`${p}.key`, `one or two of ${ENTITIES.join(', ')}`);
    if (v.kind === 'distinct' && (!v.of || !ENTITIES.includes(v.of))) throw new RuleSetError(`${p}.of`, `distinct counts one of ${ENTITIES.join(', ')}`);
    if (v.kind !== 'distinct' && v.of !== undefined) throw new RuleSetError(`${p}.of`, 'only distinct windows count something distinctly');
    const windowMs = parseDuration(v.window);
    if (windowMs === undefined) throw new RuleSetError(`${p}.window`, 'a duration like 10m, 1h, 24h or 30d (at most 31 days)');
    const cel = v.where === undefined ? null : compileExpr(eventEnv, `${p}.where`, v.where, 'bool').cel;
    // A filter of simple shape runs as a closure over the event's context; anything else in CEL.
    const filter = cel ? (eventFilter(cel.ast, EVENT_TYPES) ?? cel) : null;
    types.set(name, 'int');
    // Windows are kept by what they compute; two names for one window would count each event twice.
    const id = `${v.kind}|${keys.join('+')}|${v.of ?? ''}|${windowMs}|${v.where ?? ''}`;
    const same = windowIds.get(id);
    if (same !== undefined) throw new RuleSetError(p, `computes the same as $.velocity[${same}] (${doc.velocity![same]!.name}); use that name`);
    windowIds.set(id, i);
    return { ...v, name, id, index: i, windowMs, keys, filter };
  });

  // Derived features: dependency order; a cycle is refused with its path.
  const feats = arr(doc.features, '$.features', 256).map((f, i) => fields<FeatureSpec>(f, `$.features[${i}]`, ['name', 'expr']));
  const featNames = new Map<string, number>();
  feats.forEach((f, i) => featNames.set(checkName(`$.features[${i}].name`, f.name, taken), i));
  const deps = feats.map((f, i) => {
    if (typeof f.expr !== 'string') throw new RuleSetError(`$.features[${i}].expr`, 'an expression is required');
    let ast: unknown;
    try {
      ast = (new Environment({ unlistedVariablesAreDyn: true }).parse(f.expr) as unknown as Cel).ast;
    } catch (e) {
      throw new RuleSetError(`$.features[${i}].expr`, `invalid CEL: ${(e as Error).message.split('\n')[0]}`);
    }
    return [...identifiers(ast)].filter((x) => featNames.has(x));
  });
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number, trail: string[]): void => {
    if (state.get(i) === 'done') return;
    if (state.get(i) === 'visiting') throw new RuleSetError(`$.features[${i}].expr`, `cycle in feature definitions: ${[...trail, feats[i]!.name].join(' -> ')}`);
    state.set(i, 'visiting');
    for (const d of deps[i]!) visit(featNames.get(d)!, [...trail, feats[i]!.name]);
    state.set(i, 'done');
    order.push(i);
  };
  feats.forEach((_, i) => visit(i, []));
  const features: { name: string; cel: Cel; fast: Guard | null }[] = [];
  const slotsSoFar = (): Map<string, number> => new Map([...types.keys()].map((k, j) => [k, j]));
  for (const i of order) {
    const env = envWith(types);
    const c = compileExpr(env, `$.features[${i}].expr`, feats[i]!.expr);
    if (!['int', 'bool', 'double', 'string'].includes(c.type)) throw new RuleSetError(`$.features[${i}].expr`, `a feature is an int, double, bool or string, not ${c.type}`);
    types.set(feats[i]!.name, c.type);
    features.push({ name: feats[i]!.name, cel: c.cel, fast: null });
  }

  // Scorecards: dimensions over numeric or boolean features; buckets ascending.
  const scorecards = arr(doc.scorecards, '$.scorecards', 16).map((raw, i) => {
    const p = `$.scorecards[${i}]`;
    const s = fields<ScorecardSpec>(raw, p, ['name', 'dimensions']);
    const name = checkName(`${p}.name`, s.name, taken);
    const dims = arr(s.dimensions, `${p}.dimensions`, 32);
    if (dims.length === 0) throw new RuleSetError(`${p}.dimensions`, 'at least one dimension');
    dims.forEach((raw, j) => {
      const q = `${p}.dimensions[${j}]`;
      const d = fields<ScorecardSpec['dimensions'][number]>(raw, q, ['feature', 'weight', 'buckets']);
      const t = types.get(d.feature);
      if (t === undefined) throw new RuleSetError(`${q}.feature`, `unknown feature ${String(d.feature)}`);
      if (!['int', 'double', 'bool'].includes(t)) throw new RuleSetError(`${q}.feature`, `${d.feature} is a ${t}; dimensions need a number or a bool`);
      if (typeof d.weight !== 'number' || !(d.weight > 0) || d.weight > 1000) throw new RuleSetError(`${q}.weight`, 'a positive number up to 1000');
      const b = arr(d.buckets, `${q}.buckets`, 20);
      if (b.length === 0) throw new RuleSetError(`${q}.buckets`, 'at least one bucket');
      b.forEach((raw, k) => {
        const x = fields<Bucket>(raw, `${q}.buckets[${k}]`, ['below', 'points']);
        if (typeof x.points !== 'number' || x.points < 0 || x.points > 100) throw new RuleSetError(`${q}.buckets[${k}].points`, '0-100');
        const last = k === b.length - 1;
        if (x.below !== undefined && (typeof x.below !== 'number' || !Number.isFinite(x.below))) throw new RuleSetError(`${q}.buckets[${k}].below`, 'a number');
        if (last !== (x.below === undefined)) throw new RuleSetError(`${q}.buckets[${k}].below`, last ? 'the last bucket has no upper bound' : 'every bucket but the last has an upper bound');
        if (!last && k > 0 && !(x.below! > b[k - 1]!.below!)) throw new RuleSetError(`${q}.buckets[${k}].below`, 'upper bounds must increase');
      });
    });
    types.set(name, 'int');
    return { name, dimensions: dims };
  });

  // Rules: boolean conditions over everything declared.
  const ruleEnv = envWith(types);
  const slots = slotsSoFar();
  // Boolean features made of simple comparisons run as closures too (same slots: scorecard names come after).
  for (const f of features) if (types.get(f.name) === 'bool') f.fast = fast(f.cel.ast, types, slots);
  const ids = new Set<string>();
  const rules = arr(doc.rules, '$.rules', 2_000).map((raw, i): CompiledRule => {
    const p = `$.rules[${i}]`;
    const r = fields<RuleSpec>(raw, p, ['id', 'when', 'action', 'priority', 'reason']);
    if (typeof r.id !== 'string' || !RULE_ID_RE.test(r.id)) throw new RuleSetError(`${p}.id`, '1-64 letters, digits, . _ -');
    if (ids.has(r.id)) throw new RuleSetError(`${p}.id`, `duplicate rule id ${r.id}`);
    ids.add(r.id);
    if (!ACTIONS.includes(r.action)) throw new RuleSetError(`${p}.action`, ACTIONS.join(', '));
    if (!Number.isInteger(r.priority) || r.priority < 0 || r.priority > 1_000_000) throw new RuleSetError(`${p}.priority`, 'an integer 0-1000000 (lower goes first)');
    if (typeof r.reason !== 'string' || r.reason.length < 1 || r.reason.length > 500) throw new RuleSetError(`${p}.reason`, '1-500 characters');
    const { cel } = compileExpr(ruleEnv, `${p}.when`, r.when, 'bool');
    return { id: r.id, when: r.when, action: r.action, priority: r.priority, reason: r.reason, cel, ...guardsOf(cel.ast, types, slots) };
  });
  rules.sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const thresholds = arr(doc.thresholds, '$.thresholds', 16).map((raw, i) => {
    const p = `$.thresholds[${i}]`;
    const t = fields<ThresholdSpec>(raw, p, ['score', 'at_least', 'action']);
    if (!scorecards.some((s) => s.name === t.score)) throw new RuleSetError(`${p}.score`, `unknown scorecard ${String(t.score)}`);
    if (typeof t.at_least !== 'number' || t.at_least < 0 || t.at_least > 100) throw new RuleSetError(`${p}.at_least`, '0-100');
    if (!ACTIONS.includes(t.action) || (t.action as Action) === 'accept') throw new RuleSetError(`${p}.action`, 'challenge, review or reject');
    return t;
  });
  if (doc.breaker !== undefined) {
    const b = fields<BreakerSpec>(doc.breaker, '$.breaker', ['score', 'at_least', 'mode', 'rearm_after']);
    if (!scorecards.some((x) => x.name === b.score)) throw new RuleSetError('$.breaker.score', `unknown scorecard ${String(b.score)}`);
    if (typeof b.at_least !== 'number' || b.at_least < 1 || b.at_least > 100) throw new RuleSetError('$.breaker.at_least', '1-100');
    if (b.mode !== 'hold' && b.mode !== 'refuse') throw new RuleSetError('$.breaker.mode', 'hold or refuse');
    if (b.rearm_after !== undefined && parseDuration(b.rearm_after) === undefined) throw new RuleSetError('$.breaker.rearm_after', 'a duration like 30m, 1h or 24h (at most 31 days)');
  }
  // The most severe action first: a score past several thresholds takes the strictest.
  thresholds.sort((a, b) => ACTIONS.indexOf(b.action) - ACTIONS.indexOf(a.action) || b.at_least - a.at_least);
  return { doc, velocity, features, scorecards, rules, thresholds, maxWindowMs: Math.max(0, ...velocity.map((v) => v.windowMs)), slots, slotTypes: [...slots.keys()].map((k) => types.get(k)!), index: buildIndex(rules) };
}

function envWith(types: Map<string, string>): Environment {
  const env = new Environment({ limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 1_000, maxMapEntries: 100, maxCallArguments: 8 } });
  for (const [k, t] of types) env.registerVariable(k, t);
  return env;
}

/**
 * Rules are tested in two steps. Each top-level conjunct of a simple shape — comparisons of a
 * variable with a literal (int ordering; equality of ints, strings and bools), bool variables,
 * `"x" in list`, and !, && and || of these — becomes a plain closure (a guard). A rule with a false
 * guard cannot match: in CEL `false && x` is false whatever x is, even an error. A rule made of
 * guards only matches exactly when they all hold; otherwise the full CEL expression decides. The
 * closures read variables the engine always provides with their declared types; when a derived
 * feature failed to evaluate, the engine runs every rule's full expression instead.
 */
function guardsOf(ast: AstNode, types: Map<string, string>, slots: Map<string, number>): { guards: Guard[]; complete: boolean; key: IndexKey[] | null } {
  const conjuncts: AstNode[] = [];
  const flat = (n: AstNode): void => {
    if (n.op === '&&') (n.args as AstNode[]).forEach(flat);
    else conjuncts.push(n);
  };
  flat(ast);
  const guards: Guard[] = [];
  let complete = true;
  for (const c of conjuncts) {
    const g = fast(c, types, slots);
    if (g) guards.push(g);
    else complete = false;
  }
  return { guards, complete, key: conjunctionKey(guards.map((g) => (g as Keyed).key)) ?? null };
}

/**
 * A velocity filter as a closure over the event's CEL context (ints there are bigint): bool fields,
 * comparisons of a field with a literal, and !, && and || of these; null for anything else (CEL
 * runs it). Agrees with CEL on every event (tested).
 */
function eventFilter(n: AstNode, types: Map<string, string>): ((ctx: Record<string, unknown>) => boolean) | null {
  switch (n.op) {
    case 'id': {
      const name = n.args as string;
      return types.get(name) === 'bool' ? (c) => c[name] === true : null;
    }
    case '!_': {
      const g = eventFilter(n.args as AstNode, types);
      return g ? (c) => !g(c) : null;
    }
    case '&&':
    case '||': {
      const [a, b] = (n.args as AstNode[]).map((x) => eventFilter(x, types));
      if (!a || !b) return null;
      return n.op === '&&' ? (c) => a(c) && b(c) : (c) => a(c) || b(c);
    }
  }
  const cmp = comparison(n);
  if (!cmp) return null;
  const { name, op, k } = cmp;
  const t = types.get(name);
  if (!((t === 'int' && typeof k === 'bigint') || (t === 'string' && typeof k === 'string') || (t === 'bool' && typeof k === 'boolean'))) return null;
  if (t !== 'int' && op !== '==' && op !== '!=') return null;
  switch (op) {
    case '<': return (c) => (c[name] as bigint) < (k as bigint);
    case '<=': return (c) => (c[name] as bigint) <= (k as bigint);
    case '>': return (c) => (c[name] as bigint) > (k as bigint);
    case '>=': return (c) => (c[name] as bigint) >= (k as bigint);
    case '==': return (c) => c[name] === k;
    case '!=': return (c) => c[name] !== k;
    default: return null;
  }
}

/** `variable op literal` (a literal on the left is flipped to the right), or null for any other shape. */
function comparison(n: AstNode): { name: string; op: string; k: unknown } | null {
  if (!(n.op in FLIP)) return null;
  let [a, b] = n.args as [AstNode, AstNode];
  let op = n.op;
  if (a.op === 'value' && b.op === 'id') {
    [a, b] = [b, a];
    op = FLIP[op]!;
  }
  if (a.op !== 'id' || b.op !== 'value') return null;
  return { name: a.args as string, op, k: b.args };
}

const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' };

function fast(n: AstNode, types: Map<string, string>, slots: Map<string, number>): Guard | null {
  switch (n.op) {
    case 'id': {
      const i = slots.get(n.args as string)!;
      if (types.get(n.args as string) !== 'bool') return null;
      return Object.assign((v: readonly unknown[]) => v[i] === true, { key: [{ slot: i, op: '==' as const, c: true }] });
    }
    case '!_': {
      const g = fast(n.args as AstNode, types, slots);
      return g ? (v) => !g(v) : null;
    }
    case '&&':
    case '||': {
      const [a, b] = (n.args as AstNode[]).map((x) => fast(x, types, slots)) as [Keyed | null, Keyed | null];
      if (!a || !b) return null;
      if (n.op === '&&') {
        const key = conjunctionKey([a.key, b.key]);
        const g = (v: readonly unknown[]) => a(v) && b(v);
        return key ? Object.assign(g, { key }) : g;
      }
      const g = (v: readonly unknown[]) => a(v) || b(v);
      return a.key && b.key ? Object.assign(g, { key: [...a.key, ...b.key] }) : g;
    }
    case 'in': {
      const [x, l] = n.args as [AstNode, AstNode];
      if (x.op !== 'value' || typeof x.args !== 'string' || l.op !== 'id' || types.get(l.args as string) !== 'list<string>') return null;
      const i = slots.get(l.args as string)!;
      const s = x.args;
      return Object.assign((v: readonly unknown[]) => (v[i] as string[]).includes(s), { key: [{ slot: i, op: 'in' as const, c: s }] });
    }
  }
  const cmp = comparison(n);
  if (!cmp) return null;
  const { op } = cmp;
  const t = types.get(cmp.name);
  const i = slots.get(cmp.name)!;
  let c = cmp.k;
  if (t === 'int' && typeof c === 'bigint') {
    // Ints travel as numbers: exact below 2^53, which every amount and count is.
    if (c > BigInt(Number.MAX_SAFE_INTEGER) || c < -BigInt(Number.MAX_SAFE_INTEGER)) return null;
    c = Number(c);
  } else if (!((t === 'string' && typeof c === 'string') || (t === 'bool' && typeof c === 'boolean'))) return null;
  if (t !== 'int' && op !== '==' && op !== '!=') return null;
  const k = c as number;
  const keyed = (g: Guard): Guard => Object.assign(g, { key: [{ slot: i, op: op as IndexKey['op'], c: c as IndexKey['c'] }] });
  switch (op) {
    case '<': return keyed((v) => (v[i] as number) < k);
    case '<=': return keyed((v) => (v[i] as number) <= k);
    case '>': return keyed((v) => (v[i] as number) > k);
    case '>=': return keyed((v) => (v[i] as number) >= k);
    case '==': return keyed((v) => v[i] === c);
    case '!=': return (v) => v[i] !== c;
    default: return null;
  }
}

/**
 * The rule index: rules filed under their index key, so a decision finds the rules whose key holds
 * by binary search (ordering keys) or one lookup (equality) instead of testing every rule. Rules
 * without a key are always candidates. Candidates are then tested in full, in priority order.
 */
export interface RuleIndex {
  ranges: { slot: number; op: '<' | '<=' | '>' | '>='; cs: Float64Array; rules: Int32Array }[];
  equal: { slot: number; map: Map<unknown, number[]> }[];
  /** `"x" in list`: per list slot, the rules filed under each member. */
  member: { slot: number; map: Map<unknown, number[]> }[];
  always: Int32Array;
}

export function buildIndex(rules: readonly CompiledRule[]): RuleIndex {
  const ranges = new Map<string, { slot: number; op: '<' | '<=' | '>' | '>='; items: [number, number][] }>();
  const equal = new Map<number, Map<unknown, number[]>>();
  const member = new Map<number, Map<unknown, number[]>>();
  const always: number[] = [];
  const file = (by: Map<number, Map<unknown, number[]>>, k: IndexKey, idx: number) => {
    let m = by.get(k.slot);
    if (!m) by.set(k.slot, (m = new Map()));
    m.set(k.c, [...(m.get(k.c) ?? []), idx]);
  };
  rules.forEach((r, idx) => {
    if (!r.key) return always.push(idx);
    for (const k of r.key) {
      if (k.op === '==') file(equal, k, idx);
      else if (k.op === 'in') file(member, k, idx);
      else {
        const id = `${k.slot}${k.op}`;
        let g = ranges.get(id);
        if (!g) ranges.set(id, (g = { slot: k.slot, op: k.op, items: [] }));
        g.items.push([k.c as number, idx]);
      }
    }
  });
  return {
    ranges: [...ranges.values()].map((g) => {
      g.items.sort((a, b) => a[0] - b[0]);
      return { slot: g.slot, op: g.op, cs: Float64Array.from(g.items.map((x) => x[0])), rules: Int32Array.from(g.items.map((x) => x[1])) };
    }),
    equal: [...equal].map(([slot, map]) => ({ slot, map })),
    member: [...member].map(([slot, map]) => ({ slot, map })),
    always: Int32Array.from(always),
  };
}

/** How many of the ascending `cs` are < x (strict) or <= x. */
export function countBelow(cs: Float64Array, x: number, inclusive: boolean): number {
  let lo = 0;
  let hi = cs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (inclusive ? cs[mid]! <= x : cs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
