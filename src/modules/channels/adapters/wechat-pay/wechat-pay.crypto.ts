/**
 * WeChat Pay APIv3 signatures and resource decryption (签名生成 / 签名验证 / 回调报文解密).
 *
 * Requests: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
 * timestamp="…",serial_no="…"`, the signature being SHA256withRSA (PKCS#1 v1.5) with the merchant
 * private key over five lines, each ending in "\n": METHOD, URL path with query, timestamp, nonce,
 * body ("" for GET).
 *
 * Answers and notifications: headers Wechatpay-Timestamp, Wechatpay-Nonce, Wechatpay-Signature
 * and Wechatpay-Serial; the signature is SHA256withRSA by the platform certificate named by the
 * serial, over three lines: timestamp, nonce, body. Answers older than five minutes are refused
 * (WeChat's own guidance against replays).
 *
 * Encrypted resources (notifications, platform certificates): AEAD_AES_256_GCM under the APIv3
 * key, 12-byte nonce given as text, associated data as text, base64 ciphertext ending in the
 * 16-byte tag.
 */
import { createDecipheriv, sign, verify } from 'node:crypto';
import type { CallContext, HttpRequestSpec, HttpResponseData } from '../../adapter.js';
import type { WechatPayCredentials, WechatPayPlatformCertificate } from './wechat-pay.config.js';

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** How far a signed answer's timestamp may be from our clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const USER_AGENT = 'paycore-wechatpay/1 (+APIv3)';

/** Case-insensitive header lookup (callers hand us lower-case names, but be lenient). */
export function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** The request nonce: WeChat's examples use 32 characters; the contract gives ≥ 16 of [A-Za-z0-9]. */
function requestNonce(cx: CallContext): string {
  return cx.nonce.slice(0, 32);
}

export function unixSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

export function authorizationHeader(creds: WechatPayCredentials, method: string, pathWithQuery: string, body: string, cx: CallContext): string {
  const ts = unixSeconds(cx.now);
  const nonce = requestNonce(cx);
  const message = `${method}\n${pathWithQuery}\n${ts}\n${nonce}\n${body}\n`;
  const signature = sign('sha256', Buffer.from(message, 'utf8'), creds.merchantPrivateKey.reveal()).toString('base64');
  return `${AUTH_SCHEME} mchid="${creds.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${ts}",serial_no="${creds.merchantSerialNo}"`;
}

/** A signed APIv3 request. `target` is a path with query under baseUrl, or an absolute URL (bill download). */
export function signedRequest(creds: WechatPayCredentials, method: 'GET' | 'POST', target: string, body: unknown, cx: CallContext): HttpRequestSpec {
  const url = target.startsWith('http://') || target.startsWith('https://') ? new URL(target) : new URL(creds.baseUrl + target);
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = {
    Authorization: authorizationHeader(creds, method, url.pathname + url.search, text, cx),
    Accept: 'application/json',
    'User-Agent': USER_AGENT,
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  url.hash = '';
  return body === undefined ? { method, url: url.toString(), headers } : { method, url: url.toString(), headers, body: text };
}

export type SignatureCheck = { ok: true; serialNo: string } | { ok: false; code: 'bad_signature' | 'stale'; message: string };

/**
 * Verifies a platform signature over `timestamp\nnonce\nbody\n`. `bodyBytes` is preferred over the
 * decoded text when the caller has the exact bytes.
 */
export function verifyPlatformSignature(
  certs: readonly WechatPayPlatformCertificate[],
  headers: Record<string, string>,
  body: string,
  now: Date,
  bodyBytes?: Buffer,
): SignatureCheck {
  const ts = headerValue(headers, 'wechatpay-timestamp');
  const nonce = headerValue(headers, 'wechatpay-nonce');
  const signature = headerValue(headers, 'wechatpay-signature');
  const serial = headerValue(headers, 'wechatpay-serial');
  if (!ts || !nonce || !signature || !serial) return { ok: false, code: 'bad_signature', message: 'missing Wechatpay-Timestamp/Nonce/Signature/Serial headers' };
  if (!/^[0-9]{1,12}$/.test(ts)) return { ok: false, code: 'bad_signature', message: 'Wechatpay-Timestamp is not a Unix time' };
  if (Math.abs(now.getTime() - Number(ts) * 1000) > MAX_CLOCK_SKEW_MS) return { ok: false, code: 'stale', message: 'Wechatpay-Timestamp is more than five minutes away from our clock' };
  const cert = certs.find((c) => c.serialNo === serial.toUpperCase());
  if (!cert) return { ok: false, code: 'bad_signature', message: `no platform certificate with serial ${serial}` };
  const payload = Buffer.concat([Buffer.from(`${ts}\n${nonce}\n`, 'utf8'), bodyBytes ?? Buffer.from(body, 'utf8'), Buffer.from('\n', 'utf8')]);
  let good = false;
  try {
    good = verify('sha256', payload, cert.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? { ok: true, serialNo: cert.serialNo } : { ok: false, code: 'bad_signature', message: 'Wechatpay-Signature does not verify' };
}

/** Verifies a synchronous answer; what came back unverified cannot be trusted either way. */
export function verifyAnswer(certs: readonly WechatPayPlatformCertificate[], res: HttpResponseData, cx: CallContext): SignatureCheck {
  return verifyPlatformSignature(certs, res.headers, res.body, cx.now, res.bytes);
}

export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  associated_data?: string;
  nonce: string;
}

export function isEncryptedResource(v: unknown): v is EncryptedResource {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r['algorithm'] === 'string' && typeof r['ciphertext'] === 'string' && typeof r['nonce'] === 'string' && (r['associated_data'] === undefined || typeof r['associated_data'] === 'string');
}

/** Decrypts an AEAD_AES_256_GCM resource; undefined when the tag does not authenticate. */
export function decryptResource(apiV3Key: Buffer, resource: EncryptedResource): Buffer | undefined {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') return undefined;
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < 17) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', apiV3Key, Buffer.from(resource.nonce, 'utf8'));
    d.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    d.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
  } catch {
    return undefined;
  }
}

/** The JSAPI 调起支付 signature: merchant key, SHA256withRSA over appId, timeStamp, nonceStr, package. */
export function jsapiPaySign(creds: WechatPayCredentials, appId: string, timeStamp: string, nonceStr: string, pkg: string): string {
  const message = `${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
  return sign('sha256', Buffer.from(message, 'utf8'), creds.merchantPrivateKey.reveal()).toString('base64');
}
