// file-states.ts: the file follower's states, as a union the compiler checks, and the pure
// decisions between them. Each state carries exactly the open files valid in it; file.ts is the
// I/O driver that opens, stats and reads, and asks these functions what to do next.
//
//   starting ──> waiting ──(path opens)──> following ──(path now names another file, or none)──┐
//                   ^                        ^  ^                                              │
//                   │                        │  └──(renamed back)── orphaned <─────────────────┘
//                   │                        │                        │  (path appears, opened)
//                   │        (quiet: switch) └────────── draining <───┘
//                   └──(quiet, and the old file deleted: let go)── orphaned
//
// - following: reading the file at the path.
// - orphaned: the file we read was renamed away or deleted and nothing (openable) is at the path
//   yet; we keep reading it. Reported as 'waiting'.
// - draining: another file is at the path, already open (`next`); we read the old one until it
//   has been quiet for the grace period, then switch to `next` at offset 0.
// - copy: after a truncation (copytruncate), the unread rest is read from the copy, then the
//   state it interrupted goes on. Positions in the copy are never checkpointed.
import type { FileHandlePort } from './file-port';
import { sameIdent, type FileIdent, type OpenSibling } from './file-rotation';

/** An open file and its identity; size as of when it was opened. */
export interface OpenFile {
  readonly fh: FileHandlePort;
  readonly ident: FileIdent;
  readonly size: number;
}

export interface Following {
  readonly kind: 'following';
  readonly cur: OpenFile;
}
/** Rotated away: `atPath` is what the path held when last seen ('' = nothing); `quietSince` is
 * the later of "saw the path change" and "last bytes read from cur". */
export interface Orphaned {
  readonly kind: 'orphaned';
  readonly cur: OpenFile;
  readonly atPath: string;
  readonly quietSince: number;
}
export interface Draining {
  readonly kind: 'draining';
  readonly cur: OpenFile;
  readonly next: OpenFile;
  readonly atPath: string;
  readonly quietSince: number;
}
/** A state with a file being read. */
export type Reading = Following | Orphaned | Draining;

export type FileState =
  | { readonly kind: 'starting' }
  | { readonly kind: 'waiting' }
  | Reading
  | { readonly kind: 'copy'; readonly copy: OpenSibling; readonly after: Reading }
  | { readonly kind: 'stopped' };

/** What health() reports. */
export type FileSourceState = 'starting' | 'waiting' | 'following' | 'draining' | 'unreadable' | 'stopped';

export function healthState(s: FileState): FileSourceState {
  switch (s.kind) {
    case 'orphaned':
      return 'waiting';
    case 'copy':
      return healthState(s.after);
    default:
      return s.kind;
  }
}

/** The file whose positions are checkpointed: the one being read, never a copy. */
export function checkpointedFile(s: FileState): OpenFile | undefined {
  return s.kind === 'following' || s.kind === 'orphaned' || s.kind === 'draining' ? s.cur : undefined;
}

/** Every open file a state holds (to close them on shutdown). */
export function openFiles(s: FileState): FileHandlePort[] {
  switch (s.kind) {
    case 'following':
    case 'orphaned':
      return [s.cur.fh];
    case 'draining':
      return [s.cur.fh, s.next.fh];
    case 'copy':
      return [s.copy.fh, ...openFiles(s.after)];
    default:
      return [];
  }
}

export function identKey(i: FileIdent): string {
  return `${i.dev}:${i.ino}`;
}

export interface PathStep {
  readonly state: Reading;
  /** A file opened as next that is no longer next (the old one was renamed back): close it. */
  readonly drop?: OpenFile;
  /** The path changed under us just now (a rotation seen). */
  readonly rotated: boolean;
}

/**
 * After a poll read `got` bytes from s.cur at `now`, stat(path) found `atPath` (null: nothing):
 * our file again → following; another file or none → orphaned (or still draining), and a change
 * of what is at the path restarts the quiet period, as do new bytes in the old file.
 */
export function onPathStat(s: Reading, atPath: FileIdent | null, got: number, now: number): PathStep {
  if (atPath && sameIdent(atPath, s.cur.ident)) {
    const following: Following = { kind: 'following', cur: s.cur };
    return s.kind === 'draining'
      ? { state: following, drop: s.next, rotated: false }
      : { state: following, rotated: false };
  }
  const key = atPath ? identKey(atPath) : '';
  if (s.kind === 'following')
    return { state: { kind: 'orphaned', cur: s.cur, atPath: key, quietSince: now }, rotated: true };
  const rotated = key !== s.atPath;
  const quietSince = rotated || got > 0 ? now : s.quietSince;
  if (!rotated && quietSince === s.quietSince) return { state: s, rotated };
  return { state: { ...s, atPath: key, quietSince }, rotated };
}

/** An orphaned file gets its successor once the file at the path is opened. */
export function withNext(s: Orphaned, next: OpenFile): Draining {
  return { kind: 'draining', cur: s.cur, next, atPath: s.atPath, quietSince: s.quietSince };
}

export type QuietStep =
  | { readonly do: 'stay' }
  /** Emit the old file's last partial line, close it, read `next` from 0. */
  | { readonly do: 'switch'; readonly next: OpenFile }
  /** The old file is deleted and quiet: close it (its space is freed) and wait for the path. */
  | { readonly do: 'let-go' };

/**
 * Whether to leave a rotated file: only once it has been quiet for graceMs (writers such as
 * rsyslog go on writing the renamed file until they are HUPed). A renamed-away file that is still
 * linked somewhere is kept while nothing is at the path.
 */
export function whenQuiet(s: Reading, got: number, now: number, graceMs: number, linked: boolean): QuietStep {
  if (s.kind === 'following' || got > 0 || now - s.quietSince < graceMs) return { do: 'stay' };
  if (s.kind === 'draining') return { do: 'switch', next: s.next };
  return linked ? { do: 'stay' } : { do: 'let-go' };
}

/**
 * On an fstat of the file being read: it shrank below our offset (truncated), or it grew, and
 * then the bytes before our offset must be probed (it may have been truncated and re-grown
 * between two polls).
 */
export function sizeCheck(size: number, readOffset: number, fingerprintLen: number): 'ok' | 'shrunk' | 'probe' {
  if (size < readOffset) return 'shrunk';
  return size > readOffset && fingerprintLen > 0 ? 'probe' : 'ok';
}

/** What is persisted. dev/ino are decimal strings; fp is base64 of the bytes before offset. */
export interface FilePosition {
  readonly dev: string;
  readonly ino: string;
  readonly offset: number;
  readonly fp?: string;
}

export function isPosition(v: unknown): v is FilePosition {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.dev === 'string' &&
    /^\d+$/.test(o.dev) &&
    typeof o.ino === 'string' &&
    /^\d+$/.test(o.ino) &&
    typeof o.offset === 'number' &&
    Number.isSafeInteger(o.offset) &&
    o.offset >= 0 &&
    (o.fp === undefined || typeof o.fp === 'string')
  );
}

/**
 * On start with a checkpoint, given the file now at the path (if any): the same file, long
 * enough (resume if the bytes before the offset still match, else the inode was reused); the
 * same file, shorter (truncated while we were stopped); or not our file (look for it among the
 * rotated siblings).
 */
export function resumePlan(cp: FilePosition, atPath: OpenFile | undefined): 'same-file' | 'shrunk' | 'elsewhere' {
  if (!atPath || !sameIdent(atPath.ident, cp)) return 'elsewhere';
  return atPath.size >= cp.offset ? 'same-file' : 'shrunk';
}
