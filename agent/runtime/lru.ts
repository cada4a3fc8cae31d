// lru.ts: the one bounded LRU map (a Map in recency order). get() refreshes an entry, set()
// inserts it as the newest and evicts the oldest beyond `max`; peek() and has() do not refresh.
// Used by the event aggregator, the event exporter's known names and the lookup cache.
export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The value, refreshed as the newest. */
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  /** The value, without refreshing it. */
  peek(k: K): V | undefined {
    return this.map.get(k);
  }

  has(k: K): boolean {
    return this.map.has(k);
  }

  /** Stores `v` as the newest; returns how many of the oldest entries were evicted. */
  set(k: K, v: V): number {
    this.map.delete(k);
    this.map.set(k, v);
    let evicted = 0;
    while (this.map.size > this.max) {
      this.map.delete(this.map.keys().next().value as K);
      evicted++;
    }
    return evicted;
  }

  delete(k: K): boolean {
    return this.map.delete(k);
  }
}
