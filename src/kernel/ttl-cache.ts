/**
 * A small time-bounded cache for facts that change rarely and may be read slightly stale on a hot
 * path (a merchant's settlement account, a product's settings). Stale for at most `ttlMs`; values
 * are loaded once per key even when many callers ask at the same moment.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: Promise<V> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    const t = this.now();
    if (hit && t - hit.at < this.ttlMs) return hit.value;
    const value = load();
    this.entries.set(key, { at: t, value });
    // A failed load is not kept: the next caller tries again.
    value.catch(() => this.entries.delete(key));
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as K);
    return value;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
