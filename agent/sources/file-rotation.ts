// file-rotation.ts: finding a followed file's rotated siblings. Used by the file follower on
// restart (the checkpointed inode is no longer at the path: drain its remainder from wherever
// logrotate moved it) and after copytruncate (read the part we had not read yet from the copy).
// Siblings are the names logrotate and savelog give: `path.0`, `path.1` and `path-<date>`
// (dateext); compressed ones (.gz, .xz, ...) are ignored, since nobody can still be writing them.
// All I/O goes through the follower's FilePort.
import * as nodePath from 'node:path';
import type { FileHandlePort, FilePort } from './file-port';

/** A file's identity: device and inode numbers as decimal strings (inodes can exceed 2^53). */
export interface FileIdent {
  readonly dev: string;
  readonly ino: string;
}

export function identOf(st: { dev: bigint; ino: bigint }): FileIdent {
  return { dev: st.dev.toString(), ino: st.ino.toString() };
}

export function sameIdent(a: FileIdent | null | undefined, b: FileIdent | null | undefined): boolean {
  return !!a && !!b && a.dev === b.dev && a.ino === b.ino;
}

const COMPRESSED = /\.(gz|xz|bz2|zst|lz4|z|lzma|zip)$/i;
const MAX_SIBLINGS = 16;

/** Rotated siblings of `path` that exist, newest (by mtime) first, at most 16. */
export async function rotatedSiblings(fs: FilePort, path: string): Promise<string[]> {
  const dir = nodePath.dirname(path);
  const base = nodePath.basename(path);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const picked = names.filter((n) => {
    if (!n.startsWith(base) || n === base || COMPRESSED.test(n)) return false;
    const rest = n.slice(base.length);
    return rest === '.0' || rest === '.1' || /^-\d{8}/.test(rest);
  });
  const withTime: { p: string; m: bigint }[] = [];
  for (const n of picked) {
    const p = nodePath.join(dir, n);
    try {
      const st = await fs.stat(p);
      if (st.isFile()) withTime.push({ p, m: st.mtimeMs });
    } catch {
      // vanished meanwhile
    }
  }
  withTime.sort((a, b) => (b.m > a.m ? 1 : b.m < a.m ? -1 : 0));
  return withTime.slice(0, MAX_SIBLINGS).map((x) => x.p);
}

/** An open rotated sibling. The caller closes `fh`. */
export interface OpenSibling {
  readonly path: string;
  readonly fh: FileHandlePort;
  readonly ident: FileIdent;
  readonly size: number;
}

/** Opens the sibling whose identity is `ident` (the file we were reading before a rename). */
export async function openSiblingByIdent(
  fs: FilePort,
  path: string,
  ident: FileIdent,
): Promise<OpenSibling | undefined> {
  for (const p of await rotatedSiblings(fs, path)) {
    try {
      const st = await fs.stat(p);
      if (!sameIdent(identOf(st), ident)) continue;
      const fh = await fs.open(p);
      const fst = await fh.stat({ bigint: true });
      if (!sameIdent(identOf(fst), ident)) {
        await fh.close();
        continue;
      }
      return { path: p, fh, ident, size: Number(fst.size) };
    } catch {
      // raced with logrotate; try the next one
    }
  }
  return undefined;
}

/**
 * Opens a sibling that holds a copy of what we read: at least `offset` bytes long, and the
 * bytes just before `offset` equal `fingerprint` (the tail of what we read). That is the copy
 * copytruncate made. Never the file `exclude` (the truncated original). An empty fingerprint
 * proves nothing, so it finds nothing.
 */
export async function openCopyByFingerprint(
  fs: FilePort,
  path: string,
  offset: number,
  fingerprint: Buffer,
  exclude: FileIdent | null,
): Promise<OpenSibling | undefined> {
  if (fingerprint.length === 0 || offset < fingerprint.length) return undefined;
  const probe = Buffer.alloc(fingerprint.length);
  for (const p of await rotatedSiblings(fs, path)) {
    let fh: FileHandlePort | undefined;
    try {
      fh = await fs.open(p);
      const st = await fh.stat({ bigint: true });
      const ident = identOf(st);
      if (sameIdent(ident, exclude) || Number(st.size) < offset) {
        await fh.close();
        continue;
      }
      const { bytesRead } = await fh.read(probe, 0, probe.length, offset - probe.length);
      if (bytesRead === probe.length && probe.equals(fingerprint)) {
        return { path: p, fh, ident, size: Number(st.size) };
      }
      await fh.close();
    } catch {
      if (fh) await fh.close().catch(() => undefined);
    }
  }
  return undefined;
}
