// log-sink.ts: writes what the agent finds as JSON log lines (pino). This is the standalone
// output, and stays on beside the Kubernetes exporter. Kernel text goes in a field, never into
// the message template.
import type { ConditionChange, Logger, NodeEvent, PacketDrop, Problem, Sink } from '../types';

export class LogSink implements Sink {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}

  onProblem(p: Problem): void {
    this.logger.warn(
      {
        kind: p.kind,
        source: p.source,
        reason: p.reason,
        ...(p.condition !== undefined ? { condition: p.condition } : {}),
        message: p.message,
        time: p.time.toISOString(),
      },
      'problem',
    );
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
        time: cond.lastTransitionTime.toISOString(),
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
        time: e.time.toISOString(),
      },
      'pod event',
    );
  }

  // Every drop at debug: under a flood the aggregated Events and packet_drops_total carry them.
  onPacketDrop(d: PacketDrop): void {
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
        time: d.time.toISOString(),
      },
      'packet dropped',
    );
  }
}
