/**
 * The UnionPay online payment (全渠道 / ACP 5.1.0) message codec: key=value messages, the
 * signature with signMethod 01, and the check of the signer certificate UnionPay sends with every
 * answer and notification.
 *
 * Verified against UnionPay's published SDK (SDKUtil / AcpService, version 5.1.0):
 * - The signing string is every field except `signature`, sorted by key, as `key=value` joined with
 *   `&` (values raw, not URL-encoded) — `coverMap2String`.
 * - signMethod 01 with version 5.1.0: SHA-256 of the signing string as lower-case hex, and that hex
 *   text signed with SHA256withRSA (PKCS#1 v1.5); the signature is standard base64. Requests carry
 *   `certId`, the decimal serial number of the merchant's signing certificate, inside the signed
 *   fields.
 * - Answers and notifications carry `signPubKeyCert`, UnionPay's signing certificate in PEM. The
 *   receiver checks that it chains to UnionPay's middle and root certificates (acp_prod_middle.cer,
 *   acp_prod_root.cer), that it is within its validity, and (in production, `ifValidateCNName`)
 *   that the third '@'-separated part of its CN is 中国银联股份有限公司; then it verifies the
 *   signature with the certificate's public key.
 * - Requests are posted form-encoded; synchronous answers come back as raw `key=value&...` text
 *   that is NOT URL-encoded (values may contain newlines, as the PEM does); a value starting with
 *   `{` or `[` may contain `&` and runs to the matching close bracket — `parseQString`.
 */
import { createHash, createSign, createVerify, X509Certificate, type KeyObject } from 'node:crypto';

export type AcpFields = Record<string, string>;

/** The legal name UnionPay's production signing certificate carries in its CN. */
export const UNIONPAY_CN_NAME = '中国银联股份有限公司';

/** The signing string: every field except `signature`, sorted by key, joined as key=value&... */
export function acpSigningString(fields: AcpFields): string {
  return Object.keys(fields)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

function digestHex(fields: AcpFields): string {
  return createHash('sha256').update(acpSigningString(fields), 'utf8').digest('hex');
}

/** signMethod 01 (version 5.1.0): SHA256withRSA over the hex SHA-256 digest of the signing string. */
export function acpSign(fields: AcpFields, key: KeyObject): string {
  return createSign('RSA-SHA256').update(digestHex(fields), 'utf8').sign(key, 'base64');
}

export function acpVerify(fields: AcpFields, publicKey: KeyObject): boolean {
  const sig = fields['signature'];
  if (!sig) return false;
  try {
    return createVerify('RSA-SHA256').update(digestHex(fields), 'utf8').verify(publicKey, sig, 'base64');
  } catch {
    return false;
  }
}

/** Form-encodes a request body (application/x-www-form-urlencoded, UTF-8). */
export function acpFormEncode(fields: AcpFields): string {
  return new URLSearchParams(fields).toString();
}

/**
 * Parses a synchronous answer: raw `key=value&key=value` text, split at `&` except inside a value
 * that opened a `{...}` or `[...]` group. Returns undefined for text that is not such a message.
 */
export function acpParseAnswer(body: string): AcpFields | undefined {
  const text = body.trim();
  if (text.length === 0) return undefined;
  const out: AcpFields = {};
  let key: string | undefined;
  let buf = '';
  let closer: string | undefined;
  const flush = (): boolean => {
    if (key === undefined) return false;
    out[key] = buf;
    key = undefined;
    buf = '';
    return true;
  };
  for (const ch of text) {
    if (key === undefined) {
      if (ch === '=') {
        if (buf.length === 0) return undefined;
        key = buf;
        buf = '';
      } else if (ch === '&') {
        return undefined;
      } else {
        buf += ch;
      }
      continue;
    }
    if (closer !== undefined) {
      if (ch === closer) closer = undefined;
    } else if (ch === '{') {
      closer = '}';
    } else if (ch === '[') {
      closer = ']';
    }
    if (ch === '&' && closer === undefined) {
      if (!flush()) return undefined;
    } else {
      buf += ch;
    }
  }
  if (!flush()) return undefined;
  return out;
}

/** Parses a notification body (form-encoded). */
export function acpParseForm(body: string): AcpFields | undefined {
  if (!body.includes('=')) return undefined;
  const out: AcpFields = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

export interface AcpTrust {
  rootCert: X509Certificate;
  middleCert: X509Certificate;
  /** Production checks the CN of the signer; UnionPay's test environment uses other names. */
  validateCnName: boolean;
}

function withinValidity(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom).getTime() <= now.getTime() && now.getTime() <= new Date(cert.validTo).getTime();
}

function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}

/**
 * Checks an answer or notification: the `signPubKeyCert` chain, validity and CN, then the
 * signature. Returns the reason on failure (for logs; never includes key material).
 */
export function acpVerifyFromUnionPay(fields: AcpFields, trust: AcpTrust, now: Date): { ok: true } | { ok: false; reason: string } {
  const pem = fields['signPubKeyCert'];
  if (!pem) return { ok: false, reason: 'no signPubKeyCert' };
  if (fields['signMethod'] !== '01') return { ok: false, reason: `unsupported signMethod ${fields['signMethod'] ?? '(none)'}` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return { ok: false, reason: 'signPubKeyCert is not a certificate' };
  }
  const { middleCert, rootCert } = trust;
  const chainOk =
    cert.checkIssued(middleCert) && cert.verify(middleCert.publicKey) && middleCert.checkIssued(rootCert) && middleCert.verify(rootCert.publicKey);
  if (!chainOk) return { ok: false, reason: 'signPubKeyCert does not chain to the configured UnionPay root' };
  if (!withinValidity(cert, now) || !withinValidity(middleCert, now)) return { ok: false, reason: 'signPubKeyCert is outside its validity' };
  if (trust.validateCnName) {
    const cn = commonName(cert) ?? '';
    if (cn.split('@')[2] !== UNIONPAY_CN_NAME) return { ok: false, reason: 'signPubKeyCert CN is not UnionPay' };
  }
  if (!acpVerify(fields, cert.publicKey)) return { ok: false, reason: 'signature does not verify' };
  return { ok: true };
}

const CHINA_OFFSET_MS = 8 * 3600_000;

/** yyyyMMddHHmmss in China time (UTC+8, no daylight saving), as UnionPay's txnTime. */
export function chinaTime(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Parses yyyyMMddHHmmss China time; undefined when malformed. */
export function parseChinaTime(s: string | undefined): Date | undefined {
  const m = s === undefined ? null : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - CHINA_OFFSET_MS;
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * Resolves an MMDDhhmmss China time (traceTime, the statement's 交易传输时间) to an instant, taking
 * the year from a nearby reference instant (the order's txnTime or the statement date): the
 * candidate year closest to the reference wins, which handles the turn of the year.
 */
export function resolveMonthDayTime(mmddhhmmss: string | undefined, reference: Date): Date | undefined {
  if (mmddhhmmss === undefined || !/^\d{10}$/.test(mmddhhmmss)) return undefined;
  const refYear = new Date(reference.getTime() + CHINA_OFFSET_MS).getUTCFullYear();
  let best: Date | undefined;
  for (const y of [refYear - 1, refYear, refYear + 1]) {
    const d = parseChinaTime(`${y}${mmddhhmmss}`);
    if (d && (!best || Math.abs(d.getTime() - reference.getTime()) < Math.abs(best.getTime() - reference.getTime()))) best = d;
  }
  return best;
}
