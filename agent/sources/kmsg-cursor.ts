// kmsg-cursor.ts: the /dev/kmsg position arithmetic, pure: no fd, no clock, no logger. Given
// where a run starts (the checkpoint of this boot, or where the backlog ends) and the events the
// driver (kmsg.ts) sees on the device, it decides each record's fate (skip: handled before the
// restart; skip-old: backlog older than startAfterMs; deliver, with the backlog flag), counts the
// sequence gaps (records the kernel overwrote before they were read, minus those consumed
// unreadable by EINVAL), notices a checkpoint ahead of the kernel once the ring is drained, and
// says what to persist. See the header of kmsg.ts for why each rule is what it is.

export interface KmsgCheckpoint {
  readonly bootId: string;
  readonly seq: number;
}

/** A checkpoint as loaded from disk: undefined unless it has a string bootId and a seq >= 0. */
export function validKmsgCheckpoint(v: unknown): KmsgCheckpoint | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { bootId, seq } = v as { bootId?: unknown; seq?: unknown };
  if (typeof bootId !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { bootId, seq };
}

/** The seq to resume after: the checkpoint's when it belongs to this boot, else undefined. */
export function kmsgResumeSeq(bootId: string | undefined, saved: KmsgCheckpoint | undefined): number | undefined {
  return bootId !== undefined && saved !== undefined && saved.bootId === bootId ? saved.seq : undefined;
}

export interface KmsgCursorStart {
  /** Boot id; without one nothing is persisted. */
  readonly bootId: string | undefined;
  /** Records with seq <= this were handled by an earlier run of this boot (kmsgResumeSeq). */
  readonly resumeAfterSeq: number | undefined;
  /** Without a checkpoint: the newest seq in the ring at start (backlog is seq <= it). */
  readonly backlogUpToSeq?: number | undefined;
  /** Fallback when the ring could not be scanned: records timed before this are backlog. */
  readonly backlogBeforeMs: number;
  /** Without a checkpoint: backlog records timed before this (epoch ms) are skipped. */
  readonly startAfterMs?: number | undefined;
}

/** Records lost between two reads: seq fromSeq..toSeq minus those EINVAL consumed. */
export interface KmsgGap {
  readonly lost: number;
  readonly fromSeq: number;
  readonly toSeq: number;
  /** The kernel said EPIPE since the previous record (an overrun while running). */
  readonly overrun: boolean;
}

export type KmsgDecision =
  /** At or before the checkpoint: handled before the restart; not a position change. */
  | { readonly action: 'skip' }
  /** Backlog older than startAfterMs: skipped, and handled (persisted) at once. */
  | { readonly action: 'skip-old'; readonly gap: KmsgGap | undefined }
  /** Hand to the handler; call handled(seq) once it resolved or threw (not on abort). */
  | { readonly action: 'deliver'; readonly backlog: boolean; readonly gap: KmsgGap | undefined };

/** A checkpoint found ahead of the newest record in the ring (the ring was reset, or the file is stale). */
export interface KmsgAheadCheckpoint {
  readonly checkpointSeq: number;
  readonly newestSeq: number;
}

const SKIP: KmsgDecision = { action: 'skip' };
/** The decisions without a gap, shared: record() allocates nothing for a record in sequence. */
const SKIP_OLD: KmsgDecision = { action: 'skip-old', gap: undefined };
const DELIVER_NEW: KmsgDecision = { action: 'deliver', backlog: false, gap: undefined };
const DELIVER_BACKLOG: KmsgDecision = { action: 'deliver', backlog: true, gap: undefined };

export class KmsgCursor {
  private readonly resume: boolean;
  private readonly bootId: string | undefined;
  private readonly backlogUpToSeq: number | undefined;
  private readonly backlogBeforeMs: number;
  private readonly startAfterMs: number | undefined;
  /** Records with seq <= skipUpTo were handled before the restart. */
  private skipUpTo: number;
  /** Seq of the last record read (for gap counting); from the checkpoint when resuming. */
  private lastSeq: number;
  /** Newest seq read from the device (to detect a checkpoint ahead of the kernel). */
  private maxSeenSeq = -1;
  /** Last seq handled: what is persisted. */
  private handledSeq: number;
  /** Records consumed without a readable seq (EINVAL) since the last good read. */
  private consumedUnknown = 0;
  private overrunPending = false;
  private caughtUpOnce = false;

  constructor(start: KmsgCursorStart) {
    this.resume = start.resumeAfterSeq !== undefined;
    this.bootId = start.bootId;
    const from = start.resumeAfterSeq ?? -1;
    this.skipUpTo = from;
    this.lastSeq = from;
    this.handledSeq = from;
    this.backlogUpToSeq = this.resume ? undefined : start.backlogUpToSeq;
    this.backlogBeforeMs = this.resume ? -Infinity : start.backlogBeforeMs;
    this.startAfterMs = this.resume ? undefined : start.startAfterMs;
  }

  /** The device said EPIPE: the next gap is an overrun. */
  overrun(): void {
    this.overrunPending = true;
  }

  /** The device consumed a record it could not hand over (EINVAL): not lost. */
  consumedUnreadable(): void {
    this.consumedUnknown++;
  }

  /**
   * The ring is drained (EAGAIN). The first time, a resumed checkpoint beyond the newest record
   * read is given up (the cursor moves back to that record) and reported; otherwise undefined.
   */
  caughtUp(): KmsgAheadCheckpoint | undefined {
    if (this.caughtUpOnce) return undefined;
    this.caughtUpOnce = true;
    if (!this.resume || this.maxSeenSeq < 0 || this.maxSeenSeq >= this.skipUpTo) return undefined;
    const ahead = { checkpointSeq: this.skipUpTo, newestSeq: this.maxSeenSeq };
    this.skipUpTo = this.maxSeenSeq;
    this.lastSeq = this.maxSeenSeq;
    return ahead;
  }

  /** A record with a readable header: its seq and wall-clock time. */
  record(seq: number, timeMs: number): KmsgDecision {
    if (seq > this.maxSeenSeq) this.maxSeenSeq = seq;
    if (seq <= this.skipUpTo) return SKIP;
    let gap: KmsgGap | undefined;
    if (this.lastSeq >= 0 && seq > this.lastSeq + 1) {
      const lost = seq - this.lastSeq - 1 - this.consumedUnknown;
      if (lost > 0) gap = { lost, fromSeq: this.lastSeq + 1, toSeq: seq - 1, overrun: this.overrunPending };
    }
    this.overrunPending = false;
    this.consumedUnknown = 0;
    this.lastSeq = seq;
    const backlog = this.backlogUpToSeq !== undefined ? seq <= this.backlogUpToSeq : timeMs < this.backlogBeforeMs;
    if (this.startAfterMs !== undefined && backlog && timeMs < this.startAfterMs) {
      this.handledSeq = seq;
      return gap === undefined ? SKIP_OLD : { action: 'skip-old', gap };
    }
    if (gap === undefined) return backlog ? DELIVER_BACKLOG : DELIVER_NEW;
    return { action: 'deliver', backlog, gap };
  }

  /** The record was handled (handler resolved or threw, or its text was junk). */
  handled(seq: number): void {
    this.handledSeq = seq;
  }

  /** The seq of the last record handled (-1 before any): changes exactly when checkpoint() does. */
  handledUpTo(): number {
    return this.handledSeq;
  }

  /** What to persist, or undefined when there is nothing yet (or no boot id). */
  checkpoint(): KmsgCheckpoint | undefined {
    return this.bootId !== undefined && this.handledSeq >= 0
      ? { bootId: this.bootId, seq: this.handledSeq }
      : undefined;
  }
}
