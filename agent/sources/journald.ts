// journald.ts: the journald source. One per journal directory (a rule file's logPath, e.g.
// /var/log/journal or the volatile /run/log/journal), reading the entries of every
// SYSLOG_IDENTIFIER the rule files name for it, through one `journalctl` child:
//   journalctl --directory=DIR --output=json --all --follow --no-pager
//              --output-fields=SYSLOG_IDENTIFIER,MESSAGE
//              (--after-cursor=C | --since=@SECONDS) SYSLOG_IDENTIFIER=a SYSLOG_IDENTIFIER=b …
// No shell: identifiers are argv elements. The child's stdout lines are capped (journal-port.ts),
// messages are guarded like every source's text (journal-entry.ts).
//
// Position: the cursor of the last entry handled is saved in --state-dir (checkpoint
// `journal:<dir>`, throttled, and on stop). A restart resumes after it: nothing re-reported,
// nothing skipped. With no cursor, reading starts at `startAfterMs` (now − the largest lookback),
// and those entries from before the start are backlog (the detector applies each rule file's
// lookback and delay to them, as NPD does).
//
// Faults, each counted, in lastError, and retried with backoff (JOURNAL_BACKOFF, full jitter,
// injected random) from the cursor, so nothing still on disk is lost:
//   - the directory is missing (at start or later): `missing`; degraded in /healthz while so;
//   - the child exits (killed, journalctl missing, bad directory): `exits`;
//   - a journal file it had seen is gone (journald rotated it away or vacuumed it): `rotations`;
//     the child is restarted from the cursor rather than trusted to have noticed.
// The attempt count resets once an entry arrives or a child has run CHILD_SETTLED_MS.
// The directory is listed once per idle poll (idlePollIntervalMs); that poll is also /healthz's
// sign of life, with every entry read.
import { backoffDelay, type BackoffPolicy } from '../runtime/backoff';
import { sleeperFor } from '../runtime/clock';
import { errText } from '../runtime/err-text';
import {
  newSourceStats,
  type Clock,
  type LineHandler,
  type Logger,
  type Source,
  type SourceHealth,
  type SourceStats,
} from '../types';
import { checkpointName, type CheckpointStore } from './checkpoint';
import { journalSourceId, parseJournalEntry } from './journal-entry';
import { realJournalPort, type ChildLine, type JournalChild, type JournalPort } from './journal-port';
import { DEFAULT_MAX_LINE_BYTES } from './text-guard';

/** Retries of the reader: from 1 s up to 30 s (well inside the default 60 s stall timeout). */
export const JOURNAL_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 30_000 };
/** A child that has run this long without failing resets the backoff. */
export const CHILD_SETTLED_MS = 60_000;
/** A JSON line of journalctl longer than this is dropped (and counted): 4 bytes per binary byte. */
export const MAX_JSON_LINE_BYTES = 256 * 1024;
/** Failed attempts in a row after which /healthz shows the source degraded. */
const DEGRADED_AFTER = 3;
/** How long stop waits for the child to exit after SIGTERM. */
const KILL_WAIT_MS = 2000;

export interface JournaldCheckpoint {
  readonly cursor: string;
}

export interface JournaldSourceOptions {
  /** Absolute journal directory. */
  readonly dir: string;
  /** SYSLOG_IDENTIFIERs to read (the rule files' pluginConfig.source). */
  readonly identifiers: readonly string[];
  readonly checkpoints: CheckpointStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** With no cursor saved, entries from this epoch ms on are read (now − largest lookback). */
  readonly startAfterMs: number;
  /** Directory listing and checkpoint period. Default 1 s. */
  readonly idlePollIntervalMs?: number;
  readonly port?: JournalPort;
  /** [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /** The journalctl binary. Default `journalctl` (on PATH). */
  readonly journalctl?: string;
  readonly maxMessageBytes?: number;
}

export interface JournaldStats extends SourceStats {
  /** Children started after the first. */
  restarts: number;
  /** Children that exited on their own. */
  exits: number;
  /** Journal files seen to disappear (rotated away or vacuumed). */
  rotations: number;
  /** Attempts that found the directory missing. */
  missing: number;
}

type Outcome = 'aborted' | 'exited' | 'rotated' | 'missing';
const TICK = Symbol('tick');

export class JournaldSource implements Source {
  readonly id: string;
  readonly stats: JournaldStats = { ...newSourceStats(), restarts: 0, exits: 0, rotations: 0, missing: 0 };
  private readonly port: JournalPort;
  private readonly random: () => number;
  private readonly idleMs: number;
  private readonly checkpoint: string;
  private readonly sleep;
  private cursor: string | undefined;
  private lastPollAt = 0;
  private lastError: string | undefined;
  private failures = 0;
  private dirMissing = false;

  constructor(private readonly opts: JournaldSourceOptions) {
    this.id = journalSourceId(opts.dir);
    this.port = opts.port ?? realJournalPort;
    this.random = opts.random ?? Math.random;
    this.idleMs = opts.idlePollIntervalMs ?? 1000;
    this.checkpoint = checkpointName({ kind: 'journal', dir: opts.dir });
    this.sleep = sleeperFor(opts.clock);
  }

  health(): SourceHealth {
    const degraded = this.dirMissing
      ? `journal directory ${this.opts.dir} is missing (a host with only a volatile journal writes /run/log/journal)`
      : this.failures >= DEGRADED_AFTER
        ? `journal reader keeps failing: ${this.lastError ?? 'unknown error'}`
        : undefined;
    return {
      alive: true,
      lastPollAt: this.lastPollAt,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(degraded !== undefined ? { degraded } : {}),
    };
  }

  /** The cursor of the last entry handled (for tests and the checkpoint). */
  get position(): string | undefined {
    return this.cursor;
  }

  /** journalctl's arguments for the next child. */
  args(): string[] {
    const from =
      this.cursor !== undefined
        ? `--after-cursor=${this.cursor}`
        : `--since=@${Math.floor(Math.max(0, this.opts.startAfterMs) / 1000)}`;
    return [
      `--directory=${this.opts.dir}`,
      '--output=json',
      '--output-fields=SYSLOG_IDENTIFIER,MESSAGE',
      '--all',
      '--follow',
      '--no-pager',
      '--quiet',
      from,
      ...this.opts.identifiers.map((i) => `SYSLOG_IDENTIFIER=${i}`),
    ];
  }

  async run(onLine: LineHandler, signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.opts;
    this.cursor = this.opts.checkpoints.load<JournaldCheckpoint>(this.checkpoint)?.cursor;
    if (typeof this.cursor !== 'string' || this.cursor === '') this.cursor = undefined;
    // Entries from before the start are backlog unless a cursor vouches for where we were.
    const backlogBefore = this.cursor === undefined ? clock.now() : Number.NEGATIVE_INFINITY;
    let attempt = 0;
    let first = true;
    try {
      while (!signal.aborted) {
        const files = await this.port.list(this.opts.dir);
        this.lastPollAt = clock.now();
        let outcome: Outcome;
        if (files === undefined) {
          outcome = 'missing';
        } else {
          if (!first) this.stats.restarts++;
          first = false;
          this.dirMissing = false;
          const startedAt = clock.now();
          const child = this.port.spawn(this.opts.journalctl ?? 'journalctl', this.args(), MAX_JSON_LINE_BYTES);
          let settled = false;
          const settle = (): void => {
            settled = true;
            this.failures = 0;
          };
          outcome = await this.follow(
            child,
            files,
            onLine,
            signal,
            backlogBefore,
            () => {
              if (!settled && clock.now() - startedAt >= CHILD_SETTLED_MS) settle();
            },
            settle,
          );
          child.kill();
          const exit = await Promise.race([child.exited, this.sleep(KILL_WAIT_MS).then(() => undefined)]);
          if (settled) attempt = 0;
          if (outcome === 'exited') {
            this.stats.exits++;
            const how = exit === undefined ? 'ended its output' : `exited (code ${exit.code ?? exit.signal ?? '?'})`;
            this.fail(`journalctl ${how}${exit?.message ? `: ${exit.message}` : ''}`);
          }
        }
        if (signal.aborted) break;
        if (outcome === 'missing') {
          this.stats.missing++;
          this.dirMissing = true;
          this.fail(`journal directory ${this.opts.dir} is missing`);
        } else if (outcome === 'rotated') {
          this.stats.rotations++;
          logger.info({ dir: this.opts.dir }, 'journal files rotated or vacuumed; resuming from the cursor');
        }
        attempt++;
        // Waited in idle-poll slices, each a sign of life: /healthz must not take a backoff
        // (up to 30 s) for a stall when --stall-timeout is short.
        const until = clock.now() + backoffDelay(attempt, JOURNAL_BACKOFF, this.random);
        while (!signal.aborted && clock.now() < until) {
          await this.sleep(Math.min(this.idleMs, until - clock.now()), signal);
          this.lastPollAt = clock.now();
        }
      }
    } finally {
      if (this.cursor !== undefined) this.opts.checkpoints.save(this.checkpoint, { cursor: this.cursor });
    }
  }

  private fail(msg: string): void {
    this.stats.errors++;
    this.failures++;
    if (msg !== this.lastError)
      this.opts.logger.warn({ dir: this.opts.dir, err: msg }, 'journal reader failed; retrying');
    this.lastError = msg;
  }

  /** Reads one child until it ends, the files change, the directory goes, or the signal aborts. */
  private async follow(
    child: JournalChild,
    files: readonly string[],
    onLine: LineHandler,
    signal: AbortSignal,
    backlogBefore: number,
    onTick: () => void,
    onEntry: () => void,
  ): Promise<Outcome> {
    const { clock, checkpoints } = this.opts;
    const maxMessageBytes = this.opts.maxMessageBytes ?? DEFAULT_MAX_LINE_BYTES;
    let known = new Set(files);
    let pending: Promise<ChildLine | undefined> = child.next();
    let tick: Promise<typeof TICK> = this.sleep(this.idleMs, signal).then(() => TICK);
    for (;;) {
      const r = await Promise.race([pending, tick]);
      if (signal.aborted) return 'aborted';
      if (r === TICK) {
        this.lastPollAt = clock.now();
        if (this.cursor !== undefined) checkpoints.saveThrottled(this.checkpoint, { cursor: this.cursor }, clock.now());
        onTick();
        const now = await this.port.list(this.opts.dir);
        if (now === undefined) return 'missing';
        const present = new Set(now);
        for (const f of known) if (!present.has(f)) return 'rotated';
        known = present;
        tick = this.sleep(this.idleMs, signal).then(() => TICK);
        continue;
      }
      if (r === undefined) return 'exited';
      pending = child.next();
      this.lastPollAt = clock.now();
      if ('tooLong' in r) {
        this.stats.malformed++;
        this.stats.truncated++;
        continue;
      }
      const e = parseJournalEntry(r.text, maxMessageBytes);
      if ('error' in e) {
        this.stats.malformed++;
        if (e.cursor !== undefined) this.cursor = e.cursor;
        continue;
      }
      this.stats.received++;
      if (e.truncated) this.stats.truncated++;
      onEntry();
      try {
        await onLine({
          origin: this.id,
          identifier: e.identifier,
          time: new Date(e.timeMs),
          text: e.message,
          ...(e.truncated ? { truncated: true } : {}),
          ...(e.timeMs < backlogBefore ? { backlog: true } : {}),
        });
        this.stats.sent++;
      } catch (err) {
        this.stats.dropped++;
        this.opts.logger.warn({ source: this.id, err: errText(err) }, 'line handler failed');
      }
      this.cursor = e.cursor;
      checkpoints.saveThrottled(this.checkpoint, { cursor: this.cursor }, clock.now());
    }
  }
}
