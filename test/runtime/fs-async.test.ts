// fs-async.test.ts: the promise wrappers over node:fs's callback API, on real files in a temp dir:
// positional reads, fstat, an idempotent close that gives its descriptor up, errno errors.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReadOnly, readFile, readdir, realpath, stat } from '../../agent/runtime/fs-async';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nodewarden-fs-async-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('fs-async', () => {
  it('reads at a position, stats the open file, and closes once', async () => {
    const p = join(dir, 'f.log');
    writeFileSync(p, 'hello world\n');
    const f = await openReadOnly(p);
    const buf = Buffer.alloc(5);
    expect(await f.read(buf, 0, 5, 6)).toEqual({ bytesRead: 5 });
    expect(buf.toString()).toBe('world');
    expect((await f.read(buf, 0, 5, 100)).bytesRead).toBe(0);
    const st = await f.stat({ bigint: true });
    expect(st.size).toBe(12n);
    expect(st.ino).toBe((await stat(p, { bigint: true })).ino);
    await f.close();
    await f.close();
    await expect(f.read(buf, 0, 5, 0)).rejects.toMatchObject({ code: 'EBADF' });
    await expect(f.stat({ bigint: true })).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('rejects with the errno error', async () => {
    await expect(openReadOnly(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(dir, 'utf8')).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('lists, reads and resolves symlinks', async () => {
    writeFileSync(join(dir, 'a.json'), '{}');
    symlinkSync(join(dir, 'a.json'), join(dir, 'b.json'));
    expect((await readdir(dir)).sort()).toEqual(['a.json', 'b.json']);
    expect(await readFile(join(dir, 'b.json'), 'utf8')).toBe('{}');
    expect(await realpath(join(dir, 'b.json'))).toBe(await realpath(join(dir, 'a.json')));
    expect((await stat(join(dir, 'b.json'))).isFile()).toBe(true);
  });
});
