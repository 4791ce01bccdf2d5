/**
 * Identity document numbers: which types a customer kind may use, format checks, normalisation
 * (the form that is sealed and hashed, so the same document always hashes the same) and masking.
 *
 *   resident_id  mainland resident identity card (居民身份证, GB 11643-1999): 6-digit region code,
 *                8-digit birth date, 3-digit sequence and an ISO 7064 MOD 11-2 check character
 *                (0-9 or X). The old 15-digit cards expired in 2013 and are refused.
 *   uscc         unified social credit code (统一社会信用代码, GB 32100-2015) of organizations and
 *                individual businesses: 18 characters from 0-9 and A-Y without I, O, S, V, Z,
 *                the last being a MOD 31 check character.
 *   passport     checked loosely (5-20 letters and digits), since formats vary by country.
 */
import { fail, ok, type Result } from '../../../kernel/errors.js';
import type { CustomerKind, IdType } from './types.js';

export function idTypesFor(kind: CustomerKind): readonly IdType[] {
  return kind === 'individual' ? ['resident_id', 'passport'] : ['uscc'];
}

const RESIDENT_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_CHECK = '10X98765432';

/** The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID number. */
export function residentIdCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * RESIDENT_WEIGHTS[i]!;
  return RESIDENT_CHECK[sum % 11]!;
}

const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** The MOD 31 check character of the first 17 characters of a unified social credit code. */
export function usccCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARSET.indexOf(first17[i]!) * USCC_WEIGHTS[i]!;
  const c = 31 - (sum % 31);
  return USCC_CHARSET[c === 31 ? 0 : c]!;
}

function isCalendarDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900 || y > 2099) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

export interface CheckedIdNumber {
  /** Upper-case, without spaces: the form that is sealed and hashed. */
  normalized: string;
  masked: string;
}

export function checkIdNumber(type: IdType, raw: string): Result<CheckedIdNumber, 'invalid_id_number'> {
  const n = raw.replace(/\s+/g, '').toUpperCase();
  const bad = (why: string): Result<CheckedIdNumber, 'invalid_id_number'> => fail('invalid_id_number', why, { id_type: type });
  switch (type) {
    case 'resident_id':
      if (!/^[1-8][0-9]{16}[0-9X]$/.test(n)) return bad('a resident ID number is 17 digits and a check character (0-9 or X), starting with a region code');
      if (!isCalendarDate(n.slice(6, 14))) return bad('the birth date in the resident ID number is not a valid date');
      if (residentIdCheckChar(n) !== n[17]) return bad('the check character of the resident ID number does not match');
      break;
    case 'uscc':
      if (n.length !== 18 || [...n].some((c) => !USCC_CHARSET.includes(c))) {
        return bad('a unified social credit code is 18 characters of 0-9 and A-Y without I, O, S, V, Z');
      }
      if (usccCheckChar(n) !== n[17]) return bad('the check character of the unified social credit code does not match');
      break;
    case 'passport':
      if (!/^[A-Z0-9]{5,20}$/.test(n)) return bad('a passport number is 5-20 letters and digits');
      break;
  }
  return ok({ normalized: n, masked: mask(n) });
}

/**
 * Masks personal data for display: long values (11+ characters: ID numbers, mainland mobile
 * numbers) keep their first 3 and last 4 characters, shorter ones only their first and last 2,
 * so a mask never shows most of a short value.
 */
export function mask(value: string): string {
  const chars = [...value];
  const [head, tail] = chars.length >= 11 ? [3, 4] : chars.length >= 5 ? [1, 2] : [0, 0];
  return chars.slice(0, head).join('') + '*'.repeat(chars.length - head - tail) + chars.slice(chars.length - tail).join('');
}

/**
 * Phone numbers: mainland mobile numbers (optionally written with +86) are stored as their 11
 * digits; others must be E.164 (+ and 8-15 digits).
 */
export function checkPhone(raw: string): Result<CheckedIdNumber, 'invalid_phone'> {
  const s = raw.replace(/[\s-]/g, '');
  const mainland = /^(?:\+?86)?(1[3-9][0-9]{9})$/.exec(s);
  if (mainland) return ok({ normalized: mainland[1]!, masked: mask(mainland[1]!) });
  if (/^\+[1-9][0-9]{7,14}$/.test(s)) return ok({ normalized: s, masked: mask(s) });
  return fail('invalid_phone', 'phone must be a mainland mobile number (11 digits) or an E.164 number (+ and 8-15 digits)');
}
