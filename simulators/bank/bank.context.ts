/** What SimBank's request handlers share: the store, the merchants, settings, and answer helpers. */
import type { KeyObject } from 'node:crypto';
import type { BankMerchant } from './bank.crypto.js';
import type { BankStore } from './bank.state.js';

export interface ApiAnswer {
  status: number;
  code: string;
  message: string;
  data?: Record<string, unknown>;
}

export interface BankContext {
  store: BankStore;
  merchants: Map<string, { merchant: BankMerchant; key: KeyObject }>;
  /** The cashier page's absolute URL (known once the server listens). */
  cashierUrl(): string;
  smsTtlMs: number;
  smsMaxAttempts: number;
  refundDelayMs: number;
  /** 0 = PROCESSING payouts wait for /__sim/payouts/:no/settle. */
  payoutSettleMs: number;
  /** Queues a signed notification. */
  notify(url: string, eventType: string, data: Record<string, unknown>, key: string): void;
  /** Runs `fn` later (tracked, so close() can cancel it). */
  later(fn: () => void, delayMs: number): void;
}

export function ok(data: Record<string, unknown>): ApiAnswer {
  return { status: 200, code: 'SUCCESS', message: 'OK', data };
}

export function fail(status: number, code: string, message: string, data?: Record<string, unknown>): ApiAnswer {
  return data === undefined ? { status, code, message } : { status, code, message, data };
}

export const NUMBER = /^[A-Za-z0-9_-]{1,64}$/;

export function isAmount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

export function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function fingerprint(body: Record<string, unknown>, keys: string[]): string {
  return JSON.stringify(keys.map((k) => body[k] ?? null));
}

/** Parses a JSON body kept as text (bodies stay text so signatures cover the exact bytes). */
export function parseJson(text: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof text !== 'string' || text.length === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
