// drop-time.test.ts: timestamp forms of syslog drop files (rsyslog, journald exports).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSyslogHead, parseSyslogLine, UtcDays } from '../../agent/engine/drop-time';

const NOW = Date.parse('2022-01-02T12:00:00Z');
const utc = { now: () => NOW, zone: 'utc' as const };

describe('parseSyslogLine', () => {
  const cases: [string, string, string][] = [
    [
      '2021-12-05T14:44:59.341406+00:00 node-10 kernel: [2276706.763083] calico-packet: IN=x',
      '2021-12-05T14:44:59.341Z',
      '[2276706.763083] calico-packet: IN=x',
    ],
    ['2021-12-05T14:44:59.341406+0000 host kernel: msg', '2021-12-05T14:44:59.341Z', 'msg'],
    ['2021-12-05T14:44:59+0100 host kernel: msg', '2021-12-05T13:44:59.000Z', 'msg'],
    ['2021-12-05T14:44:59Z host kernel: msg', '2021-12-05T14:44:59.000Z', 'msg'],
    ['2021-12-05T14:44:59.5-05:30 host kernel: msg', '2021-12-05T20:14:59.500Z', 'msg'],
    ['2021-12-05T14:44:59.123456789Z host kernel: msg', '2021-12-05T14:44:59.123Z', 'msg'],
    ['2021-12-05 14:44:59 host kernel: msg', '2021-12-05T14:44:59.000Z', 'msg'],
    [
      'May 18 18:42:44 ubuntu kernel: [ 1156.246182] calico-drop: IN=',
      '2021-05-18T18:42:44.000Z',
      '[ 1156.246182] calico-drop: IN=',
    ],
    ['Jan  2 11:00:00 h kernel: m', '2022-01-02T11:00:00.000Z', 'm'],
    ['Jan 2 11:00:00 h kernel: m', '2022-01-02T11:00:00.000Z', 'm'],
    ['Jan  3 11:00:00 h kernel: m', '2022-01-03T11:00:00.000Z', 'm'], // < 1 day ahead: this year
    ['Dec 31 23:59:59 h kernel: m', '2021-12-31T23:59:59.000Z', 'm'], // > 1 day ahead: last year
    ['Jan  2 11:00:00.250 h kernel[0]: m', '2022-01-02T11:00:00.250Z', 'm'],
    ['2021-12-05T14:44:59Z host m', '2021-12-05T14:44:59.000Z', 'm'], // no tag
    ['2021-12-05T14:44:59,07Z host kernel: msg', '2021-12-05T14:44:59.070Z', 'msg'],
    ['2021-12-05T14:44:59.999999999999Z host kernel: msg', '2021-12-05T14:44:59.999Z', 'msg'],
    ['Jan  2 11:00:00.2 h kernel: m', '2022-01-02T11:00:00.200Z', 'm'],
    ['Jan  2 11:00:00.098765 h kernel: m', '2022-01-02T11:00:00.098Z', 'm'],
    ['Jan  2 11:00:00. h kernel: m', '2022-01-02T11:00:00.000Z', 'm'], // a dot and no digits
  ];
  for (const [line, time, msg] of cases) {
    it(line.slice(0, 40), () => {
      const r = parseSyslogLine(line, utc);
      expect(r?.time.toISOString()).toBe(time);
      expect(r?.message).toBe(msg);
    });
  }
  it('local zone uses the process zone for timestamps without an offset', () => {
    const r = parseSyslogLine('May 18 18:42:44 h kernel: m', { now: () => NOW });
    expect(r?.time.getTime()).toBe(new Date(2021, 4, 18, 18, 42, 44).getTime());
  });
  for (const bad of [
    '',
    'kernel: no time',
    '2021-13-05T14:44:59Z h k: m',
    '2021-12-05T25:44:59Z h k: m',
    'Foo 18 18:42:44 h k: m',
    'May 32 18:42:44 h k: m',
    '2021-12-05T14:44:59+99:00 h k: m',
    '2021-12-05T14:44:59X h k: m',
    '2021-12-05T14:44:59Z',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => expect(parseSyslogLine(bad, utc)).toBeNull());
  }
  it('parses the real rsyslog outputs in test/fixtures/drops', () => {
    for (const f of ['rfc3339.log', 'traditional.log', 'journal-iso.log']) {
      const lines = readFileSync(join(__dirname, '../fixtures/drops', f), 'utf8')
        .split('\n')
        .filter(Boolean);
      expect(lines.length).toBeGreaterThan(10);
      for (const l of lines) {
        const r = parseSyslogLine(l, { now: () => Date.parse('2026-11-23T00:00:00Z'), zone: 'utc' });
        expect(r, l).not.toBeNull();
        expect(r?.message).toMatch(/^\[ *\d+\.\d+\] /);
        expect(r?.time.getUTCFullYear()).toBe(2026);
      }
    }
  });
});

describe('UtcDays: the day memo gives the time Date.UTC gives', () => {
  const two = (n: number): string => String(n).padStart(2, '0');
  it('on 5,000 random stamps with offsets, in runs sharing a day and across days, months and years', () => {
    let seed = 7;
    const rnd = (m: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % m;
    const days = new UtcDays();
    const opts = { now: () => NOW, zone: 'utc' as const, days };
    let y = 2024;
    let mo = 2;
    let d = 28;
    for (let i = 0; i < 5000; i++) {
      // Mostly the same day (as a burst), sometimes a jump: day 29-31 of a short month rolls over
      // as Date.UTC rolls it, years below 100 map to 19xx as Date.UTC maps them.
      if (rnd(8) === 0) {
        y = [1970, 1999, 2000, 2024, 2026, 2100, 9999, 50][rnd(8)]!;
        mo = 1 + rnd(12);
        d = 1 + rnd(31);
      }
      const h = rnd(24);
      const mi = rnd(60);
      const sec = rnd(61); // 60: a leap second, as Date.UTC takes it
      const ms = rnd(1000);
      const off = [
        ['Z', 0],
        ['+00:00', 0],
        ['+05:30', 330],
        ['-0800', -480],
        ['+1400', 840],
      ][rnd(5)] as [string, number];
      const stamp = `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(sec)}.${String(ms).padStart(3, '0')}${off[0]}`;
      const want = Date.UTC(y, mo - 1, d, h, mi, sec, ms) - off[1] * 60_000;
      const line = `${stamp} node kernel: msg`;
      expect(parseSyslogHead(line, opts)?.time, stamp).toBe(want);
      expect(parseSyslogHead(line, { now: () => NOW, zone: 'utc' })?.time, stamp).toBe(want);
    }
  });

  it('asks Date.UTC once per day, not once per line', () => {
    const days = new UtcDays();
    const utcSpy = Date.UTC;
    let calls = 0;
    Date.UTC = ((...a: Parameters<typeof Date.UTC>) => {
      calls++;
      return utcSpy(...a);
    }) as typeof Date.UTC;
    try {
      for (let s = 0; s < 60; s++) days.at(2026, 11, 6);
      days.at(2026, 11, 7);
      days.at(2026, 11, 7);
    } finally {
      Date.UTC = utcSpy;
    }
    expect(calls).toBe(2);
    expect(days.at(2026, 11, 7)).toBe(Date.parse('2026-12-07T00:00:00Z'));
  });
});
