// file.ts: follows one log file (rsyslog output such as /var/log/kern.log) by file descriptor,
// across rotation, and hands each complete line to the engine.
//
// How it follows (all by polling; no fs.watch, which misses events on overlay/NFS and in
// containers):
// - It reads the open fd at its own offset until EOF, then sleeps pollIntervalMs (abortable). A
//   poll whose fstat shows no bytes beyond that offset does not read.
//   With idlePollIntervalMs above it, each poll that read nothing doubles the sleep up to that,
//   back to pollIntervalMs after a poll that read something (the agent: 250 ms to 1 s).
// - Rename rotation: stat(path) names another inode than fstat(fd). The old fd is drained
//   until it has been quiet (no new bytes) for rotateGraceMs measured from the later of "saw
//   the rotation" and "last bytes read": rsyslog and other writers keep writing to the renamed
//   file until they are HUPed. A final unterminated line of the old file is emitted then, and
//   the follower switches to the new file at offset 0.
// - Path missing (at start, or renamed away and not yet re-created): wait for it; the old fd, if
//   any, keeps being read meanwhile (closed once it is deleted and quiet, so its space is freed).
// - copytruncate: the file shrank below our offset, or the bytes just before our offset no
//   longer match what we read (truncated and re-grown between two polls). The unread rest is
//   read from the copy (`path.1`, `path-<date>`, found by content fingerprint), then the
//   truncated file from 0. Only lines written between the copy and the truncation are lost;
//   nobody can see those, so nobody can count them. If no copy is found, the partial line we
//   held is counted in stats.lost and bytes we knew of but had not read in lostBytes.
// - Position {dev, ino, offset, fp} is checkpointed (throttled by the store, and on shutdown);
//   `offset` is just past the last line handed on, `fp` the bytes before it. On restart: same
//   inode and same fingerprint at the path → resume; same inode but smaller → truncated while
//   stopped (read the rest from the copy if found, then 0); other inode at the path → find the
//   checkpointed inode among the rotated siblings, drain it from the offset, then the new file
//   from 0. No checkpoint → read the file from the start (NPD's behaviour; lookback filters) or,
//   with startAtEnd, from its end.
// - Unreadable: a path that exists but cannot be opened (EACCES, ENOTDIR, ...) or read (a
//   directory: open works, read fails with EISDIR) is not "missing". Every such failure sets
//   lastError; after UNREADABLE_AFTER_POLLS polls in a row with one, health() reports it
//   degraded, state 'unreadable' (still alive: a restart would not fix it, and /healthz is the
//   liveness probe), until a poll goes through without one (the file became
//   readable, or went away: a missing path is 'waiting', which is healthy).
// - Lines: never half a line (a partial last line waits for its newline), "\r\n" accepted,
//   cut at maxLineBytes (the rest of the line is skipped while scanning, never held), junk
//   (empty, binary, invalid UTF-8) counted as malformed and skipped: see text-guard.ts.
//
// The states (following, orphaned, draining, copy, waiting) and the decisions between them are in
// file-states.ts, pure; this file is the I/O driver. All file access goes through a FilePort
// (file-port.ts; default node:fs through runtime/fs-async.ts), so tests run it on an in-memory file system and the
// fake clock.
import { backoffStep } from '../runtime/backoff';
import { sleeperFor } from '../runtime/clock';
import { errText } from '../runtime/err-text';
import type { Clock, LineHandler, Logger, Source, SourceHealth, SourceStats, Sleep } from '../types';
import { lineOf, newSourceStats } from '../types';
import { checkpointName, type CheckpointStore } from './checkpoint';
import { LineAssembler, type RawLine } from './file-lines';
import { nodeFilePort, type FileHandlePort, type FilePort } from './file-port';
import { identOf, openCopyByFingerprint, openSiblingByIdent, sameIdent } from './file-rotation';
import {
  checkpointedFile,
  healthState,
  identKey,
  isPosition,
  onPathStat,
  openFiles,
  resumePlan,
  sizeCheck,
  whenQuiet,
  withNext,
  type FilePosition,
  type FileSourceState,
  type FileState,
  type Following,
  type OpenFile,
  type Reading,
} from './file-states';
import { DEFAULT_MAX_LINE_BYTES, guardText, wordsOf } from './text-guard';

export type { FilePosition, FileSourceState } from './file-states';

export const DEFAULT_POLL_INTERVAL_MS = 250;
export const DEFAULT_READ_CHUNK_BYTES = 64 * 1024;
export const DEFAULT_ROTATE_GRACE_MS = 1000;

/** Bytes of read data remembered to recognise our file (copytruncate, inode reuse). */
const FINGERPRINT_BYTES = 64;
const TAIL_BYTES = 1024;
/** Polls in a row with an open/read failure after which health() reports the source degraded. */
export const UNREADABLE_AFTER_POLLS = 3;

export interface FileSourceOptions {
  /** The file to follow (absolute path; it is the source id and LogLine.origin). */
  readonly path: string;
  readonly checkpoints: Pick<CheckpointStore, 'load' | 'save' | 'saveThrottled' | 'isDirty'>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pollIntervalMs?: number;
  /**
   * Longest sleep between polls: each poll in a row that read nothing doubles the sleep from
   * pollIntervalMs up to this. Default pollIntervalMs (a fixed interval).
   */
  readonly idlePollIntervalMs?: number;
  /** Lines longer than this are cut (and counted in stats.truncated). Default 16 KiB. */
  readonly maxLineBytes?: number;
  /** Size of one read(). Default 64 KiB. */
  readonly readChunkBytes?: number;
  /** With no checkpoint, start at the end of an existing file instead of its start. */
  readonly startAtEnd?: boolean;
  /** After a rename, how long the old file must stay quiet before we leave it. Default 1 s. */
  readonly rotateGraceMs?: number;
  /** Checkpoint name; default `file:<path>`. */
  readonly checkpointName?: string;
  /** Abortable sleep; default sleeperFor(clock). */
  readonly sleep?: Sleep;
  /** The file system; default the real one (file-port.ts). Tests pass an in-memory one. */
  readonly fs?: FilePort;
  /**
   * Opens the followed path (and its siblings) read-only, in place of fs.open. Tests inject
   * failures such as EACCES, which chmod cannot produce for root.
   */
  readonly open?: (path: string) => Promise<FileHandlePort>;
}

export interface FileSourceStats extends SourceStats {
  /** Rename rotations followed (switches to a new file at the path). */
  rotations: number;
  /** Truncations seen (copytruncate, or the file rewritten in place). */
  truncations: number;
  /** Truncations whose unread part was recovered from the rotated copy. */
  copiesRecovered: number;
  /** Bytes we knew were in the file but could not read before it was truncated. */
  lostBytes: number;
  bytesRead: number;
}

export interface FileSourceHealth extends SourceHealth {
  /**
   * waiting: the path does not exist (yet); draining: reading a rotated file before switching;
   * unreadable: the path exists but has failed to open or read for UNREADABLE_AFTER_POLLS polls.
   */
  readonly state: FileSourceState;
  readonly offset: number;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function closeQuietly(fh: FileHandlePort): Promise<void> {
  await fh.close().catch(() => undefined);
}

export class FileSource implements Source {
  readonly id: string;
  readonly stats: FileSourceStats = {
    ...newSourceStats(),
    rotations: 0,
    truncations: 0,
    copiesRecovered: 0,
    lostBytes: 0,
    bytesRead: 0,
  };

  private readonly path: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly checkpoints: FileSourceOptions['checkpoints'];
  private readonly cpName: string;
  private readonly pollMs: number;
  private readonly idlePollMs: number;
  private readonly maxLineBytes: number;
  private readonly graceMs: number;
  private readonly startAtEnd: boolean;
  private readonly fs: FilePort;
  private readonly chunk: Buffer;
  /** chunk as 32-bit words, for text-guard's 4-byte steps (undefined if unaligned). */
  private readonly words: Uint32Array | undefined;
  private readonly lines: LineAssembler;

  /** Which files are open and what they are to us (file-states.ts). */
  private st: FileState = { kind: 'starting' };

  // The read position in the file being read (the copy after a truncation shares it: same offsets).
  /**
   * Without a checkpoint, lines up to this offset of the first file were written before we
   * started: they are marked `backlog` so consumers apply their lookback. -1: none.
   */
  private backlogEnd = -1;
  /** Next byte to read. */
  private readOffset = 0;
  /** Just past the last line handed on (what the checkpoint stores). */
  private committed = 0;
  /** The last ≤ TAIL_BYTES bytes before readOffset. */
  private readonly tail = Buffer.alloc(TAIL_BYTES);
  private tailLen = 0;
  /** Size of the file at the last fstat. */
  private lastSize = 0;
  /** Skip up to the first newline (startAtEnd on a file whose last line is unfinished). */
  private skipToNewline = false;
  private lastSavedKey = '';

  private alive = true;
  private running = false;
  private lastPollAt = 0;
  private lastError: string | undefined;
  private lastLoggedError: string | undefined;
  /** An open/read/stat of the file failed during the current poll (not ENOENT). */
  private ioFailed = false;
  /** Polls in a row that had such a failure, and the message of the last one. */
  private failedPolls = 0;
  private ioError: string | undefined;

  constructor(opts: FileSourceOptions) {
    this.path = opts.path;
    this.id = opts.path;
    this.clock = opts.clock;
    this.log = opts.logger.child({ source: 'file', path: opts.path });
    this.sleep = opts.sleep ?? sleeperFor(opts.clock);
    this.checkpoints = opts.checkpoints;
    this.cpName = opts.checkpointName ?? checkpointName({ kind: 'file', path: opts.path });
    this.pollMs = Math.max(1, opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.idlePollMs = Math.max(this.pollMs, opts.idlePollIntervalMs ?? this.pollMs);
    this.maxLineBytes = Math.max(1, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.graceMs = Math.max(0, opts.rotateGraceMs ?? DEFAULT_ROTATE_GRACE_MS);
    this.startAtEnd = opts.startAtEnd ?? false;
    const fs = opts.fs ?? nodeFilePort;
    this.fs = opts.open ? { ...fs, open: opts.open } : fs;
    this.chunk = Buffer.alloc(Math.max(4096, opts.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES));
    this.words = wordsOf(this.chunk);
    // Keep a few bytes past the cap so text-guard sees the line is long and cuts it at a
    // character boundary.
    this.lines = new LineAssembler(this.maxLineBytes + 4);
  }

  health(): FileSourceHealth {
    const unreadable = this.failedPolls >= UNREADABLE_AFTER_POLLS && this.st.kind !== 'stopped';
    return {
      alive: this.alive,
      lastPollAt: this.lastPollAt,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(unreadable ? { degraded: `unreadable: ${this.lastError ?? 'unknown error'}` } : {}),
      state: unreadable ? 'unreadable' : healthState(this.st),
      offset: this.committed,
    };
  }

  async run(onLine: LineHandler, signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error(`FileSource ${this.path} is already running`);
    this.running = true;
    try {
      await this.start(onLine, signal);
      const pace = { baseMs: this.pollMs, capMs: this.idlePollMs };
      /** Polls in a row that read nothing: the sleep doubles with each. */
      let emptyPolls = 0;
      while (!signal.aborted) {
        let busy = false;
        const bytesBefore = this.stats.bytesRead;
        try {
          busy = await this.poll(onLine, signal);
        } catch (err) {
          // Not expected (fd errors are handled inside); count, report and go on polling.
          this.noteError(err, 'poll failed');
        }
        this.accountPoll();
        emptyPolls = this.stats.bytesRead === bytesBefore ? emptyPolls + 1 : 0;
        if (!busy && !signal.aborted) await this.sleep(backoffStep(emptyPolls + 1, pace), signal);
      }
    } catch (err) {
      this.alive = false;
      this.noteError(err, 'file source died');
    } finally {
      this.saveNow();
      const open = openFiles(this.st);
      this.st = { kind: 'stopped' };
      for (const fh of open) await closeQuietly(fh);
      this.running = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Start: checkpoint or not
  // -------------------------------------------------------------------------------------------

  private async start(onLine: LineHandler, signal: AbortSignal): Promise<void> {
    const raw = this.checkpoints.load<unknown>(this.cpName);
    const cp = raw === undefined ? undefined : isPosition(raw) ? raw : undefined;
    if (raw !== undefined && !cp) this.log.warn({ checkpoint: raw }, 'ignoring malformed file checkpoint');
    const opened = await this.openFile();
    const now = this.clock.now();
    this.lastPollAt = now;
    const s = opened ? this.adopt(opened) : undefined;
    if (!s) this.st = { kind: 'waiting' };
    if (!cp) {
      if (s && this.startAtEnd) await this.seekToEnd(s.cur.fh);
      else if (s) this.backlogEnd = this.lastSize;
      this.log.info({ offset: this.readOffset, exists: s !== undefined }, 'following file (no checkpoint)');
      return;
    }
    const fp = cp.fp !== undefined ? Buffer.from(cp.fp, 'base64') : Buffer.alloc(0);
    const plan = resumePlan(cp, opened);
    if (s && plan === 'same-file') {
      if (await this.bytesBeforeMatch(s.cur.fh, cp.offset, fp)) {
        this.setPosition(cp.offset, fp);
        this.log.info({ offset: cp.offset }, 'resuming file from checkpoint');
      } else {
        // Same inode number, other content: the inode was reused by a new file.
        this.log.warn({ offset: cp.offset }, 'file at checkpointed inode has other content; reading it from the start');
      }
      return;
    }
    if (s && plan === 'shrunk') {
      this.log.warn({ offset: cp.offset, size: this.lastSize }, 'file shrank while stopped (copytruncate)');
      this.stats.truncations++;
      this.setPosition(cp.offset, fp);
      await this.recoverFromCopy(s, onLine, signal, 0);
      return;
    }
    // The checkpointed file is no longer at the path: look for it among the rotated siblings.
    const sib = await openSiblingByIdent(this.fs, this.path, cp);
    if (sib && sib.size >= cp.offset && (await this.bytesBeforeMatch(sib.fh, cp.offset, fp))) {
      // The file now at the path is what comes after the rotated one.
      const cur: OpenFile = { fh: sib.fh, ident: sib.ident, size: sib.size };
      this.lastSize = sib.size;
      this.setPosition(cp.offset, fp);
      this.st = opened
        ? { kind: 'draining', cur, next: opened, atPath: identKey(opened.ident), quietSince: now }
        : { kind: 'orphaned', cur, atPath: '', quietSince: now };
      this.log.info(
        { rotated: sib.path, offset: cp.offset },
        'file rotated while stopped; draining the rotated file first',
      );
      return;
    }
    if (sib) await closeQuietly(sib.fh);
    this.log.warn(
      { dev: cp.dev, ino: cp.ino, offset: cp.offset },
      'checkpointed file not found among rotated siblings; its unread remainder (if any) is lost; reading the current file from the start',
    );
  }

  /** Opens the path; undefined when it does not exist (or cannot be opened: counted). */
  private async openFile(): Promise<OpenFile | undefined> {
    let fh: FileHandlePort;
    try {
      fh = await this.fs.open(this.path);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') this.noteIoError(err, 'cannot open file');
      return undefined;
    }
    try {
      const st = await fh.stat({ bigint: true });
      return { fh, ident: identOf(st), size: Number(st.size) };
    } catch (err) {
      await closeQuietly(fh);
      this.noteIoError(err, 'cannot stat opened file');
      return undefined;
    }
  }

  /** Makes `o` the file we read, from offset 0. */
  private adopt(o: OpenFile): Following {
    const s: Following = { kind: 'following', cur: o };
    this.st = s;
    this.lastSize = o.size;
    this.setPosition(0, Buffer.alloc(0));
    return s;
  }

  private async seekToEnd(fh: FileHandlePort): Promise<void> {
    const size = this.lastSize;
    if (size === 0) return;
    const n = Math.min(TAIL_BYTES, size);
    let bytesRead: number;
    try {
      bytesRead = (await fh.read(this.tail, 0, n, size - n)).bytesRead;
    } catch (err) {
      this.noteIoError(err, 'read failed; reading the file from the start instead of its end');
      return;
    }
    this.tailLen = bytesRead;
    this.readOffset = size;
    this.committed = size;
    this.skipToNewline = bytesRead > 0 && this.tail[bytesRead - 1] !== 0x0a;
  }

  private setPosition(offset: number, fp: Buffer): void {
    if (offset === 0) this.backlogEnd = -1;
    this.readOffset = offset;
    this.committed = offset;
    this.lines.reset();
    this.skipToNewline = false;
    const n = Math.min(fp.length, TAIL_BYTES);
    fp.copy(this.tail, 0, fp.length - n);
    this.tailLen = n;
  }

  // -------------------------------------------------------------------------------------------
  // One poll
  // -------------------------------------------------------------------------------------------

  /** Returns true when it stopped with data possibly left (poll again without sleeping). */
  private async poll(onLine: LineHandler, signal: AbortSignal): Promise<boolean> {
    let s: Reading;
    const was = this.st;
    if (was.kind === 'following' || was.kind === 'orphaned' || was.kind === 'draining') {
      s = was;
    } else {
      const o = await this.openFile();
      if (!o) {
        this.lastPollAt = this.clock.now();
        this.st = { kind: 'waiting' };
        return false;
      }
      s = this.adopt(o);
      this.log.info({}, 'file appeared; following it from the start');
      this.saveNow();
    }
    const cur = s.cur;

    // Truncation: smaller than our offset, or rewritten under us (fingerprint changed).
    let st;
    try {
      st = await cur.fh.stat({ bigint: true });
    } catch (err) {
      this.noteIoError(err, 'fstat failed');
      return false;
    }
    const size = Number(st.size);
    const check = sizeCheck(size, this.readOffset, this.tailLen);
    if (check === 'shrunk' || (check === 'probe' && !(await this.tailStillMatches(cur.fh)))) {
      this.stats.truncations++;
      this.log.info({ offset: this.readOffset, size }, 'file truncated (copytruncate?)');
      await this.recoverFromCopy(s, onLine, signal, Math.max(0, this.lastSize - this.readOffset));
    }
    this.lastSize = size;

    // Nothing new since the last read (the idle case): skip the read(), one thread-pool round
    // trip per poll. Bytes appended after the fstat are read by the next poll.
    const got = size === this.readOffset ? 0 : await this.readAvailable(cur.fh, onLine, signal);
    if (signal.aborted) return false;
    const now = this.clock.now();
    this.checkpointThrottled(now);

    // Rotation: what is at the path now?
    let pst;
    try {
      pst = await this.fs.stat(this.path);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') {
        this.noteIoError(err, 'stat of path failed');
        return false;
      }
      pst = undefined;
    }
    this.lastPollAt = now;
    const atPath = pst ? identOf(pst) : null;
    const step = onPathStat(s, atPath, got, now);
    if (step.drop) await closeQuietly(step.drop.fh); // renamed back: what we opened meanwhile is not next
    if (step.rotated) this.log.info({ newFile: atPath !== null }, 'file rotated; draining the old file');
    let next = step.state;
    // Open the new file at once and hold it: if it is rotated away too before we are done
    // with the old one, we still read it (no file skipped when rotations come fast).
    if (next.kind === 'orphaned' && atPath) {
      const o = await this.openFile();
      if (o && sameIdent(o.ident, cur.ident)) await closeQuietly(o.fh);
      else if (o) next = withNext(next, o);
    }
    this.st = next;
    const quiet = whenQuiet(next, got, now, this.graceMs, st.nlink !== 0n);
    switch (quiet.do) {
      case 'stay':
        return false;
      case 'let-go':
        // Renamed away (or deleted) and nothing at the path yet; the old file is deleted: let go.
        await this.leaveFile(cur, onLine);
        this.log.info({}, 'file deleted; waiting for it to be created again');
        return false;
      case 'switch':
        await this.leaveFile(cur, onLine);
        this.stats.rotations++;
        this.adopt(quiet.next);
        this.log.info({}, 'switched to the new file');
        this.saveNow();
        return true;
    }
  }

  /** Emits the unterminated last line of `cur`, if any, and closes it; then nothing is read. */
  private async leaveFile(cur: OpenFile, onLine: LineHandler): Promise<void> {
    const last = this.lines.flush();
    if (last) await this.deliver(last, this.readOffset, new Date(this.clock.now()), onLine);
    // Whatever else the state held (a next file) is the caller's: it adopts it.
    this.st = { kind: 'waiting' };
    await closeQuietly(cur.fh);
    this.setPosition(0, Buffer.alloc(0));
  }

  /**
   * After a truncation: read what we had not read yet from the copy logrotate made (found by
   * the fingerprint of what we did read), then continue the original at 0. knownUnread: bytes
   * the last fstat showed beyond what we had read (lost unless the copy has them).
   */
  private async recoverFromCopy(
    s: Reading,
    onLine: LineHandler,
    signal: AbortSignal,
    knownUnread: number,
  ): Promise<void> {
    const fp = Buffer.from(this.tail.subarray(Math.max(0, this.tailLen - FINGERPRINT_BYTES), this.tailLen));
    const copy = await openCopyByFingerprint(this.fs, this.path, this.readOffset, fp, s.cur.ident);
    if (copy) {
      this.stats.copiesRecovered++;
      this.log.info({ copy: copy.path, from: this.readOffset, to: copy.size }, 'reading the rest from the copy');
      this.st = { kind: 'copy', copy, after: s };
      try {
        await this.readAvailable(copy.fh, onLine, signal);
        const last = this.lines.flush();
        if (last && !signal.aborted) await this.deliver(last, this.readOffset, new Date(this.clock.now()), onLine);
        // Stopped early (shutdown): the rest of the copy is not read; say so.
        if (signal.aborted && this.readOffset < copy.size) this.stats.lostBytes += copy.size - this.readOffset;
      } finally {
        this.st = s;
        await closeQuietly(copy.fh);
      }
    } else {
      const dropped = this.lines.reset();
      if (dropped > 0) this.stats.lost++;
      this.stats.lostBytes += dropped + knownUnread;
      if (knownUnread > 0 && dropped === 0) this.stats.lost++;
      this.log.warn({ offset: this.readOffset }, 'no copy of the truncated file found; continuing from its start');
    }
    this.setPosition(0, Buffer.alloc(0));
    this.saveNow();
  }

  private async tailStillMatches(fh: FileHandlePort): Promise<boolean> {
    const n = Math.min(FINGERPRINT_BYTES, this.tailLen);
    return this.bytesBeforeMatch(fh, this.readOffset, this.tail.subarray(this.tailLen - n, this.tailLen));
  }

  /** Whether the `fp.length` bytes before `offset` in fh equal fp (an empty fp matches). */
  private async bytesBeforeMatch(fh: FileHandlePort, offset: number, fp: Buffer): Promise<boolean> {
    if (fp.length === 0) return true;
    if (offset < fp.length) return false;
    const probe = Buffer.alloc(fp.length);
    try {
      const { bytesRead } = await fh.read(probe, 0, fp.length, offset - fp.length);
      return bytesRead === fp.length && probe.equals(fp);
    } catch (err) {
      this.noteIoError(err, 'read failed');
      return true; // cannot tell; do not treat a read error as a truncation
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reading and emitting
  // -------------------------------------------------------------------------------------------

  /** Reads fh from readOffset to EOF, emitting lines. Returns bytes read. */
  private async readAvailable(fh: FileHandlePort, onLine: LineHandler, signal: AbortSignal): Promise<number> {
    let total = 0;
    const chunk = this.chunk;
    while (!signal.aborted) {
      let n: number;
      try {
        n = (await fh.read(chunk, 0, chunk.length, this.readOffset)).bytesRead;
      } catch (err) {
        this.noteIoError(err, 'read failed');
        break;
      }
      if (n === 0) break;
      const view = chunk.subarray(0, n);
      const base = this.readOffset;
      this.readOffset += n;
      this.stats.bytesRead += n;
      total += n;
      this.remember(view);
      this.lastPollAt = this.clock.now();
      // Every line of one read was read at the same moment: one Date for all of them.
      await this.scan(view, base, new Date(this.lastPollAt), onLine, signal);
      this.checkpointThrottled(this.lastPollAt);
    }
    return total;
  }

  private async scan(view: Buffer, base: number, time: Date, onLine: LineHandler, signal: AbortSignal): Promise<void> {
    let pos = 0;
    const n = view.length;
    while (pos < n) {
      const nl = view.indexOf(0x0a, pos);
      if (nl === -1) {
        if (!this.skipToNewline) this.lines.append(view, pos, n);
        return;
      }
      const end = base + nl + 1;
      if (this.skipToNewline) {
        this.skipToNewline = false;
        this.committed = end;
      } else {
        const p = this.deliver(this.lines.finish(view, pos, nl), end, time, onLine);
        if (p) await p;
      }
      pos = nl + 1;
      if (signal.aborted) return;
    }
  }

  /**
   * Hands one line on; returns a promise only when the handler did (backpressure). `time` is when
   * it was read (shared by the lines of one read; consumers do not modify it).
   */
  private deliver(raw: RawLine, seq: number, time: Date, onLine: LineHandler): void | Promise<void> {
    const stats = this.stats;
    stats.received++;
    // A line straight from the read buffer (not one joined from held parts) has its word view.
    // (A flag, not a look at raw.buf.buffer: reading a Buffer's .buffer is a call into V8's runtime.)
    const words = raw.joined ? undefined : this.words;
    const g = guardText(raw.buf, raw.start, raw.end, this.maxLineBytes, stats, words);
    if (!g) {
      this.committed = seq;
      return;
    }
    const line = lineOf(this.path, seq, time, g.text, g.truncated, seq <= this.backlogEnd);
    let r: void | Promise<void>;
    try {
      r = onLine(line);
    } catch (err) {
      this.noteError(err, 'line handler failed');
      this.committed = seq;
      return;
    }
    if (!r) {
      stats.sent++;
      this.committed = seq;
      return;
    }
    return r.then(
      () => {
        stats.sent++;
        this.committed = seq;
      },
      (err: unknown) => {
        this.noteError(err, 'line handler failed');
        this.committed = seq;
      },
    );
  }

  private remember(view: Buffer): void {
    const n = view.length;
    if (n >= TAIL_BYTES) {
      view.copy(this.tail, 0, n - TAIL_BYTES, n);
      this.tailLen = TAIL_BYTES;
      return;
    }
    const keep = Math.min(this.tailLen, TAIL_BYTES - n);
    this.tail.copyWithin(0, this.tailLen - keep, this.tailLen);
    view.copy(this.tail, keep, 0, n);
    this.tailLen = keep + n;
  }

  // -------------------------------------------------------------------------------------------
  // Checkpoints, errors, cleanup
  // -------------------------------------------------------------------------------------------

  private position(cur: OpenFile): FilePosition {
    // The fingerprint is the bytes before `committed`, which the tail holds unless a long
    // partial line sits between committed and readOffset.
    const behind = this.readOffset - this.committed;
    const avail = this.tailLen - behind;
    const n = Math.min(FINGERPRINT_BYTES, avail, this.committed);
    const base = { dev: cur.ident.dev, ino: cur.ident.ino, offset: this.committed };
    if (n <= 0) return base;
    const end = this.tailLen - behind;
    return { ...base, fp: this.tail.toString('base64', end - n, end) };
  }

  private checkpointThrottled(now: number): void {
    const cur = checkpointedFile(this.st);
    if (!cur) return;
    const key = `${cur.ident.dev}:${cur.ident.ino}:${this.committed}`;
    if (key === this.lastSavedKey && !this.checkpoints.isDirty(this.cpName)) return;
    this.lastSavedKey = key;
    this.checkpoints.saveThrottled(this.cpName, this.position(cur), now);
  }

  private saveNow(): void {
    const cur = checkpointedFile(this.st);
    if (!cur) return;
    const pos = this.position(cur);
    this.lastSavedKey = `${pos.dev}:${pos.ino}:${pos.offset}`;
    this.checkpoints.save(this.cpName, pos);
  }

  /** An open/read/stat failure of the file itself (not ENOENT): counts toward 'unreadable'. */
  private noteIoError(err: unknown, what: string): void {
    this.ioFailed = true;
    this.noteError(err, what);
    this.ioError = this.lastError;
  }

  /** After each poll: count polls in a row with an I/O failure; a clean poll ends the streak. */
  private accountPoll(): void {
    if (this.ioFailed) {
      this.ioFailed = false;
      if (++this.failedPolls === UNREADABLE_AFTER_POLLS) {
        this.log.error(
          { err: this.ioError ?? null },
          'file exists but cannot be opened or read; reporting the source unhealthy',
        );
      }
      return;
    }
    if (this.failedPolls === 0) return;
    if (this.failedPolls >= UNREADABLE_AFTER_POLLS) this.log.info({}, 'file is readable again');
    this.failedPolls = 0;
    if (this.lastError === this.ioError) this.lastError = undefined;
    this.ioError = undefined;
    this.lastLoggedError = undefined;
  }

  private noteError(err: unknown, what: string): void {
    this.stats.errors++;
    const msg = `${what}: ${errText(err)}`;
    this.lastError = msg;
    if (msg !== this.lastLoggedError) {
      this.lastLoggedError = msg;
      this.log.warn({ err: errText(err) }, what);
    }
  }
}
