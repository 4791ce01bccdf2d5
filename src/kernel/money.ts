/**
 * Money is an integer count of minor units (fen for CNY) held in a bigint. This file owns the
 * one table of ISO 4217 currencies we accept and their exponents, and the parsing of amounts
 * that arrive from the outside (JSON numbers, strings, CLI arguments).
 */
import { fail, ok, type Result } from './errors.js';

/** ISO 4217 code -> exponent (number of minor-unit digits). */
export const CURRENCIES: Readonly<Record<string, number>> = Object.freeze({
  CNY: 2,
  HKD: 2,
  MOP: 2,
  TWD: 2,
  USD: 2,
  EUR: 2,
  GBP: 2,
  SGD: 2,
  AUD: 2,
  CAD: 2,
  CHF: 2,
  THB: 2,
  MYR: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
  KWD: 3,
  BHD: 3,
});

/** The largest amount we accept: JSON numbers beyond this lose precision in most clients. */
export const MAX_AMOUNT_MINOR = BigInt(Number.MAX_SAFE_INTEGER);

export type MoneyError = 'invalid_amount' | 'amount_must_be_positive' | 'amount_too_large' | 'unknown_currency';

export function isCurrency(code: string): boolean {
  return Object.prototype.hasOwnProperty.call(CURRENCIES, code);
}

export function currencyExponent(code: string): number {
  const e = CURRENCIES[code];
  if (e === undefined) throw new Error(`unknown currency ${code}`);
  return e;
}

export function checkCurrency(code: unknown): Result<string, MoneyError> {
  if (typeof code !== 'string' || !isCurrency(code)) {
    return fail('unknown_currency', `currency must be a supported ISO 4217 code, got ${JSON.stringify(code)}`);
  }
  return ok(code);
}

/**
 * Parses an amount in minor units from a JSON number, a decimal-digit string or a bigint.
 * Fractions, exponents, negative numbers (unless allowed), zero (unless allowed) and values
 * beyond the safe-integer range are refused.
 */
export function parseAmountMinor(
  raw: unknown,
  opts: { allowZero?: boolean; allowNegative?: boolean } = {},
): Result<bigint, MoneyError> {
  let v: bigint;
  if (typeof raw === 'bigint') {
    v = raw;
  } else if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return fail('invalid_amount', 'amount must be an integer number of minor units');
    if (!Number.isSafeInteger(raw)) return fail('amount_too_large', 'amount exceeds the safe integer range');
    v = BigInt(raw);
  } else if (typeof raw === 'string' && /^-?\d{1,20}$/.test(raw)) {
    v = BigInt(raw);
  } else {
    return fail('invalid_amount', 'amount must be an integer number of minor units');
  }
  if (v > MAX_AMOUNT_MINOR || v < -MAX_AMOUNT_MINOR) return fail('amount_too_large', 'amount exceeds the safe integer range');
  if (v < 0n && !opts.allowNegative) return fail('amount_must_be_positive', 'amount must not be negative');
  if (v === 0n && !opts.allowZero) return fail('amount_must_be_positive', 'amount must be greater than zero');
  return ok(v);
}

/** Formats minor units as a major-unit decimal string for people ("12.34"); never parse it back. */
export function formatMajor(amountMinor: bigint, currency: string): string {
  const exp = currencyExponent(currency);
  const neg = amountMinor < 0n;
  const abs = neg ? -amountMinor : amountMinor;
  if (exp === 0) return `${neg ? '-' : ''}${abs}`;
  const s = abs.toString().padStart(exp + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, -exp)}.${s.slice(-exp)}`;
}

/**
 * Splits `total` into parts proportional to `weights` with the largest-remainder method, so the
 * parts always sum to the total. Ties go to the earlier weight, which keeps results stable.
 */
export function allocateLargestRemainder(total: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) throw new Error('allocate needs at least one weight');
  if (weights.some((w) => w < 0n)) throw new Error('weights must not be negative');
  const sum = weights.reduce((a, b) => a + b, 0n);
  if (sum === 0n) throw new Error('weights must not all be zero');
  const parts = weights.map((w) => (total * w) / sum);
  const remainders = weights.map((w, i) => ({ i, r: (total * w) % sum }));
  let left = total - parts.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (let k = 0; left > 0n; k++, left--) {
    const idx = remainders[k % remainders.length]!.i;
    parts[idx] = parts[idx]! + 1n;
  }
  return parts;
}

/**
 * Parses an exact major-unit decimal string ("12.34") into minor units (1234n for CNY), for wire
 * formats that carry amounts that way (Alipay's yuan strings). No floats are involved. Refused
 * (undefined): an unknown currency, signs, exponents, whitespace, a missing integer or fraction
 * part ("1." / ".5"), and more fraction digits than the currency's exponent. Range checks are the
 * caller's, since wire formats differ in what they allow.
 */
export function parseMajor(text: string, currency: string): bigint | undefined {
  if (!isCurrency(currency)) return undefined;
  const exp = currencyExponent(currency);
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const whole = m[1]!;
  const fraction = m[2] ?? '';
  if (fraction.length > exp) return undefined;
  return BigInt(whole + fraction.padEnd(exp, '0'));
}
