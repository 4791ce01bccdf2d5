// Proves the Paycore-Signature scheme: the exact string to sign, a fixed HMAC vector computed independently (openssl), RSA round trips, constant-form verification and strict header parsing.
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildSigningString, formatSignatureHeader, newNonce, NONCE_RE, parseSignatureHeader, signHmac, signRequest, signRsa, verifyHmac, verifyRsa, verifySignature,
} from './signature.js';

const SECRET = 'test-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const VECTOR = {
  method: 'post',
  pathWithQuery: '/v1/merchant/notify-url/check?x=1',
  ts: 1767225600,
  nonce: 'nonce-0123456789abcdef',
  body: '{"notify_url":"https://shop.example.com/n"}',
};
// printf 'POST\n/v1/merchant/notify-url/check?x=1\n1767225600\nnonce-0123456789abcdef\n{"notify_url":"https://shop.example.com/n"}\n' \
//   | openssl dgst -sha256 -hmac 'test-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345' -binary | base64
const VECTOR_SIG = 'dXOWL/gMa1eVM7gfq5O/FX2wr/6x2BK3quLpqrTlQf0=';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

describe('string to sign', () => {
  it('is METHOD, path with query, ts, nonce and body, each followed by a newline', () => {
    expect(buildSigningString(VECTOR)).toBe(
      'POST\n/v1/merchant/notify-url/check?x=1\n1767225600\nnonce-0123456789abcdef\n{"notify_url":"https://shop.example.com/n"}\n',
    );
    expect(buildSigningString({ ...VECTOR, method: 'GET', body: '' }).endsWith('nonce-0123456789abcdef\n\n')).toBe(true);
  });
});

describe('HMAC-SHA256', () => {
  it('matches the fixed test vector', () => {
    const str = buildSigningString(VECTOR);
    expect(signHmac(SECRET, str)).toBe(VECTOR_SIG);
    expect(verifyHmac(SECRET, str, VECTOR_SIG)).toBe(true);
  });

  it('refuses a signature over anything else, under another secret, or in a non-canonical encoding', () => {
    const str = buildSigningString(VECTOR);
    expect(verifyHmac(SECRET, buildSigningString({ ...VECTOR, body: VECTOR.body.replace('shop', 'shoq') }), VECTOR_SIG)).toBe(false);
    expect(verifyHmac(`${SECRET}x`, str, VECTOR_SIG)).toBe(false);
    expect(verifyHmac(SECRET, str, VECTOR_SIG.replace('=', ''))).toBe(false);
    expect(verifyHmac(SECRET, str, `${VECTOR_SIG}AAAA`)).toBe(false);
    expect(verifyHmac(SECRET, str, '')).toBe(false);
  });

  it('verifies what it signs for any request content (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.nat(), (body, path, ts) => {
        const str = buildSigningString({ method: 'POST', pathWithQuery: `/${path}`, ts, nonce: 'n'.repeat(16), body });
        const sig = signHmac(SECRET, str);
        return verifyHmac(SECRET, str, sig) && !verifyHmac(SECRET, `${str}x`, sig);
      }),
      { numRuns: 200 },
    );
  });
});

describe('RSA-SHA256', () => {
  it('verifies with the public key and refuses a changed message or another key', () => {
    const str = buildSigningString(VECTOR);
    const sig = signRsa(rsa.privateKey, str);
    expect(verifyRsa(rsa.publicKey, str, sig)).toBe(true);
    expect(verifySignature('RSA-SHA256', rsa.publicKey, str, sig)).toBe(true);
    expect(verifyRsa(rsa.publicKey, `${str} `, sig)).toBe(false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(verifyRsa(other.publicKey, str, sig)).toBe(false);
    expect(verifyRsa('not a key', str, sig)).toBe(false);
  });
});

describe('header', () => {
  it('round-trips through format and parse, in any parameter order', () => {
    const p = { alg: 'HMAC-SHA256' as const, keyId: 'mk_0123456789abcdef01234567', ts: 1767225600, nonce: 'abcdefghij_-KLMNOP', sig: VECTOR_SIG };
    expect(parseSignatureHeader(formatSignatureHeader(p))).toEqual({ ok: true, value: p });
    const shuffled = `sig="${p.sig}",nonce="${p.nonce}" , ts="${p.ts}",key_id="${p.keyId}",alg="HMAC-SHA256"`;
    expect(parseSignatureHeader(shuffled)).toEqual({ ok: true, value: p });
  });

  it.each([
    ['a missing parameter', 'alg="HMAC-SHA256", key_id="k", ts="1", nonce="0123456789abcdef"'],
    ['an unknown algorithm', 'alg="HMAC-MD5", key_id="k", ts="1", nonce="0123456789abcdef", sig="AAAA"'],
    ['an unknown parameter', 'alg="HMAC-SHA256", key_id="k", ts="1", nonce="0123456789abcdef", sig="AAAA", x="1"'],
    ['a repeated parameter', 'alg="HMAC-SHA256", key_id="k", key_id="j", ts="1", nonce="0123456789abcdef", sig="AAAA"'],
    ['a short nonce', 'alg="HMAC-SHA256", key_id="k", ts="1", nonce="short", sig="AAAA"'],
    ['a nonce with unsafe characters', 'alg="HMAC-SHA256", key_id="k", ts="1", nonce="0123456789abcdef/", sig="AAAA"'],
    ['a timestamp with leading zeros', 'alg="HMAC-SHA256", key_id="k", ts="01", nonce="0123456789abcdef", sig="AAAA"'],
    ['a fractional timestamp', 'alg="HMAC-SHA256", key_id="k", ts="1.5", nonce="0123456789abcdef", sig="AAAA"'],
    ['an unquoted value', 'alg=HMAC-SHA256, key_id="k", ts="1", nonce="0123456789abcdef", sig="AAAA"'],
    ['a signature that is not base64', 'alg="HMAC-SHA256", key_id="k", ts="1", nonce="0123456789abcdef", sig="%%%%"'],
  ])('refuses %s', (_what, header) => {
    const r = parseSignatureHeader(header);
    expect(r.ok ? 'ok' : r.code).toBe('invalid_signature_header');
  });
});

describe('signRequest', () => {
  it('produces a header the verifier accepts, for both algorithms', () => {
    const h = signRequest({ ...VECTOR, keyId: 'mk_1', alg: 'HMAC-SHA256', secretOrPrivateKey: SECRET, nowSeconds: VECTOR.ts + 0.9 });
    expect(h.params.sig).toBe(VECTOR_SIG);
    expect(h.header).toBe(`alg="HMAC-SHA256", key_id="mk_1", ts="1767225600", nonce="nonce-0123456789abcdef", sig="${VECTOR_SIG}"`);
    const r = signRequest({ method: 'GET', pathWithQuery: '/v1/merchant/profile', body: '', keyId: 'mk_2', alg: 'RSA-SHA256', secretOrPrivateKey: rsa.privateKey, nowSeconds: 1 });
    const parsed = parseSignatureHeader(r.header);
    expect(parsed.ok && verifyRsa(rsa.publicKey, r.signingString, parsed.value.sig)).toBe(true);
    expect(NONCE_RE.test(r.params.nonce)).toBe(true);
  });

  it('generates distinct URL-safe nonces', () => {
    const seen = new Set(Array.from({ length: 100 }, () => newNonce()));
    expect(seen.size).toBe(100);
    for (const n of seen) expect(NONCE_RE.test(n)).toBe(true);
  });
});
