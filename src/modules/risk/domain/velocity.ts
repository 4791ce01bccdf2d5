/**
 * Velocity (频次/累计): count, sum and distinct-count over EXACT sliding windows. An event at time t
 * with a window of W counts in the window of every later event at time u with t > u - W, and
 * includes itself: the window is (u - W, u]. An event exactly W old no longer counts.
 *
 * Windows are identified by what they compute (kind, key, distinct target, span, filter), not by
 * the rule set that declares them, so a new version that keeps a window keeps its history, and a
 * shadow version shares the live one's windows.
 */

/** One event's contribution to one window. */
export interface Observation {
  /** The window's identity (CompiledVelocity.id). */
  window: string;
  kind: 'count' | 'sum' | 'distinct';
  windowMs: number;
  /** The key value (e.g. the card number's token), or pair of values joined. */
  key: string;
  at: number;
  /** sum: the amount; count/distinct: 1. */
  value: number;
  /** distinct: the member counted. */
  member: string;
  /** The event's id (a store that keeps members by id needs it unique). */
  eventId: string;
}

/** Both stores answer the same values for the same observations (tested against each other). */
export interface VelocityStore {
  /** Adds the observations and answers each window's value including them (0 where there is none). */
  observe(obs: readonly (Observation | null)[]): number[] | Promise<number[]>;
  close?(): Promise<void>;
}


class Window {
  ts: number[] = [];
  vals: number[] = [];
  members: string[] = [];
  head = 0;
  sum = 0;
  distinct: Map<string, number> | undefined;

  constructor(kind: Observation['kind']) {
    if (kind === 'distinct') this.distinct = new Map();
  }

  get newest(): number {
    return this.ts.length > this.head ? this.ts[this.ts.length - 1]! : -Infinity;
  }

  private expire(before: number): void {
    // Drops entries with ts <= before.
    while (this.head < this.ts.length && this.ts[this.head]! <= before) {
      this.sum -= this.vals[this.head]!;
      if (this.distinct) {
        const m = this.members[this.head]!;
        const c = this.distinct.get(m)! - 1;
        if (c === 0) this.distinct.delete(m);
        else this.distinct.set(m, c);
      }
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.ts.length) {
      this.ts = this.ts.slice(this.head);
      this.vals = this.vals.slice(this.head);
      if (this.distinct) this.members = this.members.slice(this.head);
      this.head = 0;
    }
  }

  add(o: Observation): number {
    const inOrder = o.at >= this.newest;
    if (inOrder) {
      this.ts.push(o.at);
      this.vals.push(o.value);
      if (this.distinct) {
        this.members.push(o.member);
        this.distinct.set(o.member, (this.distinct.get(o.member) ?? 0) + 1);
      }
      this.sum += o.value;
      this.expire(o.at - o.windowMs);
      return this.distinct ? this.distinct.size : o.kind === 'count' ? this.ts.length - this.head : this.sum;
    }
    // Late (an event timed before one already seen): inserted in order, answered by a scan of its
    // own window (u - W, u].
    let i = this.ts.length;
    while (i > this.head && this.ts[i - 1]! > o.at) i--;
    this.ts.splice(i, 0, o.at);
    this.vals.splice(i, 0, o.value);
    this.sum += o.value;
    if (this.distinct) {
      this.members.splice(i, 0, o.member);
      this.distinct.set(o.member, (this.distinct.get(o.member) ?? 0) + 1);
    }
    let count = 0;
    let sum = 0;
    const seen = new Set<string>();
    for (let j = this.head; j < this.ts.length; j++) {
      const t = this.ts[j]!;
      if (t <= o.at - o.windowMs || t > o.at) continue;
      count++;
      sum += this.vals[j]!;
      if (this.distinct) seen.add(this.members[j]!);
    }
    return o.kind === 'distinct' ? seen.size : o.kind === 'count' ? count : sum;
  }
}

/** The in-memory store (one process). Idle windows are swept a few at a time as events arrive. */
export class MemoryVelocityStore implements VelocityStore {
  private readonly windows = new Map<string, Map<string, Window>>();
  private sweeper: { id: string; it: Iterator<[string, Window]>; windowMs: number } | undefined;
  private sweepCursor = 0;

  observe(obs: readonly (Observation | null)[]): number[] {
    const out = new Array<number>(obs.length);
    let at = 0;
    for (let i = 0; i < obs.length; i++) {
      const o = obs[i];
      if (!o) {
        out[i] = 0;
        continue;
      }
      at = o.at;
      let byKey = this.windows.get(o.window);
      if (!byKey) this.windows.set(o.window, (byKey = new Map()));
      let w = byKey.get(o.key);
      if (!w) byKey.set(o.key, (w = new Window(o.kind)));
      out[i] = w.add(o);
    }
    if (at > 0) this.sweep(at, 4);
    return out;
  }

  /** How many keys are held (for tests and metrics). */
  size(): number {
    let n = 0;
    for (const m of this.windows.values()) n += m.size;
    return n;
  }

  private sweep(now: number, steps: number): void {
    for (let s = 0; s < steps; s++) {
      if (!this.sweeper) {
        const ids = [...this.windows.keys()];
        if (ids.length === 0) return;
        const id = ids[this.sweepCursor++ % ids.length]!;
        const windowMs = Number(id.split('|')[3]);
        this.sweeper = { id, it: this.windows.get(id)!.entries(), windowMs };
      }
      const next = this.sweeper.it.next();
      if (next.done) {
        this.sweeper = undefined;
        continue;
      }
      const [key, w] = next.value;
      if (w.newest <= now - this.sweeper.windowMs) this.windows.get(this.sweeper.id)?.delete(key);
    }
  }
}
