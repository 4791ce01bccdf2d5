/**
 * The simulator's side of UnionPay's ACP 5.1.0 message rules (written separately from the
 * adapter's codec on purpose, so a mistake in one cannot hide behind the same mistake in the other):
 * the signing string is every field but `signature`, sorted by key, as key=value joined with '&';
 * signMethod 01 signs the lower-case hex SHA-256 of that string with SHA256withRSA; requests are
 * form-encoded; synchronous answers are raw key=value text, not URL-encoded; back notifications
 * are posted form-encoded.
 */
import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';

export type Fields = Record<string, string>;

export function signingString(f: Fields): string {
  return Object.keys(f)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${k}=${f[k]}`)
    .join('&');
}

function hexDigest(f: Fields): string {
  return createHash('sha256').update(signingString(f), 'utf8').digest('hex');
}

export function signWith(f: Fields, key: KeyObject): string {
  return createSign('RSA-SHA256').update(hexDigest(f), 'utf8').sign(key, 'base64');
}

export function verifyWith(f: Fields, key: KeyObject): boolean {
  const sig = f['signature'];
  if (!sig) return false;
  try {
    return createVerify('RSA-SHA256').update(hexDigest(f), 'utf8').verify(key, sig, 'base64');
  } catch {
    return false;
  }
}

/** Parses a form-encoded request body; repeated keys keep the last value. */
export function parseForm(body: string): Fields {
  const out: Fields = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** Serialises an answer the way UnionPay's gateway does: raw key=value pairs joined with '&'. */
export function rawAnswer(f: Fields): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const CHINA_MS = 8 * 3600_000;

/** yyyyMMddHHmmss, China time. */
export function chinaStamp(at: Date): string {
  return new Date(at.getTime() + CHINA_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function parseChinaStamp(s: string | undefined): Date | undefined {
  const m = s === undefined ? null : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - CHINA_MS;
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** The China calendar date (YYYY-MM-DD) of an instant. */
export function chinaDate(at: Date): string {
  return new Date(at.getTime() + CHINA_MS).toISOString().slice(0, 10);
}

/**
 * UnionPay's clearing day runs from 23:00 the day before to 23:00 (China time), so a transaction
 * at 23:30 settles on the next calendar date.
 */
export function settleDateOf(at: Date): string {
  return chinaDate(new Date(at.getTime() + 3600_000));
}
