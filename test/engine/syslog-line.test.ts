import { describe, expect, it } from 'vitest';
import { capturingGroupStarts, compileSyslogParser } from '../../agent/engine/syslog-line';
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
    const general = compileSyslogParser({ timestamp: '^(.{15})', message: '(?:kernel: \\[.*\\] (.*))', timestampFormat: 'Jan _2 15:04:05' }, clock);
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

  it('the timestamp uses the last submatch, the general path handles RFC3339 files', () => {
    const p = compileSyslogParser({ timestamp: '^time="(\\S*)"', message: 'msg="([^\\n]*)"', timestampFormat: '2006-01-02T15:04:05.999999999-07:00' }, clock);
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
