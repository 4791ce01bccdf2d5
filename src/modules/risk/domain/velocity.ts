/**
 * Velocity (频次/累计): count, sum and distinct-count over EXACT sliding windows. An event at time t
 * with a window of W counts in the window of every later event at time u with t > u - W, and
 * includes itself: the window is (u - W, u]. An event exactly W old no longer counts.
 *
 * Events that arrive late (timed before one already seen, e.g. from another process's clock) are
 * answered exactly over their own window as long as they are less than a minute late; one later than
 * its window plus that minute only reads (it would be dropped at once).
 *
 * An event id counts at most once in a window however often it is observed within RETRY_MS of its
 * first observation (a retried consume, a caller retrying after a timeout): the later observations
 * only read there. An outcome fed later under the same id (`failed`, a refund) therefore counts only
 * in the windows that did not count the decision (those whose filter selects the outcome). Both
 * stores keep the ids of that long, by event time, so they agree.
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
  /** The event's id: counted in this window already less than RETRY_MS before, it only reads. */
  eventId: string;
  /** false: the event does not count in this window (its filter said no); only read the value at `at`. */
  add: boolean;
}

/** Both stores answer the same values for the same observations (tested against each other). */
export interface VelocityStore {
  /** Adds the observations and answers each window's value including them (0 where there is none). */
  observe(obs: readonly (Observation | null)[]): number[] | Promise<number[]>;
  close?(): Promise<void>;
}


/** How long entries are kept past the window, to answer events that arrive late (clock skew between processes). */
export const LATE_GRACE_MS = 60_000;

/** How long after its first observation an event id is a retry (counted once). */
export const RETRY_MS = 10 * 60_000;

/** The arrays a kind does not need share this empty one (a count keeps times only). */
const NONE: never[] = [];

class Window {
  ts: number[] = [];
  /** sum: the values. */
  vals: number[];
  /** distinct: the members. */
  members: string[];
  /** Entries from `keep` on are stored; from `head` on they are in the current window. */
  keep = 0;
  head = 0;
  /**
   * ts[head] (the oldest entry in the window) and ts[keep] (the oldest kept before it), or
   * Infinity: an add or read that expires nothing touches neither array's far end.
   */
  headAt = Infinity;
  keepAt = Infinity;
  sum = 0;
  distinct: Map<string, number> | undefined;

  constructor(kind: Observation['kind']) {
    this.vals = kind === 'sum' ? [] : NONE;
    this.members = kind === 'distinct' ? [] : NONE;
    if (kind === 'distinct') this.distinct = new Map();
  }

  /** The latest time the window was added to or read at: the running totals are for (latest - W, latest]. */
  latest = -Infinity;

  /**
   * The time of the latest entry added, kept here so the sweep reads only this object, not its
   * arrays. Expiry drops entries oldest first, so this one goes last, when it is old enough to sweep.
   */
  newest = -Infinity;

  private count(i: number, sign: 1 | -1): void {
    if (this.vals !== NONE) this.sum += sign * this.vals[i]!;
    if (this.distinct) {
      const m = this.members[i]!;
      const c = (this.distinct.get(m) ?? 0) + sign;
      if (c === 0) this.distinct.delete(m);
      else this.distinct.set(m, c);
    }
  }

  private expire(windowStart: number, keepFrom: number): void {
    if (this.headAt > windowStart && this.keepAt > keepFrom) return;
    // The window's running totals cover entries with ts > windowStart.
    while (this.head < this.ts.length && this.ts[this.head]! <= windowStart) this.count(this.head++, -1);
    while (this.keep < this.head && this.ts[this.keep]! <= keepFrom) this.keep++;
    if (this.keep > 1024 && this.keep * 2 > this.ts.length) {
      this.ts = this.ts.slice(this.keep);
      if (this.vals !== NONE) this.vals = this.vals.slice(this.keep);
      if (this.distinct) this.members = this.members.slice(this.keep);
      this.head -= this.keep;
      this.keep = 0;
    }
    this.marks();
  }

  private marks(): void {
    this.headAt = this.head < this.ts.length ? this.ts[this.head]! : Infinity;
    this.keepAt = this.keep < this.head ? this.ts[this.keep]! : Infinity;
  }

  /** `retry`: the event was counted in this window already (less than RETRY_MS before); it only reads. */
  add(o: Observation, retry: boolean): number {
    if (!o.add || retry) return this.read(o);
    if (o.at >= this.latest) {
      this.latest = o.at;
      this.newest = o.at;
      if (this.head === this.ts.length) this.headAt = o.at;
      this.ts.push(o.at);
      if (this.vals !== NONE) this.vals.push(o.value);
      if (this.distinct) this.members.push(o.member);
      this.count(this.ts.length - 1, 1);
      this.expire(o.at - o.windowMs, o.at - o.windowMs - LATE_GRACE_MS);
      return this.distinct ? this.distinct.size : o.kind === 'count' ? this.ts.length - this.head : this.sum;
    }
    // Later than the grace: it would be dropped at once (Redis trims it as it adds it); read only.
    if (o.at <= this.newest - o.windowMs - LATE_GRACE_MS) return this.scan(o);
    // Late (timed before an event already seen): stored in time order and answered by a scan of its
    // own window (t - W, t] over what is kept (the window plus a grace period).
    let i = this.ts.length;
    while (i > this.keep && this.ts[i - 1]! > o.at) i--;
    this.ts.splice(i, 0, o.at);
    if (o.at > this.newest) this.newest = o.at;
    if (this.vals !== NONE) this.vals.splice(i, 0, o.value);
    if (this.distinct) this.members.splice(i, 0, o.member);
    // Entries before `head` are older than the current window, those from `head` on are in it.
    if (o.at <= this.latest - o.windowMs) this.head++; // older than the current window: kept, not counted
    else this.count(i, 1);
    this.marks();
    return this.scan(o);
  }

  /** The window's value at `o.at` without adding anything. */
  private read(o: Observation): number {
    if (o.at >= this.latest) {
      this.latest = o.at;
      this.expire(o.at - o.windowMs, o.at - o.windowMs - LATE_GRACE_MS);
      return this.distinct ? this.distinct.size : o.kind === 'count' ? this.ts.length - this.head : this.sum;
    }
    return this.scan(o);
  }

  /** The value over (t - W, t] by a scan of what is kept. */
  private scan(o: Observation): number {
    let count = 0;
    let sum = 0;
    const seen = new Set<string>();
    for (let j = this.keep; j < this.ts.length; j++) {
      const t = this.ts[j]!;
      if (t <= o.at - o.windowMs || t > o.at) continue;
      count++;
      if (this.vals !== NONE) sum += this.vals[j]!;
      if (this.distinct) seen.add(this.members[j]!);
    }
    return o.kind === 'distinct' ? seen.size : o.kind === 'count' ? count : sum;
  }
}

/** An event id's first observation (by event time) and the windows it was counted in, a bit each. */
interface Seen {
  at: number;
  /** The bits of the first 32 windows, and of the others (rare: many versions over time). */
  w0: number;
  more: number[] | undefined;
}

/** The in-memory store (one process). Idle windows are swept a few at a time as events arrive. */
export class MemoryVelocityStore implements VelocityStore {
  private readonly windows = new Map<string, Map<string, Window>>();
  private sweeper: { id: string; it: Iterator<[string, Window]>; windowMs: number } | undefined;
  private sweepCursor = 0;
  /** Event ids first observed in the last RETRY_MS (by event time): when, and the windows they were counted in. */
  private readonly seen = new Map<string, Seen>();
  /** The same records, oldest first (to forget them). */
  private seenIds: string[] = [];
  private seenRecs: Seen[] = [];
  private seenHead = 0;
  /** Each window's bit in a Seen record. */
  private readonly windowBits = new Map<string, number>();
  /** The event of the last observation, and its record. */
  private lastEvent: string | undefined;
  private lastSeen: Seen | undefined;

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
      out[i] = this.observeOne(o);
    }
    this.lastEvent = undefined;
    if (at > 0) this.sweep(at, 4);
    return out;
  }

  /**
   * One observation (the caller may reuse `o` afterwards: nothing keeps it); `endEvent` after an
   * event's last one. The allocation-free path of engine.observeInMemory.
   */
  observeOne(o: Observation): number {
    if (o.eventId !== this.lastEvent) {
      this.lastEvent = o.eventId;
      const rec = this.seen.get(o.eventId);
      this.lastSeen = rec && rec.at > o.at - RETRY_MS ? rec : this.remember(o.eventId, o.at);
    }
    // Counted here already (a retry, or the decision an outcome of the same id follows): only read.
    let adds = o.add;
    if (adds) {
      const b = this.windowBits.get(o.window) ?? this.newWindowBit(o.window);
      const rec = this.lastSeen!;
      const bit = 1 << (b & 31);
      if (b < 32) {
        if ((rec.w0 & bit) !== 0) adds = false;
        else rec.w0 |= bit;
      } else {
        const more = (rec.more ??= []);
        const had = more[(b >>> 5) - 1] ?? 0;
        if ((had & bit) !== 0) adds = false;
        else more[(b >>> 5) - 1] = had | bit;
      }
    }
    let byKey = this.windows.get(o.window);
    if (!byKey) this.windows.set(o.window, (byKey = new Map()));
    let w = byKey.get(o.key);
    if (!w) {
      if (!adds) return 0;
      byKey.set(o.key, (w = new Window(o.kind)));
    }
    return w.add(o, o.add && !adds);
  }

  private newWindowBit(window: string): number {
    const b = this.windowBits.size;
    this.windowBits.set(window, b);
    return b;
  }

  private remember(id: string, at: number): Seen {
    const rec: Seen = { at, w0: 0, more: undefined };
    this.seen.set(id, rec);
    this.seenIds.push(id);
    this.seenRecs.push(rec);
    // Ids arrive in about time order (late ones by less than the grace): forget from the front what
    // no event of now (give or take the grace) can be a retry of.
    const before = at - RETRY_MS - 2 * LATE_GRACE_MS;
    let h = this.seenHead;
    while (h < this.seenIds.length && this.seenRecs[h]!.at < before) {
      const old = this.seenIds[h]!;
      // The id may have been seen anew since (observed again later than RETRY_MS): that record stays.
      if (this.seen.get(old) === this.seenRecs[h]) this.seen.delete(old);
      h++;
    }
    if (h > 4096 && h * 2 > this.seenIds.length) {
      this.seenIds = this.seenIds.slice(h);
      this.seenRecs = this.seenRecs.slice(h);
      h = 0;
    }
    this.seenHead = h;
    return rec;
  }

  endEvent(at: number): void {
    this.lastEvent = undefined;
    if (at > 0) this.sweep(at, 4);
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
      // Kept through the grace period too: a late event may still need what the key holds.
      if (w.newest <= now - this.sweeper.windowMs - LATE_GRACE_MS) this.windows.get(this.sweeper.id)?.delete(key);
    }
  }
}
