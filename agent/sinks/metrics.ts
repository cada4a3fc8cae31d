// metrics.ts: the Prometheus view of the agent, on a prom-client Registry instance that main
// builds (never the global one). Components keep plain counters on their hot paths; this module
// reads them at scrape time. It also is a Sink that keeps NPD's problem_counter / problem_gauge.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ComponentCounters, Condition, ConditionChange, Problem, Sink } from '../types';

type NumberBag = Readonly<Record<string, number>>;

/** One packet_drops_total series: bounded label values only (no IPs, no pod names). */
export interface DropSeries {
  readonly labels: { readonly direction: string; readonly namespace: string; readonly proto: string; readonly verdict: string };
  readonly value: number;
}

type Counters = ComponentCounters | NumberBag;

/** Yields [kind, id, counters] for each component, read at scrape time. */
type ComponentProvider = () => Iterable<readonly [string, string, Counters]>;

/** Maps a counter field to its metric: received → nodewarden_component_received_total. */
const FIELD_HELP: Readonly<Record<string, string>> = {
  received: 'Records a component received.',
  sent: 'Records a component passed on (matched lines, delivered API writes).',
  dropped: 'Records a component dropped (full queue, rate limit, expired).',
  errors: 'Errors a component met and survived.',
  lost: 'Records a source knows it never saw (kmsg overrun, copytruncate window).',
  truncated: 'Lines cut at the length cap.',
  malformed: 'Malformed lines counted and skipped.',
};

export class Metrics implements Sink {
  readonly name = 'metrics';
  readonly registry: Registry;
  private readonly providers: ComponentProvider[] = [];
  private readonly problemCounter: Counter<'reason'>;
  private readonly problemGauge: Gauge<'type' | 'reason'>;
  private readonly reloadFailed: Gauge;
  private readonly reloads: Counter<'result'>;
  private readonly dropReaders: (() => Iterable<DropSeries>)[] = [];

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
    // NPD's names, so existing dashboards keep working.
    this.problemCounter = new Counter({
      name: 'problem_counter',
      help: 'Number of times a specific type of problem has occurred.',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.problemGauge = new Gauge({
      name: 'problem_gauge',
      help: 'Whether a specific type of problem is affecting the node or not.',
      labelNames: ['type', 'reason'],
      registers: [registry],
    });
    this.reloadFailed = new Gauge({
      name: 'nodewarden_rules_reload_failed',
      help: '1 while the rule files on disk are invalid and the agent runs on the previous rules.',
      registers: [registry],
    });
    this.reloads = new Counter({
      name: 'nodewarden_rules_reloads_total',
      help: 'Rule reloads by result (ok, invalid).',
      labelNames: ['result'],
      registers: [registry],
    });
    const dropReaders = this.dropReaders;
    const dropSeen = new Map<string, number>();
    new Counter({
      name: 'packet_drops_total',
      help: 'Packets the kernel logged with a configured drop (or audit) prefix.',
      labelNames: ['direction', 'namespace', 'proto', 'verdict'],
      registers: [registry],
      collect() {
        for (const read of dropReaders) {
          for (const { labels: l, value } of read()) {
            const key = `${l.direction}\u0000${l.namespace}\u0000${l.proto}\u0000${l.verdict}`;
            const delta = value - (dropSeen.get(key) ?? 0);
            if (delta <= 0) continue;
            this.labels(l.direction, l.namespace, l.proto, l.verdict).inc(delta);
            dropSeen.set(key, value);
          }
        }
      },
    });
    const providers = this.providers;
    for (const [field, help] of Object.entries(FIELD_HELP)) {
      const last = new Map<string, number>();
      new Counter({
        name: `nodewarden_component_${field}_total`,
        help,
        labelNames: ['component_kind', 'component_id'],
        registers: [registry],
        collect() {
          for (const provider of providers) {
            for (const [kind, id, counters] of provider()) {
              const v = (counters as NumberBag)[field];
              if (typeof v !== 'number') continue;
              const key = `${kind}\u0000${id}`;
              const delta = v - (last.get(key) ?? 0);
              if (delta > 0) this.labels(kind, id).inc(delta);
              last.set(key, v);
            }
          }
        },
      });
    }
  }

  /** Exposes a component's counters (received/sent/dropped/errors and any of lost/truncated/malformed). */
  registerComponent(kind: string, id: string, counters: Counters): void {
    this.providers.push(() => [[kind, id, counters]]);
  }

  /** Exposes components that come and go (per-source detector counters): read at each scrape. */
  registerComponents(kind: string, read: () => Iterable<readonly [string, Counters]>): void {
    this.providers.push(function* () {
      for (const [id, counters] of read()) yield [kind, id, counters] as const;
    });
  }

  /** Exposes the packet-drop counts the drop pipeline keeps (read at scrape time). */
  registerPacketDrops(read: () => Iterable<DropSeries>): void {
    this.dropReaders.push(read);
  }

  setReloadResult(ok: boolean): void {
    this.reloads.labels(ok ? 'ok' : 'invalid').inc();
    this.reloadFailed.set(ok ? 0 : 1);
  }

  onProblem(problem: Problem): void {
    this.problemCounter.labels(problem.reason).inc();
  }

  onConditions(_source: string, conditions: readonly Condition[]): void {
    for (const c of conditions) this.problemGauge.labels(c.type, c.reason).set(c.status === 'True' ? 1 : 0);
  }

  onConditionChange(change: ConditionChange): void {
    const prev = change.previous;
    if (prev) this.problemGauge.labels(prev.type, prev.reason).set(0);
    const c = change.condition;
    this.problemGauge.labels(c.type, c.reason).set(c.status === 'True' ? 1 : 0);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
