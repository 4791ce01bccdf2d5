// Every rule of the default pack fires on its pattern, and normal traffic matches none of them.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULE_PACK } from './default-pack.js';
import { baseContext, decide, observationsFor, type Decision, type RiskEvent } from './domain/engine.js';
import { ListIndex } from './domain/lists.js';
import { compileRuleSet } from './domain/ruleset.js';
import { MemoryVelocityStore } from './domain/velocity.js';

const set = compileRuleSet(DEFAULT_RULE_PACK);
const H = 3_600_000;

function engine() {
  const store = new MemoryVelocityStore();
  const lists = new ListIndex();
  let n = 0;
  let clock = Date.UTC(2026, 10, 1, 10);
  return {
    at: (ms: number) => (clock = ms),
    advance: (ms: number) => (clock += ms),
    now: () => clock,
    run(e: Partial<RiskEvent>): Decision {
      const ev: RiskEvent = { id: `e${++n}`, kind: 'payment', at: clock, amount: 10_000n, merchant: 'shop', ...e };
      const base = baseContext(ev);
      return decide(set, ev, base, store.observe(observationsFor(set.velocity, ev, base)), lists);
    },
    /** The outcome of the last decided event, fed under its id (as POST /v1/risk/observe). */
    failLast(e: Partial<RiskEvent>): void {
      const ev: RiskEvent = { id: `e${n}`, kind: 'payment', at: clock, amount: 10_000n, merchant: 'shop', ...e, failed: true };
      store.observe(observationsFor(set.velocity, ev, baseContext(ev)));
    },
  };
}

/** Normal traffic: 40 customers, their own card, phone, IP and device, a few payments an hour, some refunds. */
function normalTraffic(e: ReturnType<typeof engine>): Decision[] {
  const out: Decision[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 40; i++) {
      e.advance(20_000);
      out.push(e.run({ user: `u${i}`, card: `c${i}`, device: `d${i}`, ip: `10.0.${i}.1`, amount: BigInt(5_000 + i * 300), merchant: `m${i % 4}`, merchant_mcc: '5411', category: '5411' }));
    }
  }
  return out;
}

const fired = (d: Decision) => d.matched.map((m) => m.id);

describe('the default rule pack', () => {
  it('lets normal traffic through: no rule matches, no threshold, every decision accepts', () => {
    const e = engine();
    const ds = normalTraffic(e);
    expect(ds.flatMap(fired)).toEqual([]);
    expect(ds.every((d) => d.action === 'accept')).toBe(true);
    expect(Math.max(...ds.map((d) => d.scores['tx_score']!))).toBeLessThan(80);
    expect(Math.max(...ds.map((d) => d.scores['merchant_score']!))).toBeLessThan(80);
  });

  it('outcomes fed under the decisions\' ids count as failures, not as more attempts', () => {
    const e = engine();
    const actions: string[] = [];
    for (let i = 0; i < 4; i++) {
      const d = e.run({ card: 'unlucky', device: `dev${i}`, amount: 100n });
      actions.push(d.rule ?? 'none');
      e.failLast({ card: 'unlucky', device: `dev${i}`, amount: 100n });
    }
    // Four small attempts (CT-01 wants five) with their failures: SC-01 (three failures) decides the fourth.
    expect(actions).toEqual(['none', 'none', 'none', 'SC-01']);
    expect(e.run({ card: 'unlucky', device: 'dev9', amount: 100n }).features).toMatchObject({ card_small_10m: 5, card_fail_1h: 4 });
  });

  it('each rule fires on its own pattern', () => {
    const cases: [string, (e: ReturnType<typeof engine>) => Decision][] = [
      ['MC-01', (e) => e.run({ notify_url_ok: false })],
      ['CT-01', (e) => { let d!: Decision; for (let i = 0; i < 5; i++) d = e.run({ card: 'tested', device: `x${i}`, amount: 100n }); return d; }],
      ['CT-02', (e) => { let d!: Decision; for (let i = 0; i < 4; i++) d = e.run({ device: 'farm', card: `k${i}` }); return d; }],
      ['CT-03', (e) => { let d!: Decision; for (let i = 0; i < 8; i++) d = e.run({ device: 'burst', card: `b${i % 3}`, amount: 200n }); return d; }],
      ['SC-01', (e) => { for (let i = 0; i < 3; i++) e.run({ card: 'lost', failed: true }); return e.run({ card: 'lost' }); }],
      ['SC-02', (e) => { e.run({ user: 'victim', device: 'home' }); return e.run({ user: 'victim', device: 'thief', amount: 600_000n }); }],
      ['BR-01', (e) => { let d!: Decision; for (let i = 0; i < 4; i++) d = e.run({ device: 'shared', user: `acct${i}` }); return d; }],
      ['BR-02', (e) => { let d!: Decision; for (let i = 0; i < 8; i++) d = e.run({ ip: '198.51.100.9', user: `acct${i}` }); return d; }],
      ['BR-03', (e) => { let d!: Decision; for (let i = 0; i < 30; i++) d = e.run({ merchant: 'tiny', user: `t${i}`, amount: 50n }); return d; }],
      ['MC-02', (e) => e.run({ merchant_mcc: '5411', category: '7995' })],
      ['MC-03', (e) => { for (let i = 0; i < 20; i++) e.run({ merchant: 'refunder', user: `r${i}` }); for (let i = 0; i < 7; i++) e.run({ kind: 'refund', merchant: 'refunder' }); return e.run({ merchant: 'refunder', user: 'r-last' }); }],
      ['MC-04', (e) => {
        // A week of steady business, then a 10-minute burst far above it.
        for (let d = 0; d < 7; d++) { for (let k = 0; k < 24; k++) { e.run({ merchant: 'steady', amount: 20_000n }); e.advance(H); } }
        let last!: Decision;
        for (let i = 0; i < 12; i++) last = e.run({ merchant: 'steady', amount: 100_000n });
        return last;
      }],
    ];
    for (const [id, pattern] of cases) {
      const e = engine();
      normalTraffic(e);
      const d = pattern(e);
      expect(fired(d), id).toContain(id);
    }
    // Every rule of the pack has its pattern here.
    expect(cases.map(([id]) => id).sort()).toEqual(DEFAULT_RULE_PACK.rules.map((r) => r.id).sort());
  });

  it('scores: the transaction threshold reviews, the merchant score reaches the breaker', () => {
    const e = engine();
    // One card: 12 attempts in the hour, 3 failures, 3 cards on its device, a new device, a big amount.
    for (let i = 0; i < 2; i++) e.run({ device: 'dv', card: `o${i}`, user: 'z' });
    for (let i = 0; i < 3; i++) e.run({ card: 'hot', failed: true });
    let d!: Decision;
    for (let i = 0; i < 8; i++) d = e.run({ card: 'hot', device: 'dv', user: 'z2', amount: 2_000_000n });
    expect(d.scores['tx_score']).toBeGreaterThanOrEqual(80);
    for (let i = 0; i < 30; i++) e.run({ merchant: 'bad', amount: 50n, merchant_mcc: '5411', category: '5999', user: `q${i}` });
    for (let i = 0; i < 15; i++) e.run({ kind: 'refund', merchant: 'bad' });
    const m = e.run({ merchant: 'bad', amount: 1_200_000n, merchant_mcc: '5411', category: '5999' });
    expect(m.scores['merchant_score']).toBeGreaterThanOrEqual(DEFAULT_RULE_PACK.breaker!.at_least);
  });
});
