// metrics.test.ts: what /metrics says — every counter a component keeps (named ones, the rest by
// name), gauges, series present from zero, NPD's problem metrics (their exact meaning) and
// metricsReporting: false.
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../agent/sinks/metrics';
import type { Condition, RuleFile, RuleSpec } from '../../agent/types';

const text = async (m: Metrics): Promise<string> => (await m.render()).body;

function ruleFile(source: string, metricsReporting: boolean, rules: RuleSpec[] = []): RuleFile {
  return {
    path: `/r/${source}.json`,
    plugin: 'kmsg',
    pluginConfig: {},
    logPath: '/dev/kmsg',
    lookbackMs: 0,
    delayMs: 0,
    bufferSize: 10,
    component: source,
    metricsReporting,
    skipList: [],
    conditions: [],
    rules,
  };
}

const perm = (condition: string, reason: string): RuleSpec => ({
  type: 'permanent',
  condition,
  reason,
  pattern: reason,
});

const cond = (type: string, status: 'True' | 'False', reason: string): Condition => ({
  type,
  status,
  reason,
  message: 'm',
  lastTransitionTime: new Date(0),
});

describe('Metrics', () => {
  it('exports every numeric field: named counters, other counters by name, gauges; skips what it is told to', async () => {
    const m = new Metrics({ processMetrics: false });
    const stats = {
      received: 0,
      sent: 0,
      dropped: 0,
      errors: 0,
      lost: 0,
      overruns: 0,
      rotations: 3,
      pods: 7,
      lastCheckAt: 123,
      nested: { x: 1 },
    };
    m.registerComponent('source', 'kmsg', stats, { gauges: ['pods'], skip: ['lastCheckAt'] });
    let t = await text(m);
    // Present from zero, so rate() alerts have a series before the first loss.
    expect(t).toContain('nodewarden_component_lost_total{component_kind="source",component_id="kmsg"} 0');
    expect(t).toContain(
      'nodewarden_component_events_total{component_kind="source",component_id="kmsg",counter="overruns"} 0',
    );
    expect(t).toContain(
      'nodewarden_component_events_total{component_kind="source",component_id="kmsg",counter="rotations"} 3',
    );
    expect(t).toContain('nodewarden_component_gauge{component_kind="source",component_id="kmsg",field="pods"} 7');
    expect(t).not.toContain('lastCheckAt');
    expect(t).not.toContain('counter="pods"');
    expect(t).not.toContain('nested');
    stats.lost = 5;
    stats.overruns = 2;
    stats.pods = 4;
    t = await text(m);
    expect(t).toContain('nodewarden_component_lost_total{component_kind="source",component_id="kmsg"} 5');
    expect(t).toContain('counter="overruns"} 2');
    expect(t).toContain('field="pods"} 4');
  });

  it('takes any stats object without a cast, and checks gauge and skip names against its fields', async () => {
    const m = new Metrics({ processMetrics: false });
    interface PodStats {
      pods: number;
      lastCheckAt: number;
    }
    const stats: PodStats = { pods: 1, lastCheckAt: 0 };
    m.registerComponent('resolver', 'x', stats, { gauges: ['pods'], skip: ['lastCheckAt'] });
    // @ts-expect-error a field the stats type does not have (npm test type-checks this file)
    m.registerComponent('resolver', 'y', stats, { gauges: ['podz'] });
    m.registerComponents('detector', () => new Map<string, PodStats>([['kmsg', stats]]), { gauges: ['pods'] });
    const t = await text(m);
    expect(t).toContain('nodewarden_component_gauge{component_kind="resolver",component_id="x",field="pods"} 1');
    expect(t).toContain('nodewarden_component_gauge{component_kind="detector",component_id="kmsg",field="pods"} 1');
    expect(t).toContain('component_id="y",counter="pods"} 1'); // y's misspelled gauge name: pods stays a counter
  });

  it('follows components that appear later (per-source detector counters)', async () => {
    const m = new Metrics({ processMetrics: false });
    const map = new Map<string, { received: number; matched: number }>();
    m.registerComponents('detector', () => map);
    expect(await text(m)).not.toContain('component_id="/var/log/kern.log"');
    map.set('/var/log/kern.log', { received: 10, matched: 2 });
    const t = await text(m);
    expect(t).toContain(
      'nodewarden_component_received_total{component_kind="detector",component_id="/var/log/kern.log"} 10',
    );
    expect(t).toContain(
      'nodewarden_component_matched_total{component_kind="detector",component_id="/var/log/kern.log"} 2',
    );
  });

  it('keeps NPD problem metrics, except for rule files with metricsReporting: false', async () => {
    const m = new Metrics({ processMetrics: false });
    m.setRuleFiles([
      ruleFile('loud', true, [perm('LoudCond', 'Bad')]),
      ruleFile('quiet', false, [perm('QuietCond', 'Bad')]),
    ]);
    m.onProblem({ kind: 'temporary', component: 'loud', reason: 'A', message: '', time: new Date() });
    m.onProblem({ kind: 'temporary', component: 'quiet', reason: 'B', message: '', time: new Date() });
    m.onConditions('loud', [cond('LoudCond', 'False', 'Fine')]);
    m.onConditions('quiet', [cond('QuietCond', 'False', 'Fine')]);
    const t = await text(m);
    expect(t).toContain('problem_counter{reason="A"} 1');
    expect(t).not.toContain('problem_counter{reason="B"}');
    expect(t).toContain('problem_gauge{type="LoudCond",reason="Bad"} 0');
    expect(t).not.toContain('reason="Fine"'); // NPD gives default reasons no series
    expect(t).not.toContain('QuietCond');
    expect(t).toContain('nodewarden_rule_matches_total{source="quiet",reason="B"} 1');
  });

  it('a permanent rule counts once per change: repeats are not counted, a new reason is, and the old reason goes to 0', async () => {
    const m = new Metrics({ processMetrics: false });
    m.setRuleFiles([ruleFile('s', true, [perm('Deadlock', 'DockerHung'), perm('Deadlock', 'AufsHung')])]);
    const problem = (reason: string) => ({
      kind: 'permanent' as const,
      component: 's',
      condition: 'Deadlock',
      reason,
      message: '',
      time: new Date(),
    });
    const change = (reason: string, prev: string, status: 'True' | 'False' = 'True') => ({
      component: 's',
      condition: cond('Deadlock', status, reason),
      previous: cond('Deadlock', prev === 'Ok' ? 'False' : 'True', prev),
    });
    // What the detector hands over: a problem per match, a change only when the condition changes.
    m.onProblem(problem('DockerHung'));
    m.onConditionChange(change('DockerHung', 'Ok'));
    for (let i = 0; i < 99; i++) m.onProblem(problem('DockerHung'));
    let t = await text(m);
    expect(t).toContain('problem_counter{reason="DockerHung"} 1');
    expect(t).toContain('problem_gauge{type="Deadlock",reason="DockerHung"} 1');
    expect(t).toContain('problem_gauge{type="Deadlock",reason="AufsHung"} 0');
    expect(t).toContain('nodewarden_rule_matches_total{source="s",reason="DockerHung"} 100');
    m.onProblem(problem('AufsHung'));
    m.onConditionChange(change('AufsHung', 'DockerHung'));
    t = await text(m);
    expect(t).toContain('problem_counter{reason="AufsHung"} 1');
    expect(t).toContain('problem_gauge{type="Deadlock",reason="AufsHung"} 1');
    expect(t).toContain('problem_gauge{type="Deadlock",reason="DockerHung"} 0');
    // recoverAfter (nodewarden's extension): the gauge goes to 0, nothing is counted.
    m.onConditionChange(change('Ok', 'AufsHung', 'False'));
    t = await text(m);
    expect(t).toContain('problem_gauge{type="Deadlock",reason="AufsHung"} 0');
    expect(t).not.toContain('reason="Ok"');
    expect(t).toContain('problem_counter{reason="AufsHung"} 1');
  });

  it('an adopted True condition shows 1 from the start', async () => {
    const m = new Metrics({ processMetrics: false });
    m.setRuleFiles([ruleFile('s', true, [perm('Deadlock', 'DockerHung')])]);
    m.onConditions('s', [cond('Deadlock', 'True', 'DockerHung')]);
    const t = await text(m);
    expect(t).toContain('problem_gauge{type="Deadlock",reason="DockerHung"} 1');
    expect(t).toContain('problem_counter{reason="DockerHung"} 0');
  });

  it("exports each source's health as /healthz judges it, read at every scrape", async () => {
    const m = new Metrics({ processMetrics: false });
    const rows = [{ id: 'kmsg', healthy: true, degraded: false, lastPollAt: 1_700_000_000_500 }];
    m.registerSourceHealth(() => rows);
    let t = await text(m);
    expect(t).toContain('# TYPE nodewarden_source_healthy gauge');
    expect(t).toContain('nodewarden_source_healthy{source="kmsg"} 1');
    expect(t).toContain('nodewarden_source_degraded{source="kmsg"} 0');
    expect(t).toContain('nodewarden_source_last_poll_timestamp_seconds{source="kmsg"} 1700000000.5');
    rows[0] = { id: 'kmsg', healthy: false, degraded: false, lastPollAt: 1_700_000_000_500 };
    rows.push({ id: '/var/log/x', healthy: true, degraded: true, lastPollAt: 0 });
    t = await text(m);
    expect(t).toContain('nodewarden_source_healthy{source="kmsg"} 0');
    expect(t).toContain('nodewarden_source_degraded{source="/var/log/x"} 1');
    rows.shift(); // a source no longer followed disappears
    t = await text(m);
    expect(t).not.toContain('source="kmsg"');
  });

  it('drops problem_gauge series of conditions a reload removed', async () => {
    const m = new Metrics({ processMetrics: false });
    m.setRuleFiles([ruleFile('s', true, [perm('Old', 'Bad')])]);
    m.onConditions('s', [cond('Old', 'True', 'Bad')]);
    expect(await text(m)).toContain('problem_gauge{type="Old",reason="Bad"} 1');
    m.setRuleFiles([ruleFile('s', true, [perm('New', 'Bad')])]);
    m.onConditions('s', [cond('New', 'False', 'Fine')]);
    const t = await text(m);
    expect(t).not.toContain('type="Old"');
    expect(t).toContain('problem_gauge{type="New",reason="Bad"} 0');
  });
});
