// process-metrics.test.ts: prom-client's default process metrics with our 1 s event-loop delay
// sampler: every name prom-client exports is still there, and the seven delay gauges report how
// late a sample ran (a fake histogram, so no wall time is involved).
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  IntervalSampler,
  delayFigures,
  registerProcessMetrics,
  type DelayHistogram,
} from '../../agent/sinks/process-metrics';

const MS = 1e6; // ns

class FakeHistogram implements DelayHistogram {
  resets = 0;
  constructor(private samples: number[]) {}
  get count(): number {
    return this.samples.length;
  }
  get min(): number {
    return this.samples.length ? Math.min(...this.samples) : 9223372036854776000;
  }
  get max(): number {
    return this.samples.length ? Math.max(...this.samples) : 0;
  }
  get mean(): number {
    return this.samples.reduce((a, b) => a + b, 0) / this.samples.length;
  }
  get stddev(): number {
    const m = this.mean;
    return Math.sqrt(this.samples.reduce((a, b) => a + (b - m) ** 2, 0) / this.samples.length);
  }
  percentile(p: number): number {
    const s = [...this.samples].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
  }
  reset(): void {
    this.resets++;
    this.samples = [];
  }
  add(...ns: number[]): void {
    this.samples.push(...ns);
  }
}

const value = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('process metrics', () => {
  it("exports every metric prom-client's collectDefaultMetrics does", async () => {
    const ours = new Registry();
    registerProcessMetrics(ours, { histogram: new FakeHistogram([]) });
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    const names = (r: Registry): string[] =>
      r
        .getMetricsAsArray()
        .map((m) => m.name)
        .sort();
    expect(names(ours)).toEqual(names(theirs));
    expect(names(ours)).toContain('nodejs_eventloop_lag_p99_seconds');
  });

  it('reports how late each sample ran, resets at each scrape, and keeps the figures when no sample came', async () => {
    const h = new FakeHistogram([1000 * MS, 1002 * MS, 1010 * MS, 1500 * MS]);
    const r = new Registry();
    registerProcessMetrics(r, { sampleMs: 1000, histogram: h });
    const stddev = h.stddev / 1e9; // 214.8 ms: a spread, not shifted by the interval
    let t = await r.metrics();
    expect(value(t, 'nodejs_eventloop_lag_min_seconds')).toBe(0);
    expect(value(t, 'nodejs_eventloop_lag_max_seconds')).toBeCloseTo(0.5, 9);
    expect(value(t, 'nodejs_eventloop_lag_mean_seconds')).toBeCloseTo(0.128, 9);
    expect(value(t, 'nodejs_eventloop_lag_p50_seconds')).toBeCloseTo(0.002, 9);
    expect(value(t, 'nodejs_eventloop_lag_p90_seconds')).toBeCloseTo(0.5, 9);
    expect(value(t, 'nodejs_eventloop_lag_stddev_seconds')).toBeCloseTo(stddev, 9);
    expect(stddev).toBeCloseTo(0.2148, 4);
    expect(h.resets).toBe(1);
    // Scraped again before a sample: the figures stay, nothing is reset.
    t = await r.metrics();
    expect(value(t, 'nodejs_eventloop_lag_max_seconds')).toBeCloseTo(0.5, 9);
    expect(h.resets).toBe(1);
    h.add(1001 * MS, 999 * MS);
    t = await r.metrics();
    expect(value(t, 'nodejs_eventloop_lag_max_seconds')).toBeCloseTo(0.001, 9);
    expect(value(t, 'nodejs_eventloop_lag_min_seconds')).toBe(0); // early (999 ms) is not negative
    expect(h.resets).toBe(2);
  });

  it('IntervalSampler reads as a histogram of every sample would, percentiles over the last cap', () => {
    let seed = 5;
    const rnd = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const sampler = new IntervalSampler(50);
    expect(sampler.count).toBe(0);
    expect(delayFigures(sampler, 1000)).toBeUndefined();
    const all: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 120; i++) {
        const ns = (1000 + (rnd() < 0.1 ? rnd() * 500 : rnd() * 3)) * MS;
        sampler.record(ns);
        all.push(ns);
        const every = new FakeHistogram(all);
        const last = new FakeHistogram(all.slice(-50));
        expect(sampler.count).toBe(every.count);
        expect(sampler.min).toBe(every.min);
        expect(sampler.max).toBe(every.max);
        expect(sampler.mean).toBeCloseTo(every.mean, 3);
        expect(sampler.stddev).toBeCloseTo(every.stddev, 3);
        for (const p of [50, 90, 99, 100]) expect(sampler.percentile(p)).toBe(last.percentile(p));
      }
      sampler.reset();
      all.length = 0;
      expect(sampler.count).toBe(0);
    }
  });

  it('has no figures for an empty histogram', () => {
    expect(delayFigures(new FakeHistogram([]), 1000)).toBeUndefined();
  });
});
