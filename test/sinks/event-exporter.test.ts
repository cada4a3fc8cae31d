// event-exporter.test.ts: the Event exporter over real HTTP against the fake API server:
// fields, counting by PATCH, 409/404 handling, retries, a bounded queue while the API is down,
// and flush deadlines.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../agent/kube/client';
import { NodeAdoption } from '../../agent/kube/node-adoption';
import type { NodeStatusApi } from '../../agent/kube/types';
import type { KubeClient } from '../../agent/kube/client';
import { EventAggregator } from '../../agent/state/event-aggregator';
import { EventExporter, MESSAGE_LIMIT_BYTES, TRUNCATION_MARKER, capMessage } from '../../agent/sinks/event-exporter';
import type { EventExporterOptions } from '../../agent/sinks/event-exporter';
import type { Logger, NodeEvent } from '../../agent/types';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { AutoClock, FakeClock } from '../helpers/fake-clock';
import { until } from '../helpers/eventually';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const fast = { baseMs: 20, capMs: 200 };
/** The uid port the agent wires: NodeAdoption, the one reader of the Node. */
const uidFrom = (nodes: NodeStatusApi): (() => Promise<string | undefined>) => {
  const adoption = new NodeAdoption({ api: nodes, nodeName: 'n1', clock: new FakeClock(), logger });
  return () => adoption.nodeUid();
};
const T = new Date('2026-02-01T08:00:00Z');

function ev(over: Partial<NodeEvent> = {}): NodeEvent {
  return {
    involved: { kind: 'Node', name: 'n1' },
    type: 'Warning',
    reason: 'OOMKilling',
    message: 'Out of memory: Killed process 42',
    component: 'kernel-monitor',
    time: T,
    ...over,
  };
}

describe('capMessage', () => {
  it('caps at 1 KiB with a marker, on a character boundary, and keeps format directives literal', () => {
    expect(capMessage('%s %d %n')).toEqual({ text: '%s %d %n', truncated: false });
    const long = capMessage('x'.repeat(5000));
    expect(Buffer.byteLength(long.text)).toBe(MESSAGE_LIMIT_BYTES);
    expect(long.text.endsWith(TRUNCATION_MARKER)).toBe(true);
    const multi = capMessage('é'.repeat(1000));
    expect(Buffer.byteLength(multi.text)).toBeLessThanOrEqual(MESSAGE_LIMIT_BYTES);
    expect(multi.text).not.toContain('\uFFFD');
    expect(capMessage('a'.repeat(MESSAGE_LIMIT_BYTES)).truncated).toBe(false);
  });
});

describe('EventExporter over HTTP', () => {
  let server: FakeApiServer;
  let kube: KubeClient;
  let ex: EventExporter;
  const make = (over: Partial<EventExporterOptions> = {}): EventExporter =>
    new EventExporter({
      api: kube.events,
      nodeUid: uidFrom(kube.nodes),
      nodeName: 'n1',
      clock: new AutoClock(),
      logger,
      backoff: fast,
      ...over,
    });

  beforeEach(async () => {
    server = await FakeApiServer.start();
    server.addNode('n1');
    kube = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 100 })!;
  });
  afterEach(async () => {
    ex?.stop();
    await server.close();
  });

  it("creates a Node event with the issue's fields, then PATCHes count and lastTimestamp for repeats", async () => {
    // The uid is read once, before the first delivery: not on the 100 ms client a loaded machine can miss.
    const patient = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 10_000 })!;
    ex = make({ nodeUid: uidFrom(patient.nodes) });
    ex.onEvent(ev());
    await until('ex.counters.sent === 1', () => ex.counters.sent === 1);
    const [e] = server.listEvents('involvedObject.kind=Node,involvedObject.name=n1');
    expect(e).toMatchObject({
      metadata: { namespace: 'default' },
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'uid-n1' },
      type: 'Warning',
      reason: 'OOMKilling',
      message: 'Out of memory: Killed process 42',
      source: { component: 'kernel-monitor', host: 'n1' },
      count: 1,
      firstTimestamp: '2026-02-01T08:00:00Z',
      lastTimestamp: '2026-02-01T08:00:00Z',
      reportingComponent: 'nodewarden',
      reportingInstance: 'n1',
    });
    expect(e!.metadata.name).toMatch(/^n1\.[0-9a-f]+$/);
    ex.onEvent(ev({ time: new Date(T.getTime() + 30_000) }));
    ex.onEvent(ev({ time: new Date(T.getTime() + 60_000) }));
    await until('server.listEvents()[0]!.count === 3', () => server.listEvents()[0]!.count === 3);
    expect(server.listEvents()).toHaveLength(1);
    expect(server.listEvents()[0]).toMatchObject({
      lastTimestamp: '2026-02-01T08:01:00Z',
      firstTimestamp: '2026-02-01T08:00:00Z',
    });
    const patches = server.requestsTo('PATCH', /\/events\//);
    expect(patches.length).toBeGreaterThanOrEqual(1);
    expect(patches.every((p) => p.contentType === 'application/strategic-merge-patch+json')).toBe(true);
    expect(server.requestsTo('GET', /\/nodes\/n1$/)).toHaveLength(1); // uid fetched once
  });

  it("puts Pod events in the Pod's namespace", async () => {
    ex = make();
    ex.onEvent(
      ev({
        involved: { kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'pod-uid' },
        reason: 'PacketDrop',
        component: 'nodewarden',
      }),
    );
    await until('ex.counters.sent === 1', () => ex.counters.sent === 1);
    expect(server.listEvents('metadata.namespace=shop')[0]).toMatchObject({
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'pod-uid' },
    });
  });

  it('API down for a while (refused, then hanging): queue bounded, then delivered with the right counts', async () => {
    const clock = new AutoClock();
    ex = make({ queueSize: 50, clock });
    await server.refuse();
    for (let i = 0; i < 20; i++) ex.onEvent(ev({ time: new Date(T.getTime() + i * 1000) }));
    // 200 different objects (pods) so neither counting nor the spam filter merges them.
    for (let i = 0; i < 200; i++)
      ex.onEvent(ev({ involved: { kind: 'Pod', namespace: 'ns', name: `p${i}` }, reason: 'PacketDrop' }));
    expect(ex.queued()).toBe(50);
    expect(ex.counters.queueFull).toBe(200 - 49);
    await until('ex.counters.retries >= 3', () => ex.counters.retries >= 3);
    await server.accept();
    server.setHang(true);
    for (let i = 20; i < 25; i++) ex.onEvent(ev({ time: new Date(T.getTime() + i * 1000) }));
    const r0 = ex.counters.retries;
    await until('ex.counters.retries >= r0 + 2', () => ex.counters.retries >= r0 + 2);
    expect(ex.queued()).toBe(50);
    server.setHang(false);
    await until('ex.queued() === 0', () => ex.queued() === 0);
    // However long it was down, no retry ever waited longer than the backoff cap.
    expect(clock.delays.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(fast.capMs);
    const nodeEvents = server.listEvents('involvedObject.kind=Node');
    expect(nodeEvents).toHaveLength(1);
    expect(nodeEvents[0]).toMatchObject({ count: 25, lastTimestamp: '2026-02-01T08:00:24Z' });
    expect(server.listEvents('involvedObject.kind=Pod')).toHaveLength(49);
    expect(ex.counters).toMatchObject({ sent: 50, dropped: 151, rejected: 0 });
  });

  it('suppressed events are counted and carried in the next event that gets through', async () => {
    const clock = new FakeClock(T.getTime());
    const aggregator = new EventAggregator(clock, { host: 'n1', burst: 1, refillIntervalMs: 60_000 });
    ex = make({ aggregator, clock });
    ex.onEvent(ev());
    await until('ex.counters.sent === 1', () => ex.counters.sent === 1);
    ex.onEvent(ev());
    ex.onEvent(ev());
    expect(ex.counters.suppressed).toBe(2);
    clock.advance(60_000);
    ex.onEvent(ev());
    await until('server.listEvents()[0]!.count === 4', () => server.listEvents()[0]!.count === 4);
  });

  it('429 with Retry-After is honoured; 500 and 503 are retried', async () => {
    const clock = new AutoClock();
    ex = make({ clock });
    server.failNext(1, { code: 503, match: (r) => r.method === 'POST' });
    server.failNext(1, { code: 500, match: (r) => r.method === 'POST' });
    server.failNext(1, { code: 429, retryAfterSec: 1, match: (r) => r.method === 'POST' });
    ex.onEvent(ev());
    await until('ex.counters.sent === 1', () => ex.counters.sent === 1);
    // The waits asked of the clock: backoffs within the cap, and once the 429's Retry-After (1 s).
    expect(clock.delays.filter((d) => d >= 1000)).toHaveLength(1);
    expect(clock.delays.every((d) => d <= fast.capMs || d >= 1000)).toBe(true);
    expect(server.requestsTo('POST', /events$/)).toHaveLength(4);
    expect(ex.counters.retries).toBe(3);
  });

  it('409 on create (an earlier create whose answer was lost) patches the existing Event', async () => {
    ex = make();
    let lost = false;
    server.failNext(1, {
      code: 504,
      match: (r) => {
        if (r.method !== 'POST' || lost) return false;
        lost = true; // the server stored it, but the answer never arrived
        const body = r.body as { metadata: { name: string } };
        server.events.set(`default/${body.metadata.name}`, {
          ...body,
          metadata: { ...body.metadata, namespace: 'default', resourceVersion: '1' },
        });
        return true;
      },
    });
    ex.onEvent(ev());
    ex.onEvent(ev());
    await until('ex.queued() === 0 && ex.counters.sent >= 1', () => ex.queued() === 0 && ex.counters.sent >= 1);
    expect(server.listEvents()).toHaveLength(1);
    expect(server.listEvents()[0]!.count).toBe(2);
    expect(server.requests.some((r) => r.method === 'POST')).toBe(true);
    expect(ex.counters.rejected).toBe(0);
  });

  it('404 on patch (Event expired) creates it again with the full count', async () => {
    ex = make();
    ex.onEvent(ev());
    await until('ex.counters.sent === 1', () => ex.counters.sent === 1);
    server.events.clear(); // the API server's TTL removed it
    ex.onEvent(ev());
    await until('ex.counters.sent === 2', () => ex.counters.sent === 2);
    expect(server.listEvents()).toHaveLength(1);
    expect(server.listEvents()[0]!.count).toBe(2);
    expect(server.requestsTo('PATCH', /events/).length).toBe(1);
  });

  it('drops and counts what the API rejects for good (422)', async () => {
    ex = make({ namespace: 'kube-system' });
    ex.onEvent(ev());
    await until('ex.counters.rejected === 1', () => ex.counters.rejected === 1);
    expect(ex.counters).toMatchObject({ dropped: 1, sent: 0 });
    expect(ex.queued()).toBe(0);
  });

  it('flush delivers what is queued, and returns by its deadline when the API hangs', async () => {
    const clock = new FakeClock();
    const patient = createKubeClient({ kubeconfig: server.writeKubeconfig(), timeoutMs: 60_000 })!;
    ex = make({ clock, api: patient.events, nodeUid: uidFrom(patient.nodes) });
    server.setHang(true);
    ex.onEvent(ev());
    let returned = false;
    const flushing = ex.flush(clock.now() + 300).then(() => (returned = true));
    await until('server.hungRequests() > 0', () => server.hungRequests() > 0);
    clock.advance(299);
    await new Promise((r) => setImmediate(r));
    expect(returned).toBe(false);
    clock.advance(1); // the deadline
    await flushing;
    expect(server.hungRequests()).toBeGreaterThan(0); // flush did not wait for the hung request
    expect(ex.queued()).toBe(1);
    ex.stop();
    server.setHang(false);
    ex = make({ clock });
    ex.onEvent(ev());
    await ex.flush(clock.now() + 2000);
    expect(ex.queued()).toBe(0);
    expect(server.listEvents()).toHaveLength(1);
  });
});
