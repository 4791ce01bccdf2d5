/**
 * The simulator's side of Alipay's signature and formatting rules, written independently of the
 * adapter so that the two check each other: request signatures cover every non-empty parameter
 * except `sign`; notification signatures every parameter except `sign` and `sign_type`; response
 * signatures the exact text of the `<method>_response` JSON value, which Alipay prints with `/`
 * escaped as `\/`.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { formatMajor } from '../../src/kernel/money.js';

export function contentToSign(params: Readonly<Record<string, string>>, omit: readonly string[]): string {
  const keys = Object.keys(params).filter((k) => !omit.includes(k) && params[k] !== '');
  keys.sort();
  return keys.map((k) => `${k}=${params[k]}`).join('&');
}

export function signRsa2(content: string, key: KeyObject): string {
  return createSign('sha256').update(Buffer.from(content, 'utf8')).sign(key).toString('base64');
}

export function verifyRsa2(content: string, sig: string, key: KeyObject): boolean {
  try {
    return createVerify('sha256').update(Buffer.from(content, 'utf8')).verify(key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** JSON as Alipay's gateway prints it: compact, with every `/` escaped. */
export function alipayJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

const CHINA_MS = 8 * 3_600_000;

/** "yyyy-MM-dd HH:mm:ss" (optionally with milliseconds) in China time (UTC+8, no daylight saving). */
export function beijing(at: Date, withMillis = false): string {
  const iso = new Date(at.getTime() + CHINA_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withMillis ? 23 : 19)}`;
}

export function parseBeijing(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - CHINA_MS;
  const d = new Date(ms);
  return beijing(d) === text ? d : undefined;
}

/** The China calendar date (YYYY-MM-DD) of an instant. */
export function beijingDate(at: Date): string {
  return beijing(at).slice(0, 10);
}

/** "2016年08月25日 00:00:00", the bill header style. */
export function beijingLong(at: Date): string {
  const t = beijing(at);
  return `${t.slice(0, 4)}年${t.slice(5, 7)}月${t.slice(8, 10)}日 ${t.slice(11)}`;
}

export function yuan(fen: bigint): string {
  return formatMajor(fen, 'CNY');
}
