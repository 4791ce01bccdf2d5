/**
 * What a channel charges us for one payment, and how much of that charge comes back when the
 * payment is refunded. Pure integer arithmetic on bigint minor units; every rounding is stated.
 *
 * A fee schedule is a rate in basis points (1 bp = 0.01 %) plus a fixed part, clamped to a minimum
 * and an optional maximum. All amounts of a schedule are in the currency of the payment it prices.
 */
import { fail, ok, type Result } from '../../../kernel/errors.js';

export interface FeeSchedule {
  /** Rate in whole basis points, 0..10000 (60 = 0.6 %). Fractional basis points are not supported. */
  bps: number;
  /** Added to the rate part before clamping; not negative. */
  fixedMinor: bigint;
  /** The fee is never below this; not negative. */
  minMinor: bigint;
  /** The fee is never above this; null means no cap. */
  maxMinor: bigint | null;
}

export const MAX_BPS = 10_000;

/**
 * Checks a schedule that came from configuration. The message names the first problem found, in
 * words an operator can act on. Accepts `unknown` so it can guard parsed configuration directly.
 */
export function validateFeeSchedule(raw: unknown): Result<FeeSchedule, 'invalid_fee_schedule'> {
  const problem = feeScheduleProblem(raw);
  if (problem !== null) return fail('invalid_fee_schedule', problem);
  return ok(raw as FeeSchedule);
}

function feeScheduleProblem(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return 'fee schedule must be an object';
  const f = raw as Record<string, unknown>;
  if (typeof f['bps'] !== 'number' || !Number.isInteger(f['bps']) || f['bps'] < 0 || f['bps'] > MAX_BPS) {
    return `fee rate (bps) must be a whole number of basis points from 0 to ${MAX_BPS}, got ${String(f['bps'])}`;
  }
  for (const key of ['fixedMinor', 'minMinor'] as const) {
    const v = f[key];
    if (typeof v !== 'bigint') return `${key} must be an integer amount in minor units (bigint)`;
    if (v < 0n) return `${key} must not be negative, got ${v}`;
  }
  const max = f['maxMinor'];
  if (max !== null) {
    if (typeof max !== 'bigint') return 'maxMinor must be an integer amount in minor units (bigint) or null for no cap';
    if (max < (f['minMinor'] as bigint)) return `maxMinor (${max}) must not be below minMinor (${String(f['minMinor'])})`;
  }
  return null;
}

/**
 * The channel's fee for a payment of `amountMinor`:
 *
 *   clamp(roundHalfUp(amountMinor × bps / 10000) + fixedMinor, minMinor, maxMinor)
 *
 * Round half up (四舍五入) means an exact half minor unit goes up (0.5 fen -> 1 fen) and anything
 * less goes down; it is computed as floor((amount × bps + 5000) / 10000), exact for the
 * non-negative values allowed here. If a channel's statement rounds differently, reconciliation
 * shows the difference as a fee break. The fee is not capped at the amount: a minimum
 * fee may exceed a tiny payment, and routing should see that cost rather than have it hidden.
 * Throws on an invalid schedule or a negative amount (programmer errors: validate config first).
 */
export function channelFee(fee: FeeSchedule, amountMinor: bigint): bigint {
  const problem = feeScheduleProblem(fee);
  if (problem !== null) throw new Error(`invalid fee schedule: ${problem}`);
  if (amountMinor < 0n) throw new Error(`amount must not be negative, got ${amountMinor}`);
  const ratePart = (amountMinor * BigInt(fee.bps) + BigInt(MAX_BPS / 2)) / BigInt(MAX_BPS);
  let total = ratePart + fee.fixedMinor;
  if (total < fee.minMinor) total = fee.minMinor;
  if (fee.maxMinor !== null && total > fee.maxMinor) total = fee.maxMinor;
  return total;
}

/**
 * The part of a payment's original channel fee that comes back with one (partial) refund.
 *
 * Shares are computed cumulatively: the fee returned for everything refunded so far is
 * floor(fee × refunded / amount), and this refund gets the increase it causes:
 *
 *   floor(fee × (before + refund) / amount) − floor(fee × before / amount)
 *
 * So every share rounds down except that the refund reaching the full amount gets exactly what is
 * left (the cumulative value there is the whole fee), and the shares of all refunds of a payment
 * always sum to the fee, whatever the order and sizes of the refunds. A share depends only on the
 * totals before and after, so a retried computation gives the same answer.
 *
 * Throws (programmer errors) when the amount is not positive, the fee, the already refunded or the
 * refund amount is negative, or the refunds would exceed the amount.
 */
export function refundFeeShare(feeMinor: bigint, amountMinor: bigint, alreadyRefundedMinor: bigint, refundMinor: bigint): bigint {
  if (amountMinor <= 0n) throw new Error(`payment amount must be positive, got ${amountMinor}`);
  if (feeMinor < 0n) throw new Error(`fee must not be negative, got ${feeMinor}`);
  if (alreadyRefundedMinor < 0n || refundMinor < 0n) throw new Error('refunded amounts must not be negative');
  const after = alreadyRefundedMinor + refundMinor;
  if (after > amountMinor) {
    throw new Error(`refunds (${alreadyRefundedMinor} + ${refundMinor}) would exceed the payment amount ${amountMinor}`);
  }
  return (feeMinor * after) / amountMinor - (feeMinor * alreadyRefundedMinor) / amountMinor;
}
