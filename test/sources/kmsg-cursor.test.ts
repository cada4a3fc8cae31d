// kmsg-cursor.test.ts: the pure kmsg position arithmetic (agent/sources/kmsg-cursor.ts) on plain
// data: no fd, no clock. Resume, skip, backlog by seq and by time, startAfterMs, sequence gaps
// after EPIPE and EINVAL, a checkpoint ahead of the kernel, what is persisted; and a seeded
// simulation of a ring that overwrites records, checked against the exact count it overwrote.
import { describe, expect, it } from 'vitest';
import {
  KmsgCursor,
  kmsgResumeSeq,
  validKmsgCheckpoint,
  type KmsgCursorStart,
  type KmsgDecision,
} from '../../agent/sources/kmsg-cursor';

const fresh = (over: Partial<KmsgCursorStart> = {}): KmsgCursor =>
  new KmsgCursor({ bootId: 'b', resumeAfterSeq: undefined, backlogBeforeMs: 1_000, ...over });
const resumed = (seq: number, over: Partial<KmsgCursorStart> = {}): KmsgCursor =>
  fresh({ resumeAfterSeq: seq, ...over });
/** Reads the records (time = seq ms unless timeOf says), handling every delivered one. */
const readAll = (c: KmsgCursor, seqs: number[], timeOf = (s: number) => s): KmsgDecision[] =>
  seqs.map((s) => {
    const d = c.record(s, timeOf(s));
    if (d.action === 'deliver') c.handled(s);
    return d;
  });

describe('checkpoint validation and resume', () => {
  it('accepts only {bootId: string, seq: safe integer >= 0}', () => {
    expect(validKmsgCheckpoint({ bootId: 'x', seq: 0 })).toEqual({ bootId: 'x', seq: 0 });
    expect(validKmsgCheckpoint({ bootId: 'x', seq: 7, extra: 1 })).toEqual({ bootId: 'x', seq: 7 });
    for (const bad of [
      undefined,
      null,
      'x',
      3,
      [],
      {},
      { bootId: 'x' },
      { seq: 1 },
      { bootId: 1, seq: 1 },
      { bootId: 'x', seq: -1 },
      { bootId: 'x', seq: 1.5 },
      { bootId: 'x', seq: '1' },
      { bootId: 'x', seq: Number.MAX_SAFE_INTEGER + 1 },
      { bootId: 'x', seq: NaN },
    ]) {
      expect(validKmsgCheckpoint(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('resumes only from a checkpoint of this boot', () => {
    expect(kmsgResumeSeq('b', { bootId: 'b', seq: 5 })).toBe(5);
    expect(kmsgResumeSeq('b', { bootId: 'b', seq: 0 })).toBe(0);
    expect(kmsgResumeSeq('b', { bootId: 'a', seq: 5 })).toBeUndefined();
    expect(kmsgResumeSeq(undefined, { bootId: 'b', seq: 5 })).toBeUndefined();
    expect(kmsgResumeSeq('b', undefined)).toBeUndefined();
  });
});

describe('KmsgCursor without a checkpoint', () => {
  it('delivers from the oldest record, backlog up to the scanned seq, new after it', () => {
    const c = fresh({ backlogUpToSeq: 11 });
    const ds = readAll(c, [10, 11, 12, 13]);
    expect(ds).toEqual([
      { action: 'deliver', backlog: true, gap: undefined },
      { action: 'deliver', backlog: true, gap: undefined },
      { action: 'deliver', backlog: false, gap: undefined },
      { action: 'deliver', backlog: false, gap: undefined },
    ]);
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 13 });
  });

  it('tells backlog by seq, not time, when the scan worked: a late record with an early time is new', () => {
    const c = fresh({ backlogUpToSeq: 5, backlogBeforeMs: 1_000 });
    expect(c.record(6, 10)).toMatchObject({ action: 'deliver', backlog: false });
  });

  it('tells backlog by time when the scan failed', () => {
    const c = fresh({ backlogUpToSeq: undefined, backlogBeforeMs: 1_000 });
    expect(c.record(1, 999)).toMatchObject({ action: 'deliver', backlog: true });
    expect(c.record(2, 1_000)).toMatchObject({ action: 'deliver', backlog: false });
  });

  it('skips backlog older than startAfterMs and persists it as handled; never skips new records', () => {
    const c = fresh({ backlogUpToSeq: 3, startAfterMs: 500 });
    expect(c.record(1, 100)).toEqual({ action: 'skip-old', gap: undefined });
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 1 });
    expect(c.record(2, 500)).toMatchObject({ action: 'deliver', backlog: true });
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 1 }); // not handled yet
    c.handled(2);
    expect(c.record(3, 499)).toEqual({ action: 'skip-old', gap: undefined });
    expect(c.record(4, 1)).toMatchObject({ action: 'deliver', backlog: false }); // after the scan: new
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 3 });
  });

  it('counts a gap on the first record only after one was read (the ring start is not a gap)', () => {
    const c = fresh();
    expect(c.record(40, 0)).toMatchObject({ gap: undefined });
    expect(c.record(45, 0)).toMatchObject({ gap: { lost: 4, fromSeq: 41, toSeq: 44, overrun: false } });
  });

  it('persists nothing before a record is handled, nor without a boot id', () => {
    const c = fresh();
    expect(c.checkpoint()).toBeUndefined();
    expect(c.record(0, 0).action).toBe('deliver');
    expect(c.checkpoint()).toBeUndefined();
    c.handled(0);
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 0 });
    const anon = fresh({ bootId: undefined });
    readAll(anon, [1, 2]);
    expect(anon.checkpoint()).toBeUndefined();
  });

  it('never reports a checkpoint ahead when not resuming', () => {
    const c = fresh();
    readAll(c, [1]);
    expect(c.caughtUp()).toBeUndefined();
  });
});

describe('KmsgCursor resuming from a checkpoint of this boot', () => {
  it('skips records at or before the checkpoint without a gap or a position change', () => {
    const c = resumed(5);
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 5 });
    expect(readAll(c, [3, 4, 5]).map((d) => d.action)).toEqual(['skip', 'skip', 'skip']);
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 5 });
    expect(c.record(6, 0)).toEqual({ action: 'deliver', backlog: false, gap: undefined });
  });

  it('counts records that fell out of the ring while stopped, not as an overrun', () => {
    const c = resumed(5);
    expect(c.record(9, 0)).toEqual({
      action: 'deliver',
      backlog: false,
      gap: { lost: 3, fromSeq: 6, toSeq: 8, overrun: false },
    });
  });

  it('never marks backlog nor applies startAfterMs or the scan: the checkpoint vouches for what follows', () => {
    const c = resumed(5, { backlogUpToSeq: 100, backlogBeforeMs: 1e12, startAfterMs: 1e12 });
    expect(c.record(6, 0)).toEqual({ action: 'deliver', backlog: false, gap: undefined });
  });

  it('gives up a checkpoint ahead of the kernel once caught up, and carries on from the newest record', () => {
    const c = resumed(100);
    expect(readAll(c, [20, 21, 22]).map((d) => d.action)).toEqual(['skip', 'skip', 'skip']);
    expect(c.caughtUp()).toEqual({ checkpointSeq: 100, newestSeq: 22 });
    expect(c.caughtUp()).toBeUndefined(); // only the first time
    expect(c.record(23, 0)).toEqual({ action: 'deliver', backlog: false, gap: undefined });
    c.handled(23);
    expect(c.checkpoint()).toEqual({ bootId: 'b', seq: 23 });
  });

  it('keeps a checkpoint the ring reached, or an empty ring, when caught up', () => {
    const reached = resumed(22);
    readAll(reached, [21, 22]);
    expect(reached.caughtUp()).toBeUndefined();
    const empty = resumed(22);
    expect(empty.caughtUp()).toBeUndefined();
    expect(empty.record(10, 0).action).toBe('skip');
  });

  it('checks for a checkpoint ahead only at the first catch-up', () => {
    const c = resumed(100);
    expect(c.caughtUp()).toBeUndefined(); // empty ring at start
    readAll(c, [20]);
    expect(c.caughtUp()).toBeUndefined();
    expect(c.record(21, 0).action).toBe('skip');
  });
});

describe('KmsgCursor gaps', () => {
  it('flags an overrun gap after EPIPE, and only the next gap', () => {
    const c = fresh();
    readAll(c, [1]);
    c.overrun();
    expect(c.record(5, 0)).toMatchObject({ gap: { lost: 3, fromSeq: 2, toSeq: 4, overrun: true } });
    expect(c.record(7, 0)).toMatchObject({ gap: { lost: 1, overrun: false } });
  });

  it('an EPIPE followed by the next record in order is no gap and leaves no flag behind', () => {
    const c = fresh();
    readAll(c, [1]);
    c.overrun();
    expect(c.record(2, 0)).toMatchObject({ gap: undefined });
    expect(c.record(4, 0)).toMatchObject({ gap: { lost: 1, overrun: false } });
  });

  it('does not count records consumed by EINVAL as lost', () => {
    const c = fresh();
    readAll(c, [1]);
    c.consumedUnreadable();
    expect(c.record(3, 0)).toMatchObject({ gap: undefined });
    c.consumedUnreadable();
    c.overrun();
    expect(c.record(7, 0)).toMatchObject({ gap: { lost: 2, fromSeq: 4, toSeq: 6, overrun: true } });
  });

  it('reports the gap on a skip-old record too, and forgets EINVALs counted against it', () => {
    const c = fresh({ backlogUpToSeq: 10, startAfterMs: 50 });
    readAll(c, [1]);
    c.consumedUnreadable();
    expect(c.record(4, 0)).toEqual({ action: 'skip-old', gap: { lost: 1, fromSeq: 2, toSeq: 3, overrun: false } });
    expect(c.record(5, 0)).toEqual({ action: 'skip-old', gap: undefined });
  });

  it('counts a record skipped as before the checkpoint in no gap', () => {
    const c = resumed(5);
    c.overrun();
    expect(c.record(2, 0).action).toBe('skip'); // the oldest record after an overrun
    expect(c.record(6, 0)).toMatchObject({ gap: undefined });
  });

  /** A tiny seeded PRNG (mulberry32), so a failure replays. */
  const prng = (seed: number) => (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  it('over a simulated ring, lost + EINVAL + delivered accounts for every seq exactly', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(seed);
      const start = Math.floor(rand() * 5);
      const resumeAt = rand() < 0.5 ? start + Math.floor(rand() * 10) : undefined;
      const c = fresh({ resumeAfterSeq: resumeAt });
      // The ring's oldest records: skipped up to the checkpoint, or the first one delivered.
      let seq = start;
      let delivered = 0;
      if (resumeAt === undefined) {
        expect(c.record(seq++, 0).action).toBe('deliver');
      } else {
        for (; seq <= resumeAt; seq++) expect(c.record(seq, 0).action).toBe('skip');
      }
      const base = seq;
      let overwritten = 0;
      let einval = 0;
      let lost = 0;
      const last = start + 200 + Math.floor(rand() * 300);
      while (seq <= last) {
        const r = rand();
        if (r < 0.05) {
          // the ring overwrote a run the reader had not read: EPIPE, then the oldest left
          const n = 1 + Math.floor(rand() * 20);
          overwritten += n;
          seq += n;
          c.overrun();
        } else if (r < 0.1) {
          c.consumedUnreadable();
          einval++;
          seq++;
        } else {
          const d = c.record(seq, 0);
          expect(d.action).toBe('deliver');
          lost += d.action === 'deliver' ? (d.gap?.lost ?? 0) : 0;
          delivered++;
          c.handled(seq++);
        }
      }
      // A gap after the last record read shows only at the next one.
      const d = c.record(seq, 0);
      lost += d.action === 'deliver' ? (d.gap?.lost ?? 0) : 0;
      expect({ seed, lost }).toEqual({ seed, lost: overwritten });
      expect(delivered + lost + einval, `seed ${seed}`).toBe(seq - base);
    }
  });
});
