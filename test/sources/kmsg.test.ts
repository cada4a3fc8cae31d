// kmsg.test.ts: KmsgSource against the real /dev/kmsg (run as root). Other tests write to the
// same ring at the same time, so every assertion filters on random markers of this file.
// Covers: text/seq/time of injected records, \xNN unescaping, junk and oversized writes,
// restart with a checkpoint (no re-delivery, no skip), startAfterMs without a checkpoint,
// shutdown latency (in-process and a child process that must exit by itself), a real ring
// overrun with the lost count checked against the raw sequence numbers, and read throughput.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../agent/runtime/clock';
import { CheckpointStore } from '../../agent/sources/checkpoint';
import { KmsgSource, openKmsgDevice, type KmsgSourceOptions } from '../../agent/sources/kmsg';
import type { Logger, LogLine } from '../../agent/types';
import { eventually } from '../helpers/eventually';
import { FakeClock } from '../helpers/fake-clock';
import { describeWithParts } from '../helpers/system-parts';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };
const marker = (): string => `nwkmsg-${randomBytes(5).toString('hex')}`;
const inject = (text: string | Buffer): void => fs.writeFileSync('/dev/kmsg', text);
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let stateRoot: string;
beforeAll(() => {
  stateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-kmsg-'));
});
afterAll(() => fs.rmSync(stateRoot, { recursive: true, force: true }));
const newStateDir = (): string => fs.mkdtempSync(path.join(stateRoot, 's-'));

/** A running source that collects the lines containing `mark`. */
class Run {
  readonly lines: LogLine[] = [];
  readonly src: KmsgSource;
  readonly store: CheckpointStore;
  private readonly ac = new AbortController();
  readonly done: Promise<void>;
  constructor(
    readonly mark: string,
    stateDir: string,
    opts: Partial<KmsgSourceOptions> = {},
    handler?: (l: LogLine) => void | Promise<void>,
  ) {
    this.store = new CheckpointStore(stateDir, quiet);
    this.src = new KmsgSource({ checkpoints: this.store, clock: systemClock, logger: quiet, ...opts });
    this.done = this.src.run((l) => {
      if (l.text.includes(mark)) this.lines.push(l);
      return handler?.(l);
    }, this.ac.signal);
  }
  /**
   * `timeoutMs` only guards against a hang: ≥ 10× what a wait here takes, which is at most one
   * idle poll interval (1 s) after the write.
   */
  async waitFor(n: number, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.lines.length < n && Date.now() < end) await delay(5);
    expect(this.lines.length).toBeGreaterThanOrEqual(n);
  }
  async stop(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}

describeWithParts(['kmsg'], 'KmsgSource on the real /dev/kmsg', () => {
  it('delivers injected records with their text, increasing seq and wall-clock time', async () => {
    const m = marker();
    const r = new Run(m, newStateDir(), { startAfterMs: Date.now() - 60_000, readyWaitMs: 1000 });
    await delay(50);
    const before = Date.now();
    for (let i = 0; i < 5; i++) inject(`<3>${m} record ${i} %s %n\n`);
    const after = Date.now();
    await r.waitFor(5);
    expect(r.lines.map((l) => l.text)).toEqual([0, 1, 2, 3, 4].map((i) => `${m} record ${i} %s %n`));
    const seqs = r.lines.map((l) => l.seq as number);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
    for (const l of r.lines) {
      expect(l.origin).toBe('kmsg');
      // The kernel stamped it between `before` and `after`; boot time + USEC may be off by a
      // little (the kernel's clock is not CLOCK_MONOTONIC exactly), never by a second.
      expect(l.time.getTime()).toBeGreaterThan(before - 1000);
      expect(l.time.getTime()).toBeLessThan(after + 1000);
    }
    expect(r.src.health().alive).toBe(true);
    const polled = r.src.health().lastPollAt;
    await eventually('another poll', () => r.src.health().lastPollAt > polled || undefined, { ms: 5000 });
    await r.stop();
  });

  it('waits for the kernel instead of polling: a record wakes a source whose housekeeping wait is 60 s', async () => {
    const dev = openKmsgDevice('/dev/kmsg', systemClock);
    expect(typeof dev.wait).toBe('function');
    dev.close();
    const m = marker();
    const r = new Run(m, newStateDir(), { startAfterMs: Date.now() - 1000, readyWaitMs: 60_000 });
    await delay(300); // past the backlog: the source is in its wait now
    const polled = r.src.health().lastPollAt;
    expect(polled).toBeGreaterThan(0);
    inject(`<5>${m} wake\n`);
    await r.waitFor(1, 15_000); // a polling source would not read it before 60 s
    expect(r.lines[0]?.text).toBe(`${m} wake`);
    await r.stop();
  });

  it('polls a path that is not the kernel log device (no readiness for a regular file)', () => {
    const p = path.join(newStateDir(), 'not-kmsg');
    fs.writeFileSync(p, '');
    const dev = openKmsgDevice(p, systemClock);
    expect(dev.wait).toBeUndefined();
    expect(dev.read(Buffer.alloc(64))).toBe(0);
    dev.close();
  });

  it('unescapes what the kernel escapes; skips junk and survives oversized writes', async () => {
    const m = marker();
    const r = new Run(m, newStateDir(), { startAfterMs: Date.now() - 1000 });
    await delay(50);
    const malformed0 = r.src.stats.malformed;
    inject(`<4>${m} back\\slash tab\there nl\nafter\n`);
    inject(Buffer.concat([Buffer.from(`<4>${m} utf8 `), Buffer.from('grüße 漢字 ✓'), Buffer.from('\n')]));
    // junk: control bytes, invalid UTF-8, empty message, NUL (ends the kernel's copy of the text)
    for (let i = 0; i < 200; i++) {
      inject(Buffer.concat([Buffer.from(`<4>${m} junk `), Buffer.from([1, 2, 0x1f, 0xff]), Buffer.from('\n')]));
      inject(Buffer.concat([Buffer.from(`<4>${m} latin1 caf`), Buffer.from([0xe9]), Buffer.from('\n')]));
      inject('<4>\n');
    }
    // the kernel refuses writes over its line limit (EINVAL); the source must not care
    let refused = 0;
    for (const size of [2048, 1 << 20]) {
      try {
        inject(`<4>${m} big ${'x'.repeat(size)}\n`);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('EINVAL');
        refused++;
      }
    }
    expect(refused).toBe(2);
    // a long record the kernel accepts (its limit is ~1 KiB of text) arrives whole
    const long = `${m} long ${'y'.repeat(900)}`;
    inject(`<4>${long}\n`);
    inject(`<4>${m} last\n`);
    await r.waitFor(4);
    expect(r.lines.map((l) => l.text)).toEqual([
      `${m} back\\slash tab\there nl\nafter`,
      `${m} utf8 grüße 漢字 ✓`,
      long,
      `${m} last`,
    ]);
    expect(r.src.stats.malformed - malformed0).toBeGreaterThanOrEqual(600);
    expect(r.src.health().alive).toBe(true);
    await r.stop();
  });

  it('restarts from its checkpoint: nothing re-delivered, nothing skipped', async () => {
    const m = marker();
    const dir = newStateDir();
    const a = new Run(m, dir, { startAfterMs: Date.now() - 1000 });
    for (let i = 0; i < 20; i++) inject(`<5>${m} n${i}\n`);
    await a.waitFor(20);
    await a.stop();
    const saved = a.store.load<{ bootId: string; seq: number }>('kmsg');
    expect(saved?.bootId).toBe(fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(saved?.seq).toBeGreaterThanOrEqual(a.lines[19]!.seq as number);
    // written while the agent is "down"
    for (let i = 20; i < 40; i++) inject(`<5>${m} n${i}\n`);
    // startAfterMs far in the future must be ignored when a checkpoint of this boot exists
    const b = new Run(m, dir, { startAfterMs: Date.now() + 3_600_000 });
    await b.waitFor(20);
    await delay(100);
    await b.stop();
    expect(b.lines.map((l) => l.text)).toEqual(Array.from({ length: 20 }, (_, i) => `${m} n${i + 20}`));
    expect(b.src.stats.lost).toBe(0);
    expect(b.src.stats.skipped).toBeGreaterThan(0); // the ring still held a's records
  });

  it('without a checkpoint, honours startAfterMs', async () => {
    const m = marker();
    inject(`<5>${m} old\n`);
    // The cut sits 1 s from each record: printk time lags CLOCK_MONOTONIC by tens of ms after a
    // day of uptime here, so a 20 ms margin made "new" look older than the cut.
    await delay(1000);
    const cut = Date.now();
    await delay(1000);
    inject(`<5>${m} new\n`);
    const r = new Run(m, newStateDir(), { startAfterMs: cut });
    await r.waitFor(1);
    await delay(150);
    await r.stop();
    expect(r.lines.map((l) => l.text)).toEqual([`${m} new`]);
    expect(r.src.stats.skipped).toBeGreaterThan(0);
    // and with no startAfterMs at all, the whole ring (including "old") is delivered
    const all = new Run(m, newStateDir());
    await all.waitFor(2);
    await all.stop();
    expect(all.lines.map((l) => l.text)).toEqual([`${m} old`, `${m} new`]);
  });

  it('without a checkpoint, tells backlog by sequence number: a record written after start is new whatever its printk time', async () => {
    const m = marker();
    inject(`<5>${m} before\n`);
    // The printk clock drifts from CLOCK_MONOTONIC (6.9 ms here after 7 h of uptime, seconds
    // after months). Pretend it lags by a minute: every record's converted time is then a
    // minute before the moment it was written, so before startAfterMs.
    const lagMs = 60_000;
    const now = Date.now();
    const r = new Run(m, newStateDir(), {
      startAfterMs: now - 1000,
      bootTimeMs: now - Number(process.hrtime.bigint()) / 1e6 - lagMs,
    });
    // run() scanned the ring before returning its promise: this record is after the boundary.
    inject(`<5>${m} after\n`);
    await r.waitFor(1);
    await delay(150);
    await r.stop();
    expect(r.lines.map((l) => l.text)).toEqual([`${m} after`]);
    expect(r.lines[0]!.backlog).toBe(false);
    expect(r.lines[0]!.time.getTime()).toBeLessThan(now - 1000);
    // "before" was in the ring at start: backlog, and older than startAfterMs, so skipped.
    expect(r.src.stats.skipped).toBeGreaterThan(0);
  });

  it('stops on abort without waiting for its poll timer, and saves its position', async () => {
    const m = marker();
    const dir = newStateDir();
    // Time stands still: the EAGAIN sleep's timer never fires, only the abort can end it.
    const clock = new FakeClock(Date.now());
    inject(`<5>${m} x\n`);
    const r = new Run(m, dir, { clock, startAfterMs: clock.now() - 1000 });
    await r.waitFor(1);
    await eventually('asleep on EAGAIN', () => clock.pending() > 0 || undefined, { ms: 5000 });
    await r.stop();
    expect(clock.pending()).toBe(0); // the sleep was cancelled, not run out
    expect(r.store.load<{ seq: number }>('kmsg')?.seq).toBeGreaterThanOrEqual(r.lines[0]!.seq as number);
  });

  it('lets a process exit promptly after shutdown (no thread parked in read())', async () => {
    const script = path.join(stateRoot, 'child.ts');
    const rel = (p: string): string => path.resolve(__dirname, '../../agent/', p);
    fs.writeFileSync(
      script,
      `import { systemClock } from ${JSON.stringify(rel('runtime/clock'))};
import { CheckpointStore } from ${JSON.stringify(rel('sources/checkpoint'))};
import { KmsgSource } from ${JSON.stringify(rel('sources/kmsg'))};
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const src = new KmsgSource({ checkpoints: new CheckpointStore(${JSON.stringify(newStateDir())}, quiet), clock: systemClock, logger: quiet });
const ac = new AbortController();
const keep = setInterval(() => {}, 1000);
let n = 0;
const done = src.run(() => { n++; }, ac.signal);
setTimeout(async () => {
  ac.abort();
  await done;
  clearInterval(keep);
  process.stdout.write(JSON.stringify({ n, alive: src.health().alive }) + '\\n');
}, 400);
`,
    );
    // tsx as a loader without its cache: its CLI and its cache leave a tsx-<uid> dir in the temp dir.
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let reported = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      reported++;
    });
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(-1);
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    // It exited by itself (0, not the SIGKILL of the 15 s guard against a hang, ≥ 10× the
    // expected well under a second), after stopping cleanly.
    expect(code).toBe(0);
    expect(reported).toBeGreaterThan(0);
    const res = JSON.parse(out.trim()) as { n: number; alive: boolean };
    expect(res.n).toBeGreaterThan(0); // it really read the ring
    expect(res.alive).toBe(true);
  });

  it('counts a real ring overrun exactly (lost == sequence gap) and resumes at the oldest record', async () => {
    const m = marker();
    let gate: (() => void) | undefined;
    const gated = new Promise<void>((r) => (gate = r));
    const rawSeqs: number[] = [];
    let epipes = 0;
    const recordingOpen = (p: string) => {
      const dev = openKmsgDevice(p, systemClock); // read without its wait(): the source polls it
      return {
        read(buf: Buffer): number {
          try {
            const n = dev.read(buf);
            const s = buf.toString('latin1', 0, Math.min(n, 64)).split(',')[1];
            rawSeqs.push(Number(s));
            return n;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EPIPE') epipes++;
            throw err;
          }
        },
        close: () => dev.close(),
      };
    };
    const r = new Run(m, newStateDir(), { startAfterMs: Date.now() - 1000, openDevice: recordingOpen }, (l) =>
      l.text === `${m} gate` ? gated : undefined,
    );
    inject(`<5>${m} gate\n`);
    await r.waitFor(1);
    // The ring is 128 KiB here (klogctl SIZE_BUFFER); write ~400 KiB while the source is held,
    // paced at ~250 KiB/s so other readers of the ring (polling every 100 ms) never fall behind.
    const N = 2000;
    const pad = 'p'.repeat(180);
    for (let i = 0; i < N; i++) {
      inject(`<5>${m} flood ${i} ${pad}\n`);
      if (i % 50 === 49) await delay(40);
    }
    inject(`<5>${m} end\n`);
    gate?.();
    await r.waitFor(2, 10_000);
    const end = Date.now() + 10_000;
    while (!r.lines.some((l) => l.text === `${m} end`) && Date.now() < end) await delay(10);
    await r.stop();
    const floods = r.lines.filter((l) => l.text.includes(' flood '));
    const got = new Set(floods.map((l) => Number(l.text.split(' ')[2])));
    const missingOurs = N - got.size;
    // independent check: the gaps in the raw sequence numbers read from the device
    let rawGap = 0;
    for (let i = 1; i < rawSeqs.length; i++)
      rawGap += Math.max(0, (rawSeqs[i] as number) - (rawSeqs[i - 1] as number) - 1);
    console.log(
      `overrun: epipe=${epipes} lost=${r.src.stats.lost} rawGap=${rawGap} ourMissing=${missingOurs} delivered=${got.size}/${N}`,
    );
    expect(epipes).toBeGreaterThanOrEqual(1);
    expect(r.src.stats.overruns).toBe(epipes);
    expect(missingOurs).toBeGreaterThan(0);
    expect(r.src.stats.lost).toBe(rawGap);
    expect(r.src.stats.lost).toBeGreaterThanOrEqual(missingOurs);
    // What was delivered is in order with one hole, the overrun: the records the device had read
    // ahead before it (its queue, up to QUEUE_HIGH; none when polled), then everything from the
    // first record read after it to the end.
    const idx = floods.map((l) => Number(l.text.split(' ')[2]));
    const jumps: number[] = [];
    for (let i = 1; i < idx.length; i++) {
      expect(idx[i]).toBeGreaterThan(idx[i - 1] as number);
      if (idx[i] !== (idx[i - 1] as number) + 1) jumps.push((idx[i] as number) - (idx[i - 1] as number) - 1);
    }
    expect(jumps.length).toBeLessThanOrEqual(1);
    expect((idx[0] as number) + (jumps[0] ?? 0)).toBe(missingOurs);
    expect(idx[idx.length - 1]).toBe(N - 1);
  });

  it('reads every record of a burst that arrived while its handler was blocked (backpressure)', async () => {
    // Speed is measured by `npm run bench` (the kmsg flood), not here.
    const m = marker();
    for (let k = 0; k < 3; k++) {
      const per = 500;
      let gate: (() => void) | undefined;
      const gated = new Promise<void>((res) => (gate = res));
      const burst: number[] = [];
      const r = new Run(m, newStateDir(), { startAfterMs: Date.now() - 100 }, (l) => {
        if (l.text === `${m} gate${k}`) return gated;
        if (l.text.startsWith(`${m} burst${k} `)) burst.push(Number(l.text.split(' ')[2]));
        return undefined;
      });
      inject(`<5>${m} gate${k}\n`);
      await r.waitFor(1);
      for (let i = 0; i < per; i++) inject(`<5>${m} burst${k} ${i} some ordinary kernel chatter about eth0 link up\n`);
      gate?.();
      await eventually(`burst ${k}`, () => burst.length >= per || undefined, { ms: 10_000 });
      expect(burst).toEqual(Array.from({ length: per }, (_, i) => i));
      await r.stop();
    }
  });
});
