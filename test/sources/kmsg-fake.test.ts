// kmsg-fake.test.ts: KmsgSource against a scripted fake device, for the cases the real
// /dev/kmsg cannot be made to produce on demand: exact sequence-gap arithmetic after EPIPE and
// EINVAL, checkpoint ahead of the kernel, open failure and retry, handler failures, counter invariants.
// All on the fake clock: time moves only when a test advances it.
// (test/sources/kmsg.test.ts covers the same paths against the real /dev/kmsg.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../agent/sources/checkpoint';
import { KMSG_YIELD_EVERY, KmsgSource, type KmsgDevice, type KmsgSourceOptions } from '../../agent/sources/kmsg';
import type { Logger, LogLine } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';

const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => quiet,
};

type Step = string | 'EPIPE' | 'EINVAL' | 'EIO';
class FakeDevice implements KmsgDevice {
  closed = false;
  private readonly steps: Step[];
  private next = 0;
  constructor(steps: Step[]) {
    this.steps = [...steps];
  }
  read(buf: Buffer): number {
    const s = this.steps[this.next];
    if (s !== undefined) this.next++;
    if (s === undefined) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable'), { code: 'EAGAIN' });
    if (s === 'EPIPE' || s === 'EINVAL' || s === 'EIO') throw Object.assign(new Error(s), { code: s });
    return buf.write(s, 'latin1');
  }
  close(): void {
    this.closed = true;
  }
  push(...more: Step[]): void {
    this.steps.push(...more);
  }
  get drained(): boolean {
    return this.next >= this.steps.length;
  }
}
const rec = (seq: number, msg = `m${seq}`, usec = seq * 1000): string => `6,${seq},${usec},-;${msg}\n`;
const seqs = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => rec(from + i));

/** Lets the source's pending promise chains run (fake-clock tests). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
/** Where every FakeClock starts. */
const START = new FakeClock().now();

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-kmsg-fake-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function runUntilDrained(
  dev: FakeDevice,
  extra: Partial<KmsgSourceOptions> = {},
  handler?: (l: LogLine) => void | Promise<void>,
): Promise<{ src: KmsgSource; lines: LogLine[]; store: CheckpointStore }> {
  const store = new CheckpointStore(dir, quiet);
  const clock = new FakeClock();
  const src = new KmsgSource({
    checkpoints: store,
    clock,
    logger: quiet,
    pollIntervalMs: 5,
    bootTimeMs: 1_000_000,
    bootId: 'boot-a',
    openDevice: () => dev,
    ...extra,
  });
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const done = src.run(async (l) => {
    lines.push(l);
    await handler?.(l);
  }, ac.signal);
  // Poll steps on the fake clock until the device is empty, then one more for the last handler.
  while (!dev.drained) {
    await flush();
    clock.advance(5);
  }
  await flush();
  ac.abort();
  await done;
  expect(dev.closed).toBe(true);
  return { src, lines, store };
}

/** A source on the fake clock reading `dev`, boot at 0, no checkpoint, options as given. */
function sourceOn(clock: FakeClock, dev: KmsgDevice, extra: Partial<KmsgSourceOptions> = {}): KmsgSource {
  return new KmsgSource({
    checkpoints: new CheckpointStore(dir, quiet),
    clock,
    logger: quiet,
    bootTimeMs: 0,
    bootId: 'b',
    openDevice: () => dev,
    ...extra,
  });
}

describe('KmsgSource with a fake device', () => {
  it('counts exactly the records lost in an EPIPE overrun gap', async () => {
    const dev = new FakeDevice([...seqs(10, 12), 'EPIPE', ...seqs(20, 22), 'EPIPE', ...seqs(100, 100)]);
    const { src, lines } = await runUntilDrained(dev);
    expect(lines.map((l) => l.seq)).toEqual([10, 11, 12, 20, 21, 22, 100]);
    expect(src.stats.lost).toBe(7 + 77);
    expect(src.stats.overruns).toBe(2);
    expect(lines[0]!.time.getTime()).toBe(1_000_000 + 10);
  });

  it('does not count a record consumed by EINVAL as lost', async () => {
    const dev = new FakeDevice([rec(1), 'EINVAL', rec(3), 'EINVAL', 'EINVAL', rec(6), rec(9)]);
    const { src, lines } = await runUntilDrained(dev);
    expect(lines.map((l) => l.seq)).toEqual([1, 3, 6, 9]);
    expect(src.stats.lost).toBe(2);
    expect(src.stats.malformed).toBe(3);
  });

  it('resumes after a checkpoint of the same boot and counts records that fell out of the ring', async () => {
    new CheckpointStore(dir, quiet).save('kmsg', { bootId: 'boot-a', seq: 50 });
    const dev = new FakeDevice(seqs(55, 60));
    const { src, lines, store } = await runUntilDrained(dev, { startAfterMs: 9e15 });
    expect(lines.map((l) => l.seq)).toEqual([55, 56, 57, 58, 59, 60]); // startAfterMs ignored when resuming
    expect(src.stats.lost).toBe(4);
    expect(store.load('kmsg')).toEqual({ bootId: 'boot-a', seq: 60 });
  });

  it('skips records at or before the checkpoint without counting them lost', async () => {
    new CheckpointStore(dir, quiet).save('kmsg', { bootId: 'boot-a', seq: 50 });
    const { src, lines } = await runUntilDrained(new FakeDevice(seqs(40, 53)));
    expect(lines.map((l) => l.seq)).toEqual([51, 52, 53]);
    expect(src.stats).toMatchObject({ lost: 0, skipped: 11, received: 14, sent: 3 });
  });

  it('marks records from before this run as backlog only when no checkpoint vouches for them', async () => {
    const old = await runUntilDrained(new FakeDevice(seqs(1, 3)));
    expect(old.lines.map((l) => l.backlog)).toEqual([true, true, true]);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    const fresh = await runUntilDrained(new FakeDevice(seqs(1, 3)), { bootTimeMs: START + 60_000 });
    expect(fresh.lines.map((l) => l.backlog)).toEqual([false, false, false]);
    new CheckpointStore(dir, quiet).save('kmsg', { bootId: 'boot-a', seq: 50 });
    const resumed = await runUntilDrained(new FakeDevice(seqs(51, 53)));
    expect(resumed.lines.map((l) => [l.seq, l.backlog])).toEqual([
      [51, false],
      [52, false],
      [53, false],
    ]);
    // Backlog or not, a line has one shape (agent/types.ts lineOf): the handlers stay monomorphic.
    const shape = ['origin', 'seq', 'time', 'text', 'truncated', 'backlog'];
    for (const l of [...old.lines, ...fresh.lines]) expect(Object.keys(l)).toEqual(shape);
  });

  it('ignores a checkpoint of another boot and applies startAfterMs instead', async () => {
    new CheckpointStore(dir, quiet).save('kmsg', { bootId: 'boot-OLD', seq: 50 });
    const { src, lines, store } = await runUntilDrained(new FakeDevice(seqs(1, 10)), { startAfterMs: 1_000_000 + 7.5 });
    expect(lines.map((l) => l.seq)).toEqual([8, 9, 10]);
    expect(src.stats).toMatchObject({ lost: 0, skipped: 7, sent: 3 });
    expect(store.load('kmsg')).toEqual({ bootId: 'boot-a', seq: 10 });
  });

  it('ignores a checkpoint that is ahead of the kernel once it has caught up', async () => {
    new CheckpointStore(dir, quiet).save('kmsg', { bootId: 'boot-a', seq: 500 });
    const dev = new FakeDevice(seqs(1, 5));
    const store = new CheckpointStore(dir, quiet);
    const clock = new FakeClock();
    const src = new KmsgSource({
      checkpoints: store,
      clock,
      logger: quiet,
      pollIntervalMs: 5,
      idlePollIntervalMs: 5, // no idle back-off: the records pushed below are read within 5 ms
      bootTimeMs: 0,
      bootId: 'boot-a',
      openDevice: () => dev,
    });
    const lines: LogLine[] = [];
    const ac = new AbortController();
    const done = src.run((l) => void lines.push(l), ac.signal);
    await flush(); // read 1..5, skipped, then EAGAIN: caught up, the checkpoint is given up
    dev.push(...seqs(6, 7));
    clock.advance(5);
    await flush();
    ac.abort();
    await done;
    expect(lines.map((l) => l.seq)).toEqual([6, 7]);
    expect(src.stats.lost).toBe(0);
  });

  it('keeps the counter invariant received = sent + malformed + dropped + skipped', async () => {
    const dev = new FakeDevice([
      rec(1, 'too old', 0),
      'garbage without header\n',
      rec(2, 'bad \\x00 nul'),
      rec(3, 'caf\\xe9'),
      rec(4, ''),
      rec(5, 'boom'),
      rec(6, 'x'.repeat(40), 6000),
      'EINVAL',
      rec(8),
    ]);
    const { src, lines } = await runUntilDrained(dev, { maxLineBytes: 16, startAfterMs: 1_000_000 + 0.5 }, (l) => {
      if (l.text === 'boom') throw new Error('handler failed');
    });
    const s = src.stats;
    expect(lines.map((l) => l.text)).toEqual(['boom', 'x'.repeat(16), 'm8']);
    expect(lines[1]!.truncated).toBe(true);
    expect(s).toMatchObject({ received: 9, sent: 2, malformed: 5, dropped: 1, errors: 1, skipped: 1, truncated: 1 });
    expect(s.received).toBe(s.sent + s.malformed + s.dropped + s.skipped);
  });

  it('reports an unopenable device as dead, keeps retrying, and stops on abort', async () => {
    const clock = new FakeClock();
    const src = new KmsgSource({
      path: '/nonexistent/kmsg',
      checkpoints: new CheckpointStore(dir, quiet),
      clock,
      logger: quiet,
    });
    const ac = new AbortController();
    let returned = false;
    const done = src.run(() => {}, ac.signal).then(() => (returned = true));
    await flush();
    clock.advance(60_000); // several retries
    await flush();
    expect(returned).toBe(false); // still retrying, not given up
    const h = src.health();
    expect(h.alive).toBe(false);
    expect(h.lastError).toMatch(/cannot open \/nonexistent\/kmsg: ENOENT/);
    ac.abort();
    await done; // the backoff sleep is abortable
    expect(returned).toBe(true);
  });

  it('retries a failing open with doubling backoff and becomes alive once it opens', async () => {
    const clock = new FakeClock();
    const dev = new FakeDevice(seqs(1, 2));
    const attempts: number[] = [];
    const openDevice = (): KmsgDevice => {
      attempts.push(clock.now());
      if (attempts.length <= 2) throw Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' });
      return dev;
    };
    const src = new KmsgSource({
      checkpoints: new CheckpointStore(dir, quiet),
      clock,
      logger: quiet,
      pollIntervalMs: 5,
      bootTimeMs: 1_000_000,
      bootId: 'b',
      openDevice,
    });
    const lines: LogLine[] = [];
    const ac = new AbortController();
    const done = src.run((l) => void lines.push(l), ac.signal);
    const t0 = clock.now();
    await flush();
    expect(attempts).toEqual([t0]);
    expect(src.health()).toMatchObject({
      alive: false,
      lastError: expect.stringMatching(/cannot open \/dev\/kmsg: EPERM/),
    });
    clock.advance(999);
    await flush();
    expect(attempts.length).toBe(1); // first retry after 1 s, not before
    clock.advance(1);
    await flush();
    expect(attempts).toEqual([t0, t0 + 1000]);
    expect(src.health().alive).toBe(false);
    clock.advance(1999);
    await flush();
    expect(attempts.length).toBe(2); // second retry after 2 s more
    clock.advance(1);
    await flush();
    expect(attempts).toEqual([t0, t0 + 1000, t0 + 3000]);
    const h = src.health();
    expect(h.alive).toBe(true);
    expect(h.lastError).toBeUndefined();
    expect(lines.map((l) => l.seq)).toEqual([1, 2]);
    expect(h.lastPollAt).toBe(t0 + 3000);
    ac.abort();
    await done;
    expect(dev.closed).toBe(true);
  });

  it('polls an idle ring less and less often, and at the short interval again after a record', async () => {
    const clock = new FakeClock();
    const dev = new FakeDevice(seqs(1, 2));
    const reads: number[] = [];
    const timed: KmsgDevice = {
      read: (buf) => {
        reads.push(clock.now());
        return dev.read(buf);
      },
      close: () => dev.close(),
    };
    const src = sourceOn(clock, timed);
    const lines: LogLine[] = [];
    const ac = new AbortController();
    const done = src.run((l) => void lines.push(l), ac.signal);
    const t0 = clock.now();
    const step = async (ms: number): Promise<void> => {
      for (let i = 0; i < ms; i += 50) {
        clock.advance(50);
        await flush();
      }
    };
    await flush();
    // Two records and the first EAGAIN at t0; then sleeps of 100, 200, 400, then 500 ms (the cap).
    await step(5000);
    const polls = (from: number): number[] => reads.filter((t) => t >= from).map((t) => t - t0);
    const every500 = (from: number, to: number): number[] =>
      Array.from({ length: Math.floor((to - from) / 500) + 1 }, (_, k) => from + 500 * k);
    expect(polls(t0)).toEqual([0, 0, 0, 100, 300, 700, ...every500(1200, 5000)]);
    expect(lines.map((l) => l.seq)).toEqual([1, 2]);
    // A record written now is read at the next poll (at most 500 ms later), and the sleeps start
    // over at 100 ms.
    dev.push(rec(3));
    const t1 = clock.now();
    await step(3000);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(polls(t1)).toEqual([5200, 5200, 5300, 5500, 5900, ...every500(6400, 8000)]);
    // Health stays fresh: the last poll is at most one idle interval old.
    expect(clock.now() - src.health().lastPollAt).toBeLessThanOrEqual(500);
    ac.abort();
    await done;
    expect(clock.pending()).toBe(0);
  });

  it('marks itself dead after repeated read errors and alive again when reads work', async () => {
    const dev = new FakeDevice([...Array<Step>(25).fill('EIO')]);
    const clock = new FakeClock();
    const src = sourceOn(clock, dev, { pollIntervalMs: 1 });
    const ac = new AbortController();
    const done = src.run(() => {}, ac.signal);
    // Each failed read sleeps pollIntervalMs (1 ms) before the next.
    for (let i = 0; i < 19; i++) {
      await flush();
      clock.advance(1);
    }
    await flush();
    expect(src.stats.errors).toBe(20);
    expect(src.health().alive).toBe(false);
    expect(src.health().lastError).toMatch(/EIO/);
    for (let i = 0; i < 5; i++) {
      clock.advance(1);
      await flush();
    }
    expect(dev.drained).toBe(true);
    expect(src.stats.errors).toBe(25);
    expect(src.health().alive).toBe(false);
    clock.advance(1);
    await flush();
    expect(src.health().alive).toBe(true); // the next read said EAGAIN: working again
    ac.abort();
    await done;
  });

  it('takes a path that reads 0 bytes (a regular file, /dev/null) for an error, paced, not records', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const src = sourceOn(clock, {
      read: () => {
        reads++;
        return 0; // what read(2) returns at end of file
      },
      close: () => {},
    });
    const lines: LogLine[] = [];
    const ac = new AbortController();
    const done = src.run((l) => void lines.push(l), ac.signal);
    await flush();
    // One read, then a sleep of pollIntervalMs (100 ms) before each next one: 21 reads in 2 s.
    for (let i = 0; i < 20; i++) {
      clock.advance(100);
      await flush();
    }
    expect(reads).toBe(21);
    expect(lines).toEqual([]);
    expect(src.stats.received).toBe(0);
    expect(src.stats.errors).toBe(21);
    expect(src.health().alive).toBe(false);
    expect(src.health().lastError).toMatch(/read 0 bytes: not a kernel log device/);
    ac.abort();
    await done;
  });

  it('saves its position while running: at the end of a drain, at most once a second, and without fsync', async () => {
    const drain = 3 * KMSG_YIELD_EVERY + 8;
    const dev = new FakeDevice(seqs(1, drain));
    const store = new CheckpointStore(dir, quiet);
    const clock = new FakeClock();
    const src = new KmsgSource({
      checkpoints: store,
      clock,
      logger: quiet,
      pollIntervalMs: 5,
      idlePollIntervalMs: 5,
      bootTimeMs: 0,
      bootId: 'boot-a',
      openDevice: () => dev,
    });
    const ac = new AbortController();
    const done = src.run(() => undefined, ac.signal);
    const onDisk = (): unknown => new CheckpointStore(dir, quiet).load('kmsg');
    // One drain of several yields' worth: the store is told at each yield and at EAGAIN; the
    // first telling is written, the rest wait for the throttle (one write a second at most).
    await flush();
    expect(onDisk()).toEqual({ bootId: 'boot-a', seq: KMSG_YIELD_EVERY });
    expect(store.stats.saves).toBe(1);
    dev.push(...seqs(drain + 1, drain + 10));
    clock.advance(5);
    await flush(); // 5 ms later: still held back by the throttle, not lost
    expect(onDisk()).toEqual({ bootId: 'boot-a', seq: KMSG_YIELD_EVERY });
    expect(store.isDirty('kmsg')).toBe(true);
    clock.advance(1000);
    await flush(); // an empty poll a second later writes the pending position
    expect(onDisk()).toEqual({ bootId: 'boot-a', seq: drain + 10 });
    clock.advance(5000);
    await flush(); // idle polls with nothing new write nothing
    expect(store.stats.saves).toBe(2);
    ac.abort();
    await done;
    expect(store.stats.fsyncs).toBe(0); // the kmsg position is boot-scoped
  });

  it('stops while a handler hangs, without checkpointing the unhandled record', async () => {
    const dev = new FakeDevice(seqs(1, 3));
    const store = new CheckpointStore(dir, quiet);
    const src = new KmsgSource({
      checkpoints: store,
      clock: new FakeClock(),
      logger: quiet,
      bootTimeMs: 0,
      bootId: 'boot-a',
      openDevice: () => dev,
    });
    const ac = new AbortController();
    let handed = 0;
    const done = src.run((l) => {
      handed++;
      return l.seq === 2 ? new Promise<void>(() => {}) : undefined;
    }, ac.signal);
    await flush();
    expect(handed).toBe(2); // waiting on the handler of record 2
    ac.abort();
    await done; // resolves although the handler never does (the test's timeout guards a hang)
    expect(store.load('kmsg')).toEqual({ bootId: 'boot-a', seq: 1 });
    expect(dev.closed).toBe(true);
  });

  it('keeps dictionary lines out of the text (records captured from this machine)', async () => {
    const text = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'kmsg', 'dictionary.txt'), 'latin1');
    const recs = text
      .split(/\n(?! )/)
      .filter((r) => r !== '')
      .map((r) => `${r}\n`);
    expect(recs.every((r) => r.includes('\n SUBSYSTEM='))).toBe(true);
    const { lines } = await runUntilDrained(new FakeDevice(recs));
    expect(lines).toHaveLength(recs.length);
    expect(lines[0]!.text).toBe(
      'acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM Segments MSI HPX-Type3]',
    );
    for (const l of lines) expect(l.text).not.toMatch(/SUBSYSTEM|DEVICE=|\n/);
  });

  it('survives a flood of 120k bad and good records without stalling the event loop', async () => {
    const junk: Step[] = [
      'not a header at all\n',
      '6,x,1,-;m\n',
      '6,\n', // (an empty read is not a record but an error: see 'reads 0 bytes')
      `6,SEQ,1,-;${'\\x01'.repeat(10)}\n`,
      '6,SEQ,1,-;caf\\xe9\n',
      '6,SEQ,1,-;\n',
      `6,SEQ,1,-;${'a'.repeat(15_000)}\n`,
      '6,SEQ,1,-;good line\n',
    ];
    const steps: Step[] = [];
    for (let i = 0; i < 120_000; i++) steps.push((junk[i % junk.length] as string).replace('SEQ', String(i)));
    const dev = new FakeDevice(steps);
    // Counts event-loop turns while records remain to be read.
    let turns = 0;
    const turn = (): void => {
      turns++;
      if (!dev.drained) setImmediate(turn);
    };
    setImmediate(turn);
    const { src, lines } = await runUntilDrained(dev, { maxLineBytes: 1024 });
    const per = 120_000 / junk.length;
    expect(src.stats.received).toBe(120_000);
    expect(src.stats.malformed).toBe(per * 6);
    expect(src.stats.truncated).toBe(per);
    expect(lines).toHaveLength(per * 2);
    expect(lines.filter((l) => l.truncated && l.text.length === 1024)).toHaveLength(per);
    // the loop kept turning (timers and I/O ran) while the source worked through the flood: it
    // yields every KMSG_YIELD_EVERY records
    expect(turns).toBeGreaterThanOrEqual(Math.floor(120_000 / KMSG_YIELD_EVERY) - 1);
  });
});
