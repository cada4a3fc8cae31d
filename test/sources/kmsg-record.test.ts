// kmsg-record.test.ts: the /dev/kmsg record parser: table tests, and records captured from this
// machine's /dev/kmsg (test/fixtures/kmsg/: injected.txt with escapes, dictionary.txt and
// boot-ring.txt with SUBSYSTEM/DEVICE dictionary lines).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wordsOf } from '../../agent/sources/text-guard';
import {
  decodeMessage,
  newKmsgHeader,
  parseKmsgHeader,
  parseKmsgRecord,
  unescapeKmsg,
  type KmsgRecord,
} from '../../agent/sources/kmsg-record';

const fixtures = path.join(__dirname, '..', 'fixtures', 'kmsg');
/** Splits a capture into records: a record is a header line plus following lines starting with ' '. */
function records(file: string): string[] {
  const text = fs.readFileSync(path.join(fixtures, file), 'latin1');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(' ') && out.length > 0) out[out.length - 1] += `${line}\n`;
    else out.push(`${line}\n`);
  }
  return out;
}
function ok(r: ReturnType<typeof parseKmsgRecord>): KmsgRecord {
  if ('error' in r) throw new Error(`unexpected parse error: ${r.error}`);
  return r;
}

describe('parseKmsgRecord: table', () => {
  const good: [string, string, Partial<KmsgRecord>][] = [
    ['plain', '6,1,0,-;hello\n', { pri: 6, seq: 1, usec: 0, flags: '-', message: 'hello', dict: {} }],
    ['no trailing newline', '3,5,17,-;x', { seq: 5, usec: 17, message: 'x' }],
    ['caller field and more', '4,99,123456,c,caller=T42;msg\n', { pri: 4, seq: 99, flags: 'c', message: 'msg' }],
    ['semicolon in message', '6,2,3,-;a;b=c\n', { message: 'a;b=c' }],
    ['large seq and usec', '6,9007199254740,18446744073,-;m\n', { seq: 9007199254740, usec: 18446744073 }],
    ['backslash escape', '6,1,1,-;C:\\x5cpath\n', { message: 'C:\\path' }],
    ['tab escape', '6,1,1,-;a\\x09b\n', { message: 'a\tb' }],
    ['utf-8 escapes', '6,1,1,-;gr\\xc3\\xbc\\xc3\\x9fe\n', { message: 'grüße' }],
    ['upper-case hex', '6,1,1,-;\\x5C\\x5c\n', { message: '\\\\' }],
    ['lone backslash kept', '6,1,1,-;a\\b \\x4 \\xzz\n', { message: 'a\\b \\x4 \\xzz' }],
    ['escape at end', '6,1,1,-;ab\\x5c\n', { message: 'ab\\' }],
    ['format specifiers are just text', '6,1,1,-;%s %n %x\n', { message: '%s %n %x' }],
    [
      'dictionary excluded from the message',
      '6,190,187223,-;acpi PNP0A08:00: _OSC\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n',
      { message: 'acpi PNP0A08:00: _OSC', dict: { SUBSYSTEM: 'acpi', DEVICE: '+acpi:PNP0A08:00' } },
    ],
    ['escaped dictionary value', '6,1,1,-;m\n KEY=a\\x5cb=c\n', { message: 'm', dict: { KEY: 'a\\b=c' } }],
  ];
  it.each(good)('%s', (_name, text, want) => {
    expect(ok(parseKmsgRecord(text))).toMatchObject(want);
  });

  const bad: [string, string, RegExp][] = [
    ['empty', '', /truncated/],
    ['garbage', 'hello world\n', /not a number/],
    ['missing fields', '6,1;msg\n', /not followed by ','/],
    ['negative', '-6,1,1,-;m\n', /not a number/],
    ['no semicolon', '6,1,1,-msg\n', /no ';'/],
    ['newline before semicolon', '6,1,1,-\n;m\n', /no ';'/],
    ['empty flags', '6,1,1,;m\n', /empty flags/],
    ['too many digits', '6,12345678901234567890,1,-;m\n', /too long/],
    ['empty message', '6,1,1,-;\n', /empty line/],
    ['binary after unescape', '6,1,1,-;a\\x00b\n', /binary/],
    ['control byte after unescape', '6,1,1,-;a\\x01\\x02b\n', /binary/],
    ['invalid utf-8 after unescape', '6,1,1,-;caf\\xe9\n', /invalid UTF-8/],
  ];
  it.each(bad)('%s is an error', (_name, text, want) => {
    const r = parseKmsgRecord(text);
    expect('error' in r && r.error).toMatch(want);
  });

  it('truncates a long message at a character boundary', () => {
    const r = ok(parseKmsgRecord(`6,1,1,-;${'\\xc3\\xa9'.repeat(10)}\n`, 5));
    expect(r.message).toBe('éé');
    expect(r.truncated).toBe(true);
  });
});

describe('parseKmsgRecord: records captured on this machine', () => {
  it('injected.txt: escapes decoded, junk rejected', () => {
    const recs = records('injected.txt').map((t) => parseKmsgRecord(t));
    const msgs = recs.map((r) => ('error' in r ? `ERR ${r.error}` : r.message.replace(/^fixture-\w+ /, '')));
    expect(msgs).toEqual([
      'back\\slash tab\there nl\nsecond line',
      'utf8 grüße 漢字 end',
      'ERR message: binary control bytes',
      'ERR message: invalid UTF-8',
      'percent %s %n %x literal',
      'user facility',
    ]);
    const first = recs[0] as KmsgRecord;
    expect(first.pri).toBe(11); // LOG_USER(1) * 8 + 3: injected records get facility user
  });

  it('dictionary.txt and boot-ring.txt: every record parses, no dictionary text in messages', () => {
    const all = [...records('dictionary.txt'), ...records('boot-ring.txt')];
    expect(all.length).toBeGreaterThan(250);
    let withDict = 0;
    let prevSeq = -1;
    for (const [i, t] of all.entries()) {
      const r = ok(parseKmsgRecord(t));
      if (i === 8) prevSeq = -1; // boot-ring.txt starts over at seq 0
      expect(r.seq).toBeGreaterThan(prevSeq);
      prevSeq = r.seq;
      expect(r.message).not.toMatch(/SUBSYSTEM=|DEVICE=|\n/);
      if (Object.keys(r.dict).length > 0) {
        withDict++;
        expect(r.dict.SUBSYSTEM).toMatch(/^\w+$/);
      }
    }
    expect(withDict).toBeGreaterThan(10);
  });
});

describe('buffer layer', () => {
  it('parseKmsgHeader fills the reusable header', () => {
    const h = newKmsgHeader();
    const buf = Buffer.from('12,340,555008463,-;bytes\n SUBSYSTEM=x\n');
    expect(parseKmsgHeader(buf, buf.length, h)).toBeUndefined();
    expect(h).toEqual({ pri: 12, seq: 340, usec: 555008463, flags: '-', msgStart: 19, msgEnd: 24 });
    // only the first len bytes count
    expect(parseKmsgHeader(buf, 10, h)).toMatch(/not followed|truncated/);
  });

  it("decodeMessage with the buffers' word views answers as without them", () => {
    const src = Buffer.alloc(16 * 1024);
    const scratch = Buffer.alloc(16 * 1024);
    const words = { src: wordsOf(src), scratch: wordsOf(scratch) };
    expect(words.src && words.scratch).toBeDefined();
    const pieces = ['abc ', '\\x41', '\\x0a', '\\x07', '\\x', '\\', 'é', '\u0001', '\t', '    ', '😀', 'x'];
    let seed = 3;
    const rnd = (n: number): number => {
      seed = (seed * 48271) % 2147483647;
      return Math.floor((seed / 2147483647) * n);
    };
    let junk = 0;
    for (let k = 0; k < 3000; k++) {
      let text = '';
      for (let n = rnd(12); n > 0; n--) text += pieces[rnd(pieces.length)];
      const start = rnd(7); // every alignment of the message within the buffer
      const end = start + src.write(text, start, 'utf8');
      const maxLineBytes = rnd(4) === 0 ? 1 + rnd(12) : 4096;
      const got = decodeMessage(src, start, end, scratch, maxLineBytes, words);
      expect(got, JSON.stringify(text)).toEqual(decodeMessage(src, start, end, scratch, maxLineBytes));
      if (typeof got === 'number') junk++;
    }
    expect(junk).toBeGreaterThan(100);
  });

  it('unescapeKmsg returns -1 when there is nothing to do', () => {
    const src = Buffer.from('no escapes');
    expect(unescapeKmsg(src, 0, src.length, Buffer.alloc(20))).toBe(-1);
    const esc = Buffer.from('xx a\\x41b yy');
    const dst = Buffer.alloc(20);
    const n = unescapeKmsg(esc, 3, 9, dst);
    expect(dst.toString('latin1', 0, n)).toBe('aAb');
  });
});
