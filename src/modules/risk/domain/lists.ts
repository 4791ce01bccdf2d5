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

  put(e: Pick<ListEntry, 'kind' | 'entity' | 'value' | 'expiresAt'>): void {
    let byValue = this.m.get(e.entity);
    if (!byValue) this.m.set(e.entity, (byValue = new Map()));
    let s = byValue.get(e.value);
    if (!s) byValue.set(e.value, (s = {}));
    if (s[e.kind] === undefined) this.count++;
    s[e.kind] = e.expiresAt ?? Infinity;
  }

  remove(kind: ListKind, entity: Entity, value: string): void {
    const byValue = this.m.get(entity);
    const s = byValue?.get(value);
    if (!s || s[kind] === undefined) return;
    delete s[kind];
    this.count--;
    if (s.black === undefined && s.white === undefined && s.grey === undefined) byValue!.delete(value);
  }

  /** The lists holding this value, with their expiries (the caller compares them with the event's time). */
  slot(entity: Entity, value: string): Slot | undefined {
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
}
