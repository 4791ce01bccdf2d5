// Proves card numbers carry a correct Luhn digit, are unique and non-sequential over 100k serials, invert back to their serial, and are only ever shown masked or hashed.
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../kernel/secret.js';
import {
  cardNumberCapacity,
  cardNumberFor,
  cardNumberHash,
  isValidLuhn,
  luhnCheckDigit,
  maskCardNumber,
  parseCardNumber,
  serialFromCardNumber,
} from './card-number.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const otherKey = Buffer.from('fedcba9876543210fedcba9876543210', 'hex');
const spec = { prefix: '622880', length: 16 };

function numberOf(serial: bigint, s = spec, k = key): string {
  const r = cardNumberFor({ ...s, serial, key: k });
  if (!r.ok) throw new Error(r.code);
  return r.value.reveal();
}

describe('Luhn', () => {
  it('matches known vectors', () => {
    expect(luhnCheckDigit('7992739871')).toBe(3);
    expect(isValidLuhn('79927398713')).toBe(true);
    expect(isValidLuhn('79927398710')).toBe(false);
    expect(isValidLuhn('4111111111111111')).toBe(true);
    expect(isValidLuhn('4111111111111112')).toBe(false);
    expect(isValidLuhn('6011111111111117')).toBe(true);
    expect(isValidLuhn('378282246310005')).toBe(true);
    expect(luhnCheckDigit('0')).toBe(0);
  });
  it('refuses non-digits and too-short input', () => {
    expect(isValidLuhn('7992739871a')).toBe(false);
    expect(isValidLuhn('0')).toBe(false);
    expect(isValidLuhn('')).toBe(false);
    expect(() => luhnCheckDigit('12a')).toThrow();
  });
  it('detects every single-digit error', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{12,18}$/), fc.nat(), fc.integer({ min: 1, max: 9 }), (payload, pos, delta) => {
        const n = payload + String(luhnCheckDigit(payload));
        const i = pos % n.length;
        const changed = n.slice(0, i) + String((Number(n[i]) + delta) % 10) + n.slice(i + 1);
        expect(isValidLuhn(n)).toBe(true);
        expect(isValidLuhn(changed)).toBe(false);
      }),
    );
  });
});

describe('cardNumberFor', () => {
  it('gives 100k distinct, Luhn-valid numbers of the right length and prefix', () => {
    const seen = new Set<string>();
    const misshapen: string[] = [];
    for (let s = 0n; s < 100_000n; s++) {
      const n = numberOf(s);
      if (n.length !== 16 || !n.startsWith('622880') || !isValidLuhn(n)) misshapen.push(`${s}:${n}`);
      seen.add(n);
    }
    expect(misshapen).toEqual([]);
    expect(seen.size).toBe(100_000);
  }, 60_000);

  it('does not look sequential: adjacent serials differ in most body digits', () => {
    let totalDiff = 0;
    const pairs = 2000;
    for (let s = 0n; s < BigInt(pairs); s++) {
      const a = numberOf(s).slice(6, -1);
      const b = numberOf(s + 1n).slice(6, -1);
      let diff = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
      expect(diff).toBeGreaterThanOrEqual(2);
      totalDiff += diff;
    }
    // A random 9-digit body differs from another in 8.1 digits on average.
    expect(totalDiff / pairs).toBeGreaterThan(7);
    // Nor are the bodies increasing in serial order.
    const bodies = Array.from({ length: 100 }, (_, i) => BigInt(numberOf(BigInt(i)).slice(6, -1)));
    const ascending = bodies.filter((b, i) => i > 0 && b > bodies[i - 1]!).length;
    expect(ascending).toBeGreaterThan(20);
    expect(ascending).toBeLessThan(80);
  });

  it('round-trips through serialFromCardNumber for every length and prefix size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 13, max: 19 }), fc.integer({ min: 1, max: 11 }), fc.bigInt({ min: 0n, max: 10n ** 18n }), (length, prefixLen, raw) => {
        const s = { prefix: '9'.repeat(prefixLen), length };
        const cap = cardNumberCapacity(s);
        if (!cap.ok) throw new Error(cap.code);
        const serial = raw % cap.value;
        const n = cardNumberFor({ ...s, serial, key });
        if (!n.ok) throw new Error(n.code);
        expect(n.value.reveal()).toHaveLength(length);
        const back = serialFromCardNumber({ ...s, number: n.value, key });
        expect(back).toEqual({ ok: true, value: serial });
      }),
    );
  });

  it('is a permutation of the whole space of a tiny product', () => {
    // prefix of 11 digits and length 13 leaves one body digit: ten serials, ten numbers.
    const tiny = { prefix: '12345678901', length: 13 };
    const all = new Set(Array.from({ length: 10 }, (_, i) => numberOf(BigInt(i), tiny)));
    expect(all.size).toBe(10);
    expect(cardNumberFor({ ...tiny, serial: 10n, key })).toMatchObject({ ok: false, code: 'card_serial_out_of_range' });
  });

  it('depends on the key and on the product', () => {
    expect(numberOf(42n)).not.toBe(numberOf(42n, spec, otherKey));
    const a = numberOf(42n, { prefix: '622880', length: 19 }).slice(6, 15);
    const b = numberOf(42n, { prefix: '622881', length: 19 }).slice(6, 15);
    expect(a).not.toBe(b);
  });

  it('validates prefix, length, serial and key', () => {
    const bad = (over: Partial<{ prefix: string; length: number; serial: bigint }>) =>
      cardNumberFor({ ...spec, serial: 1n, key, ...over });
    expect(bad({ prefix: '' })).toMatchObject({ ok: false, code: 'invalid_card_prefix' });
    expect(bad({ prefix: '12a' })).toMatchObject({ ok: false, code: 'invalid_card_prefix' });
    expect(bad({ prefix: '123456789012' })).toMatchObject({ ok: false, code: 'invalid_card_prefix' });
    expect(bad({ prefix: '12345678901', length: 13 }).ok).toBe(true);
    expect(bad({ length: 12 })).toMatchObject({ ok: false, code: 'invalid_card_length' });
    expect(bad({ length: 20 })).toMatchObject({ ok: false, code: 'invalid_card_length' });
    expect(bad({ length: 16.5 })).toMatchObject({ ok: false, code: 'invalid_card_length' });
    expect(bad({ length: 13 }).ok).toBe(true);
    expect(bad({ length: 19 }).ok).toBe(true);
    expect(bad({ serial: -1n })).toMatchObject({ ok: false, code: 'card_serial_out_of_range' });
    expect(bad({ serial: 10n ** 9n })).toMatchObject({ ok: false, code: 'card_serial_out_of_range' });
    expect(bad({ serial: 10n ** 9n - 1n }).ok).toBe(true);
    expect(() => cardNumberFor({ ...spec, serial: 1n, key: Buffer.alloc(8) })).toThrow();
  });

  it('refuses to invert a number of another product or with a bad check digit', () => {
    const n = numberOf(7n);
    const wrongCheck = n.slice(0, -1) + String((Number(n.at(-1)) + 1) % 10);
    expect(serialFromCardNumber({ ...spec, number: new Secret(wrongCheck), key })).toMatchObject({ ok: false, code: 'invalid_card_number' });
    expect(serialFromCardNumber({ prefix: '622881', length: 16, number: new Secret(n), key })).toMatchObject({ ok: false, code: 'invalid_card_number' });
  });
});

describe('showing and finding card numbers', () => {
  const n = new Secret('6228801234567893');
  it('masks all but the last four digits, whatever the length', () => {
    expect(maskCardNumber(n)).toBe('**** **** **** 7893');
    expect(maskCardNumber(new Secret('1234567890123456789'))).toBe('**** **** **** 6789');
  });
  it('never shows the number when the secret is logged or serialised', () => {
    const r = cardNumberFor({ ...spec, serial: 5n, key });
    if (!r.ok) throw new Error(r.code);
    const full = r.value.reveal();
    expect(JSON.stringify({ r })).not.toContain(full);
    expect(inspect(r, { depth: 5 })).not.toContain(full);
    expect(`${r.value}`).toBe('[redacted]');
  });
  it('hashes with the key: stable, key-dependent, 64 hex chars', () => {
    const h = cardNumberHash(n, key);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(cardNumberHash(new Secret('6228801234567893'), key)).toBe(h);
    expect(cardNumberHash(n, otherKey)).not.toBe(h);
    expect(cardNumberHash(new Secret('6228801234567885'), key)).not.toBe(h);
  });
  it('parses typed numbers, dropping spaces and hyphens, and refuses bad ones', () => {
    expect(parseCardNumber('6228 8012-3456 7893')).toMatchObject({ ok: true });
    const p = parseCardNumber(' 6228801234567893 ');
    expect(p.ok && p.value.reveal()).toBe('6228801234567893');
    expect(parseCardNumber('6228801234567894')).toMatchObject({ ok: false, code: 'invalid_card_number' });
    expect(parseCardNumber('79927398713')).toMatchObject({ ok: false, code: 'invalid_card_number' });
    expect(parseCardNumber('6228x01234567893')).toMatchObject({ ok: false, code: 'invalid_card_number' });
  });
});
