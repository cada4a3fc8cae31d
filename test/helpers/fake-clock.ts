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
