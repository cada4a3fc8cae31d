// syslog-line.ts: NPD's filelog line translation (logwatchers/filelog/translator.go), compiled
// once per rule file: the `timestamp` regex locates the timestamp (the last submatch is used, or
// the whole match when there is no group), parsed with the Go layout in local time; the `message`
// regex's last submatch is the message. Two exact fast paths cover NPD's shipped configuration:
// a timestamp regex of the form `^.{N}` is the first N characters, and a message regex of the form
// `P(.*)` (one capture group, at the end) is "the end of P's match up to the next newline", which
// needs one RE2 pass without submatches on the line's bytes instead of a submatch search.
import RE2 from 're2';
import type { Clock, PluginConfig } from '../types';
import { compileGoLayout } from './go-time';
import { Utf8Scratch } from './utf8-scratch';

export interface ParsedSyslogLine {
  readonly time: Date;
  readonly message: string;
  /** UTF-8 bytes of `message`, valid only until the parser's next call. */
  readonly bytes?: Buffer;
}

export type SyslogParser = (raw: string) => ParsedSyslogLine | undefined;

/** Positions of the capturing groups' "(" in a pattern (escapes, classes and (?...) aware). */
export function capturingGroupStarts(pattern: string): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (pattern[i + 1] === 'Q') return undefined; // quoted text: do not guess
      i++;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      for (; j < pattern.length && pattern[j] !== ']'; j++) {
        if (pattern[j] === '\\') j++;
        else if (pattern[j] === '[' && pattern[j + 1] === ':') {
          const close = pattern.indexOf(':]', j + 2);
          if (close < 0) return undefined;
          j = close + 1;
        }
      }
      if (j >= pattern.length) return undefined;
      i = j;
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] !== '?') out.push(i);
      else if (pattern[i + 2] === 'P' || (pattern[i + 2] === '<' && pattern[i + 3] !== '=' && pattern[i + 3] !== '!'))
        out.push(i);
    }
  }
  return out;
}

/** `^.{N}` → N, else undefined. */
function fixedPrefixWidth(re: string): number | undefined {
  const m = /^\^\.\{(\d{1,4})\}$/.exec(re);
  return m ? Number(m[1]) : undefined;
}

/** `P(.*)` with P free of groups and flags → P, else undefined. */
function tailGroupPrefix(re: string): string | undefined {
  if (!re.endsWith('(.*)')) return undefined;
  const groups = capturingGroupStarts(re);
  if (groups === undefined || groups.length !== 1 || groups[0] !== re.length - 4) return undefined;
  const p = re.slice(0, -4);
  // Flags (e.g. (?s)) would change what the trailing `.` matches; keep those on the slow path.
  if (/\(\?[a-zA-Z-]/.test(p.replace(/\(\?P?</g, ''))) return undefined;
  return p;
}

/** RE2 metacharacters; anything else outside an escape is itself. */
const META = new Set(['\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$']);

/**
 * `A.*B` or `A`, where A and B are literal text (ASCII punctuation may be escaped) → their texts,
 * else undefined. With a `(.*)` after it, NPD's `kernel: \[.*\] (.*)` has this shape.
 */
export function literalShape(p: string): { readonly head: string; readonly tail?: string } | undefined {
  const parts: string[] = [''];
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      // Only escaped ASCII punctuation is a literal; \d, \Q, \x41... are not.
      if (n === undefined || !/^[!-/:-@[-`{-~]$/.test(n)) return undefined;
      parts[parts.length - 1] += n;
      i++;
    } else if (c === '.' && p[i + 1] === '*' && parts.length === 1) {
      const after = p[i + 2];
      if (after === '?' || after === '+' || after === '*' || after === '{') return undefined;
      parts.push('');
      i++;
    } else if (META.has(c)) {
      return undefined;
    } else {
      parts[parts.length - 1] += c;
    }
  }
  return parts.length === 1 ? { head: parts[0]! } : { head: parts[0]!, tail: parts[1]! };
}

/**
 * End of the leftmost-first match of literalShape's pattern in `raw`, which holds no "\n", or -1.
 * The match starts at the first `head` (a later one could only see fewer `tail`s after it), and
 * the greedy `.*` takes it to the last `tail` that starts after that `head`.
 */
function literalShapeEnd(raw: string, head: string, tail: string | undefined): number {
  const i = raw.indexOf(head);
  if (i < 0) return -1;
  if (tail === undefined) return i + head.length;
  if (tail === '') return raw.length; // `A.*`: the greedy `.*` takes the rest
  // The last `tail` at or after the head's end, by forward searches: V8's indexOf is a fast
  // builtin, lastIndexOf a runtime call (5% of W1's CPU when it was used here).
  let j = raw.indexOf(tail, i + head.length);
  if (j < 0) return -1;
  for (let k = raw.indexOf(tail, j + 1); k >= 0; k = raw.indexOf(tail, k + 1)) j = k;
  return j + tail.length;
}

/** String.prototype.isWellFormed (Node 20; not in the ES2023 lib typings): no lone surrogate. */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

export function compileSyslogParser(cfg: PluginConfig, clock: Clock): SyslogParser {
  const tsRe = cfg.timestamp ?? '';
  const msgRe = cfg.message ?? '';
  const parseTime = compileGoLayout(cfg.timestampFormat ?? '', { now: () => clock.now() });
  const scratch = new Utf8Scratch();

  const width = fixedPrefixWidth(tsRe);
  const tsGeneral = width === undefined ? new RE2(tsRe, 'u') : undefined;
  const prefix = tailGroupPrefix(msgRe);
  const msgFast = prefix !== undefined ? new RE2(prefix, 'gu') : undefined;
  const shape = prefix !== undefined ? literalShape(prefix) : undefined;
  const msgGeneral = prefix === undefined ? new RE2(msgRe, 'u') : undefined;

  const timeOf = (raw: string): number | undefined => {
    if (width !== undefined) {
      // `.` is any character but "\n": the first N code points, when there are N before a "\n".
      let i = 0;
      for (let n = 0; n < width; n++) {
        if (i >= raw.length) return undefined;
        const c = raw.charCodeAt(i);
        if (c === 10) return undefined;
        i += c >= 0xd800 && c <= 0xdbff && i + 1 < raw.length ? 2 : 1;
      }
      return parseTime(raw, 0, i);
    }
    const m = tsGeneral!.exec(raw);
    if (m === null) return undefined;
    return parseTime(m[m.length - 1] ?? '');
  };

  return (raw) => {
    const t = timeOf(raw);
    if (t === undefined) return undefined;
    // Literal shape: string search, no RE2 pass. A line holding "\n" (the message ends at the
    // first one) or a lone surrogate (the RE2 path sees U+FFFD there) takes the RE2 path.
    if (shape !== undefined && raw.indexOf('\n') < 0 && isWellFormed(raw)) {
      const e = literalShapeEnd(raw, shape.head, shape.tail);
      if (e < 0) return undefined;
      const message = raw.slice(e);
      return { time: new Date(t), message, bytes: scratch.encode(message) };
    }
    if (msgFast !== undefined) {
      const b = scratch.encode(raw);
      msgFast.lastIndex = 0;
      if (!msgFast.test(b)) return undefined;
      const e = msgFast.lastIndex;
      let nl = b.indexOf(10, e);
      if (nl < 0) nl = b.length;
      const bytes = scratch.raw.subarray(e, nl);
      // ASCII lines: byte offsets are string offsets.
      const message = b.length === raw.length ? raw.slice(e, nl) : bytes.toString('utf8');
      return { time: new Date(t), message, bytes };
    }
    const m = msgGeneral!.exec(raw);
    if (m === null) return undefined;
    return { time: new Date(t), message: m[m.length - 1] ?? '' };
  };
}
