// drops-bench.ts: packet-drop throughput (parse + resolve with a warm cache + count + aggregate)
// in lines per CPU-second, and the API writes a 100k-line burst causes once the events go
// through the event exporter's aggregator. Run alone: `npx tsx bench/drops-bench.ts`.
import { DEFAULT_DROP_PREFIXES } from '../agent/engine/drop-prefixes';
import { DropPipeline } from '../agent/drops';
import type { DropResolver, PeerInfo, PodInfo } from '../agent/types';
import { LookupCache } from '../agent/runtime/lookup-cache';
import { EventAggregator } from '../agent/state/event-aggregator';
import type { Clock, LogLine, Logger, NodeEvent } from '../agent/types';

export interface DropsBenchResult {
  readonly lines: number;
  readonly dropShare: number;
  readonly cpuSeconds: number;
  readonly linesPerCpuSecond: number;
  readonly burstLines: number;
  /** Event creates + patches the exporter would send for the burst (all of it drained). */
  readonly burstApiWrites: number;
  /** Of those, within the first 60 s. */
  readonly burstApiWritesFirst60s: number;
  readonly burstEventCountTotal: number;
}

class BenchClock implements Clock {
  t = Date.parse('2026-03-01T10:00:00Z');
  now(): number {
    return this.t;
  }
  setTimer(): () => void {
    return () => {};
  }
}

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

function pad6(ip: string): string {
  // fd00:10:244:a::b → zero-padded as the kernel prints it
  const [head = '', tail = ''] = ip.split('::');
  const h = head.split(':').filter(Boolean);
  const t = tail.split(':').filter(Boolean);
  const all = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.map((g) => g.padStart(4, '0')).join(':');
}

/** A corpus like a busy node's kmsg: `dropShare` of the lines are drops. */
export function makeCorpus(
  n: number,
  dropShare = 0.7,
): { lines: string[]; local: Map<string, PodInfo>; remote: string[] } {
  const local = new Map<string, PodInfo>();
  for (let k = 0; k < 100; k++) {
    local.set(`10.244.1.${k + 2}`, { namespace: `ns-${k % 10}`, name: `pod-${k}`, uid: `uid-${k}` });
    local.set(`fd00:10:244:1::${(k + 2).toString(16)}`, {
      namespace: `ns-${k % 10}`,
      name: `pod-${k}`,
      uid: `uid-${k}`,
    });
  }
  const remote: string[] = [];
  for (let k = 0; k < 500; k++) remote.push(`10.244.${2 + (k % 50)}.${2 + Math.floor(k / 50)}`);
  const other = [
    'EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.',
    'IPv6: ADDRCONF(NETDEV_CHANGE): cali1234abcd: link becomes ready',
    'cali5678: entered promiscuous mode',
    'audit: type=1400 audit(1.2:3): apparmor="DENIED" operation="open" profile="cri-containerd"',
    'TCP: request_sock_TCP: Possible SYN flooding on port 8080. Sending cookies.',
  ];
  const lines: string[] = [];
  let seed = 42;
  const rnd = (m: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % m;
  for (let i = 0; i < n; i++) {
    if (rnd(1000) >= dropShare * 1000) {
      lines.push(other[rnd(other.length)]!);
      continue;
    }
    const pod = 2 + rnd(100);
    const peer = remote[rnd(remote.length)]!;
    const out = rnd(2) === 0;
    const kind = rnd(10);
    const prefix = rnd(3) === 0 ? 'calico-packet: ' : 'calico-drop: ';
    if (kind < 2) {
      const a = pad6(`fd00:10:244:1::${pod.toString(16)}`);
      const b = pad6(`fd00:10:244:2::${rnd(200).toString(16)}`);
      const [s, d] = out ? [a, b] : [b, a];
      lines.push(
        `${prefix}IN=cali${pod} OUT=eth0 MAC=ee:ee:ee:ee:ee:ee:aa:bb:cc:dd:ee:ff:86:dd SRC=${s} DST=${d} LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=12345 PROTO=TCP SPT=${30000 + rnd(30000)} DPT=${[443, 80, 5432][rnd(3)]} WINDOW=64800 RES=0x00 SYN URGP=0 `,
      );
      continue;
    }
    const a = `10.244.1.${pod}`;
    const [s, d] = out ? [a, peer] : [peer, a];
    const tail =
      kind < 7
        ? `PROTO=TCP SPT=${30000 + rnd(30000)} DPT=${[443, 80, 5432, 6379][rnd(4)]} WINDOW=64240 RES=0x00 SYN URGP=0 `
        : kind < 9
          ? `PROTO=UDP SPT=${30000 + rnd(30000)} DPT=53 LEN=40 `
          : `PROTO=ICMP TYPE=8 CODE=0 ID=${rnd(65535)} SEQ=1 `;
    lines.push(
      `${prefix}IN=cali${pod} OUT=eth0 MAC=ee:ee:ee:ee:ee:ee:aa:bb:cc:dd:ee:ff:08:00 SRC=${s} DST=${d} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${rnd(65535)} DF ${tail}`,
    );
  }
  // Flat strings, as a source that decodes Buffers hands them over (template literals build ropes).
  return { lines: lines.map((l) => Buffer.from(l, 'utf8').toString('utf8')), local, remote };
}

function resolverFor(clock: Clock, local: Map<string, PodInfo>, remote: string[]): DropResolver {
  const cache = new LookupCache<PeerInfo>({
    clock,
    lookup: async (ip) => ({ kind: 'pod', pod: { namespace: 'remote', name: `peer-${ip}` } }),
  });
  for (const ip of remote) cache.set(ip, { kind: 'pod', pod: { namespace: 'remote', name: `peer-${ip}` } });
  return {
    localPod: (ip) => local.get(ip),
    peer: async (ip) => (await cache.get(ip)) ?? { kind: 'unknown' },
  };
}

export async function runDropsBench(opts: { lines?: number; rounds?: number } = {}): Promise<DropsBenchResult> {
  const n = opts.lines ?? 100_000;
  const rounds = opts.rounds ?? 5;
  const { lines, local, remote } = makeCorpus(n);
  const clock = new BenchClock();
  const time = new Date(clock.t);
  const records: LogLine[] = lines.map((text, i) => ({ origin: 'kmsg', seq: i, time, text }));

  // Throughput: warm up once, then measure `rounds` passes (each followed by a flush).
  let events = 0;
  const pipe = new DropPipeline({
    prefixes: DEFAULT_DROP_PREFIXES,
    clock,
    logger,
    resolver: resolverFor(clock, local, remote),
    onEvent: () => events++,
    perNode: { burst: 1e9, perSecond: 1e9 },
    perPod: { burst: 1e9, perSecond: 1e9 },
  });
  for (const r of records) pipe.handle(r);
  await pipe.flushOnce();
  const c0 = process.cpuUsage();
  for (let k = 0; k < rounds; k++) {
    for (const r of records) pipe.handle(r);
    await pipe.flushOnce();
  }
  const c1 = process.cpuUsage(c0);
  const cpuSeconds = (c1.user + c1.system) / 1e6;
  const measured = n * rounds;

  // Burst: 100k lines over 10 s (10k/s), default buckets, through the exporter's aggregator.
  const bclock = new BenchClock();
  const agg = new EventAggregator(bclock, { host: 'node-a' });
  let writes = 0;
  let writes60 = 0;
  let countTotal = 0;
  const start = bclock.t;
  const burst = new DropPipeline({
    prefixes: DEFAULT_DROP_PREFIXES,
    clock: bclock,
    logger,
    resolver: resolverFor(bclock, local, remote),
    onEvent: (e: NodeEvent) => {
      countTotal += e.count ?? 1;
      if (agg.correlate(e).action === 'send') {
        writes++;
        if (bclock.t - start <= 60_000) writes60++;
      }
    },
  });
  const burstLines = 100_000;
  const { lines: bl } = makeCorpus(burstLines, 1);
  for (let i = 0; i < bl.length; i++) {
    if (i > 0 && i % 10_000 === 0) bclock.t += 1000;
    burst.handle({ origin: 'kmsg', time: new Date(bclock.t), text: bl[i]! });
    if (i % 10_000 === 9_999 && ((i + 1) / 10_000) % 10 === 0) await burst.flushOnce();
  }
  for (let k = 0; k < 360 && burst.pendingKeys() > 0; k++) {
    bclock.t += 10_000;
    await burst.flushOnce();
  }
  void events;
  return {
    lines: measured,
    dropShare: 0.7,
    cpuSeconds,
    linesPerCpuSecond: Math.round(measured / cpuSeconds),
    burstLines,
    burstApiWrites: writes,
    burstApiWritesFirst60s: writes60,
    burstEventCountTotal: countTotal,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runDropsBench().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
