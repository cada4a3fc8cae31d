// runtime-kit.test.ts: the small runtime helpers in agent/runtime/ (error text, backoff,
// deadline race, abortable sleep), all on the fake clock.
import { describe, expect, it } from 'vitest';
import { CONDITION_BACKOFF, RETRY_AFTER_CAP_MS, backoffDelay, jitterPeriod } from '../../agent/runtime/backoff';
import { sleeperFor } from '../../agent/runtime/clock';
import { raceDeadline, valueBy } from '../../agent/runtime/deadline';
import { errText, errTextWithCode } from '../../agent/runtime/err-text';
import { LogThrottle } from '../../agent/runtime/log-throttle';
import { Lru } from '../../agent/runtime/lru';
import { DueTimer } from '../../agent/runtime/timer';
import { FakeClock } from '../helpers/fake-clock';

describe('errText', () => {
  it('gives an Error its message and anything else its string form', () => {
    expect(errText(new Error('boom'))).toBe('boom');
    expect(errText('plain')).toBe('plain');
    expect(errText(42)).toBe('42');
  });
  it('prefixes the errno code once', () => {
    const e = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    expect(errTextWithCode(e)).toBe('ENOENT: no such file');
    const f = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    expect(errTextWithCode(f)).toBe('ENOENT: no such file');
  });
});

describe('backoffDelay', () => {
  it('doubles up to the cap, scaled by the injected random', () => {
    const top = (): number => 0.999999;
    const steps = [1, 2, 3, 4, 5, 6].map((n) => Math.round(backoffDelay(n, CONDITION_BACKOFF, top)));
    expect(steps).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(backoffDelay(3, CONDITION_BACKOFF, () => 0)).toBe(0);
  });
  it('honours a longer Retry-After, up to its cap', () => {
    expect(backoffDelay(1, CONDITION_BACKOFF, () => 0.5, 7000)).toBe(7000);
    expect(backoffDelay(1, CONDITION_BACKOFF, () => 0.5, 10 * RETRY_AFTER_CAP_MS)).toBe(RETRY_AFTER_CAP_MS);
    expect(backoffDelay(1, CONDITION_BACKOFF, () => 0.5, 10)).toBe(500);
  });
  it('jitters a period by ±10 %', () => {
    expect(jitterPeriod(1000, () => 0)).toBe(900);
    expect(jitterPeriod(1000, () => 0.5)).toBe(1000);
  });
});

describe('raceDeadline', () => {
  it('is true when the work settles first and cancels its timer', async () => {
    const clock = new FakeClock();
    expect(await raceDeadline(clock, Promise.resolve(1), clock.now() + 1000)).toBe(true);
    expect(clock.pending()).toBe(0);
  });
  it('is false when the deadline passes first', async () => {
    const clock = new FakeClock();
    const race = raceDeadline(clock, () => new Promise(() => undefined), clock.now() + 1000);
    clock.advance(999);
    await Promise.resolve();
    clock.advance(1);
    expect(await race).toBe(false);
  });
});

describe('valueBy', () => {
  it('gives the value when it comes in time, the fallback after the deadline or on rejection', async () => {
    const clock = new FakeClock();
    expect(await valueBy(clock, Promise.resolve('pod'), clock.now() + 10, 'unknown')).toBe('pod');
    expect(await valueBy(clock, Promise.reject(new Error('x')), clock.now() + 10, 'unknown')).toBe('unknown');
    let resolve!: (v: string) => void;
    const late = valueBy(clock, new Promise<string>((r) => (resolve = r)), clock.now() + 10, 'unknown');
    clock.advance(10);
    resolve('pod'); // too late
    expect(await late).toBe('unknown');
    expect(clock.pending()).toBe(0);
  });
});

describe('sleeperFor', () => {
  it('resolves after the delay, or at once on abort', async () => {
    const clock = new FakeClock();
    const sleep = sleeperFor(clock);
    let woke = false;
    const p = sleep(500).then(() => (woke = true));
    clock.advance(499);
    await Promise.resolve();
    expect(woke).toBe(false);
    clock.advance(1);
    await p;
    expect(woke).toBe(true);
    const ac = new AbortController();
    const q = sleep(10_000, ac.signal);
    ac.abort();
    await q;
    expect(clock.pending()).toBe(0);
  });
});

describe('DueTimer', () => {
  it('armBy/armWithin keep the earliest time; armIn replaces; it fires once per arming', () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const fired: number[] = [];
    const timer = new DueTimer(clock, () => fired.push(clock.now() - t0));
    timer.armBy(t0 + 500);
    timer.armBy(t0 + 900); // later: ignored
    expect(timer.at).toBe(t0 + 500);
    timer.armBy(t0 + 200); // earlier: wins
    expect(clock.pending()).toBe(1);
    clock.advance(1000);
    expect(fired).toEqual([200]);
    expect(timer.armed).toBe(false);
    timer.armWithin(100);
    timer.armIn(300); // later, but replaces
    clock.advance(1000);
    expect(fired).toEqual([200, 1300]);
  });
  it('cancel leaves nothing pending, and a past time fires at once', () => {
    const clock = new FakeClock();
    let n = 0;
    const timer = new DueTimer(clock, () => n++);
    timer.armIn(100);
    timer.cancel();
    expect(clock.pending()).toBe(0);
    expect(timer.at).toBe(Infinity);
    timer.armBy(clock.now() - 5);
    clock.advance(0);
    expect(n).toBe(1);
  });
});

describe('Lru', () => {
  it('evicts the least recently used beyond its bound; get refreshes, peek and has do not', () => {
    const lru = new Lru<string, number>(2);
    expect(lru.set('a', 1)).toBe(0);
    expect(lru.set('b', 2)).toBe(0);
    expect(lru.get('a')).toBe(1); // a is now the newest
    expect(lru.set('c', 3)).toBe(1); // evicts b
    expect(lru.has('b')).toBe(false);
    expect(lru.peek('a')).toBe(1); // no refresh: a stays the oldest
    expect(lru.set('d', 4)).toBe(1); // evicts a
    expect(lru.has('a')).toBe(false);
    expect(lru.has('c') && lru.has('d')).toBe(true);
    expect(lru.set('c', 30)).toBe(0); // replacing is not growing
    expect(lru.size).toBe(2);
    expect(lru.delete('c')).toBe(true);
    expect(lru.size).toBe(1);
  });
});

describe('LogThrottle', () => {
  it('admits perWindow messages per key and window, then reports how many it suppressed', () => {
    const clock = new FakeClock();
    const reports: [string, number][] = [];
    const t = new LogThrottle(clock, { windowMs: 1000, perWindow: 2, onSuppressed: (k, n) => reports.push([k, n]) });
    expect([t.admit('a'), t.admit('a'), t.admit('a'), t.admit('b')]).toEqual([true, true, false, true]);
    clock.advance(999);
    expect(t.admit('a')).toBe(false);
    clock.advance(1);
    expect(t.admit('a')).toBe(true); // a new window; the old one suppressed 2
    expect(reports).toEqual([['a', 2]]);
    clock.advance(1000);
    expect(t.admit('b')).toBe(true); // b's window suppressed nothing: no report
    expect(reports).toEqual([['a', 2]]);
  });
  it('defaults to one message per window', () => {
    const clock = new FakeClock();
    const t = new LogThrottle(clock, { windowMs: 10_000 });
    expect([t.admit('k'), t.admit('k')]).toEqual([true, false]);
    clock.advance(10_000);
    expect(t.admit('k')).toBe(true);
  });
});
