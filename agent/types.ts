// types.ts: the contracts between sources, engine, state and sinks. It imports nothing, and
// nothing here knows about Kubernetes API types (those live only in agent/kube/).

// ---------------------------------------------------------------------------------------------
// Plumbing handed in by main: clock, logger, counters. No global singletons anywhere.
// ---------------------------------------------------------------------------------------------

/** Wall clock and timers, injectable so tests can drive time. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls fn after ms; returns a function that cancels it. Timers must not keep the process alive. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Resolves after ms, or at once (without throwing) when the signal aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The subset of pino's logger the agent uses; pino satisfies it, tests can pass a stub. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /** Whether a level is logged (pino has it); per-item hot paths skip building what is not. */
  isLevelEnabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
}

/**
 * Plain counters a component bumps on its hot path; the metrics module reads them at scrape
 * time. Every component counts what it received, sent and dropped (Vector's habit).
 */
export interface ComponentCounters {
  received: number;
  sent: number;
  dropped: number;
  errors: number;
}

export function newCounters(): ComponentCounters {
  return { received: 0, sent: 0, dropped: 0, errors: 0 };
}

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

/** One log record as a source delivers it. */
export interface LogLine {
  /** Id of the source: 'kmsg' or the absolute path of the followed file. */
  readonly origin: string;
  /** kmsg sequence number; for files, the byte offset just past this line. */
  readonly seq?: number;
  /**
   * When the log says it happened. kmsg: from the record. Files: the time the line was read —
   * the consumers (detector, drop pipeline) parse the real time from the text with the rule
   * file's pluginConfig or the drop log's timestamp forms, since only they know the format.
   */
  readonly time: Date;
  /** The message, without kmsg header / dictionary lines. Untrusted kernel text. */
  readonly text: string;
  /** Set when the source cut the line at its length cap. */
  readonly truncated?: boolean;
  /** journald entries: the entry's SYSLOG_IDENTIFIER (lines are routed by source and this). */
  readonly identifier?: string;
  /**
   * Set on lines from before this run that no checkpoint vouches for (first start, new boot, new
   * file): consumers apply their lookback to these only. Lines after a checkpoint are never
   * backlog, so a restart neither re-reports nor skips them, however old they are.
   */
  readonly backlog?: boolean;
}

/**
 * A kmsg or file line with all of its fields, always in this order, so that the handlers see one
 * object shape from both sources, backlog or not, cut or not. (Fields added only to some lines
 * give those lines other hidden classes, and the handlers' optimized code then has to tell them
 * apart. The deoptimization W2 showed came from the same pattern in Problem: monitor.ts.)
 */
export function lineOf(
  origin: string,
  seq: number,
  time: Date,
  text: string,
  truncated: boolean,
  backlog: boolean,
): LogLine {
  return { origin, seq, time, text, truncated, backlog };
}

/** Receives lines from a source. A returned promise is backpressure: the source awaits it. */
export type LineHandler = (line: LogLine) => void | Promise<void>;

export interface SourceStats extends ComponentCounters {
  /** Records the source knows it never saw (kmsg overrun gap, copytruncate window). */
  lost: number;
  /** Lines cut at the length cap. */
  truncated: number;
  /** Malformed records skipped (bad kmsg header, undecodable line). */
  malformed: number;
}

export function newSourceStats(): SourceStats {
  return { ...newCounters(), lost: 0, truncated: 0, malformed: 0 };
}

export interface SourceHealth {
  /** False once the source has died (an error it cannot recover from). */
  readonly alive: boolean;
  /** Epoch ms of the last successful poll of the underlying fd (not of the last line). */
  readonly lastPollAt: number;
  /** Last error message, if any. */
  readonly lastError?: string;
  /**
   * Set while the source runs but cannot do its job for a reason a restart would not fix (a
   * followed path that is a directory or unreadable). Reported by /healthz without failing it:
   * liveness restarts would only stop the other sources too.
   */
  readonly degraded?: string;
}

export interface Source {
  readonly id: string;
  readonly stats: SourceStats;
  health(): SourceHealth;
  /**
   * Reads until the signal aborts, handing each line to `onLine` and awaiting it.
   * Resolves after the position has been persisted. Never rejects on abort.
   */
  run(onLine: LineHandler, signal: AbortSignal): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Rule files (node-problem-detector's system-log-monitor format, validated)
// ---------------------------------------------------------------------------------------------

export type RuleKind = 'temporary' | 'permanent';

export interface RuleSpec {
  readonly type: RuleKind;
  /** Condition type a permanent rule sets. */
  readonly condition?: string;
  readonly reason: string;
  /** RE2 pattern; it must match at the end of the newest line of the buffer. */
  readonly pattern: string;
  readonly patternGeneratedMessageSuffix?: string;
}

export interface ConditionSpec {
  readonly type: string;
  /** Default (healthy) reason and message, used at start and on recovery. */
  readonly reason: string;
  readonly message: string;
  /** nodewarden extension: go back to False after this long without a matching line. */
  readonly recoverAfterMs?: number;
}

export interface PluginConfig {
  /** Regex locating the timestamp text in a syslog line (filelog). */
  readonly timestamp?: string;
  /** Regex whose first group is the message (filelog). */
  readonly message?: string;
  /** Go reference-time layout of the timestamp, e.g. "Jan _2 15:04:05". */
  readonly timestampFormat?: string;
  /** journald: the SYSLOG_IDENTIFIER whose entries the file reads. */
  readonly source?: string;
}

export interface RuleFile {
  /** Path the file was loaded from (for errors and metrics). */
  readonly path: string;
  readonly plugin: 'kmsg' | 'filelog' | 'journald';
  readonly pluginConfig: PluginConfig;
  readonly logPath: string;
  readonly lookbackMs: number;
  readonly delayMs: number;
  readonly bufferSize: number;
  /** Event source component, e.g. "kernel-monitor". */
  readonly component: string;
  readonly metricsReporting: boolean;
  /** Lines containing any of these substrings are ignored. */
  readonly skipList: readonly string[];
  readonly conditions: readonly ConditionSpec[];
  readonly rules: readonly RuleSpec[];
}

/** A rule of a custom plugin file: runs `path` with `args` (an argv, never a shell). */
export interface PluginRuleSpec {
  readonly type: RuleKind;
  /** Condition type a permanent rule sets. */
  readonly condition?: string;
  readonly reason: string;
  /** Absolute path of the executable (a relative one is taken from the working directory). */
  readonly path: string;
  readonly args: readonly string[];
  /** Effective timeout: the rule's `timeout`, or the file's. */
  readonly timeoutMs: number;
}

/** A custom plugin monitor file (NPD's custom-plugin-monitor format, `plugin: custom`). */
export interface PluginFile {
  readonly path: string;
  readonly plugin: 'custom';
  /** Event source component, e.g. "ntp-custom-plugin-monitor". */
  readonly component: string;
  readonly metricsReporting: boolean;
  readonly invokeIntervalMs: number;
  readonly timeoutMs: number;
  /** Condition messages are the plugin's trimmed stdout, cut at this many bytes. */
  readonly maxOutputLength: number;
  /** Plugins of this file running at once. */
  readonly concurrency: number;
  /** A True condition whose message changes (same reason) is updated. */
  readonly messageChangeUpdates: boolean;
  /** Conditions are not announced at start, only once a plugin reports. */
  readonly skipInitialStatus: boolean;
  readonly conditions: readonly ConditionSpec[];
  readonly rules: readonly PluginRuleSpec[];
}

/** One validation problem: `${file}: ${field}: ${message}`. */
export interface ConfigError {
  readonly file: string;
  /** Dotted path to the field, e.g. "rules[3].pattern"; "" for the whole file. */
  readonly field: string;
  readonly message: string;
}

export function formatConfigError(e: ConfigError): string {
  return e.field === '' ? `${e.file}: ${e.message}` : `${e.file}: ${e.field}: ${e.message}`;
}

// ---------------------------------------------------------------------------------------------
// Engine output
// ---------------------------------------------------------------------------------------------

/** A rule matched. */
export interface Problem {
  readonly kind: RuleKind;
  /** The rule file's `source`, e.g. "kernel-monitor". */
  readonly component: string;
  readonly reason: string;
  /** Set for permanent rules (present, undefined, on temporary ones: one object shape for both). */
  readonly condition?: string | undefined;
  /** The matched log line(s) joined with "\n", plus "; suffix" when the rule has one. */
  readonly message: string;
  /** Time of the oldest line of the match (NPD's choice; the same line for one-line rules). */
  readonly time: Date;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A node condition as nodewarden owns it. Only the Kubernetes exporter adds heartbeat time. */
export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: Date;
}

/** A condition changed (engine → sinks). `source` is the rule file's source. */
export interface ConditionChange {
  readonly component: string;
  readonly condition: Condition;
  readonly previous?: Condition;
}

// ---------------------------------------------------------------------------------------------
// Events and packet drops
// ---------------------------------------------------------------------------------------------

export type InvolvedObject =
  | { readonly kind: 'Node'; readonly name: string; readonly uid?: string }
  | { readonly kind: 'Pod'; readonly namespace: string; readonly name: string; readonly uid?: string };

/** An Event nodewarden wants posted, before aggregation. */
export interface NodeEvent {
  readonly involved: InvolvedObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  /** Untrusted text; the exporter caps it. */
  readonly message: string;
  /** source.component, e.g. "kernel-monitor" or "nodewarden". */
  readonly component: string;
  /** From the log line, not the time of posting: the latest occurrence this NodeEvent stands for. */
  readonly time: Date;
  /**
   * Log time of the earliest occurrence, when this NodeEvent stands for several (a drop window);
   * defaults to `time`. It becomes the Event's firstTimestamp, `time` its lastTimestamp.
   */
  readonly firstTime?: Date;
  /**
   * Occurrences this NodeEvent stands for (default 1). The packet-drop pipeline pre-aggregates
   * drops per key within a flush window and hands over one NodeEvent with the window's count.
   */
  readonly count?: number;
}

/**
 * An Event as aggregated and written: what the EventAggregator hands out (plus its key and
 * flags) and what kube/ writes (plus namespace and reporting fields). Declared once here.
 */
export interface EventBody {
  /** metadata.name: `<object name>.<hex>` like client-go. */
  readonly name: string;
  readonly involved: InvolvedObject;
  readonly type: NodeEvent['type'];
  readonly reason: string;
  readonly message: string;
  readonly component: string;
  readonly host: string;
  /** Occurrences since firstTimestamp, suppressed ones included. */
  readonly count: number;
  readonly firstTimestamp: Date;
  readonly lastTimestamp: Date;
}

export type Verdict = 'drop' | 'audit';
export type Direction = 'sending' | 'receiving';

/** One packet the kernel logged with a configured prefix. Addresses are normalised. */
export interface PacketDrop {
  readonly time: Date;
  /** The log prefix as configured (placeholders resolved away). */
  readonly prefix: string;
  readonly verdict: Verdict;
  /** Policy named by the prefix (Calico `<tier> <kind> <namespace/name>`), if any. */
  readonly policy?: string | undefined;
  readonly inIf: string;
  readonly outIf: string;
  readonly family: 4 | 6;
  readonly src: string;
  readonly dst: string;
  /** Lower-case protocol name ("tcp", "udp", "icmp", "icmpv6", "sctp", ...) or the number. */
  readonly proto: string;
  // The optional fields may be present as undefined (packet-log.ts makes every drop one shape).
  readonly srcPort?: number | undefined;
  readonly dstPort?: number | undefined;
  readonly icmpType?: number | undefined;
  readonly icmpCode?: number | undefined;
}

/** A pod as the drop pipeline knows it. */
export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** A Service, by namespace and name. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

/** Who a remote IP is. */
export type PeerInfo =
  /** A pod; `service` when a Service of its namespace selects it. */
  | { readonly kind: 'pod'; readonly pod: PodInfo; readonly service?: ServiceRef }
  | { readonly kind: 'node'; readonly name: string }
  /** A Service's ClusterIP. */
  | { readonly kind: 'service'; readonly service: ServiceRef }
  /** An address outside the cluster, named by reverse DNS. */
  | { readonly kind: 'host'; readonly name: string }
  | { readonly kind: 'unknown' };

/** Resolves IPs to pods. Implemented by kube/peers.ts; tests pass fakes. */
export interface DropResolver {
  /** A pod on this node that owns `ip` (hostNetwork pods are not indexed). Synchronous. */
  localPod(ip: string): PodInfo | undefined;
  /** Who owns a remote IP; cached, never rejects. */
  peer(ip: string): Promise<PeerInfo>;
}

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

/** Something that consumes engine output. All methods are non-blocking and never throw. */
export interface Sink {
  readonly name: string;
  /** Conditions of one rule file at start (their defaults, or adopted state). */
  onConditions?(component: string, conditions: readonly Condition[]): void;
  onConditionChange?(change: ConditionChange): void;
  onEvent?(event: NodeEvent): void;
  onProblem?(problem: Problem): void;
  onPacketDrop?(drop: PacketDrop): void;
  /** Flush pending work, giving up at the deadline (epoch ms). Idempotent. */
  flush?(deadline: number): Promise<void>;
}
