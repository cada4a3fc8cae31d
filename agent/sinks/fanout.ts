// fanout.ts: the one way a producer (the Detector, the DropPipeline) hands its output to several
// sinks. Every call goes to each sink in list order; a sink that throws is isolated: the others
// still get the call, the error is counted per sink and logged. The list is read at each call,
// so sinks added to it later take part.
import { errText } from '../runtime/err-text';
import type { Condition, ConditionChange, Logger, NodeEvent, PacketDrop, Problem, Sink } from '../types';

export class Fanout implements Sink {
  readonly name = 'fanout';
  /** Calls that threw, by sink name. */
  readonly errors = new Map<string, number>();

  constructor(
    private readonly sinks: readonly Sink[],
    private readonly logger: Logger,
  ) {}

  onConditions(source: string, conditions: readonly Condition[]): void {
    this.each('onConditions', (s) => s.onConditions?.(source, conditions));
  }

  onConditionChange(change: ConditionChange): void {
    this.each('onConditionChange', (s) => s.onConditionChange?.(change));
  }

  onEvent(event: NodeEvent): void {
    this.each('onEvent', (s) => s.onEvent?.(event));
  }

  onProblem(problem: Problem): void {
    this.each('onProblem', (s) => s.onProblem?.(problem));
  }

  onPacketDrop(drop: PacketDrop): void {
    this.each('onPacketDrop', (s) => s.onPacketDrop?.(drop));
  }

  /** Flushes every sink together, each until the deadline (epoch ms). */
  async flush(deadline: number): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush?.(deadline)));
  }

  private each(call: string, fn: (s: Sink) => void): void {
    // Indexed, not for-of: Maglev (Node 24) calls the array iterator's next() for each sink, per line.
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) {
      const s = sinks[i]!;
      try {
        fn(s);
      } catch (err) {
        this.errors.set(s.name, (this.errors.get(s.name) ?? 0) + 1);
        this.logger.error({ sink: s.name, call, err: errText(err) }, 'sink threw');
      }
    }
  }
}
