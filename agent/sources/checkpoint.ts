// checkpoint.ts: a small persistent position store for sources (kmsg sequence number, file
// offsets). One JSON file per name in a state directory, written atomically (temp file, fsync,
// rename, fsync of the directory; names marked boot-scoped skip both fsyncs, see
// markBootScoped). Reading never throws: a missing, unreadable or corrupt file
// is logged and treated as absent. Writing never throws: failures (read-only directory, full
// disk) are counted in `stats` and logged once per change of state, and the source goes on.
//
// Throttling lives here too: `saveThrottled` keeps the newest value per name and writes it at
// most once per `minIntervalMs`; `flush` writes whatever is pending (call it on shutdown).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errText } from '../runtime/err-text';
import type { Logger } from '../types';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;

/**
 * The one place checkpoint names are made: `kmsg` for the kernel log, `file:<path>` for a file,
 * `journal:<dir>` for a journal directory (its cursor).
 */
export function checkpointName(
  source:
    | { readonly kind: 'kmsg' }
    | { readonly kind: 'file'; readonly path: string }
    | { readonly kind: 'journal'; readonly dir: string },
): string {
  if (source.kind === 'kmsg') return 'kmsg';
  return source.kind === 'file' ? `file:${source.path}` : `journal:${source.dir}`;
}

/** Counters for the metrics module; plain numbers bumped in place. */
export interface CheckpointStats {
  /** Successful writes. */
  saves: number;
  /** Failed writes (each attempt counts). */
  saveErrors: number;
  /** Files that existed but could not be read or parsed. */
  loadErrors: number;
  /** fsync(2) calls made (file and directory). */
  fsyncs: number;
}

export interface CheckpointStoreOptions {
  /** Minimum time between two throttled writes of the same name. Default 1000 ms. */
  readonly minIntervalMs?: number;
}

interface Pending {
  value: unknown;
  /** Whether `value` has not been written yet. */
  dirty: boolean;
  /** nowMs of the last write attempt through saveThrottled (or -Infinity). */
  lastWriteAt: number;
}

const FORMAT_VERSION = 1;
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

export class CheckpointStore {
  readonly stats: CheckpointStats = { saves: 0, saveErrors: 0, loadErrors: 0, fsyncs: 0 };
  private readonly minIntervalMs: number;
  private readonly pending = new Map<string, Pending>();
  private readonly bootScoped = new Set<string>();
  private dirReady = false;
  private failing = false;

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
    options: CheckpointStoreOptions = {},
  ) {
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  }

  /**
   * The file a name is stored in. Names that are safe file names are used as they are; others
   * (file paths such as "/var/log/kern.log") are sanitised and suffixed with a short hash so
   * that two names never share a file.
   */
  fileFor(name: string): string {
    const base = SAFE_NAME.test(name)
      ? name
      : `${name
          .replace(/[^A-Za-z0-9._-]+/g, '_')
          .replace(/^[._]+/, '')
          .slice(0, 80)}-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
    return path.join(this.dir, `${base}.json`);
  }

  /**
   * Marks a name whose value means nothing after a reboot (the kmsg position: its boot id
   * changes). Its writes skip both fsyncs: they stay atomic (temp file, rename), and the page
   * cache keeps them across an agent crash or restart; only a power loss or kernel crash loses
   * them, and that starts a new boot. An fsync costs about 1 ms of blocking and 0.15 ms of CPU
   * here.
   */
  markBootScoped(name: string): void {
    this.bootScoped.add(name);
  }

  /** The stored value, or undefined when absent, unreadable or corrupt (never throws). */
  load<T>(name: string): T | undefined {
    const file = this.fileFor(name);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.stats.loadErrors++;
        this.logger.warn({ file, err: errText(err) }, 'checkpoint unreadable; starting without it');
      }
      return undefined;
    }
    try {
      const doc = JSON.parse(text) as unknown;
      if (
        typeof doc !== 'object' ||
        doc === null ||
        (doc as { version?: unknown }).version !== FORMAT_VERSION ||
        (doc as { name?: unknown }).name !== name ||
        !('value' in doc)
      ) {
        throw new Error('not a nodewarden checkpoint of this name and version');
      }
      return (doc as { value: T }).value;
    } catch (err) {
      this.stats.loadErrors++;
      this.logger.warn({ file, err: errText(err) }, 'checkpoint corrupt; starting without it');
      return undefined;
    }
  }

  /** Writes now, atomically. Returns whether it worked; never throws. */
  save(name: string, value: unknown): boolean {
    const p = this.pending.get(name);
    if (p) {
      p.value = value;
      p.dirty = false;
    }
    return this.write(name, value);
  }

  /**
   * Remembers the newest value and writes it when at least minIntervalMs (by nowMs) has passed
   * since the last throttled write of this name. Cheap when not due: no serialisation, no I/O.
   * Sources may call it on every record and on every idle poll, so a pending value is written
   * soon after the stream goes quiet.
   */
  saveThrottled(name: string, value: unknown, nowMs: number): void {
    let p = this.pending.get(name);
    if (!p) {
      p = { value, dirty: true, lastWriteAt: -Infinity };
      this.pending.set(name, p);
    } else {
      p.value = value;
      p.dirty = true;
    }
    if (nowMs - p.lastWriteAt >= this.minIntervalMs) {
      p.lastWriteAt = nowMs;
      p.dirty = false;
      this.write(name, p.value);
    }
  }

  /** Whether saveThrottled holds a value for name that has not been written yet. */
  isDirty(name: string): boolean {
    return this.pending.get(name)?.dirty ?? false;
  }

  /** Writes pending throttled values (all, or just `name`). Idempotent; never throws. */
  /** Forgets a position (a source that is no longer followed). Never throws. */
  forget(name: string): void {
    this.pending.delete(name);
    try {
      fs.rmSync(this.fileFor(name), { force: true });
    } catch (err) {
      this.logger.warn({ name, err: errText(err) }, 'cannot remove checkpoint');
    }
  }

  flush(name?: string): void {
    for (const [n, p] of this.pending) {
      if (name !== undefined && n !== name) continue;
      if (!p.dirty) continue;
      p.dirty = false;
      this.write(n, p.value);
    }
  }

  private write(name: string, value: unknown): boolean {
    const file = this.fileFor(name);
    const tmp = `${file}.tmp-${process.pid}`;
    let fd: number | undefined;
    try {
      if (!this.dirReady) {
        fs.mkdirSync(this.dir, { recursive: true, mode: 0o750 });
        this.dirReady = true;
      }
      const body = JSON.stringify({ version: FORMAT_VERSION, name, value }) + '\n';
      fd = fs.openSync(tmp, 'w', 0o640);
      fs.writeSync(fd, body);
      const durable = !this.bootScoped.has(name);
      if (durable) {
        fs.fsyncSync(fd);
        this.stats.fsyncs++;
      }
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp, file);
      if (durable) this.syncDir();
      this.stats.saves++;
      if (this.failing) {
        this.failing = false;
        this.logger.info({ dir: this.dir }, 'checkpoint writes work again');
      }
      return true;
    } catch (err) {
      if (fd !== undefined) {
        try {
          fs.closeSync(fd);
        } catch {
          // already reporting the first error
        }
      }
      try {
        fs.unlinkSync(tmp);
      } catch {
        // the temp file may never have been created
      }
      this.stats.saveErrors++;
      if (!this.failing) {
        this.failing = true;
        this.logger.error(
          { file, err: errText(err) },
          'cannot write checkpoint; positions will not survive a restart (counting further failures silently)',
        );
      }
      return false;
    }
  }

  /** Makes the rename durable. Best effort: some filesystems refuse fsync on a directory. */
  private syncDir(): void {
    let dfd: number | undefined;
    try {
      dfd = fs.openSync(this.dir, 'r');
      this.stats.fsyncs++;
      fs.fsyncSync(dfd);
    } catch {
      // not fatal: the data itself was fsynced
    } finally {
      if (dfd !== undefined) fs.closeSync(dfd);
    }
  }
}
