// detector.ts: the glue between sources and sinks, pure and synchronous. It routes each LogLine
// to the monitors of its source (kmsg lines to the kmsg rule files; file lines to the filelog rule
// files whose logPath is that file, after parsing the raw line with the file's pluginConfig;
// journal entries to the journald rule files of their directory and SYSLOG_IDENTIFIER),
// drops lines from before the start window like NPD's watchers, applies problems to the condition
// state, and hands problems, events and condition changes to the sinks. No I/O. Its one timer,
// with `recoveryTimer`, is recoverAfter's: a DueTimer on the injected clock, re-armed from
// nextDueAt() whenever the condition state changes (without it the caller runs tick()).
import { Monitor } from './engine/monitor';
import { compileSyslogParser, type SyslogParser } from './engine/syslog-line';
import { conditionChangeEvent, ConditionState, declaredIn } from './state/conditions';
import { journalRouteKey, journalSourceId } from './sources/journal-entry';
import { DueTimer } from './runtime/timer';
import { Fanout } from './sinks/fanout';
import type { Clock, Condition, ConditionChange, Logger, LogLine, NodeEvent, Problem, RuleFile, Sink } from './types';

export interface DetectorOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeName: string;
  readonly sinks: readonly Sink[];
  /** Conditions read from the Node at start; they replace the defaults of the same types. */
  readonly initialConditions?: readonly Condition[];
  /** Drop lines older than the start window (NPD's lookback/delay); off for replay. */
  readonly applyLookback: boolean;
  /** Epoch ms of boot, for NPD's `delay` (start time = max(boot + delay, start - lookback)). */
  readonly bootTimeMs?: number;
  /**
   * Condition time follows the newest line's time instead of the clock (replay): recoverAfter is
   * then measured in log time, and tick() runs before every line.
   */
  readonly lineTime?: boolean;
  /** Run recoverAfter on a timer on `clock` (the agent); stop() cancels it. Off: call tick(). */
  readonly recoveryTimer?: boolean;
}

/** Per-source counters (keyed by LogLine.origin), read by the metrics module at scrape time. */
export interface DetectorCounters {
  /** Lines handed to handle(). */
  received: number;
  /** Lines that produced at least one problem. */
  matched: number;
  /** Problems produced. */
  problems: number;
  /** Lines ignored: empty kmsg message, or a skipList hit (per rule file). */
  skipped: number;
  /** File lines a rule file's timestamp/message regexes could not parse (per rule file). */
  unparsed: number;
  /** Lines older than the start window (per rule file). */
  tooOld: number;
  /** Lines no rule file reads. */
  unrouted: number;
}

function newDetectorCounters(): DetectorCounters {
  return { received: 0, matched: 0, problems: 0, skipped: 0, unparsed: 0, tooOld: 0, unrouted: 0 };
}

interface Route {
  readonly monitor: Monitor;
  /** Set for filelog rule files. */
  readonly parse?: SyslogParser;
  /** Backlog lines (no checkpoint vouches for them) earlier than this are dropped: start − lookback. */
  readonly cutoffMs: number;
  /** Any line earlier than boot + delay is dropped (NPD's `delay`); -Infinity without bootTimeMs. */
  readonly delayCutoffMs: number;
}

const KMSG = 'kmsg';

export class Detector {
  private routes = new Map<string, Route[]>();
  private files: readonly RuleFile[] = [];
  private readonly state: ConditionState;
  private readonly stats = new Map<string, DetectorCounters>();
  private readonly startMs: number;
  private readonly stateClock: Clock;
  private lineNow = Number.NEGATIVE_INFINITY;
  private readonly recovery: DueTimer | undefined;
  /** opts.sinks, each call isolated per sink. */
  private readonly out: Fanout;
  private stopped = false;

  constructor(
    files: readonly RuleFile[],
    private readonly opts: DetectorOptions,
  ) {
    this.startMs = opts.clock.now();
    this.out = new Fanout(opts.sinks, opts.logger);
    this.stateClock = opts.lineTime
      ? {
          now: () => (this.lineNow === Number.NEGATIVE_INFINITY ? opts.clock.now() : this.lineNow),
          setTimer: (fn, ms) => opts.clock.setTimer(fn, ms),
        }
      : opts.clock;
    this.state = new ConditionState(declaredIn(files), this.stateClock);
    this.recovery = opts.recoveryTimer ? new DueTimer(opts.clock, () => this.tick()) : undefined;
    if (opts.initialConditions) this.state.adopt(opts.initialConditions);
    this.install(files);
    for (const source of sourcesOf(files)) this.emitConditions(source);
    this.armRecovery();
  }

  /** Handles one line. Never throws for bad input. */
  handle(line: LogLine): void {
    const c = this.counters(line.origin);
    c.received++;
    const journal = line.identifier !== undefined;
    const key = line.origin === KMSG ? KMSG : journal ? journalRouteKey(line.origin, line.identifier) : line.origin;
    const routes = this.routes.get(key);
    if (routes === undefined) {
      c.unrouted++;
      return;
    }
    let found = 0;
    // kmsg records and journal entries carry their message and time; file lines are parsed.
    if (line.origin === KMSG || journal) {
      if (this.opts.lineTime) this.advanceLineTime(line.time.getTime());
      // NPD's kmsg watcher: empty messages are skipped, the message is trimmed (its journald
      // watcher trims too).
      const text = trimSpace(line.text);
      if (text === '') {
        c.skipped++;
        return;
      }
      const t = line.time.getTime();
      // Indexed loops on the per-line path: Maglev (Node 24) runs for-of through the array iterator.
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!;
        if (r.monitor.skips(text)) {
          c.skipped++;
          continue;
        }
        if (this.opts.applyLookback && (t < r.delayCutoffMs || (line.backlog === true && t < r.cutoffMs))) {
          c.tooOld++;
          continue;
        }
        found += this.deliver(r.monitor.matchText(text, line.time));
      }
    } else {
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!;
        // NPD's filelog watcher: skipList on the raw line, then translate, then the start window.
        if (r.monitor.skips(line.text)) {
          c.skipped++;
          continue;
        }
        const parsed = r.parse!(line.text);
        if (parsed === undefined) {
          c.unparsed++;
          continue;
        }
        if (this.opts.lineTime) this.advanceLineTime(parsed.time.getTime());
        const pt = parsed.time.getTime();
        if (this.opts.applyLookback && (pt < r.delayCutoffMs || (line.backlog === true && pt < r.cutoffMs))) {
          c.tooOld++;
          continue;
        }
        found += this.deliver(r.monitor.matchText(parsed.message, parsed.time, parsed.bytes));
      }
    }
    if (found > 0) {
      c.matched++;
      c.problems += found;
    }
  }

  private advanceLineTime(t: number): void {
    if (t > this.lineNow) this.lineNow = t;
    this.tick();
  }

  /**
   * The Node's conditions, read late because the API server was down at start: conditions that
   * nothing has changed since start take the Node's value (a restart still keeps them).
   */
  adoptLate(existing: readonly Condition[]): void {
    for (const source of this.state.adoptWhereUntouched(existing)) this.emitConditions(source);
    this.armRecovery(); // an adopted True condition may have recoverAfter
  }

  /** Runs recoverAfter: by the recovery timer, or by the caller from nextDueAt(). */
  tick(): void {
    for (const change of this.state.tick(this.stateClock.now())) this.emitChange(change);
    this.armRecovery();
  }

  /** Cancels the recovery timer; it is not armed again. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.recovery?.cancel();
  }

  /** Arms the recovery timer for the next condition due, unless it is already armed earlier. */
  private armRecovery(): void {
    if (this.recovery === undefined || this.stopped) return;
    const due = this.state.nextDueAt();
    if (due !== undefined) this.recovery.armBy(due);
  }

  nextDueAt(): number | undefined {
    return this.state.nextDueAt();
  }

  /** Hot reload: new monitors (their line buffers start empty), condition state kept. */
  reload(files: readonly RuleFile[]): void {
    this.install(files);
    this.state.replaceSpecs(declaredIn(files));
    for (const source of sourcesOf(files)) this.emitConditions(source);
    this.armRecovery();
  }

  conditions(): Condition[] {
    return this.state.current();
  }

  /** Counters per source id. The objects are live; read, do not write. */
  counterMap(): ReadonlyMap<string, DetectorCounters> {
    return this.stats;
  }

  /** The rule files in force. */
  ruleFiles(): readonly RuleFile[] {
    return this.files;
  }

  private counters(source: string): DetectorCounters {
    let c = this.stats.get(source);
    if (c === undefined) {
      c = newDetectorCounters();
      this.stats.set(source, c);
    }
    return c;
  }

  private install(files: readonly RuleFile[]): void {
    const previous = this.routes;
    const reloading = this.files.length > 0;
    const now = this.opts.clock.now();
    const routes = new Map<string, Route[]>();
    for (const file of files) {
      const monitor = new Monitor(file);
      const delayCutoffMs =
        this.opts.bootTimeMs !== undefined ? this.opts.bootTimeMs + file.delayMs : Number.NEGATIVE_INFINITY;
      const key = routeKey(file);
      // A file first named by a reload starts its lookback window at the reload, not at agent
      // start: its old lines are backlog from days ago, not problems seen since start.
      const since = reloading && !previous.has(key) ? now : this.startMs;
      const cutoffMs = Math.max(since - file.lookbackMs, delayCutoffMs);
      const route: Route =
        file.plugin === 'filelog'
          ? { monitor, cutoffMs, delayCutoffMs, parse: compileSyslogParser(file.pluginConfig, this.opts.clock) }
          : { monitor, cutoffMs, delayCutoffMs };
      const list = routes.get(key);
      if (list) list.push(route);
      else routes.set(key, [route]);
    }
    this.routes = routes;
    this.files = files;
  }

  private deliver(problems: readonly Problem[]): number {
    // Indexed: called for every line, nearly always with none; for-of allocated an iterator and
    // its results per call in unoptimized code (a sampling heap profile of W2).
    for (let i = 0; i < problems.length; i++) {
      const p = problems[i]!;
      this.out.onProblem(p);
      if (p.kind === 'temporary') {
        this.emitEvent({
          involved: this.node(),
          type: 'Warning',
          reason: p.reason,
          message: p.message,
          component: p.component,
          time: p.time,
        });
      } else {
        const change = this.state.apply(p);
        if (change !== undefined) this.emitChange(change);
      }
    }
    return problems.length;
  }

  private emitChange(change: ConditionChange): void {
    this.armRecovery();
    this.out.onConditionChange(change);
    this.emitEvent(conditionChangeEvent(change, this.node()));
  }

  private emitEvent(e: NodeEvent): void {
    this.out.onEvent(e);
  }

  private emitConditions(source: string): void {
    const conds = this.state.currentFor(source);
    this.out.onConditions(source, conds);
  }

  private node(): NodeEvent['involved'] {
    return { kind: 'Node', name: this.opts.nodeName };
  }
}

/** Which lines a rule file reads: kmsg, a file's path, or a journal directory's identifier. */
function routeKey(file: RuleFile): string {
  if (file.plugin === 'kmsg') return KMSG;
  if (file.plugin === 'journald') return journalRouteKey(journalSourceId(file.logPath), file.pluginConfig.source ?? '');
  return file.logPath;
}

function sourcesOf(files: readonly RuleFile[]): string[] {
  return [...new Set(files.map((f) => f.component))];
}

/** Go's strings.TrimSpace (allocates only when there is something to trim). */
function trimSpace(s: string): string {
  if (s.length === 0) return s;
  const a = s.charCodeAt(0);
  const b = s.charCodeAt(s.length - 1);
  if (a > 32 && b > 32 && a < 127 && b < 127) return s;
  return s.trim();
}
