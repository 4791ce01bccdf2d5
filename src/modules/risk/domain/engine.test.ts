// The risk engine's pure core: rule set validation, exact windows, list order, scorecards, and the
// fast paths (guards, rule index) agreeing with plain CEL evaluation of every rule.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baseContext, decide, observationsFor, type RiskEvent } from './engine.js';
import { ListIndex } from './lists.js';
import { compileRuleSet, RuleSetError, type RuleSetDoc } from './ruleset.js';
import { MemoryVelocityStore, type Observation } from './velocity.js';

const minimal = (rules: RuleSetDoc['rules'], extra: Partial<RuleSetDoc> = {}): RuleSetDoc => ({ name: 't', rules, ...extra });
const rule = (id: string, when: string, action: 'reject' | 'review' | 'challenge' | 'accept' = 'reject', priority = 10) => ({ id, when, action, priority, reason: `${id} fired` });

function refused(doc: unknown): string {
  try {
    compileRuleSet(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(RuleSetError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('rule set validation', () => {
  it('refuses invalid CEL, unknown names, non-boolean conditions and feature cycles with the path', () => {
    expect(refused(minimal([rule('a', 'amount >')]))).toMatch(/^\$\.rules\[0\]\.when: invalid CEL/);
    expect(refused(minimal([rule('a', 'amount > 1'), rule('b', 'nope > 1')]))).toMatch(/^\$\.rules\[1\]\.when: invalid CEL: .*nope/);
    expect(refused(minimal([rule('a', 'amount + 1')]))).toMatch(/^\$\.rules\[0\]\.when: must be a bool expression, not int/);
    expect(refused(minimal([rule('a', 'amount > "x"')]))).toMatch(/\$\.rules\[0\]\.when: invalid CEL/);
    expect(refused(minimal([], { features: [{ name: 'a', expr: 'b + 1' }, { name: 'b', expr: 'c * 2' }, { name: 'c', expr: 'a - 1' }] }))).toMatch(/cycle in feature definitions: a -> b -> c -> a/);
    expect(refused(minimal([], { velocity: [{ name: 'v', kind: 'count', key: 'card', window: '45d' }] }))).toMatch(/^\$\.velocity\[0\]\.window/);
    expect(refused(minimal([], { velocity: [{ name: 'v', kind: 'distinct', key: 'card', window: '1h' }] }))).toMatch(/^\$\.velocity\[0\]\.of/);
    expect(refused(minimal([], { velocity: [{ name: 'amount', kind: 'count', key: 'card', window: '1h' }] }))).toMatch(/already taken/);
    expect(refused(minimal([rule('a', 'true'), rule('a', 'false')]))).toMatch(/duplicate rule id a/);
    expect(refused(minimal([], { scorecards: [{ name: 's', dimensions: [{ feature: 'nope', weight: 1, buckets: [{ points: 1 }] }] }] }))).toMatch(/unknown feature nope/);
    expect(refused(minimal([], { scorecards: [{ name: 's', dimensions: [{ feature: 'amount', weight: 1, buckets: [{ below: 5, points: 1 }, { below: 3, points: 2 }, { points: 3 }] }] }] }))).toMatch(/upper bounds must increase/);
    expect(refused({ name: 't', rules: [], extra: 1 })).toMatch(/^\$\.extra: unknown field/);
  });

  it('refuses entries that are not objects, unknown fields at every level, and one window under two names', () => {
    for (const [field, path] of [['velocity', '$.velocity[0]'], ['features', '$.features[0]'], ['scorecards', '$.scorecards[0]'], ['rules', '$.rules[0]'], ['thresholds', '$.thresholds[0]']] as const) {
      expect(refused({ name: 't', rules: [], [field]: [null] })).toBe(`${path}: must be an object`);
      expect(refused({ name: 't', rules: [], [field]: [[1]] })).toBe(`${path}: must be an object`);
    }
    const dims = (d: unknown) => minimal([], { scorecards: [{ name: 's', dimensions: [d] }] } as never);
    expect(refused(dims(null))).toBe('$.scorecards[0].dimensions[0]: must be an object');
    expect(refused(dims({ feature: 'amount', weight: 1, buckets: [null] }))).toBe('$.scorecards[0].dimensions[0].buckets[0]: must be an object');
    expect(refused(dims({ feature: 'amount', weight: 1, buckets: [{ below: '5', points: 1 }, { points: 2 }] }))).toMatch(/buckets\[0\]\.below: a number/);
    expect(refused(minimal([], { breaker: null } as never))).toBe('$.breaker: must be an object');
    // A typo is refused, not ignored: `filter` for `where` would count every event.
    expect(refused(minimal([], { velocity: [{ name: 'v', kind: 'count', key: 'card', window: '1h', filter: 'amount < 500' }] } as never))).toMatch(/^\$\.velocity\[0\]\.filter: unknown field/);
    expect(refused(minimal([{ ...rule('a', 'true'), whenn: 'x' }] as never))).toMatch(/^\$\.rules\[0\]\.whenn: unknown field/);
    expect(refused(minimal([], { features: [{ name: 'f', expr: '1', typ: 'int' }] } as never))).toMatch(/^\$\.features\[0\]\.typ: unknown field/);
    const card = [{ name: 's', dimensions: [{ feature: 'amount', weight: 1, buckets: [{ points: 1 }] }] }];
    expect(refused(minimal([], { scorecards: card, breaker: { score: 's', at_least: 50, mode: 'hold', rearm_after: 'soon' } }))).toMatch(/^\$\.breaker\.rearm_after: a duration/);
    // The same window under two names would count each event twice in one store and once in another.
    expect(refused(minimal([], { velocity: [{ name: 'a', kind: 'count', key: 'card', window: '1h' }, { name: 'b', kind: 'count', key: 'card', window: '60m' }] }))).toBe('$.velocity[1]: computes the same as $.velocity[0] (a); use that name');
    // `description` is allowed on every entry.
    expect(() => compileRuleSet(minimal([{ ...rule('a', 'true'), description: 'why' }] as never, { velocity: [{ name: 'v', kind: 'count', key: 'card', window: '1h', description: 'd' } as never] }))).not.toThrow();
  });

  it('orders derived features by their dependencies', () => {
    const set = compileRuleSet(minimal([rule('a', 'c > 10')], { features: [{ name: 'c', expr: 'b * 2' }, { name: 'b', expr: 'amount + 1' }] }));
    expect(set.features.map((f) => f.name)).toEqual(['b', 'c']);
    const ev: RiskEvent = { id: 'e', kind: 'payment', at: 0, amount: 5n };
    expect(decide(set, ev, baseContext(ev), [], new ListIndex()).action).toBe('reject');
  });
});

describe('exact sliding windows', () => {
  const W = 60_000;
  const o = (kind: Observation['kind'], at: number, value = 1, member = ''): Observation => ({ window: `${kind}|k|${W}`, kind, windowMs: W, key: 'k', at, value, member, eventId: `e${at}${member}`, add: true });

  it('counts (u - W, u]: an event exactly W old no longer counts', () => {
    const s = new MemoryVelocityStore();
    expect(s.observe([o('count', 1_000)])).toEqual([1]);
    expect(s.observe([o('count', 1_000 + W - 1)])).toEqual([2]);
    expect(s.observe([o('count', 1_000 + W)])).toEqual([2]); // the first is exactly W old
    expect(s.observe([o('count', 1_000 + 2 * W)])).toEqual([1]);
  });

  it('sums and counts distinct members over the same edges, and answers late events over their own window', () => {
    const s = new MemoryVelocityStore();
    expect(s.observe([o('sum', 0, 100)])).toEqual([100]);
    expect(s.observe([o('sum', W - 1, 50)])).toEqual([150]);
    expect(s.observe([o('sum', W, 7)])).toEqual([57]);
    const d = new MemoryVelocityStore();
    expect(d.observe([o('distinct', 0, 1, 'a')])).toEqual([1]);
    expect(d.observe([o('distinct', 10, 1, 'a')])).toEqual([1]);
    expect(d.observe([o('distinct', 20, 1, 'b')])).toEqual([2]);
    expect(d.observe([o('distinct', W + 10, 1, 'c')])).toEqual([2]); // both sightings of a are W old or more: b, c
    // A late event (timed before the newest) is answered over its own window (t - W, t]: a@10, b@20 and itself.
    expect(d.observe([o('distinct', W + 5, 1, 'd')])).toEqual([3]);
    // ... and counts for later events as usual: (W + 20 - W, W + 20] holds c, d and e.
    expect(d.observe([o('distinct', W + 20, 1, 'e')])).toEqual([3]);
  });

  it('counts a retried event once while it is kept, and only reads an event later than its window plus the grace', () => {
    const s = new MemoryVelocityStore();
    const ev = (id: string, at: number, v: number): Observation[] => [{ ...o('count', at), eventId: id }, { ...o('sum', at, v), eventId: id }];
    expect(s.observe(ev('a', 1_000, 100))).toEqual([1, 100]);
    expect(s.observe(ev('b', 2_000, 50))).toEqual([2, 150]);
    expect(s.observe(ev('a', 3_000, 100))).toEqual([2, 150]); // the retry of a
    expect(s.observe(ev('a', 3_000, 100))).toEqual([2, 150]); // and again, straight after
    // Far later than the window plus the grace: it reads what is kept over its own window (nothing).
    expect(s.observe(ev('z', 2 * W + 120_000, 5))).toEqual([1, 5]);
    expect(s.observe(ev('old', 1_000, 7))).toEqual([0, 0]);
    expect(s.observe(ev('y', 2 * W + 120_001, 1))).toEqual([2, 6]); // the ancient one was not kept
  });

  it('remembers which of many windows (more than 32) counted an event', () => {
    const s = new MemoryVelocityStore();
    const obs = (id: string, at: number): Observation[] => Array.from({ length: 40 }, (_, i) => ({ ...o('count', at), window: `w${i}`, eventId: id, add: i % 3 !== 0 }));
    expect(s.observe(obs('a', 1_000))).toEqual(Array.from({ length: 40 }, (_, i) => (i % 3 !== 0 ? 1 : 0)));
    // The retry counts nowhere again; an outcome under the same id that every window takes counts
    // only where the first observation did not.
    expect(s.observe(obs('a', 2_000))).toEqual(Array.from({ length: 40 }, (_, i) => (i % 3 !== 0 ? 1 : 0)));
    expect(s.observe(obs('a', 3_000).map((x) => ({ ...x, add: true })))).toEqual(Array.from({ length: 40 }, () => 1));
  });

  it('agrees with a brute-force count for random event streams, late events (under a minute) and reads included', () => {
    fc.assert(fc.property(fc.array(fc.record({ dt: fc.integer({ min: -30_000, max: 40_000 }), member: fc.constantFrom('a', 'b', 'c', 'd'), v: fc.integer({ min: 1, max: 1000 }), add: fc.boolean() }), { maxLength: 60 }), (steps) => {
      const s = new MemoryVelocityStore();
      const seen: { at: number; member: string; v: number }[] = [];
      let at = 0;
      let newest = 0;
      for (const [i, st] of steps.entries()) {
        at = Math.max(0, at + st.dt, newest - 50_000);
        newest = Math.max(newest, at);
        // An observation that does not add only reads the window at its time.
        if (st.add) seen.push({ at, member: st.member, v: st.v });
        const inWin = seen.filter((x) => x.at > at - W && x.at <= at);
        const [c, sum, dist] = s.observe([
          { ...o('count', at), window: 'c', add: st.add, eventId: `p${i}` }, { ...o('sum', at, st.v), window: 's', add: st.add, eventId: `p${i}` }, { ...o('distinct', at, 1, st.member), window: 'd', add: st.add, eventId: `p${i}` },
        ]);
        expect(c).toBe(inWin.length);
        expect(sum).toBe(inWin.reduce((a, x) => a + x.v, 0));
        expect(dist).toBe(new Set(inWin.map((x) => x.member)).size);
      }
    }), { numRuns: 200 });
  });
});

describe('decisions', () => {
  const doc: RuleSetDoc = {
    name: 'd',
    velocity: [{ name: 'card_tx', kind: 'count', key: 'card', window: '1h' }, { name: 'device_cards', kind: 'distinct', key: 'device', of: 'card', window: '24h' }],
    scorecards: [{ name: 'tx_score', dimensions: [{ feature: 'card_tx', weight: 1, buckets: [{ below: 3, points: 0 }, { points: 100 }] }, { feature: 'amount', weight: 1, buckets: [{ below: 1000, points: 0 }, { points: 100 }] }] }],
    rules: [rule('many-cards', 'device_cards >= 3', 'reject', 1), rule('big', 'amount >= 100000', 'review', 5)],
    thresholds: [{ score: 'tx_score', at_least: 90, action: 'challenge' }],
  };
  const set = compileRuleSet(doc);
  const run = (store: MemoryVelocityStore, lists: ListIndex, ev: RiskEvent) => {
    const base = baseContext(ev);
    return decide(set, ev, base, store.observe(observationsFor(set.velocity, ev, base)), lists);
  };

  it('black list rejects, white list accepts before any rule, expired entries do not count', () => {
    const lists = new ListIndex();
    lists.put({ kind: 'black', entity: 'ip', value: '6.6.6.6', expiresAt: null });
    lists.put({ kind: 'white', entity: 'user', value: 'vip', expiresAt: null });
    lists.put({ kind: 'black', entity: 'card', value: 'old', expiresAt: 1_000 });
    const s = new MemoryVelocityStore();
    expect(run(s, lists, { id: '1', kind: 'payment', at: 10, amount: 500_000n, ip: '6.6.6.6', user: 'vip' })).toMatchObject({ action: 'reject', rule: 'list:black' });
    expect(run(s, lists, { id: '2', kind: 'payment', at: 10, amount: 500_000n, user: 'vip' })).toMatchObject({ action: 'accept', rule: 'list:white', matched: [] });
    expect(run(s, lists, { id: '3', kind: 'payment', at: 2_000, amount: 5n, card: 'old' })).toMatchObject({ action: 'accept', rule: null });
  });

  it('the first rule by priority decides and every match is logged; scores decide when no rule matches', () => {
    const s = new MemoryVelocityStore();
    const l = new ListIndex();
    for (const c of ['c1', 'c2']) expect(run(s, l, { id: c, kind: 'payment', at: 100, amount: 200_000n, card: c, device: 'd' }).rule).toBe('big');
    const third = run(s, l, { id: 'c3', kind: 'payment', at: 200, amount: 200_000n, card: 'c3', device: 'd' });
    expect(third).toMatchObject({ action: 'reject', rule: 'many-cards' });
    expect(third.matched.map((m) => m.id)).toEqual(['many-cards', 'big']);
    expect(third.features).toMatchObject({ card_tx: 1, device_cards: 3 });
    // Three small payments on one card: tx_score = (100 + 0) / 2 = 50, under the threshold; a large fourth: 100.
    for (let i = 0; i < 3; i++) run(s, l, { id: `k${i}`, kind: 'payment', at: 300 + i, amount: 10n, card: 'k' });
    expect(run(s, l, { id: 'k3', kind: 'payment', at: 310, amount: 5_000n, card: 'k' })).toMatchObject({ action: 'challenge', rule: 'score:tx_score', scores: { tx_score: 100 } });
  });
});

describe('filtered windows', () => {
  it('an outcome observed under the decision\'s event id counts where the decision did not (a retry of the decision nowhere)', () => {
    const set = compileRuleSet(minimal([], { velocity: [{ name: 'fails', kind: 'count', key: 'card', window: '1h', where: 'failed' }, { name: 'tx', kind: 'count', key: 'card', window: '1h' }] }));
    const store = new MemoryVelocityStore();
    const obs = (ev: RiskEvent) => store.observe(observationsFor(set.velocity, ev, baseContext(ev)));
    for (let i = 0; i < 3; i++) {
      const ev: RiskEvent = { id: `pay-${i}`, kind: 'payment', at: 1_000 + i, amount: 100n, card: 'c' };
      expect(obs(ev)).toEqual([i, i + 1]);
      expect(obs(ev)).toEqual([i, i + 1]); // the decision asked again: a retry
      // The attempt failed: the caller feeds the outcome under the same id. It counts where the
      // decision did not (the failures), not again where it did (the attempts).
      expect(obs({ ...ev, failed: true, at: ev.at + 1 })).toEqual([i + 1, i + 1]);
    }
  });

  it('an event the filter excludes is not counted but reads the window as it stands', () => {
    const set = compileRuleSet(minimal([], { velocity: [{ name: 'tiny', kind: 'count', key: 'merchant', window: '10m', where: 'amount < 100' }] }));
    const store = new MemoryVelocityStore();
    const at = (i: number, amount: bigint) => {
      const ev: RiskEvent = { id: `f${i}`, kind: 'payment', at: 1_000 + i, amount, merchant: 'm' };
      const base = baseContext(ev);
      return decide(set, ev, base, store.observe(observationsFor(set.velocity, ev, base)), new ListIndex()).features['tiny'];
    };
    expect([at(1, 50n), at(2, 60n), at(3, 500n), at(4, 10n), at(5, 900n)]).toEqual([1, 2, 2, 3, 3]);
  });

  it('a filter that fails at run time does not count the event and does not fail the decision', () => {
    const set = compileRuleSet(minimal([rule('BIG', 'amount > 1000')], { velocity: [{ name: 'odd', kind: 'count', key: 'merchant', window: '10m', where: 'amount / (amount - 100) > 0' }] }));
    const store = new MemoryVelocityStore();
    const run = (i: number, amount: bigint) => {
      const ev: RiskEvent = { id: `x${i}`, kind: 'payment', at: 1_000 + i, amount, merchant: 'm' };
      const base = baseContext(ev);
      return decide(set, ev, base, store.observe(observationsFor(set.velocity, ev, base)), new ListIndex());
    };
    expect(run(1, 200n).features['odd']).toBe(1);
    const d = run(2, 100n); // division by zero in the filter
    expect(d.features['odd']).toBe(1);
    expect(run(3, 5000n)).toMatchObject({ action: 'reject', rule: 'BIG', features: { odd: 2 } });
  });
});

describe('the in-memory store keeps idle keys through the late-event grace', () => {
  it('a late event still sees what its key held when the sweep went past the window', () => {
    const W = 60_000;
    const s = new MemoryVelocityStore();
    const ob = (key: string, at: number, id: string): Observation => ({ window: `count|k||${W}|`, kind: 'count', windowMs: W, key, at, value: 1, member: '', eventId: id, add: true });
    expect(s.observe([ob('idle', 0, 'a')])).toEqual([1]);
    // Other keys move time on to 61 s, and the sweep visits every key.
    for (let i = 0; i < 50; i++) s.observe([ob(`busy${i}`, W + 1_000, `b${i}`)]);
    // A payment timed 59 s (2 s late) still has the one at 0 in its window (-1 s, 59 s].
    expect(s.observe([ob('idle', W - 1_000, 'c')])).toEqual([2]);
  });
});

describe('fast paths agree with CEL', () => {
  const ints = ['amount', 'v1', 'v2', 'hour'] as const;
  const atom = fc.oneof(
    fc.record({ k: fc.constantFrom(...ints), op: fc.constantFrom('<', '<=', '>', '>=', '==', '!='), c: fc.integer({ min: 0, max: 20 }), flip: fc.boolean() }).map((a) => (a.flip ? `${a.c} ${a.op} ${a.k}` : `${a.k} ${a.op} ${a.c}`)),
    fc.constantFrom('channel == "card"', 'channel != "card"', '"device" in grey', 'failed', '!failed', 'f1', '!f1', 'v1 + v2 > 10', 'amount % 3 == 0'),
  );
  const expr: fc.Arbitrary<string> = fc.letrec((tie) => ({
    e: fc.oneof({ depthSize: 'small' }, atom, fc.tuple(tie('e'), fc.constantFrom('&&', '||'), tie('e')).map(([a, op, b]) => `(${a as string} ${op} ${b as string})`)),
  })).e as fc.Arbitrary<string>;

  it('matches exactly the rules a plain CEL evaluation matches', () => {
    fc.assert(fc.property(fc.array(expr, { minLength: 1, maxLength: 12 }), fc.array(fc.record({ amount: fc.integer({ min: 0, max: 20 }), v: fc.integer({ min: 0, max: 20 }), card: fc.constantFrom('a', 'b'), channel: fc.constantFrom('card', 'wechat'), failed: fc.boolean(), grey: fc.boolean() }), { minLength: 1, maxLength: 6 }), (whens, evs) => {
      const set = compileRuleSet({
        name: 'p', velocity: [{ name: 'v1', kind: 'count', key: 'card', window: '1h' }, { name: 'v2', kind: 'sum', key: 'card', window: '1h' }],
        features: [{ name: 'f1', expr: 'amount > 10 && v1 >= 2' }],
        rules: whens.map((w, i) => rule(`r${i}`, w, 'review', i)),
      });
      const lists = new ListIndex();
      const store = new MemoryVelocityStore();
      evs.forEach((e, i) => {
        const ev: RiskEvent = { id: `e${i}`, kind: 'payment', at: 1_000 + i, amount: BigInt(e.amount), card: e.card, channel: e.channel, failed: e.failed, device: e.grey ? 'g' : 'n' };
        if (e.grey) lists.put({ kind: 'grey', entity: 'device', value: 'g', expiresAt: null });
        const base = baseContext(ev);
        const vel = store.observe(observationsFor(set.velocity, ev, base));
        const d = decide(set, ev, base, vel, lists);
        // The reference: every rule's CEL expression on a full context.
        const ctx: Record<string, unknown> = { ...baseContext(ev), black: [], white: [], grey: lists.lookup('device', ev.device!, ev.at).grey ? ['device'] : [], graph_size: 1n, v1: BigInt(vel[0]!), v2: BigInt(vel[1]!) };
        ctx['f1'] = set.features[0]!.cel(ctx);
        const expected = set.rules.filter((r) => r.cel(ctx) === true).map((r) => r.id);
        expect(d.matched.map((m) => m.id)).toEqual(expected);
      });
    }), { numRuns: 300 });
  });
});

describe('velocity filters as closures agree with CEL', () => {
  const atom = fc.oneof(
    fc.record({ k: fc.constantFrom('amount', 'hour'), op: fc.constantFrom('<', '<=', '>', '>=', '==', '!='), c: fc.integer({ min: 0, max: 30 }), flip: fc.boolean() }).map((a) => (a.flip ? `${a.c} ${a.op} ${a.k}` : `${a.k} ${a.op} ${a.c}`)),
    fc.constantFrom('channel == "card"', '"card" != channel', 'failed', '!failed', 'notify_url_ok == false', 'kind == "refund"', 'amount % 2 == 0'),
  );
  const expr: fc.Arbitrary<string> = fc.letrec((tie) => ({
    e: fc.oneof({ depthSize: 'small' }, atom, tie('e').map((x) => `!(${x as string})`), fc.tuple(tie('e'), fc.constantFrom('&&', '||'), tie('e')).map(([a, op, b]) => `(${a as string} ${op} ${b as string})`)),
  })).e as fc.Arbitrary<string>;

  it('counts exactly the events the CEL expression selects', () => {
    fc.assert(fc.property(expr, fc.array(fc.record({ amount: fc.integer({ min: 0, max: 30 }), hour: fc.integer({ min: 0, max: 23 }), channel: fc.constantFrom('card', 'wechat'), failed: fc.boolean(), notify: fc.boolean(), kind: fc.constantFrom('payment', 'refund') }), { minLength: 1, maxLength: 12 }), (where, evs) => {
      // One window per event, so its count is 1 exactly when the filter selects the event.
      const set = compileRuleSet(minimal([rule('W', where)], { velocity: [{ name: 'w', kind: 'count', key: 'merchant', window: '1h', where }] }));
      const store = new MemoryVelocityStore();
      evs.forEach((e, i) => {
        const ev: RiskEvent = { id: `e${i}`, kind: e.kind, at: e.hour * 3_600_000 + 60_000, amount: BigInt(e.amount), merchant: `m${i}`, channel: e.channel, failed: e.failed, notify_url_ok: e.notify };
        const base = baseContext(ev);
        // The same expression as a rule, evaluated by CEL itself.
        let selected: boolean;
        try {
          selected = set.rules[0]!.cel({ ...base }) === true;
        } catch {
          selected = false;
        }
        expect(store.observe(observationsFor(set.velocity, ev, base))[0]).toBe(selected ? 1 : 0);
      });
    }), { numRuns: 300 });
  });
});

describe('list index (with its Bloom filter in front)', () => {
  it('answers exactly as a plain map through puts, removals and rebuilds', () => {
    fc.assert(fc.property(fc.array(fc.record({ op: fc.constantFrom('put', 'put', 'remove'), kind: fc.constantFrom('black', 'white', 'grey'), entity: fc.constantFrom('card', 'device', 'ip'), v: fc.integer({ min: 0, max: 3000 }) }), { maxLength: 4000 }), (ops) => {
      const ix = new ListIndex();
      const ref = new Map<string, Set<string>>();
      for (const o of ops) {
        const k = `${o.entity}|${o.v}`;
        if (o.op === 'put') {
          ix.put({ kind: o.kind as 'black', entity: o.entity as 'card', value: String(o.v), expiresAt: null });
          if (!ref.has(k)) ref.set(k, new Set());
          ref.get(k)!.add(o.kind);
        } else {
          ix.remove(o.kind as 'black', o.entity as 'card', String(o.v));
          ref.get(k)?.delete(o.kind);
        }
      }
      for (const entity of ['card', 'device', 'ip'] as const) {
        for (let v = 0; v <= 3000; v++) {
          const want = ref.get(`${entity}|${v}`) ?? new Set();
          const got = ix.lookup(entity, String(v), 0);
          expect({ black: got.black, white: got.white, grey: got.grey }).toEqual({ black: want.has('black'), white: want.has('white'), grey: want.has('grey') });
        }
      }
    }), { numRuns: 40 });
  });
});
