/**
 * Fault knobs every simulator understands. Tests and operators set them at run time through the
 * simulator's control endpoint (`POST /__sim/faults`, JSON body = a partial `Faults`), so one
 * running simulator can be driven through every failure a real provider shows.
 *
 * Rates are per mille (0-1000) so they stay integers; the decision uses the simulator's own random
 * source, which tests may seed through `createRandom(seed)` for reproducible runs.
 */

export interface Faults {
  /** Added to every API answer, in milliseconds. */
  latencyMs: number;
  /** Share of pay/refund requests refused with a business error (no money moves), per mille. */
  declinePerMille: number;
  /** Share of requests that get no answer (the connection is held past any client timeout, then dropped), per mille. */
  timeoutPerMille: number;
  /** Share of requests answered with HTTP 500 (outcome unknown to the caller), per mille. */
  serverErrorPerMille: number;
  /**
   * Share of pay requests that are applied but answered with a timeout or 5xx: the money moves
   * and the caller does not know. A later query (or notification) tells the truth.
   */
  unknownOutcomePerMille: number;
  /** Each notification is sent twice. */
  duplicateNotifications: boolean;
  /** Notifications are held and sent in reverse order (e.g. a refund notice before the payment notice). */
  outOfOrderNotifications: boolean;
  /** Notifications carry an amount this much larger than the trade (a forged or broken notice). */
  notifyAmountDeltaMinor: number;
  /** While true the API answers as in a maintenance window (the provider's "system busy/maintenance" error, no money moves). */
  maintenance: boolean;
  /** Delay before a trade's notification is sent, in milliseconds. */
  notifyDelayMs: number;
}

export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  declinePerMille: 0,
  timeoutPerMille: 0,
  serverErrorPerMille: 0,
  unknownOutcomePerMille: 0,
  duplicateNotifications: false,
  outOfOrderNotifications: false,
  notifyAmountDeltaMinor: 0,
  maintenance: false,
  notifyDelayMs: 0,
});

const NUMBER_KEYS = ['latencyMs', 'declinePerMille', 'timeoutPerMille', 'serverErrorPerMille', 'unknownOutcomePerMille', 'notifyAmountDeltaMinor', 'notifyDelayMs'] as const;
const BOOL_KEYS = ['duplicateNotifications', 'outOfOrderNotifications', 'maintenance'] as const;

/** Applies a partial update from the control endpoint; unknown keys or wrong types are refused. */
export function updateFaults(current: Faults, patch: unknown): { ok: true; faults: Faults } | { ok: false; message: string } {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return { ok: false, message: 'faults must be a JSON object' };
  const next: Faults = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if ((NUMBER_KEYS as readonly string[]).includes(k)) {
      const max = k.endsWith('PerMille') ? 1000 : 600_000;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) return { ok: false, message: `${k} must be an integer 0-${max}` };
      (next as unknown as Record<string, number>)[k] = v;
    } else if ((BOOL_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'boolean') return { ok: false, message: `${k} must be true or false` };
      (next as unknown as Record<string, boolean>)[k] = v;
    } else {
      return { ok: false, message: `unknown fault ${k}` };
    }
  }
  return { ok: true, faults: next };
}

/** A small seeded random source (mulberry32), so fault sequences can be replayed in tests. */
export function createRandom(seed = Date.now() >>> 0): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a simulator does with one API request, decided before it touches its state. */
export type FaultDecision = 'normal' | 'maintenance' | 'timeout' | 'server_error' | 'decline' | 'unknown_outcome';

/**
 * Draws the fault for one request. `moneyMoving` requests (pay, refund) can also be declined or get
 * an unknown outcome; queries only see latency, timeouts, 5xx and maintenance.
 */
export function decideFault(f: Faults, rnd: () => number, moneyMoving: boolean): FaultDecision {
  if (f.maintenance) return 'maintenance';
  const roll = () => Math.floor(rnd() * 1000);
  if (roll() < f.timeoutPerMille) return 'timeout';
  if (roll() < f.serverErrorPerMille) return 'server_error';
  if (moneyMoving && roll() < f.declinePerMille) return 'decline';
  if (moneyMoving && roll() < f.unknownOutcomePerMille) return 'unknown_outcome';
  return 'normal';
}
