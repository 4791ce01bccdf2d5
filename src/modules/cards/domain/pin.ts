/**
 * Card PINs: format rules, slow salted hashing and the pure lockout arithmetic.
 *
 * A 6-digit PIN has only a million values, so the hash alone cannot protect it against someone
 * who has the stored hashes; what protects it is the cost of each guess (scrypt) together with the
 * retry limit and lockout on the live system. Hashing uses a fresh random salt; that is the only
 * impurity here, and it is not a clock read or an id, so it stays in the domain.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { fail, ok, type Result } from '../../../kernel/errors.js';
import type { Secret } from '../../../kernel/secret.js';

export const PIN_LENGTH = 6;

export type PinFormatError = 'invalid_pin_format' | 'pin_too_simple';
/** Codes the card service returns when checking a PIN against a card. */
export type PinCheckError = 'pin_incorrect' | 'pin_locked' | 'pin_not_set';

/**
 * Refuses what is not exactly six ASCII digits, and the guesses everyone tries first: all the same
 * digit (000000, 888888) and runs that step by one up or down (123456, 654321, 345678, 987654;
 * runs do not wrap, so 890123 is allowed). Other weak choices such as birthdays cannot be
 * recognised without the holder's data, and the retry limit has to carry the rest.
 */
export function checkPinFormat(pin: Secret<string>): Result<true, PinFormatError> {
  const p = pin.reveal();
  if (p.length !== PIN_LENGTH || !/^\d+$/.test(p)) return fail('invalid_pin_format', `a PIN is exactly ${PIN_LENGTH} digits`);
  const steps = new Set<number>();
  for (let i = 1; i < p.length; i++) steps.add(p.charCodeAt(i) - p.charCodeAt(i - 1));
  if (steps.size === 1) {
    const [step] = steps;
    if (step === 0 || step === 1 || step === -1) {
      return fail('pin_too_simple', 'a PIN may not be one repeated digit or a run such as 123456 or 654321');
    }
  }
  return ok(true);
}

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/**
 * N = 2^14, r = 8, p = 1 (16 MiB per hash). Measured with scryptSync on the development machine
 * (2 vCPUs, Node 20): about 41 ms per hash, inside the 20-50 ms we aim for, which caps an
 * attacker holding the hashes at roughly 25 guesses per second per core. 2^13 measured 21 ms and
 * 2^15 about 100 ms. Raise N when hardware gets faster; old hashes keep verifying because the
 * encoded form names its own parameters.
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 });

const ALGORITHM = 'scrypt';
const FORMAT_VERSION = 'v1';
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Refuse to verify against stored parameters beyond this, so a corrupted row cannot exhaust memory. */
const MAX_N = 2 ** 20;

function scryptAsync(pin: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // Node's default maxmem (32 MiB) is just 2x the memory N=2^14, r=8 needs; leave room for a higher N.
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(pin, salt, HASH_BYTES, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Hashes a PIN (already checked by `checkPinFormat`) into a self-describing string:
 * `scrypt$v1$N=16384,r=8,p=1$<salt base64url>$<hash base64url>`. The asynchronous scrypt runs on
 * libuv's thread pool, so the 40 ms of work does not stall the event loop serving other requests.
 */
export async function hashPin(pin: Secret<string>, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  assertParams(params);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(pin.reveal(), salt, params);
  return [ALGORITHM, FORMAT_VERSION, `N=${params.N},r=${params.r},p=${params.p}`, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

function assertParams(p: ScryptParams): void {
  const powerOfTwo = Number.isInteger(p.N) && p.N >= 2 && (p.N & (p.N - 1)) === 0;
  if (!powerOfTwo || p.N > MAX_N || !Number.isInteger(p.r) || p.r < 1 || p.r > 32 || !Number.isInteger(p.p) || p.p < 1 || p.p > 16) {
    throw new Error('scrypt parameters out of range');
  }
}

interface DecodedPinHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/** Parses a stored hash; a malformed one is corrupt data, not a wrong PIN, so it throws. */
export function decodePinHash(encoded: string): DecodedPinHash {
  const parts = encoded.split('$');
  const [alg, version, paramText, saltText, hashText] = parts;
  if (parts.length !== 5 || alg !== ALGORITHM || version !== FORMAT_VERSION || !paramText || !saltText || !hashText) {
    throw new Error('unknown PIN hash format');
  }
  const m = /^N=(\d+),r=(\d+),p=(\d+)$/.exec(paramText);
  if (!m) throw new Error('unknown PIN hash parameters');
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  assertParams(params);
  const salt = Buffer.from(saltText, 'base64url');
  const hash = Buffer.from(hashText, 'base64url');
  if (salt.length < 8 || hash.length !== HASH_BYTES) throw new Error('PIN hash has a bad salt or hash length');
  return { params, salt, hash };
}

/** True when `pin` matches the stored hash; the comparison takes the same time for any PIN. */
export async function verifyPin(pin: Secret<string>, encoded: string): Promise<boolean> {
  const d = decodePinHash(encoded);
  const candidate = await scryptAsync(pin.reveal(), d.salt, d.params);
  return timingSafeEqual(candidate, d.hash);
}

/** True when a stored hash was made with weaker parameters than today's, so it should be redone on the next correct entry. */
export function pinHashNeedsRehash(encoded: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const d = decodePinHash(encoded).params;
  return d.N < params.N || d.r < params.r || d.p < params.p;
}

export interface PinCounters {
  failedAttempts: number;
  lockedUntil: Date | null;
}

export const DEFAULT_PIN_MAX_ATTEMPTS = 5;
export const DEFAULT_PIN_LOCK_MS = 24 * 60 * 60 * 1000;

export type PinAttemptDecision =
  | { allowed: false; code: 'pin_locked'; lockedUntil: Date }
  | {
      allowed: true;
      /** Counters to store when the PIN was right. */
      onSuccess: PinCounters;
      /** Counters to store when it was wrong; `locked` tells the caller to answer pin_locked from now on. */
      onFailure: PinCounters & { locked: boolean; remainingAttempts: number };
    };

/**
 * Whether a PIN attempt may be checked at all, and what to store afterwards. The store must write
 * the chosen counters in the same transaction that read them (row lock), or two parallel guesses
 * could both count as the first. A lock that has run out resets the count, so the holder gets a
 * full set of attempts again; without that, one more wrong guess would lock the card at once.
 */
export function pinAttemptDecision(inp: {
  failedAttempts: number;
  lockedUntil: Date | null;
  now: Date;
  maxAttempts?: number;
  lockMs?: number;
}): PinAttemptDecision {
  const maxAttempts = inp.maxAttempts ?? DEFAULT_PIN_MAX_ATTEMPTS;
  const lockMs = inp.lockMs ?? DEFAULT_PIN_LOCK_MS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error('maxAttempts must be a positive integer');
  if (!Number.isInteger(lockMs) || lockMs < 1) throw new Error('lockMs must be a positive integer');
  if (inp.lockedUntil !== null && inp.now.getTime() < inp.lockedUntil.getTime()) {
    return { allowed: false, code: 'pin_locked', lockedUntil: inp.lockedUntil };
  }
  const lockExpired = inp.lockedUntil !== null;
  const failedSoFar = lockExpired ? 0 : Math.max(0, inp.failedAttempts);
  const failed = failedSoFar + 1;
  const locked = failed >= maxAttempts;
  return {
    allowed: true,
    onSuccess: { failedAttempts: 0, lockedUntil: null },
    onFailure: {
      failedAttempts: failed,
      lockedUntil: locked ? new Date(inp.now.getTime() + lockMs) : null,
      locked,
      remainingAttempts: Math.max(0, maxAttempts - failed),
    },
  };
}
