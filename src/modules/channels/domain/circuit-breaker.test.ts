// Proves every circuit breaker transition (closed/open/half-open, forced, reset), exact window edges at bucket boundaries, and bounded memory.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitOutcome } from './circuit-breaker.js';

const A = 1n;
const B = 2n;

function feed(cb: CircuitBreaker, id: bigint, atMs: number, successes: number, failures: number): void {
  for (let i = 0; i < successes; i++) cb.record(id, 'success', atMs);
  for (let i = 0; i < failures; i++) cb.record(id, 'failure', atMs);
}

/** Trips A open at `atMs` with the default options (10 successes then 10 failures: 50 % of 20). */
function tripped(atMs = 0, opts = {}): CircuitBreaker {
  const cb = new CircuitBreaker(opts);
  feed(cb, A, atMs, 10, 10);
  return cb;
}

describe('closed → open', () => {
  it('stays closed below minRequests even at 100 % failures', () => {
    const cb = new CircuitBreaker();
    feed(cb, A, 0, 0, 19);
    expect(cb.allow(A, 0)).toEqual({ allowed: true, state: 'closed' });
    expect(cb.snapshot(A, 0)).toMatchObject({ state: 'closed', requests: 19, failures: 19, failureRatePct: 100, successRatePct: 0 });
  });

  it('opens at exactly minRequests and exactly the failure rate, counting a success that reaches minRequests', () => {
    const cb = new CircuitBreaker();
    feed(cb, A, 0, 0, 10);
    feed(cb, A, 0, 9, 0);
    expect(cb.snapshot(A, 0).state).toBe('closed'); // 19 requests
    cb.record(A, 'success', 0); // 20 requests, 10 failures = 50 %
    const s = cb.snapshot(A, 0);
    expect(s).toMatchObject({ state: 'open', requests: 20, failures: 10, failureRatePct: 50, openedAtMs: 0, openUntilMs: 30_000, forced: false });
    const d = cb.allow(A, 1);
    expect(d.allowed).toBe(false);
    expect(d.state).toBe('open');
    expect(d.reason).toMatch(/too many failures, until 1970-01-01T00:00:30.000Z/);
  });

  it('stays closed just below the failure rate', () => {
    const cb = new CircuitBreaker();
    feed(cb, A, 0, 11, 9); // 45 %
    feed(cb, A, 0, 2, 0);
    expect(cb.snapshot(A, 0)).toMatchObject({ state: 'closed', requests: 22, failures: 9 });
  });

  it('keeps accounts apart', () => {
    const cb = tripped();
    expect(cb.allow(A, 0).allowed).toBe(false);
    expect(cb.allow(B, 0)).toEqual({ allowed: true, state: 'closed' });
  });

  it('ignores outcomes recorded while open', () => {
    const cb = tripped();
    feed(cb, A, 100, 50, 0);
    expect(cb.snapshot(A, 100)).toMatchObject({ state: 'open', requests: 20 });
  });

  it('honours custom thresholds', () => {
    const cb = new CircuitBreaker({ minRequests: 4, failureRatePct: 75 });
    feed(cb, A, 0, 1, 2);
    expect(cb.snapshot(A, 0).state).toBe('closed');
    cb.record(A, 'failure', 0);
    expect(cb.snapshot(A, 0).state).toBe('open');
  });
});

describe('sliding window', () => {
  it('counts an outcome until its bucket is `buckets` buckets old, exactly at the edges', () => {
    const cb = new CircuitBreaker(); // 10 buckets of 6 s
    cb.record(A, 'failure', 0); // bucket 0: [0, 6000)
    cb.record(A, 'success', 5_999); // also bucket 0
    cb.record(A, 'failure', 6_000); // bucket 1
    expect(cb.snapshot(A, 59_999)).toMatchObject({ requests: 3, failures: 2 });
    expect(cb.snapshot(A, 60_000)).toMatchObject({ requests: 1, failures: 1 }); // bucket 0 left
    expect(cb.snapshot(A, 65_999)).toMatchObject({ requests: 1, failures: 1 });
    expect(cb.snapshot(A, 66_000)).toMatchObject({ requests: 0, failures: 0, failureRatePct: null, successRatePct: null });
  });

  it('reuses a ring slot for a newer bucket without mixing in the old counts', () => {
    const cb = new CircuitBreaker();
    feed(cb, A, 1_000, 5, 0); // bucket 0, slot 0
    feed(cb, A, 61_000, 0, 1); // bucket 10, slot 0 again
    expect(cb.snapshot(A, 61_000)).toMatchObject({ requests: 1, failures: 1 });
  });

  it('does not trip on failures spread so that never enough are in one window', () => {
    const cb = new CircuitBreaker();
    feed(cb, A, 0, 0, 10);
    feed(cb, A, 60_000, 0, 10); // the first ten have just left the window
    expect(cb.snapshot(A, 60_000)).toMatchObject({ state: 'closed', requests: 10 });
    feed(cb, A, 59_999 + 6_000, 0, 9); // bucket 10 still, with the second ten: 19
    expect(cb.snapshot(A, 65_999).state).toBe('closed');
    cb.record(A, 'failure', 65_999);
    expect(cb.snapshot(A, 65_999).state).toBe('open');
  });

  it('ignores buckets from the future (a clock that stepped back)', () => {
    const cb = new CircuitBreaker();
    feed(cb, A, 120_000, 3, 0);
    expect(cb.snapshot(A, 10_000).requests).toBe(0);
  });
});

describe('open → half-open → closed / open', () => {
  it('turns half-open after openMs and admits at most halfOpenProbes concurrent probes', () => {
    const cb = tripped();
    expect(cb.allow(A, 29_999).allowed).toBe(false);
    expect(cb.snapshot(A, 30_000).state).toBe('half_open');
    expect(cb.allow(A, 30_000)).toEqual({ allowed: true, state: 'half_open', reason: 'half-open: probe 1 of 3' });
    expect(cb.allow(A, 30_001).allowed).toBe(true);
    expect(cb.allow(A, 30_002).allowed).toBe(true);
    expect(cb.allow(A, 30_003)).toEqual({ allowed: false, state: 'half_open', reason: 'half-open: all 3 probe slots are in use' });
    expect(cb.snapshot(A, 30_003).probesInFlight).toBe(3);
  });

  it('closes after halfOpenSuccesses probe successes and clears the window', () => {
    const cb = tripped();
    cb.allow(A, 30_000);
    cb.allow(A, 30_000);
    cb.record(A, 'success', 30_100);
    expect(cb.snapshot(A, 30_100).state).toBe('half_open');
    cb.record(A, 'success', 30_200);
    expect(cb.snapshot(A, 30_200)).toMatchObject({ state: 'closed', requests: 0, failures: 0, probesInFlight: 0 });
    expect(cb.snapshot(A, 30_200).openedAtMs).toBeUndefined();
    // A fresh window: 19 failures are not enough to trip again.
    feed(cb, A, 30_300, 0, 19);
    expect(cb.allow(A, 30_300).allowed).toBe(true);
  });

  it('frees a probe slot when a probe succeeds, so a further probe may go', () => {
    const cb = tripped(0, { halfOpenProbes: 1, halfOpenSuccesses: 2 });
    expect(cb.allow(A, 30_000).allowed).toBe(true);
    expect(cb.allow(A, 30_000).allowed).toBe(false);
    cb.record(A, 'success', 30_010);
    expect(cb.allow(A, 30_020).allowed).toBe(true);
    cb.record(A, 'success', 30_030);
    expect(cb.snapshot(A, 30_030).state).toBe('closed');
  });

  it('reopens for another openMs on any probe failure, even after a probe success', () => {
    const cb = tripped();
    cb.allow(A, 30_000);
    cb.allow(A, 30_000);
    cb.record(A, 'success', 30_500);
    cb.record(A, 'failure', 31_000);
    expect(cb.snapshot(A, 31_000)).toMatchObject({ state: 'open', openedAtMs: 31_000, openUntilMs: 61_000 });
    expect(cb.allow(A, 60_999).allowed).toBe(false);
    expect(cb.allow(A, 61_000).state).toBe('half_open');
  });

  it('ignores an outcome while half-open that no probe was admitted for (a request from before the opening)', () => {
    const cb = tripped();
    expect(cb.snapshot(A, 30_000).state).toBe('half_open');
    cb.record(A, 'failure', 30_000);
    expect(cb.snapshot(A, 30_000).state).toBe('half_open');
    cb.allow(A, 30_000);
    cb.record(A, 'failure', 30_001);
    expect(cb.snapshot(A, 30_001).state).toBe('open');
  });

  it('frees a probe slot whose outcome never came after probeTimeoutMs', () => {
    const cb = tripped(0, { probeTimeoutMs: 5_000 });
    for (let i = 0; i < 3; i++) expect(cb.allow(A, 30_000).allowed).toBe(true);
    expect(cb.allow(A, 34_999).allowed).toBe(false);
    expect(cb.snapshot(A, 35_000).probesInFlight).toBe(0);
    expect(cb.allow(A, 35_000).allowed).toBe(true);
  });

  it('does not reserve probes from snapshot', () => {
    const cb = tripped(0, { halfOpenProbes: 1 });
    for (let i = 0; i < 5; i++) cb.snapshot(A, 30_000);
    expect(cb.allow(A, 30_000).allowed).toBe(true);
  });
});

describe('operator controls', () => {
  it('forceOpen without a time stays open until reset, whatever happens', () => {
    const cb = new CircuitBreaker();
    cb.forceOpen(A, undefined, 1_000);
    const d = cb.allow(A, 10 ** 12);
    expect(d).toEqual({ allowed: false, state: 'open', reason: 'forced open by an operator until reset' });
    feed(cb, A, 2_000, 100, 0);
    expect(cb.snapshot(A, 2_000)).toMatchObject({ state: 'open', forced: true, openedAtMs: 1_000 });
    expect(cb.snapshot(A, 2_000).openUntilMs).toBeUndefined();
    cb.reset(A);
    expect(cb.allow(A, 2_000)).toEqual({ allowed: true, state: 'closed' });
  });

  it('forceOpen with a time turns half-open then and must pass probes', () => {
    const cb = new CircuitBreaker();
    cb.forceOpen(A, 5_000);
    expect(cb.allow(A, 4_999).reason).toBe('forced open by an operator until 1970-01-01T00:00:05.000Z');
    expect(cb.allow(A, 5_000)).toMatchObject({ allowed: true, state: 'half_open' });
    expect(cb.snapshot(A, 5_000).forced).toBe(false);
    cb.record(A, 'failure', 5_001);
    expect(cb.snapshot(A, 5_001)).toMatchObject({ state: 'open', forced: false, openUntilMs: 35_001 });
  });

  it('forceOpen overrides a half-open circuit and reset clears the window', () => {
    const cb = tripped();
    cb.allow(A, 30_000);
    cb.forceOpen(A, 100_000, 30_001);
    expect(cb.snapshot(A, 30_001)).toMatchObject({ state: 'open', forced: true, probesInFlight: 0 });
    cb.reset(A);
    expect(cb.snapshot(A, 30_001)).toMatchObject({ state: 'closed', requests: 0 });
  });
});

describe('bounded memory and validation', () => {
  it('tracks at most maxAccounts, forgetting the least recently used', () => {
    const cb = new CircuitBreaker({ maxAccounts: 3, minRequests: 1, failureRatePct: 100 });
    const outcome: CircuitOutcome = 'failure';
    for (const id of [1n, 2n, 3n]) cb.record(id, outcome, 0);
    cb.allow(1n, 0); // 1 is now the most recently used
    cb.record(4n, 'success', 0);
    expect(cb.size).toBe(3);
    expect(cb.snapshot(1n, 0).state).toBe('open');
    expect(cb.snapshot(2n, 0).state).toBe('closed'); // forgotten
    expect(cb.snapshot(3n, 0).state).toBe('open');
    for (let i = 0; i < 1000; i++) cb.record(BigInt(100 + i), 'success', i);
    expect(cb.size).toBe(3);
  });

  it('does not create state for accounts that are only asked about', () => {
    const cb = new CircuitBreaker();
    for (let i = 0; i < 100; i++) {
      cb.allow(BigInt(i), 0);
      cb.snapshot(BigInt(i), 0);
    }
    expect(cb.size).toBe(0);
  });

  it('refuses nonsensical options', () => {
    expect(() => new CircuitBreaker({ windowMs: 60_001 })).toThrow(/multiple of buckets/);
    expect(() => new CircuitBreaker({ buckets: 0 })).toThrow(/buckets must be a positive integer/);
    expect(() => new CircuitBreaker({ failureRatePct: 0 })).toThrow(/failureRatePct/);
    expect(() => new CircuitBreaker({ halfOpenProbes: 1.5 })).toThrow(/halfOpenProbes/);
  });
});
