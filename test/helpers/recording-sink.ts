// recording-sink.ts: a Sink that records every call, for tests of what a producer (the Detector,
// the PluginDaemon) hands to its sinks.
import type { Condition, ConditionChange, NodeEvent, Problem, Sink } from '../../agent/types';

export function recorder() {
  const got = {
    problems: [] as Problem[],
    events: [] as NodeEvent[],
    changes: [] as ConditionChange[],
    initial: [] as [string, readonly Condition[]][],
  };
  const sink: Sink = {
    name: 'rec',
    onProblem: (p) => got.problems.push(p),
    onEvent: (e) => got.events.push(e),
    onConditionChange: (c) => got.changes.push(c),
    onConditions: (s, c) => got.initial.push([s, c]),
  };
  return { got, sink };
}
