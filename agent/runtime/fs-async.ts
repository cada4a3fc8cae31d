// fs-async.ts: the agent's asynchronous file-system calls, as promises over node:fs's callback
// API. node:fs/promises is not used anywhere in the agent: loading it also loads readline's
// Interface (for FileHandle.readLines), fs.watch's watchers and the FileHandle transfer machinery,
// 0.65 MiB of RSS on Node 24 that the agent has no use for (README, Memory cuts: built-ins).
// The calls below go through the same libuv requests; only the promise wrapping differs.
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export const stat = promisify(fs.stat);
export const readdir = promisify(fs.readdir);
export const readFile = promisify(fs.readFile);
/** libc realpath(3), as node:fs/promises.realpath is (fs.realpath walks the path in JS). */
export const realpath = promisify(fs.realpath.native);

const openFd = promisify(fs.open);
const readFd = promisify(fs.read);
const fstatFd = promisify(fs.fstat);
const closeFd = promisify(fs.close);

/**
 * A file opened read-only, by descriptor. close() is idempotent: the descriptor is given up on
 * the first call, so a second close can never close a descriptor the kernel has reused. A read
 * or stat after close rejects with EBADF, as a closed FileHandle's does.
 */
export class ReadOnlyFile {
  private fd: number | undefined;

  constructor(fd: number) {
    this.fd = fd;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    const { bytesRead } = await readFd(this.open(), buffer, offset, length, position);
    return { bytesRead };
  }

  async stat(opts: { bigint: true }): Promise<fs.BigIntStats> {
    return fstatFd(this.open(), opts);
  }

  close(): Promise<void> {
    const fd = this.fd;
    if (fd === undefined) return Promise.resolve();
    this.fd = undefined;
    return closeFd(fd);
  }

  private open(): number {
    if (this.fd === undefined) throw Object.assign(new Error('EBADF: file closed'), { code: 'EBADF' });
    return this.fd;
  }
}

/** Opens path read-only; rejects with the errno error (ENOENT when it does not exist). */
export async function openReadOnly(path: string): Promise<ReadOnlyFile> {
  return new ReadOnlyFile(await openFd(path, 'r'));
}
