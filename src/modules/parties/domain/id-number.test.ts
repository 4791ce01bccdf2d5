// Proves identity-document checks: the resident ID ISO 7064 MOD 11-2 check digit and birth date, the USCC charset and MOD 31 check character, loose passports, phone numbers and masking.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkIdNumber, checkPhone, idTypesFor, mask, residentIdCheckChar, usccCheckChar } from './id-number.js';

const code = (r: { ok: boolean; code?: string }): string => (r.ok ? 'ok' : r.code ?? '');

describe('resident ID (居民身份证)', () => {
  it('accepts the GB 11643 sample numbers, with an X or a digit check character, in either case', () => {
    expect(checkIdNumber('resident_id', '11010519491231002X')).toEqual({ ok: true, value: { normalized: '11010519491231002X', masked: '110***********002X' } });
    expect(checkIdNumber('resident_id', '11010519491231002x').ok).toBe(true);
    expect(checkIdNumber('resident_id', '440524198001010013').ok).toBe(true);
    expect(checkIdNumber('resident_id', ' 4405 2419 8001 0100 13 ').ok).toBe(true);
  });

  it('refuses a wrong check digit', () => {
    const r = checkIdNumber('resident_id', '110105194912310021');
    expect(code(r)).toBe('invalid_id_number');
    expect(!r.ok && r.message).toMatch(/check character/);
  });

  it('refuses impossible birth dates, wrong lengths and old 15-digit numbers', () => {
    const withDate = (d: string): string => {
      const first17 = `110105${d}002`;
      return first17 + residentIdCheckChar(first17);
    };
    expect(checkIdNumber('resident_id', withDate('19490230')).ok).toBe(false);
    expect(checkIdNumber('resident_id', withDate('18991231')).ok).toBe(false);
    // A well-known textbook sample, valid by its check digit, but born in 1880.
    expect(checkIdNumber('resident_id', '440524188001010014').ok).toBe(false);
    expect(checkIdNumber('resident_id', withDate('20000229')).ok).toBe(true);
    expect(checkIdNumber('resident_id', '11010519491231002').ok).toBe(false);
    expect(checkIdNumber('resident_id', '110105491231002').ok).toBe(false);
    expect(checkIdNumber('resident_id', '01010519491231002X').ok).toBe(false);
  });

  it('detects every single-digit change (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 9 }), (pos, delta) => {
        const valid = '11010519491231002X';
        const changed = valid.slice(0, pos) + String((Number(valid[pos]) + delta) % 10) + valid.slice(pos + 1);
        // A changed region or date digit may also fail the format checks; either way it is refused.
        return !checkIdNumber('resident_id', changed).ok;
      }),
    );
  });
});

describe('unified social credit code (统一社会信用代码)', () => {
  it('accepts real codes and checks their MOD 31 character', () => {
    expect(checkIdNumber('uscc', '9144030071526726XG').ok).toBe(true);
    expect(checkIdNumber('uscc', '91110000100017643k').ok).toBe(true);
    expect(usccCheckChar('9144030071526726X')).toBe('G');
    expect(code(checkIdNumber('uscc', '9144030071526726XH'))).toBe('invalid_id_number');
  });

  it('refuses the letters I, O, S, V, Z and wrong lengths', () => {
    expect(checkIdNumber('uscc', '9144030071526726IG').ok).toBe(false);
    expect(checkIdNumber('uscc', '9144030071526726OG').ok).toBe(false);
    expect(checkIdNumber('uscc', '9144030071526726X').ok).toBe(false);
  });
});

describe('passports and document types', () => {
  it('checks passports loosely and masks short values more', () => {
    expect(checkIdNumber('passport', 'e12345678')).toEqual({ ok: true, value: { normalized: 'E12345678', masked: 'E******78' } });
    expect(checkIdNumber('passport', 'AB-1234').ok).toBe(false);
    expect(checkIdNumber('passport', 'A123').ok).toBe(false);
  });

  it('lets individuals use resident IDs and passports, organizations and individual businesses USCCs', () => {
    expect(idTypesFor('individual')).toEqual(['resident_id', 'passport']);
    expect(idTypesFor('organization')).toEqual(['uscc']);
    expect(idTypesFor('individual_business')).toEqual(['uscc']);
  });
});

describe('phones and masking', () => {
  it('normalises mainland mobiles and masks them as 138****5678', () => {
    expect(checkPhone('+86 138-1234-5678')).toEqual({ ok: true, value: { normalized: '13812345678', masked: '138****5678' } });
    expect(checkPhone('+14155550123').ok).toBe(true);
    expect(code(checkPhone('12345'))).toBe('invalid_phone');
    expect(code(checkPhone('12812345678'))).toBe('invalid_phone');
  });

  it('never shows more than 7 characters and keeps the length', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 40 }), (v) => {
        const m = [...mask(v)];
        return m.length === [...v].length && m.filter((c) => c !== '*').length <= Math.min(7, [...v].length);
      }),
    );
  });
});
