// peers.test.ts: who a peer IP is, against the fake API server over HTTP through
// @kubernetes/client-node: remote pods by status.podIP (and why not status.podIPs), a dual-stack
// pod's other address learned from its primary's lookup, node IPs, Services by ClusterIP, pods
// named by the Service that selects them, per-namespace Service lists cached with a TTL in a
// bounded LRU, the switch that turns Services off, and reverse DNS as the last resort.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient, type KubeClient } from '../../agent/kube/client';
import { LocalPodIndex } from '../../agent/kube/pods';
import {
  createPeerResolver,
  lookupClusterIP,
  lookupRemotePod,
  MAX_SERVICES_PER_NAMESPACE,
  type PeerResolverOptions,
} from '../../agent/kube/peers';
import { systemClock } from '../../agent/runtime/clock';
import type { Logger } from '../../agent/types';
import { eventually } from '../helpers/eventually';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { FakePods } from '../helpers/fake-apiserver-pods';
import { FakeServices } from '../helpers/fake-apiserver-services';
import { FakeClock } from '../helpers/fake-clock';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
let api: FakeApiServer;
let pods: FakePods;
let services: FakeServices;
let kube: KubeClient;
let ac: AbortController;

beforeEach(async () => {
  api = await FakeApiServer.start();
  [pods, services] = [new FakePods(api), new FakeServices(api)];
  kube = createKubeClient({ kubeconfig: api.writeKubeconfig(), timeoutMs: 2000 })!;
  ac = new AbortController();
  pods.put({
    namespace: 'shop',
    name: 'web-1',
    node: 'n1',
    ips: ['10.244.1.5', 'fd00:10:244:1::5'],
    labels: { app: 'web' },
  });
  pods.put({ namespace: 'kube-system', name: 'kube-proxy-x', node: 'n1', ips: ['192.168.0.11'], hostNetwork: true });
  pods.put({
    namespace: 'payments',
    name: 'api-7',
    node: 'n2',
    ips: ['10.244.2.9', 'fd00:10:244:2::9'],
    labels: { app: 'api', tier: 'be' },
  });
  pods.put({ namespace: 'payments', name: 'worker-1', node: 'n2', ips: ['10.244.2.10'], labels: { app: 'worker' } });
  pods.put({ namespace: 'kube-system', name: 'kube-proxy-y', node: 'n2', ips: ['192.168.0.12'], hostNetwork: true });
});
afterEach(() => {
  ac.abort();
  return api.close();
});

async function syncedIndex(): Promise<LocalPodIndex> {
  const idx = new LocalPodIndex({
    core: kube.core,
    nodeName: 'n1',
    clock: systemClock,
    logger: quiet,
    backoff: { baseMs: 20, capMs: 100 },
  });
  void idx.run(ac.signal);
  return eventually('the local pod index synced', () => idx.hasSynced && idx, { ms: 3000, everyMs: 10 });
}

async function resolver(extra: Partial<PeerResolverOptions> = {}) {
  return createPeerResolver({
    index: await syncedIndex(),
    core: kube.core,
    clock: systemClock,
    nodeName: 'n1',
    ...extra,
  });
}

/** Lookups made since request `from` (the local index's watch requests left out). */
const selectors = (from: number) =>
  api.requests
    .slice(from)
    .filter((r) => r.query.get('watch') !== 'true')
    .map((r) => `${r.path}?${r.query.get('fieldSelector') ?? ''}`);

describe('remote pods', () => {
  it('lookupRemotePod: a pod with all its addresses, a node (hostNetwork pods only), or null', async () => {
    expect(await lookupRemotePod(kube.core, '10.244.2.9')).toEqual({
      peer: {
        kind: 'pod',
        pod: { namespace: 'payments', name: 'api-7', uid: 'uid-payments-api-7', labels: { app: 'api', tier: 'be' } },
      },
      ips: ['10.244.2.9', 'fd00:10:244:2::9'],
    });
    expect(await lookupRemotePod(kube.core, '192.168.0.12')).toEqual({ peer: { kind: 'node', name: 'n2' }, ips: [] });
    expect(await lookupRemotePod(kube.core, '203.0.113.1')).toBeNull();
    const reqs = api.requestsTo('GET', /^\/api\/v1\/pods$/);
    expect(reqs.map((r) => r.query.get('fieldSelector'))).toEqual([
      'status.podIP=10.244.2.9',
      'status.podIP=192.168.0.12',
      'status.podIP=203.0.113.1',
    ]);
    // Served from the watch cache, not a quorum read.
    expect(reqs.map((r) => r.query.get('resourceVersion'))).toEqual(['0', '0', '0']);
  });

  it('status.podIP matches the primary address only; status.podIPs is accepted and matches nothing (as the real server)', async () => {
    expect(await lookupRemotePod(kube.core, 'fd00:10:244:2::9')).toBeNull();
    const byIPs = await kube.core.listPodForAllNamespaces({ fieldSelector: 'status.podIPs=fd00:10:244:2::9' });
    expect(byIPs.items).toEqual([]);
    const primary = await kube.core.listPodForAllNamespaces({ fieldSelector: 'status.podIPs=10.244.2.9' });
    expect(primary.items).toEqual([]);
    // A label the server does not know is refused, not ignored.
    await expect(
      kube.core.listPodForAllNamespaces({ fieldSelector: 'status.hostIP=192.168.0.12' }),
    ).rejects.toMatchObject({ code: 400 });
  });

  it('resolver: local first, node IPs, cached remote answers (positive and negative), coalesced', async () => {
    const res = await resolver({ services: false });
    const before = api.requests.length;
    expect(await res.peer('10.244.1.5')).toMatchObject({ kind: 'pod', pod: { name: 'web-1' } });
    expect(await res.peer('192.168.0.11')).toEqual({ kind: 'node', name: 'n1' });
    expect(selectors(before)).toEqual([]); // both answered locally
    const many = await Promise.all([1, 2, 3, 4, 5].map(() => res.peer('10.244.2.10')));
    expect(many.every((p) => p.kind === 'pod' && p.pod.name === 'worker-1')).toBe(true);
    expect(await res.peer('203.0.113.1')).toEqual({ kind: 'unknown' });
    expect(await res.peer('203.0.113.1')).toEqual({ kind: 'unknown' });
    expect(await res.peer('10.244.2.10')).toMatchObject({ kind: 'pod' });
    expect(selectors(before)).toEqual([
      '/api/v1/pods?status.podIP=10.244.2.10',
      '/api/v1/pods?status.podIP=203.0.113.1',
    ]);
    expect(res.cache.stats).toMatchObject({ coalesced: 4, negativeHits: 1, hits: 1 });
    expect(res.localPod('10.244.1.5')?.name).toBe('web-1');
  });

  it("a dual-stack pod's secondary address resolves, with no API call, once its primary has been looked up", async () => {
    const res = await resolver({ services: false });
    // Secondary first: the API cannot find it (primary-only selector), so it is unknown for now.
    expect(await res.peer('fd00:10:244:2::9')).toEqual({ kind: 'unknown' });
    expect(await res.peer('10.244.2.9')).toMatchObject({ kind: 'pod', pod: { namespace: 'payments', name: 'api-7' } });
    const before = api.requests.length;
    // The negative answer was replaced by what the primary's lookup learned.
    expect(await res.peer('fd00:10:244:2::9')).toMatchObject({
      kind: 'pod',
      pod: { namespace: 'payments', name: 'api-7' },
    });
    expect(selectors(before)).toEqual([]);
    expect(res.stats.otherAddressesLearned).toBe(1);
  });

  it('the primary and secondary looked up together: the secondary\'s "nobody" does not overwrite the learned answer', async () => {
    const res = await resolver({ services: false });
    const [v4, v6] = await Promise.all([res.peer('10.244.2.9'), res.peer('fd00:10:244:2::9')]);
    expect(v4).toMatchObject({ kind: 'pod', pod: { name: 'api-7' } });
    expect(['pod', 'unknown']).toContain(v6.kind); // depends on which answer arrived first
    expect(await res.peer('fd00:10:244:2::9')).toMatchObject({ kind: 'pod', pod: { name: 'api-7' } });
  });

  it('an API failure is unknown, not an exception', async () => {
    const res = await resolver({ services: false });
    api.failNext(1, { code: 500, match: (r) => r.query.get('fieldSelector')?.startsWith('status.podIP=') === true });
    expect(await res.peer('10.244.2.9')).toEqual({ kind: 'unknown' });
    expect(res.cache.stats.failures).toBe(1);
  });
});

describe('Services', () => {
  beforeEach(() => {
    services.put({
      namespace: 'payments',
      name: 'api',
      selector: { app: 'api' },
      clusterIPs: ['10.96.4.2', 'fd00:96::4:2'],
    });
    services.put({ namespace: 'payments', name: 'aaa-manual' }); // no selector: selects nothing
    services.put({ namespace: 'payments', name: 'zzz-api-be', selector: { app: 'api', tier: 'be' } });
    services.put({ namespace: 'shop', name: 'web', selector: { app: 'web' }, clusterIPs: ['10.96.9.9'] });
  });

  it('lookupClusterIP: by spec.clusterIP (the primary), with every ClusterIP of the Service', async () => {
    expect(await lookupClusterIP(kube.core, '10.96.4.2')).toEqual({
      service: { namespace: 'payments', name: 'api' },
      ips: ['10.96.4.2', 'fd00:96::4:2'],
    });
    expect(await lookupClusterIP(kube.core, 'fd00:96::4:2')).toBeNull(); // spec.clusterIPs is not selectable
    expect(await lookupClusterIP(kube.core, '10.96.77.77')).toBeNull();
    const reqs = api.requestsTo('GET', /^\/api\/v1\/services$/);
    expect(reqs.map((r) => r.query.get('fieldSelector'))).toEqual([
      'spec.clusterIP=10.96.4.2',
      'spec.clusterIP=fd00:96::4:2',
      'spec.clusterIP=10.96.77.77',
    ]);
    expect(reqs.every((r) => r.query.get('resourceVersion') === '0')).toBe(true);
  });

  it('names a ClusterIP peer, and its other ClusterIP once the first is known', async () => {
    const res = await resolver();
    expect(await res.peer('10.96.4.2')).toEqual({ kind: 'service', service: { namespace: 'payments', name: 'api' } });
    const before = api.requests.length;
    expect(await res.peer('fd00:96::4:2')).toEqual({
      kind: 'service',
      service: { namespace: 'payments', name: 'api' },
    });
    // The pod lookup still runs first (a pod might own it); the Service came from the cache.
    expect(selectors(before)).toEqual(['/api/v1/pods?status.podIP=fd00:96::4:2']);
    expect(res.stats.clusterIPs).toBe(2);
  });

  it('names a remote or local pod by the first Service (by name) of its namespace that selects it', async () => {
    const res = await resolver();
    expect(await res.peer('10.244.2.9')).toMatchObject({
      kind: 'pod',
      pod: { name: 'api-7' },
      service: { namespace: 'payments', name: 'api' },
    });
    expect(await res.peer('10.244.1.5')).toMatchObject({
      kind: 'pod',
      pod: { name: 'web-1' },
      service: { namespace: 'shop', name: 'web' },
    });
    // worker-1 is selected by no Service: plain pod, KIT's naming applies.
    const worker = await res.peer('10.244.2.10');
    expect(worker).toMatchObject({ kind: 'pod', pod: { name: 'worker-1' } });
    expect('service' in worker && worker.service !== undefined).toBe(false);
    // Each namespace was listed once, without a field selector, from the watch cache.
    const lists = api.requestsTo('GET', /^\/api\/v1\/namespaces\/[^/]+\/services$/);
    expect(lists.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/payments/services',
      '/api/v1/namespaces/shop/services',
    ]);
    expect(lists.map((r) => [r.query.get('resourceVersion'), r.query.get('limit')])).toEqual([
      ['0', String(MAX_SERVICES_PER_NAMESPACE)],
      ['0', String(MAX_SERVICES_PER_NAMESPACE)],
    ]);
  });

  it("a namespace's Services are re-listed after their TTL, and at most maxEntries namespaces are kept", async () => {
    const clock = new FakeClock();
    const res = await resolver({ clock, namespaceCache: { maxEntries: 1, ttlMs: 30_000 } });
    const lists = () =>
      api.requestsTo('GET', /^\/api\/v1\/namespaces\/[^/]+\/services$/).map((r) => r.path.split('/')[4]);
    await res.peer('10.244.2.9');
    await res.peer('10.244.2.10');
    expect(lists()).toEqual(['payments']);
    services.put({ namespace: 'payments', name: 'worker', selector: { app: 'worker' } });
    expect(await res.peer('10.244.2.10')).not.toHaveProperty('service.name', 'worker'); // still cached
    clock.advance(30_001);
    expect(await res.peer('10.244.2.10')).toMatchObject({ service: { name: 'worker' } });
    expect(lists()).toEqual(['payments', 'payments']);
    await res.peer('10.244.1.5'); // shop evicts payments (one namespace kept)
    await res.peer('10.244.2.9');
    expect(lists()).toEqual(['payments', 'payments', 'shop', 'payments']);
    expect(res.namespaceCache.size).toBe(1);
    expect(res.namespaceCache.stats.evictions).toBe(2);
  });

  it('services: false asks for no Service and names pods as before', async () => {
    const res = await resolver({ services: false });
    expect(await res.peer('10.244.2.9')).toEqual({ kind: 'pod', pod: expect.objectContaining({ name: 'api-7' }) });
    expect(await res.peer('10.96.4.2')).toEqual({ kind: 'unknown' });
    expect(api.requests.filter((r) => r.path.includes('services'))).toEqual([]);
  });
});

describe('reverse DNS as the last resort', () => {
  it('is asked only for addresses no pod, node or Service owns', async () => {
    services.put({ namespace: 'payments', name: 'api', selector: { app: 'api' }, clusterIPs: ['10.96.4.2'] });
    const asked: string[] = [];
    const res = await resolver({
      hostName: async (ip) => (asked.push(ip), ip === '203.0.113.7' ? 'db.example.org' : null),
    });
    expect(await res.peer('203.0.113.7')).toEqual({ kind: 'host', name: 'db.example.org' });
    expect(await res.peer('203.0.113.8')).toEqual({ kind: 'unknown' });
    await res.peer('10.96.4.2');
    await res.peer('10.244.2.9');
    await res.peer('192.168.0.11');
    expect(asked).toEqual(['203.0.113.7', '203.0.113.8']);
  });
});
