// memory-fs.ts: an in-memory file system behind the file follower's FilePort, for tests on the
// fake clock. Files are inodes named by paths; an open handle keeps reading its inode after a
// rename, unlink or truncate, as on a real file system. Tests move files the way logrotate and
// rsyslog do (append, rename, unlink, copy, truncate) and can make reads of a file fail.
import * as nodePath from 'node:path';
import type { FileHandlePort, FilePort, FileStat } from '../../agent/sources/file-port';

interface Inode {
  readonly ino: bigint;
  data: Buffer;
  nlink: number;
  mtime: bigint;
  /** errno code every read fails with, while set. */
  readError?: string;
}

const DEV = 7n;

function errno(code: string, what: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}, '${path}'`), { code });
}

export class MemoryFs implements FilePort {
  private readonly names = new Map<string, Inode>();
  private nextIno = 100n;
  private clockTicks = 0n;
  private open_ = 0;
  /** read() calls so far (on any handle). */
  reads = 0;

  /** Handles opened and not closed yet. */
  get openHandles(): number {
    return this.open_;
  }

  /** Appends text (creating the file if needed). */
  append(path: string, text: string): void {
    const n = this.names.get(path) ?? this.create(path);
    n.data = Buffer.concat([n.data, Buffer.from(text)]);
    n.mtime = ++this.clockTicks;
  }

  /** Appends lines `${prefix}${i}` for i in [from, to], each with a newline. */
  lines(path: string, prefix: string, from: number, to: number): void {
    let s = '';
    for (let i = from; i <= to; i++) s += `${prefix}${i}\n`;
    this.append(path, s);
  }

  rename(from: string, to: string): void {
    const n = this.must(from);
    this.names.delete(from);
    const old = this.names.get(to);
    if (old) old.nlink--;
    this.names.set(to, n);
    n.mtime = ++this.clockTicks;
  }

  unlink(path: string): void {
    this.must(path).nlink--;
    this.names.delete(path);
  }

  /** A new file (new inode) with the same content: what copytruncate's copy is. */
  copy(from: string, to: string): void {
    const n = this.create(to);
    n.data = Buffer.from(this.must(from).data);
  }

  truncate(path: string, size = 0): void {
    const n = this.must(path);
    n.data = Buffer.from(n.data.subarray(0, size));
    n.mtime = ++this.clockTicks;
  }

  /** Makes every read of the file now at `path` fail with `code` (undefined: reads work again). */
  failReads(path: string, code: string | undefined): void {
    const n = this.must(path);
    if (code === undefined) delete n.readError;
    else n.readError = code;
  }

  /** dev/ino of the file at path, as the checkpoint stores them. */
  ident(path: string): { dev: string; ino: string } {
    return { dev: DEV.toString(), ino: this.must(path).ino.toString() };
  }

  // -- FilePort --------------------------------------------------------------------------------

  open(path: string): Promise<FileHandlePort> {
    const n = this.names.get(path);
    if (!n) return Promise.reject(errno('ENOENT', 'no such file or directory, open', path));
    this.open_++;
    let closed = false;
    return Promise.resolve({
      read: (buffer: Buffer, offset: number, length: number, position: number) => {
        this.reads++;
        if (closed) return Promise.reject(errno('EBADF', 'bad file descriptor, read', path));
        if (n.readError) return Promise.reject(errno(n.readError, 'i/o error, read', path));
        if (position >= n.data.length) return Promise.resolve({ bytesRead: 0 });
        return Promise.resolve({
          bytesRead: n.data.copy(buffer, offset, position, Math.min(n.data.length, position + length)),
        });
      },
      stat: () => Promise.resolve(this.statOf(n)),
      close: () => {
        if (!closed) {
          closed = true;
          this.open_--;
        }
        return Promise.resolve();
      },
    });
  }

  stat(path: string): Promise<FileStat> {
    const n = this.names.get(path);
    return n
      ? Promise.resolve(this.statOf(n))
      : Promise.reject(errno('ENOENT', 'no such file or directory, stat', path));
  }

  readdir(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.names.keys()) if (nodePath.dirname(p) === dir) out.push(nodePath.basename(p));
    return Promise.resolve(out);
  }

  private statOf(n: Inode): FileStat {
    return {
      dev: DEV,
      ino: n.ino,
      size: BigInt(n.data.length),
      nlink: BigInt(n.nlink),
      mtimeMs: n.mtime,
      isFile: () => true,
    };
  }

  private create(path: string): Inode {
    const n: Inode = { ino: this.nextIno++, data: Buffer.alloc(0), nlink: 1, mtime: ++this.clockTicks };
    const old = this.names.get(path);
    if (old) old.nlink--;
    this.names.set(path, n);
    return n;
  }

  private must(path: string): Inode {
    const n = this.names.get(path);
    if (!n) throw errno('ENOENT', 'no such file or directory', path);
    return n;
  }
}
