// process-metrics.ts: prom-client's default process metrics, with the event-loop delay sampled
// once a second instead of every 10 ms. prom-client's collectDefaultMetrics samples with
// perf_hooks.monitorEventLoopDelay at 10 ms: a timer that wakes the process 100 times a second,
// measured at 0.3-0.5% of a core of the agent's idle CPU here. There is no option to leave it out,
// so its sampler is parked (a resolution of ~24.8 days: it never fires) and its seven histogram
// gauges are replaced by the same names fed from a sampler of our own at sampleMs.
//
// Meaning. monitorEventLoopDelay records the interval between two runs of its timer, so the
// sampling interval itself is in every value: prom-client's gauges read about 10 ms on an idle
// loop. Ours report how late the sample ran (the interval minus sampleMs, at least 0): about 0
// on an idle loop. A stall of the loop longer than sampleMs is always seen (at least its length
// minus sampleMs, at most its length); a shorter one only when a sample falls due within it.
// nodejs_eventloop_lag_seconds (prom-client's setImmediate probe at scrape time) is unchanged.
//
// Memory. Our sampler is a 1 s interval timer that records each interval's real length into a
// small buffer (IntervalSampler), not a perf_hooks histogram: monitorEventLoopDelay's HDR
// histogram is a fixed 360 KiB of counts, and reset() at each scrape rewrites all of it, so all
// of it stays resident (0.5 MiB of RSS, measured in a bare Node 24; README, Memory cuts).
import { Gauge, type Registry, collectDefaultMetrics } from 'prom-client';

/** The event-loop delay sampling interval. */
export const EVENT_LOOP_SAMPLE_MS = 1000;
/** prom-client's own sampler's resolution: the largest a libuv timer takes, so it never fires. */
const PARKED_MS = 2 ** 31 - 1;

/** What is read from an event-loop delay histogram (ns); tests inject a fake. */
export interface DelayHistogram {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  percentile(p: number): number;
  reset(): void;
}

/** How many intervals IntervalSampler keeps for percentiles: 10 minutes at 1 s. */
export const SAMPLE_CAP = 600;

/**
 * Interval lengths (ns) since the last reset. count, min, max, mean and stddev (population, by
 * Welford's method) cover every interval; percentiles (nearest rank, as an HDR histogram reads
 * them) cover the last `cap`, which is all of them unless scrapes are more than `cap` samples apart.
 */
export class IntervalSampler implements DelayHistogram {
  private readonly kept: Float64Array;
  private n = 0;
  private lo = 0;
  private hi = 0;
  private avg = 0;
  private m2 = 0;
  private sorted: Float64Array | undefined;

  constructor(cap = SAMPLE_CAP) {
    this.kept = new Float64Array(cap);
  }

  record(ns: number): void {
    const n = ++this.n;
    this.kept[(n - 1) % this.kept.length] = ns;
    if (n === 1 || ns < this.lo) this.lo = ns;
    if (n === 1 || ns > this.hi) this.hi = ns;
    const d = ns - this.avg;
    this.avg += d / n;
    this.m2 += d * (ns - this.avg);
    this.sorted = undefined;
  }

  get count(): number {
    return this.n;
  }
  get min(): number {
    return this.lo;
  }
  get max(): number {
    return this.hi;
  }
  get mean(): number {
    return this.n === 0 ? Number.NaN : this.avg;
  }
  get stddev(): number {
    return this.n === 0 ? Number.NaN : Math.sqrt(this.m2 / this.n);
  }

  percentile(p: number): number {
    const k = Math.min(this.n, this.kept.length);
    if (k === 0) return 0;
    this.sorted ??= this.kept.slice(0, k).sort();
    return this.sorted[Math.min(k - 1, Math.max(0, Math.ceil((p / 100) * k) - 1))] as number;
  }

  reset(): void {
    this.n = 0;
    this.lo = 0;
    this.hi = 0;
    this.avg = 0;
    this.m2 = 0;
    this.sorted = undefined;
  }
}

/**
 * An IntervalSampler fed by a real timer every sampleMs (unref'd: it never keeps the process
 * up). Real time on purpose: it measures the process's own event loop, which an injected clock
 * does not run.
 */
function startSampler(sampleMs: number): IntervalSampler {
  const sampler = new IntervalSampler();
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    sampler.record((now - last) * 1e6);
    last = now;
  }, sampleMs).unref();
  return sampler;
}

/** prom-client's names and help texts. */
const GAUGES = [
  ['min', 'nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.'],
  ['max', 'nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.'],
  ['mean', 'nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.'],
  ['stddev', 'nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.'],
  ['p50', 'nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.'],
  ['p90', 'nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.'],
  ['p99', 'nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.'],
] as const;
type Stat = (typeof GAUGES)[number][0];

/**
 * The histogram's figures since its last reset, in seconds late (interval minus sampleMs, at
 * least 0; stddev as is). Undefined when it has no sample (scraped again within sampleMs).
 */
export function delayFigures(h: DelayHistogram, sampleMs: number): Record<Stat, number> | undefined {
  if (h.count === 0) return undefined;
  const late = (ns: number): number => Math.max(0, ns / 1e6 - sampleMs) / 1000;
  return {
    min: late(h.min),
    max: late(h.max),
    mean: late(h.mean),
    stddev: h.stddev / 1e9,
    p50: late(h.percentile(50)),
    p90: late(h.percentile(90)),
    p99: late(h.percentile(99)),
  };
}

/**
 * Registers prom-client's default metrics on `registry`, with the event-loop delay gauges fed
 * from `histogram` (default: an IntervalSampler fed every sampleMs, started here) and reset at
 * each scrape, as prom-client does. A scrape with no new sample leaves the gauges as they were.
 */
export function registerProcessMetrics(
  registry: Registry,
  opts: { sampleMs?: number; histogram?: DelayHistogram } = {},
): void {
  const sampleMs = opts.sampleMs ?? EVENT_LOOP_SAMPLE_MS;
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: PARKED_MS });
  for (const [, name] of GAUGES) registry.removeSingleMetric(name);
  const h = opts.histogram ?? startSampler(sampleMs);
  const gauges = new Map<Stat, Gauge>();
  for (const [stat, name, help] of GAUGES) {
    gauges.set(
      stat,
      new Gauge({
        name,
        help,
        registers: [registry],
        // The first gauge collected reads the histogram for all seven (prom-client does the same).
        ...(stat === 'min'
          ? {
              collect(): void {
                const f = delayFigures(h, sampleMs);
                if (f === undefined) return;
                for (const [s, g] of gauges) g.set(f[s]);
                h.reset();
              },
            }
          : {}),
      }),
    );
  }
}
