/**
 * Black / white / grey lists (名单) for cards, devices, IPs, users, phones, bank accounts and
 * merchants, each entry with an optional expiry and its source. An in-memory index answers in
 * constant time; the database is the record (risk.store.ts) and the index follows it.
 */
import type { Entity, ListKind } from './ruleset.js';

export interface ListEntry {
  kind: ListKind;
  entity: Entity;
  value: string;
  /** Epoch ms; null: never expires. */
  expiresAt: number | null;
  source: string;
  reason: string;
}

export type Slot = { black?: number; white?: number; grey?: number };

export class ListIndex {
  /** Per entity: value -> expiry (epoch ms, Infinity for none) per list. */
  private readonly m = new Map<string, Map<string, Slot>>();
  private count = 0;
  /** Values held, by entity and value: what the filter was built from. */
  private held = 0;
  private removed = 0;
  private filter = new BlockedBloom(1 << 10);

  put(e: Pick<ListEntry, 'kind' | 'entity' | 'value' | 'expiresAt'>): void {
    let byValue = this.m.get(e.entity);
    if (!byValue) this.m.set(e.entity, (byValue = new Map()));
    let s = byValue.get(e.value);
    if (!s) {
      byValue.set(e.value, (s = {}));
      this.held++;
      if (this.held > this.filter.capacity) this.rebuild();
      else this.filter.add(e.entity, e.value);
    }
    if (s[e.kind] === undefined) this.count++;
    s[e.kind] = e.expiresAt ?? Infinity;
  }

  remove(kind: ListKind, entity: Entity, value: string): void {
    const byValue = this.m.get(entity);
    const s = byValue?.get(value);
    if (!s || s[kind] === undefined) return;
    delete s[kind];
    this.count--;
    if (s.black === undefined && s.white === undefined && s.grey === undefined) {
      byValue!.delete(value);
      this.held--;
      // A Bloom filter cannot forget: what was removed still passes it (and misses the map) until
      // the filter is rebuilt, which happens once a quarter of it is stale.
      if (++this.removed * 4 > this.held) this.rebuild();
    }
  }

  /** The lists holding this value, with their expiries (the caller compares them with the event's time). */
  slot(entity: Entity, value: string): Slot | undefined {
    // Nearly every value an event carries is on no list: the filter says so from one cache line,
    // without touching the large maps.
    if (!this.filter.has(entity, value)) return undefined;
    return this.m.get(entity)?.get(value);
  }

  /** Which lists (not expired at `now`) hold this value. */
  lookup(entity: Entity, value: string, now: number): { black: boolean; white: boolean; grey: boolean } {
    const s = this.slot(entity, value);
    return { black: (s?.black ?? 0) > now, white: (s?.white ?? 0) > now, grey: (s?.grey ?? 0) > now };
  }

  size(): number {
    return this.count;
  }

  private rebuild(): void {
    let cap = 1 << 10;
    while (cap < this.held * 2) cap *= 2;
    const f = new BlockedBloom(cap);
    for (const [entity, byValue] of this.m) for (const value of byValue.keys()) f.add(entity, value);
    this.filter = f;
    this.removed = 0;
  }
}

/**
 * A blocked Bloom filter (about 1% false positives at capacity): every key sets and tests 4 bits
 * inside one 64-byte block, so a test costs one cache line. Keys are (entity, value) pairs.
 */
class BlockedBloom {
  private readonly words: Uint32Array;
  private readonly blockMask: number;

  /** `capacity`: how many keys it is sized for (a power of two); 16 bits per key. */
  constructor(readonly capacity: number) {
    const blocks = Math.max(1, (capacity * 16) / 512);
    this.words = new Uint32Array(blocks * 16);
    this.blockMask = blocks - 1;
  }

  add(entity: string, value: string): void {
    this.probe(entity, value, true);
  }

  has(entity: string, value: string): boolean {
    return this.probe(entity, value, false);
  }

  /** Tests (or sets) the key's 4 bits in its block; true when all were set. */
  private probe(entity: string, value: string, set: boolean): boolean {
    const h = hash(entity, value);
    const base = (h & this.blockMask) << 4;
    const g = Math.imul(h, 0x9e3779b1) >>> 0;
    for (let i = 0; i < 4; i++) {
      const bit = (g >>> (i * 8)) & 511;
      const w = base + (bit >>> 5);
      const m = 1 << (bit & 31);
      if (set) this.words[w]! |= m;
      else if ((this.words[w]! & m) === 0) return false;
    }
    return true;
  }
}

/** FNV-1a over the entity's first letters and the value, with a final mix. */
function hash(entity: string, value: string): number {
  let h = (0x811c9dc5 ^ entity.charCodeAt(0) ^ (entity.charCodeAt(1) << 8) ^ (entity.length << 16)) >>> 0;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
