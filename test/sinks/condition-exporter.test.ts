// condition-exporter.test.ts: the NodeCondition exporter's timing and ownership rules, first
// with a FakeClock and a scripted in-memory API, then over real HTTP against the fake API
// server (API down for a while, 429/500/503, removal, adoption, restart).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../agent/kube/client';
import type { ApiResult, NodeSnapshot, NodeStatusApi, WireCondition } from '../../agent/kube/types';
import { NodeAdoption } from '../../agent/kube/node-adoption';
import { ConditionExporter } from '../../agent/sinks/condition-exporter';
import { CheckpointStore } from '../../agent/sources/checkpoint';
import type { Condition, Logger } from '../../agent/types';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { AutoClock, FakeClock } from '../helpers/fake-clock';
import { until } from '../helpers/eventually';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};
/** Advances a FakeClock in 250 ms steps, letting promises settle in between. */
async function runFor(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    clock.advance(Math.min(250, ms - t));
    await settle();
  }
}

function cond(
  type: string,
  status: Condition['status'],
  at: Date,
  reason = status === 'True' ? 'Bad' : 'Good',
): Condition {
  return { type, status, reason, message: `${type} ${status}`, lastTransitionTime: at };
}

/** A scripted NodeStatusApi: answers from `script` first, then ok. Records calls. */
class ScriptedApi implements NodeStatusApi {
  patches: { at: number; conditions: readonly WireCondition[]; remove: readonly string[] }[] = [];
  script: ApiResult<NodeSnapshot>[] = [];
  node: NodeSnapshot = { name: 'n1', uid: 'uid-1', conditions: [] };
  constructor(private readonly clock: FakeClock) {}
  async getNode(): Promise<ApiResult<NodeSnapshot>> {
    return this.script.shift() ?? { ok: true, value: this.node };
  }
  async patchNodeConditions(
    _n: string,
    conditions: readonly WireCondition[],
    remove: readonly string[],
  ): Promise<ApiResult<NodeSnapshot>> {
    this.patches.push({ at: this.clock.now(), conditions, remove });
    return this.script.shift() ?? { ok: true, value: this.node };
  }
}

describe('ConditionExporter (FakeClock)', () => {
  let clock: FakeClock;
  let api: ScriptedApi;
  let t0: number;
  beforeEach(() => {
    clock = new FakeClock();
    api = new ScriptedApi(clock);
    t0 = clock.now();
  });

  it('syncs within 1 s of a change, then heartbeats every period ±10 %, heartbeat time moving, transition time not', async () => {
    let r = 0;
    const randoms = [0, 0.999, 0.5];
    const ex = new ConditionExporter({
      api,
      nodeName: 'n1',
      clock,
      logger,
      heartbeatPeriodMs: 300_000,
      syncDelayMs: 250,
      random: () => randoms[r++ % 3]!,
    });
    const since = new Date(t0 - 3600_000);
    ex.onConditions('kernel-monitor', [cond('KernelDeadlock', 'False', since)]);
    await runFor(clock, 1000);
    expect(api.patches).toHaveLength(1);
    expect(api.patches[0]!.conditions[0]).toMatchObject({
      type: 'KernelDeadlock',
      lastTransitionTime: since,
      lastHeartbeatTime: new Date(api.patches[0]!.at),
    });
    // Heartbeats: 0.9 × period, then 1.1 × period (random 0 and ~1).
    await runFor(clock, 270_000);
    expect(api.patches).toHaveLength(2);
    expect(api.patches[1]!.at - api.patches[0]!.at).toBe(270_000);
    await runFor(clock, 329_000);
    expect(api.patches).toHaveLength(2);
    await runFor(clock, 1_000);
    expect(api.patches).toHaveLength(3);
    expect(api.patches[2]!.at - api.patches[1]!.at).toBeGreaterThan(329_000);
    expect(api.patches[2]!.at - api.patches[1]!.at).toBeLessThanOrEqual(330_000);
    expect(api.patches[2]!.conditions[0]!.lastTransitionTime).toEqual(since);
    expect(api.patches[2]!.conditions[0]!.lastHeartbeatTime!.getTime()).toBeGreaterThan(
      api.patches[1]!.conditions[0]!.lastHeartbeatTime!.getTime(),
    );
    ex.stop();
    expect(clock.pending()).toBe(0);
  });

  it('latest wins per type: a burst of changes is one patch carrying the last state', async () => {
    const ex = new ConditionExporter({ api, nodeName: 'n1', clock, logger });
    for (let i = 0; i < 1000; i++) {
      const status = i % 2 === 0 ? 'True' : 'False';
      ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', status, new Date(t0 + i)) });
    }
    expect(ex.conditions()).toHaveLength(1);
    await runFor(clock, 1000);
    expect(api.patches).toHaveLength(1);
    expect(api.patches[0]!.conditions).toHaveLength(1);
    expect(api.patches[0]!.conditions[0]).toMatchObject({ status: 'False', lastTransitionTime: new Date(t0 + 999) });
    expect(ex.inSync()).toBe(true);
  });

  it('backs off exponentially with full jitter, capped at 10 s; Retry-After wins up to 1 min; success resets the backoff', async () => {
    const ex = new ConditionExporter({ api, nodeName: 'n1', clock, logger, random: () => 0.5, syncDelayMs: 250 });
    const down: ApiResult<NodeSnapshot> = { ok: false, retryable: true, error: 'network error: ECONNREFUSED' };
    api.script = Array.from({ length: 8 }, () => down);
    api.script.push({ ok: false, retryable: true, error: '429', status: 429, retryAfterMs: 2_000 });
    api.script.push({ ok: false, retryable: true, error: '429', status: 429, retryAfterMs: 200_000 });
    ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', 'True', new Date(t0)) });
    // random 0.5 → delay = 0.5 × min(10 s, 1 s × 2^(n-1)).
    await runFor(clock, 300_000);
    const gaps = api.patches.slice(1).map((p, i) => p.at - api.patches[i]!.at);
    expect(gaps.slice(0, 8)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]); // capped: 0.5 × 10 s
    expect(gaps[8]).toBe(5000); // Retry-After shorter than the jittered delay: the delay stands
    expect(gaps[9]).toBe(60_000); // Retry-After longer: it wins, capped at 1 min
    expect(ex.inSync()).toBe(true);
    expect(ex.counters.failures).toBe(10);
    // Success reset the backoff: the next failure waits one base step again.
    api.script = [down];
    ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', 'False', new Date(t0)) });
    const n = api.patches.length;
    await runFor(clock, 2000);
    expect(api.patches.length).toBe(n + 2);
    expect(api.patches[n + 1]!.at - api.patches[n]!.at).toBe(500);
  });

  it('adopts the node conditions of our types only, and removes types it owned that are no longer declared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-cond-'));
    try {
      const store = new CheckpointStore(dir, logger);
      store.save('owned-conditions', { node: 'n1', types: ['OldType', 'KernelDeadlock'] });
      api.node = {
        name: 'n1',
        uid: 'uid-1',
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: '' },
          {
            type: 'KernelDeadlock',
            status: 'True',
            reason: 'DockerHung',
            message: 'hung',
            lastTransitionTime: new Date(t0 - 5000),
          },
          { type: 'OldType', status: 'True', reason: 'X', message: '' },
          { type: 'SomeoneElses', status: 'True', reason: 'Y', message: '' },
        ],
      };
      const ex = new ConditionExporter({ api, nodeName: 'n1', clock, logger, store });
      ex.declare(['KernelDeadlock', 'ReadonlyFilesystem', 'Ready']);
      const adoption = new NodeAdoption({ api, nodeName: 'n1', clock, logger });
      const adopted = (await adoption.read(['KernelDeadlock', 'ReadonlyFilesystem', 'Ready'], t0 + 10_000))!;
      expect(adopted).toEqual([
        {
          type: 'KernelDeadlock',
          status: 'True',
          reason: 'DockerHung',
          message: 'hung',
          lastTransitionTime: new Date(t0 - 5000),
        },
      ]);
      expect(adoption.uid).toBe('uid-1');
      expect(await adoption.nodeUid()).toBe('uid-1');
      ex.onConditions('kernel-monitor', [...adopted, cond('ReadonlyFilesystem', 'False', new Date(t0))]);
      await runFor(clock, 1000);
      expect(api.patches).toHaveLength(1);
      expect(api.patches[0]!.remove).toEqual(['OldType']);
      expect(api.patches[0]!.conditions.map((c) => c.type)).toEqual(['KernelDeadlock', 'ReadonlyFilesystem']);
      expect(store.load('owned-conditions')).toEqual({ node: 'n1', types: ['KernelDeadlock', 'ReadonlyFilesystem'] });
      // A restart with the same rules removes nothing.
      const ex2 = new ConditionExporter({ api, nodeName: 'n1', clock, logger, store });
      ex2.declare(['KernelDeadlock', 'ReadonlyFilesystem']);
      ex2.onConditions('kernel-monitor', [cond('KernelDeadlock', 'False', new Date(t0))]);
      await runFor(clock, 1000);
      expect(api.patches[1]!.remove).toEqual([]);
      ex.stop();
      ex2.stop();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('never writes a kubelet condition type, and a state file from another node removes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-cond-'));
    try {
      const store = new CheckpointStore(dir, logger);
      store.save('owned-conditions', { node: 'other-node', types: ['OldType'] });
      const ex = new ConditionExporter({ api, nodeName: 'n1', clock, logger, store });
      ex.declare(['KernelDeadlock']);
      ex.onConditionChange({ component: 's', condition: cond('Ready', 'False', new Date(t0)) });
      ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', 'True', new Date(t0)) });
      await runFor(clock, 1000);
      expect(api.patches[0]!.conditions.map((c) => c.type)).toEqual(['KernelDeadlock']);
      expect(api.patches[0]!.remove).toEqual([]);
      expect(ex.counters.dropped).toBe(1);
      ex.stop();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('redeclare (rule reload) removes the types no longer declared', async () => {
    const ex = new ConditionExporter({ api, nodeName: 'n1', clock, logger });
    ex.declare(['A', 'B']);
    ex.onConditions('s', [cond('A', 'False', new Date(t0)), cond('B', 'True', new Date(t0))]);
    await runFor(clock, 1000);
    ex.redeclare(['A', 'C']);
    await runFor(clock, 1000);
    expect(api.patches[1]!.remove).toEqual(['B']);
    expect(api.patches[1]!.conditions.map((c) => c.type)).toEqual(['A']);
    await runFor(clock, 400_000);
    expect(api.patches.at(-1)!.remove).toEqual([]);
    expect(ex.counters.removed).toBe(1);
    ex.stop();
  });

  it('adoption gives up at its deadline when the API is down, returning undefined', async () => {
    api.script = Array.from({ length: 100 }, () => ({ ok: false as const, retryable: true, error: 'down' }));
    const adoption = new NodeAdoption({ api, nodeName: 'n1', clock, logger, random: () => 0.5 });
    const p = adoption.read(['KernelDeadlock'], t0 + 5000);
    await runFor(clock, 10_000);
    expect(await p).toBeUndefined();
    expect(api.script.length).toBeGreaterThan(90);
    expect(api.patches).toHaveLength(0);
  });

  it('after a failed adoption, a held exporter writes nothing until the late read, so the defaults never overwrite a True condition', async () => {
    api.script = [...Array.from({ length: 3 }, () => ({ ok: false as const, retryable: true, error: 'down' }))];
    const since = new Date(t0 - 3_600_000);
    const adopted: Condition[][] = [];
    const ex = new ConditionExporter({ api, nodeName: 'n1', clock, logger, random: () => 0.5, syncDelayMs: 100 });
    const adoption = new NodeAdoption({ api, nodeName: 'n1', clock, logger, random: () => 0.5 });
    ex.hold();
    ex.declare(['KernelDeadlock', 'XfsShutdown']);
    const p = adoption.read(['KernelDeadlock', 'XfsShutdown'], t0 + 1500);
    await runFor(clock, 3000);
    expect(await p).toBeUndefined();
    // What the agent wires: the detector adopts where nothing changed and re-announces; then release.
    adoption.readLater(
      () => ['KernelDeadlock', 'XfsShutdown'],
      (found) => {
        adopted.push(found);
        ex.onConditions('s', found);
        ex.release();
      },
    );
    ex.onConditions('s', [cond('KernelDeadlock', 'False', new Date(t0)), cond('XfsShutdown', 'False', new Date(t0))]);
    // Still down for a while: nothing is written, and the late read keeps trying.
    api.script = Array.from({ length: 1000 }, () => ({ ok: false as const, retryable: true, error: 'down' }));
    await runFor(clock, 20_000);
    expect(api.script.length).toBeLessThan(1000);
    expect(api.patches).toHaveLength(0);
    expect(adoption.pending).toBe(true);
    // The API comes back; the Node shows KernelDeadlock True from before the restart.
    api.script = [];
    api.node = {
      name: 'n1',
      uid: 'uid-1',
      conditions: [
        { ...cond('KernelDeadlock', 'True', since), lastHeartbeatTime: since },
        { ...cond('Ready', 'True', since), lastHeartbeatTime: since },
      ],
    };
    await runFor(clock, 11_000); // the retry backoff is capped at 10 s
    expect(adopted).toEqual([[cond('KernelDeadlock', 'True', since)]]);
    expect(adoption.pending).toBe(false);
    expect(adoption.uid).toBe('uid-1');
    const first = api.patches[0];
    expect(first?.conditions.find((c) => c.type === 'KernelDeadlock')).toMatchObject({
      status: 'True',
      lastTransitionTime: since,
    });
    expect(first?.conditions.find((c) => c.type === 'XfsShutdown')).toMatchObject({ status: 'False' });
    expect(
      api.patches.every((p) => !p.conditions.some((c) => c.type === 'KernelDeadlock' && c.status === 'False')),
    ).toBe(true);
    ex.stop();
    adoption.stop();
  });

  it('nodeUid reads the Node once when unknown, shares a read in flight, and does not ask again after a 403', async () => {
    let gets = 0;
    const counting: NodeStatusApi = {
      getNode: async () => {
        gets++;
        return api.getNode();
      },
      patchNodeConditions: (n, c, r) => api.patchNodeConditions(n, c, r),
    };
    const a = new NodeAdoption({ api: counting, nodeName: 'n1', clock, logger });
    expect(await Promise.all([a.nodeUid(), a.nodeUid()])).toEqual(['uid-1', 'uid-1']);
    expect(await a.nodeUid()).toBe('uid-1');
    expect(gets).toBe(1);
    api.script = [{ ok: false, retryable: false, error: 'forbidden', status: 403 }];
    const b = new NodeAdoption({ api: counting, nodeName: 'n1', clock, logger });
    expect(await b.nodeUid()).toBeUndefined();
    expect(await b.nodeUid()).toBeUndefined();
    expect(gets).toBe(2);
  });
});

describe('ConditionExporter over HTTP (fake API server)', () => {
  let server: FakeApiServer;
  beforeEach(async () => {
    server = await FakeApiServer.start();
    server.addNode('n1', [
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
    ]);
  });
  afterEach(async () => server.close());

  const fast = { baseMs: 20, capMs: 200 };

  it('survives the API server refusing then hanging, and converges within one backoff period after recovery', async () => {
    const kube = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 100 })!;
    const clock = new AutoClock({ holdFromMs: 3_000_000 }); // the hour-long heartbeat waits
    const ex = new ConditionExporter({
      api: kube.nodes,
      nodeName: 'n1',
      clock,
      logger,
      backoff: fast,
      syncDelayMs: 10,
      heartbeatPeriodMs: 3_600_000,
    });
    const since = new Date(clock.now() - 1000);
    await server.refuse();
    ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', 'True', since) });
    await until('ex.counters.failures >= 3', () => ex.counters.failures >= 3);
    await server.accept();
    server.setHang(true);
    const before = ex.counters.failures;
    for (let i = 0; i < 200; i++)
      ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', i % 2 ? 'False' : 'True', since) });
    await until('ex.counters.failures >= before + 3', () => ex.counters.failures >= before + 3);
    expect(ex.conditions()).toHaveLength(1); // latest-wins: nothing grows while down
    server.setHang(false);
    const failuresAtRecovery = ex.counters.failures;
    await until('ex.inSync()', () => ex.inSync());
    // Converged on the first try after recovery (at most the hung attempt in flight failed), and
    // no wait between attempts was longer than the backoff cap (the heartbeat timer aside).
    expect(ex.counters.failures - failuresAtRecovery).toBeLessThanOrEqual(1);
    expect(clock.delays.filter((d) => d < 3_000_000).every((d) => d <= fast.capMs)).toBe(true);
    const kd = server.conditionsOf('n1').find((c) => c.type === 'KernelDeadlock');
    expect(kd).toMatchObject({ status: 'False', reason: 'Good' });
    expect(server.conditionsOf('n1').find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'KubeletReady',
    });
    const patches = server.requestsTo('PATCH', /\/nodes\/n1\/status$/);
    expect(patches.every((p) => p.contentType === 'application/strategic-merge-patch+json')).toBe(true);
    expect(
      patches.every((p) =>
        (p.body as { status: { conditions: { type: string }[] } }).status.conditions.every(
          (c) => c.type === 'KernelDeadlock',
        ),
      ),
    ).toBe(true);
    ex.stop();
  });

  it('retries 429 (after Retry-After), 500 and 503', async () => {
    const kube = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 500 })!;
    const clock = new AutoClock({ holdFromMs: 3_000_000 }); // the hour-long heartbeat waits
    const ex = new ConditionExporter({
      api: kube.nodes,
      nodeName: 'n1',
      clock,
      logger,
      backoff: fast,
      syncDelayMs: 10,
      heartbeatPeriodMs: 3_600_000,
    });
    server.failNext(1, { code: 500 });
    server.failNext(1, { code: 503 });
    server.failNext(1, { code: 429, retryAfterSec: 1 });
    ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', 'True', new Date()) });
    await until('ex.inSync()', () => ex.inSync());
    const patches = server.requestsTo('PATCH', /status$/);
    expect(patches).toHaveLength(4);
    // The waits asked of the clock: backoffs within the cap, and once the 429's Retry-After (1 s).
    const retryWaits = clock.delays.filter((d) => d < 3_000_000);
    expect(retryWaits.filter((d) => d >= 1000)).toHaveLength(1);
    expect(retryWaits.every((d) => d <= fast.capMs || d >= 1000)).toBe(true);
    expect(server.conditionsOf('n1').map((c) => c.type)).toEqual(['Ready', 'KernelDeadlock']);
    ex.stop();
  });

  it('heartbeat moves lastHeartbeatTime on the node but not lastTransitionTime', async () => {
    const kube = createKubeClient({ kubeconfig: server.writeKubeconfig() })!;
    const clock = new FakeClock();
    const ex = new ConditionExporter({
      api: kube.nodes,
      nodeName: 'n1',
      clock,
      logger,
      heartbeatPeriodMs: 1100,
      syncDelayMs: 10,
    });
    const since = new Date('2026-01-01T00:00:00Z');
    ex.onConditionChange({ component: 's', condition: cond('KernelDeadlock', 'True', since) });
    clock.advance(10);
    await until('the first sync', () => ex.counters.syncs === 1);
    const hb1 = server.conditionsOf('n1').find((c) => c.type === 'KernelDeadlock')!.lastHeartbeatTime as string;
    clock.advance(1100 * 1.1); // the heartbeat period with its most jitter
    await until('the heartbeat sync', () => ex.counters.syncs === 2);
    const kd = server.conditionsOf('n1').find((c) => c.type === 'KernelDeadlock')!;
    expect(kd.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(Date.parse(kd.lastHeartbeatTime as string)).toBeGreaterThan(Date.parse(hb1));
    ex.stop();
  });
});
