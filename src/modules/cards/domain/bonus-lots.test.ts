// Proves which bonus expires unspent: spends come from the earliest-expiring valid grant, returns go back to valid grants, forfeitures and later grants are accounted for.
import { describe, expect, it } from 'vitest';
import { expiredBonusLeft, type BonusEvent } from './bonus-lots.js';

const day = (d: number): Date => new Date(Date.UTC(2026, 0, 1) + d * 86_400_000);
let seq = 0n;
const grant = (d: number, amountMinor: bigint, expiresDay: number | null): BonusEvent => ({ kind: 'grant', id: ++seq, at: day(d), amountMinor, expiresAt: expiresDay === null ? null : day(expiresDay) });
const ev = (kind: 'spend' | 'return', d: number, amountMinor: bigint): BonusEvent => ({ kind, id: ++seq, at: day(d), amountMinor });

describe('expiredBonusLeft', () => {
  it('spends the earliest-expiring grant first and never the grants made later', () => {
    const a = grant(0, 20n, 30);
    const b = grant(0, 50n, null);
    const spend = ev('spend', 1, 30n);
    const c = grant(5, 20n, 35);
    const h = [a, b, spend, c];
    // At day 31, A (20) was fully spent by the 30 on day 1: nothing to forfeit.
    expect(expiredBonusLeft(h, day(31))).toEqual(new Map());
    // At day 36, C (granted after the spend) is untouched: all 20 expire, although the total
    // bonus (60) is more than the non-expiring grant (50).
    expect(expiredBonusLeft(h, day(36))).toEqual(new Map([[c.id, 20n]]));
  });

  it('counts a forfeiture once and lets returns refill a valid grant', () => {
    const a = grant(0, 100n, 10);
    const spend = ev('spend', 1, 60n);
    const back = ev('return', 2, 50n);
    const h: BonusEvent[] = [a, spend, back];
    expect(expiredBonusLeft(h, day(10))).toEqual(new Map([[a.id, 90n]]));
    h.push({ kind: 'forfeit', id: ++seq, at: day(10), amountMinor: 90n, grantId: a.id });
    expect(expiredBonusLeft(h, day(11))).toEqual(new Map());
  });

  it('takes a spend from an expired grant only when no valid bonus is left (the job had not run yet)', () => {
    const a = grant(0, 30n, 10);
    const b = grant(0, 10n, 20);
    const h = [a, b, ev('spend', 11, 25n)];
    // Day 11: B (valid) gives 10, the rest comes from the expired A, which keeps 15.
    expect(expiredBonusLeft(h, day(21))).toEqual(new Map([[a.id, 15n]]));
  });

  it('puts a return that does not fit into valid grants into bonus without expiry', () => {
    const a = grant(0, 10n, 5);
    const h = [a, ev('spend', 1, 10n), ev('return', 6, 10n)];
    expect(expiredBonusLeft(h, day(30))).toEqual(new Map());
  });
});
