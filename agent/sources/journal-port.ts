// journal-port.ts: the journald source's window on the machine, as a port so the source's
// decisions run on the fake clock with a scripted child (test/sources/journald-fake.test.ts).
// Two things: list a journal directory's files (rotation and vacuum show as files gone), and
// spawn the reader child (journalctl) and read its stdout line by line.
// The real child: no shell, argv only; stdout lines are capped at `maxLineBytes` (the rest of a
// longer line is discarded and the line reported as `tooLong`, never buffered); at most
// QUEUE_HIGH lines wait to be read, then stdout is paused (backpressure reaches journalctl
// through the pipe); stderr keeps only its last STDERR_KEEP bytes, for the error message.
import { readdir, stat } from '../runtime/fs-async';
import { join } from 'node:path';

/** A line of the child's stdout, or one that was longer than the cap (its text dropped). */
export type ChildLine = { readonly text: string } | { readonly tooLong: true };

export interface ChildExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** The tail of stderr, or the spawn error. */
  readonly message: string;
}

export interface JournalChild {
  /** The next stdout line, or undefined once stdout has ended. One call at a time. */
  next(): Promise<ChildLine | undefined>;
  /** Settles (never rejects) when the child has exited and its stdout has ended. */
  readonly exited: Promise<ChildExit>;
  /** SIGTERM; idempotent. */
  kill(): void;
}

export interface JournalPort {
  /**
   * The journal files (`*.journal`, `*.journal~`) in dir and in its machine-id subdirectories,
   * each as `name inode` (archived `name@…` files by name alone), sorted; undefined when dir is
   * missing or not a directory. The inode makes journald's rotation visible: it renames the
   * active file away and creates a new one under the same name.
   */
  list(dir: string): Promise<readonly string[] | undefined>;
  spawn(command: string, args: readonly string[], maxLineBytes: number): JournalChild;
}

/** Lines read ahead of the source before stdout is paused, and the level it resumes at. */
const QUEUE_HIGH = 256;
const QUEUE_LOW = 64;
const STDERR_KEEP = 2048;

function isJournalFile(name: string): boolean {
  return name.endsWith('.journal') || name.endsWith('.journal~');
}

export const realJournalPort: JournalPort = {
  async list(dir) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    const names: string[] = [];
    for (const e of entries) {
      if (e.isFile() && isJournalFile(e.name)) names.push(e.name);
      else if (e.isDirectory() && /^[0-9a-f]{32}$/.test(e.name)) {
        try {
          for (const n of await readdir(join(dir, e.name))) if (isJournalFile(n)) names.push(`${e.name}/${n}`);
        } catch {
          // vanished between the two reads: the next listing shows it
        }
      }
    }
    // Archived files (`name@…`) are never renamed or reused, so their names identify them; only
    // the active files, which rotation renames away and re-creates, need their inode (a stat each).
    const out: string[] = [];
    for (const n of names) {
      if (n.includes('@')) {
        out.push(n);
        continue;
      }
      try {
        out.push(`${n} ${(await stat(join(dir, n))).ino}`);
      } catch {
        // vacuumed between the two reads
      }
    }
    return out.sort();
  },
  spawn: spawnLineChild,
};

/** Spawns command (no shell) and reads its stdout as capped lines. */
export function spawnLineChild(command: string, args: readonly string[], maxLineBytes: number): JournalChild {
  // node:child_process is loaded on first use, not at start (README, Memory cuts: built-ins).
  const child = process.getBuiltinModule('node:child_process').spawn(command, [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: false,
  });
  const queue: ChildLine[] = [];
  let waiter: ((l: ChildLine | undefined) => void) | undefined;
  let ended = false;
  let paused = false;
  let parts: Buffer[] = [];
  let held = 0;
  let overlong = false;
  let stderr = '';
  let spawnError: string | undefined;

  const push = (l: ChildLine): void => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(l);
      return;
    }
    queue.push(l);
    if (queue.length >= QUEUE_HIGH && !paused) {
      paused = true;
      child.stdout.pause();
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!overlong) {
        const room = maxLineBytes - held;
        if (end - start > room) {
          overlong = true;
          parts = [];
          held = 0;
        } else if (end > start) {
          parts.push(chunk.subarray(start, end));
          held += end - start;
        }
      }
      if (nl < 0) break;
      if (overlong) push({ tooLong: true });
      else if (held > 0) push({ text: Buffer.concat(parts, held).toString('utf8') });
      parts = [];
      held = 0;
      overlong = false;
      start = nl + 1;
    }
    // Bytes of an unfinished line are copied: the chunk is not ours to keep.
    if (parts.length > 0) parts = [Buffer.concat(parts, held)];
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
  });
  const stdoutEnded = new Promise<void>((resolve) => {
    child.stdout.on('close', () => resolve());
    child.on('error', () => resolve());
  });
  stdoutEnded.then(() => {
    ended = true;
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(undefined);
    }
  });
  const exited = new Promise<ChildExit>((resolve) => {
    child.on('error', (e) => {
      spawnError = e.message;
      resolve({ code: null, signal: null, message: e.message });
    });
    child.on('close', (code, signal) =>
      resolve({ code, signal, message: spawnError ?? stderr.trim().split('\n').slice(-3).join(' | ') }),
    );
  });
  return {
    next() {
      const l = queue.shift();
      if (paused && queue.length <= QUEUE_LOW) {
        paused = false;
        child.stdout.resume();
      }
      if (l !== undefined) return Promise.resolve(l);
      if (ended) return Promise.resolve(undefined);
      return new Promise((resolve) => (waiter = resolve));
    },
    exited,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
