// text-guard.test.ts: table tests for the shared line-sanity helpers, plus a 100k-line junk run.
import { describe, expect, it } from 'vitest';
import {
  guardLine,
  guardText,
  JUNK_BINARY,
  JUNK_EMPTY,
  JUNK_INVALID_UTF8,
  wordsOf,
} from '../../agent/sources/text-guard';
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

describe('guardLine with a word view (4 bytes a step)', () => {
  it('gives the byte-by-byte answer on every case above, at every alignment', () => {
    const texts = ['hello world', 'grüße 漢字', 'a\tb\r', '\u001b[31mred', '', ' \t \r', '    ', '        x'];
    for (const t of texts) {
      for (let pad = 0; pad < 8; pad++) {
        const buf = Buffer.alloc(pad + Buffer.byteLength(t) + 8, 0x21);
        const end = pad + buf.write(t, pad);
        for (const max of [2, 3, 5, 100]) {
          expect(guardLine(buf, pad, end, max, wordsOf(buf)), `${JSON.stringify(t)} pad ${pad} max ${max}`).toBe(
            guardLine(buf, pad, end, max),
          );
        }
      }
    }
  });

  it('gives the byte-by-byte answer on 20,000 random lines (control bytes, high bytes, spaces)', () => {
    // A deterministic generator: printable ASCII with spaces, and in some lines one control byte,
    // one high byte (often invalid UTF-8), only spaces, or valid multi-byte characters, at random
    // offsets into a shared buffer (so at every alignment).
    let seed = 7;
    const rnd = (m: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 8) % m;
    const buf = Buffer.alloc(4096);
    const words = wordsOf(buf);
    expect(words).toBeDefined();
    const seen = new Set<number>();
    for (let k = 0; k < 20_000; k++) {
      const start = rnd(64);
      const len = rnd(200);
      const mode = rnd(5);
      for (let i = start; i < start + len; i++) buf[i] = mode === 3 || rnd(4) === 0 ? 0x20 : 0x21 + rnd(94);
      if (len > 0 && mode === 1) buf[start + rnd(len)] = rnd(32);
      if (len > 0 && mode === 2) buf[start + rnd(len)] = 0x80 + rnd(128);
      if (len > 5 && mode === 4) buf.write('é漢', start + rnd(len - 5));
      const max = rnd(4) === 0 ? 1 + rnd(len + 1) : 16_384;
      const want = guardLine(buf, start, start + len, max);
      seen.add(want < 0 ? want : 0);
      expect(guardLine(buf, start, start + len, max, words)).toBe(want);
    }
    // Every outcome came up.
    expect([...seen].sort()).toEqual([JUNK_INVALID_UTF8, JUNK_BINARY, JUNK_EMPTY, 0].sort());
  });

  it('has no word view for a buffer that does not start on a 4-byte boundary', () => {
    const big = Buffer.alloc(64);
    expect(wordsOf(big.subarray(1))).toBeUndefined();
    expect(wordsOf(big.subarray(4))?.length).toBe(15);
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
