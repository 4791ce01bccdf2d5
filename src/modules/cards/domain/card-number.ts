/**
 * Prepaid card numbers (卡号): product prefix + body + Luhn check digit.
 *
 * The body is not the serial itself but a keyed permutation of it over the body's decimal space,
 * so issuing serials 1, 2, 3... gives numbers that do not look sequential (a guessed neighbour of
 * a known card number is almost never a live card), while distinct serials still always give
 * distinct numbers and a serial can be recovered with the key. The permutation is a small Feistel
 * network on decimal digits in the style of NIST SP 800-38G FF1 (alternating halves of u and v
 * digits, modular addition of an HMAC-SHA256 round function). Because the two halves cover the
 * body's space 10^(u+v) exactly, no cycle-walking is needed. This is not meant to be format-
 * preserving encryption of secret data; it only has to be a keyed bijection that hides order.
 *
 * Full numbers are secrets (DESIGN.md §7): they travel as Secret<string>, are stored sealed, are
 * found again through `cardNumberHash` (keyed, so a stolen table of hashes cannot be reversed by
 * enumerating the small space of valid numbers), and are shown only as `maskCardNumber`.
 */
import { createHmac } from 'node:crypto';
import { fail, ok, type Result } from '../../../kernel/errors.js';
import { Secret } from '../../../kernel/secret.js';

export const CARD_NUMBER_MIN_LENGTH = 13;
export const CARD_NUMBER_MAX_LENGTH = 19;
export const CARD_PREFIX_MAX_LENGTH = 11;

/** Even, so the halves end where they started; 10 rounds is what FF1 uses. */
const FEISTEL_ROUNDS = 10;
const ROUND_LABEL = 'paycore/card-number/feistel/v1';
/** Below this the permutation is easy to learn from a few samples, whatever the algorithm. */
const MIN_KEY_BYTES = 16;

export type CardNumberError = 'invalid_card_prefix' | 'invalid_card_length' | 'card_serial_out_of_range';
export type ParseCardNumberError = 'invalid_card_number';

export interface CardNumberSpec {
  /** Product prefix, 1-11 decimal digits (a BIN-like product code). */
  prefix: string;
  /** Total length including prefix and check digit, 13-19 (ISO/IEC 7812 range). */
  length: number;
}

const DIGITS = /^\d+$/;

/** The Luhn (mod 10) check digit for a digit string that does not yet have one. */
export function luhnCheckDigit(payload: string): number {
  if (!DIGITS.test(payload)) throw new Error('luhnCheckDigit needs a non-empty string of digits');
  let sum = 0;
  // Counting from the right of the payload, every first digit is the one that is doubled once
  // the check digit is appended.
  for (let i = payload.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = payload.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when `number` is all digits (at least two) and its last digit is the Luhn check digit. */
export function isValidLuhn(number: string): boolean {
  if (number.length < 2 || !DIGITS.test(number)) return false;
  return luhnCheckDigit(number.slice(0, -1)) === number.charCodeAt(number.length - 1) - 48;
}

/** Number of body digits, or a failure naming what is wrong with the spec. */
function bodyDigits(spec: CardNumberSpec): Result<number, CardNumberError> {
  if (!DIGITS.test(spec.prefix) || spec.prefix.length > CARD_PREFIX_MAX_LENGTH) {
    return fail('invalid_card_prefix', `a card prefix is 1-${CARD_PREFIX_MAX_LENGTH} digits`);
  }
  if (!Number.isInteger(spec.length) || spec.length < CARD_NUMBER_MIN_LENGTH || spec.length > CARD_NUMBER_MAX_LENGTH) {
    return fail('invalid_card_length', `a card number is ${CARD_NUMBER_MIN_LENGTH}-${CARD_NUMBER_MAX_LENGTH} digits long`);
  }
  // The length range and the prefix limit together leave at least one body digit.
  return ok(spec.length - spec.prefix.length - 1);
}

/** How many distinct serials a product can issue: 10^(body digits). */
export function cardNumberCapacity(spec: CardNumberSpec): Result<bigint, CardNumberError> {
  const d = bodyDigits(spec);
  return d.ok ? ok(10n ** BigInt(d.value)) : d;
}

function assertKey(key: Buffer): void {
  if (key.length < MIN_KEY_BYTES) throw new Error(`the card number key must be at least ${MIN_KEY_BYTES} bytes`);
}

/**
 * The round function: HMAC-SHA256 over the product (prefix and length, so two products sharing a
 * key still get unrelated permutations), the round number and the other half, reduced mod 10^m.
 * 128 bits reduced mod at most 10^10 leaves a bias far below anything observable.
 */
function roundValue(key: Buffer, spec: CardNumberSpec, round: number, half: bigint, halfDigits: number, m: number): bigint {
  if (m === 0) return 0n;
  const mac = createHmac('sha256', key)
    .update(`${ROUND_LABEL}|${spec.prefix}|${spec.length}|${round}|${half.toString().padStart(halfDigits, '0')}`)
    .digest();
  return BigInt(`0x${mac.subarray(0, 16).toString('hex')}`) % 10n ** BigInt(m);
}

function permute(key: Buffer, spec: CardNumberSpec, d: number, x: bigint, inverse: boolean): bigint {
  const u = Math.floor(d / 2);
  const v = d - u;
  const pow = (m: number): bigint => 10n ** BigInt(m);
  // x = A * 10^v + B, with A of u digits and B of v digits.
  let a = x / pow(v);
  let b = x % pow(v);
  if (!inverse) {
    for (let i = 0; i < FEISTEL_ROUNDS; i++) {
      const m = i % 2 === 0 ? u : v;
      const c = (a + roundValue(key, spec, i, b, i % 2 === 0 ? v : u, m)) % pow(m);
      a = b;
      b = c;
    }
  } else {
    for (let i = FEISTEL_ROUNDS - 1; i >= 0; i--) {
      const m = i % 2 === 0 ? u : v;
      const c = b;
      b = a;
      const f = roundValue(key, spec, i, b, i % 2 === 0 ? v : u, m);
      a = (((c - f) % pow(m)) + pow(m)) % pow(m);
    }
  }
  return a * pow(v) + b;
}

/**
 * The card number for one serial of a product: prefix + permuted body + Luhn digit. Distinct
 * serials of one product always give distinct numbers. The key is a programmer-supplied secret
 * (derive it with MasterKey.deriveKey, one per purpose) and must be at least 16 bytes.
 */
export function cardNumberFor(inp: CardNumberSpec & { serial: bigint; key: Buffer }): Result<Secret<string>, CardNumberError> {
  assertKey(inp.key);
  const d = bodyDigits(inp);
  if (!d.ok) return d;
  const capacity = 10n ** BigInt(d.value);
  if (inp.serial < 0n || inp.serial >= capacity) {
    return fail('card_serial_out_of_range', `this product's serials run from 0 to ${capacity - 1n}`, { capacity: capacity.toString() });
  }
  const body = permute(inp.key, inp, d.value, inp.serial, false).toString().padStart(d.value, '0');
  const payload = inp.prefix + body;
  return ok(new Secret(payload + String(luhnCheckDigit(payload))));
}

/**
 * The serial a card number was issued from (the inverse of `cardNumberFor`), or a failure when
 * the number is malformed or belongs to another product.
 */
export function serialFromCardNumber(inp: CardNumberSpec & { number: Secret<string>; key: Buffer }): Result<bigint, CardNumberError | ParseCardNumberError> {
  assertKey(inp.key);
  const d = bodyDigits(inp);
  if (!d.ok) return d;
  const n = inp.number.reveal();
  if (n.length !== inp.length || !n.startsWith(inp.prefix) || !isValidLuhn(n)) {
    return fail('invalid_card_number', 'the card number does not belong to this product or fails its check digit');
  }
  return ok(permute(inp.key, inp, d.value, BigInt(n.slice(inp.prefix.length, -1)), true));
}

/**
 * Normalises a card number typed or sent by a person (spaces and hyphens dropped) and checks its
 * length and check digit. It does not say whether the card exists; look it up by hash for that.
 */
export function parseCardNumber(raw: string): Result<Secret<string>, ParseCardNumberError> {
  const n = raw.replace(/[\s-]/g, '');
  if (n.length < CARD_NUMBER_MIN_LENGTH || n.length > CARD_NUMBER_MAX_LENGTH || !isValidLuhn(n)) {
    return fail('invalid_card_number', `a card number is ${CARD_NUMBER_MIN_LENGTH}-${CARD_NUMBER_MAX_LENGTH} digits with a valid check digit`);
  }
  return ok(new Secret(n));
}

/**
 * "**** **** **** 1234": always three groups of stars whatever the real length, so the mask does
 * not reveal the product's number length either.
 */
export function maskCardNumber(number: Secret<string>): string {
  return `**** **** **** ${number.reveal().slice(-4)}`;
}

/** Hex HMAC-SHA256 of the full number, the column cards are looked up by. */
export function cardNumberHash(number: Secret<string>, key: Buffer): string {
  assertKey(key);
  return createHmac('sha256', key).update(number.reveal()).digest('hex');
}
