// pods.test.ts: the local pod index (list + watch, 410 relist, backoff), against the fake API
// server over HTTP through @kubernetes/client-node. Remote lookups: peers.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient, type KubeClient } from '../../agent/kube/client';
import { LocalPodIndex } from '../../agent/kube/pods';
import type { Pod } from '../../agent/kube/wire';
import { systemClock } from '../../agent/runtime/clock';
import type { Logger } from '../../agent/types';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { FakePods } from '../helpers/fake-apiserver-pods';
import { until } from '../helpers/eventually';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
let api: FakeApiServer;
let pods: FakePods;
let kube: KubeClient;
let ac: AbortController;

beforeEach(async () => {
  api = await FakeApiServer.start();
  pods = new FakePods(api);
  kube = createKubeClient({ kubeconfig: api.writeKubeconfig(), timeoutMs: 2000 })!;
  ac = new AbortController();
  pods.put({
    namespace: 'shop',
    name: 'web-1',
    node: 'n1',
    ips: ['10.244.1.5', 'fd00:10:244:1:0:0:0:5'],
    labels: { app: 'web' },
  });
  pods.put({ namespace: 'kube-system', name: 'kube-proxy-x', node: 'n1', ips: ['192.168.0.11'], hostNetwork: true });
  pods.put({ namespace: 'batch', name: 'job-1', node: 'n1', ips: ['10.244.1.9'], phase: 'Succeeded' });
  pods.put({ namespace: 'payments', name: 'api-7', node: 'n2', ips: ['10.244.2.9'] });
  pods.put({ namespace: 'kube-system', name: 'kube-proxy-y', node: 'n2', ips: ['192.168.0.12'], hostNetwork: true });
});
afterEach(async () => {
  ac.abort();
  await api.close();
});

function newIndex(): LocalPodIndex {
  return new LocalPodIndex({
    core: kube.core,
    nodeName: 'n1',
    clock: systemClock,
    logger,
    backoff: { baseMs: 20, capMs: 100 },
  });
}

describe('LocalPodIndex', () => {
  it('lists this node only, indexes every podIP canonically, skips hostNetwork and terminal pods', async () => {
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('idx.hasSynced', () => idx.hasSynced);
    expect(idx.localPod('10.244.1.5')).toMatchObject({
      namespace: 'shop',
      name: 'web-1',
      uid: 'uid-shop-web-1',
      labels: { app: 'web' },
    });
    expect(idx.localPod('fd00:10:244:1::5')?.name).toBe('web-1');
    expect(idx.localPod('192.168.0.11')).toBeUndefined();
    expect(idx.isNodeIp('192.168.0.11')).toBe(true);
    expect(idx.localPod('10.244.1.9')).toBeUndefined();
    expect(idx.localPod('10.244.2.9')).toBeUndefined();
    const list = api.requestsTo('GET', /^\/api\/v1\/pods$/).find((r) => r.query.get('watch') === null);
    expect(list?.query.get('fieldSelector')).toBe('spec.nodeName=n1');
    // Served from the watch cache, not a quorum read.
    expect(list?.query.get('resourceVersion')).toBe('0');
  });

  it('hostNetwork pods: a deleted one takes its node IPs along, unless another still reports them', async () => {
    pods.put({ namespace: 'kube-system', name: 'calico-node-x', node: 'n1', ips: ['192.168.0.11'], hostNetwork: true });
    pods.put({ namespace: 'kube-system', name: 'old-agent', node: 'n1', ips: ['192.168.0.99'], hostNetwork: true });
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('idx.hasSynced && pods.openWatches === 1', () => idx.hasSynced && pods.openWatches === 1);
    expect(idx.isNodeIp('192.168.0.99')).toBe(true);
    pods.remove('kube-system', 'old-agent');
    await until(`!idx.isNodeIp('192.168.0.99')`, () => !idx.isNodeIp('192.168.0.99'));
    pods.remove('kube-system', 'kube-proxy-x');
    pods.put({ namespace: 'db', name: 'marker', node: 'n1', ips: ['10.244.1.30'] });
    await until(`idx.localPod('10.244.1.30') !== undefined`, () => idx.localPod('10.244.1.30') !== undefined);
    expect(idx.isNodeIp('192.168.0.11')).toBe(true); // calico-node-x still reports it
    pods.remove('kube-system', 'calico-node-x');
    await until(`!idx.isNodeIp('192.168.0.11')`, () => !idx.isNodeIp('192.168.0.11'));
  });

  it('follows the watch: added, modified (IP change) and deleted pods', async () => {
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('idx.hasSynced && pods.openWatches === 1', () => idx.hasSynced && pods.openWatches === 1);
    const watch = api.requestsTo('GET', /^\/api\/v1\/pods$/).find((r) => r.query.get('watch') === 'true');
    expect(watch?.query.get('fieldSelector')).toBe('spec.nodeName=n1');
    expect(watch?.query.get('allowWatchBookmarks')).toBe('true');
    expect(Number(watch?.query.get('resourceVersion'))).toBeGreaterThan(0);
    pods.put({ namespace: 'db', name: 'pg-0', node: 'n1', ips: ['10.244.1.6'] });
    pods.put({ namespace: 'other', name: 'elsewhere', node: 'n2', ips: ['10.244.2.10'] });
    await until(`idx.localPod('10.244.1.6') !== undefined`, () => idx.localPod('10.244.1.6') !== undefined);
    expect(idx.localPod('10.244.2.10')).toBeUndefined();
    pods.put({ namespace: 'db', name: 'pg-0', node: 'n1', ips: ['10.244.1.7'] });
    await until(`idx.localPod('10.244.1.7') !== undefined`, () => idx.localPod('10.244.1.7') !== undefined);
    expect(idx.localPod('10.244.1.6')).toBeUndefined();
    pods.remove('db', 'pg-0');
    await until(`idx.localPod('10.244.1.7') === undefined`, () => idx.localPod('10.244.1.7') === undefined);
    expect(idx.stats.pods).toBe(1);
  });

  it('an IP taken over by a new pod stays with it when the old pod goes', () => {
    const idx = newIndex();
    const pod = (name: string, uid: string, ip: string): Pod => ({
      metadata: { namespace: 'ns', name, uid },
      spec: { nodeName: 'n1' },
      status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
    });
    idx.upsert(pod('old', 'u1', '10.244.1.9'));
    idx.upsert(pod('new', 'u2', '10.244.1.9'));
    expect(idx.localPod('10.244.1.9')?.name).toBe('new');
    idx.delete(pod('old', 'u1', '10.244.1.9'));
    expect(idx.localPod('10.244.1.9')?.name).toBe('new');
    // A modified pod (same uid) moves its entry: the old IP goes, the new one names it.
    idx.upsert(pod('new', 'u2', '10.244.1.10'));
    expect(idx.localPod('10.244.1.9')).toBeUndefined();
    expect(idx.localPod('10.244.1.10')?.name).toBe('new');
    idx.delete(pod('new', 'u2', '10.244.1.10'));
    expect(idx.localPod('10.244.1.10')).toBeUndefined();
    expect(idx.stats).toMatchObject({ pods: 0, ips: 0 });
  });

  it('re-watches from the last resourceVersion when the server ends the watch', async () => {
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('pods.openWatches === 1', () => pods.openWatches === 1);
    pods.endWatches();
    await until(
      'idx.stats.watches === 2 && pods.openWatches === 1',
      () => idx.stats.watches === 2 && pods.openWatches === 1,
    );
    expect(idx.stats.lists).toBe(1);
    pods.put({ namespace: 'db', name: 'pg-1', node: 'n1', ips: ['10.244.1.8'] });
    await until(`idx.localPod('10.244.1.8') !== undefined`, () => idx.localPod('10.244.1.8') !== undefined);
  });

  it('relists on 410 Gone and picks up what changed meanwhile', async () => {
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('pods.openWatches === 1', () => pods.openWatches === 1);
    pods.expireWatches();
    pods.put({ namespace: 'db', name: 'pg-2', node: 'n1', ips: ['10.244.1.20'] });
    await until(
      `idx.stats.gone === 1 && idx.localPod('10.244.1.20') !== undefined`,
      () => idx.stats.gone === 1 && idx.localPod('10.244.1.20') !== undefined,
    );
    expect(idx.stats.lists).toBe(2);
    expect(idx.stats.errors).toBe(0);
    // The relist is still a cache read, not older than what the index had seen.
    const lists = api.requestsTo('GET', /^\/api\/v1\/pods$/).filter((r) => r.query.get('watch') === null);
    const watch = api.requestsTo('GET', /^\/api\/v1\/pods$/).find((r) => r.query.get('watch') === 'true');
    expect(lists.map((r) => r.query.get('resourceVersion'))).toEqual(['0', watch?.query.get('resourceVersion')]);
  });

  it('a relist the cache cannot serve (410) falls back to one quorum read, then cache reads again', async () => {
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('pods.openWatches === 1', () => pods.openWatches === 1);
    api.failNext(1, { code: 410, match: (r) => r.path === '/api/v1/pods' && r.query.get('watch') === null });
    pods.expireWatches();
    await until(
      'idx.stats.lists === 3 && pods.openWatches === 1',
      () => idx.stats.lists === 3 && pods.openWatches === 1,
    );
    const lists = api.requestsTo('GET', /^\/api\/v1\/pods$/).filter((r) => r.query.get('watch') === null);
    const rvs = lists.map((r) => r.query.get('resourceVersion'));
    expect(rvs[0]).toBe('0');
    expect(Number(rvs[1])).toBeGreaterThan(0);
    expect(rvs[2]).toBeNull();
    expect(idx.localPod('10.244.1.5')?.name).toBe('web-1');
  });

  it('backs off and retries when the list fails', async () => {
    api.failNext(2, { code: 500, match: (r) => r.path === '/api/v1/pods' && r.query.get('watch') === null });
    const idx = newIndex();
    void idx.run(ac.signal);
    await until('idx.hasSynced', () => idx.hasSynced);
    expect(idx.stats.errors).toBe(2);
    expect(idx.stats.lists).toBe(3);
    expect(idx.localPod('10.244.1.5')?.name).toBe('web-1');
  });

  it('stops at the signal', async () => {
    const idx = newIndex();
    const done = idx.run(ac.signal);
    await until('pods.openWatches === 1', () => pods.openWatches === 1);
    ac.abort();
    await done;
    await until('pods.openWatches === 0', () => pods.openWatches === 0);
  });
});
