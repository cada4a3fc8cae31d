// log-sink.ts: writes what the agent finds as JSON log lines (pino). This is the standalone
// output, and stays on beside the Kubernetes exporter. Kernel text goes in a field, never into
// the message template. The log's own time is `logTime` (pino's `time` is when it was written).
import type { Clock, ConditionChange, Logger, NodeEvent, PacketDrop, Problem, Sink } from '../types';

/** Problems logged per reason per window; the rest are counted and summarised (a flood of matching lines must not flood the log). */
const PROBLEMS_PER_WINDOW = 10;
const WINDOW_MS = 10_000;
/** Reasons tracked at most (bounded: reasons come from rules, but be safe). */
const MAX_REASONS = 256;

export class LogSink implements Sink {
  readonly name = 'log';
  private readonly windows = new Map<string, { start: number; logged: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  onProblem(p: Problem): void {
    if (!this.admit(p.reason)) return;
    this.logger.warn(
      {
        kind: p.kind,
        source: p.source,
        reason: p.reason,
        ...(p.condition !== undefined ? { condition: p.condition } : {}),
        message: p.message,
        logTime: p.time.toISOString(),
      },
      'problem',
    );
  }

  /** A fixed window per reason; when a window with suppressed problems ends, says how many. */
  private admit(reason: string): boolean {
    const now = this.clock.now();
    let w = this.windows.get(reason);
    if (w && now - w.start >= WINDOW_MS) {
      if (w.suppressed > 0) this.logger.warn({ reason, suppressed: w.suppressed, windowMs: WINDOW_MS }, 'more problems not logged');
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= MAX_REASONS) this.windows.clear();
      w = { start: now, logged: 0, suppressed: 0 };
      this.windows.set(reason, w);
    }
    if (w.logged < PROBLEMS_PER_WINDOW) {
      w.logged++;
      return true;
    }
    w.suppressed++;
    return false;
  }

  onConditionChange(c: ConditionChange): void {
    const cond = c.condition;
    this.logger.warn(
      {
        source: c.source,
        condition: cond.type,
        status: cond.status,
        reason: cond.reason,
        message: cond.message,
        previousStatus: c.previous?.status,
        logTime: cond.lastTransitionTime.toISOString(),
      },
      'condition changed',
    );
  }

  onEvent(e: NodeEvent): void {
    // Problems are logged by onProblem; only events that carry something new are logged here.
    if (e.involved.kind !== 'Pod') return;
    this.logger.info(
      {
        object: `${e.involved.namespace}/${e.involved.name}`,
        reason: e.reason,
        message: e.message,
        logTime: e.time.toISOString(),
      },
      'pod event',
    );
  }

  // Every drop at debug: under a flood the aggregated Events and packet_drops_total carry them.
  onPacketDrop(d: PacketDrop): void {
    // Called per drop: build the record only when debug is on (a time string per drop is not free).
    if (this.logger.isLevelEnabled?.('debug') === false) return;
    this.logger.debug(
      {
        verdict: d.verdict,
        src: d.src,
        dst: d.dst,
        proto: d.proto,
        ...(d.dstPort !== undefined ? { dport: d.dstPort } : {}),
        ...(d.policy !== undefined ? { policy: d.policy } : {}),
        in: d.inIf,
        out: d.outIf,
        logTime: d.time.toISOString(),
      },
      'packet dropped',
    );
  }
}
