// file-port.ts: the small file-system port the file follower reads through (open, stat, read,
// close, and a directory listing to find rotated siblings). The default is node:fs's callback API
// (runtime/fs-async.ts: a descriptor-backed handle, without node:fs/promises); tests pass an
// in-memory file system (test/helpers/memory-fs.ts) and run the follower on the fake clock.
import { openReadOnly, readdir, stat } from '../runtime/fs-async';

/** What the follower needs from a stat (node's BigIntStats has it). */
export interface FileStat {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  /** Hard links; 0 once the file is deleted (it is still readable through an open handle). */
  readonly nlink: bigint;
  readonly mtimeMs: bigint;
  isFile(): boolean;
}

/** An open file, read-only. */
export interface FileHandlePort {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(opts: { bigint: true }): Promise<FileStat>;
  close(): Promise<void>;
}

export interface FilePort {
  /** Opens a file read-only; rejects with an errno error (ENOENT when it does not exist). */
  open(path: string): Promise<FileHandlePort>;
  stat(path: string): Promise<FileStat>;
  readdir(dir: string): Promise<string[]>;
}

/** The real file system. */
export const nodeFilePort: FilePort = {
  open: openReadOnly,
  stat: (path) => stat(path, { bigint: true }),
  readdir: (dir) => readdir(dir),
};
