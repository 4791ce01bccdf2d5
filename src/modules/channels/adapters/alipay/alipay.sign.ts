/**
 * Alipay OpenAPI (gateway.do, RSA2) signing rules, shared by requests, responses and notifications.
 *
 * - Requests: every non-empty parameter except `sign` (so `sign_type` included), sorted by key,
 *   joined as `k=v` with `&` (raw values, not URL-encoded), signed SHA256withRSA with the app
 *   private key, base64.
 * - Responses: the signature covers the exact JSON text of the `<method>_response` value as it
 *   appears in the body; it is cut out of the raw body, never re-serialised (Alipay escapes `/`
 *   as `\/`, which a re-serialisation would lose).
 * - Notifications: every parameter except `sign` and `sign_type`, sorted, `k=v` joined with `&`.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';

/** The content Alipay signs: non-empty parameters minus `exclude`, sorted by key (UTF-16 order, like Java's TreeMap). */
export function signingContent(params: Readonly<Record<string, string>>, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(content: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

export function rsa2Verify(content: string, signatureB64: string, publicKey: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, signatureB64, 'base64');
  } catch {
    return false;
  }
}

const CHINA_OFFSET_MS = 8 * 3_600_000;

/**
 * "yyyy-MM-dd HH:mm:ss" in China time, the format of `timestamp`, `time_expire` and every time
 * Alipay returns. China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact.
 */
export function chinaTime(at: Date): string {
  const iso = new Date(at.getTime() + CHINA_OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Parses Alipay's China-time stamps ("2015-04-28 15:45:57", optionally with ".320" milliseconds). */
export function parseChinaTime(text: unknown): Date | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,3})?$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[3] ?? ''}+08:00`);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * Finds the raw text of a top-level member's value in a JSON object text, without re-serialising.
 * Returns undefined when the body is not a JSON object or the member is absent.
 */
export function rawMember(body: string, key: string): string | undefined {
  let i = skipWs(body, 0);
  if (body[i] !== '{') return undefined;
  i++;
  for (;;) {
    i = skipWs(body, i);
    if (body[i] === '}') return undefined;
    if (body[i] !== '"') return undefined;
    const keyEnd = stringEnd(body, i);
    if (keyEnd < 0) return undefined;
    let name: unknown;
    try {
      name = JSON.parse(body.slice(i, keyEnd));
    } catch {
      return undefined;
    }
    i = skipWs(body, keyEnd);
    if (body[i] !== ':') return undefined;
    const start = skipWs(body, i + 1);
    const end = valueEnd(body, start);
    if (end < 0) return undefined;
    if (name === key) return body.slice(start, end);
    i = skipWs(body, end);
    if (body[i] === ',') i++;
    else return undefined;
  }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && ' \t\r\n'.includes(s[i]!)) i++;
  return i;
}

/** Index just past the closing quote of the string starting at `i`, or -1. */
function stringEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '"') return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`, or -1. */
function valueEnd(s: string, i: number): number {
  if (s[i] === '"') return stringEnd(s, i);
  if (s[i] === '{' || s[i] === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const c = s[j];
      if (c === '"') {
        j = stringEnd(s, j) - 1;
        if (j < 0) return -1;
      } else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < s.length && !',}] \t\r\n'.includes(s[j]!)) j++;
  return j > i ? j : -1;
}
