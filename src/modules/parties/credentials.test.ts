// Proves merchant credentials and operator tokens against real PostgreSQL: secrets stored only sealed or hashed, shown once, verified through the module, rotation limits, revocation and nonce replay detection.
import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../kernel/clock.js';
import { MasterKey } from '../../kernel/secret.js';
import { signRequest } from '../../kernel/signature.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import { MAX_ACTIVE_CREDENTIALS, operatorTokenSha256, Parties, sampleUscc, type Merchant } from './index.js';

let f: LedgerFixture;
let parties: Parties;
let masterKey: MasterKey;
let n = 0;

beforeAll(async () => {
  f = await ledgerFixture();
  masterKey = MasterKey.generate();
  parties = new Parties({ pool: f.db.pool, clock: systemClock, nextId: f.nextId, ledger: f.ledger, masterKey });
});
afterAll(async () => {
  await f.close();
});

const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');
const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
const rsa = (bits = 2048) => generateKeyPairSync('rsa', { modulusLength: bits, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

async function merchant(): Promise<Merchant> {
  n++;
  const c = await parties.createCustomer({ kind: 'organization', legalName: `商户 ${n}`, idType: 'uscc', idNumber: sampleUscc(n) });
  if (!c.ok) throw new Error(c.code);
  const m = await parties.createMerchant({ customerId: c.value.id, displayName: `m${n}`, mcc: '5411', settlementCycle: 'T+1' });
  if (!m.ok) throw new Error(m.code);
  return m.value;
}

function sign(keyId: string, secretOrKey: string, alg: 'HMAC-SHA256' | 'RSA-SHA256') {
  return signRequest({ method: 'GET', pathWithQuery: '/v1/merchant/profile', body: '', keyId, alg, secretOrPrivateKey: secretOrKey, nowSeconds: Date.now() / 1000 });
}

describe('HMAC credentials', () => {
  it('returns the secret once and stores it only sealed under credential:<key_id>', async () => {
    const m = await merchant();
    const r = await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256', name: 'prod' });
    if (!r.ok) throw new Error(r.code);
    const secret = r.value.secret!.reveal();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.value.credential.keyId).toMatch(/^mk_[0-9a-f]{24}$/);
    // The Secret wrapper keeps it out of logs and JSON.
    expect(json(r.value)).not.toContain(secret);
    expect(inspect(r.value)).not.toContain(secret);
    const row = (await f.db.pool.query('SELECT * FROM merchant_credentials WHERE key_id = $1', [r.value.credential.keyId])).rows[0] as Record<string, unknown>;
    expect(json(row)).not.toContain(secret);
    expect(masterKey.open(row['secret_sealed'] as string, `credential:${r.value.credential.keyId}`).toString()).toBe(secret);
    expect(() => masterKey.open(row['secret_sealed'] as string, 'credential:mk_000000000000000000000000')).toThrow();
    const listed = await parties.listCredentials({ merchantId: m.id, limit: 10 });
    expect(listed.ok && listed.value.map((c) => c.keyId)).toEqual([r.value.credential.keyId]);
    expect(json(listed)).not.toContain(secret);
  });

  it('verifies signatures made with the secret, and nothing else', async () => {
    const m = await merchant();
    const r = await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256' });
    if (!r.ok) throw new Error(r.code);
    const keyId = r.value.credential.keyId;
    const auth = await parties.credentialForAuth({ keyId });
    if (!auth.ok) throw new Error(auth.code);
    expect(auth.value).toMatchObject({ merchantId: m.id, alg: 'HMAC-SHA256', status: 'active', merchantStatus: 'pending', customerStatus: 'active' });
    const good = sign(keyId, r.value.secret!.reveal(), 'HMAC-SHA256');
    expect(auth.value.verify(good.signingString, good.params.sig)).toBe(true);
    const forged = sign(keyId, 'not-the-secret', 'HMAC-SHA256');
    expect(auth.value.verify(forged.signingString, forged.params.sig)).toBe(false);
    expect(auth.value.verify(`${good.signingString}x`, good.params.sig)).toBe(false);
    expect(code(await parties.credentialForAuth({ keyId: 'mk_ffffffffffffffffffffffff' }))).toBe('credential_not_found');
    expect(code(await parties.credentialForAuth({ keyId: "mk_' OR 1=1 --" }))).toBe('credential_not_found');
  });
});

describe('RSA credentials', () => {
  it('registers a public key and verifies the merchant signatures made with its private key', async () => {
    const m = await merchant();
    const kp = rsa();
    const r = await parties.createCredential({ merchantId: m.id, alg: 'RSA-SHA256', publicKeyPem: kp.publicKey });
    if (!r.ok) throw new Error(r.code);
    expect(r.value.secret).toBeUndefined();
    expect(r.value.credential).toMatchObject({ alg: 'RSA-SHA256', publicKeyBits: 2048, publicKeyPem: kp.publicKey });
    const auth = await parties.credentialForAuth({ keyId: r.value.credential.keyId });
    const s = sign(r.value.credential.keyId, kp.privateKey, 'RSA-SHA256');
    expect(auth.ok && auth.value.verify(s.signingString, s.params.sig)).toBe(true);
    const other = sign(r.value.credential.keyId, rsa().privateKey, 'RSA-SHA256');
    expect(auth.ok && auth.value.verify(other.signingString, other.params.sig)).toBe(false);
  });

  it('refuses short keys, private keys, missing or misplaced keys, and unknown algorithms, writing nothing', async () => {
    const m = await merchant();
    const kp = rsa();
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'RSA-SHA256', publicKeyPem: rsa(1024).publicKey }))).toBe('invalid_public_key');
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'RSA-SHA256', publicKeyPem: kp.privateKey }))).toBe('invalid_public_key');
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'RSA-SHA256' }))).toBe('invalid_credential');
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256', publicKeyPem: kp.publicKey }))).toBe('invalid_credential');
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA1' }))).toBe('invalid_credential');
    expect(code(await parties.createCredential({ merchantId: 5n, alg: 'HMAC-SHA256' }))).toBe('merchant_not_found');
    const listed = await parties.listCredentials({ merchantId: m.id, limit: 10 });
    expect(listed.ok && listed.value).toEqual([]);
  });
});

describe('rotation and revocation', () => {
  it(`allows ${MAX_ACTIVE_CREDENTIALS} active keys, frees a slot on revoke, and keeps revoked keys disabled`, async () => {
    const m = await merchant();
    const keys: string[] = [];
    for (let i = 0; i < MAX_ACTIVE_CREDENTIALS; i++) {
      const r = await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256' });
      if (!r.ok) throw new Error(r.code);
      keys.push(r.value.credential.keyId);
    }
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256' }))).toBe('credential_limit_reached');
    const other = await merchant();
    expect(code(await parties.revokeCredential({ merchantId: other.id, keyId: keys[0]! }))).toBe('credential_not_found');
    const revoked = await parties.revokeCredential({ merchantId: m.id, keyId: keys[0]!, reason: 'rotated', actor: 'op:2' });
    expect(revoked.ok && revoked.value.status).toBe('disabled');
    expect(code(await parties.revokeCredential({ merchantId: m.id, keyId: keys[0]! }))).toBe('ok');
    const auth = await parties.credentialForAuth({ keyId: keys[0]! });
    expect(auth.ok && auth.value.status).toBe('disabled');
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256' }))).toBe('ok');
    await parties.setMerchantStatus({ id: m.id, status: 'closed' });
    expect(code(await parties.createCredential({ merchantId: m.id, alg: 'HMAC-SHA256' }))).toBe('merchant_closed');
  });

  it('records a nonce once per key', async () => {
    expect(await parties.recordNonce({ keyId: 'mk_aaaaaaaaaaaaaaaaaaaaaaaa', nonce: 'nonce-aaaaaaaaaaaaaaaa' })).toBe(true);
    expect(await parties.recordNonce({ keyId: 'mk_aaaaaaaaaaaaaaaaaaaaaaaa', nonce: 'nonce-aaaaaaaaaaaaaaaa' })).toBe(false);
    expect(await parties.recordNonce({ keyId: 'mk_bbbbbbbbbbbbbbbbbbbbbbbb', nonce: 'nonce-aaaaaaaaaaaaaaaa' })).toBe(true);
  });
});

describe('operator tokens', () => {
  it('returns the token once, stores only its SHA-256, looks it up until revoked', async () => {
    const r = await parties.createOperatorToken({ name: 'night shift', role: 'operator', createdBy: 'admin' });
    if (!r.ok) throw new Error(r.code);
    const token = r.value.value.reveal();
    expect(token).toMatch(/^pco_[A-Za-z0-9_-]{43}$/);
    const row = (await f.db.pool.query('SELECT * FROM operator_tokens WHERE id = $1', [r.value.token.id])).rows[0] as Record<string, unknown>;
    expect(json(row)).not.toContain(token.slice(4));
    expect(row['token_sha256']).toBe(operatorTokenSha256(token));
    expect(await parties.operatorTokenLookup(operatorTokenSha256(token))).toEqual({ id: `token:${r.value.token.id}`, role: 'operator' });
    expect(await parties.operatorTokenLookup(operatorTokenSha256(`${token}x`))).toBeUndefined();
    const revoked = await parties.revokeOperatorToken({ id: r.value.token.id, actor: 'admin' });
    expect(revoked.ok && revoked.value.revokedAt).toBeInstanceOf(Date);
    expect(await parties.operatorTokenLookup(operatorTokenSha256(token))).toBeUndefined();
    expect(code(await parties.revokeOperatorToken({ id: 1n }))).toBe('operator_token_not_found');
  });

  it('refuses unknown roles and empty names', async () => {
    expect(code(await parties.createOperatorToken({ name: 'x', role: 'root' }))).toBe('invalid_operator_token');
    expect(code(await parties.createOperatorToken({ name: ' ', role: 'viewer' }))).toBe('invalid_operator_token');
  });
});
