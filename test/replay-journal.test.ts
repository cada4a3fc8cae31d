// replay-journal.test.ts: `replay --format journal-export|journal-json` in memory: NPD's
// docker-monitor.json and systemd-monitor.json fire on the entries of their SYSLOG_IDENTIFIER
// only; export-format binary fields and oversized fields; bad entries counted and skipped.
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadRuleFiles } from '../agent/config/rule-files';
import { replay } from '../agent/replay';
import { MAX_FIELD_BYTES, readJournalExport, type JournalCaptureItem } from '../agent/replay-journal';
import { FakeClock } from './helpers/fake-clock';

const NPD = join(__dirname, 'fixtures', 'npd');

function binaryField(name: string, data: Buffer): Buffer {
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(data.length));
  return Buffer.concat([Buffer.from(`${name}\n`), size, data, Buffer.from('\n')]);
}

async function items(chunks: Buffer[]): Promise<JournalCaptureItem[]> {
  const out: JournalCaptureItem[] = [];
  for await (const i of readJournalExport(Readable.from(chunks))) out.push(i);
  return out;
}

async function run(format: 'journal-export' | 'journal-json', input: string | Buffer) {
  const { files, errors } = await loadRuleFiles([join(NPD, 'docker-monitor.json'), join(NPD, 'systemd-monitor.json')]);
  expect(errors).toEqual([]);
  const output = new PassThrough();
  let text = '';
  output.on('data', (c: Buffer) => (text += c.toString()));
  const result = await replay({ input: Readable.from([input]), output, files, format, clock: new FakeClock() });
  return {
    result,
    out: text
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, string>),
  };
}

describe('replay of journal captures', () => {
  it('journal-export: each journald rule file matches its SYSLOG_IDENTIFIER only', async () => {
    const entry = (id: string, msg: string, us: number): string =>
      `__CURSOR=s=x;i=${us}\n__REALTIME_TIMESTAMP=${us}\nSYSLOG_IDENTIFIER=${id}\nMESSAGE=${msg}\n\n`;
    const capture =
      entry('systemd', 'Started Kubernetes kubelet.', 1_700_000_000_000_000) +
      entry('kubelet', 'Started Kubernetes kubelet.', 1_700_000_001_000_000) +
      entry('dockerd', 'OCI runtime start failed: container process is already dead: unknown', 1_700_000_002_000_000) +
      'MESSAGE=no identifier\n\n';
    const { result, out } = await run('journal-export', capture);
    expect(result).toEqual({ lines: 4, skipped: 1 });
    expect(out.map((o) => [o.kind, o.source, o.reason, o.time])).toEqual([
      ['event', 'systemd-monitor', 'KubeletStart', '2023-11-14T22:13:20.000Z'],
      ['event', 'docker-monitor', 'DockerContainerStartupFailure', '2023-11-14T22:13:22.000Z'],
    ]);
  });

  it('journal-json: journalctl -o json lines, the condition change included', async () => {
    const line = (id: string, msg: string): string =>
      JSON.stringify({ __REALTIME_TIMESTAMP: '1700000000000000', SYSLOG_IDENTIFIER: id, MESSAGE: msg });
    const capture = [
      line('dockerd', 'returned error: readlink /var/lib/docker/overlay2/l/X: invalid argument'),
      'not json',
    ].join('\n');
    const { result, out } = await run('journal-json', capture);
    expect(result).toEqual({ lines: 2, skipped: 1 });
    expect(out.map((o) => [o.kind, o.reason, o.status])).toEqual([
      ['condition', 'CorruptDockerOverlay2', 'True'],
      ['event', 'CorruptDockerOverlay2', undefined],
    ]);
  });

  it('reads binary fields split across chunks, and skips an entry with an oversized field', async () => {
    const msg = Buffer.from('multi\nline message');
    const one = Buffer.concat([
      Buffer.from('__REALTIME_TIMESTAMP=1000\nSYSLOG_IDENTIFIER=app\n'),
      binaryField('MESSAGE', msg),
      Buffer.from('\n'),
    ]);
    const big = Buffer.concat([
      Buffer.from('__REALTIME_TIMESTAMP=2000\nSYSLOG_IDENTIFIER=app\n'),
      binaryField('MESSAGE', Buffer.alloc(MAX_FIELD_BYTES + 1, 97)),
      Buffer.from('\n'),
    ]);
    // `one` in 7-byte chunks: every boundary falls somewhere inside a field or the size.
    const sevens = (b: Buffer): Buffer[] =>
      Array.from({ length: Math.ceil(b.length / 7) }, (_, i) => b.subarray(i * 7, i * 7 + 7));
    const chunks = [...sevens(one), big, ...sevens(one)];
    const got = await items(chunks);
    expect(got).toEqual([
      { entry: { identifier: 'app', message: 'multi\nline message', timeMs: 1 } },
      { bad: 'a field is larger than 1 MiB' },
      { entry: { identifier: 'app', message: 'multi\nline message', timeMs: 1 } },
    ]);
  });
});
