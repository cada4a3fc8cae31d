// drops.test.ts: the packet-drop pipeline: lines → drops → counters → pre-aggregated PacketDrop
// NodeEvents on local pods, with a fake resolver and a fake clock; and the flood budget.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DROP_PREFIXES, parseDropPrefixes } from '../agent/engine/drop-prefixes';
import { DropPipeline, dropMessage, parsePeerNaming } from '../agent/drops';
import { EventAggregator } from '../agent/state/event-aggregator';
import type { DropResolver, Logger, NodeEvent, PacketDrop, PeerInfo, PodInfo, Sink } from '../agent/types';
import { FakeClock } from './helpers/fake-clock';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

const LOCAL: Record<string, PodInfo> = {
  '10.244.1.5': { namespace: 'shop', name: 'web-1', uid: 'u1', labels: { app: 'web' } },
  'fd00:10:244:1::5': { namespace: 'shop', name: 'web-1', uid: 'u1', labels: { app: 'web' } },
  '10.244.1.6': { namespace: 'db', name: 'pg-0', uid: 'u2' },
};
const REMOTE: Record<string, PeerInfo> = {
  '10.244.2.9': { kind: 'pod', pod: { namespace: 'payments', name: 'api-7', labels: { app: 'api' } } },
  '192.168.0.12': { kind: 'node', name: 'node-b' },
  '10.96.4.2': { kind: 'service', service: { namespace: 'shop', name: 'cart' } },
  '10.244.2.20': {
    kind: 'pod',
    pod: { namespace: 'shop', name: 'cart-5', labels: { app: 'cart' } },
    service: { namespace: 'shop', name: 'cart' },
  },
  '198.51.100.7': { kind: 'host', name: 'db.example.org' },
};

function resolver(): DropResolver & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    localPod: (ip) => LOCAL[ip],
    peer: async (ip) => {
      lookups.push(ip);
      return LOCAL[ip] ? { kind: 'pod', pod: LOCAL[ip] } : (REMOTE[ip] ?? { kind: 'unknown' });
    },
  };
}

function v4(
  prefix: string,
  src: string,
  dst: string,
  tail = 'PROTO=TCP SPT=40000 DPT=5432 WINDOW=1 RES=0x00 SYN URGP=0 ',
): string {
  return `${prefix} IN=cali1 OUT=eth0 SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF ${tail}`;
}

function setup(extra: Partial<ConstructorParameters<typeof DropPipeline>[0]> = {}) {
  const clock = new FakeClock(Date.parse('2026-03-01T10:00:00Z'));
  const events: NodeEvent[] = [];
  const drops: PacketDrop[] = [];
  const sink: Sink = { name: 'test', onPacketDrop: (d) => drops.push(d) };
  const res = resolver();
  const p = new DropPipeline({
    prefixes: [...DEFAULT_DROP_PREFIXES, ...parseDropPrefixes(['cp <tier> <kind> <policy>:']).prefixes],
    clock,
    logger,
    resolver: res,
    sinks: [sink],
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const kmsg = (text: string, ageMs = 0): void =>
    p.handle({ origin: 'kmsg', time: new Date(clock.now() - ageMs), text });
  return { clock, events, drops, p, res, kmsg };
}

describe('DropPipeline', () => {
  it('a local pod sending: one Warning PacketDrop event on that pod, kube-iptables-tailer wording', async () => {
    const { p, events, drops, kmsg } = setup();
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9'));
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9'));
    expect(drops).toHaveLength(2);
    expect(events).toHaveLength(0); // nothing before the flush
    await p.flushOnce();
    expect(events).toEqual([
      {
        involved: { kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'u1' },
        type: 'Warning',
        reason: 'PacketDrop',
        message: 'Packet dropped when sending traffic to payments (10.244.2.9) on port 5432/tcp',
        component: 'nodewarden',
        firstTime: expect.any(Date),
        time: expect.any(Date),
        count: 2,
      },
    ]);
    expect(p.stats).toMatchObject({ received: 2, parsed: 2, byVerdict: { drop: 2, audit: 0 }, events: 1 });
    expect([...p.counts.values()]).toEqual([
      { labels: { direction: 'sending', namespace: 'shop', proto: 'tcp', verdict: 'drop' }, value: 2 },
    ]);
  });

  it('receiving, with the policy; an audit prefix reports a would-be drop', async () => {
    const { p, events, kmsg } = setup();
    kmsg(v4('cp default gnp db/deny-all:', '10.244.2.9', '10.244.1.6'));
    kmsg(v4('calico-packet:', '192.168.0.12', '10.244.1.6', 'PROTO=UDP SPT=1 DPT=53 LEN=10 '));
    await p.flushOnce();
    expect(events.map((e) => e.message).sort()).toEqual([
      'Packet dropped when receiving traffic from payments (10.244.2.9) on port 5432/tcp by policy default gnp db/deny-all',
      'Packet would be dropped when receiving traffic from node-b (192.168.0.12) on port 53/udp',
    ]);
    expect(events.every((e) => e.involved.kind === 'Pod' && e.involved.name === 'pg-0')).toBe(true);
  });

  it('audit wording when sending, with the policy appended', () => {
    const base = {
      pod: LOCAL['10.244.1.5']!,
      peerIp: '10.244.2.9',
      port: '443',
      proto: 'tcp',
      key: 'k',
      count: 1,
      first: 0,
      last: 0,
    };
    expect(
      dropMessage({ ...base, direction: 'sending', policy: 'default np shop/allow-web', verdict: 'audit' }, 'payments'),
    ).toBe(
      'Packet would be dropped when sending traffic to payments (10.244.2.9) on port 443/tcp by policy default np shop/allow-web',
    );
    expect(dropMessage({ ...base, direction: 'sending', policy: '', verdict: 'drop' }, 'payments')).toBe(
      'Packet dropped when sending traffic to payments (10.244.2.9) on port 443/tcp',
    );
  });

  it('ICMP, numeric protocols and unknown peers', async () => {
    const { p, events, kmsg } = setup();
    kmsg(v4('calico-drop:', '10.244.1.5', '203.0.113.7', 'PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1 '));
    kmsg(v4('calico-drop:', '10.244.1.5', '203.0.113.7', 'PROTO=47 '));
    await p.flushOnce();
    expect(events.map((e) => e.message).sort()).toEqual([
      'Packet dropped when sending traffic to unknown (203.0.113.7) on icmp type 8 code 0',
      'Packet dropped when sending traffic to unknown (203.0.113.7) on protocol 47',
    ]);
    expect(p.stats.unresolvedPeers).toBe(2);
  });

  it('a Service peer (its ClusterIP, or a pod it selects) is named "service ns/name"; a DNS name as KIT would', async () => {
    const { p, events, kmsg } = setup();
    kmsg(v4('calico-drop:', '10.244.1.5', '10.96.4.2', 'PROTO=TCP SPT=40000 DPT=7070 WINDOW=1 RES=0x00 SYN URGP=0 '));
    kmsg(v4('calico-drop:', '10.244.2.20', '10.244.1.5', 'PROTO=TCP SPT=40000 DPT=8080 WINDOW=1 RES=0x00 SYN URGP=0 '));
    kmsg(v4('calico-drop:', '10.244.1.5', '198.51.100.7'));
    await p.flushOnce();
    expect(events.map((e) => e.message).sort()).toEqual([
      'Packet dropped when receiving traffic from service shop/cart (10.244.2.20) on port 8080/tcp',
      'Packet dropped when sending traffic to db.example.org (198.51.100.7) on port 5432/tcp',
      'Packet dropped when sending traffic to service shop/cart (10.96.4.2) on port 7070/tcp',
    ]);
    // The local pod stays the involved object.
    expect(events.every((e) => e.involved.name === 'web-1')).toBe(true);
    expect(p.stats.unresolvedPeers).toBe(0);
  });

  it('both ends on this node: each pod gets its side', async () => {
    const { p, events, kmsg } = setup();
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.1.6'));
    await p.flushOnce();
    expect(events.map((e) => e.message).sort()).toEqual([
      'Packet dropped when receiving traffic from shop (10.244.1.5) on port 5432/tcp',
      'Packet dropped when sending traffic to db (10.244.1.6) on port 5432/tcp',
    ]);
  });

  it('no local pod (host traffic, hostNetwork pods): counted, no event', async () => {
    const { p, events, kmsg, drops } = setup();
    kmsg(v4('calico-drop:', '192.168.0.12', '203.0.113.7'));
    await p.flushOnce();
    expect(events).toEqual([]);
    expect(drops).toHaveLength(1);
    expect(p.stats.noLocalPod).toBe(1);
    expect([...p.counts.values()][0]).toEqual({
      labels: { direction: 'none', namespace: '', proto: 'tcp', verdict: 'drop' },
      value: 1,
    });
  });

  it('peer naming settings', async () => {
    const line = v4('calico-drop:', '10.244.1.5', '10.244.2.9');
    const names: [string, string][] = [
      ['pod', 'api-7'],
      ['namespace/name', 'payments/api-7'],
      ['label:app', 'api'],
      ['label:missing', 'payments/api-7'],
    ];
    for (const [setting, want] of names) {
      const naming = parsePeerNaming(setting);
      expect(naming).not.toBeNull();
      const { p, events, kmsg } = setup({ peerNaming: naming! });
      kmsg(line);
      await p.flushOnce();
      expect(events[0]?.message).toContain(`to ${want} (10.244.2.9)`);
    }
    expect(parsePeerNaming('bogus')).toBeNull();
  });

  it('IPv6 drops resolve through the canonical address', async () => {
    const { p, events, kmsg } = setup();
    kmsg(
      'calico-drop: IN=cali1 OUT=eth0 SRC=fd00:0010:0244:0001:0000:0000:0000:0005 DST=fd00:0010:0244:0002:0000:0000:0000:0009 LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=1 PROTO=TCP SPT=1 DPT=443 ',
    );
    await p.flushOnce();
    expect(events[0]?.message).toBe(
      'Packet dropped when sending traffic to unknown (fd00:10:244:2::9) on port 443/tcp',
    );
  });

  it('file lines: timestamp parsed, old lines expire, bad lines counted', async () => {
    const { p, events, clock } = setup({ fileZone: 'utc', maxAgeMs: 600_000 });
    const body = v4('calico-drop:', '10.244.1.5', '10.244.2.9');
    const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '+00:00');
    p.handle({
      origin: '/var/log/iptables.log',
      time: new Date(0),
      text: `${iso(clock.now() - 5000)} node-a kernel: [ 1156.246182] ${body}`,
    });
    p.handle({
      origin: '/var/log/iptables.log',
      time: new Date(0),
      text: `${iso(clock.now() - 3_600_000)} node-a kernel: ${body}`,
    });
    p.handle({ origin: '/var/log/iptables.log', time: new Date(0), text: `garbage ${body}` });
    p.handle({ origin: '/var/log/iptables.log', time: new Date(0), text: 'Mar  1 09:59:00 node-a sshd[1]: unrelated' });
    expect(p.stats).toMatchObject({ received: 4, parsed: 1, expired: 1, unparsed: 1, ignored: 1 });
    await p.flushOnce();
    expect(events).toHaveLength(1);
    expect(events[0]?.time.toISOString()).toBe(new Date(clock.now() - 5000).toISOString());
  });

  it("file lines of the same millisecond share one Date; every drop has its own line's time", () => {
    const { p, drops, clock } = setup({ fileZone: 'utc' });
    const body = v4('calico-drop:', '10.244.1.5', '10.244.2.9');
    const at = (ms: number, us: string): string =>
      `${new Date(ms).toISOString().replace('Z', '')}${us}+00:00 node-a kernel: ${body}`;
    const t0 = clock.now() - 5000;
    for (const [ms, us] of [
      [t0, '101'],
      [t0, '999'],
      [t0 + 1, '000'],
      [t0, '500'],
      [t0, '501'],
    ] as const)
      p.handle({ origin: '/var/log/iptables.log', time: new Date(0), text: at(ms, us) });
    expect(drops.map((d) => d.time.getTime() - t0)).toEqual([0, 0, 1, 0, 0]);
    expect(drops[1]?.time).toBe(drops[0]?.time);
    expect(drops[4]?.time).toBe(drops[3]?.time);
    expect(drops[3]?.time).not.toBe(drops[0]?.time);
  });

  it('kmsg lines older than maxAge expire (a restart does not re-post)', () => {
    const { p, kmsg } = setup();
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9'), 11 * 60_000);
    expect(p.stats).toMatchObject({ expired: 1, parsed: 0 });
  });

  it('start() flushes on the clock and stop() is idempotent', async () => {
    const { p, events, kmsg, clock } = setup({ flushIntervalMs: 5000 });
    const ac = new AbortController();
    p.start(ac.signal);
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9'));
    clock.advance(5000);
    await new Promise((r) => setImmediate(r));
    expect(events).toHaveLength(1);
    ac.abort();
    p.stop();
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9'));
    clock.advance(60_000);
    await new Promise((r) => setImmediate(r));
    expect(events).toHaveLength(1);
    await p.flush(clock.now() + 1000);
    expect(events).toHaveLength(2);
    expect(clock.pending()).toBe(0);
  });

  it('flush(deadline) emits every pending key with its full count, beyond the rate buckets', async () => {
    const { p, events, kmsg, clock } = setup({
      perPod: { burst: 1, perSecond: 0.001 },
      perNode: { burst: 1, perSecond: 0.001 },
    });
    for (let port = 1; port <= 6; port++) {
      for (let n = 0; n < port; n++)
        kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9', `PROTO=TCP SPT=1 DPT=${port} `));
    }
    kmsg(v4('calico-drop:', '10.244.2.9', '10.244.1.6'));
    await p.flushOnce();
    expect(events).toHaveLength(1); // the node bucket allows one
    expect(p.pendingKeys()).toBe(6);
    await p.flush(clock.now() + 1000);
    expect(p.pendingKeys()).toBe(0);
    expect(events).toHaveLength(7);
    const total = events.reduce((s, e) => s + (e.count ?? 1), 0);
    expect(total).toBe(1 + 2 + 3 + 4 + 5 + 6 + 1);
    expect(events.filter((e) => e.involved.name === 'pg-0')).toHaveLength(1);
    expect(clock.pending()).toBe(0);
  });

  it('a peer lookup that hangs during the final flush names the peer unknown instead of losing the Events', async () => {
    const { p, events, kmsg, clock, res } = setup();
    res.peer = (ip) =>
      ip === '10.244.2.9'
        ? new Promise<PeerInfo>(() => {})
        : Promise.resolve<PeerInfo>({ kind: 'node', name: 'node-b' });
    kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9'));
    kmsg(v4('calico-drop:', '10.244.1.5', '192.168.0.12'));
    const done = p.flush(clock.now() + 1000);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    clock.advance(600); // past the lookups' half of the deadline
    await done;
    expect(events.map((e) => e.message).sort()).toEqual([
      'Packet dropped when sending traffic to node-b (192.168.0.12) on port 5432/tcp',
      'Packet dropped when sending traffic to unknown (10.244.2.9) on port 5432/tcp',
    ]);
    expect(p.pendingKeys()).toBe(0);
  });

  it('the aggregation map is bounded; overflowed drops are still counted', async () => {
    const { p, kmsg } = setup({ maxKeys: 3 });
    for (let port = 1; port <= 10; port++)
      kmsg(v4('calico-drop:', '10.244.1.5', '10.244.2.9', `PROTO=TCP SPT=1 DPT=${port} `));
    expect(p.pendingKeys()).toBe(3);
    expect(p.stats.overflow).toBe(7);
    expect([...p.counts.values()][0]?.value).toBe(10);
  });
});

describe('flood: 10,000 drop lines/s for 60 s', () => {
  it('≤ 1 API write/s on average, and every drop is in some Event count', async () => {
    const { p, clock, kmsg } = setup();
    const agg = new EventAggregator(clock, { host: 'node-a' });
    let writes = 0;
    let writesIn60 = 0;
    const counted = new Map<string, number>();
    const drain = async (): Promise<void> => {
      await p.flushOnce();
    };
    // Every Event the pipeline hands over goes through the event exporter's aggregator.
    const events: NodeEvent[] = [];
    (p as unknown as { opts: { onEvent: (e: NodeEvent) => void } }).opts.onEvent = (e) => {
      events.push(e);
      const c = agg.correlate(e);
      if (c.action === 'send') {
        writes++;
        counted.set(c.event.key, c.event.count);
      }
    };
    const srcs = ['10.244.1.5', '10.244.1.6'];
    const peers = ['10.244.2.9', '192.168.0.12', '203.0.113.7', '203.0.113.8'];
    const ports = [80, 443, 5432, 6379, 53];
    let total = 0;
    for (let s = 0; s < 60; s++) {
      for (let k = 0; k < 10_000; k++) {
        const src = srcs[k % 2]!;
        const dst = peers[k % 4]!;
        const port = ports[k % 5]!;
        kmsg(v4('calico-drop:', src, dst, `PROTO=TCP SPT=1 DPT=${port} `));
        total++;
      }
      clock.advance(1000);
      if ((s + 1) % 10 === 0) await drain();
    }
    writesIn60 = writes;
    expect(p.stats.parsed).toBe(600_000);
    expect(writesIn60).toBeLessThanOrEqual(60);
    expect(writesIn60).toBeGreaterThan(0);
    // Metrics count every drop.
    const metricTotal = [...p.counts.values()].reduce((a, c) => a + c.value, 0);
    expect(metricTotal).toBe(total);
    // Keep flushing after the flood: deferred keys drain, and Event counts add up to every drop.
    for (let k = 0; k < 200 && p.pendingKeys() > 0; k++) {
      clock.advance(10_000);
      await drain();
    }
    expect(p.pendingKeys()).toBe(0);
    const handed = events.reduce((a, e) => a + (e.count ?? 1), 0);
    expect(handed).toBe(total);
    // What the exporter holds as Event counts (suppressed occurrences are folded into later ones).
    expect(agg.stats.received).toBe(events.length);
  }, 60_000);
});
