import { afterAll, describe, expect, it } from 'vitest';
import { compileGoLayout } from '../../agent/engine/go-time';

// Tests run with whatever TZ the machine has; compare against local-time construction.
const now = new Date(2026, 5, 15, 12, 0, 0).getTime();
const p = (layout: string) => compileGoLayout(layout, { now: () => now });

describe('go-time', () => {
  it.each([
    ['Jan _2 15:04:05', 'Nov 22 03:42:14', new Date(2025, 10, 22, 3, 42, 14).getTime()], // future → previous year
    ['Jan _2 15:04:05', 'Jun  2 03:42:14', new Date(2026, 5, 2, 3, 42, 14).getTime()],
    ['Jan _2 15:04:05', 'Jun 12 03:42:14', new Date(2026, 5, 12, 3, 42, 14).getTime()],
    ['Jan _2 15:04:05', 'jun 12 03:42:14', new Date(2026, 5, 12, 3, 42, 14).getTime()],
    ['Jan _2 15:04:05', 'Jun 12 03:42:14.250', new Date(2026, 5, 12, 3, 42, 14, 250).getTime()], // Go accepts unannounced fraction
    ['Jan _2 15:04:05', 'Jun 16 11:00:00', new Date(2026, 5, 16, 11, 0, 0).getTime()], // within a day ahead: this year
    ['Jan 2 15:04:05', 'Jun 2 03:42:14', new Date(2026, 5, 2, 3, 42, 14).getTime()],
    [
      '2006-01-02T15:04:05.999999999-07:00',
      '2024-03-01T10:20:30.123456789+02:00',
      Date.UTC(2024, 2, 1, 8, 20, 30, 123),
    ],
    ['2006-01-02T15:04:05.999999999-07:00', '2024-03-01T10:20:30-05:30', Date.UTC(2024, 2, 1, 15, 50, 30)],
    ['2006-01-02T15:04:05Z07:00', '2024-03-01T10:20:30Z', Date.UTC(2024, 2, 1, 10, 20, 30)],
    ['2006-01-02T15:04:05Z07:00', '2024-03-01T10:20:30+01:00', Date.UTC(2024, 2, 1, 9, 20, 30)],
    ['2006-01-02 15:04:05.000', '2024-03-01 10:20:30.007', new Date(2024, 2, 1, 10, 20, 30, 7).getTime()],
    ['Mon Jan _2 15:04:05 2006', 'Fri Mar  1 10:20:30 2024', new Date(2024, 2, 1, 10, 20, 30).getTime()],
    ['Mon Jan _2 15:04:05 MST 2006', 'Fri Mar  1 10:20:30 UTC 2024', Date.UTC(2024, 2, 1, 10, 20, 30)],
    ['02/01/06 3:04PM', '01/03/24 1:05PM', new Date(2024, 2, 1, 13, 5).getTime()],
    ['02/01/06 3:04PM', '01/03/24 12:05AM', new Date(2024, 2, 1, 0, 5).getTime()],
    ['January 2, 2006', 'March 1, 2024', new Date(2024, 2, 1).getTime()],
    ['2006-01-02T15:04:05-0700', '2024-03-01T10:20:30-0100', Date.UTC(2024, 2, 1, 11, 20, 30)],
  ])('%s parses %s', (layout, value, want) => {
    expect(p(layout)(value)).toBe(want);
  });

  it.each([
    ['Jan _2 15:04:05', 'Foo 22 03:42:14'],
    ['Jan _2 15:04:05', 'Nov 22 25:42:14'],
    ['Jan _2 15:04:05', 'Nov 22 03:42:14 extra'],
    ['Jan _2 15:04:05', 'Nov 31 03:42:14'], // day out of range
    ['2006-01-02', '2023-02-29'],
    ['2006-01-02', '24-02-01'],
    ['2006-01-02 15:04:05.000', '2024-03-01 10:20:30.07'],
    ['01/02', '1/02'], // 01 needs two digits
    ['', 'x'],
  ])('%s rejects %s', (layout, value) => {
    expect(p(layout)(value)).toBeUndefined();
  });

  it('parses a sub-range of a string', () => {
    const s = 'Jun 12 03:42:14 host kernel: x';
    expect(p('Jan _2 15:04:05')(s, 0, 15)).toBe(new Date(2026, 5, 12, 3, 42, 14).getTime());
  });

  it('takes the year from the clock at parse time (year-end rollover)', () => {
    let t = new Date(2027, 0, 1, 0, 0, 30).getTime();
    const parse = compileGoLayout('Jan _2 15:04:05', { now: () => t });
    expect(parse('Dec 31 23:59:59')).toBe(new Date(2026, 11, 31, 23, 59, 59).getTime());
    expect(parse('Jan  1 00:00:10')).toBe(new Date(2027, 0, 1, 0, 0, 10).getTime());
    t = new Date(2027, 5, 1).getTime();
    expect(parse('Feb 29 10:00:00')).toBe(new Date(2027, 2, 1, 10, 0, 0).getTime()); // Go: year 0 is leap, AddDate normalises
  });

  it('repeats of the last text reuse its fields, but the year and the day-ahead check follow the clock', () => {
    let t = new Date(2026, 5, 15, 12, 0, 0).getTime();
    const parse = compileGoLayout('Jan _2 15:04:05', { now: () => t });
    expect(parse('Jun 16 11:00:00')).toBe(new Date(2026, 5, 16, 11, 0, 0).getTime()); // within a day ahead
    t = new Date(2026, 5, 15, 10, 0, 0).getTime();
    expect(parse('Jun 16 11:00:00')).toBe(new Date(2025, 5, 16, 11, 0, 0).getTime()); // now more than a day ahead
    t = new Date(2028, 0, 1, 0, 0, 30).getTime();
    expect(parse('Jun 16 11:00:00')).toBe(new Date(2027, 5, 16, 11, 0, 0).getTime());
    expect(parse('Dec 31 23:59:59')).toBe(new Date(2027, 11, 31, 23, 59, 59).getTime());
    t = new Date(2029, 0, 1, 0, 0, 30).getTime();
    expect(parse('Dec 31 23:59:59')).toBe(new Date(2028, 11, 31, 23, 59, 59).getTime());
    // A sub-range equal to the last text, inside a longer string; a failed parse keeps the memo.
    expect(parse('Dec 31 23:59:59 host x', 0, 15)).toBe(new Date(2028, 11, 31, 23, 59, 59).getTime());
    expect(parse('Dec 32 23:59:59')).toBeUndefined();
    expect(parse('xDec 31 23:59:59', 1)).toBe(new Date(2028, 11, 31, 23, 59, 59).getTime());
  });

  it('a parser that sees runs of repeated texts answers as a fresh parser would', () => {
    const layouts = ['Jan _2 15:04:05', '2006-01-02T15:04:05.999999999Z07:00', 'Jan _2 15:04:05.000'];
    const values = [
      [
        'Jun 12 03:42:14',
        'Jun 12 03:42:15',
        'Jun 12 03:42:1x',
        'Feb 29 10:00:00',
        'Jun  2 03:42:14',
        'Jun 16 11:00:00',
      ],
      ['2024-03-01T10:20:30Z', '2024-03-01T10:20:30+01:00', '2024-03-01T10:20:31Z', '2024-02-30T10:20:30Z'],
      ['Jun 12 03:42:14.250', 'Jun 12 03:42:14.251', 'Jun 12 03:42:14.25'],
    ];
    let seed = 11;
    const rnd = (n: number): number => {
      seed = (seed * 48271) % 2147483647;
      return Math.floor((seed / 2147483647) * n);
    };
    layouts.forEach((layout, k) => {
      const memoised = p(layout);
      for (let i = 0; i < 2000; i++) {
        const v = values[k]![rnd(values[k]!.length)]!;
        for (let r = rnd(3); r >= 0; r--) expect(memoised(v), `${layout} ${v}`).toBe(p(layout)(v));
      }
    });
  });

  describe('local-time memo (per minute, per second for the year) is exact', () => {
    const saved = process.env.TZ;
    afterAll(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    // Zones with a 1 h and a 30 min daylight-saving shift; every second across each transition
    // (gaps and repeated hours included) must equal the direct local-time construction.
    // Each zone with the [year, month, day, first hour] of both of its 2024 transitions.
    const zones: [string, [number, number, number, number][]][] = [
      [
        'Europe/Berlin',
        [
          [2024, 2, 31, 1],
          [2024, 9, 27, 1],
        ],
      ],
      [
        'Australia/Lord_Howe',
        [
          [2024, 3, 7, 0],
          [2024, 9, 6, 1],
        ],
      ],
      [
        'America/St_Johns',
        [
          [2024, 2, 10, 1],
          [2024, 10, 3, 0],
        ],
      ],
    ];
    it.each(zones)('%s', (zone, starts) => {
      process.env.TZ = zone;
      const parse = compileGoLayout('2006 Jan _2 15:04:05.000', { now: () => new Date(2024, 5, 1).getTime() });
      const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
      const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
      let checked = 0;
      for (const [y, mo, d, h0] of starts) {
        for (let h = h0; h < h0 + 3; h++) {
          for (let mi = 0; mi < 60; mi++) {
            for (const [s, ms] of [
              [0, 0],
              [0, 1],
              [17, 250],
              [59, 999],
              [30, 0],
            ] as const) {
              const text = `${y} ${months[mo]!} ${String(d).padStart(2, ' ')} ${pad(h)}:${pad(mi)}:${pad(s)}.${pad(ms, 3)}`;
              expect(parse(text), text).toBe(new Date(y, mo, d, h, mi, s, ms).getTime());
              checked++;
            }
          }
        }
      }
      expect(checked).toBe(2 * 3 * 60 * 5);
    });

    it('a zone offset with seconds (Berlin, 1893: LMT +0:53:28 to CET) changes mid-minute', () => {
      process.env.TZ = 'Europe/Berlin';
      const parse = compileGoLayout('2006-01-02 15:04:05', { now: () => 0 });
      for (let mi = 0; mi < 10; mi++) {
        for (let s = 0; s < 60; s++) {
          const text = `1893-04-01 00:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
          expect(parse(text), text).toBe(new Date(1893, 3, 1, 0, mi, s).getTime());
        }
      }
    });

    it('the year follows the clock across a local new year, also within one minute', () => {
      process.env.TZ = 'Pacific/Kiritimati'; // UTC+14: the local year changes at 10:00 UTC
      let t = new Date(2026, 11, 31, 23, 59, 59, 999).getTime();
      const parse = compileGoLayout('Jan _2 15:04:05', { now: () => t });
      expect(parse('Dec 31 23:59:58')).toBe(new Date(2026, 11, 31, 23, 59, 58).getTime());
      t += 1; // 2027-01-01 00:00:00.000 local
      expect(parse('Jan  1 00:00:00')).toBe(new Date(2027, 0, 1, 0, 0, 0).getTime());
      expect(parse('Dec 31 23:59:58')).toBe(new Date(2026, 11, 31, 23, 59, 58).getTime()); // a day behind: last year
      expect(parse('Jun  1 00:00:00')).toBe(new Date(2026, 5, 1).getTime()); // > a day ahead: last year
    });
  });
});
