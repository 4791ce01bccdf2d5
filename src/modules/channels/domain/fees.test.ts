// Proves channel fees round half up and clamp exactly, bad schedules are named, and refund fee shares over any refund sequence sum exactly to the fee.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { channelFee, refundFeeShare, validateFeeSchedule, type FeeSchedule } from './fees.js';

const sched = (bps: number, fixedMinor = 0n, minMinor = 0n, maxMinor: bigint | null = null): FeeSchedule => ({ bps, fixedMinor, minMinor, maxMinor });

describe('channelFee', () => {
  it('rounds the rate part half up', () => {
    // 0.6 % of 100.00 CNY is exactly 60 fen.
    expect(channelFee(sched(60), 10_000n)).toBe(60n);
    // 0.6 % of 0.75 CNY is 0.45 fen: rounds down to 0.
    expect(channelFee(sched(60), 75n)).toBe(0n);
    // 0.6 % of 2.50 CNY is 1.5 fen exactly: the half goes up.
    expect(channelFee(sched(60), 250n)).toBe(2n);
    // 0.6 % of 2.49 CNY is 1.494 fen: down.
    expect(channelFee(sched(60), 249n)).toBe(1n);
    // 0.38 % of 1.32 CNY is 0.5016 fen: up.
    expect(channelFee(sched(38), 132n)).toBe(1n);
    expect(channelFee(sched(10_000), 123n)).toBe(123n);
    expect(channelFee(sched(0), 123n)).toBe(0n);
  });

  it('adds the fixed part before clamping to min and max', () => {
    expect(channelFee(sched(60, 10n), 10_000n)).toBe(70n);
    expect(channelFee(sched(60, 10n, 100n), 10_000n)).toBe(100n);
    expect(channelFee(sched(60, 10n, 0n, 50n), 10_000n)).toBe(50n);
    expect(channelFee(sched(60, 0n, 0n, 60n), 10_000n)).toBe(60n);
    // The minimum applies even when it exceeds a tiny amount.
    expect(channelFee(sched(60, 0n, 5n), 1n)).toBe(5n);
    expect(channelFee(sched(60, 3n, 1n), 0n)).toBe(3n);
  });

  it('is exact beyond the float range', () => {
    const big = 10n ** 30n + 5000n;
    expect(channelFee(sched(1), big)).toBe(10n ** 26n + 1n);
  });

  it('refuses an invalid schedule or a negative amount', () => {
    expect(() => channelFee(sched(60.5), 100n)).toThrow(/basis points/);
    expect(() => channelFee(sched(60), -1n)).toThrow(/negative/);
  });

  it('stays within [min, max], never decreases with the amount, and is within half a unit of the exact rate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.bigInt({ min: 0n, max: 1000n }),
        fc.bigInt({ min: 0n, max: 1000n }),
        fc.option(fc.bigInt({ min: 0n, max: 100_000n })),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (bps, fixedMinor, minMinor, maxRaw, amount) => {
          const maxMinor = maxRaw === null ? null : minMinor + maxRaw;
          const s = sched(bps, fixedMinor, minMinor, maxMinor);
          const fee = channelFee(s, amount);
          expect(fee >= minMinor).toBe(true);
          if (maxMinor !== null) expect(fee <= maxMinor).toBe(true);
          expect(channelFee(s, amount + 1n) >= fee).toBe(true);
          const unclamped = channelFee(sched(bps), amount);
          const diff = unclamped * 10_000n - amount * BigInt(bps); // 10000 × rounding error
          expect(diff > -5000n && diff <= 5000n).toBe(true);
        },
      ),
    );
  });
});

describe('validateFeeSchedule', () => {
  const msg = (raw: unknown): string => {
    const r = validateFeeSchedule(raw);
    return r.ok ? 'ok' : `${r.code}: ${r.message}`;
  };

  it('accepts a good schedule', () => {
    expect(msg(sched(60, 0n, 1n, null))).toBe('ok');
    expect(msg(sched(0, 0n, 0n, 0n))).toBe('ok');
  });

  it('names each problem', () => {
    expect(msg(null)).toBe('invalid_fee_schedule: fee schedule must be an object');
    expect(msg(sched(-1))).toMatch(/whole number of basis points from 0 to 10000, got -1/);
    expect(msg(sched(10_001))).toMatch(/got 10001/);
    expect(msg(sched(1.5))).toMatch(/got 1.5/);
    expect(msg({ ...sched(60), fixedMinor: 5 })).toMatch(/fixedMinor must be an integer amount in minor units/);
    expect(msg(sched(60, -1n))).toMatch(/fixedMinor must not be negative, got -1/);
    expect(msg(sched(60, 0n, -2n))).toMatch(/minMinor must not be negative/);
    expect(msg({ ...sched(60), maxMinor: 3 })).toMatch(/maxMinor must be .* or null/);
    expect(msg(sched(60, 0n, 10n, 9n))).toBe('invalid_fee_schedule: maxMinor (9) must not be below minMinor (10)');
  });
});

describe('refundFeeShare', () => {
  it('rounds partial shares down and gives the last refund the remainder', () => {
    // Fee 7 on 100: refunds of 30, 30, 40.
    expect(refundFeeShare(7n, 100n, 0n, 30n)).toBe(2n); // floor(2.1)
    expect(refundFeeShare(7n, 100n, 30n, 30n)).toBe(2n); // floor(4.2) − 2
    expect(refundFeeShare(7n, 100n, 60n, 40n)).toBe(3n); // 7 − 4
    expect(refundFeeShare(7n, 100n, 0n, 100n)).toBe(7n);
    expect(refundFeeShare(0n, 100n, 0n, 50n)).toBe(0n);
    expect(refundFeeShare(7n, 100n, 10n, 0n)).toBe(0n);
  });

  it('refuses impossible inputs', () => {
    expect(() => refundFeeShare(7n, 0n, 0n, 0n)).toThrow(/positive/);
    expect(() => refundFeeShare(-1n, 100n, 0n, 1n)).toThrow(/fee/);
    expect(() => refundFeeShare(7n, 100n, -1n, 1n)).toThrow(/negative/);
    expect(() => refundFeeShare(7n, 100n, 60n, 41n)).toThrow(/exceed/);
  });

  it('sums exactly to the fee over any sequence of refunds of the whole amount, each share within [0, fee]', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.array(fc.bigInt({ min: 1n, max: 10n ** 6n }), { minLength: 1, maxLength: 20 }),
        (amount, fee, weights) => {
          // Cut the amount into parts by the random weights (they sum to the amount).
          const parts = splitByWeights(amount, weights);
          let before = 0n;
          let sum = 0n;
          for (const p of parts) {
            const share = refundFeeShare(fee, amount, before, p);
            expect(share >= 0n && share <= fee).toBe(true);
            sum += share;
            before += p;
          }
          expect(before).toBe(amount);
          expect(sum).toBe(fee);
        },
      ),
    );
  });

  it('never returns more than the proportional share before the amount is fully refunded', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n, max: 10n ** 9n }), fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (amount, fee, r) => {
        const refund = 1n + (r % (amount - 1n)); // strictly less than the amount
        const share = refundFeeShare(fee, amount, 0n, refund);
        expect(share * amount <= fee * refund).toBe(true);
        expect((share + 1n) * amount > fee * refund).toBe(true);
      }),
    );
  });
});

function splitByWeights(total: bigint, weights: bigint[]): bigint[] {
  const sum = weights.reduce((a, b) => a + b, 0n);
  const parts = weights.map((w) => (total * w) / sum);
  const rest = total - parts.reduce((a, b) => a + b, 0n);
  return [...parts.slice(0, -1), parts[parts.length - 1]! + rest];
}
