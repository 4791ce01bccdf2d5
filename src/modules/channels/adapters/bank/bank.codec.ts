/**
 * The SimBank corporate API's signatures and answer envelope (simulators/bank/README.md §1-2):
 * requests are signed over `METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n` with our key, answers
 * and notifications over `TIMESTAMP\nNONCE\nBODY\n` with the bank's key, both RSASSA-PKCS1-v1_5 with
 * SHA-256, base64. Answers older than the replay window are not trusted.
 */
import { createSign, createVerify } from 'node:crypto';
import type { CallContext, HttpRequestSpec, HttpResponseData } from '../../adapter.js';
import type { BankConfig } from './bank.config.js';

export const REPLAY_WINDOW_S = 300;

export function requestSigningString(method: string, pathWithQuery: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

export function answerSigningString(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

/** A signed request to `path` (relative to the configured base URL). */
export function signedRequest(cfg: BankConfig, method: 'GET' | 'POST', path: string, body: unknown, cx: CallContext): HttpRequestSpec {
  const url = `${cfg.baseUrl}${path}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  const u = new URL(url);
  const timestamp = String(Math.floor(cx.now.getTime() / 1000));
  const signature = createSign('RSA-SHA256').update(requestSigningString(method, `${u.pathname}${u.search}`, timestamp, cx.nonce, text), 'utf8').sign(cfg.privateKey.reveal(), 'base64');
  const headers: Record<string, string> = {
    accept: 'application/json',
    'x-bank-merchant-id': cfg.merchantId,
    'x-bank-key-id': cfg.keyId,
    'x-bank-timestamp': timestamp,
    'x-bank-nonce': cx.nonce,
    'x-bank-signature': signature,
  };
  if (body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  return { method, url, headers, ...(body === undefined ? {} : { body: text }) };
}

/** Checks the bank's signature and freshness on an answer or a notification. */
export function verifyFromBank(cfg: BankConfig, headers: Record<string, string>, body: string, now: Date): { ok: true } | { ok: false; stale: boolean; reason: string } {
  const keyId = headers['x-bank-key-id'];
  const timestamp = headers['x-bank-timestamp'];
  const nonce = headers['x-bank-nonce'];
  const signature = headers['x-bank-signature'];
  if (!keyId || !timestamp || !nonce || !signature) return { ok: false, stale: false, reason: 'unsigned (no X-Bank-Signature headers)' };
  const key = cfg.bankPublicKeys.get(keyId);
  if (!key) return { ok: false, stale: false, reason: `unknown bank key ${keyId}` };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, stale: false, reason: 'malformed X-Bank-Timestamp' };
  let valid = false;
  try {
    valid = createVerify('RSA-SHA256').update(answerSigningString(timestamp, nonce, body), 'utf8').verify(key, signature, 'base64');
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, stale: false, reason: 'signature does not verify' };
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > REPLAY_WINDOW_S) return { ok: false, stale: true, reason: 'signed more than 300 s away from now' };
  return { ok: true };
}

export interface Envelope {
  httpStatus: number;
  code: string;
  message: string;
  data: Record<string, unknown> | undefined;
}

/** A verified JSON envelope, or the reason the answer cannot be trusted. */
export function verifiedEnvelope(cfg: BankConfig, res: HttpResponseData, cx: CallContext): { ok: true; env: Envelope } | { ok: false; reason: string } {
  if (res.status >= 500 && res.status !== 503) return { ok: false, reason: `HTTP ${res.status} from the bank` };
  const v = verifyFromBank(cfg, res.headers, res.body, cx.now);
  if (!v.ok) return { ok: false, reason: `bank answer (HTTP ${res.status}) not trusted: ${v.reason}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    return { ok: false, reason: 'bank answer is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'bank answer is not a JSON object' };
  const o = parsed as Record<string, unknown>;
  if (typeof o['code'] !== 'string') return { ok: false, reason: 'bank answer lacks code' };
  const data = typeof o['data'] === 'object' && o['data'] !== null && !Array.isArray(o['data']) ? (o['data'] as Record<string, unknown>) : undefined;
  return { ok: true, env: { httpStatus: res.status, code: o['code'], message: typeof o['message'] === 'string' ? o['message'] : '', data } };
}

export function str(d: Record<string, unknown> | undefined, k: string): string | undefined {
  const v = d?.[k];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A JSON integer amount in fen, as a bigint; undefined when absent or not a safe non-negative integer. */
export function amount(d: Record<string, unknown> | undefined, k: string): bigint | undefined {
  const v = d?.[k];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
}

export function time(d: Record<string, unknown> | undefined, k: string): Date | undefined {
  const v = str(d, k);
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Amounts go out as JSON integers; beyond the safe range they would lose precision. */
export function amountJson(minor: bigint): number {
  if (minor < 0n || minor > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`amount ${minor} is outside the JSON-safe range`);
  return Number(minor);
}

const CHINA_MS = 8 * 3600_000;

/** ISO 8601 with the China offset, e.g. 2026-05-01T12:34:56+08:00. */
export function chinaIso(at: Date): string {
  return `${new Date(at.getTime() + CHINA_MS).toISOString().slice(0, 19)}+08:00`;
}
