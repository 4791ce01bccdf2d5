// Proves PIN format rules refuse malformed and trivial PINs, hashes are salted, self-describing and verify only the right PIN, and the lockout arithmetic locks at the limit and releases after the lock time.
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../kernel/secret.js';
import { checkPinFormat, decodePinHash, hashPin, pinAttemptDecision, pinHashNeedsRehash, verifyPin } from './pin.js';

const pin = (s: string) => new Secret(s);
const code = (s: string) => {
  const r = checkPinFormat(pin(s));
  return r.ok ? 'ok' : r.code;
};

describe('checkPinFormat', () => {
  it('accepts ordinary six-digit PINs', () => {
    for (const p of ['135790', '902614', '112233', '890123', '121212', '123457', '000001']) expect(code(p)).toBe('ok');
  });
  it('refuses anything but exactly six ASCII digits', () => {
    for (const p of ['12345', '1234567', '', '12a456', ' 13579', '１３５７９０', '13579\n']) expect(code(p)).toBe('invalid_pin_format');
  });
  it('refuses repeated digits and ascending or descending runs', () => {
    for (const p of ['000000', '888888', '123456', '234567', '456789', '012345', '654321', '987654', '543210']) expect(code(p)).toBe('pin_too_simple');
  });
});

describe('hashPin / verifyPin', () => {
  it('verifies the right PIN and refuses a wrong one', async () => {
    const h = await hashPin(pin('135790'));
    expect(await verifyPin(pin('135790'), h)).toBe(true);
    expect(await verifyPin(pin('135791'), h)).toBe(false);
    expect(await verifyPin(pin(''), h)).toBe(false);
  });
  it('names its algorithm and parameters and uses a fresh salt each time', async () => {
    const a = await hashPin(pin('135790'));
    const b = await hashPin(pin('135790'));
    expect(a).toMatch(/^scrypt\$v1\$N=16384,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(decodePinHash(a).salt.equals(decodePinHash(b).salt)).toBe(false);
    expect(a).not.toContain('135790');
  });
  it('verifies hashes made with other parameters and says when to rehash', async () => {
    const weak = await hashPin(pin('246813'), { N: 1024, r: 8, p: 1 });
    expect(await verifyPin(pin('246813'), weak)).toBe(true);
    expect(pinHashNeedsRehash(weak)).toBe(true);
    expect(pinHashNeedsRehash(await hashPin(pin('246813')))).toBe(false);
  });
  it('treats a malformed or tampered stored hash as corrupt data', async () => {
    const h = await hashPin(pin('135790'), { N: 1024, r: 8, p: 1 });
    await expect(verifyPin(pin('135790'), 'bcrypt$whatever')).rejects.toThrow();
    await expect(verifyPin(pin('135790'), h.replace('N=1024', 'N=1000'))).rejects.toThrow();
    await expect(verifyPin(pin('135790'), h.replace('N=1024', `N=${2 ** 24}`))).rejects.toThrow();
    await expect(verifyPin(pin('135790'), h.slice(0, -4))).rejects.toThrow();
    // A well-formed hash of another PIN simply does not match.
    const parts = h.split('$');
    const other = await hashPin(pin('135791'), { N: 1024, r: 8, p: 1 });
    parts[4] = other.split('$')[4]!;
    expect(await verifyPin(pin('135790'), parts.join('$'))).toBe(false);
  });
});

describe('pinAttemptDecision', () => {
  const now = new Date('2025-03-01T00:00:00Z');
  const at = (ms: number) => new Date(now.getTime() + ms);

  it('allows a first attempt and resets on success', () => {
    const d = pinAttemptDecision({ failedAttempts: 0, lockedUntil: null, now });
    expect(d).toEqual({
      allowed: true,
      onSuccess: { failedAttempts: 0, lockedUntil: null },
      onFailure: { failedAttempts: 1, lockedUntil: null, locked: false, remainingAttempts: 4 },
    });
  });

  it('locks for 24 hours on the fifth failure, not the fourth', () => {
    const fourth = pinAttemptDecision({ failedAttempts: 3, lockedUntil: null, now });
    expect(fourth.allowed && fourth.onFailure).toMatchObject({ failedAttempts: 4, locked: false, lockedUntil: null, remainingAttempts: 1 });
    const fifth = pinAttemptDecision({ failedAttempts: 4, lockedUntil: null, now });
    expect(fifth.allowed && fifth.onFailure).toEqual({ failedAttempts: 5, locked: true, lockedUntil: at(24 * 3600 * 1000), remainingAttempts: 0 });
  });

  it('refuses every attempt while locked, up to the last millisecond', () => {
    const lockedUntil = at(1000);
    expect(pinAttemptDecision({ failedAttempts: 5, lockedUntil, now })).toEqual({ allowed: false, code: 'pin_locked', lockedUntil });
    expect(pinAttemptDecision({ failedAttempts: 5, lockedUntil, now: at(999) }).allowed).toBe(false);
  });

  it('gives a full set of attempts once the lock has run out', () => {
    const d = pinAttemptDecision({ failedAttempts: 5, lockedUntil: at(1000), now: at(1000) });
    expect(d.allowed && d.onFailure).toMatchObject({ failedAttempts: 1, locked: false, remainingAttempts: 4 });
    expect(d.allowed && d.onSuccess).toEqual({ failedAttempts: 0, lockedUntil: null });
  });

  it('honours a custom limit and lock time, and simulates a guessing run end to end', () => {
    let counters = { failedAttempts: 0, lockedUntil: null as Date | null };
    let t = now;
    let checked = 0;
    for (let i = 0; i < 10; i++) {
      const d = pinAttemptDecision({ ...counters, now: t, maxAttempts: 3, lockMs: 60_000 });
      if (!d.allowed) break;
      checked++;
      counters = { failedAttempts: d.onFailure.failedAttempts, lockedUntil: d.onFailure.lockedUntil };
      t = new Date(t.getTime() + 1000);
    }
    expect(checked).toBe(3);
    expect(counters.lockedUntil).toEqual(new Date(now.getTime() + 2000 + 60_000));
    expect(() => pinAttemptDecision({ failedAttempts: 0, lockedUntil: null, now, maxAttempts: 0 })).toThrow();
  });
});
