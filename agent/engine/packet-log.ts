// packet-log.ts: parses the kernel's nf_log_syslog LOG line (iptables/ip6tables/nftables `log`,
// net/netfilter/nf_log_syslog.c) into packet fields, with no regex: a drop's fields by searching
// for their tokens (dropFieldsByJump), every field by one left-to-right token scan (also what a
// line with an embedded header gets); both give the same drop fields.
//
// Layout the kernel prints (every field is followed by one space, so lines end in a space):
//   <prefix>IN=<if> OUT=<if> [PHYSIN=<if> PHYSOUT=<if>] [MAC=<hex:..>|MACSRC= MACDST= MACPROTO=]
//   SRC=<a> DST=<a> LEN=<n>
//   IPv4: TOS=0x.. PREC=0x.. TTL=<n> ID=<n> [CE] [DF] [MF] [FRAG:<n>] [OPT (..)]
//   IPv6: TC=<n> HOPLIMIT=<n> FLOWLBL=<n>
//   PROTO=TCP|UDP|UDPLITE SPT= DPT= ... | PROTO=ICMP|ICMPv6 TYPE= CODE= [ID= SEQ=] [\[inner hdr\]]
//   | PROTO=AH|ESP SPI=.. | PROTO=<number>      [INCOMPLETE [<n> bytes]]
//   [UID=<n> GID=<n>] [MARK=0x..]
// ICMP errors embed the offending packet's header between "[" and "]": its SRC/DST/PROTO/ports
// must not override the outer ones, so the scan tracks bracket depth.
import type { PacketDrop } from '../types';
import type { PrefixMatcher } from './drop-prefixes';

/**
 * The fields of one logged packet. Addresses are canonical (IPv4 dotted quad, IPv6 RFC 5952).
 * A field the line does not carry is undefined, and present: every PacketFields (and every
 * PacketDrop made from one) has one object shape. Shapes grown by adding fields die with their
 * last object, and the optimized code that embeds them is thrown away with them ("weak objects"
 * in --trace-deopt), so each burst of drops after a quiet spell compiled the parser again.
 */
export interface PacketFields {
  inIf: string;
  outIf: string;
  family: 4 | 6;
  src: string;
  dst: string;
  /** Lower-case protocol name ("tcp", "udp", "icmp", "icmpv6", "sctp", ...) or the number. */
  proto: string;
  srcPort?: number | undefined;
  dstPort?: number | undefined;
  icmpType?: number | undefined;
  icmpCode?: number | undefined;
  physIn?: string | undefined;
  physOut?: string | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  mark?: string | undefined;
}

/** Longest line we look at; a LOG line with every option is well under 1 KiB. */
export const MAX_PACKET_LINE = 4096;

const C_SPACE = 32;
const C_LBRACKET = 91;
const C_RBRACKET = 93;

/**
 * Index where the packet part ("IN=<if> OUT=") starts, or -1. The prefix before it is free text
 * and may itself start with "IN" (kube-iptables-tailer splits on that and breaks): we accept
 * only an "IN=" whose interface token is followed by " OUT=".
 */
export function findPacketStart(text: string, start = 0): number {
  // Linear: every "IN=" between a candidate and the first space after it shares that space
  // (an "IN=" cannot straddle it), so when that space is not followed by "OUT=" the search goes
  // on after the space: each character is looked at a bounded number of times, even on
  // "IN=IN=IN=…" (which was quadratic when each candidate searched for its own space).
  let from = start;
  for (;;) {
    const i = text.indexOf('IN=', from);
    if (i < 0) return -1;
    const sp = text.indexOf(' ', i + 3);
    if (sp < 0) return -1;
    if (text.startsWith('OUT=', sp + 1)) return i;
    from = sp + 1;
  }
}

/** The decimal number text[start, end) (at most 10 digits), or -1. */
export function parseUint(text: string, start: number, end: number): number {
  if (start >= end || end - start > 10) return -1;
  let n = 0;
  for (let k = start; k < end; k++) {
    const d = text.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Validates a dotted quad as printed by %pI4 (also strips leading zeros if someone else printed them). */
export function normaliseIPv4(s: string): string | null {
  let parts = 0;
  let n = -1;
  let digits = 0;
  let firstZero = false;
  let padded = false;
  for (let k = 0; k <= s.length; k++) {
    const c = k < s.length ? s.charCodeAt(k) : 46;
    if (c === 46) {
      if (n < 0 || n > 255) return null;
      if (firstZero && digits > 1) padded = true;
      parts++;
      n = -1;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || digits >= 3) return null;
    if (digits === 0) firstZero = d === 0;
    n = n < 0 ? d : n * 10 + d;
    digits++;
  }
  if (parts !== 4) return null;
  return padded
    ? s
        .split('.')
        .map((x) => String(Number(x)))
        .join('.')
    : s;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses an IPv6 address (expanded or compressed, no zone, no embedded IPv4) into 8 groups. */
function ipv6Groups(s: string): number[] | null {
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    let v = 0;
    let len = 0;
    for (let k = 0; k <= part.length; k++) {
      const c = k < part.length ? part.charCodeAt(k) : 58;
      if (c === 58) {
        if (len === 0) return null;
        out.push(v);
        v = 0;
        len = 0;
        continue;
      }
      const h = hexVal(c);
      if (h < 0 || len >= 4) return null;
      v = v * 16 + h;
      len++;
    }
    return out;
  };
  if (dbl < 0) {
    const g = parse(s);
    return g && g.length === 8 ? g : null;
  }
  const head = parse(s.slice(0, dbl));
  const tail = parse(s.slice(dbl + 2));
  if (!head || !tail || head.length + tail.length > 7) return null;
  const zeros = new Array<number>(8 - head.length - tail.length).fill(0);
  return [...head, ...zeros, ...tail];
}

/** RFC 5952 text of an IPv6 address (lower case, no leading zeros, longest zero run as "::"). */
export function normaliseIPv6(s: string): string | null {
  const g = ipv6Groups(s);
  if (!g) return null;
  let bestStart = -1;
  let bestLen = 1; // a single 0 group is never compressed
  for (let k = 0; k < 8;) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const left = g
    .slice(0, bestStart)
    .map((x) => x.toString(16))
    .join(':');
  const right = g
    .slice(bestStart + bestLen)
    .map((x) => x.toString(16))
    .join(':');
  return `${left}::${right}`;
}

/** Canonical text of an IPv4 or IPv6 address, or null. */
export function normaliseIP(s: string): string | null {
  return s.indexOf(':') >= 0 ? normaliseIPv6(s) : normaliseIPv4(s);
}

/**
 * The lower-case protocol name of PROTO=<raw>, or null when raw is empty or too long. A switch,
 * not an object keyed by raw: raw is a fresh slice of the line, and using it as a property key
 * looks it up in V8's string table on every line.
 */
export function protoName(raw: string): string | null {
  switch (raw) {
    case 'TCP':
      return 'tcp';
    case 'UDP':
      return 'udp';
    case 'UDPLITE':
      return 'udplite';
    case 'SCTP':
      return 'sctp';
    case 'ICMP':
      return 'icmp';
    case 'ICMPv6':
    case 'ICMPV6':
      return 'icmpv6';
    case 'AH':
      return 'ah';
    case 'ESP':
      return 'esp';
    case 'DCCP':
      return 'dccp';
    case 'GRE':
      return 'gre';
    default:
      // Numeric protocol (the kernel's default case) stays a number; anything else is lower-cased.
      if (raw.length === 0 || raw.length > 16) return null;
      return raw.toLowerCase();
  }
}

/** Whether text[t, end) starts with `key` (a field name with its "="), wholly inside the token. */
function keyAt(text: string, t: number, end: number, key: string): boolean {
  const n = key.length;
  if (t + n > end) return false;
  for (let k = 1; k < n; k++) if (text.charCodeAt(t + k) !== key.charCodeAt(k)) return false;
  return text.charCodeAt(t) === key.charCodeAt(0);
}

/** protoName(raw) is 'icmp' or 'icmpv6': raw is ICMP or ICMPv6 in any case (ASCII letters only). */
function isIcmp(raw: string): boolean {
  const n = raw.length;
  if (n !== 4 && n !== 6) return false;
  // | 0x20 lower-cases an ASCII letter; only 'I'/'i' give 0x69 and so on for these letters.
  if (
    (raw.charCodeAt(0) | 0x20) !== 0x69 ||
    (raw.charCodeAt(1) | 0x20) !== 0x63 ||
    (raw.charCodeAt(2) | 0x20) !== 0x6d ||
    (raw.charCodeAt(3) | 0x20) !== 0x70
  )
    return false;
  return n === 4 || ((raw.charCodeAt(4) | 0x20) === 0x76 && raw.charCodeAt(5) === 0x36);
}

/**
 * The fields a drop carries, normalised, from their raw text and numbers (-1: none or malformed).
 * Null when an address or the protocol is malformed.
 */
function dropFields(
  inIf: string,
  outIf: string,
  src: string,
  dst: string,
  proto: string,
  spt: number,
  dpt: number,
  type: number,
  code: number,
): PacketFields | null {
  const v6 = src.indexOf(':') >= 0;
  const nsrc = v6 ? normaliseIPv6(src) : normaliseIPv4(src);
  const ndst = v6 ? normaliseIPv6(dst) : normaliseIPv4(dst);
  const p = protoName(proto);
  if (nsrc === null || ndst === null || p === null) return null;
  const icmp = p === 'icmp' || p === 'icmpv6';
  return {
    inIf,
    outIf,
    family: v6 ? 6 : 4,
    src: nsrc,
    dst: ndst,
    proto: p,
    srcPort: spt >= 0 && spt <= 65535 ? spt : undefined,
    dstPort: dpt >= 0 && dpt <= 65535 ? dpt : undefined,
    icmpType: icmp && type >= 0 && type <= 255 ? type : undefined,
    icmpCode: icmp && code >= 0 && code <= 255 ? code : undefined,
    physIn: undefined,
    physOut: undefined,
    uid: undefined,
    gid: undefined,
    mark: undefined,
  };
}

/**
 * Where the first token after `start` (and before `len`) that begins with `key` starts, or -1.
 * A token starts after a space; its key must end before len, as the token scan's keyAt asks.
 */
function tokenAt(text: string, key: string, start: number, len: number): number {
  const last = len - key.length;
  let p = text.indexOf(key, start + 1);
  while (p >= 0 && p <= last) {
    if (text.charCodeAt(p - 1) === C_SPACE) return p;
    p = text.indexOf(key, p + 1);
  }
  return -1;
}

/** End of the token starting at t: the next space, or len. */
function tokenEnd(text: string, t: number, len: number): number {
  const e = text.indexOf(' ', t);
  return e < 0 || e > len ? len : e;
}

/** The first well-formed number among the `key` tokens (the token scan's "if (n < 0) n = …"), or -1. */
function numberAt(text: string, key: string, start: number, len: number): number {
  for (let p = tokenAt(text, key, start, len); p >= 0; p = tokenAt(text, key, p, len)) {
    const n = parseUint(text, p + key.length, tokenEnd(text, p, len));
    if (n >= 0) return n;
  }
  return -1;
}

/**
 * The drop's fields found by searching for each field's token, instead of looking at every token:
 * in a LOG line most tokens are fields a drop does not carry (MAC, LEN, TTL, flags...). The same
 * result as the token scan: every field is the first token with its key (for numbers, the first
 * well-formed one). Undefined, and the token scan decides, when the first token is not "IN=" or
 * when a "[" is in the line, as an ICMP error's embedded header is (its fields are not the packet's).
 */
function dropFieldsByJump(text: string, start: number, len: number): PacketFields | null | undefined {
  if (start >= len) return undefined;
  const inEnd = tokenEnd(text, start, len);
  if (!keyAt(text, start, inEnd, 'IN=')) return undefined;
  const bracket = text.indexOf('[', start);
  if (bracket >= 0 && bracket < len) return undefined;
  const o = tokenAt(text, 'OUT=', start, len);
  const s = tokenAt(text, 'SRC=', start, len);
  const d = tokenAt(text, 'DST=', start, len);
  const p = tokenAt(text, 'PROTO=', start, len);
  if (o < 0 || s < 0 || d < 0 || p < 0) return null;
  const inIf = text.slice(start + 3, inEnd);
  const outIf = text.slice(o + 4, tokenEnd(text, o, len));
  const proto = text.slice(p + 6, tokenEnd(text, p, len));
  const icmp = isIcmp(proto);
  const spt = numberAt(text, 'SPT=', start, len);
  const dpt = numberAt(text, 'DPT=', start, len);
  const type = icmp ? numberAt(text, 'TYPE=', start, len) : -1;
  const code = icmp ? numberAt(text, 'CODE=', start, len) : -1;
  const src = text.slice(s + 4, tokenEnd(text, s, len));
  const dst = text.slice(d + 4, tokenEnd(text, d, len));
  return dropFields(inIf, outIf, src, dst, proto, spt, dpt, type, code);
}

/**
 * Parses the packet part of a LOG line, starting at `start` (from findPacketStart).
 * Returns null when a required field (SRC, DST, PROTO) is missing or malformed.
 * Each token is told by its first character and the "KEY=" it starts with; a token that is no
 * field we read (LEN=, TTL=, DF, SYN...) costs a character test or two.
 * `forDrop`: only the fields a PacketDrop carries are wanted. They are searched for
 * (dropFieldsByJump), and only a line that search leaves to the token scan is scanned; the scan
 * then stops as soon as every one is known and no later token could change it (for TCP, UDP...:
 * after both ports). The fields a drop does not carry (physIn, physOut, uid, gid, mark) may be
 * missing.
 */
export function parsePacketFields(text: string, start: number, forDrop = false, messageAt = 0): PacketFields | null {
  const len = Math.min(text.length, messageAt + MAX_PACKET_LINE);
  if (forDrop) {
    const f = dropFieldsByJump(text, start, len);
    if (f !== undefined) return f;
  }
  let inIf: string | undefined;
  let outIf: string | undefined;
  let src: string | undefined;
  let dst: string | undefined;
  let proto: string | undefined;
  let physIn: string | undefined;
  let physOut: string | undefined;
  let spt = -1;
  let dpt = -1;
  let type = -1;
  let code = -1;
  let uid = -1;
  let gid = -1;
  let mark: string | undefined;
  let depth = 0;
  let i = start;
  while (i < len) {
    let end = text.indexOf(' ', i);
    if (end < 0 || end > len) end = len;
    if (end === i) {
      i++;
      continue;
    }
    const t = i;
    i = end + 1;
    const c = text.charCodeAt(t);
    // An ICMP error's embedded header, "[SRC=… ]", is skipped (it may nest).
    if (c === C_RBRACKET) {
      if (end - t === 1 && depth > 0) depth--;
      continue;
    }
    if (c === C_LBRACKET) {
      if (text.startsWith('SRC=', t + 1)) depth++;
      continue;
    }
    if (depth > 0) continue;
    switch (c) {
      case 73: // I
        if (inIf === undefined && keyAt(text, t, end, 'IN=')) inIf = text.slice(t + 3, end);
        break;
      case 79: // O
        if (outIf === undefined && keyAt(text, t, end, 'OUT=')) outIf = text.slice(t + 4, end);
        break;
      case 83: // S
        if (keyAt(text, t, end, 'SRC=')) {
          if (src === undefined) src = text.slice(t + 4, end);
        } else if (keyAt(text, t, end, 'SPT=')) {
          if (spt < 0) spt = parseUint(text, t + 4, end);
        }
        break;
      case 68: // D
        if (keyAt(text, t, end, 'DST=')) {
          if (dst === undefined) dst = text.slice(t + 4, end);
        } else if (keyAt(text, t, end, 'DPT=')) {
          if (dpt < 0) {
            dpt = parseUint(text, t + 4, end);
            // Every field a drop carries is first-wins: with both ports (never on ICMP, whose
            // type and code come instead) nothing later can change the drop.
            if (
              forDrop &&
              dpt >= 0 &&
              spt >= 0 &&
              inIf !== undefined &&
              outIf !== undefined &&
              src !== undefined &&
              dst !== undefined &&
              proto !== undefined &&
              !isIcmp(proto)
            )
              i = len;
          }
        }
        break;
      case 80: // P
        if (keyAt(text, t, end, 'PROTO=')) {
          if (proto === undefined) proto = text.slice(t + 6, end);
        } else if (keyAt(text, t, end, 'PHYSIN=')) {
          physIn = text.slice(t + 7, end);
        } else if (keyAt(text, t, end, 'PHYSOUT=')) {
          physOut = text.slice(t + 8, end);
        }
        break;
      case 84: // T
        if (type < 0 && keyAt(text, t, end, 'TYPE=')) type = parseUint(text, t + 5, end);
        break;
      case 67: // C
        if (code < 0 && keyAt(text, t, end, 'CODE=')) code = parseUint(text, t + 5, end);
        break;
      case 85: // U
        if (keyAt(text, t, end, 'UID=')) uid = parseUint(text, t + 4, end);
        break;
      case 71: // G
        if (keyAt(text, t, end, 'GID=')) gid = parseUint(text, t + 4, end);
        break;
      case 77: // M
        if (keyAt(text, t, end, 'MARK=')) mark = text.slice(t + 5, end);
        break;
      default:
        break;
    }
  }
  if (inIf === undefined || outIf === undefined || src === undefined || dst === undefined || proto === undefined) {
    return null;
  }
  const out = dropFields(inIf, outIf, src, dst, proto, spt, dpt, type, code);
  if (out === null) return null;
  if (physIn !== undefined) out.physIn = physIn;
  if (physOut !== undefined) out.physOut = physOut;
  if (uid >= 0) out.uid = uid;
  if (gid >= 0) out.gid = gid;
  if (mark !== undefined) out.mark = mark;
  return out;
}

/** Strips an optional leading kernel timestamp "[ 1156.246182] " that rsyslog files keep. */
export function skipKernelTime(text: string, from = 0): number {
  if (text.charCodeAt(from) !== C_LBRACKET) return from;
  const close = text.indexOf(']', from + 1);
  if (close < 0 || close - from > 24) return from;
  for (let k = from + 1; k < close; k++) {
    const c = text.charCodeAt(k);
    if (!(c === C_SPACE || c === 46 || (c >= 48 && c <= 57))) return from;
  }
  return text.charCodeAt(close + 1) === C_SPACE ? close + 2 : close + 1;
}

/** Outcome of parsing one message: a drop, a line that is not ours, or a LOG line we could not read. */
export type PacketParse =
  | { readonly kind: 'drop'; readonly drop: PacketDrop }
  | { readonly kind: 'other' }
  | { readonly kind: 'unparsed'; readonly reason: string };

const OTHER: PacketParse = { kind: 'other' };

/**
 * Parses a kernel message (kmsg text, or a file line after its timestamp/host/tag) into a
 * PacketDrop when it carries a configured prefix. Never throws. `from`: where the message starts
 * in text (a file line's, from parseSyslogHead): read in place, because every string operation
 * on a sliced string is slower (about 0.35 µs a line over the field scan).
 */
export function parsePacketLog(text: string, matcher: PrefixMatcher, time: Date, from = 0): PacketParse {
  const msgAt = skipKernelTime(text, from);
  const at = findPacketStart(text, msgAt);
  if (at < 0) return OTHER;
  const m = matcher.matchAt(text, msgAt, at);
  if (m === undefined) return OTHER;
  const f = parsePacketFields(text, at, true, msgAt);
  if (f === null) return { kind: 'unparsed', reason: 'fields' };
  // Every field present, undefined or not: one object shape (see PacketFields).
  const drop: PacketDrop = {
    time,
    prefix: m.prefix.template,
    verdict: m.verdict,
    policy: m.policy,
    inIf: f.inIf,
    outIf: f.outIf,
    family: f.family,
    src: f.src,
    dst: f.dst,
    proto: f.proto,
    srcPort: f.srcPort,
    dstPort: f.dstPort,
    icmpType: f.icmpType,
    icmpCode: f.icmpCode,
  };
  return { kind: 'drop', drop };
}
