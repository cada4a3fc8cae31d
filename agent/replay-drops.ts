// replay-drops.ts: offline packet-drop replay (`nodewarden replay --drops`): "why was this packet
// dropped?". Reads /dev/kmsg records or syslog file lines (every timestamp form the agent reads),
// parses them with the agent's own drop parser and prefixes, and writes one JSON object per drop:
//   {"kind":"drop","time","verdict","prefix","policy"?,"in","out","src","dst","proto",
//    "sport"?,"dport"?,"icmpType"?,"icmpCode"?,"srcPod"?,"dstPod"?}
// Field names are a contract: scripts outside the repository read them. Lines that carry a
// configured prefix but do not parse are reported on `errors` with their line numbers; other
// lines are counted as ignored. With a peer lookup (--kubeconfig), each address is resolved to
// `namespace/name` through the agent's cached, read-only lookup; at most WINDOW drops wait for
// their lookups at once (then reading waits: backpressure), and output keeps the input's order.
import type { PeerInfo } from './types';
import type { PrefixMatcher } from './engine/drop-prefixes';
import { parseSyslogLine } from './engine/drop-time';
import { parsePacketLog, skipKernelTime } from './engine/packet-log';
import { JsonLines, readCapture } from './replay-io';
import { parseKmsgRecord } from './sources/kmsg-record';
import { isoString } from './runtime/utc-time';
import type { Clock, PacketDrop } from './types';

export type DropReplayFormat = 'kmsg' | 'syslog';

/** Who owns an IP: a pod, a node (hostNetwork), or null for nobody known. Never rejects. */
export type PeerLookup = (ip: string) => Promise<PeerInfo | null>;

export interface DropReplayOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** Where lines that carry a prefix but do not parse are reported (stderr). */
  readonly errors: NodeJS.WritableStream;
  readonly format: DropReplayFormat;
  readonly matcher: PrefixMatcher;
  /** For the year of traditional syslog timestamps. */
  readonly clock: Clock;
  /** Epoch ms of boot for kmsg records (default 0: times read as time since boot). */
  readonly bootTimeMs?: number;
  /** Zone of syslog timestamps without an offset (default: the process's). */
  readonly zone?: 'local' | 'utc';
  /** With --kubeconfig: resolve src and dst to pods. */
  readonly peers?: PeerLookup;
}

export interface DropReplayResult {
  /** Records (kmsg) or lines (syslog) read. */
  lines: number;
  drops: number;
  drop: number;
  audit: number;
  /** Lines that carry a configured prefix but do not parse (each reported with its line number). */
  unparsed: number;
  /** Lines that are not drop lines. */
  ignored: number;
  /** Addresses named as a pod (with a peer lookup). */
  resolved?: number;
  /** Addresses no pod owns, or whose lookup failed (with a peer lookup). */
  unresolved?: number;
}

/** Drops waiting for their pod lookups at once, at most. */
export const WINDOW = 64;
/** How much of a bad line goes into its report. */
const REPORT_CHARS = 300;

/** The output object, fields in the documented order. */
export function dropJson(d: PacketDrop): Record<string, string | number> {
  const o: Record<string, string | number> = {
    kind: 'drop',
    time: isoString(d.time.getTime()),
    verdict: d.verdict,
    prefix: d.prefix,
  };
  if (d.policy !== undefined) o.policy = d.policy;
  o.in = d.inIf;
  o.out = d.outIf;
  o.src = d.src;
  o.dst = d.dst;
  o.proto = d.proto;
  if (d.srcPort !== undefined) o.sport = d.srcPort;
  if (d.dstPort !== undefined) o.dport = d.dstPort;
  if (d.icmpType !== undefined) o.icmpType = d.icmpType;
  if (d.icmpCode !== undefined) o.icmpCode = d.icmpCode;
  return o;
}

function podName(p: PeerInfo | null): string | undefined {
  return p?.kind === 'pod' ? `${p.pod.namespace}/${p.pod.name}` : undefined;
}

export async function replayDrops(opts: DropReplayOptions): Promise<DropReplayResult> {
  const out = new JsonLines(opts.output);
  const result: DropReplayResult = { lines: 0, drops: 0, drop: 0, audit: 0, unparsed: 0, ignored: 0 };
  const peers = opts.peers;
  if (peers) {
    result.resolved = 0;
    result.unresolved = 0;
  }
  const bootMs = opts.bootTimeMs ?? 0;
  const report = (line: number, why: string, text: string): void => {
    result.unparsed++;
    opts.errors.write(`line ${line}: ${why}: ${JSON.stringify(text.slice(0, REPORT_CHARS))}\n`);
  };
  const named = (p: PeerInfo | null): string | undefined => {
    const n = podName(p);
    if (n !== undefined) result.resolved = (result.resolved ?? 0) + 1;
    else result.unresolved = (result.unresolved ?? 0) + 1;
    return n;
  };
  const resolve = async (o: Record<string, string | number>, d: PacketDrop, lookup: PeerLookup): Promise<object> => {
    const [src, dst] = await Promise.all([lookup(d.src), lookup(d.dst)]);
    const srcPod = named(src);
    const dstPod = named(dst);
    if (srcPod !== undefined) o.srcPod = srcPod;
    if (dstPod !== undefined) o.dstPod = dstPod;
    return o;
  };
  /** Drops waiting for lookups, in input order. */
  const waiting: Promise<object>[] = [];

  for await (const item of readCapture(opts.input, opts.format === 'kmsg')) {
    await out.drained();
    if (out.closed) break;
    result.lines++;
    let message: string;
    let time: Date;
    if (opts.format === 'kmsg') {
      const r = parseKmsgRecord(item.text);
      if ('error' in r) {
        const semi = item.text.indexOf(';');
        if (semi >= 0 && opts.matcher.carries(item.text.slice(semi + 1)))
          report(item.line, `malformed kmsg record (${r.error})`, item.text);
        else result.ignored++;
        continue;
      }
      message = r.message;
      time = new Date(bootMs + Math.floor(r.usec / 1000));
    } else {
      const st = parseSyslogLine(item.text, { now: () => opts.clock.now(), ...(opts.zone ? { zone: opts.zone } : {}) });
      if (st === null) {
        if (item.text.includes(' OUT=') && opts.matcher.carries(item.text, true))
          report(item.line, 'no timestamp in a form nodewarden reads', item.text);
        else result.ignored++;
        continue;
      }
      message = st.message;
      time = st.time;
    }
    const p = parsePacketLog(message, opts.matcher, time);
    if (p.kind === 'other') {
      if (opts.matcher.carries(message.slice(skipKernelTime(message))))
        report(item.line, 'carries a drop prefix but no packet fields (IN= OUT=)', message);
      else result.ignored++;
      continue;
    }
    if (p.kind === 'unparsed') {
      report(item.line, 'carries a drop prefix but its packet fields do not parse', message);
      continue;
    }
    result.drops++;
    result[p.drop.verdict]++;
    const o = dropJson(p.drop);
    if (!peers) {
      out.write(o);
      continue;
    }
    waiting.push(resolve(o, p.drop, peers));
    if (waiting.length >= WINDOW) out.write(await waiting.shift()!);
  }
  for (const w of waiting) out.write(await w);
  await out.end();
  return result;
}
