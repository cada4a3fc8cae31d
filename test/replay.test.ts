import { readFileSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { replay, type ReplayFormat } from '../agent/replay';
import type { RuleFile } from '../agent/types';
import { perm, ruleFile, temp } from './engine/rule-file';
import { FakeClock } from './helpers/fake-clock';

const fixtures = join(__dirname, 'fixtures');
const kernel = ruleFile({
  conditions: [{ type: 'XfsShutdown', reason: 'XfsHasNotShutDown', message: 'XFS has not shutdown' }],
  rules: [
    temp('Ext4Error', 'EXT4-fs error .*'),
    temp('IOError', 'Buffer I/O error .*'),
    perm('XfsShutdown', 'XfsHasShutdown', 'XFS .* Shutting down filesystem.?'),
  ],
});
const filelog: RuleFile = {
  ...ruleFile({
    conditions: [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'kernel has no deadlock' }],
    rules: [
      temp('OOMKilling', 'Killed process \\d+ (.+) total-vm:\\d+kB, anon-rss:\\d+kB, file-rss:\\d+kB.*'),
      perm('KernelDeadlock', 'DockerHung', 'task docker:\\w+ blocked for more than \\w+ seconds\\.'),
    ],
  }),
  plugin: 'filelog',
  logPath: '/var/log/kern.log',
  pluginConfig: { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' },
};

async function run(input: NodeJS.ReadableStream, format: ReplayFormat, files: RuleFile[] = [kernel, filelog]) {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  const r = await replay({
    input,
    output: out,
    files,
    format,
    clock: new FakeClock(new Date(2026, 5, 15, 12).getTime()),
  });
  return {
    ...r,
    out: chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, string>),
  };
}

describe('replay', () => {
  it('kmsg: a real /dev/kmsg capture (plus a dictionary record and a malformed header)', async () => {
    const r = await run(createReadStream(join(fixtures, 'kmsg-capture.txt')), 'kmsg');
    const text = readFileSync(join(fixtures, 'kmsg-capture.txt'), 'utf8');
    expect(r.lines).toBe(text.split('\n').filter((l) => l !== '' && !l.startsWith(' ')).length);
    expect(r.skipped).toBe(1);
    expect(r.out).toEqual([
      {
        kind: 'event',
        time: '1970-01-01T00:26:06.485Z',
        source: 'kernel-monitor',
        reason: 'Ext4Error',
        message: 'nwfixture: EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls',
      },
      {
        kind: 'condition',
        time: '1970-01-01T00:26:06.487Z',
        source: 'kernel-monitor',
        reason: 'XfsHasShutdown',
        message: 'nwfixture: XFS (dm-0): Corruption detected. Shutting down filesystem',
        condition: 'XfsShutdown',
        status: 'True',
      },
      {
        kind: 'event',
        time: '1970-01-01T00:26:06.487Z',
        source: 'kernel-monitor',
        reason: 'XfsHasShutdown',
        message:
          'Node condition XfsShutdown is now: True, reason: XfsHasShutdown, message: "nwfixture: XFS (dm-0): Corruption detected. Shutting down filesystem"',
      },
      {
        kind: 'event',
        time: '1970-01-01T00:26:06.600Z',
        source: 'kernel-monitor',
        reason: 'IOError',
        message: 'nwfixture: Buffer I/O error on dev sdc1, logical block 7, async page read',
      },
    ]);
  });

  it('syslog: follows the filelog pluginConfig; unparseable lines are skipped', async () => {
    const r = await run(createReadStream(join(fixtures, 'kern-capture.log')), 'syslog');
    expect(r).toMatchObject({ lines: 5, skipped: 1 });
    expect(r.out.map((o) => [o.kind, o.reason, o.status])).toEqual([
      ['condition', 'DockerHung', 'True'],
      ['event', 'DockerHung', undefined],
      ['event', 'OOMKilling', undefined],
    ]);
    expect(r.out[0]!.time).toBe(new Date(2026, 5, 12, 3, 42, 15).toISOString());
  });

  it('plain: every rule file sees each line as a message', async () => {
    const r = await run(
      Readable.from(['EXT4-fs error x\n', 'INFO: task docker:1 blocked for more than 120 seconds.\n', 'nothing\n']),
      'plain',
    );
    expect(r.lines).toBe(3);
    expect(r.out.map((o) => o.reason)).toEqual(['Ext4Error', 'DockerHung', 'DockerHung']);
  });

  it('waits for a slow output instead of buffering everything (backpressure)', async () => {
    const n = 20_000;
    let pending = 0;
    let maxPending = 0;
    let written = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        pending = slow.writableLength;
        maxPending = Math.max(maxPending, pending);
        written += chunk.toString().split('\n').filter(Boolean).length;
        setImmediate(done);
      },
    });
    async function* lines() {
      for (let i = 0; i < n; i++) yield `EXT4-fs error number ${i}\n`;
    }
    const r = await replay({
      input: Readable.from(lines()),
      output: slow,
      files: [kernel],
      format: 'plain',
      clock: new FakeClock(),
    });
    await new Promise<void>((resolve) => slow.end(resolve));
    expect(r.lines).toBe(n);
    expect(written).toBe(n);
    // Without backpressure all 20k events (~1.7 MB) would sit in the stream's buffer.
    expect(maxPending).toBeLessThan(64 * 1024);
  });

  it('recoverAfter is measured in log time', async () => {
    const f = ruleFile({
      conditions: [{ type: 'RO', reason: 'NotRO', message: 'ok', recoverAfterMs: 1000 }],
      rules: [perm('RO', 'IsRO', 'Remounting filesystem read-only')],
    });
    const input = Readable.from([
      '3,1,1000000,-;Remounting filesystem read-only\n',
      '6,2,1500000,-;x\n',
      '6,3,2500000,-;y\n',
    ]);
    const r = await run(input, 'kmsg', [f]);
    expect(r.out.filter((o) => o.kind === 'condition').map((o) => [o.status, o.time])).toEqual([
      ['True', '1970-01-01T00:00:01.000Z'],
      ['False', '1970-01-01T00:00:02.000Z'],
    ]);
  });
});
