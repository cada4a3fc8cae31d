// duration.ts: Go time.ParseDuration syntax ("5m", "1h30m", "300ms", "1.5s", "0", "-2s") to
// milliseconds. Rule files (NPD's `lookback`, `delay`, nodewarden's `recoverAfter`) and flags use it.
// Pure; errors are returned as strings, never thrown.

/** Nanoseconds per unit, as Go's time package accepts them (both micro signs included). */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3, // MICRO SIGN
  '\u03bcs': 1e3, // GREEK SMALL LETTER MU
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's limit: a time.Duration is an int64 count of nanoseconds (about 292 years). */
const MAX_NS = 2 ** 63 - 1;

const UNITS_HINT = 'valid units are "ns", "us", "ms", "s", "m", "h"';

/**
 * Parses a Go duration string into milliseconds (may be fractional, e.g. "10us" is 0.01).
 * Returns an error message (a string) when the text is not a valid Go duration.
 */
export function parseDuration(s: string): number | string {
  const quoted = JSON.stringify(s);
  let i = 0;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    i = 1;
  }
  const rest = s.slice(i);
  if (rest === '0') return negative ? -0 : 0;
  if (rest === '') return `invalid duration ${quoted}`;

  let totalNs = 0;
  while (i < s.length) {
    // A component: digits, optional ".digits", then a unit. At least one digit is required.
    const start = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    const intPart = s.slice(start, i);
    let fracPart = '';
    if (s[i] === '.') {
      i++;
      const fracStart = i;
      while (i < s.length && isDigit(s.charCodeAt(i))) i++;
      fracPart = s.slice(fracStart, i);
    }
    if (intPart === '' && fracPart === '') return `invalid duration ${quoted}`;
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s.charCodeAt(i))) i++;
    const unit = s.slice(unitStart, i);
    if (unit === '') return `missing unit in duration ${quoted} (${UNITS_HINT})`;
    const scale = UNIT_NS[unit];
    if (scale === undefined) return `unknown unit ${JSON.stringify(unit)} in duration ${quoted} (${UNITS_HINT})`;
    const value = Number(`${intPart === '' ? '0' : intPart}.${fracPart === '' ? '0' : fracPart}`);
    totalNs += value * scale;
    if (!Number.isFinite(totalNs) || totalNs > MAX_NS) return `duration ${quoted} is out of range`;
  }
  const ms = totalNs / 1e6;
  return negative ? -ms : ms;
}

/** parseDuration, but a negative duration is an error (lookback, delay). */
export function parseNonNegativeDuration(s: string): number | string {
  const v = parseDuration(s);
  if (typeof v === 'number' && v < 0) return `duration ${JSON.stringify(s)} must not be negative`;
  return v === 0 ? 0 : v; // normalise -0
}

/** parseDuration, but the duration must be greater than zero (recoverAfter, poll intervals). */
export function parsePositiveDuration(s: string): number | string {
  const v = parseDuration(s);
  if (typeof v === 'number' && !(v > 0)) return `duration ${JSON.stringify(s)} must be greater than zero`;
  return v;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
