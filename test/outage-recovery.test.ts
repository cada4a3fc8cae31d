// outage-recovery.test.ts: how fast the Node and the pod index recover after an API server
// outage, and how gently the agent retries meanwhile. Real HTTP against the in-process fake API
// server, time on a FakeClock: the API server is down (connections refused, or 503) for 10
// minutes of fake time while a kernel problem changes a condition, then comes back. Targets
// (issue 13): the condition is on the Node within 15 s of fake time after recovery (the policy
// gives ≤ 10 s: full jitter capped at 10 s), and the pod watch resumes within 30 s (≤ 20 s).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONDITION_BACKOFF, WATCH_BACKOFF } from '../agent/runtime/backoff';
import { createKubeClient, type KubeClient } from '../agent/kube/client';
import { LocalPodIndex } from '../agent/kube/pods';
import type { ApiResult, NodeStatusApi } from '../agent/kube/types';
import { ConditionExporter } from '../agent/sinks/condition-exporter';
import type { Condition, Logger } from '../agent/types';
import { rng } from '../bench/corpus';
import { FakeApiServer } from './helpers/fake-apiserver';
import { FakePods } from './helpers/fake-apiserver-pods';
import { FakeClock } from './helpers/fake-clock';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const OUTAGE_MS = 10 * 60_000;
const STEP_MS = 100;
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};
/** Waits (real time) for real I/O to reach a state; the limit only guards against a hang (≥ 100× the need). */
async function until(pred: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`hang guard: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A NodeStatusApi that records each call (fake time, result) and lets the test wait for the ones in flight. */
function tracked(api: NodeStatusApi, clock: FakeClock) {
  const inflight = new Set<Promise<unknown>>();
  const calls: {
    at: number;
    what: 'get' | 'patch';
    ok: boolean;
    body?: readonly { type: string; status: string }[];
  }[] = [];
  const track = <T>(
    what: 'get' | 'patch',
    p: Promise<ApiResult<T>>,
    body?: readonly { type: string; status: string }[],
  ): Promise<ApiResult<T>> => {
    const at = clock.now();
    const q = p.then((r) => {
      calls.push({ at, what, ok: r.ok, ...(body ? { body } : {}) });
      return r;
    });
    inflight.add(q);
    void q.finally(() => inflight.delete(q));
    return q;
  };
  const wrapped: NodeStatusApi = {
    getNode: (n) => track('get', api.getNode(n)),
    patchNodeConditions: (n, c, r) => track('patch', api.patchNodeConditions(n, c, r), c),
  };
  return { api: wrapped, calls, inflight };
}

const cond = (status: Condition['status'], at: Date): Condition => ({
  type: 'XfsShutdown',
  status,
  reason: status === 'True' ? 'XfsHasShutdown' : 'XfsHasNotShutDown',
  message: 'm',
  lastTransitionTime: at,
});

describe('conditions after an API server outage (fake clock, real HTTP)', () => {
  let server: FakeApiServer;
  let kube: KubeClient;
  beforeEach(async () => {
    server = await FakeApiServer.start();
    server.addNode('n1', [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready' }]);
    kube = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 5000 })!;
  });
  afterEach(async () => server.close());

  type Outage = 'refused' | '503';
  async function scenario(outage: Outage, random: () => number) {
    const clock = new FakeClock();
    const t = tracked(kube.nodes, clock);
    const ex = new ConditionExporter({ api: t.api, nodeName: 'n1', clock, logger, random });
    const step = async (ms: number): Promise<void> => {
      clock.advance(ms);
      await settle();
      while (t.inflight.size > 0) {
        await Promise.allSettled([...t.inflight]);
        await settle();
      }
    };
    // Connected and adopted, as in a running agent.
    ex.declare(['XfsShutdown']);
    ex.onConditions('kernel-monitor', [cond('False', new Date(clock.now()))]);
    for (let i = 0; i < 20; i++) await step(STEP_MS);
    expect(ex.inSync()).toBe(true);

    // The API server goes away; a kernel problem sets the condition 30 s into the outage.
    if (outage === 'refused') await server.refuse();
    else server.failNext(Number.MAX_SAFE_INTEGER, { code: 503 });
    const downAt = clock.now();
    for (let ms = 0; ms < OUTAGE_MS; ms += STEP_MS) {
      if (ms === 30_000)
        ex.onConditionChange({ component: 'kernel-monitor', condition: cond('True', new Date(clock.now())) });
      await step(STEP_MS);
    }
    const failed = t.calls.filter((c) => c.at >= downAt && !c.ok);

    if (outage === 'refused') await server.accept();
    else server.clearFaults();
    const upAt = clock.now();
    while (!ex.inSync() && clock.now() - upAt < 60_000) await step(STEP_MS);
    const firstOk = t.calls.find((c) => c.at >= upAt && c.ok && c.what === 'patch');
    ex.stop();
    return { failed, downAt, upAt, firstOk, ex };
  }

  for (const outage of ['refused', '503'] as const) {
    it(`${outage}: 10 min down, then the first successful PATCH within 15 s of recovery, carrying the condition set during the outage`, async () => {
      const delays: number[] = [];
      for (const seed of [1, 2, 3, 4, 5]) {
        server.clearFaults();
        const { failed, upAt, firstOk } = await scenario(outage, rng(seed));
        expect(firstOk, `seed ${seed}`).toBeDefined();
        const delay = firstOk!.at - upAt;
        delays.push(delay);
        expect(delay, `seed ${seed}`).toBeLessThanOrEqual(15_000);
        expect(delay, `seed ${seed}`).toBeLessThanOrEqual(CONDITION_BACKOFF.capMs);
        expect(firstOk!.body?.find((c) => c.type === 'XfsShutdown')?.status).toBe('True');
        expect(server.conditionsOf('n1').find((c) => c.type === 'XfsShutdown')).toMatchObject({
          status: 'True',
          reason: 'XfsHasShutdown',
        });
        expect(server.conditionsOf('n1').find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' }); // kubelet's untouched
        // Gentle meanwhile: never more than the cap between attempts, and on average about cap/2.
        // (A delay counts from the failed answer, which the test sees at the end of its step.)
        const gaps = failed.slice(1).map((c, i) => c.at - failed[i]!.at);
        expect(Math.max(...gaps)).toBeLessThanOrEqual(CONDITION_BACKOFF.capMs + STEP_MS);
        const mean = OUTAGE_MS / failed.length;
        expect(mean).toBeGreaterThan(CONDITION_BACKOFF.capMs / 4);
        expect(mean).toBeLessThan(CONDITION_BACKOFF.capMs);
      }
      // Seen from the test: the recovery delays are spread, not all at the cap.
      expect(new Set(delays.map((d) => Math.floor(d / 1000))).size).toBeGreaterThan(1);
    }, 120_000); // hang guard: 5 × 10 min of fake time over real HTTP takes a few seconds

    it(`${outage}: the worst case (jitter at its top) still converges within the 10 s cap`, async () => {
      const { upAt, firstOk } = await scenario(outage, () => 0.999_999);
      expect(firstOk).toBeDefined();
      expect(firstOk!.at - upAt).toBeLessThanOrEqual(CONDITION_BACKOFF.capMs);
    }, 60_000); // hang guard
  }

  it('Retry-After still wins over the jitter after recovery (a 429 asking for 30 s)', async () => {
    const clock = new FakeClock();
    const t = tracked(kube.nodes, clock);
    const ex = new ConditionExporter({ api: t.api, nodeName: 'n1', clock, logger, random: () => 0.1 });
    server.failNext(1, { code: 429, retryAfterSec: 30 });
    ex.onConditions('kernel-monitor', [cond('True', new Date(clock.now()))]);
    for (let i = 0; i < 400 && !ex.inSync(); i++) {
      clock.advance(STEP_MS);
      await settle();
      while (t.inflight.size > 0) await Promise.allSettled([...t.inflight]);
      await settle();
    }
    const patches = t.calls.filter((c) => c.what === 'patch');
    expect(patches.map((c) => c.ok)).toEqual([false, true]);
    expect(patches[1]!.at - patches[0]!.at).toBeGreaterThanOrEqual(30_000);
    expect(patches[1]!.at - patches[0]!.at).toBeLessThan(30_000 + 2 * STEP_MS);
    ex.stop();
  });
});

describe('the pod watch after an API server outage (fake clock, real HTTP)', () => {
  let server: FakeApiServer;
  let pods: FakePods;
  let kube: KubeClient;
  let ac: AbortController;
  beforeEach(async () => {
    server = await FakeApiServer.start();
    pods = new FakePods(server);
    kube = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 5000 })!;
    ac = new AbortController();
    pods.put({ namespace: 'shop', name: 'web-1', node: 'n1', ips: ['10.244.1.5'] });
  });
  afterEach(async () => {
    ac.abort();
    await server.close();
  });

  /** A LocalPodIndex on a FakeClock whose lists are recorded (fake time, result). */
  function startIndex(random: () => number) {
    const clock = new FakeClock();
    const lists: { at: number; ok: boolean }[] = [];
    let listing = 0;
    const core = new Proxy(kube.core, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'listPodForAllNamespaces' || typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          const at = clock.now();
          listing++;
          return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args).then(
            (r) => (listing--, lists.push({ at, ok: true }), r),
            (e: unknown) => {
              listing--;
              lists.push({ at, ok: false });
              throw e;
            },
          );
        };
      },
    });
    const idx = new LocalPodIndex({ core, nodeName: 'n1', clock, logger, random });
    void idx.run(ac.signal);
    // Idle: sleeping on the fake clock, or watching. Then move time on.
    const idle = (): boolean => listing === 0 && (clock.pending() > 0 || pods.openWatches > 0);
    const step = async (): Promise<void> => {
      clock.advance(STEP_MS);
      await settle();
      await until(idle, 'pod index idle');
    };
    return { clock, lists, idx, step, idle };
  }

  it('a watch that fails right after every successful list backs off instead of relisting in a tight loop', async () => {
    server.failNext(Number.MAX_SAFE_INTEGER, { code: 500, match: (r) => r.query.get('watch') === 'true' });
    const { lists, step } = startIndex(rng(7));
    for (let ms = 0; ms < 120_000; ms += STEP_MS) await step();
    expect(lists.every((l) => l.ok)).toBe(true);
    // Resetting on each list would relist about twice a second (≈ 240); the backoff keeps
    // growing to its 20 s cap instead: ~4 quick tries, then one per ~10 s.
    expect(lists.length).toBeLessThanOrEqual(25);
    expect(lists.length).toBeGreaterThanOrEqual(5);
  }, 60_000); // hang guard

  for (const seed of [1, 2, 3]) {
    it(`resumes within 30 s of the API server answering again (seed ${seed}), and a pod created meanwhile is indexed`, async () => {
      const { clock, lists, idx, step, idle } = startIndex(rng(seed));
      await until(() => idx.hasSynced && pods.openWatches === 1, 'first list and watch');

      await server.refuse();
      await until(idle, 'watch noticed the outage');
      const downAt = clock.now();
      for (let ms = 0; ms < OUTAGE_MS; ms += STEP_MS) {
        if (ms === 60_000) pods.put({ namespace: 'shop', name: 'web-2', node: 'n1', ips: ['10.244.1.6'] });
        await step();
      }
      const failed = lists.filter((l) => l.at >= downAt && !l.ok);
      await server.accept();
      const upAt = clock.now();
      while (!(lists.some((l) => l.at >= upAt && l.ok) && pods.openWatches === 1) && clock.now() - upAt < 60_000)
        await step();
      const resumed = lists.find((l) => l.at >= upAt && l.ok);
      expect(resumed).toBeDefined();
      expect(resumed!.at - upAt).toBeLessThanOrEqual(30_000);
      expect(resumed!.at - upAt).toBeLessThanOrEqual(WATCH_BACKOFF.capMs);
      expect(pods.openWatches).toBe(1);
      expect(idx.localPod('10.244.1.6')?.name).toBe('web-2');
      // The watch is live again: a pod added now arrives without another list.
      const listsBefore = lists.length;
      pods.put({ namespace: 'shop', name: 'web-3', node: 'n1', ips: ['10.244.1.7'] });
      await until(() => idx.localPod('10.244.1.7') !== undefined, 'watch event');
      expect(lists.length).toBe(listsBefore);
      // Gentle meanwhile: never more than the cap between lists (plus the step in which the
      // failure was seen), about cap/2 on average.
      const gaps = failed.slice(1).map((l, i) => l.at - failed[i]!.at);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(WATCH_BACKOFF.capMs + STEP_MS);
      expect(OUTAGE_MS / failed.length).toBeGreaterThan(WATCH_BACKOFF.capMs / 4);
    }, 60_000); // hang guard: 10 min of fake time over real HTTP takes a few seconds
  }
});
