// text-guard.test.ts: table tests for the shared line-sanity helpers, plus a 100k-line junk run.
import { describe, expect, it } from 'vitest';
import { guardLine, guardText, JUNK_BINARY, JUNK_EMPTY, JUNK_INVALID_UTF8 } from '../../agent/sources/text-guard';
import { newSourceStats } from '../../agent/types';

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s));

describe('guardLine', () => {
  const cases: [string, Buffer, number, number][] = [
    ['plain ascii', b('hello world'), 100, 11],
    ['utf-8 text', b('grüße 漢字'), 100, b('grüße 漢字').length],
    ['tab and CR allowed', b('a\tb\r'), 100, 4],
    ['ESC allowed (colours)', b('\u001b[31mred'), 100, 8],
    ['empty', b(''), 100, JUNK_EMPTY],
    ['whitespace only', b(' \t \r'), 100, JUNK_EMPTY],
    ['NUL', b('abc\u0000def'), 100, JUNK_BINARY],
    ['BEL', b('abc\u0007'), 100, JUNK_BINARY],
    ['lone continuation byte', b([0x61, 0x80, 0x62]), 100, JUNK_INVALID_UTF8],
    ['overlong encoding', b([0xc0, 0xaf]), 100, JUNK_INVALID_UTF8],
    ['latin-1 byte', b([0x63, 0x61, 0x66, 0xe9]), 100, JUNK_INVALID_UTF8],
    ['truncated ascii', b('abcdefghij'), 4, 4],
    // "aé" = 61 c3 a9: a cap of 2 would split é, so keep only "a"
    ['cut at char boundary', b('aébc'), 2, 1],
    ['cut exactly after a char', b('aébc'), 3, 3],
    // 4-byte emoji: cap 3 keeps nothing printable
    ['cut inside first char leaves empty', b('😀x'), 3, JUNK_EMPTY],
    // junk after the cap is never looked at
    ['junk beyond the cap ignored', b('abcd\u0000'), 4, 4],
  ];
  it.each(cases)('%s', (_name, buf, max, want) => {
    expect(guardLine(buf, 0, buf.length, max)).toBe(want);
  });

  it('honours start/end offsets into a larger buffer', () => {
    const buf = b('\u0000\u0000hello\u0000');
    expect(guardLine(buf, 2, 7, 100)).toBe(7);
  });
});

describe('guardText', () => {
  it('decodes, counts truncation and junk', () => {
    const stats = newSourceStats();
    const big = b('x'.repeat(20_000));
    expect(guardText(big, 0, big.length, 16_384, stats)).toEqual({ text: 'x'.repeat(16_384), truncated: true });
    expect(guardText(b('ok ü'), 0, 5, 16_384, stats)).toEqual({ text: 'ok ü', truncated: false });
    expect(guardText(b('\u0000'), 0, 1, 16_384, stats)).toBeUndefined();
    expect(stats.truncated).toBe(1);
    expect(stats.malformed).toBe(1);
  });

  it('survives 100k junk lines (binary, invalid UTF-8, empty, 1 MiB), counting each (speed: npm run bench)', () => {
    const stats = newSourceStats();
    const mib = Buffer.alloc(1 << 20, 0x41);
    const samples = [b([0, 1, 2, 3, 0xff]), b([0xc3, 0x28]), b(''), b('   '), mib, b('ok line')];
    let good = 0;
    for (let i = 0; i < 100_000; i++) {
      const s = samples[i % samples.length] as Buffer;
      if (guardText(s, 0, s.length, 16_384, stats)) good++;
    }
    // per 6 samples: 4 junk, the 1 MiB line truncated (kept), 1 good
    expect(stats.malformed).toBe(Math.floor(100_000 / 6) * 4 + [0, 1, 2, 3, 4, 4][100_000 % 6]!);
    expect(good).toBe(100_000 - stats.malformed);
    const rest = 100_000 % samples.length;
    expect(stats.truncated).toBe(Math.floor(100_000 / 6) + (rest > 4 ? 1 : 0));
  });
});
