// Proves amount parsing refuses every unsafe input, formatting is exact, and largest-remainder splits always sum to the whole.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateLargestRemainder, checkCurrency, currencyExponent, formatMajor, parseAmountMinor } from './money.js';

const code = (r: ReturnType<typeof parseAmountMinor>) => (r.ok ? r.value : r.code);

describe('parseAmountMinor', () => {
  it('accepts positive integers as numbers, digit strings and bigints', () => {
    expect(code(parseAmountMinor(1))).toBe(1n);
    expect(code(parseAmountMinor('12345'))).toBe(12345n);
    expect(code(parseAmountMinor(9007199254740991))).toBe(9007199254740991n);
    expect(code(parseAmountMinor(7n))).toBe(7n);
  });
  it('refuses fractions, exponents, junk, negatives, zero and unsafe values with stable codes', () => {
    expect(code(parseAmountMinor(1.5))).toBe('invalid_amount');
    expect(code(parseAmountMinor('1.5'))).toBe('invalid_amount');
    expect(code(parseAmountMinor('1e3'))).toBe('invalid_amount');
    expect(code(parseAmountMinor(' 1'))).toBe('invalid_amount');
    expect(code(parseAmountMinor(null))).toBe('invalid_amount');
    expect(code(parseAmountMinor(Number.NaN))).toBe('invalid_amount');
    expect(code(parseAmountMinor(-1))).toBe('amount_must_be_positive');
    expect(code(parseAmountMinor(0))).toBe('amount_must_be_positive');
    expect(code(parseAmountMinor(9007199254740992))).toBe('amount_too_large');
    expect(code(parseAmountMinor('99999999999999999999'))).toBe('amount_too_large');
    expect(code(parseAmountMinor(0, { allowZero: true }))).toBe(0n);
    expect(code(parseAmountMinor(-5, { allowNegative: true }))).toBe(-5n);
  });
});

describe('currencies', () => {
  it('knows exponents and refuses unknown codes', () => {
    expect(currencyExponent('CNY')).toBe(2);
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('KWD')).toBe(3);
    expect(checkCurrency('CNY').ok).toBe(true);
    expect(checkCurrency('cny').ok).toBe(false);
    expect(checkCurrency('XXX').ok).toBe(false);
  });
  it('formats minor units exactly', () => {
    expect(formatMajor(12345n, 'CNY')).toBe('123.45');
    expect(formatMajor(5n, 'CNY')).toBe('0.05');
    expect(formatMajor(-5n, 'CNY')).toBe('-0.05');
    expect(formatMajor(1000n, 'JPY')).toBe('1000');
    expect(formatMajor(1n, 'KWD')).toBe('0.001');
  });
});

describe('allocateLargestRemainder', () => {
  it('splits 100 by 1:1:1 as 34/33/33', () => {
    expect(allocateLargestRemainder(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
  });
  it('always sums to the total and never moves a part by a whole unit from its exact share', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 8 }), (total, weights) => {
        fc.pre(weights.some((w) => w > 0n));
        const parts = allocateLargestRemainder(total, weights);
        const sum = weights.reduce((a, b) => a + b, 0n);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
        parts.forEach((p, i) => {
          const floor = (total * weights[i]!) / sum;
          expect(p === floor || p === floor + 1n).toBe(true);
        });
      }),
    );
  });
});
