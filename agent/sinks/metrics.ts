// metrics.ts: the Prometheus view of the agent, on a prom-client Registry instance that main
// builds (never the global one). Components keep plain counters on their hot paths; this module
// reads them at scrape time. It also is a Sink that keeps NPD's problem_counter / problem_gauge
// with NPD's exact meaning (checked against NPD's log_monitor.go and problem_metrics.go):
//   - problem_counter{reason} +1 per Event NPD's log monitor generates: every temporary match,
//     and every condition change a permanent rule makes (False → True, or a new reason); a
//     repeat that changes nothing is not counted. Every rule's reason starts at 0.
//   - problem_gauge{type,reason}: one series per permanent rule's (condition, reason), 0 at
//     start; a match sets its reason 1 and the type's previous reason 0 (at most one reason is
//     1 per type). Default (healthy) reasons get no series, as in NPD.
//   Both stay silent for rule files with metricsReporting: false, as in NPD. Custom plugin
//   files feed the same two (NPD's custom plugin monitor does): a condition going Unknown or
//   False sets its gauge 0.
// Every match, repeats included, is counted in nodewarden_rule_matches_total{source,reason}.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Condition, ConditionChange, Problem, RuleFile, RuleSpec, Sink } from '../types';
import { registerProcessMetrics } from './process-metrics';

/** One packet_drops_total series: bounded label values only (no IPs, no pod names). */
export interface DropSeries {
  readonly labels: {
    readonly direction: string;
    readonly namespace: string;
    readonly proto: string;
    readonly verdict: string;
  };
  readonly value: number;
}

/** What the problem metrics need of a rule file: log monitor files and custom plugin files alike. */
export type ProblemRuleFile = Pick<RuleFile, 'component' | 'metricsReporting'> & {
  readonly rules: readonly Pick<RuleSpec, 'type' | 'condition' | 'reason'>[];
};

/** A component's stats object: its numeric fields are exported, other fields are ignored. */
type Counters = object;

/** One source as /healthz judges it, for the nodewarden_source_* gauges. */
export interface SourceHealthSample {
  readonly id: string;
  /** Alive and polled within the stall timeout (what /healthz checks). */
  readonly healthy: boolean;
  /** Running but unable to do its job (a followed path that is a directory or unreadable). */
  readonly degraded: boolean;
  /** Epoch ms of the last successful poll; 0 before the first. */
  readonly lastPollAt: number;
}

/** How a component's fields are exported: numeric fields are counters unless named here. */
export interface ComponentShape<T extends object = object> {
  /** Fields that go up and down (exported as nodewarden_component_gauge). */
  readonly gauges?: readonly (keyof T & string)[];
  /** Fields not to export (timestamps, internal numbers). */
  readonly skip?: readonly (keyof T & string)[];
}

/** A ComponentShape once registered: its field names checked, kept as plain strings. */
interface FieldShape {
  readonly gauges?: readonly string[];
  readonly skip?: readonly string[];
}

interface Registered {
  readonly kind: string;
  readonly read: () => Iterable<readonly [string, Counters]>;
  readonly shape: FieldShape;
}

/** Fields with a metric of their own: nodewarden_component_<field>_total (Vector's habit). */
const NAMED: Readonly<Record<string, string>> = {
  received: 'Records a component received.',
  sent: 'Records a component passed on (lines delivered, API writes that succeeded).',
  dropped: 'Records a component dropped (full queue, rate limit, failing handler).',
  errors: 'Errors a component met and survived.',
  matched: 'Lines that matched at least one rule.',
  lost: 'Records a source knows it never saw (kmsg overrun gap, copytruncate window).',
  truncated: 'Lines cut at the length cap.',
  malformed: 'Malformed lines counted and skipped.',
};

export class Metrics implements Sink {
  readonly name = 'metrics';
  readonly registry: Registry;
  private readonly registered: Registered[] = [];
  private readonly problemCounter: Counter<'reason'>;
  private readonly problemGauge: Gauge<'type' | 'reason'>;
  /** NPD's problemTypeToReason: the reason last set on each type's gauge. */
  private readonly gaugeReason = new Map<string, string>();
  private readonly ruleMatches: Counter<'source' | 'reason'>;
  private readonly reloadFailed: Gauge;
  private readonly reloads: Counter<'result'>;
  private readonly dropReaders: (() => Iterable<DropSeries>)[] = [];
  private readonly healthReaders: (() => Iterable<SourceHealthSample>)[] = [];

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    // prom-client's default process metrics; the event-loop delay sampled once a second.
    if (opts.processMetrics !== false) registerProcessMetrics(registry);
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
    this.ruleMatches = new Counter({
      name: 'nodewarden_rule_matches_total',
      help: 'Lines matched per rule (source, reason), repeats included; problem_counter counts Events, as in NPD.',
      labelNames: ['source', 'reason'],
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
    // Source health, as /healthz sees it, read at scrape time: a dead or stalled source is an
    // alert (the liveness probe only restarts the container, which may not fix it).
    const healthReaders = this.healthReaders;
    const eachSource = (fn: (s: SourceHealthSample) => void): void => {
      for (const read of healthReaders) for (const s of read()) fn(s);
    };
    new Gauge({
      name: 'nodewarden_source_healthy',
      help: '1 while a source is alive and has polled within --stall-timeout (what /healthz checks), else 0.',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        this.reset();
        eachSource((s) => this.labels(s.id).set(s.healthy ? 1 : 0));
      },
    });
    new Gauge({
      name: 'nodewarden_source_degraded',
      help: '1 while a source runs but cannot read its path (a directory, or unreadable), else 0.',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        this.reset();
        eachSource((s) => this.labels(s.id).set(s.degraded ? 1 : 0));
      },
    });
    new Gauge({
      name: 'nodewarden_source_last_poll_timestamp_seconds',
      help: 'When a source last polled its fd successfully (Unix seconds; 0 before the first poll).',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        this.reset();
        eachSource((s) => this.labels(s.id).set(s.lastPollAt / 1000));
      },
    });
    const registered = this.registered;
    // One pass over every component's numeric fields, at scrape time.
    const each = (fn: (kind: string, id: string, field: string, value: number, shape: FieldShape) => void): void => {
      for (const r of registered) {
        for (const [id, counters] of r.read()) {
          for (const [field, value] of Object.entries(counters)) {
            if (typeof value !== 'number' || r.shape.skip?.includes(field)) continue;
            fn(r.kind, id, field, value, r.shape);
          }
        }
      }
    };
    const isGauge = (shape: FieldShape, field: string): boolean => shape.gauges?.includes(field) === true;
    const counterSink = (
      select: (field: string) => boolean,
      labels: (kind: string, id: string, field: string) => string[],
    ) => {
      const last = new Map<string, number>();
      return function collect(this: Counter<string>): void {
        each((kind, id, field, value, shape) => {
          if (!select(field) || isGauge(shape, field)) return;
          const l = labels(kind, id, field);
          const key = l.join('\u0000');
          const delta = value - (last.get(key) ?? 0);
          // inc(0) creates the series, so a rate() alert has something to evaluate from the start.
          if (delta >= 0) this.labels(...l).inc(delta);
          last.set(key, value);
        });
      };
    };
    for (const [field, help] of Object.entries(NAMED)) {
      new Counter({
        name: `nodewarden_component_${field}_total`,
        help,
        labelNames: ['component_kind', 'component_id'],
        registers: [registry],
        collect: counterSink(
          (f) => f === field,
          (kind, id) => [kind, id],
        ),
      });
    }
    new Counter({
      name: 'nodewarden_component_events_total',
      help: "A component's other counters, by name (rotations, overruns, syncs, retries, suppressed, ...).",
      labelNames: ['component_kind', 'component_id', 'counter'],
      registers: [registry],
      collect: counterSink(
        (f) => !(f in NAMED),
        (kind, id, field) => [kind, id, field],
      ),
    });
    new Gauge({
      name: 'nodewarden_component_gauge',
      help: "A component's current values (pods and IPs indexed, queue lengths, ...).",
      labelNames: ['component_kind', 'component_id', 'field'],
      registers: [registry],
      collect() {
        this.reset();
        each((kind, id, field, value, shape) => {
          if (isGauge(shape, field)) this.labels(kind, id, field).set(value);
        });
      },
    });
  }

  /** Exposes a component's counters; every numeric field is exported (see ComponentShape). */
  registerComponent<T extends object>(kind: string, id: string, counters: T, shape: ComponentShape<T> = {}): void {
    this.registered.push({ kind, read: () => [[id, counters]], shape });
  }

  /** Exposes components that come and go (per-source detector counters): read at each scrape. */
  registerComponents<T extends object>(
    kind: string,
    read: () => Iterable<readonly [string, T]>,
    shape: ComponentShape<T> = {},
  ): void {
    this.registered.push({ kind, read, shape });
  }

  /** Exposes the packet-drop counts the drop pipeline keeps (read at scrape time). */
  registerPacketDrops(read: () => Iterable<DropSeries>): void {
    this.dropReaders.push(read);
  }

  /** Exposes the sources' health (read at scrape time): nodewarden_source_{healthy,degraded,...}. */
  registerSourceHealth(read: () => Iterable<SourceHealthSample>): void {
    this.healthReaders.push(read);
  }

  /**
   * The rule files in force. As NPD does at start: every rule's reason gets a problem_counter
   * series at 0, and every permanent rule's (condition, reason) a problem_gauge series at 0;
   * sources whose file says `metricsReporting: false` get neither. The gauge is rebuilt on a
   * reload (types no longer declared disappear); the detector re-announces the current
   * conditions right after, which sets the True ones back to 1.
   */
  setRuleFiles(files: readonly ProblemRuleFile[]): void {
    this.silent = new Set(files.filter((f) => !f.metricsReporting).map((f) => f.component));
    this.problemGauge.reset();
    this.gaugeReason.clear();
    for (const f of files) {
      for (const r of f.rules) this.ruleMatches.labels(f.component, r.reason).inc(0);
      if (!f.metricsReporting) continue;
      for (const r of f.rules) {
        if (r.type === 'permanent' && r.condition !== undefined) this.setGauge(r.condition, r.reason, false);
        this.problemCounter.labels(r.reason).inc(0);
      }
    }
  }

  private silent = new Set<string>();

  setReloadResult(ok: boolean): void {
    this.reloads.labels(ok ? 'ok' : 'invalid').inc();
    this.reloadFailed.set(ok ? 0 : 1);
  }

  /** Every match; problem_counter only for temporary ones (a permanent one counts when it changes its condition). */
  onProblem(problem: Problem): void {
    this.ruleMatches.labels(problem.component, problem.reason).inc();
    if (this.silent.has(problem.component) || problem.kind !== 'temporary') return;
    this.problemCounter.labels(problem.reason).inc();
  }

  /**
   * Conditions at start, after a reload or a late adoption. NPD's start has no True condition;
   * nodewarden adopts the Node's, so a True one shows 1 at once. False ones create no series.
   */
  onConditions(source: string, conditions: readonly Condition[]): void {
    if (this.silent.has(source)) return;
    for (const c of conditions) {
      if (c.status === 'True') this.setGauge(c.type, c.reason, true);
      else this.clearGauge(c.type);
    }
  }

  /**
   * A permanent rule changed its condition (the detector reports only real changes): one Event,
   * so problem_counter +1, and the gauge moves to the new reason. A recovery (the recoverAfter
   * extension; NPD never recovers) sets the gauge 0 and counts nothing: it is not a problem.
   */
  onConditionChange(change: ConditionChange): void {
    if (this.silent.has(change.component)) return;
    const c = change.condition;
    if (c.status === 'True') {
      this.problemCounter.labels(c.reason).inc();
      this.setGauge(c.type, c.reason, true);
    } else {
      this.clearGauge(c.type);
    }
  }

  /** NPD's SetProblemGauge: the type's previous reason goes to 0, this one to the value. */
  private setGauge(type: string, reason: string, value: boolean): void {
    this.clearGauge(type);
    this.gaugeReason.set(type, reason);
    this.problemGauge.labels(type, reason).set(value ? 1 : 0);
  }

  private clearGauge(type: string): void {
    const last = this.gaugeReason.get(type);
    if (last !== undefined) this.problemGauge.labels(type, last).set(0);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
