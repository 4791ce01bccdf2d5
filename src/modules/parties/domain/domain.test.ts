// Proves the pure merchant rules: notification domains and isUrlWithinDomains, RSA public key checks, settlement cycles, login names, roles and status transitions.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDomain, checkDomains, isUrlWithinDomains } from './notify-domains.js';
import { checkRsaPublicKey } from './public-key.js';
import { canChangeAccountStatus, canChangeCustomerStatus, canChangeMerchantStatus } from './status.js';
import { checkLoginName, checkRoles, checkSettlementCycle, checkText } from './validate.js';

const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');

describe('notification domains', () => {
  it('normalises valid domains and refuses IPs, wildcards, single labels and junk', () => {
    expect(checkDomain(' Shop.Example.COM. ')).toEqual({ ok: true, value: 'shop.example.com' });
    expect(checkDomain('xn--fiqs8s.xn--fiqz9s').ok).toBe(true);
    expect(checkDomain('localhost').ok).toBe(true);
    expect(checkDomain('127.0.0.1').ok).toBe(true);
    for (const bad of ['10.0.0.1', '*.example.com', 'example', 'exa mple.com', '-bad.example.com', 'example..com', '例子.中国', '']) {
      expect(code(checkDomain(bad)), bad).toBe('invalid_domain');
    }
    expect(code(checkDomains(['a.example.com', 'A.example.com']))).toBe('invalid_domain');
    expect(code(checkDomains(Array.from({ length: 11 }, (_, i) => `d${i}.example.com`)))).toBe('invalid_domain');
  });

  it('allows https URLs on a registered domain and its subdomains only', () => {
    const d = ['shop.example.com'];
    expect(isUrlWithinDomains('https://shop.example.com/notify', d)).toBe(true);
    expect(isUrlWithinDomains('https://pay.shop.example.com:8443/n?x=1', d)).toBe(true);
    expect(isUrlWithinDomains('https://SHOP.EXAMPLE.COM./n', d)).toBe(true);
    expect(isUrlWithinDomains('http://shop.example.com/notify', d)).toBe(false);
    expect(isUrlWithinDomains('https://evilshop.example.com/n', d)).toBe(false);
    expect(isUrlWithinDomains('https://example.com/n', d)).toBe(false);
    expect(isUrlWithinDomains('https://shop.example.com.evil.io/n', d)).toBe(false);
    expect(isUrlWithinDomains('https://user:pw@shop.example.com/n', d)).toBe(false);
    expect(isUrlWithinDomains('ftp://shop.example.com/n', d)).toBe(false);
    expect(isUrlWithinDomains('not a url', d)).toBe(false);
    expect(isUrlWithinDomains('https://shop.example.com/n', [])).toBe(false);
  });

  it('allows plain http only for localhost and 127.0.0.1, and only when registered', () => {
    expect(isUrlWithinDomains('http://127.0.0.1:3000/n', ['127.0.0.1'])).toBe(true);
    expect(isUrlWithinDomains('http://localhost:3000/n', ['localhost'])).toBe(true);
    expect(isUrlWithinDomains('http://localhost:3000/n', ['127.0.0.1'])).toBe(false);
    expect(isUrlWithinDomains('http://a.localhost/n', ['localhost'])).toBe(false);
    expect(isUrlWithinDomains('http://127.0.0.1/n', ['shop.example.com'])).toBe(false);
  });
});

describe('RSA public keys', () => {
  const pair = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

  it('accepts a 2048-bit public key (SPKI or PKCS#1) and stores it as SPKI', () => {
    const k = pair(2048);
    expect(checkRsaPublicKey(k.publicKey)).toEqual({ ok: true, value: { pem: k.publicKey, bits: 2048 } });
    const pkcs1 = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'pkcs1', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const r = checkRsaPublicKey(pkcs1.publicKey);
    expect(r.ok && r.value.pem.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
  });

  it('refuses short keys, private keys, other algorithms and garbage', () => {
    expect(code(checkRsaPublicKey(pair(1024).publicKey))).toBe('invalid_public_key');
    const priv = checkRsaPublicKey(pair(2048).privateKey);
    expect(!priv.ok && priv.message).toMatch(/private key/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(code(checkRsaPublicKey(ec.publicKey))).toBe('invalid_public_key');
    expect(code(checkRsaPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'))).toBe('invalid_public_key');
  });
});

describe('merchant and user fields', () => {
  it('accepts T+0..T+30 and D+1 only', () => {
    for (const ok of ['T+0', 'T+1', 'T+30', 'D+1']) expect(checkSettlementCycle(ok).ok, ok).toBe(true);
    for (const bad of ['T+31', 'T+01', 'D+2', 'T1', 't+1', 'T+-1', '']) expect(code(checkSettlementCycle(bad)), bad).toBe('invalid_settlement_cycle');
  });

  it('lower-cases login names and refuses odd ones; roles come from the fixed set without repeats', () => {
    expect(checkLoginName(' Alice.Chen@Shop ')).toEqual({ ok: true, value: 'alice.chen@shop' });
    for (const bad of ['ab', '.alice', 'alice chen', 'a'.repeat(65), '张三']) expect(code(checkLoginName(bad)), bad).toBe('invalid_login_name');
    expect(checkRoles(['owner', 'finance']).ok).toBe(true);
    expect(code(checkRoles([]))).toBe('invalid_user');
    expect(code(checkRoles(['root']))).toBe('invalid_user');
    expect(code(checkRoles(['viewer', 'viewer']))).toBe('invalid_user');
  });

  it('counts characters, not UTF-16 units, and refuses control characters', () => {
    expect(checkText('bad', 'name', '上海测试科技有限公司', 1, 10).ok).toBe(true);
    expect(checkText('bad', 'name', '😀'.repeat(10), 1, 10).ok).toBe(true);
    expect(code(checkText('bad', 'name', 'a\nb', 1, 10))).toBe('bad');
    expect(code(checkText('bad', 'name', '   ', 1, 10))).toBe('bad');
  });
});

describe('status transitions', () => {
  it('makes closed final and lets suspension be undone', () => {
    expect(canChangeMerchantStatus('pending', 'active')).toBe(true);
    expect(canChangeMerchantStatus('pending', 'suspended')).toBe(false);
    expect(canChangeMerchantStatus('suspended', 'active')).toBe(true);
    expect(canChangeMerchantStatus('closed', 'active')).toBe(false);
    expect(canChangeCustomerStatus('closed', 'active')).toBe(false);
    expect(canChangeAccountStatus('frozen', 'active')).toBe(true);
    expect(canChangeAccountStatus('closed', 'frozen')).toBe(false);
  });
});
