// drops.ts: the packet-drop pipeline. A kernel line (from /dev/kmsg, or a syslog file line whose
// timestamp is parsed first) → PacketDrop (engine/packet-log) → counted per
// {direction, namespace, proto, verdict} → pre-aggregated per (local pod, direction, peer,
// port, proto, policy) → at each flush, at most one Warning `PacketDrop` NodeEvent per key with
// the window's count, on the LOCAL pod only (the peer's node reports the other side).
// Messages keep kube-iptables-tailer's wording:
//   Packet dropped when sending traffic to <peer> (<ip>) on port <dport>/<proto>
//   Packet dropped when receiving traffic from <peer> (<ip>) on port <dport>/<proto>
// plus " by policy <policy>" when the prefix names one. When the peer is a Service's ClusterIP, or
// a pod a Service of its namespace selects, the Service is named instead (an extension):
//   Packet dropped when sending traffic to service <namespace>/<name> (<ip>) on port <dport>/<proto>
// An address no pod or Service owns is named by reverse DNS when that is enabled, else "unknown". An `audit` prefix (a non-terminating
// rule: the packet may have been allowed) reports a would-be drop, with the same tail:
//   Packet would be dropped when sending traffic to <peer> (<ip>) on port <dport>/<proto>
import { raceDeadline, valueBy } from './runtime/deadline';
import { Fanout } from './sinks/fanout';
import { errText } from './runtime/err-text';
import { DueTimer } from './runtime/timer';
import { parseSyslogHead, UtcDays, type DropTimeOptions } from './engine/drop-time';
import { parsePacketLog } from './engine/packet-log';
import { PrefixMatcher, type DropPrefix } from './engine/drop-prefixes';
import { DropAggregator, type BucketSpec, type PendingDrop } from './state/drop-aggregator';
import type {
  Clock,
  Direction,
  DropResolver,
  LogLine,
  Logger,
  NodeEvent,
  PacketDrop,
  PeerInfo,
  Sink,
  Verdict,
} from './types';

/** How the peer is named in the message. */
export type PeerNaming = 'namespace' | 'pod' | 'namespace/name' | { readonly label: string };

export function parsePeerNaming(s: string): PeerNaming | null {
  if (s === 'namespace' || s === 'pod' || s === 'namespace/name') return s;
  if (s.startsWith('label:') && s.length > 6) return { label: s.slice(6) };
  return null;
}

export interface DropPipelineOptions {
  readonly prefixes: readonly DropPrefix[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly resolver: DropResolver;
  /** Lines older than this are counted as expired and skipped (default 10 min). */
  readonly maxAgeMs?: number;
  /** Every parsed drop goes to sinks' onPacketDrop; aggregated events to onEvent. */
  readonly sinks?: readonly Sink[];
  /** Alternative to sinks for events (tests, the lead's wiring). */
  readonly onEvent?: (ev: NodeEvent) => void;
  readonly peerNaming?: PeerNaming;
  /** Flush window (default 10 s). */
  readonly flushIntervalMs?: number;
  readonly maxKeys?: number;
  readonly perPod?: BucketSpec;
  readonly perNode?: BucketSpec;
  /** Zone of file timestamps without an offset (default: the process's). */
  readonly fileZone?: 'local' | 'utc';
}

export interface DropCounterLabels {
  readonly direction: Direction | 'none';
  readonly namespace: string;
  readonly proto: string;
  readonly verdict: Verdict;
}

export interface DropPipelineStats {
  received: number;
  /** Lines that carried a configured prefix and parsed. */
  parsed: number;
  /** Lines with a configured prefix (or a file line) that could not be parsed. */
  unparsed: number;
  /** Lines without a configured prefix. */
  ignored: number;
  /** Lines older than maxAgeMs. */
  expired: number;
  byVerdict: Record<Verdict, number>;
  /** Drops involving no pod on this node (host traffic, hostNetwork pods, forwarded). */
  noLocalPod: number;
  /** Remote IPs no lookup could name, counted per emitted event. */
  unresolvedPeers: number;
  /** NodeEvents handed on. */
  events: number;
  /** Drops counted only in metrics because the aggregation map was full. */
  overflow: number;
}

export const PACKET_DROP_REASON = 'PacketDrop';
export const PACKET_DROP_COMPONENT = 'nodewarden';

function portLabel(d: PacketDrop): string {
  if (d.dstPort !== undefined) return String(d.dstPort);
  if (d.icmpType !== undefined) return `type ${d.icmpType} code ${d.icmpCode ?? 0}`;
  return '';
}

function onWhat(port: string, proto: string): string {
  if (port === '') return `on protocol ${proto}`;
  if (port.startsWith('type ')) return `on ${proto} ${port}`;
  return `on port ${port}/${proto}`;
}

/** Index of a (direction, verdict) pair among the six. */
function countSlot(direction: Direction | 'none', verdict: Verdict): number {
  return (direction === 'none' ? 0 : direction === 'sending' ? 2 : 4) + (verdict === 'drop' ? 0 : 1);
}

export function peerName(peer: PeerInfo, naming: PeerNaming): string {
  if (peer.kind === 'node' || peer.kind === 'host') return peer.name;
  if (peer.kind === 'unknown') return 'unknown';
  if (peer.service !== undefined) return `service ${peer.service.namespace}/${peer.service.name}`;
  if (peer.kind !== 'pod') return 'unknown';
  const p = peer.pod;
  if (naming === 'namespace') return p.namespace;
  if (naming === 'pod') return p.name;
  if (naming === 'namespace/name') return `${p.namespace}/${p.name}`;
  return p.labels?.[naming.label] ?? `${p.namespace}/${p.name}`;
}

export function dropMessage(p: PendingDrop, peer: string): string {
  const what = p.verdict === 'audit' ? 'Packet would be dropped' : 'Packet dropped';
  const head =
    p.direction === 'sending'
      ? `${what} when sending traffic to ${peer} (${p.peerIp}) `
      : `${what} when receiving traffic from ${peer} (${p.peerIp}) `;
  let msg = head + onWhat(p.port, p.proto);
  if (p.policy !== '') msg += ` by policy ${p.policy}`;
  return msg;
}

export class DropPipeline {
  readonly stats: DropPipelineStats = {
    received: 0,
    parsed: 0,
    unparsed: 0,
    ignored: 0,
    expired: 0,
    byVerdict: { drop: 0, audit: 0 },
    noLocalPod: 0,
    unresolvedPeers: 0,
    events: 0,
    overflow: 0,
  };
  /** packet_drops_total, keyed "direction|namespace|proto|verdict"; bounded label values only. */
  readonly counts = new Map<string, { labels: DropCounterLabels; value: number }>();
  /** The same counters by namespace, then proto, then direction and verdict (countSlot): no key string per drop. */
  private readonly countIndex = new Map<
    string,
    Map<string, ({ labels: DropCounterLabels; value: number } | undefined)[]>
  >();
  private readonly matcher: PrefixMatcher;
  private readonly agg: DropAggregator;
  private readonly maxAgeMs: number;
  private readonly naming: PeerNaming;
  private readonly flushMs: number;
  private readonly sinks: Fanout;
  private readonly flushTimer: DueTimer;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private readonly timeOpts: DropTimeOptions;
  /** dateOf's last answer (an invalid Date, equal to no time, before the first). */
  private lastTime = new Date(Number.NaN);

  constructor(private readonly opts: DropPipelineOptions) {
    this.timeOpts = {
      now: () => opts.clock.now(),
      days: new UtcDays(),
      ...(opts.fileZone ? { zone: opts.fileZone } : {}),
    };
    this.matcher = new PrefixMatcher(opts.prefixes);
    this.maxAgeMs = opts.maxAgeMs ?? 600_000;
    this.naming = opts.peerNaming ?? 'namespace';
    this.flushMs = opts.flushIntervalMs ?? 10_000;
    this.sinks = new Fanout(opts.sinks ?? [], opts.logger);
    const aggOpts: { maxKeys?: number; perPod?: BucketSpec; perNode?: BucketSpec } = {};
    if (opts.maxKeys !== undefined) aggOpts.maxKeys = opts.maxKeys;
    if (opts.perPod !== undefined) aggOpts.perPod = opts.perPod;
    if (opts.perNode !== undefined) aggOpts.perNode = opts.perNode;
    this.agg = new DropAggregator(opts.clock.now(), aggOpts);
    this.flushTimer = new DueTimer(opts.clock, () => this.tick());
  }

  /** Handles one line. Synchronous and never throws: kernel text is untrusted. */
  handle(line: LogLine): void {
    this.stats.received++;
    const text = line.text;
    let time = line.time;
    let from = 0;
    if (line.origin !== 'kmsg') {
      // Cheap rejection before the timestamp parse: a drop line always has " OUT=".
      if (text.indexOf(' OUT=') < 0) {
        this.stats.ignored++;
        return;
      }
      const st = parseSyslogHead(text, this.timeOpts);
      if (st === null) {
        this.stats.unparsed++;
        return;
      }
      from = st.messageAt;
      time = this.dateOf(st.time);
    }
    const r = parsePacketLog(text, this.matcher, time, from);
    if (r.kind === 'other') {
      this.stats.ignored++;
      return;
    }
    if (r.kind === 'unparsed') {
      this.stats.unparsed++;
      return;
    }
    if (this.opts.clock.now() - time.getTime() > this.maxAgeMs) {
      this.stats.expired++;
      return;
    }
    this.stats.parsed++;
    this.record(r.drop);
  }

  /**
   * The Date of a file line's time: the last line's when it is the same millisecond, as the
   * lines of a burst mostly are (consumers never modify a drop's time).
   */
  private dateOf(ms: number): Date {
    if (ms !== this.lastTime.getTime()) this.lastTime = new Date(ms);
    return this.lastTime;
  }

  /** Counts, forwards and aggregates one parsed drop (also the entry point for other parsers). */
  record(d: PacketDrop): void {
    this.stats.byVerdict[d.verdict]++;
    this.sinks.onPacketDrop(d);
    const res = this.opts.resolver;
    const srcPod = res.localPod(d.src);
    const dstPod = res.localPod(d.dst);
    if (srcPod === undefined && dstPod === undefined) {
      this.stats.noLocalPod++;
      this.count('none', '', d.proto, d.verdict);
      return;
    }
    const port = portLabel(d);
    const policy = d.policy ?? '';
    const t = d.time.getTime();
    if (srcPod !== undefined) {
      this.count('sending', srcPod.namespace, d.proto, d.verdict);
      this.aggregate(
        { pod: srcPod, direction: 'sending', peerIp: d.dst, port, proto: d.proto, policy, verdict: d.verdict },
        t,
      );
    }
    if (dstPod !== undefined) {
      this.count('receiving', dstPod.namespace, d.proto, d.verdict);
      this.aggregate(
        { pod: dstPod, direction: 'receiving', peerIp: d.src, port, proto: d.proto, policy, verdict: d.verdict },
        t,
      );
    }
  }

  private aggregate(parts: Parameters<DropAggregator['add']>[0], t: number): void {
    if (!this.agg.add(parts, t)) this.stats.overflow++;
  }

  private count(direction: Direction | 'none', namespace: string, proto: string, verdict: Verdict): void {
    // Looked up by the strings the drop already holds (their hashes are cached), no key built.
    let byNs = this.countIndex.get(namespace);
    if (byNs === undefined) {
      byNs = new Map();
      this.countIndex.set(namespace, byNs);
    }
    let slots = byNs.get(proto);
    if (slots === undefined) {
      slots = [];
      byNs.set(proto, slots);
    }
    const slot = countSlot(direction, verdict);
    const c = slots[slot];
    if (c !== undefined) {
      c.value++;
      return;
    }
    const entry = { labels: { direction, namespace, proto, verdict }, value: 1 };
    slots[slot] = entry;
    this.counts.set(`${direction}|${namespace}|${proto}|${verdict}`, entry);
  }

  /** Keys waiting for the next flush. */
  pendingKeys(): number {
    return this.agg.size;
  }

  /** Starts the flush timer; stops at the signal (with a final flush through flush()). */
  start(signal: AbortSignal): void {
    if (this.stopped || this.flushTimer.armed) return;
    this.flushTimer.armIn(this.flushMs);
    signal.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** One timed flush; the next is armed when it has finished. */
  private tick(): void {
    if (this.stopped) return;
    void this.flushOnce().finally(() => {
      if (!this.stopped) this.flushTimer.armIn(this.flushMs);
    });
  }

  /** Stops the timer. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.flushTimer.cancel();
  }

  /** Emits what the buckets allow now. Concurrent calls share one run. */
  flushOnce(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.emit().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Final flush for shutdown, bounded by the deadline (epoch ms): waits for a periodic flush in
   * progress, then hands out EVERY pending key (one event each) regardless of the rate buckets —
   * the sources' checkpoints are already past those lines, so anything left here would be lost.
   */
  async flush(deadline: number): Promise<void> {
    const now = this.opts.clock.now();
    if (deadline - now <= 0) return;
    // Half the time for peer lookups, half for the sinks after us: a slow lookup names the peer
    // "unknown" rather than losing the Event.
    const lookupsBy = now + (deadline - now) / 2;
    await raceDeadline(
      this.opts.clock,
      async () => {
        if (this.flushing) await raceDeadline(this.opts.clock, this.flushing, lookupsBy);
        await this.emit(true, lookupsBy);
      },
      deadline,
    );
  }

  /** Who owns a peer IP, or unknown once `by` (epoch ms) has passed. Never rejects. */
  private lookup(ip: string, by: number): Promise<PeerInfo> {
    return valueBy<PeerInfo>(this.opts.clock, this.opts.resolver.peer(ip), by, { kind: 'unknown' });
  }

  private async emit(force = false, lookupsBy = this.opts.clock.now() + this.flushMs): Promise<void> {
    const ready = this.agg.take(this.opts.clock.now(), { force });
    // Lookups run together; the resolver's cache bounds how many reach the API server, and each
    // is bounded in time so one stuck lookup cannot hold back the others' Events.
    const peers = await Promise.all(ready.map((p) => this.lookup(p.peerIp, lookupsBy)));
    for (let i = 0; i < ready.length; i++) {
      const p = ready[i]!;
      const peer = peers[i] ?? { kind: 'unknown' };
      if (peer.kind === 'unknown') this.stats.unresolvedPeers++;
      const involved: NodeEvent['involved'] =
        p.pod.uid !== undefined
          ? { kind: 'Pod', namespace: p.pod.namespace, name: p.pod.name, uid: p.pod.uid }
          : { kind: 'Pod', namespace: p.pod.namespace, name: p.pod.name };
      const ev: NodeEvent = {
        involved,
        type: 'Warning',
        reason: PACKET_DROP_REASON,
        message: dropMessage(p, peerName(peer, this.naming)),
        component: PACKET_DROP_COMPONENT,
        // The window's first and last drop, by log time: firstTimestamp and lastTimestamp.
        firstTime: new Date(p.first),
        time: new Date(p.last),
        count: p.count,
      };
      this.stats.events++;
      try {
        this.opts.onEvent?.(ev);
      } catch (err) {
        this.opts.logger.error({ err: errText(err) }, 'drop event consumer threw');
      }
      this.sinks.onEvent(ev);
    }
  }
}
