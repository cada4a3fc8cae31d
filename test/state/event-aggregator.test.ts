// event-aggregator.test.ts: the client-go correlator rules, driven by a FakeClock.
import { describe, expect, it } from 'vitest';
import { COMBINED_PREFIX, EventAggregator } from '../../agent/state/event-aggregator';
import type { Correlation } from '../../agent/state/event-aggregator';
import type { NodeEvent } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';

const MIN = 60_000;

function ev(message: string, over: Partial<NodeEvent> = {}, time = new Date('2026-01-01T00:00:00Z')): NodeEvent {
  return {
    involved: { kind: 'Node', name: 'node-a' },
    type: 'Warning',
    reason: 'OOMKilling',
    message,
    component: 'kernel-monitor',
    time,
    ...over,
  };
}

function sent(c: Correlation) {
  if (c.action !== 'send') throw new Error(`expected send, got ${c.action}`);
  return c.event;
}

describe('EventAggregator', () => {
  it('counts the same event within 10 min on one Event name, with log timestamps', () => {
    const clock = new FakeClock();
    const a = new EventAggregator(clock, { host: 'node-a' });
    const t1 = new Date('2025-12-31T23:59:00Z');
    const e1 = sent(a.correlate(ev('oom', {}, t1)));
    expect(e1).toMatchObject({
      count: 1,
      isNew: true,
      message: 'oom',
      host: 'node-a',
      firstTimestamp: t1,
      lastTimestamp: t1,
    });
    expect(e1.name).toMatch(/^node-a\.[0-9a-f]+$/);
    clock.advance(9 * MIN);
    const t2 = new Date('2026-01-01T00:09:00Z');
    const e2 = sent(a.correlate(ev('oom', {}, t2)));
    expect(e2).toMatchObject({
      name: e1.name,
      key: e1.key,
      count: 2,
      isNew: false,
      firstTimestamp: t1,
      lastTimestamp: t2,
    });
  });

  it('adds the count of a pre-aggregated NodeEvent', () => {
    const a = new EventAggregator(new FakeClock(), { host: 'node-a' });
    expect(sent(a.correlate(ev('drop', { count: 7 }))).count).toBe(7);
    expect(sent(a.correlate(ev('drop', { count: 3 }))).count).toBe(10);
    expect(sent(a.correlate(ev('drop'))).count).toBe(11);
  });

  it('starts a new Event after 10 min of quiet', () => {
    const clock = new FakeClock();
    const a = new EventAggregator(clock, { host: 'node-a' });
    const e1 = sent(a.correlate(ev('oom')));
    clock.advance(10 * MIN + 1);
    const e2 = sent(a.correlate(ev('oom')));
    expect(e2.name).not.toBe(e1.name);
    expect(e2).toMatchObject({ count: 1, isNew: true });
  });

  it.each([
    ['reason', { reason: 'TaskHung' }],
    ['type', { type: 'Normal' as const }],
    ['source', { component: 'other-monitor' }],
    ['object', { involved: { kind: 'Node' as const, name: 'node-b' } }],
    ['pod object', { involved: { kind: 'Pod' as const, namespace: 'ns', name: 'node-a' } }],
  ])('a different %s is a different Event', (_what, over) => {
    const a = new EventAggregator(new FakeClock(), { host: 'node-a' });
    const e1 = sent(a.correlate(ev('oom')));
    const e2 = sent(a.correlate(ev('oom', over)));
    expect(e2.name).not.toBe(e1.name);
    expect(e2.count).toBe(1);
  });

  it('combines the 10th distinct message for the same reason into one combined event, and counts it', () => {
    const a = new EventAggregator(new FakeClock(), { host: 'node-a' });
    const names = new Set<string>();
    for (let i = 1; i <= 9; i++) {
      const e = sent(a.correlate(ev(`oom pid ${i}`)));
      expect(e.combined).toBe(false);
      names.add(e.name);
    }
    expect(names.size).toBe(9);
    const c1 = sent(a.correlate(ev('oom pid 10')));
    expect(c1).toMatchObject({ combined: true, message: `${COMBINED_PREFIX}oom pid 10`, count: 1, isNew: true });
    const c2 = sent(a.correlate(ev('oom pid 11')));
    expect(c2).toMatchObject({
      name: c1.name,
      combined: true,
      message: `${COMBINED_PREFIX}oom pid 11`,
      count: 2,
      isNew: false,
    });
    expect(a.stats.combined).toBe(2);
  });

  it('token bucket per (source, object): burst 25, then 1 per 5 min; suppressed ones still counted', () => {
    const clock = new FakeClock();
    const a = new EventAggregator(clock, { host: 'node-a' });
    // 25 different reasons so that neither counting nor aggregation merges them.
    for (let i = 0; i < 25; i++) expect(a.correlate(ev('m', { reason: `R${i}` })).action).toBe('send');
    const s1 = a.correlate(ev('m', { reason: 'R0' }));
    expect(s1).toMatchObject({ action: 'suppressed', count: 2 });
    expect(a.correlate(ev('m', { reason: 'R0' }))).toMatchObject({ action: 'suppressed', count: 3 });
    // Another source about the same object has its own bucket.
    expect(a.correlate(ev('m', { component: 'other' })).action).toBe('send');
    clock.advance(4 * MIN);
    expect(a.correlate(ev('m', { reason: 'R0' })).action).toBe('suppressed');
    clock.advance(1 * MIN);
    const through = sent(a.correlate(ev('m', { reason: 'R0' })));
    expect(through).toMatchObject({ count: 5, isNew: false });
    expect(a.correlate(ev('m', { reason: 'R0' })).action).toBe('suppressed');
    expect(a.stats).toMatchObject({ received: 31, sent: 27, suppressed: 4 });
  });

  it('a first occurrence that was suppressed is handed out later as new, with the full count', () => {
    const clock = new FakeClock();
    const a = new EventAggregator(clock, { host: 'node-a', burst: 1, refillIntervalMs: MIN });
    sent(a.correlate(ev('x', { reason: 'A' })));
    expect(a.correlate(ev('y', { reason: 'B' })).action).toBe('suppressed');
    clock.advance(MIN);
    expect(sent(a.correlate(ev('y', { reason: 'B' })))).toMatchObject({ count: 2, isNew: true });
  });

  it('keeps memory bounded: every cache is an LRU of maxKeys', () => {
    const a = new EventAggregator(new FakeClock(), { host: 'node-a', maxKeys: 64 });
    for (let i = 0; i < 10_000; i++)
      a.correlate(ev(`m${i}`, { reason: `R${i}`, involved: { kind: 'Node', name: `n${i}` } }));
    const s = a.sizes();
    expect(Math.max(s.buckets, s.aggregates, s.logs)).toBeLessThanOrEqual(64);
    expect(a.stats.received).toBe(10_000);
  });

  it('names stay unique within a millisecond and within 253 characters', () => {
    const a = new EventAggregator(new FakeClock(), { host: 'node-a' });
    const long = 'n'.repeat(253);
    const e1 = sent(a.correlate(ev('a', { involved: { kind: 'Node', name: long } })));
    const e2 = sent(a.correlate(ev('b', { involved: { kind: 'Node', name: long } })));
    expect(e1.name.length).toBeLessThanOrEqual(253);
    expect(e1.name).not.toBe(e2.name);
  });
});
