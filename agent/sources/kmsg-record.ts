// kmsg-record.ts: the /dev/kmsg record format (Documentation/ABI/testing/dev-kmsg):
//
//   PRI,SEQ,USEC,FLAGS[,more fields];message\n
//    KEY=value\n            <- optional dictionary lines (SUBSYSTEM=, DEVICE=), metadata only
//
// The kernel escapes bytes < 0x20, >= 0x7f and the backslash itself as \xNN, in the message and
// in dictionary values, so a record is printable ASCII; UTF-8 text arrives as escaped bytes and
// is decoded after unescaping. Two layers:
//   - parseKmsgHeader / unescapeKmsg: Buffer functions for the live source's hot path (no
//     allocation for the header, unescape into a caller-owned scratch buffer);
//   - parseKmsgRecord: the whole record from text (replay, tests), built on the same functions
//     and the shared text guard, so replay and live treat a record identically.
import { DEFAULT_MAX_LINE_BYTES, guardLine, junkReason, type JunkCode } from './text-guard';

/** Header fields, filled in place by parseKmsgHeader (reuse one object per source). */
export interface KmsgHeader {
  /** facility * 8 + level. */
  pri: number;
  seq: number;
  /** Microseconds since boot (the printk clock, which does not count suspend). */
  usec: number;
  /** '-' normal, 'c' continuation start, '+' continuation (older kernels); first char only. */
  flags: string;
  /** Byte offsets of the (still escaped) message: [msgStart, msgEnd). */
  msgStart: number;
  msgEnd: number;
}

export function newKmsgHeader(): KmsgHeader {
  return { pri: 0, seq: 0, usec: 0, flags: '-', msgStart: 0, msgEnd: 0 };
}

const COMMA = 0x2c;
const SEMI = 0x3b;
const NL = 0x0a;
const BACKSLASH = 0x5c;
/** More digits than this cannot be a u64 we can represent: reject rather than misread. */
const MAX_DIGITS = 16;

/**
 * Parses the header of the record in buf[0, len). Returns undefined on success (fields in
 * `out`), or an error message for a malformed header.
 */
export function parseKmsgHeader(buf: Uint8Array, len: number, out: KmsgHeader): string | undefined {
  let i = 0;
  // three comma-terminated decimal fields: PRI, SEQ, USEC
  let pri = 0;
  let seq = 0;
  let usec = 0;
  for (let field = 0; field < 3; field++) {
    const start = i;
    let v = 0;
    let c = 0;
    while (i < len) {
      c = buf[i] as number;
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
    }
    if (i === start) return i >= len ? 'truncated header' : `field ${field + 1} is not a number`;
    if (i - start > MAX_DIGITS) return `field ${field + 1} is too long`;
    if (i >= len || c !== COMMA) return `field ${field + 1} not followed by ','`;
    i++;
    if (field === 0) pri = v;
    else if (field === 1) seq = v;
    else usec = v;
  }
  // FLAGS and any further fields up to ';'
  const flagsAt = i;
  while (i < len) {
    const c = buf[i] as number;
    if (c === SEMI || c === NL) break;
    i++;
  }
  if (i >= len || buf[i] !== SEMI) return "no ';' after the header";
  if (i === flagsAt || buf[flagsAt] === COMMA) return 'empty flags field';
  const msgStart = i + 1;
  let msgEnd = msgStart;
  while (msgEnd < len && buf[msgEnd] !== NL) msgEnd++;
  out.pri = pri;
  out.seq = seq;
  out.usec = usec;
  out.flags = String.fromCharCode(buf[flagsAt] as number);
  out.msgStart = msgStart;
  out.msgEnd = msgEnd;
  return undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Unescapes \xNN in src[start, end) into dst (which needs end - start bytes). Returns the
 * number of bytes written, or -1 when there is nothing to unescape (use src as it is).
 * A backslash not followed by x and two hex digits is kept literally.
 */
export function unescapeKmsg(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let i = start;
  while (i < end && src[i] !== BACKSLASH) i++;
  if (i === end) return -1;
  dst.set(src.subarray(start, i), 0);
  let o = i - start;
  while (i < end) {
    const c = src[i] as number;
    if (c === BACKSLASH && i + 3 < end && src[i + 1] === 0x78) {
      const hi = hexValue(src[i + 2] as number);
      const lo = hexValue(src[i + 3] as number);
      if (hi >= 0 && lo >= 0) {
        dst[o++] = (hi << 4) | lo;
        i += 4;
        continue;
      }
    }
    dst[o++] = c;
    i++;
  }
  return o;
}

/** A parsed record (the text form, for replay and tests). */
export interface KmsgRecord {
  pri: number;
  seq: number;
  usec: number;
  flags: string;
  /** Unescaped, UTF-8 decoded, cut at maxLineBytes when `truncated`. */
  message: string;
  truncated: boolean;
  /** Dictionary lines (SUBSYSTEM, DEVICE, ...), values unescaped. */
  dict: Record<string, string>;
}

export interface KmsgParseError {
  error: string;
}

/**
 * Parses one whole record: the header line plus any dictionary lines (each starting with a
 * space). A malformed header, or a message the text guard rejects (empty, binary control bytes,
 * invalid UTF-8 after unescaping), gives { error }.
 */
export function parseKmsgRecord(
  text: string | Buffer,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): KmsgRecord | KmsgParseError {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const h = newKmsgHeader();
  const err = parseKmsgHeader(buf, buf.length, h);
  if (err !== undefined) return { error: err };
  const scratch = Buffer.allocUnsafe(Math.max(0, h.msgEnd - h.msgStart));
  const message = decodeMessage(buf, h.msgStart, h.msgEnd, scratch, maxLineBytes);
  if (typeof message === 'number') return { error: `message: ${junkReason(message)}` };
  const dict: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = h.msgEnd + 1;
  while (i < buf.length) {
    let end = buf.indexOf(NL, i);
    if (end < 0) end = buf.length;
    if (buf[i] === 0x20) {
      const eq = buf.indexOf(0x3d, i);
      if (eq > i + 1 && eq < end) {
        const key = buf.toString('latin1', i + 1, eq);
        const vs = Buffer.allocUnsafe(end - eq - 1);
        const n = unescapeKmsg(buf, eq + 1, end, vs);
        dict[key] = n < 0 ? buf.toString('utf8', eq + 1, end) : vs.toString('utf8', 0, n);
      }
    }
    i = end + 1;
  }
  return {
    pri: h.pri,
    seq: h.seq,
    usec: h.usec,
    flags: h.flags,
    message: message.text,
    truncated: message.truncated,
    dict,
  };
}

/**
 * Unescapes and guards the message bytes src[start, end) (scratch needs end - start bytes).
 * Returns the text and whether it was cut, or a negative JunkCode. `words`: wordsOf(src) and
 * wordsOf(scratch), for the guard's 4-byte steps (a reader makes them once for its buffers).
 */
export function decodeMessage(
  src: Buffer,
  start: number,
  end: number,
  scratch: Buffer,
  maxLineBytes: number,
  words?: { readonly src: Uint32Array | undefined; readonly scratch: Uint32Array | undefined },
): { text: string; truncated: boolean } | JunkCode {
  let b = src;
  let s = start;
  let e = end;
  let w = words?.src;
  const n = unescapeKmsg(src, start, end, scratch);
  if (n >= 0) {
    b = scratch;
    s = 0;
    e = n;
    w = words?.scratch;
  }
  const keep = guardLine(b, s, e, maxLineBytes, w);
  if (keep < 0) return keep as JunkCode;
  return { text: b.toString('utf8', s, keep), truncated: keep < e };
}
