// npd-metrics.test.ts: problem_counter and problem_gauge mean what they mean in
// node-problem-detector, end to end: NPD's shipped kernel-monitor.json (rules/) through the
// production loader, a corpus through the Detector, the values read from /metrics text.
// NPD's log monitor (pkg/systemlogmonitor/log_monitor.go, pkg/problemmetrics) counts one per
// Event it generates: each temporary match, and each change a permanent rule makes to its
// condition; the gauge holds one reason per type at 1, every permanent rule's reason starts at
// 0, and default reasons get no series. Every match is in nodewarden_rule_matches_total.
import { describe, expect, it } from 'vitest';
import { loadRuleFiles } from '../agent/config/rule-files';
import { Detector } from '../agent/detector';
import { Metrics } from '../agent/sinks/metrics';
import type { Logger, RuleFile } from '../agent/types';
import { FakeClock } from './helpers/fake-clock';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

/** The value of one series in Prometheus text, or undefined when the series does not exist. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * 100,000 kernel messages: 500 XFS shutdowns (permanent, one condition), 300 OOM kills and 200
 * hung tasks (temporary), 50 hung docker tasks (permanent; each line also matches the temporary
 * TaskHung), the rest chatter.
 */
function corpus(): string[] {
  const special: string[] = [];
  for (let i = 0; i < 500; i++)
    special.push(`XFS (dm-${i % 8}): Corruption of in-memory data detected. Shutting down filesystem`);
  for (let i = 0; i < 300; i++)
    special.push(
      `Out of memory: Killed process ${1000 + i} (java) total-vm:123456kB, anon-rss:65432kB, file-rss:0kB, shmem-rss:0kB`,
    );
  for (let i = 0; i < 200; i++)
    special.push(`INFO: task kworker/${i % 16}:1:${200 + i} blocked for more than 120 seconds.`);
  const docker = Array.from(
    { length: 50 },
    (_, i) => `INFO: task docker:${400 + i} blocked for more than 120 seconds.`,
  );
  const out: string[] = [];
  const total = 100_000;
  const every = Math.floor(total / (special.length + docker.length));
  const queue = [...special.slice(0, 600), ...docker, ...special.slice(600)];
  for (let i = 0; i < total; i++) {
    if (i % every === 0 && queue.length > 0) out.push(queue.shift()!);
    else out.push(`eth0: renamed from veth${i % 997}; link becomes ready ${i}`);
  }
  out.push(...queue);
  return out;
}

async function run(files: RuleFile[], lines: readonly string[]): Promise<{ before: string; after: string }> {
  const clock = new FakeClock();
  const metrics = new Metrics({ processMetrics: false });
  metrics.setRuleFiles(files);
  const d = new Detector(files, { clock, logger, nodeName: 'n1', sinks: [metrics], applyLookback: false });
  const before = (await metrics.render()).body;
  for (let i = 0; i < lines.length; i++) d.handle({ origin: 'kmsg', time: new Date(clock.now() + i), text: lines[i]! });
  return { before, after: (await metrics.render()).body };
}

async function kernelMonitor(): Promise<RuleFile[]> {
  const { files, errors } = await loadRuleFiles(['rules/kernel-monitor.json']);
  expect(errors).toEqual([]);
  return files;
}

describe("problem_counter and problem_gauge: NPD's meaning", () => {
  it('at start: every rule reason counts 0, every permanent (condition, reason) gauges 0, default reasons have no series', async () => {
    const { before } = await run(await kernelMonitor(), []);
    for (const reason of [
      'OOMKilling',
      'TaskHung',
      'KernelOops',
      'XfsHasShutdown',
      'DockerHung',
      'CperHardwareErrorFatal',
    ]) {
      expect(value(before, `problem_counter{reason="${reason}"}`), reason).toBe(0);
    }
    expect(value(before, 'problem_gauge{type="XfsShutdown",reason="XfsHasShutdown"}')).toBe(0);
    expect(value(before, 'problem_gauge{type="KernelDeadlock",reason="DockerHung"}')).toBe(0);
    expect(value(before, 'problem_gauge{type="CperHardwareErrorFatal",reason="CperHardwareErrorFatal"}')).toBe(0);
    expect(before).not.toMatch(
      /problem_gauge\{[^}]*reason="(KernelHasNoDeadlock|XfsHasNotShutDown|CperHardwareHasNoFatalError)"/,
    );
  });

  it('the corpus: 500 XFS shutdown lines count 1, 50 docker hangs count 1, temporary matches count each', async () => {
    const { after } = await run(await kernelMonitor(), corpus());
    // NPD: one Event per condition change of a permanent rule; repeats are not Events.
    expect(value(after, 'problem_counter{reason="XfsHasShutdown"}')).toBe(1);
    expect(value(after, 'problem_counter{reason="DockerHung"}')).toBe(1);
    // One Event per temporary match (the hung docker lines are TaskHung too).
    expect(value(after, 'problem_counter{reason="OOMKilling"}')).toBe(300);
    expect(value(after, 'problem_counter{reason="TaskHung"}')).toBe(200 + 50);
    expect(value(after, 'problem_counter{reason="KernelOops"}')).toBe(0);
    // The reason the condition holds is at 1; the other permanent ones stay 0.
    expect(value(after, 'problem_gauge{type="XfsShutdown",reason="XfsHasShutdown"}')).toBe(1);
    expect(value(after, 'problem_gauge{type="KernelDeadlock",reason="DockerHung"}')).toBe(1);
    expect(value(after, 'problem_gauge{type="CperHardwareErrorFatal",reason="CperHardwareErrorFatal"}')).toBe(0);
    // Every match, repeats included, under nodewarden's own name.
    expect(value(after, 'nodewarden_rule_matches_total{source="kernel-monitor",reason="XfsHasShutdown"}')).toBe(500);
    expect(value(after, 'nodewarden_rule_matches_total{source="kernel-monitor",reason="DockerHung"}')).toBe(50);
    expect(value(after, 'nodewarden_rule_matches_total{source="kernel-monitor",reason="TaskHung"}')).toBe(250);
    expect(value(after, 'nodewarden_rule_matches_total{source="kernel-monitor",reason="KernelOops"}')).toBe(0);
  });

  it('metricsReporting: false: no problem_counter or problem_gauge series at all, as in NPD; matches still counted', async () => {
    const files = (await kernelMonitor()).map((f) => ({ ...f, metricsReporting: false }));
    const { before, after } = await run(files, corpus());
    for (const text of [before, after]) {
      expect(text).not.toMatch(/^problem_counter\{/m);
      expect(text).not.toMatch(/^problem_gauge\{/m);
    }
    expect(value(after, 'nodewarden_rule_matches_total{source="kernel-monitor",reason="XfsHasShutdown"}')).toBe(500);
  });
});
