// log-sink.ts: writes what the agent finds as JSON log lines (pino). This is the standalone
// output, and stays on beside the Kubernetes exporter. Kernel text goes in a field, never into
// the message template. The log's own time is `logTime` (pino's `time` is when it was written).
import { LogThrottle } from '../runtime/log-throttle';
import { isoString } from '../runtime/utc-time';
import type { Clock, ConditionChange, Logger, NodeEvent, PacketDrop, Problem, Sink } from '../types';

/** Problems logged per reason per window; the rest are counted and summarised (a flood of matching lines must not flood the log). */
const PROBLEMS_PER_WINDOW = 10;
const WINDOW_MS = 10_000;
/** Reasons tracked at most (bounded: reasons come from rules, but be safe). */
const MAX_REASONS = 256;

export class LogSink implements Sink {
  readonly name = 'log';
  /** A fixed window per reason; when a window with suppressed problems ends, says how many. */
  private readonly throttle: LogThrottle;

  constructor(
    private readonly logger: Logger,
    clock: Clock,
  ) {
    this.throttle = new LogThrottle(clock, {
      windowMs: WINDOW_MS,
      perWindow: PROBLEMS_PER_WINDOW,
      maxKeys: MAX_REASONS,
      onSuppressed: (reason, suppressed) =>
        this.logger.warn({ reason, suppressed, windowMs: WINDOW_MS }, 'more problems not logged'),
    });
  }

  onProblem(p: Problem): void {
    if (!this.throttle.admit(p.reason)) return;
    this.logger.warn(
      {
        kind: p.kind,
        source: p.component,
        reason: p.reason,
        ...(p.condition !== undefined ? { condition: p.condition } : {}),
        message: p.message,
        logTime: isoString(p.time.getTime()),
      },
      'problem',
    );
  }

  onConditionChange(c: ConditionChange): void {
    const cond = c.condition;
    this.logger.warn(
      {
        source: c.component,
        condition: cond.type,
        status: cond.status,
        reason: cond.reason,
        message: cond.message,
        previousStatus: c.previous?.status,
        logTime: isoString(cond.lastTransitionTime.getTime()),
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
        logTime: isoString(e.time.getTime()),
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
        logTime: isoString(d.time.getTime()),
      },
      'packet dropped',
    );
  }
}
