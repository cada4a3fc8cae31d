// drops.e2e.test.ts: real packet drops end to end. The harness (admin kubeconfig) creates two
// Nodes, two namespaces and two Pods — a "local" one on the agent's node and a "remote" one on a
// peer node — and sets their status.podIP/podIPs with a pods/status merge patch to addresses that
// exist only inside two network namespaces joined by a veth pair. iptables LOG (a prefix unique
// to this run, so stale kernel lines never match) + DROP in the remote namespace drops TCP SYNs
// and UDP from the local pod's address. The real agent (dist/nodewarden.cjs) reads them from the
// real /dev/kmsg and must post PacketDrop Warning Events on the local Pod whose counts equal what
// the kernel logged. The remote pod is dual-stack (IPv4 primary, IPv6 secondary) and a ClusterIP
// Service in its namespace selects it, so every peer is named `service <ns>/<name>`: the IPv6
// peer proves the secondary address resolves (the API can only find a pod by its primary), and
// drops to the Service's ClusterIP (allocated by the server, added as an address inside the
// remote namespace, where a LOG rule matches it as a LOG rule placed before DNAT would) name the
// Service too. A third address in the remote namespace belongs to nobody in the cluster: the
// agent names it by reverse DNS from a dnsmasq on loopback (`unknown` where dnsmasq is missing,
// said so in the output). Runs against KUBECONFIG's cluster or the in-process fake
// (NODEWARDEN_E2E_FAKE=1), through the same API calls. Needs root, iproute2, iptables, bash.
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { createAdminClient, type AdminClient } from './admin-client';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { FakePods } from '../helpers/fake-apiserver-pods';
import { FakeServices } from '../helpers/fake-apiserver-services';
import { installPodWrites } from '../helpers/fake-apiserver-pod-writes';
import { createVethPair, deleteNetns, enableLogAllNetns, inNs, kernelIPv6, readKmsg } from '../helpers/netns';
import { AGENT, AgentProcess, freePort } from './agent-process';
import { eventually as pollUntil } from '../helpers/eventually';
import { dnsmasqMissing, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq';
import { requireParts } from '../helpers/system-parts';

const run = randomBytes(4).toString('hex');
const NODE = `nodewarden-e2e-drops-${run}`;
const PEER_NODE = `${NODE}-peer`;
const NS_LOCAL = `nodewarden-e2e-${run}`;
const NS_PEER = `nodewarden-e2e-${run}-peer`;
const LOCAL_POD = 'client';
const REMOTE_POD = 'server';
/** A ClusterIP Service in the remote pod's namespace that selects it. */
const SERVICE = 'cart';
const SVC_PORT = 7070;
const LABELS = { 'nodewarden.io/e2e': run };
// iptables keeps at most 29 characters of a LOG prefix; these are 15.
const DROP_PREFIX = `nwd${run}:`;
const AUDIT_PREFIX = `nwa${run}:`;
const NETNS_LOCAL = `nwe2eL${run}`;
const NETNS_REMOTE = `nwe2eR${run}`;
const IF_LOCAL = `nwl${run}`;
const IF_REMOTE = `nwr${run}`;
// The pods' addresses exist only inside the namespaces; beforeAll picks a subnet no pod of the
// cluster already reports (a remote lookup by status.podIP must find our pod alone).
let A4 = '';
let B4 = '';
/** In the remote namespace, owned by no pod or Service: named by reverse DNS. */
let C4 = '';
let A6 = '';
let B6 = '';
function pickSubnet(): void {
  const n = 1 + Math.floor(Math.random() * 250);
  [A4, B4, C4] = [`10.213.${n}.1`, `10.213.${n}.2`, `10.213.${n}.3`];
  [A6, B6] = [`fd00:213:${n.toString(16)}::1`, `fd00:213:${n.toString(16)}::2`];
}
const TCP_PORT = 8080;
const UDP_PORT = 5353;
/** Dropped UDP used only to learn when the agent knows the local pod (not asserted exactly). */
const PROBE_PORT = 9;
const FLUSH = '1s';

let fake: FakeApiServer | undefined;
let admin: AdminClient | undefined;
let agentKubeconfig = '';
let work = '';
let agent: AgentProcess | undefined;
let metricsPort = 0;
let localUid = '';
let restoreLogAllNetns: (() => void) | undefined;
let netnsCreated = false;
/** The Service's ClusterIP, as the server allocated it. */
let CLUSTER_IP = '';
const DNS_MISSING = dnsmasqMissing();
// Where the real parts are required (CI), reverse DNS must be exercised, not excused.
if (DNS_MISSING !== null && requireParts()) throw new Error(`drops e2e: ${DNS_MISSING}`);
const DNS_NAME = `outside-${run}.nodewarden.test`;
let dnsmasq: Dnsmasq | undefined;

/** Polls until `check` yields a value; fails early if the agent exits, with its output. */
const eventually = <T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 60_000,
  everyMs = 250,
): Promise<T> => pollUntil(what, check, { ms, everyMs, agent: () => agent });

function api(): AdminClient {
  if (!admin) throw new Error('no API client');
  return admin;
}

function rules(): string {
  return JSON.stringify({
    plugin: 'kmsg',
    logPath: '/dev/kmsg',
    lookback: '1m',
    bufferSize: 10,
    source: 'kernel-monitor',
    conditions: [],
    rules: [{ type: 'temporary', reason: 'E2EDropsNever', pattern: `NWE2E-${run} never.*` }],
  });
}

function podBody(name: string, namespace: string, nodeName: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: LABELS },
    spec: {
      nodeName,
      // Nothing runs these: the nodes have no kubelet. Tolerate every taint so the node
      // lifecycle controller does not evict them mid-test.
      containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: 'Exists' }],
    },
  };
}

/** Creates a pod; a new namespace's default ServiceAccount may not exist yet on a real server. */
async function createPod(name: string, namespace: string, nodeName: string): Promise<V1Pod> {
  await eventually(
    `pod ${namespace}/${name} created`,
    async () => {
      try {
        await api().core.createNamespacedPod({ namespace, body: podBody(name, namespace, nodeName) });
        return true;
      } catch (err) {
        if ((err as { code?: number }).code === 409) return true; // an earlier attempt went through
        throw err;
      }
    },
    30_000,
    500,
  );
  return api().core.readNamespacedPod({ name, namespace });
}

/** Sets the addresses as the kubelet would: a merge patch on the pods/status subresource. */
async function setPodIPs(name: string, namespace: string, ips: string[]): Promise<V1Pod> {
  return api().core.patchNamespacedPodStatus(
    { name, namespace, body: { status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

/** packet_drops_total for the given labels (0 when the series does not exist yet). */
async function dropMetric(labels: Record<string, string>): Promise<number> {
  let total = 0;
  for (const line of (await metrics()).split('\n')) {
    if (!line.startsWith('packet_drops_total{')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function setupNetwork(): void {
  netnsCreated = true;
  createVethPair({
    nsA: NETNS_LOCAL,
    nsB: NETNS_REMOTE,
    ifA: IF_LOCAL,
    ifB: IF_REMOTE,
    addrsA: [`${A4}/24`, `${A6}/64`],
    addrsB: [`${B4}/24`, `${C4}/24`, `${B6}/64`],
  });
  // The ClusterIP lives in the remote namespace, reached over the veth: a packet to it is logged
  // with DST=<ClusterIP>, as by a LOG rule that runs before kube-proxy's DNAT.
  const v6 = isIPv6(CLUSTER_IP);
  inNs(NETNS_REMOTE, 'ip', ...(v6 ? ['-6'] : []), 'addr', 'add', `${CLUSTER_IP}/${v6 ? 128 : 32}`, 'dev', IF_REMOTE);
  inNs(NETNS_LOCAL, 'ip', ...(v6 ? ['-6'] : []), 'route', 'add', `${CLUSTER_IP}/${v6 ? 128 : 32}`, 'dev', IF_LOCAL);
  const logDrop = (ipt: string, match: string[], prefix: string): void => {
    inNs(NETNS_REMOTE, ipt, '-A', 'INPUT', ...match, '-j', 'LOG', '--log-prefix', `${prefix} `);
    inNs(NETNS_REMOTE, ipt, '-A', 'INPUT', ...match, '-j', 'DROP');
  };
  for (const ipt of ['iptables', 'ip6tables']) logDrop(ipt, ['-p', 'tcp', '--dport', String(TCP_PORT)], DROP_PREFIX);
  logDrop('iptables', ['-p', 'udp', '--dport', String(UDP_PORT)], AUDIT_PREFIX);
  logDrop('iptables', ['-p', 'udp', '--dport', String(PROBE_PORT)], DROP_PREFIX);
  logDrop(v6 ? 'ip6tables' : 'iptables', ['-d', CLUSTER_IP, '-p', 'tcp', '--dport', String(SVC_PORT)], DROP_PREFIX);
}

/** Runs a bash script inside the local pod's namespace (its traffic leaves from A4/A6). */
function fromLocalPod(script: string): void {
  inNs(NETNS_LOCAL, 'bash', '-c', script);
}

/** One TCP connection attempt per call: a SYN, abandoned before the first retransmit (1 s). */
function tcpSyns(host: string, times: number, port = TCP_PORT): void {
  const one = `timeout 0.4 bash -c 'echo > /dev/tcp/${host}/${port}' 2>/dev/null; true`;
  fromLocalPod(Array.from({ length: times }, () => one).join('\n'));
}

function udp(port: number, times: number): void {
  fromLocalPod(Array.from({ length: times }, () => `echo x > /dev/udp/${B4}/${port}`).join('\n'));
}

interface KernelCounts {
  tcp4: number;
  tcp6: number;
  udp: number;
  /** TCP to the Service's ClusterIP. */
  svc: number;
  /** TCP to the address nobody in the cluster owns. */
  dns: number;
  lines: string[];
}

/** What the kernel logged for each key, counted from /dev/kmsg with our own prefixes. */
function kernelCounts(): KernelCounts {
  const lines = readKmsg((t) => t.startsWith(`${DROP_PREFIX} `) || t.startsWith(`${AUDIT_PREFIX} `)).map((r) => r.text);
  const field = (text: string, name: string): string | undefined => new RegExp(` ${name}=(\\S+)`).exec(text)?.[1];
  const count = (prefix: string, src: string, dst: string, proto: string, port: number): number =>
    lines.filter(
      (t) =>
        t.startsWith(`${prefix} `) &&
        field(t, 'SRC') === src &&
        field(t, 'DST') === dst &&
        field(t, 'PROTO') === proto &&
        field(t, 'DPT') === String(port),
    ).length;
  return {
    tcp4: count(DROP_PREFIX, A4, B4, 'TCP', TCP_PORT),
    tcp6: count(DROP_PREFIX, kernelIPv6(A6), kernelIPv6(B6), 'TCP', TCP_PORT),
    udp: count(AUDIT_PREFIX, A4, B4, 'UDP', UDP_PORT),
    svc: isIPv6(CLUSTER_IP)
      ? count(DROP_PREFIX, kernelIPv6(A6), kernelIPv6(CLUSTER_IP), 'TCP', SVC_PORT)
      : count(DROP_PREFIX, A4, CLUSTER_IP, 'TCP', SVC_PORT),
    dns: count(DROP_PREFIX, A4, C4, 'TCP', TCP_PORT),
    lines,
  };
}

async function dropEvents(): Promise<CoreV1Event[]> {
  const list = await api().core.listNamespacedEvent({
    namespace: NS_LOCAL,
    fieldSelector: `involvedObject.name=${LOCAL_POD},reason=PacketDrop`,
  });
  return list.items;
}

async function bestEffort(what: string, f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code !== 404) console.warn(`cleanup: ${what}: ${String(err)}`);
  }
}

beforeAll(async () => {
  expect(existsSync(AGENT), `${AGENT} is missing: run \`node scripts/build.mjs\``).toBe(true);
  accessSync('/dev/kmsg', constants.R_OK); // real drops need root (netns, iptables, sysctl)
  let kubeconfig = process.env.KUBECONFIG ?? '';
  if (process.env.NODEWARDEN_E2E_FAKE === '1') {
    fake = await FakeApiServer.start();
    const namespaces = installPodWrites(fake, new FakePods(fake));
    new FakeServices(fake, namespaces);
    kubeconfig = fake.writeKubeconfig();
  }
  agentKubeconfig = process.env.NODEWARDEN_E2E_AGENT_KUBECONFIG || kubeconfig;
  admin = createAdminClient(kubeconfig);
  work = mkdtempSync(join(tmpdir(), 'nodewarden-e2e-drops-'));
  mkdirSync(join(work, 'rules'));
  mkdirSync(join(work, 'state'));
  writeFileSync(join(work, 'rules', 'e2e-drops.json'), rules());

  // The peer node exists too: the pod garbage collector deletes pods bound to missing nodes.
  for (const name of [NODE, PEER_NODE]) {
    await api().core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: LABELS } } });
  }
  for (const name of [NS_LOCAL, NS_PEER]) {
    await api().core.createNamespace({
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: LABELS } },
    });
  }
  for (let tries = 0; ; tries++) {
    pickSubnet();
    const owners = await Promise.all(
      [A4, B4, C4, A6, B6].map((ip) =>
        api().core.listPodForAllNamespaces({ fieldSelector: `status.podIP=${ip}`, limit: 1 }),
      ),
    );
    const svcOwner = await api().core.listServiceForAllNamespaces({ fieldSelector: `spec.clusterIP=${C4}`, limit: 1 });
    if (owners.every((l) => l.items.length === 0) && svcOwner.items.length === 0) break;
    if (tries === 20) throw new Error('no free 10.213.x.0/24 subnet: cluster pods use them all');
  }
  await createPod(LOCAL_POD, NS_LOCAL, NODE);
  await createPod(REMOTE_POD, NS_PEER, PEER_NODE);
  const local = await setPodIPs(LOCAL_POD, NS_LOCAL, [A4, A6]);
  const remote = await setPodIPs(REMOTE_POD, NS_PEER, [B4, B6]);
  expect(local.status?.podIPs?.map((p) => p.ip)).toEqual([A4, A6]);
  expect(remote.status?.podIP).toBe(B4);
  localUid = local.metadata?.uid ?? '';
  expect(localUid).not.toBe('');
  // The server allocates the ClusterIP from the cluster's service range.
  const svc = await api().core.createNamespacedService({
    namespace: NS_PEER,
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: SERVICE, namespace: NS_PEER, labels: LABELS },
      spec: {
        type: 'ClusterIP',
        selector: LABELS,
        ports: [{ name: 'tcp', port: SVC_PORT, targetPort: TCP_PORT, protocol: 'TCP' }],
      },
    },
  });
  CLUSTER_IP = svc.spec?.clusterIP ?? '';
  expect(CLUSTER_IP).toMatch(/^[0-9a-f.:]+$/);

  setupNetwork();

  // Reverse DNS for C4, from a real DNS server on loopback (the agent asks nothing else).
  if (DNS_MISSING === null) dnsmasq = await startDnsmasq([[C4, DNS_NAME]]);
  else console.warn(`drops e2e: reverse DNS not exercised (${DNS_MISSING}); the outside peer must read "unknown"`);

  metricsPort = await freePort();
  agent = new AgentProcess([
    'run',
    '--node-name',
    NODE,
    '--kubeconfig',
    agentKubeconfig,
    '--rules',
    join(work, 'rules'),
    '--state-dir',
    join(work, 'state'),
    '--metrics-address',
    `127.0.0.1:${metricsPort}`,
    '--drop-prefix',
    `${DROP_PREFIX}=drop`,
    '--drop-prefix',
    `${AUDIT_PREFIX}=audit`,
    '--drop-flush-interval',
    FLUSH,
    ...(dnsmasq ? ['--drop-peer-dns', dnsmasq.server] : []),
  ]);
  await eventually(
    '/healthz',
    async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`, { signal: AbortSignal.timeout(2000) })).ok,
    30_000,
  );
}, 120_000);

afterAll(async () => {
  restoreLogAllNetns?.();
  if (agent) await agent.stop();
  if (netnsCreated) deleteNetns(NETNS_LOCAL, NETNS_REMOTE); // the veth pair and every rule go with them
  if (admin) {
    const core = admin.core;
    for (const ns of [NS_LOCAL, NS_PEER]) {
      const list = await core.listNamespacedEvent({ namespace: ns }).catch(() => ({ items: [] as CoreV1Event[] }));
      for (const e of list.items)
        await bestEffort(`event ${ns}/${e.metadata?.name}`, () =>
          core.deleteNamespacedEvent({ namespace: ns, name: e.metadata!.name! }),
        );
    }
    await bestEffort(`service ${NS_PEER}/${SERVICE}`, () =>
      core.deleteNamespacedService({ name: SERVICE, namespace: NS_PEER }),
    );
    for (const [name, ns] of [
      [LOCAL_POD, NS_LOCAL],
      [REMOTE_POD, NS_PEER],
    ] as const) {
      await bestEffort(`pod ${ns}/${name}`, () =>
        core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }),
      );
    }
    for (const ns of [NS_LOCAL, NS_PEER]) await bestEffort(`namespace ${ns}`, () => core.deleteNamespace({ name: ns }));
    for (const name of [NODE, PEER_NODE]) await bestEffort(`node ${name}`, () => core.deleteNode({ name }));
  }
  if (work) rmSync(work, { recursive: true, force: true });
  dnsmasq?.stop();
  await fake?.close();
}, 60_000);

describe(`nodewarden e2e: real packet drops on node ${NODE}`, () => {
  let kernel: KernelCounts;
  let afterTraffic: CoreV1Event[] = [];
  // Built once the addresses are known (beforeAll runs after this body is collected).
  let tcp4Message = '';
  let udpMessage = '';
  let tcp6Message = '';
  let svcMessage = '';
  let dnsMessage = '';
  beforeAll(() => {
    const peer = `service ${NS_PEER}/${SERVICE}`;
    tcp4Message = `Packet dropped when sending traffic to ${peer} (${B4}) on port ${TCP_PORT}/tcp`;
    // An audit prefix (non-terminating rule) reports a would-be drop.
    udpMessage = `Packet would be dropped when sending traffic to ${peer} (${B4}) on port ${UDP_PORT}/udp`;
    // The remote pod's secondary (IPv6) address: the API finds pods by their primary only; the
    // agent learned this one from the IPv4 lookup of the first burst.
    tcp6Message = `Packet dropped when sending traffic to ${peer} (${B6}) on port ${TCP_PORT}/tcp`;
    svcMessage = `Packet dropped when sending traffic to ${peer} (${CLUSTER_IP}) on port ${SVC_PORT}/tcp`;
    dnsMessage = `Packet dropped when sending traffic to ${dnsmasq ? DNS_NAME : 'unknown'} (${C4}) on port ${TCP_PORT}/tcp`;
  });
  const find = (events: CoreV1Event[], test: (m: string) => boolean): CoreV1Event | undefined =>
    events.find((e) => test(e.message ?? ''));

  it('the agent learns the local pod from its watch (a probe drop is counted against its namespace)', async () => {
    restoreLogAllNetns = enableLogAllNetns();
    await eventually(
      'a probe drop attributed to the local pod',
      async () => {
        udp(PROBE_PORT, 1);
        await new Promise((r) => setTimeout(r, 500));
        return (await dropMetric({ direction: 'sending', namespace: NS_LOCAL, proto: 'udp', verdict: 'drop' })) > 0;
      },
      60_000,
      0,
    );
  });

  let first: CoreV1Event;
  it("a first burst of real TCP drops becomes one PacketDrop Event with the kernel's count", async () => {
    tcpSyns(B4, 2);
    await new Promise((r) => setTimeout(r, 300)); // let the last LOG lines reach the ring
    const sofar = kernelCounts();
    expect(sofar.tcp4, sofar.lines.join('\n')).toBeGreaterThanOrEqual(2);
    first = await eventually(
      'the first TCP PacketDrop event',
      async () => {
        const e = find(await dropEvents(), (m) => m === tcp4Message);
        return e !== undefined && (e.count ?? 0) >= sofar.tcp4 ? e : undefined;
      },
      60_000,
      500,
    );
    expect(first.count).toBe(sofar.tcp4);
  });

  it('more real drops: TCP over IPv4 again and IPv6, UDP under an audit prefix, TCP to the ClusterIP and to an outside address', async () => {
    try {
      tcpSyns(B4, 3);
      tcpSyns(B6, 3);
      udp(UDP_PORT, 3);
      tcpSyns(CLUSTER_IP, 3, SVC_PORT);
      tcpSyns(C4, 2);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      restoreLogAllNetns?.();
    }
    kernel = kernelCounts();
    expect(kernel.tcp4, kernel.lines.join('\n')).toBeGreaterThan(first.count ?? 0);
    expect(kernel.tcp6, kernel.lines.join('\n')).toBeGreaterThanOrEqual(2);
    expect(kernel.udp, kernel.lines.join('\n')).toBeGreaterThanOrEqual(2);
    expect(kernel.svc, kernel.lines.join('\n')).toBeGreaterThanOrEqual(2);
    expect(kernel.dns, kernel.lines.join('\n')).toBeGreaterThanOrEqual(1);
  });

  it("PacketDrop Events on the local pod reach the kernel's counts", async () => {
    expect(kernel).toBeDefined();
    afterTraffic = await eventually(
      "PacketDrop events with the kernel's counts",
      async () => {
        const evs = await dropEvents();
        const tcp4 = find(evs, (m) => m === tcp4Message);
        const tcp6 = find(evs, (m) => m === tcp6Message);
        const u = find(evs, (m) => m === udpMessage);
        const svc = find(evs, (m) => m === svcMessage);
        const dns = find(evs, (m) => m === dnsMessage);
        const done =
          (tcp4?.count ?? 0) >= kernel.tcp4 &&
          (tcp6?.count ?? 0) >= kernel.tcp6 &&
          (u?.count ?? 0) >= kernel.udp &&
          (svc?.count ?? 0) >= kernel.svc &&
          (dns?.count ?? 0) >= kernel.dns;
        return done ? evs : undefined;
      },
      90_000,
      500,
    );
  });

  it("and settle there: one Event per key, counts equal to the kernel's, Warning from nodewarden on this node", async () => {
    expect(afterTraffic.length).toBeGreaterThan(0);
    // Two more flush windows: nothing may be counted twice.
    await new Promise((r) => setTimeout(r, 2500));
    const evs = await dropEvents();
    const tcp4 = evs.filter((e) => e.message === tcp4Message);
    const tcp6 = evs.filter((e) => e.message === tcp6Message);
    const u = evs.filter((e) => e.message === udpMessage);
    const svc = evs.filter((e) => e.message === svcMessage);
    const dns = evs.filter((e) => e.message === dnsMessage);
    expect(dns, evs.map((e) => e.message).join('\n')).toHaveLength(1);
    expect(dns[0]!.count).toBe(kernel.dns);
    expect(tcp4).toHaveLength(1);
    expect(tcp6).toHaveLength(1);
    expect(u).toHaveLength(1);
    expect(svc).toHaveLength(1);
    expect(tcp4[0]!.count).toBe(kernel.tcp4);
    // The later drops were added to the same Event object (a count PATCH), not a new one.
    expect(tcp4[0]!.metadata?.name).toBe(first.metadata?.name);
    expect(tcp4[0]!.metadata?.uid).toBe(first.metadata?.uid);
    expect(tcp6[0]!.count).toBe(kernel.tcp6);
    expect(u[0]!.count).toBe(kernel.udp);
    expect(svc[0]!.count).toBe(kernel.svc);
    for (const e of [tcp4[0]!, tcp6[0]!, u[0]!, svc[0]!]) {
      expect(e).toMatchObject({
        type: 'Warning',
        reason: 'PacketDrop',
        source: { component: 'nodewarden', host: NODE },
      });
      expect(e.involvedObject).toMatchObject({ kind: 'Pod', namespace: NS_LOCAL, name: LOCAL_POD, uid: localUid });
      expect(e.metadata?.namespace).toBe(NS_LOCAL);
      expect(new Date(e.lastTimestamp ?? e.eventTime ?? 0).getTime()).toBeGreaterThanOrEqual(
        new Date(e.firstTimestamp ?? 0).getTime(),
      );
    }
    // No event blames the remote pod: its node reports its side.
    const remoteEvents = await api().core.listNamespacedEvent({
      namespace: NS_PEER,
      fieldSelector: `involvedObject.name=${REMOTE_POD}`,
    });
    expect(remoteEvents.items).toHaveLength(0);
  });

  it('the packet_drops_total metric agrees with the kernel', async () => {
    expect(await dropMetric({ direction: 'sending', namespace: NS_LOCAL, proto: 'tcp', verdict: 'drop' })).toBe(
      kernel.tcp4 + kernel.tcp6 + kernel.svc + kernel.dns,
    );
    expect(await dropMetric({ direction: 'sending', namespace: NS_LOCAL, proto: 'udp', verdict: 'audit' })).toBe(
      kernel.udp,
    );
  });
});
