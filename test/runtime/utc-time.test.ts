// utc-time.test.ts: isoString, isoSeconds and httpDate agree with Date's own methods, over the
// edges of days, months, leap years and centuries, 4-digit years, negative times and a random
// sample; out of range they defer to Date (and throw as it does).
import { describe, expect, it } from 'vitest';
import { httpDate, isoSeconds, isoString } from '../../agent/runtime/utc-time';

const edges = [
  0,
  -1,
  1,
  -0.5,
  999.9,
  Date.UTC(1969, 11, 31, 23, 59, 59, 999),
  Date.UTC(2000, 1, 29, 12, 0, 0, 1),
  Date.UTC(1900, 1, 28, 23, 59, 59, 999),
  Date.UTC(1900, 2, 1),
  Date.UTC(2100, 1, 28, 23, 59, 59, 999),
  Date.UTC(2024, 1, 29, 23, 59, 59, 999),
  Date.UTC(2026, 11, 31, 23, 59, 59, 999),
  Date.UTC(2027, 0, 1),
  Date.UTC(0, 0, 1) - 0, // 1900 (two-digit years map to 19xx)
  new Date('0000-01-01T00:00:00.000Z').getTime(),
  new Date('0999-12-31T23:59:59.999Z').getTime(),
  new Date('9999-12-31T23:59:59.999Z').getTime(),
];

/** A deterministic spread over years 0-9999 (a linear congruential sequence, not Math.random). */
function sample(n: number): number[] {
  const out: number[] = [];
  let x = 12345;
  const lo = new Date('0000-01-01T00:00:00.000Z').getTime();
  const span = new Date('9999-12-31T23:59:59.999Z').getTime() - lo;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const y = (x * 2147483648 + ((x * 69069 + 1) % 2147483648)) / 2 ** 62;
    out.push(lo + Math.floor(y * span));
  }
  return out;
}

describe('utc-time', () => {
  it('matches toISOString, toUTCString and whole-second ISO at the edges and over years 0-9999', () => {
    for (const ms of [...edges, ...sample(20_000)]) {
      const d = new Date(ms);
      expect(isoString(ms), String(ms)).toBe(d.toISOString());
      expect(httpDate(ms), String(ms)).toBe(d.toUTCString());
      expect(isoSeconds(ms), String(ms)).toBe(
        new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      );
    }
  });

  it('defers to Date outside years 0-9999 and throws as Date does for an invalid time', () => {
    const far = Date.UTC(12345, 0, 1);
    expect(isoString(far)).toBe('+012345-01-01T00:00:00.000Z');
    expect(isoString(-62_198_755_200_000)).toBe(new Date(-62_198_755_200_000).toISOString());
    expect(httpDate(far)).toBe(new Date(far).toUTCString());
    expect(() => isoString(Number.NaN)).toThrow(RangeError);
    expect(() => isoSeconds(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
