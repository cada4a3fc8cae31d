// text-guard.ts: line sanity shared by the sources (kmsg and file follower). On the per-line
// path, so it looks at each kept byte once, allocates nothing for good lines beyond the string,
// and decides:
//   - length: a line longer than maxLineBytes is cut at a UTF-8 character boundary at or below
//     the cap and marked truncated (only the kept part is examined; the rest is never scanned);
//   - junk: empty or whitespace-only lines, lines with NUL or other binary control bytes, and
//     invalid UTF-8 are rejected (callers count them in SourceStats.malformed and skip them).
// Allowed control bytes: TAB, LF, VT, FF, CR and ESC (terminal colours in daemon output are not
// binary junk). Everything else in 0x00-0x1F is binary. DEL (0x7F) and all valid UTF-8 pass.
// With a Uint32Array view of the buffer (`wordsOf`), the scan takes 4 bytes a step and looks at
// single bytes only in words holding a control byte or a high bit: the same answer, about 4 times
// fewer steps on printable ASCII (a file line is mostly that).
import { isUtf8 } from 'node:buffer';
import type { SourceStats } from '../types';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

/** guardLine's negative results. */
export const JUNK_EMPTY = -1;
export const JUNK_BINARY = -2;
export const JUNK_INVALID_UTF8 = -3;
export type JunkCode = typeof JUNK_EMPTY | typeof JUNK_BINARY | typeof JUNK_INVALID_UTF8;

export function junkReason(code: JunkCode): string {
  return code === JUNK_EMPTY ? 'empty line' : code === JUNK_BINARY ? 'binary control bytes' : 'invalid UTF-8';
}

// Byte classes: 0 ordinary printable ASCII, 1 whitespace, 2 binary control, 3 high bit set.
const CLASS = new Uint8Array(256);
for (let b = 0; b < 32; b++) CLASS[b] = 2;
for (const b of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) CLASS[b] = 1;
CLASS[0x1b] = 0;
for (let b = 128; b < 256; b++) CLASS[b] = 3;

/**
 * A Uint32Array over the same memory as buf, for guardLine's 4-byte steps; undefined when buf
 * does not start on a 4-byte boundary (guardLine then looks at single bytes).
 */
export function wordsOf(buf: Uint8Array): Uint32Array | undefined {
  if (buf.byteOffset % 4 !== 0) return undefined;
  return new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
}

/**
 * Checks bytes [start, end) of buf. Returns the end offset to keep (equal to `end`, or smaller
 * when the line exceeds maxLineBytes and was cut at a character boundary), or a negative JunkCode.
 * `words` (optional) is wordsOf(buf): the same answer, faster.
 */
export function guardLine(
  buf: Uint8Array,
  start: number,
  end: number,
  maxLineBytes: number,
  words?: Uint32Array,
): number {
  let cut = end;
  if (end - start > maxLineBytes) {
    cut = start + maxLineBytes;
    // Step back over continuation bytes so the kept part ends on a whole character.
    // A valid character has at most 3 continuation bytes; more means invalid UTF-8 (found below).
    let steps = 0;
    while (cut > start && steps < 4 && ((buf[cut] as number) & 0xc0) === 0x80) {
      cut--;
      steps++;
    }
  }
  let printable = false;
  let high = false;
  // Bytes before the first whole word, the whole words, then the bytes after the last one.
  const w0 = words === undefined ? cut : (start + 3) >>> 2;
  const w1 = words === undefined ? cut : cut >>> 2;
  const headEnd = w0 < w1 ? w0 << 2 : cut;
  for (let i = start; i < headEnd; i++) {
    const c = CLASS[buf[i] as number] as number;
    if (c === 0) printable = true;
    else if (c === 2) return JUNK_BINARY;
    else if (c === 3) high = true;
  }
  if (headEnd === cut) return finishGuard(buf, start, cut, printable, high);
  const ws = words as Uint32Array;
  for (let w = w0; w < w1; w++) {
    const v = ws[w] as number;
    // A byte below 0x20 (the borrow test is exact for "any byte < 0x20" when no high bit is set)
    // or a byte with its high bit set: look at the four bytes one by one.
    if ((((v - 0x20202020) & ~v) | v) & 0x80808080) {
      for (let i = w << 2, e = i + 4; i < e; i++) {
        const c = CLASS[buf[i] as number] as number;
        if (c === 0) printable = true;
        else if (c === 2) return JUNK_BINARY;
        else if (c === 3) high = true;
      }
    } else if (v !== 0x20202020) {
      printable = true; // printable ASCII only, and not four spaces
    }
  }
  for (let i = w1 << 2; i < cut; i++) {
    const c = CLASS[buf[i] as number] as number;
    if (c === 0) printable = true;
    else if (c === 2) return JUNK_BINARY;
    else if (c === 3) high = true;
  }
  return finishGuard(buf, start, cut, printable, high);
}

function finishGuard(buf: Uint8Array, start: number, cut: number, printable: boolean, high: boolean): number {
  if (high) {
    if (!isUtf8(buf.subarray(start, cut))) return JUNK_INVALID_UTF8;
    printable = true; // non-ASCII characters count as content
  }
  return printable ? cut : JUNK_EMPTY;
}

/** A line that passed the guard. */
export interface GuardedText {
  readonly text: string;
  readonly truncated: boolean;
}

/**
 * guardLine plus decoding and counting: returns the text, or undefined for junk (counted in
 * stats.malformed). A cut line is counted in stats.truncated. `words`: as for guardLine.
 */
export function guardText(
  buf: Buffer,
  start: number,
  end: number,
  maxLineBytes: number,
  stats: Pick<SourceStats, 'malformed' | 'truncated'>,
  words?: Uint32Array,
): GuardedText | undefined {
  const keep = guardLine(buf, start, end, maxLineBytes, words);
  if (keep < 0) {
    stats.malformed++;
    return undefined;
  }
  const truncated = keep < end;
  if (truncated) stats.truncated++;
  return { text: buf.toString('utf8', start, keep), truncated };
}
