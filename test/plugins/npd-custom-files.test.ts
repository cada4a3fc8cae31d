// npd-custom-files.test.ts: NPD's shipped custom plugin files, end to end with real processes.
// custom-plugin-monitor.json and network-problem-monitor.json are read from the fixtures and
// only their rules' `path` fields are rewritten in memory, to small scripts written at test
// time, before the text goes to the production validator; the daemon then sets conditions and
// posts Events from those scripts, and NPD's problem metrics follow. The counters' and health
// checkers' helper binaries are absent here: running those files unchanged yields Unknown and
// counted start failures. Time is the fake clock; the processes are real.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRuleFiles, parseRuleFile } from '../../agent/config/rule-files';
import { PluginDaemon } from '../../agent/plugins/plugin-daemon';
import { realPluginPort } from '../../agent/plugins/plugin-port';
import { Metrics } from '../../agent/sinks/metrics';
import type { ConditionChange, Logger, NodeEvent, PluginFile, Sink } from '../../agent/types';
import { formatConfigError } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';
import { NPD_DIR, npdTextWithPaths } from './plugin-fixtures';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const dir = mkdtempSync(join(tmpdir(), `nodewarden-npd-plugins-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A plugin script whose exit code and output come from a state file the test writes. */
function stateful(name: string): { path: string; set: (code: number, output: string) => void } {
  const state = join(dir, `${name}.state`);
  const path = join(dir, `${name}.sh`);
  writeFileSync(path, `#!/bin/sh\nread code < "${state}.code"\ncat "${state}.out"\nexit "$code"\n`);
  chmodSync(path, 0o755);
  const set = (code: number, output: string): void => {
    writeFileSync(`${state}.code`, `${code}\n`);
    writeFileSync(`${state}.out`, output);
  };
  set(0, '');
  return { path, set };
}

/** NPD's file from the fixtures, with only each rule's `path` replaced, through the validator. */
function npdFileWithPaths(name: string, paths: readonly string[]): PluginFile {
  const r = parseRuleFile(join(NPD_DIR, name), npdTextWithPaths(name, paths));
  expect(r.errors.map(formatConfigError)).toEqual([]);
  return r.plugin!;
}

function setup(files: PluginFile[]) {
  const clock = new FakeClock();
  const metrics = new Metrics({ processMetrics: false });
  metrics.setRuleFiles(files);
  const events: NodeEvent[] = [];
  const changes: ConditionChange[] = [];
  const rec: Sink = { name: 'rec', onEvent: (e) => events.push(e), onConditionChange: (c) => changes.push(c) };
  const daemon = new PluginDaemon(files, {
    clock,
    logger,
    nodeName: 'n1',
    sinks: [metrics, rec],
    port: realPluginPort,
  });
  const metric = async (re: RegExp): Promise<number> => Number(re.exec(await metrics.registry.metrics())?.[1] ?? 'NaN');
  /** Runs the next round (the first at start) and waits for every plugin of it. */
  const nextRound = async (first = false): Promise<void> => {
    if (first) daemon.start();
    else clock.advance(files[0]!.invokeIntervalMs);
    await daemon.idle();
  };
  return { clock, daemon, events, changes, metric, nextRound };
}

describe("NPD's custom-plugin-monitor.json with test plugins", () => {
  it('sets NTPProblem and posts Events from the plugin, through True, Unknown and False', async () => {
    const temp = stateful('ntp-temp');
    const perm = stateful('ntp-perm');
    const file = npdFileWithPaths('custom-plugin-monitor.json', [temp.path, perm.path]);
    expect(file).toMatchObject({ component: 'ntp-custom-plugin-monitor', invokeIntervalMs: 30_000, concurrency: 3 });
    const t = setup([file]);
    const status = (): string =>
      t.daemon
        .conditions()
        .map((c) => `${c.status}/${c.reason}/${c.message}`)
        .join();
    const gauge = /problem_gauge\{type="NTPProblem",reason="NTPIsDown"\} (\d+)/;
    const counter = /problem_counter\{reason="NTPIsDown"\} (\d+)/;

    await t.nextRound(true);
    expect(status()).toBe('False/NTPIsUp/ntp service is up');
    expect(t.events).toEqual([]);
    expect(await t.metric(counter)).toBe(0);

    temp.set(1, 'NTP is down\n');
    perm.set(1, `NTP service is not running: ${'x'.repeat(100)}\n`);
    await t.nextRound();
    // The message is the output, cut at max_output_length (80 bytes).
    const cut = `NTP service is not running: ${'x'.repeat(100)}`.slice(0, 80);
    expect(status()).toBe(`True/NTPIsDown/${cut}`);
    expect(t.events.map((e) => [e.type, e.reason, e.component]).sort()).toEqual([
      ['Warning', 'NTPIsDown', 'ntp-custom-plugin-monitor'],
      ['Warning', 'NTPIsDown', 'ntp-custom-plugin-monitor'],
    ]);
    expect(t.events.map((e) => e.message).sort()).toEqual([
      'NTP is down',
      `Node condition NTPProblem is now: True, reason: NTPIsDown, message: "${cut}"`,
    ]);
    expect(await t.metric(gauge)).toBe(1);
    expect(await t.metric(counter)).toBe(2); // the temporary Event and the condition change

    temp.set(0, '');
    perm.set(2, 'cannot reach ntpd\n');
    await t.nextRound();
    expect(status()).toBe('Unknown/NTPIsUp/cannot reach ntpd');
    expect(await t.metric(gauge)).toBe(0);

    perm.set(0, 'NTP is fine\n');
    await t.nextRound();
    expect(status()).toBe('False/NTPIsUp/ntp service is up');
    expect(t.changes.map((c) => c.condition.status)).toEqual(['True', 'Unknown', 'False']);
    expect(await t.metric(counter)).toBe(2);
    t.daemon.stop();
  });
});

describe("NPD's network-problem-monitor.json with test plugins", () => {
  it('posts ConntrackFull and DNSUnreachable Events from its two plugins', async () => {
    const conntrack = stateful('conntrack');
    const dns = stateful('dns');
    const file = npdFileWithPaths('network-problem-monitor.json', [conntrack.path, dns.path]);
    const t = setup([file]);
    conntrack.set(1, 'Conntrack table usage over 90%: 29000 out of 32000\n');
    dns.set(0, '');
    await t.nextRound(true);
    dns.set(1, 'DNS lookup of kubernetes.default failed\n');
    conntrack.set(0, '');
    await t.nextRound();
    expect(t.events.map((e) => [e.type, e.reason, e.message, e.component])).toEqual([
      [
        'Warning',
        'ConntrackFull',
        'Conntrack table usage over 90%: 29000 out of 32000',
        'network-custom-plugin-monitor',
      ],
      ['Warning', 'DNSUnreachable', 'DNS lookup of kubernetes.default failed', 'network-custom-plugin-monitor'],
    ]);
    expect(t.changes).toEqual([]);
    expect(await t.metric(/problem_counter\{reason="DNSUnreachable"\} (\d+)/)).toBe(1);
    t.daemon.stop();
  });
});

describe("NPD's counter and health-checker files, unchanged (their binaries are absent)", () => {
  it('sets their conditions Unknown and counts the start failures', async () => {
    const names = [
      'kernel-monitor-counter.json',
      'systemd-monitor-counter.json',
      'docker-monitor-counter.json',
      'health-checker-kubelet.json',
      'health-checker-containerd.json',
    ];
    const r = await loadRuleFiles(names.map((n) => join(NPD_DIR, n)));
    expect(r.errors).toEqual([]);
    const t = setup(r.plugins);
    t.daemon.start();
    await t.daemon.idle();
    const conds = t.daemon.conditions();
    expect(conds.length).toBeGreaterThanOrEqual(6);
    for (const c of conds) {
      expect(c.status, c.type).toBe('Unknown');
      expect(c.message).toMatch(/^cannot start plugin: .*ENOENT/);
    }
    const stats = [...t.daemon.counterMap().values()];
    const rules = r.plugins.reduce((n, f) => n + f.rules.length, 0);
    expect(stats.reduce((n, s) => n + s.startFailures, 0)).toBe(rules);
    expect(stats.reduce((n, s) => n + s.unknown, 0)).toBe(rules);
    t.daemon.stop();
  });
});
