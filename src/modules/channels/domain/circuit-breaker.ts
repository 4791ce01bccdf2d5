/**
 * A circuit breaker per channel account. It stops sending payments to a channel that keeps failing
 * technically, then lets a few probe requests through to find out whether it has recovered.
 *
 *   closed ──(≥ minRequests in the window and failure rate ≥ failureRatePct)──▶ open
 *   open ──(openMs elapsed, or the operator's forceOpen deadline passed)──▶ half_open
 *   half_open ──(halfOpenSuccesses probe successes)──▶ closed (window cleared)
 *   half_open ──(any probe failure)──▶ open (for another openMs)
 *   any ──forceOpen──▶ open;  any ──reset──▶ closed (window cleared)
 *
 * The caller decides what an outcome is: a timeout, an unknown outcome or a 5xx is a `failure`, a
 * definite answer (paid, accepted) is a `success`, and a decline (the channel worked and said no)
 * is not recorded at all, so payers with empty wallets cannot trip a healthy channel.
 *
 * Pure and synchronous: time is passed in as epoch milliseconds, nothing is read from a clock. One
 * instance lives in each process; processes do not share state, which is fine for a breaker (each
 * process learns about a broken channel from its own traffic within one window).
 *
 * Memory is bounded: each account keeps `buckets` counters and at most `halfOpenProbes` probe
 * reservations, and at most `maxAccounts` accounts are tracked (the least recently used is
 * forgotten beyond that, which returns it to closed with an empty window).
 */
import { assertNever } from '../../../kernel/errors.js';

export type CircuitState = 'closed' | 'open' | 'half_open';
export type CircuitOutcome = 'success' | 'failure';

export interface CircuitBreakerOptions {
  /** Length of the sliding window of outcomes. Must be a multiple of `buckets`. */
  windowMs: number;
  /** The window is kept as this many equal buckets. */
  buckets: number;
  /** The circuit never opens on fewer requests than this within the window. */
  minRequests: number;
  /** Opens when failures × 100 ≥ failureRatePct × requests (and minRequests is reached). */
  failureRatePct: number;
  /** How long it stays open before probing. */
  openMs: number;
  /** At most this many probe requests in flight while half-open. */
  halfOpenProbes: number;
  /** Probe successes needed to close. */
  halfOpenSuccesses: number;
  /** A probe slot whose outcome is never recorded (crash, lost request) is freed after this. */
  probeTimeoutMs: number;
  /** At most this many accounts are tracked. */
  maxAccounts: number;
}

export const DEFAULT_CIRCUIT_BREAKER_OPTIONS: Readonly<CircuitBreakerOptions> = Object.freeze({
  windowMs: 60_000,
  buckets: 10,
  minRequests: 20,
  failureRatePct: 50,
  openMs: 30_000,
  halfOpenProbes: 3,
  halfOpenSuccesses: 2,
  probeTimeoutMs: 30_000,
  maxAccounts: 10_000,
});

export interface AllowDecision {
  allowed: boolean;
  state: CircuitState;
  reason?: string;
}

export interface CircuitSnapshot {
  state: CircuitState;
  /** Outcomes recorded in the window at `nowMs`. */
  requests: number;
  failures: number;
  /** null when the window is empty. */
  failureRatePct: number | null;
  successRatePct: number | null;
  /** When it last opened (absent when closed, or when forced open without a time). */
  openedAtMs?: number;
  /** When it turns half-open; absent when closed, half-open, or forced open until reset. */
  openUntilMs?: number;
  /** Opened by an operator rather than by failures. */
  forced: boolean;
  probesInFlight: number;
}

interface Entry {
  state: CircuitState;
  /** Ring of buckets: slot i holds bucket number epochs[i] (floor(ms / bucketMs)). */
  epochs: number[];
  successes: number[];
  failures: number[];
  openedAtMs: number | undefined;
  /** null while open means "until reset". */
  openUntilMs: number | null;
  forced: boolean;
  /** Times at which the in-flight probes were admitted, oldest first. */
  probes: number[];
  probeSuccesses: number;
}

export class CircuitBreaker {
  private readonly opts: CircuitBreakerOptions;
  private readonly bucketMs: number;
  /** Map iteration order doubles as least-recently-used order. */
  private readonly entries = new Map<bigint, Entry>();

  constructor(options: Partial<CircuitBreakerOptions> = {}) {
    const o = { ...DEFAULT_CIRCUIT_BREAKER_OPTIONS, ...options };
    for (const key of ['windowMs', 'buckets', 'minRequests', 'openMs', 'halfOpenProbes', 'halfOpenSuccesses', 'probeTimeoutMs', 'maxAccounts'] as const) {
      if (!Number.isSafeInteger(o[key]) || o[key] < 1) throw new Error(`circuit breaker ${key} must be a positive integer, got ${o[key]}`);
    }
    if (o.windowMs % o.buckets !== 0) throw new Error(`circuit breaker windowMs (${o.windowMs}) must be a multiple of buckets (${o.buckets})`);
    if (!(o.failureRatePct > 0 && o.failureRatePct <= 100)) throw new Error(`circuit breaker failureRatePct must be in (0, 100], got ${o.failureRatePct}`);
    this.opts = o;
    this.bucketMs = o.windowMs / o.buckets;
  }

  /** Number of accounts currently tracked (never more than `maxAccounts`). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Whether a request may go to this account now. While half-open, an allowed request reserves one
   * probe slot, so call this only when the request will really be sent, and record its outcome.
   */
  allow(id: bigint, nowMs: number): AllowDecision {
    const e = this.entries.get(id);
    if (!e) return { allowed: true, state: 'closed' };
    this.touch(id, e);
    this.advance(e, nowMs);
    switch (e.state) {
      case 'closed':
        return { allowed: true, state: 'closed' };
      case 'open':
        return { allowed: false, state: 'open', reason: openReason(e) };
      case 'half_open':
        if (e.probes.length >= this.opts.halfOpenProbes) {
          return { allowed: false, state: 'half_open', reason: `half-open: all ${this.opts.halfOpenProbes} probe slots are in use` };
        }
        e.probes.push(nowMs);
        return { allowed: true, state: 'half_open', reason: `half-open: probe ${e.probes.length} of ${this.opts.halfOpenProbes}` };
      default:
        return assertNever(e.state, 'circuit state');
    }
  }

  /**
   * Records the outcome of a request sent to this account. While closed it goes into the window;
   * while half-open it is the result of the oldest in-flight probe. An outcome arriving while open,
   * or while half-open with no probe in flight, belongs to a request admitted before the circuit
   * opened and is ignored: it says nothing about recovery.
   */
  record(id: bigint, outcome: CircuitOutcome, nowMs: number): void {
    const e = this.entry(id);
    this.advance(e, nowMs);
    switch (e.state) {
      case 'open':
        return;
      case 'half_open':
        if (e.probes.length === 0) return;
        e.probes.shift();
        if (outcome === 'failure') return this.open(e, nowMs, nowMs + this.opts.openMs, false);
        e.probeSuccesses += 1;
        if (e.probeSuccesses >= this.opts.halfOpenSuccesses) this.close(e);
        return;
      case 'closed': {
        const slot = this.slotFor(e, nowMs);
        if (outcome === 'success') e.successes[slot]! += 1;
        else e.failures[slot]! += 1;
        const { requests, failures } = this.count(e, nowMs);
        if (requests >= this.opts.minRequests && failures * 100 >= this.opts.failureRatePct * requests) {
          this.open(e, nowMs, nowMs + this.opts.openMs, false);
        }
        return;
      }
      default:
        return assertNever(e.state, 'circuit state');
    }
  }

  /**
   * Opens the circuit by hand. Without `untilMs` it stays open until `reset`; with it, it turns
   * half-open at that time and must then prove itself with probes like after any opening, so an
   * operator's guess about when a channel is back is checked before full traffic returns.
   */
  forceOpen(id: bigint, untilMs?: number, nowMs?: number): void {
    this.open(this.entry(id), nowMs, untilMs ?? null, true);
  }

  /** Closes the circuit by hand and forgets its window. */
  reset(id: bigint): void {
    this.entries.delete(id);
  }

  /** The state and window counts at `nowMs`, without changing anything (no probe is reserved). */
  snapshot(id: bigint, nowMs: number): CircuitSnapshot {
    const e = this.entries.get(id);
    if (!e) return { state: 'closed', requests: 0, failures: 0, failureRatePct: null, successRatePct: null, forced: false, probesInFlight: 0 };
    const { requests, failures } = this.count(e, nowMs);
    const expired = e.state === 'open' && e.openUntilMs !== null && nowMs >= e.openUntilMs;
    const state: CircuitState = expired ? 'half_open' : e.state;
    const live = state === 'half_open' ? e.probes.filter((t) => t > nowMs - this.opts.probeTimeoutMs).length : 0;
    const snap: CircuitSnapshot = {
      state,
      requests,
      failures,
      failureRatePct: requests === 0 ? null : (failures * 100) / requests,
      successRatePct: requests === 0 ? null : ((requests - failures) * 100) / requests,
      forced: state === 'open' && e.forced,
      probesInFlight: expired ? 0 : live,
    };
    if (state !== 'closed' && e.openedAtMs !== undefined) snap.openedAtMs = e.openedAtMs;
    if (state === 'open' && e.openUntilMs !== null) snap.openUntilMs = e.openUntilMs;
    return snap;
  }

  /** Applies the passage of time: open turns half-open at its deadline; stale probe slots free up. */
  private advance(e: Entry, nowMs: number): void {
    if (e.state === 'open' && e.openUntilMs !== null && nowMs >= e.openUntilMs) {
      e.state = 'half_open';
      e.forced = false;
      e.probes = [];
      e.probeSuccesses = 0;
    }
    if (e.state === 'half_open') {
      const cutoff = nowMs - this.opts.probeTimeoutMs;
      while (e.probes.length > 0 && e.probes[0]! <= cutoff) e.probes.shift();
    }
  }

  private open(e: Entry, atMs: number | undefined, untilMs: number | null, forced: boolean): void {
    e.state = 'open';
    e.openedAtMs = atMs;
    e.openUntilMs = untilMs;
    e.forced = forced;
    e.probes = [];
    e.probeSuccesses = 0;
  }

  private close(e: Entry): void {
    e.state = 'closed';
    e.openedAtMs = undefined;
    e.openUntilMs = null;
    e.forced = false;
    e.probes = [];
    e.probeSuccesses = 0;
    e.epochs.fill(Number.NEGATIVE_INFINITY);
    e.successes.fill(0);
    e.failures.fill(0);
  }

  /**
   * The ring slot for the bucket containing `nowMs`, emptied first if it still holds an older
   * bucket. Bucket b covers [b × bucketMs, (b + 1) × bucketMs).
   */
  private slotFor(e: Entry, nowMs: number): number {
    const bucket = Math.floor(nowMs / this.bucketMs);
    const slot = ((bucket % this.opts.buckets) + this.opts.buckets) % this.opts.buckets;
    if (e.epochs[slot] !== bucket) {
      e.epochs[slot] = bucket;
      e.successes[slot] = 0;
      e.failures[slot] = 0;
    }
    return slot;
  }

  /**
   * Outcomes in the window at `nowMs`: the current bucket and the `buckets − 1` before it. So an
   * outcome recorded at t counts while floor(now / bucketMs) − floor(t / bucketMs) < buckets, that
   * is for between windowMs − bucketMs (exclusive) and windowMs (inclusive) after it happened.
   */
  private count(e: Entry, nowMs: number): { requests: number; failures: number } {
    const current = Math.floor(nowMs / this.bucketMs);
    let successes = 0;
    let failures = 0;
    for (let i = 0; i < this.opts.buckets; i++) {
      const b = e.epochs[i]!;
      if (b > current - this.opts.buckets && b <= current) {
        successes += e.successes[i]!;
        failures += e.failures[i]!;
      }
    }
    return { requests: successes + failures, failures };
  }

  private entry(id: bigint): Entry {
    const found = this.entries.get(id);
    if (found) {
      this.touch(id, found);
      return found;
    }
    if (this.entries.size >= this.opts.maxAccounts) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const n = this.opts.buckets;
    const e: Entry = {
      state: 'closed',
      epochs: new Array<number>(n).fill(Number.NEGATIVE_INFINITY),
      successes: new Array<number>(n).fill(0),
      failures: new Array<number>(n).fill(0),
      openedAtMs: undefined,
      openUntilMs: null,
      forced: false,
      probes: [],
      probeSuccesses: 0,
    };
    this.entries.set(id, e);
    return e;
  }

  private touch(id: bigint, e: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, e);
  }
}

function openReason(e: Entry): string {
  const until = e.openUntilMs === null ? 'until reset' : `until ${new Date(e.openUntilMs).toISOString()}`;
  return e.forced ? `forced open by an operator ${until}` : `open after too many failures, ${until}`;
}
