/**
 * The Paycore request and notification signature (DESIGN.md §5). Merchants sign their API
 * requests with it, and Paycore signs the notifications it sends to merchants the same way, so
 * one verifier serves both directions. The scheme follows WeChat Pay API v3.
 *
 * Header (one line; parameters in any order, separated by commas, values always double-quoted):
 *
 *   Paycore-Signature: alg="HMAC-SHA256", key_id="mk_...", ts="1767225600", nonce="...", sig="..."
 *
 *   alg     "HMAC-SHA256" (shared secret issued by Paycore) or "RSA-SHA256" (RSASSA-PKCS1-v1_5
 *           with SHA-256; the merchant keeps the private key and registers the public key).
 *   key_id  which credential signed, 1-64 characters of [A-Za-z0-9_.-].
 *   ts      Unix time in seconds, decimal without leading zeros. The verifier refuses a request
 *           whose ts is more than the replay window (five minutes) away from its own clock.
 *   nonce   16-64 URL-safe characters ([A-Za-z0-9_-]), never reused with the same key; the
 *           verifier remembers nonces for longer than the window and refuses a repeat.
 *   sig     standard base64 (with padding) of the signature over the string to sign.
 *
 * String to sign (every line ends with "\n", including the last):
 *
 *   METHOD\nPATH_WITH_QUERY\nTS\nNONCE\nBODY\n
 *
 *   METHOD           upper-case HTTP method.
 *   PATH_WITH_QUERY  the request target exactly as sent, e.g. "/v1/merchant/accounts?limit=10";
 *                    nothing is re-encoded or sorted, so client and server must not rewrite it.
 *   BODY             the exact body text (UTF-8); the empty string when there is no body.
 *
 * For HMAC-SHA256 the key is the UTF-8 bytes of the secret string exactly as Paycore issued it
 * (no base64 decoding), which is what most HTTP client libraries make easiest.
 */
import { createHmac, randomBytes, sign, timingSafeEqual, verify } from 'node:crypto';
import { fail, ok, type Result } from './errors.js';

export const SIGNATURE_HEADER = 'Paycore-Signature';
export const SIGNATURE_ALGS = ['HMAC-SHA256', 'RSA-SHA256'] as const;
export type SignatureAlg = (typeof SIGNATURE_ALGS)[number];

export interface SignatureParams {
  alg: SignatureAlg;
  keyId: string;
  /** Unix seconds. */
  ts: number;
  nonce: string;
  /** Standard base64 of the signature bytes. */
  sig: string;
}

export const KEY_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;
const TS_RE = /^(0|[1-9][0-9]{0,11})$/;
// 8192-bit RSA signatures are 1368 base64 characters; anything far longer is not a signature.
const SIG_RE = /^[A-Za-z0-9+/]{4,2048}={0,2}$/;
const MAX_HEADER_LENGTH = 4096;

export interface SigningInput {
  method: string;
  pathWithQuery: string;
  ts: number;
  nonce: string;
  body: string;
}

export function buildSigningString(inp: SigningInput): string {
  return `${inp.method.toUpperCase()}\n${inp.pathWithQuery}\n${inp.ts}\n${inp.nonce}\n${inp.body}\n`;
}

export function signHmac(secret: string | Buffer, signingString: string): string {
  return createHmac('sha256', secret).update(signingString, 'utf8').digest('base64');
}

/** Decodes a base64 signature, or undefined when it is not canonical base64 (no lenient decoding). */
function decodeSig(sig: string): Buffer | undefined {
  if (!SIG_RE.test(sig) || sig.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(sig, 'base64');
  return bytes.toString('base64') === sig ? bytes : undefined;
}

/** Verifies an HMAC-SHA256 signature in constant time (for equal lengths, which an attacker knows anyway). */
export function verifyHmac(secret: string | Buffer, signingString: string, sig: string): boolean {
  const given = decodeSig(sig);
  if (!given) return false;
  const expected = createHmac('sha256', secret).update(signingString, 'utf8').digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function signRsa(privateKeyPem: string, signingString: string): string {
  return sign('sha256', Buffer.from(signingString, 'utf8'), privateKeyPem).toString('base64');
}

/** Verifies an RSA-SHA256 (PKCS#1 v1.5) signature; a malformed key or signature is simply "not valid". */
export function verifyRsa(publicKeyPem: string, signingString: string, sig: string): boolean {
  const given = decodeSig(sig);
  if (!given) return false;
  try {
    return verify('sha256', Buffer.from(signingString, 'utf8'), publicKeyPem, given);
  } catch {
    return false;
  }
}

const PARAM_NAMES = ['alg', 'key_id', 'ts', 'nonce', 'sig'] as const;
type ParamName = (typeof PARAM_NAMES)[number];

/** Parses the header value. Unknown, repeated or missing parameters make the whole header invalid. */
export function parseSignatureHeader(header: string): Result<SignatureParams, 'invalid_signature_header'> {
  const bad = (why: string): Result<SignatureParams, 'invalid_signature_header'> => fail('invalid_signature_header', `${SIGNATURE_HEADER} ${why}`);
  if (header.length > MAX_HEADER_LENGTH) return bad('is too long');
  const seen = new Map<ParamName, string>();
  for (const part of header.split(',')) {
    const m = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
    if (!m) return bad('must be a comma-separated list of name="value" pairs');
    const name = m[1] as ParamName;
    if (!PARAM_NAMES.includes(name)) return bad(`has an unknown parameter ${m[1]}`);
    if (seen.has(name)) return bad(`repeats the parameter ${name}`);
    seen.set(name, m[2]!);
  }
  const alg = seen.get('alg');
  const keyId = seen.get('key_id');
  const ts = seen.get('ts');
  const nonce = seen.get('nonce');
  const sig = seen.get('sig');
  if (alg === undefined || keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) {
    return bad(`needs all of ${PARAM_NAMES.join(', ')}`);
  }
  if (!(SIGNATURE_ALGS as readonly string[]).includes(alg)) return bad(`alg must be one of ${SIGNATURE_ALGS.join(', ')}`);
  if (!KEY_ID_RE.test(keyId)) return bad('key_id must be 1-64 characters of [A-Za-z0-9_.-]');
  if (!TS_RE.test(ts)) return bad('ts must be Unix seconds without leading zeros');
  if (!NONCE_RE.test(nonce)) return bad('nonce must be 16-64 characters of [A-Za-z0-9_-]');
  if (!SIG_RE.test(sig)) return bad('sig must be base64');
  return ok({ alg: alg as SignatureAlg, keyId, ts: Number(ts), nonce, sig });
}

export function formatSignatureHeader(p: SignatureParams): string {
  return `alg="${p.alg}", key_id="${p.keyId}", ts="${p.ts}", nonce="${p.nonce}", sig="${p.sig}"`;
}

/** 32 URL-safe characters from 24 random bytes. */
export function newNonce(): string {
  return randomBytes(24).toString('base64url');
}

export interface SignRequestInput {
  method: string;
  pathWithQuery: string;
  body: string;
  keyId: string;
  alg: SignatureAlg;
  /** The HMAC secret as issued, or the PEM of the RSA private key. */
  secretOrPrivateKey: string;
  nowSeconds: number;
  nonce?: string;
}

/** Signs a request (or a notification) and returns the header value with its parts. */
export function signRequest(inp: SignRequestInput): { header: string; params: SignatureParams; signingString: string } {
  const nonce = inp.nonce ?? newNonce();
  const ts = Math.floor(inp.nowSeconds);
  const signingString = buildSigningString({ method: inp.method, pathWithQuery: inp.pathWithQuery, ts, nonce, body: inp.body });
  const sig = inp.alg === 'HMAC-SHA256' ? signHmac(inp.secretOrPrivateKey, signingString) : signRsa(inp.secretOrPrivateKey, signingString);
  const params: SignatureParams = { alg: inp.alg, keyId: inp.keyId, ts, nonce, sig };
  return { header: formatSignatureHeader(params), params, signingString };
}

/** Verifies a signature with the key material of its algorithm. */
export function verifySignature(alg: SignatureAlg, keyMaterial: string | Buffer, signingString: string, sig: string): boolean {
  switch (alg) {
    case 'HMAC-SHA256':
      return verifyHmac(keyMaterial, signingString, sig);
    case 'RSA-SHA256':
      return verifyRsa(typeof keyMaterial === 'string' ? keyMaterial : keyMaterial.toString('utf8'), signingString, sig);
  }
}
