// kmsg.ts: the /dev/kmsg source. Reads kernel log records from a non-blocking fd, turns them
// into LogLines with wall-clock times, counts overrun gaps exactly, and persists the last
// sequence number handled so that a restart in the same boot neither re-reports nor skips.
// This file is the I/O driver (device, sleeps, handler, counters, logs); the sequence, gap,
// backlog and resume arithmetic is the pure KmsgCursor (kmsg-cursor.ts).
//
// Reading. open(O_RDONLY|O_NONBLOCK) and read(2) through fs.readSync on the main thread: each
// read returns exactly one record, or EAGAIN when there is none (then we sleep or wait, abortable).
// fs.createReadStream is not used: it parks a libuv pool thread in a blocking read() and
// process.exit() then hangs until the next kernel message.
//
// Polling and waiting. After a record, an empty read sleeps pollIntervalMs (100 ms): a flood is
// read in batches, never woken record by record (waking per record doubled W2's CPU). When the
// next poll is empty too, a device with readiness (the real /dev/kmsg: kmsg-device.ts, epoll
// through Node's pipe handle) waits for the kernel's next record, at most readyWaitMs (5 s, for
// the idle housekeeping: poll time for /healthz, boot time, position). Without readiness (a
// fake device, a path that is not 1:11, a Node without the pipe handle) the sleep doubles with
// each empty poll up to idlePollIntervalMs (500 ms), back to pollIntervalMs on the next record
// (backoff.ts's step). The ring is small: this machine's holds about 724 records of flood-bench's
// text, 360 ms of its 2,000 records/s, so a burst that began during a 500 ms sleep overran it
// (200-315 records lost in 5 of 13 runs); waiting on the kernel, it is read at once. The buffer
// is 16 KiB; the kernel caps a formatted record well below that (CONSOLE_EXT_LOG_MAX, 8 KiB). A
// buffer too small for a record gives EINVAL *and consumes the record* (measured on 6.18), so it
// is counted as malformed and remembered for the gap arithmetic.
//
// Opening. A failed open (ENOENT before /dev/kmsg is mounted, EPERM, EMFILE) is retried with
// backoff, 1 s doubling to 30 s, abortable; meanwhile health() is alive=false with the error.
//
// Overrun. When the ring overwrote records this reader had not read, read() fails once with
// EPIPE and the next read returns the oldest record still present. Records lost = the sequence
// gap between the last record read and the next one (minus records consumed by EINVAL). The
// same arithmetic counts records that fell out of the ring while the agent was down, when
// resuming from a checkpoint of the same boot.
//
// Time. Record timestamps are microseconds of the printk clock since boot. The wall-clock boot
// time is clock.now() minus CLOCK_MONOTONIC (process.hrtime, which libuv reads from
// CLOCK_MONOTONIC on Linux). Both the printk clock and CLOCK_MONOTONIC stop during suspend, so
// this stays right after a resume, unlike now - /proc/uptime (CLOCK_BOOTTIME), which is what
// makes `dmesg -T` wrong after suspend. The two clocks still drift apart: CLOCK_MONOTONIC is
// slewed by NTP, the printk clock (sched_clock) is not. Measured here: the printk clock led
// CLOCK_MONOTONIC by about 0.2 ms early on, and lagged it by 6.9 ms after 7 h of uptime; over
// months that is seconds. Boot time is recomputed on every idle poll, so NTP steps are followed.
//
// Backlog. Without a checkpoint, records already in the ring when the source starts are backlog
// (consumers apply their lookback to them); records written later are new, whatever their
// timestamp says. The boundary is a sequence number, not a time: run() reads the ring once
// through a second fd, synchronously before its first await (so before Agent.start resolves),
// and remembers the newest seq. A timestamp comparison would drop a record written just after
// start whose printk time, converted with the drifting boot time, falls before the start.
// When that scan fails (or a fake device is injected), the time comparison is the fallback.
// The scan costs one read(2) per record: 1.5-5.5 ms for the 1,492 records of the 128 KiB ring
// here; a 16 MiB ring would take a few hundred ms, once per start without a checkpoint.
//
// Position. The checkpoint `{bootId, seq}` (boot id from /proc/sys/kernel/random/boot_id) is
// saved at most once a second while running (CheckpointStore.saveThrottled) and once on
// shutdown; seq is the last record handled (handler resolved, or record skipped as junk/old).
// The store is told at the end of each drain (EAGAIN) and every KMSG_YIELD_EVERY records under a
// flood, not per record. The name is boot-scoped in the store (no fsync): a new boot makes the
// position worthless anyway.
// With a checkpoint of this boot: records with seq <= saved are skipped, everything after is
// delivered. Without one (first start, new boot, unreadable state): delivery starts at the
// oldest record in the ring, and `startAfterMs` (the caller passes now - lookback, as NPD
// starts) skips older records here, before decoding and before the engine sees them.
//
// Counters: every record read counts in `received`; then exactly one of sent (handler
// resolved), malformed (bad header, junk text, or too big to read), dropped (handler threw or
// rejected; also counted in errors), skipped (at or before the checkpoint, or older than
// startAfterMs). `lost` counts records the kernel overwrote before we read them.
import * as fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { backoffStep } from '../runtime/backoff';
import { sleeperFor } from '../runtime/clock';
import { errTextWithCode } from '../runtime/err-text';
import { LogThrottle } from '../runtime/log-throttle';
import type { Clock, LineHandler, Logger, Sleep, Source, SourceHealth, SourceStats } from '../types';
import { lineOf, newSourceStats } from '../types';
import { checkpointName, type CheckpointStore } from './checkpoint';
import { KmsgCursor, kmsgResumeSeq, validKmsgCheckpoint, type KmsgGap } from './kmsg-cursor';
import {
  KMSG_READ_BUFFER_BYTES,
  openKmsgDevice,
  openKmsgFd,
  type KmsgDevice,
  type KmsgDeviceOpener,
} from './kmsg-device';
import { decodeMessage, newKmsgHeader, parseKmsgHeader, type KmsgHeader } from './kmsg-record';
import { DEFAULT_MAX_LINE_BYTES, junkReason, wordsOf } from './text-guard';

export const DEFAULT_KMSG_PATH = '/dev/kmsg';
/** The longest sleep between two polls of an idle file or journal (agent.ts). */
export const DEFAULT_IDLE_POLL_MS = 1_000;
/** The longest sleep between two polls of an idle ring, without readiness (see "Polling" above). */
export const KMSG_IDLE_POLL_MS = 500;
/** With readiness, the longest wait for a record before the idle housekeeping (see "Polling"). */
export const KMSG_READY_WAIT_MS = 5_000;
/**
 * Give timers and I/O a turn after this many records, even under a flood: at most a few ms of
 * work between turns. It was 64; each turn costs an immediate, a promise and a resumed async
 * function, and at 256 W2 took 4-5% less CPU (bench/ab.ts, both Nodes, 3 rounds each).
 */
export const KMSG_YIELD_EVERY = 256;
/** Consecutive unexpected read errors after which health reports the source dead. */
const DEAD_AFTER_ERRORS = 20;
/** Backoff between attempts to open the device: first delay, doubling up to the max. */
const OPEN_RETRY_FIRST_MS = 1_000;
const OPEN_RETRY_MAX_MS = 30_000;
/** At most one warning of a repeating kind per this interval. */
const LOG_EVERY_MS = 10_000;

/** Ring scan bound: a writer faster than this reader must not keep the start scan going. */
const SCAN_MAX_RECORDS = 1_000_000;

export { openKmsgDevice, type KmsgDevice, type KmsgDeviceOpener };

/**
 * The seq of the newest record in the ring now (-1 when it is empty), read through its own fd
 * synchronously. Throws what open/read throw (ENOENT, EPERM). Cost: one read(2) per record in
 * the ring, once per start without a checkpoint.
 */
export function newestKmsgSeq(path: string): number {
  const fd = openKmsgFd(path);
  const buf = Buffer.allocUnsafe(KMSG_READ_BUFFER_BYTES);
  let newest = -1;
  try {
    for (let i = 0; i < SCAN_MAX_RECORDS; i++) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
        if (code === 'EPIPE' || code === 'EINVAL' || code === 'EINTR') continue;
        throw err;
      }
      const seq = headerSeq(buf, n);
      if (seq > newest) newest = seq;
    }
  } finally {
    fs.closeSync(fd);
  }
  return newest;
}

/** The second field of "pri,seq,usec,flags;": -1 when it is not a number. */
function headerSeq(buf: Buffer, n: number): number {
  let i = buf.indexOf(0x2c);
  if (i < 0 || i >= n) return -1;
  let seq = 0;
  let digits = 0;
  for (i++; i < n; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
    digits++;
  }
  return digits > 0 && digits <= 15 ? seq : -1;
}

export interface KmsgSourceOptions {
  readonly path?: string;
  readonly checkpoints: CheckpointStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Sleep after an empty poll that follows a record; at most 100 ms. Default 100. */
  readonly pollIntervalMs?: number;
  /**
   * Longest sleep between polls of a device without readiness: each empty poll in a row doubles
   * the sleep from pollIntervalMs up to this. At least pollIntervalMs. Default KMSG_IDLE_POLL_MS.
   */
  readonly idlePollIntervalMs?: number;
  /**
   * On a device with readiness notification (the real /dev/kmsg): the longest wait for a record
   * before the idle housekeeping (poll time for /healthz, boot time, checkpoint). Default 5000.
   */
  readonly readyWaitMs?: number;
  /** Message cap (bytes, after unescaping). Default 16 KiB. */
  readonly maxLineBytes?: number;
  /** Wall-clock ms of boot; fixed when given, otherwise clock.now() - CLOCK_MONOTONIC. */
  readonly bootTimeMs?: number;
  /** When starting without a usable checkpoint, skip records older than this (epoch ms). */
  readonly startAfterMs?: number;
  /** Boot id; read from /proc/sys/kernel/random/boot_id when not given. */
  readonly bootId?: string;
  /** Checkpoint name. Default 'kmsg'. */
  readonly checkpointName?: string;
  /** Device opener; tests inject fakes. */
  readonly openDevice?: KmsgDeviceOpener;
  /**
   * The newest seq in the ring at start (see "Backlog" in the header). Default: newestKmsgSeq
   * with the real device, none (time fallback) when openDevice is injected.
   */
  readonly newestSeq?: (path: string) => number;
}

export interface KmsgStats extends SourceStats {
  /** Records skipped on purpose: at or before the checkpoint, or older than startAfterMs. */
  skipped: number;
  /** EPIPE overrun notifications from the kernel. */
  overruns: number;
}

/** One run's I/O state: the device, its buffers, the cursor and the poll pacing. */
interface Reader {
  readonly dev: KmsgDevice;
  readonly cursor: KmsgCursor;
  readonly onLine: LineHandler;
  readonly signal: AbortSignal;
  readonly sleep: Sleep;
  readonly buf: Buffer;
  readonly scratch: Buffer;
  /** Uint32 views of buf and scratch, for the line guard's 4-byte steps. */
  readonly words: { readonly src: Uint32Array | undefined; readonly scratch: Uint32Array | undefined };
  readonly hdr: KmsgHeader;
  /** Wall-clock ms at boot; recomputed on idle polls unless fixed by the options. */
  bootTimeMs: number;
  consecutiveErrors: number;
  sinceYield: number;
  /** Empty polls since the last record: the idle sleep doubles with each. */
  emptyPolls: number;
  /** cursor.handledUpTo() when the checkpoint store was last told. */
  toldSeq: number;
  /** Ends the current handler wait: true when it settled, false on abort. */
  wake: ((handled: boolean) => void) | undefined;
}

/** A handler's promise, ended early (false) when the run aborts (through r.wake). */
function settle(r: Reader, p: Promise<void>): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    r.wake = resolve;
    p.then(() => resolve(true), reject);
  });
}

export class KmsgSource implements Source {
  readonly id = 'kmsg';
  readonly stats: KmsgStats = { ...newSourceStats(), skipped: 0, overruns: 0 };
  private readonly path: string;
  private readonly pollIntervalMs: number;
  /** The idle sleep: pollIntervalMs doubling with each empty poll up to idlePollIntervalMs. */
  private readonly idlePace: { readonly baseMs: number; readonly capMs: number };
  private readonly readyWaitMs: number;
  private readonly maxLineBytes: number;
  private readonly ckptName: string;
  private readonly log: Logger;
  private alive = true;
  private lastPollAt = 0;
  private lastError: string | undefined;
  private started = false;
  private readonly throttle: LogThrottle;

  constructor(private readonly opts: KmsgSourceOptions) {
    this.path = opts.path ?? DEFAULT_KMSG_PATH;
    this.pollIntervalMs = Math.min(100, Math.max(1, opts.pollIntervalMs ?? 100));
    this.idlePace = {
      baseMs: this.pollIntervalMs,
      capMs: Math.max(this.pollIntervalMs, opts.idlePollIntervalMs ?? KMSG_IDLE_POLL_MS),
    };
    this.readyWaitMs = Math.max(1, opts.readyWaitMs ?? KMSG_READY_WAIT_MS);
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.ckptName = opts.checkpointName ?? checkpointName({ kind: 'kmsg' });
    opts.checkpoints.markBootScoped(this.ckptName);
    this.log = opts.logger.child({ source: 'kmsg', path: this.path });
    this.throttle = new LogThrottle(opts.clock, { windowMs: LOG_EVERY_MS });
  }

  health(): SourceHealth {
    return this.lastError === undefined
      ? { alive: this.alive, lastPollAt: this.lastPollAt }
      : { alive: this.alive, lastPollAt: this.lastPollAt, lastError: this.lastError };
  }

  async run(onLine: LineHandler, signal: AbortSignal): Promise<void> {
    if (this.started) throw new Error('KmsgSource.run called twice');
    this.started = true;
    const { clock } = this.opts;
    // Where to resume, and (without a checkpoint) where the backlog ends: both before the first
    // await, so that a record written after the caller's start() returns is never backlog.
    const cursor = this.startCursor();
    const dev = await this.openWithRetry(signal);
    if (dev === undefined) return; // aborted before the device could be opened

    const buf = Buffer.allocUnsafe(KMSG_READ_BUFFER_BYTES);
    const scratch = Buffer.allocUnsafe(KMSG_READ_BUFFER_BYTES);
    const reader: Reader = {
      dev,
      cursor,
      onLine,
      signal,
      sleep: sleeperFor(clock),
      buf,
      scratch,
      words: { src: wordsOf(buf), scratch: wordsOf(scratch) },
      hdr: newKmsgHeader(),
      bootTimeMs: this.opts.bootTimeMs ?? monotonicBootTime(clock),
      consecutiveErrors: 0,
      sinceYield: 0,
      emptyPolls: 0,
      toldSeq: -1,
      wake: undefined,
    };
    // Awaiting a handler's promise must end at abort too. One listener for the whole run,
    // pointed at the current wait (a Promise.race per record would pile reactions onto one
    // never-settling promise: a leak).
    const onAbort = (): void => reader.wake?.(false);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        let n: number;
        try {
          n = dev.read(reader.buf);
          // /dev/kmsg never reads 0 bytes (EAGAIN when empty); a path that does is not the kernel
          // log (a regular file, /dev/null). An error, not an empty record: no busy loop.
          if (n === 0) throw Object.assign(new Error('read 0 bytes: not a kernel log device'), { code: 'EOF' });
        } catch (err) {
          await this.onReadError(reader, err);
          continue;
        }
        // Synchronous unless the handler returned a promise: no await per record under a flood.
        const handled = this.onRecord(reader, n);
        if (handled !== true && (handled === false || !(await handled))) break; // aborted in the handler
        if (++reader.sinceYield >= KMSG_YIELD_EVERY) {
          reader.sinceYield = 0;
          this.lastPollAt = clock.now();
          this.tellPosition(reader, this.lastPollAt);
          await yieldToLoop(); // let timers and HTTP run under a flood
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      const ckpt = cursor.checkpoint();
      if (ckpt !== undefined) this.opts.checkpoints.save(this.ckptName, ckpt);
      try {
        dev.close();
      } catch (err) {
        this.log.warn({ err: errTextWithCode(err) }, 'closing the kernel log failed');
      }
    }
  }

  /** The cursor for this run: from this boot's checkpoint, or from where the backlog ends. */
  private startCursor(): KmsgCursor {
    const bootId = this.opts.bootId ?? readBootId(this.log);
    const saved =
      bootId === undefined ? undefined : validKmsgCheckpoint(this.opts.checkpoints.load<unknown>(this.ckptName));
    const resumeAfterSeq = kmsgResumeSeq(bootId, saved);
    const resume = resumeAfterSeq !== undefined;
    const startAfterMs = resume ? undefined : this.opts.startAfterMs;
    const cursor = new KmsgCursor({
      bootId,
      resumeAfterSeq,
      backlogUpToSeq: resume ? undefined : this.scanBacklogEnd(),
      backlogBeforeMs: this.opts.clock.now(),
      startAfterMs,
    });
    this.log.info(
      resume ? { resumeAfterSeq } : { startAfterMs: startAfterMs ?? null, checkpoint: saved ? 'other boot' : 'none' },
      resume ? 'resuming kernel log after checkpoint' : 'reading kernel log from the oldest record in the ring',
    );
    return cursor;
  }

  /** EAGAIN (sleep, growing), EPIPE/EINVAL (tell the cursor), or a real error (count, sleep). */
  private async onReadError(r: Reader, err: unknown): Promise<void> {
    const { clock } = this.opts;
    const stats = this.stats;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
      r.consecutiveErrors = 0;
      this.alive = true;
      this.lastPollAt = clock.now();
      const ahead = r.cursor.caughtUp();
      if (ahead !== undefined) {
        this.log.warn(ahead, 'checkpoint is ahead of the kernel ring; ignoring it from here on');
      }
      if (this.opts.bootTimeMs === undefined) r.bootTimeMs = monotonicBootTime(clock);
      this.tellPosition(r, this.lastPollAt);
      r.sinceYield = 0;
      // With readiness, the first empty poll after a record still sleeps pollIntervalMs: a flood
      // is read in batches, not woken for record by record. Only a ring that stays quiet waits.
      const empty = ++r.emptyPolls;
      if (r.dev.wait !== undefined && empty > 1) await r.dev.wait(this.readyWaitMs, r.signal);
      else await r.sleep(backoffStep(empty, this.idlePace), r.signal);
      return;
    }
    r.emptyPolls = 0; // anything but EAGAIN: there is (or was) something to read
    if (code === 'EPIPE') {
      stats.overruns++;
      r.cursor.overrun();
      return;
    }
    if (code === 'EINVAL') {
      // The record did not fit the buffer; the kernel has consumed it anyway.
      stats.received++;
      stats.malformed++;
      r.cursor.consumedUnreadable();
      this.rateLimitedWarn(
        'einval',
        { bufferBytes: r.buf.length },
        'kernel record larger than the read buffer skipped',
      );
      return;
    }
    if (code === 'EINTR') return;
    stats.errors++;
    r.consecutiveErrors++;
    this.lastError = `read ${this.path}: ${errTextWithCode(err)}`;
    if (r.consecutiveErrors >= DEAD_AFTER_ERRORS) this.alive = false;
    this.rateLimitedWarn(
      'read',
      { err: errTextWithCode(err), consecutiveErrors: r.consecutiveErrors },
      'reading the kernel log failed; retrying',
    );
    await r.sleep(this.pollIntervalMs, r.signal);
  }

  /** One record of n bytes in r.buf. False when the run was aborted while its handler ran. */
  private onRecord(r: Reader, n: number): boolean | Promise<boolean> {
    const stats = this.stats;
    r.consecutiveErrors = 0;
    r.emptyPolls = 0;
    this.alive = true;
    stats.received++;
    const bad = parseKmsgHeader(r.buf, n, r.hdr);
    if (bad !== undefined) {
      stats.malformed++;
      this.rateLimitedWarn('header', { err: bad }, 'malformed kernel log record skipped');
      return true;
    }
    const seq = r.hdr.seq;
    const timeMs = r.bootTimeMs + r.hdr.usec / 1000;
    const decision = r.cursor.record(seq, timeMs);
    if (decision.action === 'skip') {
      stats.skipped++;
      return true;
    }
    if (decision.gap !== undefined) this.reportGap(decision.gap);
    if (decision.action === 'skip-old') {
      stats.skipped++;
      return true;
    }
    return this.deliver(r, seq, timeMs, decision.backlog);
  }

  /**
   * Hands the position to the checkpoint store (which writes at most once a second) when it
   * moved since the store was last told, or when the store still holds an unwritten one.
   */
  private tellPosition(r: Reader, nowMs: number): void {
    const checkpoints = this.opts.checkpoints;
    const seq = r.cursor.handledUpTo();
    if (seq === r.toldSeq && !checkpoints.isDirty(this.ckptName)) return;
    const ckpt = r.cursor.checkpoint();
    if (ckpt === undefined) return;
    r.toldSeq = seq;
    checkpoints.saveThrottled(this.ckptName, ckpt, nowMs);
  }

  /**
   * Decodes and hands over one record: true once handled (at once unless the handler returned a
   * promise), false when aborted while the handler ran (not handled: re-read next start).
   */
  private deliver(r: Reader, seq: number, timeMs: number, backlog: boolean): true | Promise<boolean> {
    const stats = this.stats;
    const msg = decodeMessage(r.buf, r.hdr.msgStart, r.hdr.msgEnd, r.scratch, this.maxLineBytes, r.words);
    if (typeof msg === 'number') {
      stats.malformed++;
      this.rateLimitedWarn('junk', { seq, reason: junkReason(msg) }, 'undecodable kernel log record skipped');
      r.cursor.handled(seq);
      return true;
    }
    if (msg.truncated) stats.truncated++;
    // Every line has the same fields in the same order (lineOf): one hidden class for the handlers.
    const line = lineOf(this.id, seq, new Date(timeMs), msg.text, msg.truncated, backlog);
    let p: Promise<void> | void;
    try {
      p = r.onLine(line);
    } catch (err) {
      return this.handlerFailed(r, seq, err);
    }
    if (p === undefined) {
      stats.sent++;
      r.cursor.handled(seq);
      return true;
    }
    return settle(r, p)
      .finally(() => (r.wake = undefined))
      .then(
        (handled) => {
          if (!handled) return false;
          stats.sent++;
          r.cursor.handled(seq);
          return true;
        },
        (err: unknown) => this.handlerFailed(r, seq, err),
      );
  }

  /** The handler threw or rejected: the line is dropped, and counts as handled. */
  private handlerFailed(r: Reader, seq: number, err: unknown): true {
    this.stats.errors++;
    this.stats.dropped++;
    this.rateLimitedWarn('handler', { seq, err: errTextWithCode(err) }, 'line handler failed; line dropped');
    r.cursor.handled(seq);
    return true;
  }

  private reportGap(gap: KmsgGap): void {
    this.stats.lost += gap.lost;
    this.rateLimitedWarn(
      'lost',
      { lost: gap.lost, fromSeq: gap.fromSeq, toSeq: gap.toSeq, overrun: gap.overrun, totalLost: this.stats.lost },
      gap.overrun
        ? 'kernel log ring overran: records lost before they could be read'
        : 'kernel log records fell out of the ring before they could be read',
    );
  }

  /** The newest seq in the ring now, or undefined (time fallback) when it cannot be read. */
  private scanBacklogEnd(): number | undefined {
    const scan = this.opts.newestSeq ?? (this.opts.openDevice ? undefined : newestKmsgSeq);
    if (scan === undefined) return undefined;
    try {
      return scan(this.path);
    } catch (err) {
      this.log.warn(
        { err: errTextWithCode(err) },
        'cannot scan the kernel log for where the backlog ends; telling backlog by time',
      );
      return undefined;
    }
  }

  /**
   * Opens the device, retrying with backoff (OPEN_RETRY_FIRST_MS doubling to OPEN_RETRY_MAX_MS)
   * until it opens or the signal aborts: /dev/kmsg may not be mounted yet when the pod starts,
   * and a transient EPERM/EMFILE must not kill the source for good. While failing, health()
   * reports alive=false with the error. Returns undefined only on abort.
   */
  private async openWithRetry(signal: AbortSignal): Promise<KmsgDevice | undefined> {
    const open = this.opts.openDevice ?? ((path: string): KmsgDevice => openKmsgDevice(path, this.opts.clock));
    const sleep = sleeperFor(this.opts.clock);
    let delayMs = OPEN_RETRY_FIRST_MS;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const dev = open(this.path);
        if (failures > 0) {
          this.log.info({ failures }, `opened ${this.path} after failing to`);
          this.lastError = undefined;
        }
        this.alive = true;
        return dev;
      } catch (err) {
        failures++;
        this.alive = false;
        this.lastError = `cannot open ${this.path}: ${errTextWithCode(err)}`;
        if (failures === 1) {
          this.log.error(
            { err: errTextWithCode(err), retryInMs: delayMs },
            `cannot open ${this.path}; retrying with backoff`,
          );
        } else {
          this.rateLimitedWarn(
            'open',
            { err: errTextWithCode(err), failures, retryInMs: delayMs },
            `still cannot open ${this.path}`,
          );
        }
      }
      await sleep(delayMs, signal);
      delayMs = Math.min(OPEN_RETRY_MAX_MS, delayMs * 2);
    }
    return undefined;
  }

  private rateLimitedWarn(kind: string, obj: object, msg: string): void {
    if (!this.throttle.admit(kind)) return;
    this.log.warn({ ...obj, stats: { ...this.stats } }, msg);
  }
}

/** Wall-clock ms at boot: now minus CLOCK_MONOTONIC (see the file header for why). */
export function monotonicBootTime(clock: Clock): number {
  return clock.now() - Number(process.hrtime.bigint()) / 1e6;
}

function readBootId(log: Logger): string | undefined {
  try {
    const id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (id !== '') return id;
  } catch (err) {
    log.warn({ err: errTextWithCode(err) }, 'cannot read the boot id; kmsg position will not be persisted');
  }
  return undefined;
}
