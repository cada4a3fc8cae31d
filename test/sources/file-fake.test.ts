// file-fake.test.ts: the file follower's state machine on the fake clock and an in-memory file
// system (test/helpers/memory-fs.ts): rename rotation with the old file still written and then
// quiet, copytruncate (smaller size, and changed fingerprint), a file missing then created, a
// read error, abort while draining, and checkpoint resume (same file, replaced file, rotated
// while stopped). Time moves only by clock.advance(); no test here waits on the wall clock.
// The same behaviours on real files: file.test.ts; behind real rsyslogd: file-rsyslog.test.ts.
import { describe, expect, it } from 'vitest';
import { FileSource, UNREADABLE_AFTER_POLLS, type FileSourceOptions } from '../../agent/sources/file';
import { onPathStat, whenQuiet, type Draining, type Following, type OpenFile } from '../../agent/sources/file-states';
import type { LineHandler, LogLine } from '../../agent/types';
import { quietLogger } from '../fixtures/files/follow-harness';
import { FakeClock } from '../helpers/fake-clock';
import { MemoryFs } from '../helpers/memory-fs';

const PATH = '/var/log/kern.log';
const POLL_MS = 100;
const GRACE_MS = 1000;

class MemoryCheckpoints {
  readonly values = new Map<string, unknown>();
  saves = 0;
  load<T>(name: string): T | undefined {
    return this.values.get(name) as T | undefined;
  }
  save(name: string, value: unknown): boolean {
    this.saves++;
    this.values.set(name, structuredClone(value));
    return true;
  }
  saveThrottled(name: string, value: unknown): void {
    this.save(name, value);
  }
  isDirty(): boolean {
    return false;
  }
  position(): { dev: string; ino: string; offset: number } | undefined {
    return this.values.get(`file:${PATH}`) as { dev: string; ino: string; offset: number } | undefined;
  }
}

/** Yields to the event loop until the source sleeps on the clock again (its poll timer is set). */
async function settle(clock: FakeClock): Promise<void> {
  // The bound only guards against a source that never sleeps; a poll here takes a few turns.
  for (let i = 0; i < 10_000 && clock.pending() === 0; i++) await new Promise((r) => setImmediate(r));
  if (clock.pending() === 0) throw new Error('source did not go back to sleep');
}

function start(
  fs: MemoryFs,
  opts: {
    checkpoints?: MemoryCheckpoints;
    clock?: FakeClock;
    onLine?: (l: LogLine, ac: AbortController) => void | Promise<void>;
  } & Partial<Omit<FileSourceOptions, 'path' | 'checkpoints' | 'clock' | 'logger' | 'fs'>> = {},
) {
  const { checkpoints = new MemoryCheckpoints(), clock = new FakeClock(), onLine, ...extra } = opts;
  const source = new FileSource({
    path: PATH,
    fs,
    checkpoints,
    clock,
    logger: quietLogger,
    pollIntervalMs: POLL_MS,
    rotateGraceMs: GRACE_MS,
    ...extra,
  });
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const handler: LineHandler = (l) => {
    lines.push(l);
    return onLine?.(l, ac);
  };
  const done = source.run(handler, ac.signal);
  return {
    source,
    lines,
    clock,
    checkpoints,
    texts: (): string[] => lines.map((l) => l.text),
    ready: () => settle(clock),
    /** Moves the clock by whole polls, letting each poll run. */
    async advance(ms: number): Promise<void> {
      for (let t = 0; t < ms; t += POLL_MS) {
        clock.advance(Math.min(POLL_MS, ms - t));
        await settle(clock);
      }
    },
    async stop(): Promise<void> {
      ac.abort();
      await done;
    },
    done,
  };
}

const seq = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/** A file holding lines `${prefix}1..n`, and a source started on it that has read them. */
async function startOn(prefix: string, n: number, opts: Parameters<typeof start>[1] = {}) {
  const fs = new MemoryFs();
  fs.lines(PATH, prefix, 1, n);
  const f = start(fs, opts);
  await f.ready();
  return { fs, f };
}

/** A source started on fs, run until it has read what is there, then stopped (a restart). */
async function runOnce(fs: MemoryFs, opts: Parameters<typeof start>[1] = {}) {
  const f = start(fs, opts);
  await f.ready();
  await f.stop();
  return f;
}

describe('file states: pure decisions', () => {
  const file = (ino: string): OpenFile => ({
    fh: {
      read: async () => ({ bytesRead: 0 }),
      stat: async () => Promise.reject(new Error('unused')),
      close: async () => undefined,
    },
    ident: { dev: '1', ino },
    size: 0,
  });
  const a = file('10');
  const b = file('11');

  it('following: the same file at the path stays following; another or none starts a rotation now', () => {
    const s: Following = { kind: 'following', cur: a };
    expect(onPathStat(s, a.ident, 5, 1000)).toEqual({ state: s, rotated: false });
    expect(onPathStat(s, b.ident, 0, 1000)).toEqual({
      state: { kind: 'orphaned', cur: a, atPath: '1:11', quietSince: 1000 },
      rotated: true,
    });
    expect(onPathStat(s, null, 0, 1000)).toEqual({
      state: { kind: 'orphaned', cur: a, atPath: '', quietSince: 1000 },
      rotated: true,
    });
  });

  it('draining: new bytes or a change at the path restart the quiet period; renamed back drops next', () => {
    const s: Draining = { kind: 'draining', cur: a, next: b, atPath: '1:11', quietSince: 1000 };
    expect(onPathStat(s, b.ident, 0, 1500).state).toBe(s);
    expect(onPathStat(s, b.ident, 3, 1500).state).toEqual({ ...s, quietSince: 1500 });
    expect(onPathStat(s, { dev: '1', ino: '12' }, 0, 1500)).toEqual({
      state: { ...s, atPath: '1:12', quietSince: 1500 },
      rotated: true,
    });
    expect(onPathStat(s, a.ident, 0, 1500)).toEqual({ state: { kind: 'following', cur: a }, drop: b, rotated: false });
  });

  it('leaves a rotated file only once quiet for the grace: switch to next, or let a deleted one go', () => {
    const d: Draining = { kind: 'draining', cur: a, next: b, atPath: '1:11', quietSince: 1000 };
    expect(whenQuiet(d, 0, 1999, 1000, true)).toEqual({ do: 'stay' });
    expect(whenQuiet(d, 1, 2000, 1000, true)).toEqual({ do: 'stay' });
    expect(whenQuiet(d, 0, 2000, 1000, true)).toEqual({ do: 'switch', next: b });
    const o = { kind: 'orphaned' as const, cur: a, atPath: '', quietSince: 1000 };
    expect(whenQuiet(o, 0, 5000, 1000, true)).toEqual({ do: 'stay' });
    expect(whenQuiet(o, 0, 5000, 1000, false)).toEqual({ do: 'let-go' });
    expect(whenQuiet({ kind: 'following', cur: a }, 0, 9999, 0, false)).toEqual({ do: 'stay' });
  });
});

describe('FileSource on the fake clock and an in-memory file system', () => {
  it('rename rotation: drains the old file while it is still written, switches once it has been quiet for the grace', async () => {
    const { fs, f } = await startOn('old ', 3);
    expect(f.texts()).toEqual(seq('old ', 1, 3));
    expect(f.source.health().state).toBe('following');

    fs.rename(PATH, `${PATH}.1`);
    fs.lines(PATH, 'new ', 1, 2);
    await f.advance(POLL_MS);
    expect(f.source.health().state).toBe('draining');
    expect(fs.openHandles).toBe(2); // the new file is opened at once and held

    // The writer has not been HUPed: it goes on writing the renamed file, for 500 ms.
    for (let i = 4; i <= 8; i++) {
      fs.lines(`${PATH}.1`, 'old ', i, i);
      await f.advance(POLL_MS);
    }
    fs.append(`${PATH}.1`, 'old unterminated');
    await f.advance(POLL_MS);
    const lastOldData = f.clock.now();
    // Quiet for just under the grace: still draining, nothing of the new file read.
    await f.advance(GRACE_MS - POLL_MS);
    expect(f.source.health().state).toBe('draining');
    expect(f.source.stats.rotations).toBe(0);
    expect(f.texts()).toEqual(seq('old ', 1, 8));
    await f.advance(POLL_MS);
    expect(f.clock.now() - lastOldData).toBe(GRACE_MS);
    expect(f.source.stats.rotations).toBe(1);
    expect(f.source.health().state).toBe('following');
    expect(f.texts()).toEqual([...seq('old ', 1, 8), 'old unterminated', ...seq('new ', 1, 2)]);
    expect(fs.openHandles).toBe(1); // the old file is closed
    expect(f.checkpoints.position()).toMatchObject({ ...fs.ident(PATH), offset: 12 });
    await f.stop();
    expect(fs.openHandles).toBe(0);
    expect(f.source.health().state).toBe('stopped');
  });

  it('renamed away with nothing at the path: keeps reading the old file (reported waiting), then drains into the new one', async () => {
    const { fs, f } = await startOn('a', 2);
    fs.rename(PATH, `${PATH}.1`);
    await f.advance(POLL_MS);
    expect(f.source.health().state).toBe('waiting');
    fs.lines(`${PATH}.1`, 'a', 3, 3);
    await f.advance(GRACE_MS * 3); // quiet for long, but still linked: kept
    expect(fs.openHandles).toBe(1);
    fs.lines(PATH, 'b', 1, 1);
    await f.advance(POLL_MS);
    expect(f.source.health().state).toBe('draining');
    await f.advance(GRACE_MS);
    expect(f.texts()).toEqual(['a1', 'a2', 'a3', 'b1']);
    expect(f.source.stats.rotations).toBe(1);
    await f.stop();
  });

  it('a deleted file is let go of once quiet, and one created again is read from the start', async () => {
    const { fs, f } = await startOn('a', 2);
    fs.unlink(PATH);
    // The next poll sees it gone; the grace runs from then.
    await f.advance(POLL_MS);
    expect(f.source.health().state).toBe('waiting');
    await f.advance(GRACE_MS - POLL_MS);
    expect(fs.openHandles).toBe(1); // within the grace: still held
    await f.advance(POLL_MS);
    expect(fs.openHandles).toBe(0);
    expect(f.source.health().state).toBe('waiting');
    fs.lines(PATH, 'b', 1, 1);
    await f.advance(POLL_MS);
    expect(f.texts()).toEqual(['a1', 'a2', 'b1']);
    await f.stop();
  });

  it('copytruncate (smaller than our offset): the unread rest comes from the copy, then the file from 0', async () => {
    const { fs, f } = await startOn('line ', 5);
    fs.lines(PATH, 'line ', 6, 8); // written, not read yet
    fs.copy(PATH, `${PATH}.1`);
    fs.truncate(PATH, 0);
    fs.lines(PATH, 'after ', 1, 1);
    await f.advance(POLL_MS);
    expect(f.texts()).toEqual([...seq('line ', 1, 8), 'after 1']);
    expect(f.source.stats).toMatchObject({ truncations: 1, copiesRecovered: 1, lost: 0, lostBytes: 0 });
    expect(fs.openHandles).toBe(1); // the copy is closed
    expect(f.checkpoints.position()).toMatchObject({ ...fs.ident(PATH), offset: 8 });
    await f.stop();
  });

  it('copytruncate, re-grown past our offset between two polls: the changed fingerprint tells; with no copy, the held partial line is counted lost', async () => {
    const fs = new MemoryFs();
    fs.lines(PATH, 'line ', 1, 3);
    fs.append(PATH, 'partial');
    const f = start(fs);
    await f.ready();
    expect(f.texts()).toEqual(seq('line ', 1, 3));
    fs.truncate(PATH, 0);
    fs.lines(PATH, 'rewritten and longer than before ', 1, 3);
    await f.advance(POLL_MS);
    expect(f.source.stats).toMatchObject({ truncations: 1, copiesRecovered: 0, lost: 1, lostBytes: 'partial'.length });
    expect(f.texts()).toEqual([...seq('line ', 1, 3), ...seq('rewritten and longer than before ', 1, 3)]);
    await f.stop();
  });

  it('a missing file: waiting (alive, healthy, polling), then read from the start once created', async () => {
    const fs = new MemoryFs();
    const f = start(fs, { startAtEnd: true });
    await f.ready();
    const polled = f.source.health().lastPollAt;
    await f.advance(POLL_MS * (UNREADABLE_AFTER_POLLS + 2));
    expect(f.source.health()).toMatchObject({
      alive: true,
      state: 'waiting',
      lastPollAt: polled + POLL_MS * (UNREADABLE_AFTER_POLLS + 2),
    });
    expect(f.source.health().lastError).toBeUndefined();
    expect(f.source.health().degraded).toBeUndefined();
    expect(f.checkpoints.saves).toBe(0);
    fs.lines(PATH, 'x', 1, 2);
    await f.advance(POLL_MS);
    expect(f.texts()).toEqual(['x1', 'x2']); // created after start: nothing skipped, nothing backlog
    expect(f.lines.some((l) => l.backlog)).toBe(false);
    expect(f.checkpoints.position()).toMatchObject({ ...fs.ident(PATH), offset: 6 });
    await f.stop();
  });

  it('an idle poll does not read: only a size beyond the offset does, then it reads to the end', async () => {
    const { fs, f } = await startOn('l', 3);
    expect(f.texts()).toEqual(seq('l', 1, 3));
    const reads = fs.reads;
    await f.advance(POLL_MS * 10);
    expect(fs.reads).toBe(reads); // ten polls, the size unchanged: no read
    fs.lines(PATH, 'l', 4, 5);
    await f.advance(POLL_MS);
    expect(f.texts()).toEqual(seq('l', 1, 5));
    expect(fs.reads).toBeGreaterThan(reads);
    await f.stop();
  });

  it('a read error: counted, degraded after a few polls in a row (still alive), recovers with nothing lost', async () => {
    const { fs, f } = await startOn('l', 2);
    fs.failReads(PATH, 'EIO');
    fs.lines(PATH, 'l', 3, 4);
    await f.advance(POLL_MS * (UNREADABLE_AFTER_POLLS - 1));
    expect(f.source.health().degraded).toBeUndefined();
    await f.advance(POLL_MS);
    expect(f.source.health()).toMatchObject({
      alive: true,
      state: 'unreadable',
      lastError: expect.stringMatching(/EIO/),
      degraded: expect.stringMatching(/^unreadable: .*EIO/),
    });
    expect(f.source.stats.errors).toBeGreaterThanOrEqual(UNREADABLE_AFTER_POLLS);
    fs.failReads(PATH, undefined);
    await f.advance(POLL_MS);
    expect(f.texts()).toEqual(seq('l', 1, 4));
    expect(f.source.health()).toMatchObject({ alive: true, state: 'following' });
    expect(f.source.health().lastError).toBeUndefined();
    await f.stop();
  });

  it('abort while draining: stops at once, closes every file, and a restart drains the rest of the rotated file, then the new one', async () => {
    const fs = new MemoryFs();
    fs.lines(PATH, 'old ', 1, 2);
    const cps = new MemoryCheckpoints();
    const f = start(fs, {
      checkpoints: cps,
      onLine: (l, ac) => {
        if (l.text === 'old 4') ac.abort();
      },
    });
    await f.ready();
    fs.rename(PATH, `${PATH}.1`);
    fs.lines(PATH, 'new ', 1, 2);
    await f.advance(POLL_MS);
    expect(f.source.health().state).toBe('draining');
    const oldIdent = fs.ident(`${PATH}.1`);
    fs.lines(`${PATH}.1`, 'old ', 3, 6);
    f.clock.advance(POLL_MS);
    await f.done;
    expect(f.texts()).toEqual(seq('old ', 1, 4));
    expect(fs.openHandles).toBe(0);
    expect(f.source.health().state).toBe('stopped');
    expect(cps.position()).toMatchObject({ ...oldIdent, offset: 24 }); // just past "old 4\n"

    const g = start(fs, { checkpoints: cps, clock: f.clock });
    await g.ready();
    expect(g.source.health().state).toBe('draining');
    await g.advance(GRACE_MS);
    expect(g.texts()).toEqual([...seq('old ', 5, 6), ...seq('new ', 1, 2)]);
    expect(g.source.stats.rotations).toBe(1);
    await g.stop();
  });

  it('checkpoint resume: the same file (inode and fingerprint) resumes at the offset; a replaced file is read from the start', async () => {
    const fs = new MemoryFs();
    fs.lines(PATH, 'a', 1, 3);
    const cps = new MemoryCheckpoints();
    const f = await runOnce(fs, { checkpoints: cps });
    expect(f.texts()).toEqual(['a1', 'a2', 'a3']);
    expect(f.lines.every((l) => l.backlog)).toBe(true);

    fs.lines(PATH, 'a', 4, 5);
    const g = await runOnce(fs, { checkpoints: cps, clock: f.clock });
    expect(g.texts()).toEqual(['a4', 'a5']);
    expect(g.lines.some((l) => l.backlog)).toBe(false);

    // Replaced: deleted and created again (another inode); the old one is nowhere to be found.
    fs.unlink(PATH);
    fs.lines(PATH, 'b', 1, 2);
    const h = await runOnce(fs, { checkpoints: cps, clock: f.clock });
    expect(h.texts()).toEqual(['b1', 'b2']);
    expect(cps.position()).toMatchObject({ ...fs.ident(PATH), offset: 6 });

    // Same inode, rewritten with other content at least as long: the fingerprint tells.
    fs.truncate(PATH, 0);
    fs.lines(PATH, 'c', 1, 3);
    const k = await runOnce(fs, { checkpoints: cps, clock: f.clock });
    expect(k.texts()).toEqual(['c1', 'c2', 'c3']);
  });

  it('checkpoint resume after copytruncate while stopped: the rest from the copy, then the file from 0', async () => {
    const fs = new MemoryFs();
    fs.lines(PATH, 'a', 1, 3);
    const cps = new MemoryCheckpoints();
    const f = await runOnce(fs, { checkpoints: cps });
    fs.lines(PATH, 'a', 4, 5);
    fs.copy(PATH, `${PATH}-20260101`);
    fs.truncate(PATH, 0);
    fs.lines(PATH, 'b', 1, 1);
    const g = await runOnce(fs, { checkpoints: cps, clock: f.clock });
    expect(g.texts()).toEqual(['a4', 'a5', 'b1']);
    expect(g.source.stats).toMatchObject({ truncations: 1, copiesRecovered: 1 });
    expect(fs.openHandles).toBe(0);
  });
});
