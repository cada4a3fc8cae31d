import { describe, expect, it } from 'vitest';
import { capturingGroupStarts, compileSyslogParser, literalShape } from '../../agent/engine/syslog-line';
import { FakeClock } from '../helpers/fake-clock';

const clock = new FakeClock(new Date(2026, 5, 15, 12).getTime());
const npd = { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' };

describe('syslog-line (NPD filelog translator)', () => {
  const parse = compileSyslogParser(npd, clock);

  it('parses NPD kern.log lines', () => {
    const r = parse('Jun 12 03:42:14 node-1 kernel: [ 1156.246182] EXT4-fs error (device sda1): boom');
    expect(r?.message).toBe('EXT4-fs error (device sda1): boom');
    expect(r?.time.getTime()).toBe(new Date(2026, 5, 12, 3, 42, 14).getTime());
    expect(r?.bytes?.toString()).toBe('EXT4-fs error (device sda1): boom');
  });

  it('keeps NPD\'s greedy message regex: the text after the LAST "] "', () => {
    expect(parse('Jun 12 03:42:14 h kernel: [ 1.0] divide error: 0000 [#1] SMP')?.message).toBe('SMP');
  });

  it('non-ASCII messages', () => {
    expect(parse('Jun 12 03:42:14 h kernel: [ 1.0] héllo wörld')?.message).toBe('héllo wörld');
    expect(parse('Jun 12 03:42:14 h kernel: [ 1.0] héllo wörld')?.bytes?.toString()).toBe('héllo wörld');
  });

  it.each([
    'Jun 12 03:42 node kernel: [ 1.0] x', // bad timestamp
    'Jun 12 03:42:14 node systemd[1]: Started x', // no message match
    'short',
    '',
  ])('rejects %j', (line) => {
    expect(parse(line)).toBeUndefined();
  });

  it('fast paths agree with the general path (same regexes written differently)', () => {
    const general = compileSyslogParser(
      { timestamp: '^(.{15})', message: '(?:kernel: \\[.*\\] (.*))', timestampFormat: 'Jan _2 15:04:05' },
      clock,
    );
    const lines = [
      'Jun 12 03:42:14 node-1 kernel: [ 1156.246182] EXT4-fs error (device sda1): boom',
      'Jun  2 03:42:14 n kernel: [ 1.0] a [b] c] d',
      'Jun 12 03:42:14 h kernel: [ 1.0] héllo wörld',
      'Jun 12 03:42:14 h kernel: [ 1.0] ',
      'Jun 12 03:42:14 h systemd: nothing',
    ];
    for (const l of lines) {
      const a = parse(l);
      const b = general(l);
      expect(a && { t: a.time.getTime(), m: a.message }).toEqual(b && { t: b.time.getTime(), m: b.message });
    }
  });

  it('recognises literal shapes A.*B and A, nothing else', () => {
    expect(literalShape('kernel: \\[.*\\] ')).toEqual({ head: 'kernel: [', tail: '] ' });
    expect(literalShape('kernel: ')).toEqual({ head: 'kernel: ' });
    expect(literalShape('.*x')).toEqual({ head: '', tail: 'x' });
    expect(literalShape('a\\.b.*')).toEqual({ head: 'a.b', tail: '' });
    expect(literalShape('')).toEqual({ head: '' });
    for (const p of [
      'a.*b.*c',
      'a.*?b',
      'a.+b',
      'a.b',
      'a\\db',
      'a\\Qb',
      '[ab]',
      'a|b',
      '^a',
      'a$',
      'a{2}',
      '(a)',
      'a\\',
      'a.**b',
    ]) {
      expect(literalShape(p), p).toBeUndefined();
    }
  });

  // The literal-shape path (string search) against the RE2 path on the same message regex:
  // the RE2 path is forced by an equivalent regex the shape parser does not take ([.] for \.).
  it.each([
    ['kernel: \\[.*\\] (.*)', 'kernel: [[].*[]] (.*)'],
    ['kernel: (.*)', 'kernel[:] (.*)'],
    ['.*\\] (.*)', '.*[]] (.*)'],
    ['a\\.b.*(.*)', 'a[.]b.*(.*)'],
    ['] k(.*)', '[]] k(.*)'],
  ])('literal shape %s agrees with RE2 on edge cases and random lines', (fast, slow) => {
    const ts = { timestamp: '^.{15}', timestampFormat: 'Jan _2 15:04:05' };
    const a = compileSyslogParser({ ...ts, message: fast }, clock);
    const b = compileSyslogParser({ ...ts, message: slow }, clock);
    const pieces = ['kernel: [', '] ', ']', '[', 'kernel: ', 'a.b', 'a', '.', ' ', 'x', 'é', '😀', '\r', '] k', 'k'];
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 48271) % 2147483647; // Park-Miller
      return Math.floor((seed / 2147483647) * n);
    };
    const bodies = [
      ' n kernel: [ 1.0] a [b] c] d',
      ' n kernel: [ 1.0] ',
      ' n kernel: [ 1.0]',
      ' n ] before kernel: [ x',
      ' n kernel: kernel: [ 1] ] k x',
      ' n a.b a.b',
      ' n kernel: [ 1.0] first\nkernel: [ 2.0] second',
      ' n kernel: [ 1.0] lone \ud800 surrogate',
      ' n \ud83d kernel: [ 1.0] x',
      '',
    ];
    for (let k = 0; k < 3000; k++) {
      let body = ' ';
      for (let n = rnd(10); n > 0; n--) body += pieces[rnd(pieces.length)];
      bodies.push(body);
    }
    let matched = 0;
    for (const body of bodies) {
      const line = `Jun 12 03:42:14${body}`;
      const x = a(line);
      const y = b(line);
      expect(x && { t: x.time.getTime(), m: x.message, b: x.bytes?.toString('hex') }, JSON.stringify(line)).toEqual(
        y && { t: y.time.getTime(), m: y.message, b: y.bytes?.toString('hex') },
      );
      if (x) matched++;
    }
    expect(matched).toBeGreaterThan(50);
  });

  it('the timestamp uses the last submatch, the general path handles RFC3339 files', () => {
    const p = compileSyslogParser(
      {
        timestamp: '^time="(\\S*)"',
        message: 'msg="([^\\n]*)"',
        timestampFormat: '2006-01-02T15:04:05.999999999-07:00',
      },
      clock,
    );
    const r = p('time="2024-03-01T10:20:30.5Z" level=error msg="container died"');
    // "Z" is not "-07:00": Go rejects it with this layout, so NPD skips the line.
    expect(r).toBeUndefined();
    const r2 = p('time="2024-03-01T10:20:30.5+00:00" level=error msg="container died"');
    expect(r2?.time.getTime()).toBe(Date.UTC(2024, 2, 1, 10, 20, 30, 500));
    expect(r2?.message).toBe('container died');
  });

  it('counts capturing groups like RE2', () => {
    expect(capturingGroupStarts('a(b)(?:c)(?P<n>d)[(]\\(')).toEqual([1, 9]);
  });
});
