// prometheus-real.test.ts: a real Prometheus (Debian's 2.42) scrapes the real bundled agent
// (dist/nodewarden.cjs), connected to the in-process fake API server, the way the PodMonitor and
// the DaemonSet's annotations describe (same path; node and job labels as the PodMonitor's
// relabelings set them). The test injects kmsg records matching a private rule file and real
// packet drops (iptables LOG in private network namespaces, read by the agent from /dev/kmsg),
// then checks through Prometheus's API: metric types (/api/v1/metadata) and labels
// (/api/v1/series), drop counts equal to the kernel's LOG lines, every alert rule evaluating
// without error (and the condition alert pending), and every dashboard query returning data.
// Needs root, iproute2, iptables and the prometheus package; skipped with the reason otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AgentProcess, freePort } from './e2e/agent-process';
import { eventually } from './helpers/eventually';
import { FakeApiServer } from './helpers/fake-apiserver';
import { FakePods } from './helpers/fake-apiserver-pods';
import { createVethPair, deleteNetns, enableLogAllNetns, inNs, readKmsg } from './helpers/netns';
import { dashboardTargets, metricNames, substituteVariables } from './helpers/prometheus';
import { needsParts } from './helpers/system-parts';
import { findOne, loadAll, manifestsDir } from './manifests/load-manifests';

const SUITE = 'a real Prometheus scraping the real agent';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TAG = String(100000 + Math.floor(Math.random() * 899999));
const N = 1 + Math.floor(Math.random() * 250);
const NODE = `nwprom-${TAG}`;
const MARK = `nwprom${TAG}`;
const DROP = `nwp${TAG}:`; // verdict drop
const AUDIT = `nwpa${TAG}:`; // verdict audit
const NS_A = `nwpromA${TAG}`;
const NS_B = `nwpromB${TAG}`;
const IF_A = `pa${TAG}`;
const IF_B = `pb${TAG}`;
const A4 = `10.214.${N}.1`;
const B4 = `10.214.${N}.2`;
const A6 = `fd00:214:${N.toString(16)}::1`;
const B6 = `fd00:214:${N.toString(16)}::2`;
/**
 * Hang guard for each wait on the agent and Prometheus (and, plus a margin, each test's timeout):
 * each normally settles within a few seconds (the whole file runs in about 10 s).
 */
const WAIT_MS = 120_000;

const dashboard = JSON.parse(readFileSync(join(manifestsDir, 'extras', 'grafana-dashboard.json'), 'utf8')) as {
  panels: [];
};

let work = '';
let api: FakeApiServer | undefined;
let agent: AgentProcess | undefined;
let prom: ChildProcess | undefined;
let promOutput = '';
let promUrl = '';
let agentUrl = '';
let restoreLogAllNetns: (() => void) | undefined;
/** The kernel's LOG lines for our prefixes, as /dev/kmsg holds them. */
let logged: string[] = [];

/** The scrape target as the manifests describe it: path, port, and the PodMonitor's labels. */
function scrapeSpec(): { path: string; port: number; job: string } {
  const { base, extras } = loadAll();
  const ds = findOne(base, 'DaemonSet') as Json;
  const pod = ds.spec.template;
  const ann = pod.metadata.annotations as Record<string, string>;
  const container = pod.spec.containers[0];
  const metricsPort = (container.ports as Json[]).find((p) => p.name === 'metrics') as Json;
  const pm = findOne(extras, 'PodMonitor') as Json;
  const endpoint = pm.spec.podMetricsEndpoints[0];
  const jobRelabel = (endpoint.relabelings as Json[]).find((r) => r.targetLabel === 'job');
  expect(ann['prometheus.io/scrape']).toBe('true');
  expect(ann['prometheus.io/path']).toBe(endpoint.path);
  expect(Number(ann['prometheus.io/port'])).toBe(metricsPort.containerPort);
  expect(endpoint.port).toBe(metricsPort.name);
  expect(
    (endpoint.relabelings as Json[]).some(
      (r) => r.targetLabel === 'node' && r.sourceLabels?.[0] === '__meta_kubernetes_pod_node_name',
    ),
  ).toBe(true);
  return { path: endpoint.path, port: metricsPort.containerPort, job: jobRelabel?.replacement };
}

async function getJson(url: string): Promise<Json> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as Json;
  if (body.status !== 'success') throw new Error(`${url}: ${JSON.stringify(body)}`);
  return body.data as Json;
}

/** An instant query; throws on a PromQL error (so a broken expression fails, not times out). */
async function query(expr: string): Promise<Json[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as Json;
  if (body.status !== 'success') throw new PromQLError(`${expr}: ${body.errorType}: ${body.error}`);
  return body.data.result as Json[];
}

class PromQLError extends Error {}

/** Polls an instant query until it returns series; a PromQL error fails at once. */
async function nonEmpty(what: string, expr: string): Promise<[Json, ...Json[]]> {
  let err: PromQLError | undefined;
  const r = await eventually(
    what,
    async () => {
      try {
        const v = await query(expr);
        return v.length > 0 ? v : undefined;
      } catch (e) {
        if (e instanceof PromQLError) {
          err = e;
          return [] as Json[]; // stop waiting: report below
        }
        throw e;
      }
    },
    { ms: WAIT_MS, everyMs: 500, agent: () => agent },
  );
  if (err) throw err;
  return r as [Json, ...Json[]];
}

function writeRules(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'prom-test.json'),
    JSON.stringify({
      plugin: 'kmsg',
      source: 'nwprom-monitor',
      conditions: [{ type: 'NwpromBroken', reason: 'NwpromFine', message: 'all fine' }],
      rules: [
        { type: 'temporary', reason: 'NwpromOops', pattern: `${MARK}: oops.*` },
        { type: 'permanent', condition: 'NwpromBroken', reason: 'NwpromBrokenNow', pattern: `${MARK}: broken.*` },
      ],
    }),
  );
}

function setupDrops(): void {
  createVethPair({
    nsA: NS_A,
    nsB: NS_B,
    ifA: IF_A,
    ifB: IF_B,
    addrsA: [`${A4}/24`, `${A6}/64`],
    addrsB: [`${B4}/24`, `${B6}/64`],
  });
  for (const ipt of ['iptables', 'ip6tables']) {
    const icmp =
      ipt === 'ip6tables'
        ? ['-p', 'ipv6-icmp', '--icmpv6-type', 'echo-request']
        : ['-p', 'icmp', '--icmp-type', 'echo-request'];
    const logDrop = (match: string[], prefix: string): void => {
      inNs(NS_B, ipt, '-A', 'INPUT', ...match, '-j', 'LOG', '--log-prefix', `${prefix} `);
      inNs(NS_B, ipt, '-A', 'INPUT', ...match, '-j', 'DROP');
    };
    logDrop(['-p', 'tcp', '--dport', '8080'], DROP);
    logDrop(['-p', 'udp', '--dport', '5353'], AUDIT);
    logDrop(icmp, DROP);
  }
  restoreLogAllNetns = enableLogAllNetns();
  const script = [
    `for h in ${B4} ${B6}; do`,
    `  (timeout 1.5 bash -c "echo > /dev/tcp/$h/8080" 2>/dev/null &)`,
    `  echo x > /dev/udp/$h/5353 2>/dev/null`,
    `done`,
    `ping -c1 -W1 ${B4} >/dev/null 2>&1 &`,
    `ping -6 -c1 -W1 ${B6} >/dev/null 2>&1 &`,
    `sleep 1.8; wait`,
  ].join('\n');
  try {
    inNs(NS_A, 'bash', '-c', script);
  } finally {
    restoreLogAllNetns();
  }
  logged = readKmsg((t) => t.startsWith(DROP) || t.startsWith(AUDIT)).map((r) => r.text);
}

async function startPrometheus(agentPort: number, spec: { path: string; job: string }): Promise<void> {
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  // The PrometheusRule's groups, so the real Prometheus evaluates the shipped alerts too.
  const rule = findOne(loadAll().extras, 'PrometheusRule') as Json;
  writeFileSync(join(work, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
  writeFileSync(
    join(work, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [join(work, 'rules.yaml')],
      scrape_configs: [
        {
          job_name: spec.job,
          metrics_path: spec.path,
          // What the PodMonitor's relabelings produce: the pod's node, and the job.
          static_configs: [{ targets: [`127.0.0.1:${agentPort}`], labels: { node: NODE } }],
        },
      ],
    }),
  );
  prom = spawn(
    'prometheus',
    [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (b: Buffer): void => {
    promOutput = (promOutput + b.toString('utf8')).slice(-10_000);
  };
  prom.stdout?.on('data', keep);
  prom.stderr?.on('data', keep);
  await eventually(
    'prometheus ready',
    async () => {
      if (prom?.exitCode !== null) throw new Error(`prometheus exited: ${promOutput}`);
      const r = await fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(2000) });
      return r.ok;
    },
    { ms: WAIT_MS, everyMs: 200 },
  );
}

async function stopPrometheus(): Promise<void> {
  const p = prom;
  if (!p || p.exitCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const kill = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(kill);
}

describe.skipIf(needsParts(['root', 'kmsg', 'ip', 'iptables', 'ip6tables', 'prometheus'], SUITE).skip)(SUITE, () => {
  beforeAll(async () => {
    const spec = scrapeSpec();
    expect(spec.job).toBe('nodewarden');
    work = mkdtempSync(join(tmpdir(), 'nw-prom-'));
    writeRules(join(work, 'rules'));
    api = await FakeApiServer.start();
    api.addNode(NODE);
    const pods = new FakePods(api);
    pods.put({ namespace: 'nwprom-a', name: 'client', node: NODE, ips: [A4, A6] });
    pods.put({ namespace: 'nwprom-b', name: 'server', node: NODE, ips: [B4, B6] });
    // A free port, not the manifests' 20257: other agents on this shared machine may hold it.
    const agentPort = await freePort();
    agentUrl = `http://127.0.0.1:${agentPort}`;
    agent = new AgentProcess([
      'run',
      '--kubeconfig',
      api.writeKubeconfig(work),
      '--node-name',
      NODE,
      '--rules',
      join(work, 'rules'),
      '--state-dir',
      join(work, 'state'),
      '--metrics-address',
      `127.0.0.1:${agentPort}`,
      '--drop-prefix',
      `${DROP}=drop`,
      '--drop-prefix',
      `${AUDIT}=audit`,
      '--drop-flush-interval',
      '1s',
      '--heartbeat-period',
      '1h',
    ]);
    await eventually(
      'the agent serving /metrics',
      async () => (await fetch(`${agentUrl}${spec.path}`, { signal: AbortSignal.timeout(2000) })).ok,
      {
        ms: WAIT_MS,
        agent: () => agent,
      },
    );
    await startPrometheus(agentPort, spec);
    await nonEmpty('the first scrape', `up{job="nodewarden",node="${NODE}"} == 1`);
    // Kernel problems: one temporary rule match, one permanent (a condition turns True).
    writeFileSync('/dev/kmsg', `<3>${MARK}: oops something odd\n`);
    writeFileSync('/dev/kmsg', `<3>${MARK}: broken disk\n`);
    setupDrops();
  }, 4 * WAIT_MS);

  afterAll(async () => {
    restoreLogAllNetns?.();
    deleteNetns(NS_A, NS_B);
    await stopPrometheus();
    await agent?.stop();
    await api?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('the kernel logged our drops (TCP, UDP, ICMP, over IPv4 and IPv6)', () => {
    expect(logged.length).toBeGreaterThanOrEqual(6);
    for (const p of ['PROTO=TCP', 'PROTO=UDP', 'PROTO=ICMP ', 'PROTO=ICMPv6'])
      expect(
        logged.some((l) => l.includes(p)),
        p,
      ).toBe(true);
  });

  it(
    'metrics arrive with their types (/api/v1/metadata)',
    async () => {
      const want: Record<string, string> = {
        problem_counter: 'counter',
        problem_gauge: 'gauge',
        packet_drops_total: 'counter',
        nodewarden_component_received_total: 'counter',
        nodewarden_component_lost_total: 'counter',
        nodewarden_component_sent_total: 'counter',
        nodewarden_component_events_total: 'counter',
        nodewarden_component_gauge: 'gauge',
        nodewarden_source_healthy: 'gauge',
        nodewarden_source_last_poll_timestamp_seconds: 'gauge',
        nodewarden_rules_reload_failed: 'gauge',
        process_cpu_seconds_total: 'counter',
        process_resident_memory_bytes: 'gauge',
      };
      const meta = await eventually(
        'metadata of every metric',
        async () => {
          const m = await getJson(`${promUrl}/api/v1/metadata`);
          return Object.keys(want).every((k) => m[k]) ? m : undefined;
        },
        { ms: WAIT_MS, everyMs: 500 },
      );
      for (const [name, type] of Object.entries(want)) {
        expect(meta[name]?.[0]?.type, name).toBe(type);
        expect(meta[name]?.[0]?.help, name).toBeTruthy();
      }
    },
    WAIT_MS + 10_000,
  );

  it(
    'kernel problems arrive as problem_counter{reason} and problem_gauge{type,reason}',
    async () => {
      const counter = await nonEmpty('problem_counter', `problem_counter{node="${NODE}",reason="NwpromOops"}`);
      expect(Number(counter[0].value[1])).toBeGreaterThanOrEqual(1);
      expect(Object.keys(counter[0].metric).sort()).toEqual(['__name__', 'instance', 'job', 'node', 'reason']);
      const gauge = await nonEmpty(
        'problem_gauge True',
        `problem_gauge{node="${NODE}",type="NwpromBroken",reason="NwpromBrokenNow"} == 1`,
      );
      expect(Object.keys(gauge[0].metric).sort()).toEqual(['__name__', 'instance', 'job', 'node', 'reason', 'type']);
      // One reason at a time is 1 for a condition (whatever other series problem_gauge keeps at 0).
      const ones = await query(`problem_gauge{node="${NODE}",type="NwpromBroken"} == 1`);
      expect(ones.map((x) => x.metric.reason)).toEqual(['NwpromBrokenNow']);
    },
    WAIT_MS + 10_000,
  );

  it(
    'drops arrive as packet_drops_total{direction,namespace,proto,verdict}, counted as the kernel logged them',
    async () => {
      const ours = `packet_drops_total{node="${NODE}",namespace=~"nwprom-a|nwprom-b"}`;
      // Both ends are local pods: every LOG line counts once sending (nwprom-a), once receiving (nwprom-b).
      const total = await eventually(
        'every logged drop counted',
        async () => {
          const r = await query(`sum(${ours})`);
          const v = Number(r[0]?.value[1] ?? 0);
          return v >= 2 * logged.length ? v : undefined;
        },
        { ms: WAIT_MS, everyMs: 500, agent: () => agent },
      );
      expect(total).toBe(2 * logged.length);
      const series = (await getJson(
        `${promUrl}/api/v1/series?match[]=${encodeURIComponent(ours)}`,
      )) as unknown as Json[];
      for (const s of series) {
        expect(Object.keys(s).sort()).toEqual([
          '__name__',
          'direction',
          'instance',
          'job',
          'namespace',
          'node',
          'proto',
          'verdict',
        ]);
      }
      const seen = new Set(series.map((s) => `${s.direction} ${s.namespace} ${s.proto} ${s.verdict}`));
      for (const k of [
        'sending nwprom-a tcp drop',
        'receiving nwprom-b tcp drop',
        'receiving nwprom-b udp audit',
        'receiving nwprom-b icmp drop',
        'receiving nwprom-b icmpv6 drop',
      ]) {
        expect(seen, k).toContain(k);
      }
      // Per verdict, the same split as the kernel's lines.
      const audit = logged.filter((l) => l.startsWith(AUDIT)).length;
      const byVerdict = await query(
        `sum by (verdict) (packet_drops_total{node="${NODE}",direction="receiving",namespace="nwprom-b"})`,
      );
      expect(Object.fromEntries(byVerdict.map((s) => [s.metric.verdict, Number(s.value[1])]))).toEqual({
        drop: logged.length - audit,
        audit,
      });
    },
    WAIT_MS + 10_000,
  );

  it(
    'component counters and source health carry their labels',
    async () => {
      const kmsg = await nonEmpty(
        'kmsg counters',
        `nodewarden_component_received_total{node="${NODE}",component_kind="source",component_id="kmsg"}`,
      );
      expect(Object.keys(kmsg[0].metric).sort()).toEqual([
        '__name__',
        'component_id',
        'component_kind',
        'instance',
        'job',
        'node',
      ]);
      const retries = await nonEmpty(
        'event retries',
        `nodewarden_component_events_total{node="${NODE}",component_kind="sink",component_id="kube-events",counter="retries"}`,
      );
      expect(Object.keys(retries[0].metric).sort()).toEqual([
        '__name__',
        'component_id',
        'component_kind',
        'counter',
        'instance',
        'job',
        'node',
      ]);
      const healthy = await nonEmpty('source health', `nodewarden_source_healthy{node="${NODE}",source="kmsg"}`);
      expect(healthy[0].value[1]).toBe('1');
      // The API writes happened: the condition patch and the Events reached the fake API server.
      await nonEmpty(
        'API writes',
        `nodewarden_component_sent_total{node="${NODE}",component_kind="sink",component_id="kube-events"} > 0`,
      );
      await nonEmpty(
        'condition writes',
        `nodewarden_component_sent_total{node="${NODE}",component_kind="sink",component_id="kube-conditions"} > 0`,
      );
    },
    WAIT_MS + 10_000,
  );

  it(
    'every shipped alert rule evaluates without error, and the condition alert is pending',
    async () => {
      const rules = await eventually(
        'rules evaluated',
        async () => {
          const d = await getJson(`${promUrl}/api/v1/rules?type=alert`);
          const all = (d.groups as Json[]).flatMap((g) => g.rules as Json[]);
          return all.length > 0 && all.every((r) => r.lastEvaluation && !r.lastEvaluation.startsWith('0001'))
            ? all
            : undefined;
        },
        { ms: WAIT_MS, everyMs: 500 },
      );
      for (const r of rules) expect(`${r.name}: ${r.health} ${r.lastError ?? ''}`).toBe(`${r.name}: ok `);
      const pending = await eventually(
        'NodewardenConditionTrue pending',
        async () => {
          const d = await getJson(`${promUrl}/api/v1/alerts`);
          return (d.alerts as Json[]).find(
            (a) => a.labels.alertname === 'NodewardenConditionTrue' && a.labels.type === 'NwpromBroken',
          );
        },
        { ms: WAIT_MS, everyMs: 500 },
      );
      expect(pending.state).toBe('pending'); // for: 10m
      expect(pending.labels).toMatchObject({ node: NODE, reason: 'NwpromBrokenNow', severity: 'warning' });
      expect(pending.annotations.summary).toBe(`Node ${NODE}: condition NwpromBroken is True (NwpromBrokenNow)`);
    },
    WAIT_MS + 10_000,
  );

  it(
    "the dashboard's node variable lists this node",
    async () => {
      const values = (await getJson(
        `${promUrl}/api/v1/label/node/values?match[]=nodewarden_rules_reload_failed`,
      )) as unknown as string[];
      expect(values).toContain(NODE);
    },
    WAIT_MS + 10_000,
  );

  it(
    'every dashboard query uses only metrics the running agent exports',
    async () => {
      const text = await (await fetch(`${agentUrl}/metrics`)).text();
      const exported = new Set<string>();
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        exported.add(m[1]!);
        if (m[2] === 'histogram' || m[2] === 'summary')
          for (const s of ['_bucket', '_sum', '_count']) exported.add(m[1]! + s);
      }
      const foreign = dashboardTargets(dashboard).flatMap((t) =>
        metricNames(substituteVariables(t.expr, { node: '.*' }))
          .filter((n) => !exported.has(n))
          .map((n) => `${t.panel} ${t.refId}: ${n}`),
      );
      expect(foreign).toEqual([]);
    },
    WAIT_MS + 10_000,
  );

  for (const t of dashboardTargets(dashboard)) {
    it(
      `dashboard "${t.panel}" ${t.refId} returns data (node = All and node = this node)`,
      async () => {
        for (const node of ['.*', NODE]) {
          const r = await nonEmpty(`${t.panel} ${t.refId}`, substituteVariables(t.expr, { node }));
          if (node === NODE) for (const s of r) if ('node' in s.metric) expect(s.metric.node).toBe(NODE);
        }
      },
      2 * WAIT_MS,
    );
  }
});
