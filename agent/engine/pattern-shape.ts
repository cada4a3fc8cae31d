// pattern-shape.ts: what the engine needs to know about a rule pattern before matching it:
// NPD's end anchoring, and whether the pattern can only ever match inside the newest line
// (then the line alone is enough) or might reach across a "\n" or use a start anchor (then it
// must run on the joined buffer, as NPD does). The scan is textual and conservative: anything it
// does not understand is treated as "may cross lines", which is always correct, only slower.

/**
 * NPD (log_buffer.go CompilePattern) groups the expression and anchors it to the end of the
 * buffer, so every top-level branch must end at the end of the newest line.
 */
export function anchorAtEnd(pattern: string): string {
  return `(?:${pattern})\\z`;
}

/** Escapes after a backslash that can match "\n" or depend on line starts. */
const CROSSING_ESCAPES = new Set([
  's',
  'W',
  'D',
  'n',
  'p',
  'P',
  'x',
  'C',
  'A',
  'Q',
  'f',
  'v',
  'r',
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  'a',
  'e',
]);
/** Escapes that are safe outside and inside classes. */
const SAFE_ESCAPES = new Set(['d', 'w', 'S', 'b', 'B', 'z', 't']);

/**
 * True when the pattern may match text that is not wholly inside the newest line, or uses a
 * start anchor (which in NPD's joined buffer means "start of the oldest buffered line").
 * Mirrors the intent of NPD's isLastLineOnly, on the pattern text rather than a parse tree.
 */
export function mayCrossLines(pattern: string): boolean {
  const n = pattern.length;
  let i = 0;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\n' || c === '^') return true;
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) return true;
      if (SAFE_ESCAPES.has(e)) {
        i += 2;
        continue;
      }
      if (CROSSING_ESCAPES.has(e)) return true;
      // Escaped punctuation is a literal; letters we do not know are treated as unsafe.
      if (/[A-Za-z]/.test(e)) return true;
      i += 2;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      // Flag groups: (?flags) or (?flags:...). Names (?P<x>, (?<x>) are fine.
      let j = i + 2;
      let flags = '';
      while (j < n && /[a-zA-Z-]/.test(pattern[j]!)) flags += pattern[j++]!;
      if ((pattern[j] === ')' || pattern[j] === ':') && /[sm]/.test(flags)) return true;
      i += 2;
      continue;
    }
    if (c === '[') {
      const end = scanClass(pattern, i);
      if (end < 0) return true;
      if (classMayHoldNewline(pattern.slice(i + 1, end))) return true;
      i = end + 1;
      continue;
    }
    i++;
  }
  return false;
}

/** Index of the "]" closing the class opened at `open`, or -1. */
function scanClass(p: string, open: number): number {
  let i = open + 1;
  if (p[i] === '^') i++;
  if (p[i] === ']') i++; // a leading "]" is a literal
  while (i < p.length) {
    const c = p[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '[' && p[i + 1] === ':') {
      const close = p.indexOf(':]', i + 2);
      if (close < 0) return -1;
      i = close + 2;
      continue;
    }
    if (c === ']') return i;
    i++;
  }
  return -1;
}

/** Class body (between the brackets): may it contain "\n"? Conservative. */
function classMayHoldNewline(body: string): boolean {
  if (body.startsWith('^')) {
    // A negated class holds "\n" unless it names it (NPD: `[^x\n]+` stays on the last line).
    const rest = body.slice(1);
    if (!rest.includes('\\n')) return true;
    // Negated escapes or POSIX classes inside a negation: give up.
    return /\\[SDWPp]|\[:\^/.test(rest);
  }
  if (/\\[sWDnpPx0-9aefvrC]|\[:(space|cntrl|\^)/.test(body)) return true;
  // A range whose low end is a control character or an escape may span "\n" (0x0A).
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      if (body[i + 2] === '-' && body[i + 3] !== undefined && body[i + 3] !== ']') return true;
      i++;
      continue;
    }
    if (c === '\n') return true;
    if (body[i + 1] === '-' && i + 2 < body.length && c.charCodeAt(0) <= 10) return true;
  }
  return false;
}
