// agent-plugins.test.ts: custom plugin files through the composition root, on the fake clock with
// the fake plugin port and the fake API server: a plugin's Unknown reaches the Node's status
// patch, /conditions and problem_gauge; its Events reach the Node; a reload swaps plugin files
// and the types they declare (a type no longer declared is removed from the Node).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type SourceFactory } from '../../agent/agent';
import { loadRuleFiles } from '../../agent/config/rule-files';
import { parseSettings } from '../../agent/config/settings';
import { createKubeClient } from '../../agent/kube/client';
import { Metrics } from '../../agent/sinks/metrics';
import type { Logger } from '../../agent/types';
import { freePort } from '../e2e/agent-process';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { FakeClock } from '../helpers/fake-clock';
import { FakePluginPort, settle } from './fake-plugin-port';
import { NPD_DIR, npdTextWithPaths } from './plugin-fixtures';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const noSources: SourceFactory = {
  kmsg: () => {
    throw new Error('kmsg is disabled in this test');
  },
  file: () => {
    throw new Error('no file sources in this test');
  },
};

interface WireCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** The agent on one rule file with this text, the fake clock, the fake port and the fake API server. */
async function startAgent(name: string, text: string, metricsAddress = '127.0.0.1:0') {
  const api = await FakeApiServer.start();
  cleanups.push(() => api.close());
  api.addNode('wired');
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-agent-plugins-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const rulePath = join(dir, name);
  writeFileSync(rulePath, text);
  const args = ['run', '--rules', rulePath, '--state-dir', join(dir, 'state'), '--kmsg-path', ''];
  const parsed = parseSettings([...args, '--metrics-address', metricsAddress, '--reload-interval', '1s'], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const loaded = await loadRuleFiles([rulePath]);
  expect(loaded.errors).toEqual([]);
  const clock = new FakeClock(Date.parse('2026-06-15T12:00:00Z'));
  const plugins = new FakePluginPort();
  const metrics = new Metrics({ processMetrics: false });
  const agent = new Agent({
    settings: parsed.settings,
    files: loaded.files,
    plugins: loaded.plugins,
    rulePaths: [rulePath],
    logger: quiet,
    clock,
    metrics,
    nodeName: 'wired',
    sources: noSources,
    pluginPort: plugins,
    kube: createKubeClient({ kubeconfig: api.writeKubeconfig(dir) })!,
  });
  cleanups.push(() => agent.stop(1000));
  await agent.start();
  return { api, rulePath, clock, plugins, metrics, agent };
}

describe('custom plugins in the agent', () => {
  it('a plugin Unknown reaches /conditions and problem_gauge, its Events the Node; a reload swaps files and drops their types', async () => {
    const port = await freePort();
    const t = await startAgent(
      'custom.json',
      npdTextWithPaths('custom-plugin-monitor.json', ['/t/ntp-temp', '/t/ntp-perm']),
      `127.0.0.1:${port}`,
    );
    const { api, rulePath, clock, plugins, metrics, agent } = t;
    expect(plugins.started).toEqual(['/t/ntp-temp', '/t/ntp-perm']);

    plugins.of('/t/ntp-temp').exit(1, 'ntp is down');
    plugins.of('/t/ntp-perm').exit(1, 'ntp is down');
    await settle();
    clock.advance(30_000);
    plugins.of('/t/ntp-temp').exit(0, '');
    plugins.of('/t/ntp-perm').exit(2, 'ntpd unreachable');
    await settle();

    const served = (await (await fetch(`http://127.0.0.1:${port}/conditions`)).json()) as WireCondition[];
    expect(served).toEqual([
      expect.objectContaining({
        type: 'NTPProblem',
        status: 'Unknown',
        reason: 'NTPIsUp',
        message: 'ntpd unreachable',
      }),
    ]);
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).toMatch(/problem_gauge\{type="NTPProblem",reason="NTPIsDown"\} 0/);
    expect(metricsText).toMatch(/problem_counter\{reason="NTPIsDown"\} 2/);
    expect(metricsText).toMatch(
      /nodewarden_component_events_total\{component_kind="plugin",component_id="[^"]*custom\.json",counter="unknown"\} 1/,
    );

    // Reload: the NTP file becomes NPD's network-problem-monitor.json (no conditions).
    writeFileSync(rulePath, npdTextWithPaths('network-problem-monitor.json', ['/t/conntrack', '/t/dns']));
    for (let i = 0; i < 20 && !plugins.started.includes('/t/dns'); i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(plugins.started.slice(-2)).toEqual(['/t/conntrack', '/t/dns']);
    expect(agent.conditions()).toEqual([]);
    plugins.of('/t/dns').exit(1, 'DNS lookup failed');
    await settle();

    await agent.stop(5000);
    const onNode = api.conditionsOf('wired') as unknown as WireCondition[];
    expect(onNode.find((c) => c.type === 'NTPProblem')).toBeUndefined(); // no longer declared: removed
    const events = api.listEvents('involvedObject.name=wired') as unknown as { reason: string; message: string }[];
    expect(events.map((e) => `${e.reason}: ${e.message}`).sort()).toEqual([
      'DNSUnreachable: DNS lookup failed',
      'NTPIsDown: Node condition NTPProblem is now: True, reason: NTPIsDown, message: "ntp is down"',
      'NTPIsDown: ntp is down',
      'NTPIsUp: Node condition NTPProblem is now: Unknown, reason: NTPIsUp, message: "ntpd unreachable"',
    ]);
  });

  it('patches a plugin Unknown onto the Node', async () => {
    const { api, plugins, agent } = await startAgent(
      'kubelet.json',
      readFileSync(join(NPD_DIR, 'health-checker-kubelet.json'), 'utf8'),
    );
    expect(plugins.pending[0]?.req.args).toContain('--component=kubelet');
    plugins.of('/home/kubernetes/bin/health-checker').fail('ENOENT: spawn /home/kubernetes/bin/health-checker ENOENT');
    await settle();
    await agent.stop(5000);
    expect(api.conditionsOf('wired')).toContainEqual(
      expect.objectContaining({
        type: 'KubeletUnhealthy',
        status: 'Unknown',
        reason: 'KubeletIsHealthy',
        message: 'cannot start plugin: ENOENT: spawn /home/kubernetes/bin/health-checker ENOENT',
      }),
    );
  });
});
