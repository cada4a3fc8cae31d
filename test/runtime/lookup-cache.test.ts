// lookup-cache.test.ts: LRU + TTL + negative caching + coalescing + bounded in-flight lookups.
import { describe, expect, it } from 'vitest';
import { LookupCache } from '../../agent/runtime/lookup-cache';
import { FakeClock } from '../helpers/fake-clock';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('LookupCache', () => {
  it('caches positive answers for ttlMs and negative ones for negativeTtlMs', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    const c = new LookupCache<string>({
      clock,
      ttlMs: 1000,
      negativeTtlMs: 100,
      lookup: async (k) => {
        calls.push(k);
        return k.startsWith('pod') ? `name-${k}` : null;
      },
    });
    expect(await c.get('pod1')).toBe('name-pod1');
    expect(await c.get('pod1')).toBe('name-pod1');
    expect(await c.get('x')).toBeNull();
    expect(await c.get('x')).toBeNull();
    expect(calls).toEqual(['pod1', 'x']);
    clock.advance(150); // negative expired, positive not
    await c.get('x');
    await c.get('pod1');
    expect(calls).toEqual(['pod1', 'x', 'x']);
    clock.advance(1000);
    await c.get('pod1');
    expect(calls).toEqual(['pod1', 'x', 'x', 'pod1']);
    expect(c.stats).toMatchObject({ hits: 2, negativeHits: 1, misses: 4, lookups: 4 });
  });

  it('is an LRU bounded at maxEntries', async () => {
    const clock = new FakeClock();
    const c = new LookupCache<string>({ clock, maxEntries: 2, lookup: async (k) => k });
    await c.get('a');
    await c.get('b');
    expect(c.peek('a')).toBe('a'); // a is now most recent
    await c.get('c'); // evicts b
    expect(c.size).toBe(2);
    expect(c.peek('b')).toBeUndefined();
    expect(c.peek('a')).toBe('a');
    expect(c.stats.evictions).toBe(1);
  });

  it('an answer set() while a lookup of that key runs beats the lookup\'s "nobody"', async () => {
    const clock = new FakeClock();
    const d = deferred<string | null>();
    const c = new LookupCache<string>({ clock, lookup: () => d.promise });
    const p = c.get('v6');
    c.set('v6', 'learned-from-v4');
    d.resolve(null);
    expect(await p).toBe('learned-from-v4');
    expect(c.peek('v6')).toBe('learned-from-v4');
    // Without anything learned, "nobody" is cached as before.
    const d2 = deferred<string | null>();
    const c2 = new LookupCache<string>({ clock, lookup: () => d2.promise });
    const p2 = c2.get('v6');
    d2.resolve(null);
    expect(await p2).toBeNull();
    expect(c2.peek('v6')).toBeNull();
  });

  it('coalesces concurrent lookups of the same key', async () => {
    const clock = new FakeClock();
    const d = deferred<string | null>();
    let n = 0;
    const c = new LookupCache<string>({ clock, lookup: () => (n++, d.promise) });
    const ps = [c.get('k'), c.get('k'), c.get('k')];
    d.resolve('v');
    expect(await Promise.all(ps)).toEqual(['v', 'v', 'v']);
    expect(n).toBe(1);
    expect(c.stats.coalesced).toBe(2);
  });

  it('never runs more than maxInFlight lookups, queues up to maxQueued, sheds the rest', async () => {
    const clock = new FakeClock();
    const waiting: { k: string; d: ReturnType<typeof deferred<string | null>> }[] = [];
    let running = 0;
    let peak = 0;
    const c = new LookupCache<string>({
      clock,
      maxInFlight: 2,
      maxQueued: 3,
      lookup: async (k) => {
        running++;
        peak = Math.max(peak, running);
        const d = deferred<string | null>();
        waiting.push({ k, d });
        try {
          return await d.promise;
        } finally {
          running--;
        }
      },
    });
    const ps = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => c.get(k));
    await new Promise((r) => setImmediate(r));
    expect(waiting.map((w) => w.k)).toEqual(['a', 'b']);
    expect(c.stats.shed).toBe(2); // f, g
    expect(await ps[5]).toBeNull();
    // finish them one by one; a new get() in between must not jump the limit
    for (let round = 0; round < 5; round++) {
      const w = waiting.shift();
      w?.d.resolve(`v-${w.k}`);
      void c.get(`late${round}`);
      await new Promise((r) => setImmediate(r));
      expect(running).toBeLessThanOrEqual(2);
    }
    expect(peak).toBe(2);
    expect(await ps[0]).toBe('v-a');
    while (waiting.length) {
      waiting.shift()?.d.resolve('z');
      await new Promise((r) => setImmediate(r));
    }
    expect(await ps[4]).toBe('v-e');
    expect(c.stats.lookups).toBe(9); // late0 arrived while the queue was full
    expect(c.stats.shed).toBe(3);
  });

  it('a failed lookup is cached briefly as unknown, then retried', async () => {
    const clock = new FakeClock();
    let n = 0;
    const c = new LookupCache<string>({
      clock,
      errorTtlMs: 50,
      lookup: async () => {
        n++;
        if (n === 1) throw new Error('500');
        return 'ok';
      },
    });
    expect(await c.get('k')).toBeNull();
    expect(await c.get('k')).toBeNull();
    expect(c.stats.failures).toBe(1);
    clock.advance(60);
    expect(await c.get('k')).toBe('ok');
    expect(n).toBe(2);
  });

  it('set() seeds answers learned elsewhere', async () => {
    const clock = new FakeClock();
    const c = new LookupCache<string>({ clock, lookup: async () => 'looked-up' });
    c.set('k', 'seeded');
    expect(await c.get('k')).toBe('seeded');
    c.delete('k');
    expect(await c.get('k')).toBe('looked-up');
  });
});
