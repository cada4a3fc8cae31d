// drop-aggregator.test.ts: per-key sums, per-pod and per-node token buckets, bounded keys.
import { describe, expect, it } from 'vitest';
import { DropAggregator, dropKey, type DropKeyParts } from '../../agent/state/drop-aggregator';

const pod = (name: string) => ({ namespace: 'ns', name, uid: `u-${name}` });
const key = (p: string, port: string, dir: 'sending' | 'receiving' = 'sending'): DropKeyParts => ({
  pod: pod(p),
  direction: dir,
  peerIp: '10.0.0.9',
  port,
  proto: 'tcp',
  policy: '',
  verdict: 'drop',
});

describe('DropAggregator', () => {
  it('sums drops per key and hands each key out once per take, with first/last times', () => {
    const a = new DropAggregator(0);
    a.add(key('a', '80'), 1000);
    a.add(key('a', '80'), 500);
    a.add(key('a', '80'), 3000, 5);
    a.add(key('a', '80', 'receiving'), 1000);
    expect(a.size).toBe(2);
    const out = a.take(0);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ count: 7, first: 500, last: 3000, direction: 'sending' });
    expect(out[1]).toMatchObject({ count: 1, direction: 'receiving' });
    expect(a.size).toBe(0);
    expect(a.take(0)).toEqual([]);
  });

  it('a pod over its bucket waits; its counts keep growing and nothing is lost', () => {
    const a = new DropAggregator(0, { perPod: { burst: 1, perSecond: 0.1 }, perNode: { burst: 100, perSecond: 100 } });
    a.add(key('a', '80'), 0);
    a.add(key('a', '443'), 0);
    a.add(key('b', '80'), 0);
    const first = a.take(0);
    expect(first.map((p) => `${p.pod.name}:${p.port}`)).toEqual(['a:80', 'b:80']);
    a.add(key('a', '443'), 1, 9);
    expect(a.take(1000)).toEqual([]); // 0.1 token: not yet
    const later = a.take(10_000);
    expect(later).toHaveLength(1);
    expect(later[0]).toMatchObject({ port: '443', count: 10 });
    expect(a.stats).toMatchObject({ added: 12, emitted: 3 });
  });

  it('the node bucket caps writes across pods', () => {
    const a = new DropAggregator(0, { perNode: { burst: 3, perSecond: 0.5 } });
    for (let k = 0; k < 10; k++) a.add(key(`p${k}`, '80'), 0);
    expect(a.take(0)).toHaveLength(3);
    expect(a.take(2000)).toHaveLength(1);
    expect(a.size).toBe(6);
    let emitted = 4;
    for (let t = 4000; a.size > 0; t += 2000) emitted += a.take(t).length;
    expect(emitted).toBe(10);
  });

  it('refuses new keys beyond maxKeys and counts them', () => {
    const a = new DropAggregator(0, { maxKeys: 2 });
    expect(a.add(key('a', '1'), 0)).toBe(true);
    expect(a.add(key('a', '2'), 0)).toBe(true);
    expect(a.add(key('a', '3'), 0, 4)).toBe(false);
    expect(a.add(key('a', '1'), 0)).toBe(true); // existing keys still count
    expect(a.stats.overflow).toBe(4);
  });

  it('force (final flush) hands out every pending key with its full count, ignoring the buckets', () => {
    const a = new DropAggregator(0, {
      perPod: { burst: 1, perSecond: 0.001 },
      perNode: { burst: 2, perSecond: 0.001 },
    });
    for (let k = 0; k < 5; k++) a.add(key('a', String(k)), 0, k + 1);
    for (let k = 0; k < 3; k++) a.add(key(`p${k}`, '80'), 0, 7);
    expect(a.take(0)).toHaveLength(2); // the buckets allow two
    expect(a.take(1)).toEqual([]);
    a.add(key('a', '4'), 2, 10);
    const out = a.take(3, { force: true });
    expect(a.size).toBe(0);
    expect(out).toHaveLength(6);
    const counts = Object.fromEntries(out.map((p) => [`${p.pod.name}:${p.port}`, p.count]));
    expect(counts).toEqual({ 'a:1': 2, 'a:2': 3, 'a:3': 4, 'a:4': 15, 'p1:80': 7, 'p2:80': 7 });
    expect(a.stats).toMatchObject({ emitted: 8, added: 15 + 21 + 10 });
    expect(a.take(4, { force: true })).toEqual([]);
  });

  it('finds repeats by their key parts: 5,000 random adds and takes agree with a flat map by key', () => {
    // The model: pod → (dropKey → count, first, last), in insertion order, as take hands them out.
    const model = new Map<string, Map<string, { count: number; first: number; last: number }>>();
    const a = new DropAggregator(0, { perPod: { burst: 2, perSecond: 0.5 }, perNode: { burst: 5, perSecond: 1 } });
    let seed = 3;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 8) % n;
    let now = 0;
    let emitted = 0;
    for (let k = 0; k < 5000; k++) {
      now += 100;
      if (rnd(50) > 0) {
        const parts: DropKeyParts = {
          pod: pod(`p${rnd(3)}`),
          direction: rnd(2) === 0 ? 'sending' : 'receiving',
          peerIp: `10.0.0.${rnd(3)}`,
          port: ['80', '443', 'type 8 code 0', ''][rnd(4)]!,
          proto: ['tcp', 'udp'][rnd(2)]!,
          policy: ['', 'default allow-dns'][rnd(2)]!,
          verdict: rnd(2) === 0 ? 'drop' : 'audit',
        };
        const t = now - rnd(1000);
        const n = 1 + rnd(3);
        expect(a.add(parts, t, n)).toBe(true);
        const pk = parts.pod.uid!;
        let byPod = model.get(pk);
        if (byPod === undefined) model.set(pk, (byPod = new Map()));
        const e = byPod.get(dropKey(parts));
        if (e === undefined) byPod.set(dropKey(parts), { count: n, first: t, last: t });
        else {
          e.count += n;
          e.first = Math.min(e.first, t);
          e.last = Math.max(e.last, t);
        }
        continue;
      }
      const order = [...model].flatMap(([pk, m]) => [...m.keys()].map((key) => `${pk} ${key}`));
      let at = 0;
      for (const p of a.take(now, { force: rnd(10) === 0 })) {
        const m = model.get(p.pod.uid!)!;
        const key = dropKey(p);
        expect(p.key).toBe(key);
        expect({ count: p.count, first: p.first, last: p.last }).toEqual(m.get(key));
        // Handed out in the model's order (oldest first), skipping what the buckets hold back.
        const i = order.indexOf(`${p.pod.uid} ${key}`, at);
        expect(i).toBeGreaterThanOrEqual(at);
        at = i + 1;
        m.delete(key);
        if (m.size === 0) model.delete(p.pod.uid!);
        emitted++;
      }
      expect(a.size).toBe([...model.values()].reduce((s, m) => s + m.size, 0));
    }
    expect(emitted).toBeGreaterThan(100);
  });
});
