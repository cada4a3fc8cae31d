// log-counter-real.test.ts: `nodewarden log-counter` against real journal files (written by
// systemd-journal-remote, read by journalctl), with the arguments of NPD's shipped
// systemd-monitor-counter.json (only --log-path changed): 5 kubelet starts in the window exit 1
// with NPD's message, 4 exit 0, stops subtract, entries outside the window or of another
// identifier do not count, a missing directory exits 2. Then the built bundle invoked through a
// `log-counter` symlink (busybox-style), as the image ships it. Last, the agent itself running
// NPD's systemd-monitor-counter.json with only `path` changed, in a private mount namespace whose
// /var/log holds the test journal: FrequentKubeletRestart goes True after 5 kubelet starts.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { runLogCounter } from '../agent/log-counter';
import { systemClock } from '../agent/runtime/clock';
import { monotonicBootTime } from '../agent/sources/kmsg';
import { AGENT, freePort } from './e2e/agent-process';
import { eventually } from './helpers/eventually';
import { writeJournal, type TestEntry } from './helpers/journal-writer';
import { describeWithParts } from './helpers/system-parts';

const tmp = mkdtempSync(join(tmpdir(), 'nw-log-counter-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The kubelet rule's arguments from NPD's systemd-monitor-counter.json, --log-path replaced. */
function kubeletArgs(dir: string): string[] {
  const doc = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'npd', 'systemd-monitor-counter.json'), 'utf8')) as {
    rules: { condition: string; path: string; args: string[] }[];
  };
  const rule = doc.rules.find((r) => r.condition === 'FrequentKubeletRestart');
  if (rule === undefined) throw new Error('no kubelet rule');
  expect(rule.path).toBe('/home/kubernetes/bin/log-counter');
  expect(rule.args).toContain('--log-path=/var/log/journal');
  return rule.args.map((a) => (a.startsWith('--log-path=') ? `--log-path=${dir}` : a));
}

let n = 0;
function journal(entries: readonly TestEntry[]): string {
  const dir = join(tmp, `j${n++}`);
  mkdirSync(dir);
  writeJournal(join(dir, 'system.journal'), entries);
  return dir;
}

const start = (i: number): TestEntry => ({
  identifier: 'systemd',
  message: 'Started Kubernetes kubelet.',
  timeMs: Date.now() - 600_000 + i * 1000,
});
const stop = (i: number): TestEntry => ({
  identifier: 'systemd',
  message: 'Stopping Kubernetes kubelet...',
  timeMs: Date.now() - 500_000 + i * 1000,
});

async function count(dir: string): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      stdout += chunk.toString();
      done();
    },
  });
  const code = await runLogCounter(kubeletArgs(dir), {
    stdout: out,
    clock: systemClock,
    bootTimeMs: monotonicBootTime(systemClock),
  });
  return { code, stdout };
}

describeWithParts(['journalctl', 'systemd-journal-remote'], 'log-counter on real journal files', () => {
  it("exits 1 with NPD's message at 5 kubelet starts in the window, 0 at 4", async () => {
    const five = await count(journal([0, 1, 2, 3, 4].map(start)));
    expect(five).toEqual({ code: 1, stdout: 'Found 5 matching logs, which meets the threshold of 5\n' });
    const four = await count(journal([0, 1, 2, 3].map(start)));
    expect(four).toEqual({ code: 0, stdout: '' });
  });

  it('subtracts reverts, and ignores entries before the lookback or of another identifier', async () => {
    const reverted = await count(journal([...[0, 1, 2, 3, 4, 5].map(start), stop(0), stop(1)]));
    expect(reverted).toEqual({ code: 0, stdout: '' });
    const outside = await count(
      journal([
        ...[0, 1, 2, 3].map(start),
        { identifier: 'systemd', message: 'Started Kubernetes kubelet.', timeMs: Date.now() - 30 * 60_000 },
        { identifier: 'kubelet', message: 'Started Kubernetes kubelet.', timeMs: Date.now() - 1000 },
      ]),
    );
    expect(outside).toEqual({ code: 0, stdout: '' });
    const six = await count(journal([0, 1, 2, 3, 4, 5].map(start)));
    expect(six).toEqual({ code: 1, stdout: 'Found 6 matching logs, which meets the threshold of 5\n' });
  });

  it('exits 2 naming a missing log path', async () => {
    const r = await count(join(tmp, 'missing'));
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^failed to stat the log path ".*missing"/);
  });

  it('runs as the bundle invoked through a `log-counter` symlink (busybox-style)', async () => {
    const link = join(tmp, 'bin', 'log-counter');
    mkdirSync(join(tmp, 'bin'));
    symlinkSync(AGENT, link);
    const dir = journal([0, 1, 2, 3, 4].map(start));
    const r = await new Promise<{ code: number; stdout: string }>((done) => {
      // As NPD's custom plugin monitor runs it: the path, then the args; no shell.
      execFile(link, kubeletArgs(dir), { timeout: 20_000 }, (err, stdout) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout });
      });
    });
    expect(r).toEqual({ code: 1, stdout: 'Found 5 matching logs, which meets the threshold of 5\n' });
  });
});

describeWithParts(
  ['root', 'unshare', 'journalctl', 'systemd-journal-remote'],
  "the agent running NPD's systemd-monitor-counter.json",
  () => {
    it('sets FrequentKubeletRestart after 5 kubelet starts in the window, with only `path` changed', async () => {
      const root = join(tmp, 'counter-agent');
      const varLog = join(root, 'var-log');
      mkdirSync(join(varLog, 'journal'), { recursive: true });
      mkdirSync(join(root, 'rules'));
      const link = join(root, 'log-counter');
      symlinkSync(AGENT, link);
      // NPD's file as shipped, but for `path`: its args still say --log-path=/var/log/journal.
      const doc = JSON.parse(
        readFileSync(join(__dirname, 'fixtures', 'npd', 'systemd-monitor-counter.json'), 'utf8'),
      ) as { rules: { path: string }[] };
      for (const r of doc.rules) r.path = link;
      writeFileSync(join(root, 'rules', 'systemd-monitor-counter.json'), JSON.stringify(doc));
      writeJournal(join(varLog, 'journal', 'system.journal'), [0, 1, 2, 3, 4].map(start));
      const port = await freePort();
      // /var/log of a private mount namespace is the test's directory; nothing outside changes.
      const child = spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          '--',
          'sh',
          '-c',
          'mount --bind "$1" /var/log && shift && exec "$@"',
          'sh',
          varLog,
          process.execPath,
          AGENT,
          'run',
          '--rules',
          join(root, 'rules'),
          '--state-dir',
          join(root, 'state'),
          '--kmsg-path',
          '',
          '--metrics-address',
          `127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-20_000)));
      child.stderr.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-20_000)));
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      try {
        type Cond = { type: string; status: string; reason: string; message: string };
        const all = await eventually(
          'FrequentKubeletRestart True',
          async () => {
            if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${output}`);
            const res = await fetch(`http://127.0.0.1:${port}/conditions`).catch(() => undefined);
            const list = (await res?.json()) as Cond[] | undefined;
            return list?.find((c) => c.type === 'FrequentKubeletRestart' && c.status === 'True') ? list : undefined;
          },
          { ms: 60_000, everyMs: 250 }, // a hang guard: the first round runs at start
        );
        expect(all.find((c) => c.type === 'FrequentKubeletRestart')).toMatchObject({
          reason: 'FrequentKubeletRestart',
          message: 'Found 5 matching logs, which meets the threshold of 5',
        });
        // The same journal has no docker or containerd starts: their conditions stay False.
        expect(all.find((c) => c.type === 'FrequentDockerRestart')?.status).toBe('False');
        expect(all.find((c) => c.type === 'FrequentContainerdRestart')?.status).toBe('False');
      } finally {
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    });
  },
);
