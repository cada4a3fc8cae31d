// agent.test.ts: the wiring, in process, against the fake API server over HTTP and the real
// /dev/kmsg: adoption of the Node's conditions at start, detection → condition patch and Event,
// flush of pending work on stop (SIGTERM's path) within the deadline, idempotent stop, and a
// reload that drops a condition type from the Node and stops following a file no longer named.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Agent } from '../agent/agent';
import { systemClock } from '../agent/runtime/clock';
import { loadRuleFiles } from '../agent/config/rule-files';
import { parseSettings } from '../agent/config/settings';
import { createKubeClient } from '../agent/kube/client';
import { Metrics } from '../agent/sinks/metrics';
import { CheckpointStore, checkpointName } from '../agent/sources/checkpoint';
import type { Clock, Logger } from '../agent/types';
import { eventually } from './helpers/eventually';
import { FakeApiServer } from './helpers/fake-apiserver';
import { FakeClock } from './helpers/fake-clock';
import { describeWithParts } from './helpers/system-parts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Cond {
  type: string;
  status: string;
  reason: string;
  message?: string;
  lastTransitionTime?: string;
}

async function setup(
  ruleFile: (marker: string) => object,
  extraArgs: readonly string[] = [],
  clock: Clock = systemClock,
) {
  const marker = `nwagent${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-agent-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const rulesPath = join(dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify(ruleFile(marker)));
  const api = await FakeApiServer.start();
  cleanups.push(() => api.close());
  const node = `agent-test-${marker}`;
  const parsed = parseSettings(
    [
      'run',
      '--rules',
      rulesPath,
      '--state-dir',
      join(dir, 'state'),
      '--metrics-address',
      '127.0.0.1:0',
      '--node-name',
      node,
      '--heartbeat-period',
      '1h',
      '--reload-interval',
      '100ms',
      ...extraArgs,
    ],
    {},
  );
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const kube = createKubeClient({ kubeconfig: api.writeKubeconfig(dir) });
  if (!kube) throw new Error('no kube client');
  const metrics = new Metrics({ processMetrics: false });
  const start = async (): Promise<Agent> => {
    const { files, errors } = await loadRuleFiles([rulesPath]);
    expect(errors).toEqual([]);
    const agent = new Agent({
      settings: parsed.settings,
      files,
      rulePaths: [rulesPath],
      logger: quiet,
      clock,
      metrics,
      nodeName: node,
      kube,
    });
    cleanups.push(() => agent.stop(1000));
    await agent.start();
    return agent;
  };
  return { marker, dir, rulesPath, api, node, start, metrics };
}

const rules = (marker: string, extra: object[] = []) => ({
  plugin: 'kmsg',
  source: 'agent-test',
  conditions: [{ type: 'AgentTestBroken', reason: 'AgentTestFine', message: 'fine' }, ...extra],
  rules: [
    { type: 'permanent', condition: 'AgentTestBroken', reason: 'AgentTestBrokeDown', pattern: `${marker} broke .*` },
    { type: 'temporary', reason: 'AgentTestBlip', pattern: `${marker} blip \\d+` },
  ],
});

const kmsg = (text: string): void => writeFileSync('/dev/kmsg', `<3>${text}\n`);

describeWithParts(['kmsg'], 'Agent against the fake API server', () => {
  it('adopts the True condition the Node already shows instead of resetting it, and leaves the kubelet alone', async () => {
    const t = await setup((m) => rules(m));
    const since = '2026-01-01T00:00:00Z';
    t.api.addNode(t.node, [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'kubelet is posting ready status',
        lastTransitionTime: since,
      },
      {
        type: 'AgentTestBroken',
        status: 'True',
        reason: 'AgentTestBrokeDown',
        message: 'from before the restart',
        lastTransitionTime: since,
      },
    ]);
    const agent = await t.start();
    expect(agent.conditions().find((c) => c.type === 'AgentTestBroken')).toMatchObject({
      status: 'True',
      reason: 'AgentTestBrokeDown',
    });
    await agent.stop();
    const conds = t.api.conditionsOf(t.node) as unknown as Cond[];
    expect(conds.find((c) => c.type === 'AgentTestBroken')).toMatchObject({
      status: 'True',
      reason: 'AgentTestBrokeDown',
      lastTransitionTime: since,
    });
    expect(conds.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KubeletReady' });
    for (const r of t.api.requestsTo('PATCH', /\/nodes\/.*\/status/)) expect(r.body).not.toContain('"Ready"');
  });

  it('on stop, delivers the condition and the Event found just before, within the deadline; stop is idempotent', async () => {
    const t = await setup((m) => rules(m));
    t.api.addNode(t.node);
    const agent = await t.start();
    kmsg(`${t.marker} blip 1`);
    kmsg(`${t.marker} broke down hard`);
    // Hang guard: ≥ 10× the at most 500 ms an idle kmsg poll takes to see the record.
    await eventually(
      'detection',
      () => agent.conditions().find((c) => c.type === 'AgentTestBroken' && c.status === 'True'),
      { ms: 15_000 },
    );
    const first = agent.stop(5000);
    expect(agent.stop(5000)).toBe(first);
    await first;
    const conds = t.api.conditionsOf(t.node) as unknown as Cond[];
    expect(conds.find((c) => c.type === 'AgentTestBroken')).toMatchObject({
      status: 'True',
      reason: 'AgentTestBrokeDown',
      message: `${t.marker} broke down hard`,
    });
    const events = t.api.listEvents(`involvedObject.name=${t.node}`) as unknown as {
      reason: string;
      message: string;
      count: number;
      source: { component: string; host: string };
    }[];
    expect(events.find((e) => e.reason === 'AgentTestBlip')).toMatchObject({
      message: `${t.marker} blip 1`,
      count: 1,
      source: { component: 'agent-test', host: t.node },
    });
    expect(events.find((e) => e.reason === 'AgentTestBrokeDown')).toBeDefined();
  });

  it('wires the peer flags: Service and reverse-DNS counters exist only when those lookups are on', async () => {
    const resolvers = async (args: readonly string[]): Promise<string[]> => {
      const t = await setup((m) => rules(m), args);
      t.api.addNode(t.node);
      const agent = await t.start();
      const text = await t.metrics.registry.metrics();
      await agent.stop();
      const ids = [...text.matchAll(/component_kind="resolver",component_id="([^"]+)"/g)].map((m) => m[1]!);
      return [...new Set(ids)].sort();
    };
    expect(await resolvers([])).toEqual(['local-pods', 'namespace-services', 'peer-cache', 'peers', 'service-ips']);
    // The DNS server is never asked here (no drops); it only has to be configured.
    expect(await resolvers(['--drop-peer-services=false', '--drop-peer-dns', '127.0.0.1:53'])).toEqual([
      'local-pods',
      'peer-cache',
      'peers',
      'reverse-dns',
    ]);
  });

  it('returns from stop by its deadline while the API server hangs', async () => {
    const t = await setup((m) => rules(m));
    t.api.addNode(t.node);
    const agent = await t.start();
    t.api.setHang(true);
    cleanups.push(() => t.api.setHang(false));
    kmsg(`${t.marker} blip 2`);
    await eventually('line handled', () => agent.sourceList().some((src) => src.stats.sent > 0) || undefined, {
      ms: 15_000,
    }); // hang guard, as above
    await eventually('a request hangs', () => t.api.hungRequests() > 0 || undefined, { ms: 5000 });
    await agent.stop(800);
    // Order, not time: stop returned while a request was still hanging, neither answered nor
    // given up by the client (whose timeout is 10 s), so stop did not wait for it.
    expect(t.api.hungRequests()).toBeGreaterThan(0);
  });

  it('a reload follows a newly named file, and stops following (and forgets) one no longer named', async () => {
    const t = await setup((m) => rules(m));
    t.api.addNode(t.node);
    const agent = await t.start();
    const log = join(t.dir, 'kern.log');
    writeFileSync(log, 'Jun 15 11:59:00 n kernel: [ 1.0] hello\n');
    const filelog = {
      plugin: 'filelog',
      logPath: log,
      pluginConfig: { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' },
      source: 'agent-test-file',
      conditions: [{ type: 'AgentTestBroken', reason: 'AgentTestFine', message: 'fine' }],
      rules: [{ type: 'temporary', reason: 'AgentTestFileBlip', pattern: `${t.marker} .*` }],
    };
    writeFileSync(t.rulesPath, JSON.stringify(filelog));
    await eventually('file followed', () => agent.sourceList().some((s) => s.id === log) || undefined, { ms: 5000 });
    await eventually('line read', () => agent.sourceList().find((s) => s.id === log)!.stats.sent > 0 || undefined, {
      ms: 5000,
    });
    writeFileSync(t.rulesPath, JSON.stringify(rules(t.marker)));
    await eventually('file no longer followed', () => !agent.sourceList().some((s) => s.id === log) || undefined, {
      ms: 5000,
    });
    const checkpoint = new CheckpointStore(join(t.dir, 'state'), quiet).fileFor(
      checkpointName({ kind: 'file', path: log }),
    );
    await eventually('its position forgotten', () => !existsSync(checkpoint) || undefined, { ms: 5000 });
    expect(agent.sourceList().map((s) => s.id)).toEqual(['kmsg']);
    await agent.stop();
  });

  it('a reload that drops a condition type removes it from the Node', async () => {
    const t = await setup((m) => rules(m, [{ type: 'AgentTestExtra', reason: 'ExtraFine', message: 'fine' }]));
    t.api.addNode(t.node);
    const agent = await t.start();
    await eventually(
      'both types on the node',
      () => {
        const types = (t.api.conditionsOf(t.node) as unknown as Cond[]).map((c) => c.type);
        return (types.includes('AgentTestExtra') && types.includes('AgentTestBroken')) || undefined;
      },
      { ms: 5000 },
    );
    writeFileSync(t.rulesPath, JSON.stringify(rules(t.marker)));
    await eventually(
      'extra type removed',
      () => {
        const types = (t.api.conditionsOf(t.node) as unknown as Cond[]).map((c) => c.type);
        return (!types.includes('AgentTestExtra') && types.includes('AgentTestBroken')) || undefined;
      },
      { ms: 5000 },
    );
    await agent.stop();
  });

  it('API down at start past the adoption deadline: nothing is written until the Node is read, then the True condition it shows is kept', async () => {
    const clock = new FakeClock(Date.now());
    const t = await setup((m) => rules(m), ['--kmsg-path', ''], clock);
    const since = '2026-01-01T00:00:00Z';
    t.api.addNode(t.node, [
      {
        type: 'AgentTestBroken',
        status: 'True',
        reason: 'AgentTestBrokeDown',
        message: 'from before the restart',
        lastTransitionTime: since,
      },
    ]);
    // 503 for everything: requests are recorded, so what the agent tried while down shows.
    t.api.failNext(Number.MAX_SAFE_INTEGER, { code: 503 });
    let agent: Agent | undefined;
    const starting = t.start().then((a) => (agent = a));
    // Fake time runs past the 30 s adoption deadline; real time only lets the refused connects happen.
    for (let i = 0; i < 120 && agent === undefined; i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    await starting;
    expect(agent!.conditions().find((c) => c.type === 'AgentTestBroken')).toMatchObject({ status: 'False' }); // the default, for now
    for (let i = 0; i < 30; i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Down for 60 s: the agent kept trying to read the Node, and never tried to write it.
    expect(t.api.requestsTo('GET', new RegExp(`/nodes/${t.node}$`)).length).toBeGreaterThan(3);
    expect(t.api.requestsTo('PATCH', /\/nodes\//)).toHaveLength(0);
    t.api.clearFaults();
    const patched = (): boolean => t.api.requestsTo('PATCH', /\/nodes\/.*\/status/).length > 0;
    // The late read retries with backoff capped at 10 s; the guard is 60 s of fake time.
    for (let i = 0; i < 60 && !patched(); i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(patched()).toBe(true);
    expect(t.api.requestsTo('GET', new RegExp(`/nodes/${t.node}$`)).length).toBeGreaterThanOrEqual(1);
    for (const r of t.api.requestsTo('PATCH', /\/nodes\/.*\/status/)) expect(r.body).not.toContain('AgentTestFine');
    const conds = t.api.conditionsOf(t.node) as unknown as Cond[];
    expect(conds.find((c) => c.type === 'AgentTestBroken')).toMatchObject({
      status: 'True',
      reason: 'AgentTestBrokeDown',
      lastTransitionTime: since,
    });
    expect(agent!.conditions().find((c) => c.type === 'AgentTestBroken')).toMatchObject({
      status: 'True',
      reason: 'AgentTestBrokeDown',
    });
  });
});
