// event-times.test.ts: Event timestamps as operators read them (`kubectl get events`): an Event
// that counts several occurrences has firstTimestamp = log time of the first one it counts and
// lastTimestamp = log time of the last; a later PATCH moves lastTimestamp only. Checked for
// PacketDrop Events (drop pipeline → event exporter) and for Node Events counted from several
// kernel lines (detector → event aggregator), against the fake API server over HTTP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Detector } from '../agent/detector';
import { DropPipeline } from '../agent/drops';
import { DEFAULT_DROP_PREFIXES } from '../agent/engine/drop-prefixes';
import { createKubeClient, type KubeClient } from '../agent/kube/client';
import { NodeAdoption } from '../agent/kube/node-adoption';
import { EventExporter } from '../agent/sinks/event-exporter';
import type { DropResolver, Logger, RuleFile } from '../agent/types';
import { FakeApiServer } from './helpers/fake-apiserver';
import { FakeClock } from './helpers/fake-clock';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const POD = { namespace: 'shop', name: 'web-1', uid: 'u1' };
const resolver: DropResolver = {
  localPod: (ip) => (ip === '10.244.1.5' ? POD : undefined),
  peer: async () => ({ kind: 'pod', pod: { namespace: 'payments', name: 'api-7' } }),
};
const drop = (src: string, dst: string): string =>
  `calico-drop: IN=cali1 OUT=eth0 SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=5432 WINDOW=1 RES=0x00 SYN URGP=0 `;
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
/** The API server stores Event times to the second; compare at that precision. */
const second = (v: unknown): string => new Date(String(v)).toISOString().replace('.000Z', 'Z');

describe('Event timestamps are log times: first occurrence, last occurrence', () => {
  let server: FakeApiServer;
  let kube: KubeClient;
  let clock: FakeClock;
  let ex: EventExporter;
  beforeEach(async () => {
    server = await FakeApiServer.start();
    server.addNode('n1');
    kube = createKubeClient({ kubeconfig: server.writeKubeconfig() })!;
    clock = new FakeClock(Date.parse('2026-03-01T21:55:30Z'));
    const adoption = new NodeAdoption({ api: kube.nodes, nodeName: 'n1', clock, logger });
    ex = new EventExporter({ api: kube.events, nodeUid: () => adoption.nodeUid(), nodeName: 'n1', clock, logger });
  });
  afterEach(async () => {
    ex.stop();
    await server.close();
  });
  // Delivery is real HTTP; the fake clock never has to move for it (no failures, no backoff).
  const deliver = (): Promise<void> => ex.flush(Number.MAX_SAFE_INTEGER);

  it('PacketDrop: drops logged over 30 s give firstTimestamp = first drop, lastTimestamp = last; a PATCH moves only lastTimestamp', async () => {
    const p = new DropPipeline({ prefixes: DEFAULT_DROP_PREFIXES, clock, logger, resolver, sinks: [ex] });
    const first = Date.parse('2026-03-01T21:54:51Z');
    const last = Date.parse('2026-03-01T21:55:21Z');
    // 3,001 drops spread evenly over [first, last], in log order.
    for (let i = 0; i <= 3000; i++)
      p.handle({
        origin: 'kmsg',
        time: new Date(first + (i * (last - first)) / 3000),
        text: drop('10.244.1.5', '10.244.2.9'),
      });
    await p.flushOnce();
    await deliver();
    let events = server.listEvents('metadata.namespace=shop');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'PacketDrop', count: 3001 });
    expect(second(events[0]!.firstTimestamp)).toBe(iso(first));
    expect(second(events[0]!.lastTimestamp)).toBe(iso(last));

    // The next window: more drops of the same key, logged later. The Event is PATCHed.
    clock.advance(10_000);
    const later = Date.parse('2026-03-01T21:55:35Z');
    for (let i = 0; i < 5; i++)
      p.handle({ origin: 'kmsg', time: new Date(later + i * 1000), text: drop('10.244.1.5', '10.244.2.9') });
    await p.flushOnce();
    await deliver();
    events = server.listEvents('metadata.namespace=shop');
    expect(events).toHaveLength(1);
    expect(events[0]!.count).toBe(3006);
    expect(second(events[0]!.firstTimestamp)).toBe(iso(first));
    expect(second(events[0]!.lastTimestamp)).toBe(iso(later + 4000));
    const patches = server.requestsTo('PATCH', /\/namespaces\/shop\/events\//);
    expect(patches).toHaveLength(1);
    expect(patches[0]!.body).not.toHaveProperty('firstTimestamp');
  });

  it('PacketDrop: drops arriving out of log order still give the earliest and the latest', async () => {
    const p = new DropPipeline({ prefixes: DEFAULT_DROP_PREFIXES, clock, logger, resolver, sinks: [ex] });
    const times = ['21:55:10', '21:54:58', '21:55:20', '21:55:01'].map((t) => Date.parse(`2026-03-01T${t}Z`));
    for (const t of times) p.handle({ origin: 'kmsg', time: new Date(t), text: drop('10.244.2.9', '10.244.1.5') });
    await p.flushOnce();
    await deliver();
    const [e] = server.listEvents('metadata.namespace=shop');
    expect(e).toMatchObject({ count: 4 });
    expect(second(e!.firstTimestamp)).toBe('2026-03-01T21:54:58Z');
    expect(second(e!.lastTimestamp)).toBe('2026-03-01T21:55:20Z');
  });

  it('Node Events counted from several kernel lines: first line → firstTimestamp, last line → lastTimestamp; PATCH keeps firstTimestamp', async () => {
    const rules: RuleFile = {
      path: '/r/k.json',
      plugin: 'kmsg',
      pluginConfig: {},
      logPath: '/dev/kmsg',
      lookbackMs: 0,
      delayMs: 0,
      bufferSize: 1,
      component: 'kernel-monitor',
      metricsReporting: true,
      skipList: [],
      conditions: [],
      rules: [
        { type: 'temporary', reason: 'TaskHung', pattern: 'task \\S+:\\w+ blocked for more than \\w+ seconds\\.' },
      ],
    };
    const d = new Detector([rules], { clock, logger, nodeName: 'n1', sinks: [ex], applyLookback: false });
    const line = 'INFO: task jbd2/sda1-8:321 blocked for more than 120 seconds.';
    const t0 = Date.parse('2026-03-01T21:50:00Z');
    for (let i = 0; i < 3; i++) d.handle({ origin: 'kmsg', time: new Date(t0 + i * 120_000), text: line });
    await deliver();
    let [e] = server.listEvents('involvedObject.kind=Node');
    expect(e).toMatchObject({ reason: 'TaskHung', count: 3 });
    expect(second(e!.firstTimestamp)).toBe(iso(t0));
    expect(second(e!.lastTimestamp)).toBe(iso(t0 + 240_000));
    d.handle({ origin: 'kmsg', time: new Date(t0 + 360_000), text: line });
    await deliver();
    [e] = server.listEvents('involvedObject.kind=Node');
    expect(e).toMatchObject({ count: 4 });
    expect(second(e!.firstTimestamp)).toBe(iso(t0));
    expect(second(e!.lastTimestamp)).toBe(iso(t0 + 360_000));
    expect(server.requestsTo('PATCH', /\/events\//).every((r) => !('firstTimestamp' in (r.body as object)))).toBe(true);
  });
});
