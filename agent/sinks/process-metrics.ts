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
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry, collectDefaultMetrics } from 'prom-client';

/** The event-loop delay sampling interval. */
export const EVENT_LOOP_SAMPLE_MS = 1000;
/** prom-client's own sampler's resolution: the largest a libuv timer takes, so it never fires. */
const PARKED_MS = 2 ** 31 - 1;

/** What is read from a perf_hooks event-loop delay histogram (ns); tests inject a fake. */
export interface DelayHistogram {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  percentile(p: number): number;
  reset(): void;
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
 * from `histogram` (default: a monitorEventLoopDelay at sampleMs, enabled here) and reset at
 * each scrape, as prom-client does. A scrape with no new sample leaves the gauges as they were.
 */
export function registerProcessMetrics(
  registry: Registry,
  opts: { sampleMs?: number; histogram?: DelayHistogram } = {},
): void {
  const sampleMs = opts.sampleMs ?? EVENT_LOOP_SAMPLE_MS;
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: PARKED_MS });
  for (const [, name] of GAUGES) registry.removeSingleMetric(name);
  let histogram = opts.histogram;
  if (histogram === undefined) {
    const h = monitorEventLoopDelay({ resolution: sampleMs });
    h.enable();
    histogram = h;
  }
  const h = histogram;
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
