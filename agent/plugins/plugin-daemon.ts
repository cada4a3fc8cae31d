// plugin-daemon.ts: the custom plugin problem daemon, beside the log Detector. It runs a
// PluginMonitor per custom plugin file, keeps the conditions those files declare in its own
// ConditionState, and hands results to the same sinks as the Detector: a temporary rule posts a
// Warning Event (and a Problem) on NonOK or Unknown, as NPD does (exit status >= NonOK); a
// permanent rule moves its condition (plugin-result.ts) and each change posts NPD's condition
// change Event. Conditions start at their defaults or the Node's (adopt), and are announced at
// start unless the file says skip_initial_status, in which case they are announced with the
// file's first result. Reload keeps the monitors of unchanged files running.
import { capMessage } from '../cap-message';
import { conditionChangeEvent, ConditionState, CONDITION_MESSAGE_LIMIT_BYTES, declaredIn } from '../state/conditions';
import { Fanout } from '../sinks/fanout';
import type { Clock, Condition, Logger, NodeEvent, PluginFile, PluginRuleSpec, Sink } from '../types';
import { PluginMonitor, type PluginStats } from './plugin-monitor';
import type { PluginPort } from './plugin-port';
import { nextCondition, type PluginVerdict } from './plugin-result';

export interface PluginDaemonOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeName: string;
  readonly sinks: readonly Sink[];
  readonly port: PluginPort;
  /** Conditions read from the Node at start; they replace the defaults of the same types. */
  readonly initialConditions?: readonly Condition[];
}

export class PluginDaemon {
  private readonly state: ConditionState;
  private readonly out: Fanout;
  /** Monitors by the JSON of their file: an unchanged file keeps its monitor across reloads. */
  private monitors = new Map<string, PluginMonitor>();
  private files: readonly PluginFile[];
  /** Sources whose conditions have been announced (skip_initial_status defers it). */
  private readonly announced = new Set<string>();
  private started = false;
  private stopped = false;

  constructor(
    files: readonly PluginFile[],
    private readonly opts: PluginDaemonOptions,
  ) {
    this.files = files;
    this.out = new Fanout(opts.sinks, opts.logger);
    this.state = new ConditionState(declaredIn(files), opts.clock);
    if (opts.initialConditions) this.state.adopt(opts.initialConditions);
  }

  /** Announces the conditions and starts every file's first round. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.install(this.files);
  }

  /** Stops every monitor and kills running plugins. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const m of this.monitors.values()) m.stop();
  }

  /** Hot reload: changed and new files get new monitors, removed ones stop; conditions are kept. */
  reload(files: readonly PluginFile[]): void {
    this.files = files;
    this.state.replaceSpecs(declaredIn(files));
    if (this.started && !this.stopped) this.install(files);
  }

  /** Late adoption (see Detector.adoptLate): untouched conditions take the Node's value. */
  adoptLate(existing: readonly Condition[]): void {
    for (const source of this.state.adoptWhereUntouched(existing)) {
      if (this.announced.has(source)) this.out.onConditions(source, this.state.currentFor(source));
    }
  }

  conditions(): Condition[] {
    return this.state.current();
  }

  pluginFiles(): readonly PluginFile[] {
    return this.files;
  }

  /** Counters per plugin file path. The objects are live; read, do not write. */
  counterMap(): Map<string, PluginStats> {
    return new Map([...this.monitors.values()].map((m) => [m.file.path, m.stats]));
  }

  /** Resolves when every monitor's round in flight has finished (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.monitors.values()].map((m) => m.idle()));
  }

  private install(files: readonly PluginFile[]): void {
    const next = new Map<string, PluginMonitor>();
    const fresh: PluginMonitor[] = [];
    for (const file of files) {
      const key = JSON.stringify(file);
      let m = this.monitors.get(key);
      if (m === undefined) {
        m = new PluginMonitor(file, {
          clock: this.opts.clock,
          port: this.opts.port,
          logger: this.opts.logger.child({ plugin: file.path }),
          onResult: (rule, verdict) => this.onResult(file, rule, verdict),
        });
        fresh.push(m);
      }
      next.set(key, m);
    }
    for (const [key, m] of this.monitors) if (!next.has(key)) m.stop();
    this.monitors = next;
    for (const file of files) {
      if (!file.skipInitialStatus || this.announced.has(file.component)) this.announce(file.component);
    }
    for (const m of fresh) m.start();
  }

  private announce(source: string): void {
    this.announced.add(source);
    this.out.onConditions(source, this.state.currentFor(source));
  }

  private onResult(file: PluginFile, rule: PluginRuleSpec, verdict: PluginVerdict): void {
    const now = new Date(this.opts.clock.now());
    if (!this.announced.has(file.component)) this.announce(file.component);
    if (rule.type === 'temporary') {
      if (verdict.status === 'ok') return;
      this.out.onProblem({
        kind: 'temporary',
        component: file.component,
        reason: rule.reason,
        message: verdict.message,
        time: now,
      });
      this.emitEvent({
        ...this.node(),
        type: 'Warning',
        reason: rule.reason,
        message: verdict.message,
        component: file.component,
        time: now,
      });
      return;
    }
    const type = rule.condition;
    const current = type === undefined ? undefined : this.state.get(type);
    const spec = file.conditions.find((c) => c.type === type);
    if (type === undefined || current === undefined || spec === undefined) return;
    if (verdict.status === 'nonok') {
      this.out.onProblem({
        kind: 'permanent',
        component: file.component,
        reason: rule.reason,
        condition: type,
        message: verdict.message,
        time: now,
      });
    }
    // Compared as stored: condition messages are capped.
    const capped = { ...verdict, message: capMessage(verdict.message, CONDITION_MESSAGE_LIMIT_BYTES).text };
    const next = nextCondition(current, spec, rule.reason, capped, file.messageChangeUpdates);
    if (next === undefined) return;
    const change = this.state.set(type, next, now);
    if (change === undefined) return;
    this.out.onConditionChange(change);
    this.emitEvent(conditionChangeEvent(change, this.node().involved));
  }

  private emitEvent(e: NodeEvent): void {
    this.out.onEvent(e);
  }

  private node(): { involved: NodeEvent['involved'] } {
    return { involved: { kind: 'Node', name: this.opts.nodeName } };
  }
}
