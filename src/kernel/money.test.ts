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

// Imported here rather than above so that the existing lines of this file stay untouched.
import { parseMajor } from './money.js';

describe('parseMajor', () => {
  it('turns exact decimal strings into minor units without floats', () => {
    expect(parseMajor('12.34', 'CNY')).toBe(1234n);
    expect(parseMajor('0.01', 'CNY')).toBe(1n);
    expect(parseMajor('0.1', 'CNY')).toBe(10n);
    expect(parseMajor('100000000', 'CNY')).toBe(10000000000n);
    expect(parseMajor('0', 'CNY')).toBe(0n);
    expect(parseMajor('1234', 'JPY')).toBe(1234n);
    expect(parseMajor('1.234', 'KWD')).toBe(1234n);
    expect(parseMajor('90071992547409.91', 'CNY')).toBe(9007199254740991n);
  });
  it('refuses extra fraction digits, signs, exponents, whitespace, half-written numbers and unknown currencies', () => {
    for (const bad of ['12.345', '-1.00', '+1.00', '1e3', ' 1.00', '1.00 ', '1.', '.5', '', '1,00', '0x10', '1.0.0', '１.00']) {
      expect(parseMajor(bad, 'CNY')).toBeUndefined();
    }
    expect(parseMajor('12.0', 'JPY')).toBeUndefined();
    expect(parseMajor('1.00', 'XXX')).toBeUndefined();
  });
  it('round-trips with formatMajor for any amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.constantFrom('CNY', 'JPY', 'KWD'), (v, cur) => {
        expect(parseMajor(formatMajor(v, cur), cur)).toBe(v);
      }),
    );
  });
});
