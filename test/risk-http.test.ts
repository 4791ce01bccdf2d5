// Proves the risk engine over real HTTP on a real server: rule set upload refusals, the default
// pack's card-testing rules against a burst while normal traffic passes, lists, the decision log,
// cases, merchant breakers with their audit, shadow mode, backtest, hot reload under load, and the
// card consume path asking the engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleUscc } from '../src/modules/parties/index.js';
import { DEFAULT_RULE_PACK } from '../src/modules/risk/index.js';
import { startTestServer, type TestServer } from './support/server.js';
import { okClient } from './support/waiting.js';

let s: TestServer;
const ok = okClient(() => s);
let n = 0;
const ev = (over: Record<string, unknown>) => ({ id: `ev${Date.now()}-${++n}`, kind: 'payment', amount: 12_000, merchant: 'm-normal', ...over });
const decide = async (over: Record<string, unknown>, subject?: { kind: string; id: string }) => ok('POST', '/v1/risk/decide', { event: ev(over), ...(subject ? { subject } : {}) });

beforeAll(async () => {
  s = await startTestServer();
}, 60_000);

afterAll(async () => {
  await s?.close();
});

describe('risk engine', () => {
  it('accepts everything before a version is live', async () => {
    expect(await decide({})).toMatchObject({ action: 'accept', version: 0, rule: null });
  });

  it('refuses invalid rule sets with the path of the problem and keeps the live version', async () => {
    const bad = await s.req('POST', '/v1/risk/rule-sets', { document: { name: 'x', rules: [{ id: 'a', when: 'amount >', action: 'reject', priority: 1, reason: 'r' }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_rule_set');
    expect(bad.body.error.details.path).toBe('$.rules[0].when');
    const unknown = await s.req('POST', '/v1/risk/rule-sets', { document: { name: 'x', rules: [{ id: 'a', when: 'no_such_feature > 3', action: 'reject', priority: 1, reason: 'r' }] } });
    expect(unknown.body.error.message).toMatch(/no_such_feature/);
    const cycle = await s.req('POST', '/v1/risk/rule-sets', { document: { name: 'x', features: [{ name: 'a', expr: 'b' }, { name: 'b', expr: 'a' }], rules: [] } });
    expect(cycle.body.error.message).toMatch(/cycle in feature definitions: a -> b -> a/);
    // Malformed entries are bad input (400 with the path), never a server error.
    for (const document of [{ name: 'x', velocity: [null], rules: [] }, { name: 'x', rules: [7] }, { name: 'x', rules: [], thresholds: [[]] }]) {
      const r = await s.req('POST', '/v1/risk/rule-sets', { document });
      expect(r.status, JSON.stringify(document)).toBe(400);
      expect(r.body.error.code).toBe('invalid_rule_set');
    }
    expect((await ok('GET', '/v1/risk/rule-sets')).live.active).toBeNull();
  });

  it('loads the default pack: a card-testing burst is rejected while normal traffic passes', async () => {
    const v = await ok('POST', '/v1/risk/rule-sets', { document: DEFAULT_RULE_PACK });
    expect(v.status).toBe('draft');
    expect((await ok('POST', `/v1/risk/rule-sets/${v.version}/activate`)).status).toBe('active');
    // Normal traffic: 30 customers, each with their own card and phone, paying a few times.
    for (let i = 0; i < 30; i++) {
      for (let k = 0; k < 3; k++) expect((await decide({ user: `u${i}`, card: `c${i}`, device: `d${i}`, ip: `10.0.0.${i}`, amount: 5_000 + k * 1_000 })).action).toBe('accept');
    }
    // A burst from one device trying many cards with small amounts.
    const actions: string[] = [];
    for (let i = 0; i < 8; i++) actions.push((await decide({ user: 'fraud', device: 'evil-phone', ip: '6.6.6.6', card: `stolen${i}`, amount: 100 })).action);
    expect(actions.slice(0, 3)).toEqual(['accept', 'accept', 'accept']);
    expect(actions.slice(3)).toEqual(['reject', 'reject', 'reject', 'reject', 'reject']);
    const last = (await ok('GET', `/v1/risk/decisions?action=reject&limit=1`)).data[0];
    expect(last).toMatchObject({ rule: 'CT-02', version: v.version, shadow: false });
    expect(last.features.device_cards_24h).toBe(8);
    expect(last.matched.map((m: any) => m.id)).toContain('CT-02');
    expect(last.latency_us).toBeGreaterThanOrEqual(0);
    // Many small attempts on one card.
    const card = [];
    for (let i = 0; i < 6; i++) card.push((await decide({ card: 'tested', device: `dev-${i}`, amount: 200 })).rule);
    expect(card.slice(4)).toEqual(['CT-01', 'CT-01']);
    // Merchant compliance: a notification URL outside the registered domains.
    expect((await decide({ notify_url_ok: false })).rule).toBe('MC-01');
  });

  it('black and white lists decide before the rules; removed entries stop counting', async () => {
    const put = await s.req('POST', '/v1/risk/lists', { entries: [{ list: 'black', entity: 'ip', value: '9.9.9.9', source: 'test', reason: 'botnet' }, { list: 'white', entity: 'user', value: 'vip', source: 'test' }] });
    expect(put.status).toBe(201);
    expect(await decide({ ip: '9.9.9.9', user: 'vip' })).toMatchObject({ action: 'reject', rule: 'list:black' });
    expect(await decide({ user: 'vip', notify_url_ok: false })).toMatchObject({ action: 'accept', rule: 'list:white' });
    const bad = await s.req('POST', '/v1/risk/lists', { entries: [{ list: 'purple', entity: 'ip', value: '1', source: 't' }] });
    expect(bad.status).toBe(400);
    const black = (await ok('GET', '/v1/risk/lists?list=black&entity=ip&value=9.9.9.9')).data[0];
    await ok('DELETE', `/v1/risk/lists/${black.id}`);
    expect((await decide({ ip: '9.9.9.9' })).action).toBe('accept');
  });

  it('takes 100,000 list entries in one request', async () => {
    const entries = Array.from({ length: 100_000 }, (_, i) => ({ list: 'grey', entity: 'card', value: `bulk-card-${i}`, source: 'bulk import', reason: 'issuer feed' }));
    const r = await s.req('POST', '/v1/risk/lists', { entries });
    expect(r.status).toBe(201);
    expect(r.body.count).toBe(100_000);
    expect((await decide({ card: 'bulk-card-99999' })).lists.grey).toEqual(['card']);
  }, 120_000);

  it('a white-listed value the payer only claims (a browser device id) does not skip the rules', async () => {
    await ok('POST', '/v1/risk/lists', { entries: [{ list: 'white', entity: 'device', value: 'trusted-pos', source: 'test' }] });
    expect(await decide({ device: 'trusted-pos', notify_url_ok: false })).toMatchObject({ action: 'accept', rule: 'list:white' });
    const claimed = await decide({ device: 'trusted-pos', notify_url_ok: false, claimed: ['device'] });
    expect(claimed.action).not.toBe('accept');
    expect(claimed.rule).toBe('MC-01');
  });

  it('refuses an event timed in the future (it would move the windows past the present) or far in the past', async () => {
    const r = await s.req('POST', '/v1/risk/decide', { event: ev({ at: new Date(Date.now() + 3_600_000).toISOString() }) });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_event');
    expect((await decide({ at: new Date(Date.now() + 10_000).toISOString() })).action).toBe('accept');
    // A day back would be judged by lists as they were then (an expired white-list entry, say) and
    // be dropped by its windows at once: the past is replayed by backtests, not decided.
    const old = await s.req('POST', '/v1/risk/decide', { event: ev({ at: new Date(Date.now() - 86_400_000).toISOString() }) });
    expect(old.status).toBe(400);
    expect(old.body.error.code).toBe('invalid_event');
    const o2 = await s.req('POST', '/v1/risk/observe', { event: ev({ at: new Date(Date.now() - 86_400_000).toISOString() }) });
    expect(o2.body.error.code).toBe('invalid_event');
    expect((await decide({ at: new Date(Date.now() - 10_000).toISOString() })).action).toBe('accept');
    // A NUL PostgreSQL cannot store is bad input (the API's invalid_text, for every field).
    const nul = await s.req('POST', '/v1/risk/decide', { event: ev({ device: 'a\u0000b' }) });
    expect(nul.status).toBe(400);
    for (const [path, body] of [
      ['/v1/risk/lists', { entries: [{ list: 'black', entity: 'ip', value: 'x\u0000', source: 't' }] }],
      ['/v1/risk/breakers/m\u0000x/trip', { mode: 'hold', reason: 'r' }],
      ['/v1/risk/decide', { event: ev({}), subject: { kind: 'k', id: 'a\u0000' } }],
    ] as const) {
      const r = await s.req('POST', path, body);
      expect(r.status, `${path} ${JSON.stringify(r.body)}`).toBe(400);
    }
  });

  it('a review decision opens a case; operators approve or reject it once', async () => {
    const d = await decide({ merchant_mcc: '5411', category: '7995' }, { kind: 'test_subject', id: 'order-1' });
    expect(d).toMatchObject({ action: 'review', rule: 'MC-02' });
    expect(d.case_id).toBeTruthy();
    const queue = (await ok('GET', '/v1/risk/cases?status=open')).data;
    expect(queue.map((c: any) => c.id)).toContain(d.case_id);
    const decided = await ok('POST', `/v1/risk/cases/${d.case_id}/decision`, { approve: false, note: 'gambling at a grocery' });
    expect(decided).toMatchObject({ status: 'rejected', note: 'gambling at a grocery' });
    expect(decided.decided_by).toMatch(/^op:/);
    const again = await s.req('POST', `/v1/risk/cases/${d.case_id}/decision`, { approve: true });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('case_already_decided');
  });

  it('trips a merchant breaker (by hand and on the merchant score), holds its transactions, and releases it, all audited', async () => {
    await ok('POST', '/v1/risk/breakers/m-hot/trip', { mode: 'refuse', reason: 'chargebacks' });
    expect(await decide({ merchant: 'm-hot' })).toMatchObject({ action: 'reject', rule: 'breaker:merchant' });
    expect((await ok('GET', '/v1/risk/breakers')).data.find((b: any) => b.merchant === 'm-hot').state).toBe('tripped');
    await ok('POST', '/v1/risk/breakers/m-hot/release', { reason: 'resolved' });
    expect((await decide({ merchant: 'm-hot' })).action).toBe('accept');
    const audit = (await ok('GET', '/v1/risk/breakers/m-hot/audit')).data;
    expect(audit.map((a: any) => a.kind)).toEqual(['breaker_tripped', 'breaker_released']);
    expect((await s.req('POST', '/v1/risk/breakers/m-hot/release', {})).status).toBe(409);
    // Automatically, on the merchant's anomaly score: a burst of tiny orders with a category
    // mismatch, a refund rate near 50 %, then a volume spike against its (short) baseline.
    for (let i = 0; i < 31; i++) await decide({ merchant: 'm-brush', amount: 50, user: `b${i}`, merchant_mcc: '5411', category: '5999' });
    for (let i = 0; i < 15; i++) await ok('POST', '/v1/risk/observe', { event: ev({ kind: 'refund', merchant: 'm-brush', amount: 50 }) });
    expect((await ok('GET', '/v1/risk/breakers')).data.find((x: any) => x.merchant === 'm-brush')).toBeUndefined();
    const spike = await decide({ merchant: 'm-brush', amount: 1_100_000, merchant_mcc: '5411', category: '5999' });
    expect(spike.scores.merchant_score, JSON.stringify(spike.features)).toBe(100);
    const b = (await ok('GET', '/v1/risk/breakers')).data.find((x: any) => x.merchant === 'm-brush');
    expect(b).toMatchObject({ state: 'tripped', mode: 'hold' });
    expect(await decide({ merchant: 'm-brush', amount: 10_000 })).toMatchObject({ action: 'review', rule: 'breaker:merchant' });
    expect((await ok('GET', '/v1/risk/breakers/m-brush/audit')).data[0]).toMatchObject({ kind: 'breaker_tripped', actor: 'risk-engine' });
    await ok('POST', '/v1/risk/breakers/m-brush/release', { reason: 'checked' });
    // Released, it is not tripped again by the same burst (still in the score's windows) during its
    // re-arm period; an operator can still trip it by hand.
    const after = await decide({ merchant: 'm-brush', amount: 1_100_000, merchant_mcc: '5411', category: '5999' });
    expect(after.scores.merchant_score).toBe(100);
    expect(after.rule).not.toBe('breaker:merchant');
    expect((await ok('GET', '/v1/risk/breakers')).data.find((x: any) => x.merchant === 'm-brush').state).toBe('released');
    expect((await ok('GET', '/v1/risk/breakers/m-brush/audit')).data.map((a: any) => a.kind)).toEqual(['breaker_tripped', 'breaker_released']);
    await ok('POST', '/v1/risk/breakers/m-brush/trip', { mode: 'hold', reason: 'still odd' });
    expect(await decide({ merchant: 'm-brush', amount: 10_000 })).toMatchObject({ action: 'review', rule: 'breaker:merchant' });
    await ok('POST', '/v1/risk/breakers/m-brush/release', { reason: 'checked again' });
  });

  it('runs a shadow version beside the live one and backtests a version against the logged events', async () => {
    const stricter = { ...DEFAULT_RULE_PACK, name: 'stricter', rules: [...DEFAULT_RULE_PACK.rules, { id: 'BIG', priority: 5, action: 'review', when: 'amount >= 10000', reason: 'big' }] };
    const v = await ok('POST', '/v1/risk/rule-sets', { document: stricter });
    const from = new Date(Date.now() - 3_600_000).toISOString();
    await ok('POST', `/v1/risk/rule-sets/${v.version}/shadow`);
    const d = await decide({ amount: 20_000, user: 'shadowed', card: 'sc', device: 'sd' });
    expect(d.action).toBe('accept');
    expect(d.shadow).toMatchObject({ version: v.version, action: 'review', rule: 'BIG' });
    const logged = (await ok('GET', `/v1/risk/decisions?shadow=true&limit=5`)).data;
    expect(logged[0]).toMatchObject({ version: v.version, shadow: true, action: 'review' });
    // The live version cannot be its own shadow: that would leave no live version at all.
    const live = (await ok('GET', '/v1/risk/rule-sets')).live.active;
    const self = await s.req('POST', `/v1/risk/rule-sets/${live}/shadow`, {});
    expect(self.status).toBe(409);
    expect(self.body.error.code).toBe('rule_set_is_live');
    expect((await ok('GET', '/v1/risk/rule-sets')).live).toEqual({ active: live, shadow: v.version });
    await ok('DELETE', '/v1/risk/shadow');
    expect((await decide({ amount: 20_000 })).shadow).toBeNull();
    const bt = await ok('POST', '/v1/risk/backtest', { version: v.version, from, to: new Date(Date.now() + 1000).toISOString() });
    expect(bt.events).toBeGreaterThan(50);
    expect(bt.transitions['accept->review']).toBeGreaterThan(0);
    expect(bt.same + bt.changed + bt.breaker_overridden).toBe(bt.events);
    expect(bt.rules['BIG']).toBeGreaterThan(0);
  });

  it('links accounts that share devices, cards or phones into components, and alerts on money moving in a cycle among them', async () => {
    // Three accounts, one person: a shared phone, then a shared device.
    await decide({ user: 'ring-a', phone: '13800000001', device: 'ring-dev-1' });
    await decide({ user: 'ring-b', phone: '13800000001', device: 'ring-dev-2' });
    const c = await decide({ user: 'ring-c', device: 'ring-dev-2', card: 'ring-card' });
    expect(c.features).toBeDefined();
    const comp = await ok('GET', '/v1/risk/graph?entity=user&value=ring-a');
    expect(comp.size).toBe(3);
    expect([...comp.users].sort()).toEqual(['ring-a', 'ring-b', 'ring-c']);
    expect(comp.shared).toEqual(expect.arrayContaining([{ entity: 'phone', value: '13800000001' }, { entity: 'device', value: 'ring-dev-2' }]));
    expect((await ok('GET', '/v1/risk/graph?entity=user&value=loner')).size).toBe(1);
    // Money around the ring: a -> b -> c -> a.
    await decide({ user: 'ring-a', payee: 'ring-b', kind: 'transfer' });
    await decide({ user: 'ring-b', payee: 'ring-c', kind: 'transfer' });
    expect((await ok('GET', '/v1/risk/alerts')).data.filter((a: any) => a.kind === 'funds_cycle')).toHaveLength(0);
    await decide({ user: 'ring-c', payee: 'ring-a', kind: 'transfer' });
    const alerts = (await ok('GET', '/v1/risk/alerts')).data.filter((a: any) => a.kind === 'funds_cycle');
    expect(alerts).toHaveLength(1);
    expect(alerts[0].details.cycle).toEqual(['ring-c', 'ring-a', 'ring-b', 'ring-c']);
    // Unrelated users paying each other in a circle raise nothing.
    await decide({ user: 'x1', payee: 'x2', kind: 'transfer' });
    await decide({ user: 'x2', payee: 'x1', kind: 'transfer' });
    expect((await ok('GET', '/v1/risk/alerts')).data.filter((a: any) => a.kind === 'funds_cycle')).toHaveLength(1);
  });

  it('swaps versions under load without a failed request; every decision is made by one version', async () => {
    const a = (await ok('GET', '/v1/risk/rule-sets')).live.active;
    const b = await ok('POST', '/v1/risk/rule-sets', { document: { ...DEFAULT_RULE_PACK, name: 'swap' } });
    let stop = false;
    const seen = new Set<number>();
    let failures = 0;
    const load = Promise.all(Array.from({ length: 8 }, async () => {
      while (!stop) {
        const r = await s.req('POST', '/v1/risk/decide', { event: ev({ user: `load${n}`, amount: 1000 }) });
        if (r.status !== 200) failures++;
        else seen.add(r.body.version);
      }
    }));
    await new Promise((r) => setTimeout(r, 150));
    await ok('POST', `/v1/risk/rule-sets/${b.version}/activate`);
    await new Promise((r) => setTimeout(r, 150));
    await ok('POST', `/v1/risk/rule-sets/${a}/activate`);
    await new Promise((r) => setTimeout(r, 150));
    stop = true;
    await load;
    expect(failures).toBe(0);
    expect([...seen].sort()).toEqual([a, b.version].sort());
    const sets = (await ok('GET', '/v1/risk/rule-sets')).data;
    expect(sets.find((x: any) => x.version === b.version).status).toBe('retired');
  });

  it('reports this process\'s decisions and their latency', async () => {
    const st = await ok('GET', '/v1/risk/stats');
    expect(st.decisions).toBeGreaterThan(100);
    expect(st.actions.reject).toBeGreaterThan(0);
    expect(st.p50_us).toBeGreaterThan(0);
    expect(st.p99_us).toBeGreaterThanOrEqual(st.p50_us);
  });

  it('card consumes ask the engine: a card on the black list is declined', async () => {
    const org = await ok('POST', '/v1/customers', { kind: 'organization', legal_name: 'risk shop', id_type: 'uscc', id_number: sampleUscc(77), real_name_level: 2 });
    const m = await ok('POST', '/v1/merchants', { customer_id: org.id, display_name: 'risk shop', mcc: '5411', settlement_cycle: 'T+1', notify_domains: ['127.0.0.1'] });
    await ok('POST', `/v1/merchants/${m.id}/status`, { status: 'active', reason: 't' });
    const product = await ok('POST', '/v1/card-products', { code: 'RISK', name: 'risk', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6602', number_length: 16, rechargeable: true, validity_months: 36 });
    await ok('POST', `/v1/card-products/${product.id}/merchants`, { merchant_id: m.id });
    const card = (await ok('POST', `/v1/card-products/${product.id}/batches`, { count: 1 })).cards[0].id;
    await ok('POST', `/v1/cards/${card}/sell`, { idempotency_key: `sell-${card}`, amount: 10_000, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true });
    const first = await ok('POST', `/v1/cards/${card}/consume`, { idempotency_key: `k0-${card}`, amount: 100, merchant_id: m.id });
    await ok('POST', '/v1/risk/lists', { entries: [{ list: 'black', entity: 'card', value: card, source: 'test' }] });
    const r = await s.req('POST', `/v1/cards/${card}/consume`, { idempotency_key: `k-${card}`, amount: 100, merchant_id: m.id });
    expect(r.body.error?.code).toBe('risk_rejected');
    // A retry of the consume that went through before the card was listed gets its stored answer.
    const again = await ok('POST', `/v1/cards/${card}/consume`, { idempotency_key: `k0-${card}`, amount: 100, merchant_id: m.id });
    expect(again.id).toBe(first.id);
    const logged = (await ok('GET', `/v1/risk/decisions?event_id=card:k-${card}`)).data[0];
    expect(logged).toMatchObject({ event_kind: 'card_consume', action: 'reject', rule: 'list:black' });
  });
});
