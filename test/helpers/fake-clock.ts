// fake-clock.ts: a manual Clock for tests. Time moves only when the test calls advance().
import type { Clock } from '../../agent/types';

export class FakeClock implements Clock {
  private t: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }

  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }

  pending(): number {
    return this.timers.length;
  }
}

/**
 * The real clock, recording the delay of every timer set on it, so tests assert what was asked
 * for (a backoff capped, a Retry-After honoured), never how long something took.
 */
export class RecordingClock implements Clock {
  readonly delays: number[] = [];
  constructor(private readonly base: Clock) {}
  now(): number {
    return this.base.now();
  }
  setTimer(fn: () => void, ms: number): () => void {
    this.delays.push(ms);
    return this.base.setTimer(fn, ms);
  }
}

/**
 * Virtual time that runs itself: each timer set fires on a later turn of the event loop, the
 * earliest due first, and now() jumps to its due time. No real time is waited, the order of
 * timers is kept, and `delays` records what was asked for. For code that waits on real I/O
 * (the fake API server over loopback HTTP) and on backoff timers alike. Timers of holdFromMs or
 * more (a heartbeat, say) do not run by themselves: only advance() reaches them.
 */
export class AutoClock implements Clock {
  readonly delays: number[] = [];
  private readonly inner: FakeClock;
  /** Due times of the timers that run by themselves, by a key per timer. */
  private readonly auto = new Map<object, number>();
  private scheduled = false;

  constructor(private readonly opts: { start?: number; holdFromMs?: number } = {}) {
    this.inner = new FakeClock(opts.start);
  }

  now(): number {
    return this.inner.now();
  }

  setTimer(fn: () => void, ms: number): () => void {
    this.delays.push(ms);
    if (ms >= (this.opts.holdFromMs ?? Infinity)) return this.inner.setTimer(fn, ms);
    const key = {};
    this.auto.set(key, this.inner.now() + Math.max(0, ms));
    const cancel = this.inner.setTimer(() => {
      this.auto.delete(key);
      fn();
    }, ms);
    this.schedule();
    return () => {
      this.auto.delete(key);
      cancel();
    };
  }

  /** Moves time forward by hand, firing what falls due (held timers included). */
  advance(ms: number): void {
    this.inner.advance(ms);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.auto.size === 0) return;
      const due = Math.min(...this.auto.values());
      this.inner.advance(due - this.inner.now()); // fires that timer, and any due before it
      if (this.auto.size > 0) this.schedule();
    });
  }
}
