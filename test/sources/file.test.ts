// file.test.ts: FileSource on real files in a temp dir: the four rotation ways with 3,000
// numbered lines (loss and duplicates asserted), partial lines, the length cap, junk, restarts
// from the checkpoint (plain, after a rename while stopped, after copytruncate while stopped),
// startAtEnd (also on a file created after start), unreadable paths (EISDIR, injected EACCES)
// and prompt shutdown.
import * as fs from 'node:fs';
import { openReadOnly } from '../../agent/runtime/fs-async';
import type { FileHandlePort } from '../../agent/sources/file-port';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSource, UNREADABLE_AFTER_POLLS } from '../../agent/sources/file';
import { LineAssembler } from '../../agent/sources/file-lines';
import { follow } from '../fixtures/files/follow-harness';
import { until } from '../helpers/eventually';
import { lineText, runWriter, tally } from '../fixtures/files/rotating-writer';

let dir: string;
let log: string;
let state: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-file-'));
  log = path.join(dir, 'kern.log');
  state = path.join(dir, 'state');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const texts = (f: { lines: { text: string }[] }): string[] => f.lines.map((l) => l.text);
function writeLines(file: string, from: number, to: number): void {
  let s = '';
  for (let i = from; i <= to; i++) s += lineText(i) + '\n';
  fs.appendFileSync(file, s);
}

describe('FileSource rotation (3,000 lines, rotated at 1,000 and 2,000)', () => {
  it('rename + create: 0 lost, 0 duplicates', async () => {
    fs.writeFileSync(log, '');
    const f = follow(log, state);
    await runWriter({ path: log, mode: 'rename-create' });
    await f.stopWhen(3000);
    const t = tally(texts(f), 3000);
    expect(t.lost).toEqual([]);
    expect(t.duplicates).toEqual([]);
    expect(t.foreign).toBe(0);
    expect(f.source.stats.rotations).toBe(2);
    expect(f.source.stats.sent).toBe(3000);
  });

  it('rename with a delayed reopen (writer keeps the renamed file 200 ms): 0 lost, 0 duplicates', async () => {
    fs.writeFileSync(log, '');
    const f = follow(log, state);
    await runWriter({ path: log, mode: 'rename-delayed', delayMs: 200 });
    await f.stopWhen(3000);
    const t = tally(texts(f), 3000);
    expect(t.lost).toEqual([]);
    expect(t.duplicates).toEqual([]);
    expect(f.source.stats.rotations).toBe(2);
  });

  it('rename with a 600 ms delayed reopen and the default 250 ms poll: 0 lost, 0 duplicates', async () => {
    fs.writeFileSync(log, '');
    const f = follow(log, state, { pollIntervalMs: 250 });
    await runWriter({ path: log, mode: 'rename-delayed', delayMs: 600 });
    await f.stopWhen(3000);
    const t = tally(texts(f), 3000);
    expect(t.lost).toEqual([]);
    expect(t.duplicates).toEqual([]);
  });

  it('create-after-start: waits (alive) for the file, then 0 lost, 0 duplicates across rotations', async () => {
    const f = follow(log, state);
    await until(`f.source.health().state === 'waiting'`, () => f.source.health().state === 'waiting');
    expect(f.source.health().alive).toBe(true);
    const polled = f.source.health().lastPollAt;
    await until('f.source.health().lastPollAt > polled', () => f.source.health().lastPollAt > polled); // it keeps polling while it waits
    expect(f.source.health().lastPollAt).toBeGreaterThan(polled);
    await runWriter({ path: log, mode: 'rename-create', createAfterMs: 300 });
    await f.stopWhen(3000);
    const t = tally(texts(f), 3000);
    expect(t.lost).toEqual([]);
    expect(t.duplicates).toEqual([]);
  });

  it('copytruncate: loses only lines written between copy and truncate, 0 duplicates', async () => {
    fs.writeFileSync(log, '');
    const f = follow(log, state);
    const w = await runWriter({ path: log, mode: 'copytruncate', windowLines: 5 });
    await f.stopWhen(3000 - w.window.size);
    const t = tally(texts(f), 3000);
    expect(t.duplicates).toEqual([]);
    expect(t.lost.length).toBeLessThanOrEqual(w.window.size);
    for (const n of t.lost) expect(w.window.has(n)).toBe(true);
    expect(f.source.stats.truncations).toBe(2);
  });

  it('copytruncate with a slow reader (600 ms poll): the unread part comes from the copy', async () => {
    fs.writeFileSync(log, '');
    const f = follow(log, state, { pollIntervalMs: 600 });
    const w = await runWriter({ path: log, mode: 'copytruncate', windowLines: 5 });
    await f.stopWhen(3000 - w.window.size);
    const t = tally(texts(f), 3000);
    expect(t.duplicates).toEqual([]);
    for (const n of t.lost) expect(w.window.has(n)).toBe(true);
    expect(f.source.stats.copiesRecovered).toBeGreaterThanOrEqual(1);
  });
});

describe('FileSource lines', () => {
  it('holds a partial last line until its newline arrives; strips \\r; seq is the offset past the line', async () => {
    fs.writeFileSync(log, 'first\r\nsec');
    const f = follow(log, state);
    await until('f.lines.length >= 1', () => f.lines.length >= 1);
    await f.polls(4); // several polls: the rest of the line is not there
    expect(texts(f)).toEqual(['first']);
    expect(f.lines[0]?.seq).toBe(7);
    fs.appendFileSync(log, 'ond\n');
    await until('f.lines.length >= 2', () => f.lines.length >= 2);
    await f.stop();
    expect(texts(f)).toEqual(['first', 'second']);
    expect(f.lines[1]?.seq).toBe(14);
    expect(f.lines[1]?.origin).toBe(log);
  });

  it('emits the unterminated last line of a rotated file when it switches', async () => {
    fs.writeFileSync(log, 'a\nb-unterminated');
    const f = follow(log, state, { rotateGraceMs: 200 });
    await until('f.lines.length >= 1', () => f.lines.length >= 1);
    fs.renameSync(log, `${log}.1`);
    fs.writeFileSync(log, 'c\n');
    await until('f.lines.length >= 3', () => f.lines.length >= 3);
    await f.stop();
    expect(texts(f)).toEqual(['a', 'b-unterminated', 'c']);
  });

  it('a deleted file is let go of once quiet, and a re-created one is read from the start', async () => {
    writeLines(log, 1, 5);
    // A grace far longer than the checks below take, so "still draining" holds on a loaded machine.
    const f = follow(log, state, { rotateGraceMs: 2000 });
    await until('f.lines.length >= 5', () => f.lines.length >= 5);
    fs.unlinkSync(log);
    await until(`f.source.health().state === 'waiting'`, () => f.source.health().state === 'waiting');
    const openDeleted = (): number =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`) === `${log} (deleted)`;
        } catch {
          return false;
        }
      }).length;
    expect(openDeleted()).toBe(1); // still draining within the grace period
    await until('the deleted file closed', () => openDeleted() === 0); // past the grace: its space freed
    expect(openDeleted()).toBe(0);
    writeLines(log, 6, 8);
    await f.stopWhen(8, 1000);
    expect(tally(texts(f), 8)).toEqual({ lost: [], duplicates: [], foreign: 0 });
  });

  it('cuts a 1 MiB line at the cap, counts it, and goes on', async () => {
    const big = 'x'.repeat(1024 * 1024);
    fs.writeFileSync(log, `before\n${big}\nafter\n`);
    const f = follow(log, state, { maxLineBytes: 16 * 1024, readChunkBytes: 64 * 1024 });
    await until('f.lines.length >= 3', () => f.lines.length >= 3);
    await f.stop();
    expect(texts(f).map((t) => t.length)).toEqual([6, 16 * 1024, 5]);
    expect(f.lines[1]?.truncated).toBe(true);
    expect(f.lines[0]?.truncated).toBe(false);
    expect(f.source.stats.truncated).toBe(1);
  });

  it('a 1 MiB line arriving in pieces is never held beyond the cap', () => {
    const a = new LineAssembler(16 * 1024 + 4);
    const piece = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 16; i++) {
      a.append(piece, 0, piece.length);
      expect(a.heldBytes).toBeLessThanOrEqual(16 * 1024 + 4);
    }
    expect(a.pendingBytes).toBe(1024 * 1024);
    const tail = Buffer.from('zz\n');
    const line = a.finish(tail, 0, 2);
    expect(line.end - line.start).toBe(16 * 1024 + 4);
    expect(line.joined).toBe(true); // a copy: the follower's word view of its chunk does not apply
    expect(a.pendingBytes).toBe(0);
    const whole = a.finish(tail, 0, 2);
    expect(whole).toMatchObject({ buf: tail, start: 0, end: 2, joined: false });
  });

  it('counts and skips 100k junk lines (empty, binary, invalid UTF-8) without stalling', async () => {
    const parts: Buffer[] = [];
    let good = 0;
    for (let i = 0; i < 100_000; i++) {
      switch (i % 5) {
        case 0:
          parts.push(Buffer.from('\n'));
          break;
        case 1:
          parts.push(Buffer.from([0x00, 0x01, 0x02, 0x41, 0x0a]));
          break;
        case 2:
          parts.push(Buffer.from([0x66, 0xc3, 0x28, 0xff, 0x0a]));
          break;
        case 3:
          parts.push(Buffer.from('   \t\n'));
          break;
        default:
          parts.push(Buffer.from(`good ${i} ünïcode\n`));
          good++;
      }
    }
    fs.writeFileSync(log, Buffer.concat(parts));
    const f = follow(log, state);
    await until('100k lines', () => f.source.stats.received >= 100_000);
    await f.stop();
    expect(f.source.stats.received).toBe(100_000);
    expect(f.source.stats.malformed).toBe(100_000 - good);
    expect(f.lines.length).toBe(good);
    expect(f.lines.every((l) => l.text.startsWith('good ') && l.text.endsWith('ünïcode'))).toBe(true);
  });
});

describe('FileSource checkpoints and restarts', () => {
  it('resumes from the checkpoint without re-delivery', async () => {
    writeLines(log, 1, 100);
    const a = follow(log, state);
    await until('a.lines.length >= 100', () => a.lines.length >= 100);
    await a.stop();
    writeLines(log, 101, 200);
    const b = follow(log, state);
    await b.stopWhen(100, 600);
    expect(tally(texts(a), 100)).toEqual({ lost: [], duplicates: [], foreign: 0 });
    expect(b.lines[0]?.text).toBe(lineText(101));
    expect(b.lines.length).toBe(100);
  });

  it('marks lines that predate a checkpoint-less start as backlog, and nothing else', async () => {
    writeLines(log, 1, 50);
    const a = follow(log, state);
    await until('a.lines.length >= 50', () => a.lines.length >= 50);
    writeLines(log, 51, 60);
    await until('a.lines.length >= 60', () => a.lines.length >= 60);
    await a.stop();
    expect(a.lines.slice(0, 50).every((l) => l.backlog === true)).toBe(true);
    expect(a.lines.slice(50).some((l) => l.backlog !== false)).toBe(false);
    // After a restart from the checkpoint, lines written while stopped are not backlog.
    writeLines(log, 61, 70);
    const b = follow(log, state);
    await b.stopWhen(10, 600);
    expect(b.lines.map((l) => l.backlog)).toEqual(new Array(10).fill(false));
    // Backlog or not, a line has kmsg's shape (agent/types.ts lineOf): the handlers stay monomorphic.
    const shape = ['origin', 'seq', 'time', 'text', 'truncated', 'backlog'];
    for (const l of [...a.lines, ...b.lines]) expect(Object.keys(l)).toEqual(shape);
  });

  it('after a rename while stopped, drains the rotated file from the offset, then the new file', async () => {
    writeLines(log, 1, 100);
    const a = follow(log, state);
    await until('a.lines.length >= 100', () => a.lines.length >= 100);
    await a.stop();
    writeLines(log, 101, 150);
    fs.appendFileSync(log, lineText(151)); // unterminated last line of the rotated file
    fs.renameSync(log, `${log}-20260101`);
    writeLines(log, 152, 200);
    const b = follow(log, state, { rotateGraceMs: 200 });
    await b.stopWhen(100, 1500);
    const all = [...texts(a), ...texts(b)];
    expect(tally(all, 200)).toEqual({ lost: [], duplicates: [], foreign: 0 });
    expect(b.lines[0]?.text).toBe(lineText(101));
    expect(b.source.stats.rotations).toBe(1);
  });

  it('after copytruncate while stopped, reads the rest from the copy, then the file from 0', async () => {
    writeLines(log, 1, 100);
    const a = follow(log, state);
    await until('a.lines.length >= 100', () => a.lines.length >= 100);
    await a.stop();
    writeLines(log, 101, 150);
    fs.copyFileSync(log, `${log}.1`);
    fs.truncateSync(log, 0);
    writeLines(log, 151, 160);
    const b = follow(log, state);
    await b.stopWhen(60, 800);
    expect(tally([...texts(a), ...texts(b)], 160)).toEqual({ lost: [], duplicates: [], foreign: 0 });
    expect(b.source.stats.copiesRecovered).toBe(1);
  });

  it('a new file with the checkpointed inode number but other content is read from the start', async () => {
    writeLines(log, 1, 100);
    const a = follow(log, state);
    await until('a.lines.length >= 100', () => a.lines.length >= 100);
    await a.stop();
    // Rewrite in place (same inode), longer than the old offset: the fingerprint tells.
    const fd = fs.openSync(log, 'r+');
    fs.ftruncateSync(fd, 0);
    let s = '';
    for (let i = 1; i <= 200; i++) s += `other ${String(i).padStart(6, '0')} ${'y'.repeat(40)}\n`;
    fs.writeSync(fd, s, 0);
    fs.closeSync(fd);
    const b = follow(log, state);
    await b.stopWhen(200, 600);
    expect(b.lines.length).toBe(200);
    expect(b.lines[0]?.text.startsWith('other 000001')).toBe(true);
  });

  it('startAtEnd skips existing content (and an unfinished last line) when there is no checkpoint', async () => {
    writeLines(log, 1, 10);
    fs.appendFileSync(log, 'half');
    const f = follow(log, state, { startAtEnd: true });
    await until(`f.source.health().state === 'following'`, () => f.source.health().state === 'following'); // it has found the end
    fs.appendFileSync(log, ' line\n');
    writeLines(log, 11, 12);
    await f.stopWhen(2, 500);
    expect(texts(f)).toEqual([lineText(11), lineText(12)]);
  });

  it('startAtEnd on a file that does not exist yet reads it from the start once it appears', async () => {
    const f = follow(log, state, { startAtEnd: true });
    await until(`f.source.health().state !== 'starting'`, () => f.source.health().state !== 'starting');
    expect(f.source.health().state).toBe('waiting');
    writeLines(log, 1, 3); // created after start: nothing in it predates us, nothing is skipped
    await until('f.lines.length >= 3', () => f.lines.length >= 3);
    writeLines(log, 4, 4);
    await f.stopWhen(4, 500);
    expect(texts(f)).toEqual([lineText(1), lineText(2), lineText(3), lineText(4)]);
    expect(f.lines.some((l) => l.backlog)).toBe(false);
  });

  it('a checkpoint is written while running (throttled) and on shutdown', async () => {
    writeLines(log, 1, 10);
    const f = follow(log, state);
    await until('f.lines.length >= 10', () => f.lines.length >= 10);
    await until(
      'fs.existsSync(state) && fs.readdirSync(state).length > 0',
      () => fs.existsSync(state) && fs.readdirSync(state).length > 0,
    );
    const files = fs.readdirSync(state);
    expect(files.length).toBe(1);
    await f.stop();
    const doc = JSON.parse(fs.readFileSync(path.join(state, files[0] as string), 'utf8')) as {
      value: { offset: number; ino: string };
    };
    expect(doc.value.offset).toBe(fs.statSync(log).size);
    expect(doc.value.ino).toBe(String(fs.statSync(log, { bigint: true }).ino));
  });
});

describe('FileSource errors and shutdown', () => {
  it('a directory at the path (open works, read fails EISDIR) is reported degraded after a few polls (still alive), and recovers', async () => {
    fs.mkdirSync(log);
    const f = follow(log, state, { rotateGraceMs: 0 });
    await until('f.source.stats.errors >= 1', () => f.source.stats.errors >= 1);
    expect(f.source.health().lastError).toMatch(/EISDIR/);
    await until('f.source.health().degraded !== undefined', () => f.source.health().degraded !== undefined);
    const h = f.source.health();
    expect(h).toMatchObject({
      alive: true,
      state: 'unreadable',
      lastError: expect.stringMatching(/EISDIR/),
      degraded: expect.stringMatching(/^unreadable: .*EISDIR/),
    });
    expect(f.source.stats.errors).toBeGreaterThanOrEqual(UNREADABLE_AFTER_POLLS);
    // Replaced by a readable file: followed from its start, healthy again, error cleared.
    fs.rmdirSync(log);
    writeLines(log, 1, 3);
    await until('f.lines.length >= 3', () => f.lines.length >= 3);
    await until('f.source.health().degraded === undefined', () => f.source.health().degraded === undefined);
    expect(texts(f)).toEqual([lineText(1), lineText(2), lineText(3)]);
    expect(f.source.health()).toMatchObject({ alive: true, state: 'following' });
    expect(f.source.health().lastError).toBeUndefined();
    await f.stop();
  });

  it('an existing file that cannot be opened (EACCES) is not "missing": degraded after a few polls, then recovers', async () => {
    writeLines(log, 1, 2);
    let calls = 0;
    /** Health as each open attempt begins (attempt 1 runs inside run(), before `src` is set). */
    const seen = new Map<number, { alive: boolean; state: string; lastError?: string; degraded?: string }>();
    let src: FileSource | undefined;
    const open = async (p: string): Promise<FileHandlePort> => {
      calls++;
      if (src) seen.set(calls, src.health());
      if (calls <= 6) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
      return openReadOnly(p);
    };
    const f = follow(log, state, { open });
    src = f.source;
    await until('f.lines.length >= 2', () => f.lines.length >= 2);
    await until('f.source.health().degraded === undefined', () => f.source.health().degraded === undefined);
    // Attempt 1 is at start and counts with the first poll's (attempt 2): after attempts 1-4,
    // three polls in a row have failed, so attempt 5 begins with the source reported degraded.
    expect(seen.get(3)).toMatchObject({ alive: true, state: 'waiting', lastError: expect.stringMatching(/EACCES/) });
    expect(seen.get(4)).toMatchObject({ alive: true, state: 'waiting', lastError: expect.stringMatching(/EACCES/) });
    expect(seen.get(5)).toMatchObject({
      alive: true,
      state: 'unreadable',
      lastError: expect.stringMatching(/EACCES/),
      degraded: expect.stringMatching(/EACCES/),
    });
    expect(seen.get(6)).toMatchObject({ alive: true, state: 'unreadable' });
    expect(texts(f)).toEqual([lineText(1), lineText(2)]);
    expect(f.source.health()).toMatchObject({ alive: true, state: 'following' });
    expect(f.source.health().lastError).toBeUndefined();
    await f.stop();
  });

  it('a missing path is waiting, not unreadable: it stays alive without an error', async () => {
    const f = follow(log, state);
    await f.polls(UNREADABLE_AFTER_POLLS + 3);
    expect(f.source.health()).toMatchObject({ alive: true, state: 'waiting' });
    expect(f.source.health().lastError).toBeUndefined();
    await f.stop();
  });

  it('stops on abort without waiting out its poll sleep, and run() resolves', async () => {
    // A poll interval past the test's 30 s timeout: only the abort can end the sleep.
    const f = follow(log, state, { pollIntervalMs: 600_000 });
    await until(`f.source.health().state === 'waiting'`, () => f.source.health().state === 'waiting');
    await f.stop();
    expect(f.source.health().state).toBe('stopped');
  });

  it('sleeps longer and longer while the file is quiet, and the short interval again after data', async () => {
    writeLines(log, 1, 3);
    const asked: number[] = [];
    let wake: (() => void) | undefined;
    // The sleep asked for is recorded; the test decides when it ends (no time passes).
    const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
      new Promise<void>((resolve) => {
        asked.push(ms);
        wake = resolve;
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    const f = follow(log, state, { pollIntervalMs: 250, idlePollIntervalMs: 1000, sleep });
    const sleeps = async (n: number): Promise<void> => {
      while (asked.length < n) {
        await until('wake !== undefined', () => wake !== undefined);
        const w = wake!;
        wake = undefined;
        if (asked.length >= n) {
          wake = w; // leave the last sleep pending
          break;
        }
        w();
      }
    };
    await until('asked.length === 1', () => asked.length === 1);
    expect(f.lines).toHaveLength(3);
    await sleeps(6);
    expect(asked).toEqual([250, 500, 1000, 1000, 1000, 1000]);
    writeLines(log, 4, 4);
    await sleeps(9);
    expect(f.lines).toHaveLength(4);
    expect(asked.slice(6)).toEqual([250, 500, 1000]); // the poll that read line 4 is followed by 250 ms
    await f.stop();
  });

  it('awaits the handler (backpressure): no line is handed on before the previous one settled', async () => {
    writeLines(log, 1, 50);
    const { CheckpointStore } = await import('../../agent/sources/checkpoint');
    const { FileSource } = await import('../../agent/sources/file');
    const { FakeClock } = await import('../helpers/fake-clock');
    const { quietLogger } = await import('../fixtures/files/follow-harness');
    const src = new FileSource({
      path: log,
      checkpoints: new CheckpointStore(state, quietLogger),
      clock: new FakeClock(),
      logger: quietLogger,
      pollIntervalMs: 20,
    });
    let inFlight = 0;
    let maxInFlight = 0;
    let n = 0;
    const ac = new AbortController();
    const done = src.run(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r)); // settles later, after other I/O had a turn
      inFlight--;
      n++;
    }, ac.signal);
    await until('n >= 50', () => n >= 50);
    ac.abort();
    await done;
    expect(n).toBe(50);
    expect(maxInFlight).toBe(1);
  });
});
