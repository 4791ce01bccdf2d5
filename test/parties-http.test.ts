// Proves the parties HTTP API end to end over real HTTP and real PostgreSQL: operator roles, onboarding, one-time secrets, HMAC and RSA merchant signatures, every signature refusal, and merchant isolation.
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App, type AppDeps } from '../src/http/app.js';
import { createMerchantAuth } from '../src/http/merchant-auth.js';
import { registerPartiesRoutes } from '../src/http/routes/parties.routes.js';
import { systemClock } from '../src/kernel/clock.js';
import { REDACT_PATHS } from '../src/kernel/logger.js';
import { MasterKey, Secret } from '../src/kernel/secret.js';
import { newNonce, signRequest, SIGNATURE_HEADER, type SignatureAlg } from '../src/kernel/signature.js';
import { acquireWorkerLease, generatorForLease, type WorkerLease } from '../src/kernel/worker-lease.js';
import { Ledger } from '../src/modules/ledger/index.js';
import { Parties, sampleUscc } from '../src/modules/parties/index.js';
import { createTestDb, type TestDb } from './support/db.js';

const ADMIN = 'test-admin-token-0123456789';
let db: TestDb;
let lease: WorkerLease;
let ledger: Ledger;
let app: App;
let base: string;
let nextId: () => bigint;
// Every log line the server writes, so the test can prove no secret ever reaches the logs.
const logLines: string[] = [];

beforeAll(async () => {
  db = await createTestDb();
  lease = await acquireWorkerLease(db.pool, { label: 'test' });
  const gen = generatorForLease(lease);
  nextId = () => gen.next();
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => { logLines.push(chunk.toString()); done(); } });
  const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  ledger = new Ledger({ pool: db.pool, clock: systemClock, nextId });
  const parties = new Parties({ pool: db.pool, clock: systemClock, nextId, ledger, masterKey: MasterKey.generate(), log });
  const deps: AppDeps = {
    pool: db.pool, log, clock: systemClock, nextId, adminToken: new Secret(ADMIN), businessTimeZone: 'Asia/Shanghai', ledger, version: 'test',
    operatorTokens: parties.operatorTokenLookup, merchantAuth: createMerchantAuth(parties, { clock: systemClock }),
  };
  app = await buildApp(deps);
  registerPartiesRoutes(app, deps, parties);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await app.close();
  await ledger.close();
  await lease.release();
  await db.drop();
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Res { status: number; body: Json; text: string }

async function call(method: string, path: string, opts: { body?: unknown; token?: string | null; headers?: Record<string, string>; rawBody?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? ADMIN : opts.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  const text = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (text !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(text !== undefined ? { body: text } : {}) });
  const out = await res.text();
  return { status: res.status, text: out, body: out ? (JSON.parse(out) as Json) : {} };
}

interface Key { keyId: string; alg: SignatureAlg; material: string }

/** A merchant-signed request; `sendBody` lets a test send something other than what it signed. */
async function signed(method: string, pathWithQuery: string, key: Key, o: { body?: string; sendBody?: string; ts?: number; nonce?: string; header?: string } = {}): Promise<Res> {
  const body = o.body ?? '';
  const s = signRequest({ method, pathWithQuery, body, keyId: key.keyId, alg: key.alg, secretOrPrivateKey: key.material, nowSeconds: o.ts ?? Date.now() / 1000, nonce: o.nonce ?? newNonce() });
  const send = o.sendBody ?? o.body;
  return call(method, pathWithQuery, { token: null, headers: { [SIGNATURE_HEADER]: o.header ?? s.header }, ...(send !== undefined ? { rawBody: send } : {}) });
}

let seq = 0;
/** An active merchant (real-name level 2) created over HTTP, with an HMAC key. */
async function onboard(): Promise<{ merchant: Json; customerId: string; hmac: Key; secretResponse: Res }> {
  seq++;
  const c = await call('POST', '/v1/customers', { body: { kind: 'organization', legal_name: `杭州示例网络科技有限公司 ${seq}`, id_type: 'uscc', id_number: sampleUscc(seq), real_name_level: 2 } });
  expect(c.status).toBe(201);
  const m = await call('POST', '/v1/merchants', { body: { customer_id: c.body['id'], display_name: `示例商城${seq}`, notify_domains: ['shop.example.com'], mcc: '5311', settlement_cycle: 'T+1' } });
  expect(m.status).toBe(201);
  expect((await call('POST', `/v1/merchants/${m.body['id']}/status`, { body: { status: 'active', reason: 'documents checked' } })).status).toBe(200);
  const k = await call('POST', `/v1/merchants/${m.body['id']}/credentials`, { body: { alg: 'HMAC-SHA256', name: 'prod' } });
  expect(k.status).toBe(201);
  return { merchant: m.body, customerId: c.body['id'] as string, hmac: { keyId: k.body['key_id'] as string, alg: 'HMAC-SHA256', material: k.body['secret'] as string }, secretResponse: k };
}

describe('operator authentication', () => {
  it('needs a bearer token, lets a viewer read but not write, and keeps token routes for admins', async () => {
    expect((await call('GET', '/v1/customers', { token: null })).body['error']['code']).toBe('unauthorized');
    expect((await call('GET', '/v1/customers', { token: 'pco_wrong' })).status).toBe(401);
    const viewer = await call('POST', '/v1/operator-tokens', { body: { name: 'auditor', role: 'viewer' } });
    expect(viewer.status).toBe(201);
    const vt = viewer.body['token'] as string;
    expect(vt).toMatch(/^pco_/);
    expect((await call('GET', '/v1/customers', { token: vt })).status).toBe(200);
    const write = await call('POST', '/v1/customers', { token: vt, body: { kind: 'individual', legal_name: 'x', id_type: 'passport', id_number: 'E12345678' } });
    expect([write.status, write.body['error']['code']]).toEqual([403, 'forbidden']);
    const operator = await call('POST', '/v1/operator-tokens', { body: { name: 'ops', role: 'operator' } });
    const ot = operator.body['token'] as string;
    expect((await call('POST', '/v1/customers', { token: ot, body: { kind: 'individual', legal_name: '王五', id_type: 'passport', id_number: 'E98765432' } })).status).toBe(201);
    expect((await call('GET', '/v1/operator-tokens', { token: ot })).status).toBe(403);
    const listed = await call('GET', '/v1/operator-tokens');
    expect(listed.text).not.toContain(vt);
    expect(listed.body['data'].map((t: Json) => t['name'])).toEqual(['auditor', 'ops']);
    expect((await call('POST', `/v1/operator-tokens/${viewer.body['id']}/revoke`, { body: {} })).body['revoked_at']).toBeTruthy();
    expect((await call('GET', '/v1/customers', { token: vt })).status).toBe(401);
  });
});

describe('OpenAPI', () => {
  it('documents the parties routes with their security schemes', async () => {
    const doc = await call('GET', '/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body['paths']['/v1/merchant/profile']['get']['security']).toEqual([{ merchantSignature: [] }]);
    expect(doc.body['paths']['/v1/customers']['post']['security']).toEqual([{ operatorToken: [] }]);
    expect(Object.keys(doc.body['paths'])).toContain('/v1/merchants/{id}/credentials/{key_id}/revoke');
  });
});

describe('onboarding over HTTP', () => {
  it('creates a customer showing only a masked ID number, and refuses bad input with 400 writing nothing', async () => {
    const ok = await call('POST', '/v1/customers', { body: { kind: 'individual', legal_name: '赵六', id_type: 'resident_id', id_number: '11010519491231002X', phone: '13912345678' } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ id_number_masked: '110***********002X', phone_masked: '139****5678', real_name_level: 0, status: 'active' });
    expect(ok.text).not.toContain('11010519491231002X');
    const before = (await call('GET', '/v1/customers?limit=500')).body['data'].length;
    const bad = await call('POST', '/v1/customers', { body: { kind: 'individual', legal_name: 'x', id_type: 'resident_id', id_number: '110105194912310021' } });
    expect([bad.status, bad.body['error']['code']]).toEqual([400, 'invalid_id_number']);
    const extra = await call('POST', '/v1/customers', { body: { kind: 'individual', legal_name: 'x', id_type: 'passport', id_number: 'E1234567', admin: true } });
    expect([extra.status, extra.body['error']['code']]).toEqual([400, 'invalid_request']);
    const dup = await call('POST', '/v1/customers', { body: { kind: 'individual', legal_name: 'y', id_type: 'resident_id', id_number: '11010519491231002X' } });
    expect([dup.status, dup.body['error']['code']]).toEqual([409, 'customer_exists']);
    expect((await call('GET', '/v1/customers?limit=500')).body['data'].length).toBe(before);
    const found = await call('POST', '/v1/customers/lookup', { body: { id_type: 'resident_id', id_number: '11010519491231002x' } });
    expect(found.body['id']).toBe(ok.body['id']);
    expect((await call('GET', '/v1/customers/123')).body['error']['code']).toBe('customer_not_found');
  });

  it('refuses a parent cycle and a taken login name with 409', async () => {
    const mk = async (): Promise<string> => (await call('POST', '/v1/customers', { body: { kind: 'organization', legal_name: `集团 ${++seq}`, id_type: 'uscc', id_number: sampleUscc(seq) } })).body['id'] as string;
    const [a, b] = [await mk(), await mk()];
    expect((await call('POST', `/v1/customers/${a}/relationships`, { body: { related_customer_id: b, kind: 'parent_organization' } })).status).toBe(201);
    const cyc = await call('POST', `/v1/customers/${b}/relationships`, { body: { related_customer_id: a, kind: 'parent_organization' } });
    expect([cyc.status, cyc.body['error']['code']]).toEqual([409, 'relationship_cycle']);
    expect((await call('POST', `/v1/customers/${a}/users`, { body: { login_name: 'boss@a', roles: ['owner'] } })).status).toBe(201);
    const taken = await call('POST', `/v1/customers/${b}/users`, { body: { login_name: 'BOSS@A', roles: ['owner'] } });
    expect([taken.status, taken.body['error']['code']]).toEqual([409, 'login_name_taken']);
  });

  it('returns an HMAC secret only in the creation response, never in a list, a replay, the database copy or the logs', async () => {
    const { merchant, hmac, secretResponse } = await onboard();
    expect(hmac.material).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secretResponse.body['key_id']).toBe(hmac.keyId);
    const list = await call('GET', `/v1/merchants/${merchant['id']}/credentials`);
    expect(list.status).toBe(200);
    expect(list.body['data'].map((c: Json) => c['key_id'])).toEqual([hmac.keyId]);
    expect(list.text).not.toContain(hmac.material);
    expect(list.body['data'][0]).not.toHaveProperty('secret');
    const first = await call('POST', `/v1/merchants/${merchant['id']}/credentials`, { body: { alg: 'HMAC-SHA256' }, headers: { 'idempotency-key': 'cred-1' } });
    const replay = await call('POST', `/v1/merchants/${merchant['id']}/credentials`, { body: { alg: 'HMAC-SHA256' }, headers: { 'idempotency-key': 'cred-1' } });
    expect(typeof first.body['secret']).toBe('string');
    expect([replay.status, replay.body['key_id'], replay.body['secret']]).toEqual([201, first.body['key_id'], null]);
    const stored = await db.pool.query('SELECT response_body FROM http_idempotency');
    expect(JSON.stringify(stored.rows)).not.toContain(first.body['secret'] as string);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(hmac.material);
    expect(logLines.join('')).not.toContain(first.body['secret'] as string);
  });
});

describe('merchant-signed requests', () => {
  it('accepts an HMAC-signed request, with a query string, and shows the merchant its own accounts', async () => {
    const { merchant, hmac } = await onboard();
    const profile = await signed('GET', '/v1/merchant/profile', hmac);
    expect([profile.status, profile.body['merchant_no']]).toEqual([200, merchant['merchant_no']]);
    const accounts = await signed('GET', '/v1/merchant/accounts?limit=10', hmac);
    expect(accounts.status).toBe(200);
    expect(accounts.body['data']).toEqual([expect.objectContaining({ id: merchant['settlement_account_id'], kind: 'merchant_settlement', currency: 'CNY' })]);
    expect(accounts.body['data'][0]).not.toHaveProperty('ledger_account_id');
    const check = await signed('POST', '/v1/merchant/notify-url/check', hmac, { body: JSON.stringify({ notify_url: 'https://pay.shop.example.com/n' }) });
    expect([check.status, check.body['allowed']]).toEqual([200, true]);
    const no = await signed('POST', '/v1/merchant/notify-url/check', hmac, { body: JSON.stringify({ notify_url: 'http://shop.example.com/n' }) });
    expect(no.body['allowed']).toBe(false);
  });

  it('accepts an RSA-SHA256 request signed with the private key of a registered public key', async () => {
    const { merchant } = await onboard();
    const kp = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const cred = await call('POST', `/v1/merchants/${merchant['id']}/credentials`, { body: { alg: 'RSA-SHA256', public_key_pem: kp.publicKey } });
    expect([cred.status, cred.body['secret'], cred.body['public_key_bits']]).toEqual([201, null, 2048]);
    const rsa: Key = { keyId: cred.body['key_id'] as string, alg: 'RSA-SHA256', material: kp.privateKey };
    expect((await signed('GET', '/v1/merchant/profile', rsa)).status).toBe(200);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const refused = await call('POST', `/v1/merchants/${merchant['id']}/credentials`, { body: { alg: 'RSA-SHA256', public_key_pem: weak.publicKey } });
    expect([refused.status, refused.body['error']['code']]).toEqual([400, 'invalid_public_key']);
  });

  it('names every refusal with its status and code', async () => {
    const { merchant, hmac } = await onboard();
    const expectErr = (r: Res, status: number, errCode: string): void => expect([r.status, r.body['error']?.['code']]).toEqual([status, errCode]);
    expectErr(await call('GET', '/v1/merchant/profile', { token: null }), 401, 'missing_signature');
    expectErr(await signed('GET', '/v1/merchant/profile', { ...hmac, material: 'wrong-secret' }), 401, 'invalid_signature');
    expectErr(await signed('GET', '/v1/merchant/profile', hmac, { header: 'alg="HMAC-SHA256"' }), 401, 'invalid_signature');
    const body = JSON.stringify({ notify_url: 'https://shop.example.com/a' });
    expectErr(await signed('POST', '/v1/merchant/notify-url/check', hmac, { body, sendBody: body.replace('/a', '/b') }), 401, 'invalid_signature');
    expectErr(await signed('GET', '/v1/merchant/accounts?limit=2', hmac, { sendBody: undefined, header: signRequest({ method: 'GET', pathWithQuery: '/v1/merchant/accounts?limit=1', body: '', keyId: hmac.keyId, alg: 'HMAC-SHA256', secretOrPrivateKey: hmac.material, nowSeconds: Date.now() / 1000 }).header }), 401, 'invalid_signature');
    expectErr(await signed('GET', '/v1/merchant/profile', { ...hmac, keyId: 'mk_0123456789abcdef01234567' }), 401, 'unknown_key');
    expectErr(await signed('GET', '/v1/merchant/profile', hmac, { ts: Date.now() / 1000 - 301 }), 401, 'signature_expired');
    expectErr(await signed('GET', '/v1/merchant/profile', hmac, { ts: Date.now() / 1000 + 301 }), 401, 'signature_expired');

    // A forged request must not use up the nonce: the genuine request with it still succeeds once.
    const nonce = newNonce();
    expectErr(await signed('GET', '/v1/merchant/profile', { ...hmac, material: 'forged' }, { nonce }), 401, 'invalid_signature');
    expect((await signed('GET', '/v1/merchant/profile', hmac, { nonce })).status).toBe(200);
    expectErr(await signed('GET', '/v1/merchant/profile', hmac, { nonce }), 401, 'replayed_nonce');

    expect((await call('POST', `/v1/merchants/${merchant['id']}/status`, { body: { status: 'suspended', reason: 'risk' } })).status).toBe(200);
    expectErr(await signed('GET', '/v1/merchant/profile', hmac), 403, 'merchant_disabled');
    expect((await call('POST', `/v1/merchants/${merchant['id']}/status`, { body: { status: 'active' } })).status).toBe(200);
    expect((await signed('GET', '/v1/merchant/profile', hmac)).status).toBe(200);

    const revoked = await call('POST', `/v1/merchants/${merchant['id']}/credentials/${hmac.keyId}/revoke`, { body: { reason: 'rotated' } });
    expect(revoked.body['status']).toBe('disabled');
    expectErr(await signed('GET', '/v1/merchant/profile', hmac), 403, 'key_disabled');
  });

  it("reads its own account statement and gets 404 for another merchant's account", async () => {
    const a = await onboard();
    const b = await onboard();
    const bank = await ledger.createAccount({ type: 'asset', currency: 'CNY', subjectCode: '113101' });
    const acct = await call('GET', `/v1/customers/${a.customerId}/accounts/${a.merchant['settlement_account_id']}`);
    if (!bank.ok) throw new Error(bank.code);
    const t = await ledger.transfer({ idempotencyKey: `pay-${nextId()}`, debitAccountId: bank.value.account.id, creditAccountId: BigInt(acct.body['ledger_account_id'] as string), amount: 12_345n, currency: 'CNY', code: 'payment' });
    expect(t.ok).toBe(true);
    const own = await signed('GET', `/v1/merchant/accounts/${a.merchant['settlement_account_id']}/statement`, a.hmac);
    expect(own.status).toBe(200);
    expect(own.body['data'].map((e: Json) => [e['side'], e['amount'], e['balance_after'], e['code']])).toEqual([['credit', 12_345, 12_345, 'payment']]);
    expect(own.text).not.toContain(bank.value.account.id.toString());
    const other = await signed('GET', `/v1/merchant/accounts/${a.merchant['settlement_account_id']}/statement`, b.hmac);
    expect([other.status, other.body['error']['code']]).toEqual([404, 'business_account_not_found']);
    const missing = await signed('GET', '/v1/merchant/accounts/999/statement', b.hmac);
    expect([missing.status, missing.body['error']['code']]).toEqual([404, 'business_account_not_found']);
  });
});
