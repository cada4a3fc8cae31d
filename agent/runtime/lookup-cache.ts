// lookup-cache.ts: a bounded LRU with TTL in front of an expensive lookup (who owns this remote
// IP, which Services a namespace has, an address's DNS name). Positive answers live `ttlMs`,
// "nobody" answers `negativeTtlMs` (negative caching), and failed lookups `errorTtlMs` so an
// unhealthy API server is not hammered. Concurrent lookups
// of the same key share one call (coalescing); at most `maxInFlight` lookups run at once and at
// most `maxQueued` wait; beyond that a get() answers null at once and counts it as shed.
// An answer stored with set() while a lookup of the same key ran (learned elsewhere, e.g. a
// dual-stack pod's other address) beats that lookup's "nobody".
import type { Clock } from '../types';
import { Lru } from './lru';

export interface LookupCacheOptions<V> {
  readonly clock: Clock;
  /** The lookup; resolves null for "nobody owns it". A rejection counts as a failure. */
  readonly lookup: (key: string) => Promise<V | null>;
  readonly maxEntries?: number;
  readonly ttlMs?: number;
  readonly negativeTtlMs?: number;
  readonly errorTtlMs?: number;
  readonly maxInFlight?: number;
  readonly maxQueued?: number;
}

export interface LookupCacheStats {
  hits: number;
  negativeHits: number;
  misses: number;
  lookups: number;
  failures: number;
  coalesced: number;
  shed: number;
  evictions: number;
}

interface Entry<V> {
  value: V | null;
  expires: number;
}

export class LookupCache<V> {
  readonly stats: LookupCacheStats = {
    hits: 0,
    negativeHits: 0,
    misses: 0,
    lookups: 0,
    failures: 0,
    coalesced: 0,
    shed: 0,
    evictions: 0,
  };
  private readonly entries: Lru<string, Entry<V>>;
  private readonly inFlight = new Map<string, Promise<V | null>>();
  private readonly queue: (() => void)[] = [];
  private running = 0;
  private readonly ttl: number;
  private readonly negTtl: number;
  private readonly errTtl: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;

  constructor(private readonly opts: LookupCacheOptions<V>) {
    this.entries = new Lru(opts.maxEntries ?? 4096);
    this.ttl = opts.ttlMs ?? 300_000;
    this.negTtl = opts.negativeTtlMs ?? 60_000;
    this.errTtl = opts.errorTtlMs ?? 10_000;
    this.maxInFlight = opts.maxInFlight ?? 4;
    this.maxQueued = opts.maxQueued ?? 256;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Cached answer without a lookup: value, null (known nobody), or undefined (unknown/expired). */
  peek(key: string): V | null | undefined {
    const e = this.entries.peek(key);
    if (e === undefined) return undefined;
    if (e.expires <= this.opts.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.get(key); // refresh its LRU position
    return e.value;
  }

  /** Cached or looked-up answer. Never rejects. */
  get(key: string): Promise<V | null> {
    const cached = this.peek(key);
    if (cached !== undefined) {
      if (cached === null) this.stats.negativeHits++;
      else this.stats.hits++;
      return Promise.resolve(cached);
    }
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      this.stats.coalesced++;
      return pending;
    }
    this.stats.misses++;
    if (this.running >= this.maxInFlight && this.queue.length >= this.maxQueued) {
      this.stats.shed++;
      return Promise.resolve(null);
    }
    const p = this.run(key);
    this.inFlight.set(key, p);
    return p;
  }

  /** Stores an answer learned elsewhere (e.g. from the local pod watch). */
  set(key: string, value: V | null, ttlMs?: number): void {
    const ttl = ttlMs ?? (value === null ? this.negTtl : this.ttl);
    this.stats.evictions += this.entries.set(key, { value, expires: this.opts.clock.now() + ttl });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private async run(key: string): Promise<V | null> {
    // A queued lookup inherits the slot of the one that finishes (running is not decremented
    // in between), so no more than maxInFlight ever run.
    if (this.running >= this.maxInFlight) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    this.stats.lookups++;
    try {
      const v = await this.opts.lookup(key);
      if (v === null) {
        const learned = this.peek(key);
        if (learned !== undefined && learned !== null) return learned;
      }
      this.set(key, v);
      return v;
    } catch {
      this.stats.failures++;
      this.set(key, null, this.errTtl);
      return null;
    } finally {
      this.inFlight.delete(key);
      const next = this.queue.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
