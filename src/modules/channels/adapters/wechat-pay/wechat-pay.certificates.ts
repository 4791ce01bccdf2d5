/**
 * Bootstrapping the platform certificates (下载平台证书, GET /v3/certificates). An operator has the
 * merchant credentials (mchid, merchant key and serial, APIv3 key) but not yet the platform
 * certificates that every answer must be verified against. WeChat's answer lists the current
 * certificates, each encrypted with AEAD_AES_256_GCM under the APIv3 key (associated data
 * "certificate"). Decryption authenticates them (only WeChat and the merchant know the key); the
 * answer's own signature is then checked against the decrypted set, as WeChat's documentation
 * describes for the first download.
 *
 * Pure like the adapter: build the request, send it with http-exec, parse the answer.
 */
import { X509Certificate } from 'node:crypto';
import type { CallContext, HttpRequestSpec, HttpResponseData } from '../../adapter.js';
import { readPlatformCertificate, type WechatPayCredentials, type WechatPayPlatformCertificate } from './wechat-pay.config.js';
import { decryptResource, isEncryptedResource, signedRequest, verifyAnswer } from './wechat-pay.crypto.js';
import { errorOf, obj, parseJsonObject, parseRfc3339, str } from './wechat-pay.wire.js';

export interface DownloadedPlatformCertificate {
  serialNo: string;
  pem: string;
  /** effective_time / expire_time as WeChat lists them (WeChat moves expire_time forward before a rotation). */
  effectiveTime: Date;
  expireTime: Date;
  /** The validity written in the certificate itself. */
  notBefore: Date;
  notAfter: Date;
}

export type CertificatesResult = { ok: true; certificates: DownloadedPlatformCertificate[] } | { ok: false; message: string };

export function buildWechatPayCertificatesRequest(creds: WechatPayCredentials, cx: CallContext): HttpRequestSpec {
  return signedRequest(creds, 'GET', '/v3/certificates', undefined, cx);
}

function readEntry(creds: WechatPayCredentials, entry: unknown, i: number): DownloadedPlatformCertificate | string {
  const e = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : undefined;
  const serial = str(e, 'serial_no');
  const effectiveTime = parseRfc3339(e?.['effective_time']);
  const expireTime = parseRfc3339(e?.['expire_time']);
  const enc = obj(e, 'encrypt_certificate');
  if (!serial || !effectiveTime || !expireTime || !isEncryptedResource(enc)) return `data[${i}] lacks serial_no, times or encrypt_certificate`;
  const plain = decryptResource(creds.apiV3Key.reveal(), enc);
  if (!plain) return `data[${i}] does not decrypt with the APIv3 key`;
  const cert = readPlatformCertificate(plain.toString('utf8'));
  if (!cert) return `data[${i}] is not a PEM certificate with an RSA key`;
  if (cert.serialNo !== serial.toUpperCase()) return `data[${i}] serial_no ${serial} differs from the certificate's ${cert.serialNo}`;
  return { serialNo: cert.serialNo, pem: new X509Certificate(cert.pem).toString(), effectiveTime, expireTime, notBefore: cert.notBefore, notAfter: cert.notAfter };
}

export function parseWechatPayCertificatesResponse(creds: WechatPayCredentials, res: HttpResponseData, cx: CallContext): CertificatesResult {
  if (res.status !== 200) {
    const err = errorOf(res.status, res.body);
    return { ok: false, message: `HTTP ${res.status} ${err.code}: ${err.message}` };
  }
  const data = parseJsonObject(res.body)?.['data'];
  if (!Array.isArray(data) || data.length === 0) return { ok: false, message: 'answer lists no certificates' };
  const certificates: DownloadedPlatformCertificate[] = [];
  for (const [i, entry] of data.entries()) {
    const c = readEntry(creds, entry, i);
    if (typeof c === 'string') return { ok: false, message: c };
    certificates.push(c);
  }
  const set: WechatPayPlatformCertificate[] = certificates.map((c) => readPlatformCertificate(c.pem)!);
  const check = verifyAnswer(set, res, cx);
  if (!check.ok) return { ok: false, message: `answer signature: ${check.message}` };
  return { ok: true, certificates };
}
