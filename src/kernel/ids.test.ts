// Proves the id generator never repeats or goes backwards: sequence exhaustion, clock steps back, and 10 million ids in a row.
import { describe, expect, it } from 'vitest';
import { businessNo, ClockMovedBackwardsError, decodeId, ID_EPOCH_MS, IdGenerator, MAX_SEQUENCE, parseBusinessNo, WorkerLeaseLostError } from './ids.js';

describe('IdGenerator', () => {
  it('issues 10 million strictly increasing ids in a tight loop', () => {
    const g = new IdGenerator({ workerId: 7 });
    let prev = -1n;
    let bad = 0;
    for (let i = 0; i < 10_000_000; i++) {
      const id = g.next();
      if (id <= prev) bad++;
      prev = id;
    }
    expect(bad).toBe(0);
    expect(decodeId(prev).workerId).toBe(7);
  });

  it('waits for the next millisecond when the sequence of one runs out', () => {
    let t = ID_EPOCH_MS + 1000;
    let calls = 0;
    // The clock stays on one millisecond for MAX_SEQUENCE + 5 reads, then moves on.
    const g = new IdGenerator({ workerId: 1, now: () => (++calls > MAX_SEQUENCE + 5 ? t + 1 : t) });
    const ids: bigint[] = [];
    for (let i = 0; i <= MAX_SEQUENCE + 1; i++) ids.push(g.next());
    expect(new Set(ids).size).toBe(ids.length);
    expect(decodeId(ids[MAX_SEQUENCE]!).sequence).toBe(MAX_SEQUENCE);
    const last = decodeId(ids[MAX_SEQUENCE + 1]!);
    expect(last.sequence).toBe(0);
    expect(last.timestamp.getTime()).toBe(t + 1);
  });

  it('waits out a small backward clock step and refuses a large one', () => {
    let t = ID_EPOCH_MS + 10_000;
    const seq = [t, t - 5, t - 3, t + 1];
    let i = 0;
    const g = new IdGenerator({ workerId: 2, now: () => seq[Math.min(i++, seq.length - 1)]!, maxBackwardMs: 10 });
    const a = g.next();
    const b = g.next();
    expect(b > a).toBe(true);
    expect(decodeId(b).timestamp.getTime()).toBe(t + 1);

    const g2 = new IdGenerator({ workerId: 2, now: () => t, maxBackwardMs: 10 });
    g2.next();
    t -= 1000;
    expect(() => g2.next()).toThrow(ClockMovedBackwardsError);
  });

  it('stops issuing ids when its lease is no longer valid', () => {
    let valid = true;
    let t = ID_EPOCH_MS + 5;
    const g = new IdGenerator({ workerId: 3, now: () => t, leaseValid: () => valid });
    g.next();
    valid = false;
    t++;
    expect(() => g.next()).toThrow(WorkerLeaseLostError);
  });

  it('lays out time, worker and sequence as documented', () => {
    const t = Date.UTC(2026, 10, 22, 1, 2, 3, 456);
    const g = new IdGenerator({ workerId: 1023, now: () => t });
    g.next();
    const id = g.next();
    expect(id >> 23n).toBe(BigInt(t - ID_EPOCH_MS));
    expect(decodeId(id)).toEqual({ timestamp: new Date(t), workerId: 1023, sequence: 1 });
    expect(id < 1n << 63n).toBe(true);
  });
});

describe('business numbers', () => {
  it('are at most 32 characters, readable, and map back to the id', () => {
    const t = Date.UTC(2026, 10, 22, 13, 4, 5, 67);
    const g = new IdGenerator({ workerId: 42, now: () => t });
    const id = g.next();
    const no = businessNo('PAYORD', id);
    expect(no).toBe('PAYORD2026112213040506700420000');
    expect(businessNo('ABCDEFG', id).length).toBe(32);
    expect(parseBusinessNo(no)).toEqual({ prefix: 'PAYORD', id });
    expect(parseBusinessNo('P2026113213040506700420000')).toBeUndefined();
    expect(() => businessNo('toolongprefix', id)).toThrow();
  });
});

describe('IdGenerator after a lease takeover', () => {
  it('never issues an id for the previous holder\'s last millisecond', () => {
    let t = ID_EPOCH_MS + 50_000;
    let reads = 0;
    const g = new IdGenerator({ workerId: 5, notBeforeMs: t, now: () => (++reads > 3 ? t + 1 : t) });
    const id = g.next();
    expect(decodeId(id).timestamp.getTime()).toBe(t + 1);
    expect(decodeId(id).workerId).toBe(5);
  });
});
