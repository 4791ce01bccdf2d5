/**
 * Risk engine benchmark, in one process: a rule set of R rules over 10 velocity windows, black /
 * white / grey lists of 1,000,000 entries, and N synthetic payment events over 24 hours (30,000 users
 * with their own cards and devices, IPs shared by a few users, 500 merchants, amounts skewed small). Each decision is the
 * engine's whole path — the event's context, list lookups, the velocity observations (in-memory
 * store), derived features, scorecards and every rule — timed one by one. The rules are generated
 * from templates with varied thresholds; about one in ten has no cheap guard and is evaluated in full
 * for every event.
 */
import { performance } from 'node:perf_hooks';
import { baseContext, decide, observeInMemory, type RiskEvent } from '../src/modules/risk/domain/engine.js';
import { ListIndex } from '../src/modules/risk/domain/lists.js';
import { compileRuleSet, ENTITIES, type RuleSetDoc } from '../src/modules/risk/domain/ruleset.js';
import { MemoryVelocityStore } from '../src/modules/risk/domain/velocity.js';
import { percentile, round } from './support.js';

export interface RiskBenchOptions {
  rules: number;
  events: number;
  listEntries: number;
}

/** A deterministic generator (the same run every time). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function benchRuleSet(rules: number): RuleSetDoc {
  const templates = [
    (i: number) => `card_tx_1h > ${10 + (i % 50)} && amount >= ${(i % 40) * 100}`,
    (i: number) => `device_cards_24h >= ${3 + (i % 10)} && channel == "card"`,
    (i: number) => `amount > ${50_000 + i * 1_000} && user_device_30d == 1`,
    (i: number) => `card_amount_24h > ${500_000 + i * 1_000} && kind == "payment"`,
    (i: number) => `merchant_amount_10m > ${2_000_000 + i * 10_000} && amount > ${i}`,
    (i: number) => `ip_users_1h > ${5 + (i % 20)} && hour < ${6 + (i % 6)}`,
    (i: number) => `tx_score >= ${70 + (i % 30)} && amount > ${i * 10}`,
    (i: number) => `card_fail_1h >= ${3 + (i % 5)} && amount < ${1_000 + i}`,
    (i: number) => `small_burst && merchant_tx_24h > ${1_000 + i}`,
    // An || of guards: filed in the rule index under each side's key (the grey-list membership and
    // the device count), so it is tested only when one of them holds.
    (i: number) => `"device" in grey && amount > ${i * 10} || device_tx_1m > ${20 + (i % 10)}`,
  ];
  const actions = ['reject', 'review', 'challenge'] as const;
  return {
    name: `bench-${rules}`,
    velocity: [
      { name: 'card_tx_1h', kind: 'count', key: 'card', window: '1h' },
      { name: 'card_amount_24h', kind: 'sum', key: 'card', window: '24h' },
      { name: 'card_fail_1h', kind: 'count', key: 'card', window: '1h', where: 'failed' },
      { name: 'device_cards_24h', kind: 'distinct', key: 'device', of: 'card', window: '24h' },
      { name: 'device_tx_1m', kind: 'count', key: 'device', window: '1m' },
      { name: 'ip_users_1h', kind: 'distinct', key: 'ip', of: 'user', window: '1h' },
      { name: 'user_tx_10m', kind: 'count', key: 'user', window: '10m' },
      { name: 'user_device_30d', kind: 'count', key: ['user', 'device'], window: '30d' },
      { name: 'merchant_amount_10m', kind: 'sum', key: 'merchant', window: '10m' },
      { name: 'merchant_tx_24h', kind: 'count', key: 'merchant', window: '24h' },
    ],
    features: [{ name: 'small_burst', expr: 'amount < 200 && user_tx_10m >= 5' }],
    scorecards: [{
      name: 'tx_score',
      dimensions: [
        { feature: 'card_tx_1h', weight: 3, buckets: [{ below: 3, points: 0 }, { below: 10, points: 40 }, { points: 100 }] },
        { feature: 'device_cards_24h', weight: 4, buckets: [{ below: 2, points: 0 }, { below: 4, points: 50 }, { points: 100 }] },
        { feature: 'amount', weight: 2, buckets: [{ below: 10_000, points: 0 }, { below: 100_000, points: 30 }, { points: 80 }] },
        { feature: 'small_burst', weight: 1, buckets: [{ below: 1, points: 0 }, { points: 100 }] },
      ],
    }],
    rules: Array.from({ length: rules }, (_, i) => ({ id: `R${String(i).padStart(4, '0')}`, when: templates[i % templates.length]!(i), action: actions[i % actions.length]!, priority: i, reason: `generated rule ${i}` })),
    thresholds: [{ score: 'tx_score', at_least: 90, action: 'review' }],
  };
}

export function runRiskBench(o: RiskBenchOptions) {
  if (o.rules < 1 || o.events < 1) throw new Error('need rules >= 1 and events >= 1');
  const set = compileRuleSet(benchRuleSet(o.rules));
  const rand = rng(42);
  const lists = new ListIndex();
  const kinds = ['black', 'white', 'grey'] as const;
  for (let i = 0; i < o.listEntries; i++) {
    const entity = ENTITIES[i % ENTITIES.length]!;
    // Mostly values no event carries; one in a thousand names a value events do carry.
    const value = i % 1000 === 0 ? `${entity.slice(0, 2)}${Math.floor(rand() * 30_000)}` : `x${entity}${i}`;
    lists.put({ kind: kinds[i % 7 === 0 ? 1 : i % 3 === 0 ? 2 : 0]!, entity, value, expiresAt: i % 5 === 0 ? Date.now() + 86_400_000 : null });
  }
  const store = new MemoryVelocityStore();
  // Customers behave like customers: each of 30,000 users pays with their own card (one in five
  // has a second), from their own device (one in ten also uses a second), behind an IP that a
  // couple of users share; merchants are random. Events are spread over 24 hours.
  const t0 = Date.now() - 86_400_000;
  const events: RiskEvent[] = Array.from({ length: o.events }, (_, i) => {
    const u = Math.floor(rand() * 30_000);
    return {
      id: `e${i}`, kind: 'payment', at: t0 + Math.floor((i * 86_400_000) / o.events),
      amount: BigInt(1 + Math.floor(rand() ** 3 * 200_000)), currency: 'CNY', channel: rand() < 0.6 ? 'card' : 'wechat',
      card: u % 5 === 0 && rand() < 0.5 ? `cb${u}` : `ca${u}`, device: u % 10 === 0 && rand() < 0.5 ? `db${u}` : `de${u}`, ip: `ip${u % 20_000}`,
      user: `us${u}`, merchant: `me${Math.floor(rand() * 500)}`, failed: rand() < 0.03,
    };
  });
  const lat = new Float64Array(events.length);
  const actions = { accept: 0, challenge: 0, review: 0, reject: 0 };
  // Warm-up (JIT), not measured, on separate keys.
  for (let i = 0; i < Math.min(5_000, events.length); i++) {
    const ev = { ...events[i]!, id: `w${i}`, card: `w${events[i]!.card}`, device: `w${events[i]!.device}`, user: `w${events[i]!.user}`, ip: `w${events[i]!.ip}`, merchant: `w${events[i]!.merchant}` };
    const base = baseContext(ev);
    decide(set, ev, base, observeInMemory(store, set.velocity, ev, base), lists);
  }
  const started = performance.now();
  for (let i = 0; i < events.length; i++) {
    const s = performance.now();
    const ev = events[i]!;
    const base = baseContext(ev);
    const d = decide(set, ev, base, observeInMemory(store, set.velocity, ev, base), lists);
    actions[d.action]++;
    lat[i] = performance.now() - s;
  }
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Array.from(lat).sort((a, b) => a - b);
  return {
    bench: 'risk' as const, decisions_per_s: Math.round(events.length / elapsed), p50_ms: round(percentile(sorted, 50), 4), p99_ms: round(percentile(sorted, 99), 4),
    rules: o.rules, velocity_windows: set.velocity.length, list_entries: lists.size(), events: events.length, actions,
  };
}
