// Proves the ledger over real HTTP: health/OpenAPI/docs, operator auth, accounts and transfers, holds, statements, accounting exports, Idempotency-Key replay, and that every kind of bad input gets a stable 4xx code and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.js';

let s: TestServer;
let bank: string;
let wallet: string;
let shop: string;
let usd: string;
let frozen: string;
let closed: string;

async function account(body: Record<string, unknown>): Promise<string> {
  const r = await s.req('POST', '/v1/accounts', { currency: 'CNY', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

beforeAll(async () => {
  s = await startTestServer();
  bank = await account({ type: 'asset', subject_code: '101101', name: 'reserve' });
  wallet = await account({ type: 'liability', subject_code: '225103', debits_must_not_exceed_credits: true, name: 'wallet' });
  shop = await account({ type: 'liability', subject_code: '225101', name: 'shop' });
  usd = await account({ type: 'liability', subject_code: '225103', currency: 'USD' });
  frozen = await account({ type: 'liability', subject_code: '225103' });
  closed = await account({ type: 'liability', subject_code: '225103' });
  expect((await s.req('POST', `/v1/accounts/${frozen}/status`, { status: 'frozen', reason: 'investigation' })).status).toBe(200);
  expect((await s.req('POST', `/v1/accounts/${closed}/status`, { status: 'closed', reason: 'customer left' })).status).toBe(200);
  const fund = await s.req('POST', '/v1/transfers', { idempotency_key: 'fund-1', debit_account_id: bank, credit_account_id: wallet, amount: 10_000, currency: 'CNY', code: 'top_up' });
  expect(fund.status).toBe(201);
});
afterAll(async () => {
  await s?.close();
});

describe('service basics', () => {
  it('answers health, serves OpenAPI 3.1 with the routes, and interactive docs', async () => {
    expect((await s.req('GET', '/healthz')).status).toBe(200);
    expect((await s.req('GET', '/readyz')).status).toBe(200);
    const o = await s.req('GET', '/openapi.json');
    expect(o.body.openapi).toBe('3.1.0');
    for (const p of ['/v1/accounts', '/v1/transfers', '/v1/transfers/batch', '/v1/holds/{id}/post', '/v1/accounts/{id}/statement', '/v1/accounting/trial-balance']) {
      expect(Object.keys(o.body.paths)).toContain(p);
    }
    const docs = await fetch(`${s.url}/docs/`, { redirect: 'follow' });
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('requires an operator token', async () => {
    const r = await fetch(`${s.url}/v1/accounts`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as any).error.code).toBe('unauthorized');
    const bad = await s.req('GET', '/v1/accounts', undefined, { authorization: 'Bearer nope' });
    expect(bad.body.error.code).toBe('unauthorized');
  });
});

describe('transfers over HTTP', () => {
  it('moves money and shows balances, statement and point-in-time balance', async () => {
    const t = await s.req('POST', '/v1/transfers', { idempotency_key: 'pay-1', debit_account_id: wallet, credit_account_id: shop, amount: 2_500, currency: 'CNY', code: 'consume', metadata: { order: 'A1' } });
    expect(t.status).toBe(201);
    expect(t.body).toMatchObject({ amount: 2500, debit_balance_after: 7500, kind: 'posted' });
    const w = await s.req('GET', `/v1/accounts/${wallet}`);
    expect(w.body.balances).toMatchObject({ posted: 7500, available: 7500, credits_posted: 10_000, debits_posted: 2500 });
    const st = await s.req('GET', `/v1/accounts/${wallet}/statement?limit=1`);
    expect(st.body.data).toHaveLength(1);
    expect(st.body.data[0]).toMatchObject({ side: 'credit', balance_after: 10_000 });
    const st2 = await s.req('GET', `/v1/accounts/${wallet}/statement?limit=1&cursor=${st.body.next_cursor}`);
    expect(st2.body.data[0]).toMatchObject({ side: 'debit', balance_after: 7500 });
    const byMeta = await s.req('GET', `/v1/transfers?metadata=${encodeURIComponent(JSON.stringify({ order: 'A1' }))}`);
    expect(byMeta.body.data.map((x: any) => x.idempotency_key)).toEqual(['pay-1']);
    const byKey = await s.req('GET', '/v1/transfers?idempotency_key=pay-1');
    expect(byKey.body.data[0].id).toBe(t.body.id);
    const before = await s.req('GET', `/v1/accounts/${wallet}/balance?at=${encodeURIComponent(t.body.created_at)}`);
    expect(before.body.balance).toBe(7500);
  });

  it('holds, posts part of a hold and shows the pending amounts', async () => {
    const h = await s.req('POST', '/v1/holds', { idempotency_key: 'hold-1', debit_account_id: wallet, credit_account_id: shop, amount: 1000, currency: 'CNY', timeout_seconds: 600 });
    expect(h.status).toBe(201);
    const w = await s.req('GET', `/v1/accounts/${wallet}`);
    expect(w.body.balances.debits_pending).toBe(1000);
    expect(w.body.balances.available).toBe(w.body.balances.posted - 1000);
    const p = await s.req('POST', `/v1/holds/${h.body.id}/post`, { idempotency_key: 'hold-1-post', amount: 400 });
    expect(p.status).toBe(201);
    const again = await s.req('POST', `/v1/holds/${h.body.id}/void`, { idempotency_key: 'hold-1-void' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('pending_transfer_already_posted');
  });

  it('returns per-transfer results for a batch and applies linked chains atomically', async () => {
    const r = await s.req('POST', '/v1/transfers/batch', {
      transfers: [
        { idempotency_key: 'b-1', debit_account_id: bank, credit_account_id: shop, amount: 5, currency: 'CNY', linked: true },
        { idempotency_key: 'b-2', debit_account_id: bank, credit_account_id: closed, amount: 5, currency: 'CNY' },
        { idempotency_key: 'b-3', debit_account_id: bank, credit_account_id: shop, amount: 7, currency: 'CNY' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: any) => (x.ok ? 'ok' : x.error.code))).toEqual(['linked_event_failed', 'credit_account_closed', 'ok']);
    expect((await s.req('GET', '/v1/transfers?idempotency_key=b-1')).body.data).toEqual([]);
  });

  it('replays a POST with the same Idempotency-Key and refuses the key for a different body', async () => {
    const body = { type: 'liability', subject_code: '225103', currency: 'CNY', name: 'idem' };
    const a = await s.req('POST', '/v1/accounts', body, { 'idempotency-key': 'create-acct-1' });
    const b = await s.req('POST', '/v1/accounts', body, { 'idempotency-key': 'create-acct-1' });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(b.body.id).toBe(a.body.id);
    const c = await s.req('POST', '/v1/accounts', { ...body, name: 'other' }, { 'idempotency-key': 'create-acct-1' });
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('idempotency_key_reused');
    const list = await s.req('GET', '/v1/accounts?limit=500');
    expect(list.body.data.filter((x: any) => x.name === 'idem' || x.name === 'other')).toHaveLength(1);
  });
});

describe('bad input writes nothing', () => {
  const base = () => ({ idempotency_key: `bad-${Math.random()}`, debit_account_id: wallet, credit_account_id: shop, amount: 100, currency: 'CNY' });
  const cases: [string, () => unknown, number, string][] = [
    ['malformed JSON', () => '{"idempotency_key": "x", ', 400, 'malformed_json'],
    ['wrong type for an id', () => ({ ...base(), debit_account_id: 12 }), 400, 'invalid_request'],
    ['missing idempotency key', () => { const b: any = base(); delete b.idempotency_key; return b; }, 400, 'invalid_request'],
    ['missing accounts', () => ({ idempotency_key: 'm-1', amount: 5, currency: 'CNY' }), 400, 'invalid_transfer'],
    ['negative amount', () => ({ ...base(), amount: -1 }), 400, 'amount_must_be_positive'],
    ['zero amount', () => ({ ...base(), amount: 0 }), 400, 'amount_must_be_positive'],
    ['fractional amount', () => ({ ...base(), amount: 1.5 }), 400, 'invalid_amount'],
    ['amount as a string', () => ({ ...base(), amount: '100' }), 400, 'invalid_amount'],
    ['unsafe amount', () => ({ ...base(), amount: 2 ** 60 }), 400, 'amount_too_large'],
    ['unknown currency', () => ({ ...base(), currency: 'XXX' }), 400, 'unknown_currency'],
    ['mismatched currency', () => ({ ...base(), credit_account_id: usd }), 422, 'currency_mismatch'],
    ['unknown account', () => ({ ...base(), credit_account_id: '123456789' }), 422, 'credit_account_not_found'],
    ['frozen account', () => ({ ...base(), credit_account_id: frozen }), 422, 'credit_account_frozen'],
    ['closed account', () => ({ ...base(), credit_account_id: closed }), 422, 'credit_account_closed'],
    ['over the balance', () => ({ ...base(), amount: 10_000_000 }), 422, 'insufficient_funds'],
    ['same account twice', () => ({ ...base(), credit_account_id: wallet }), 400, 'accounts_must_be_different'],
    ['unknown field', () => ({ ...base(), surprise: true }), 400, 'invalid_request'],
    ['amount written with a fraction', () => JSON.stringify(base()).replace('"amount":100', '"amount":100.0'), 400, 'invalid_amount'],
    ['amount written with an exponent', () => JSON.stringify(base()).replace('"amount":100', '"amount":1e2'), 400, 'invalid_amount'],
    ['NUL in the description', () => ({ ...base(), description: 'a\u0000b' }), 400, 'invalid_text'],
    ['unpaired surrogate in metadata', () => ({ ...base(), metadata: { k: '\ud800' } }), 400, 'invalid_text'],
  ];
  for (const [name, body, status, code] of cases) {
    it(`${name} -> ${status} ${code}`, async () => {
      const before = await s.req('GET', '/v1/transfers?limit=500');
      const r = await s.req('POST', '/v1/transfers', body());
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      const after = await s.req('GET', '/v1/transfers?limit=500');
      expect(after.body.data.length).toBe(before.body.data.length);
    });
  }

  it('refuses bad account requests with codes', async () => {
    expect((await s.req('POST', '/v1/accounts', { type: 'asset', subject_code: '225103', currency: 'CNY' })).body.error.code).toBe('subject_type_mismatch');
    expect((await s.req('POST', '/v1/accounts', { type: 'asset', subject_code: '9999', currency: 'CNY' })).body.error.code).toBe('unknown_subject');
    expect((await s.req('POST', '/v1/accounts', { type: 'asset', subject_code: '1011', currency: 'CNY' })).body.error.code).toBe('subject_not_leaf');
    expect((await s.req('GET', '/v1/accounts/77')).status).toBe(404);
    expect((await s.req('GET', '/v1/accounts/abc')).status).toBe(400);
    expect((await s.req('GET', '/v1/transfers?idempotency_key=%00')).body.error.code).toBe('invalid_text');
    expect((await s.req('POST', `/v1/accounts/${closed}/status`, { status: 'active', reason: 'reopen' })).body.error.code).toBe('invalid_status_transition');
  });

  it('keeps every ledger invariant and a balanced provisional trial balance', async () => {
    const v = await s.req('GET', '/v1/ledger/verify');
    expect(v.body).toMatchObject({ ok: true, violations: [] });
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
    const tb = await s.req('GET', `/v1/accounting/trial-balance?date=${today}`);
    expect(tb.status).toBe(200);
    expect(tb.body).toMatchObject({ provisional: true, balanced: true });
    const csv = await s.req('GET', `/v1/accounting/trial-balance?date=${today}&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(String(csv.body)).toContain('225103');
    const open = await s.req('POST', `/v1/accounting/days/${today}/close`);
    expect(open.body.error.code).toBe('business_day_not_closed');
  });
});
