// checkpoint.test.ts: CheckpointStore against a real temp directory: round trip, atomic files,
// corrupt/unreadable files treated as absent, read-only directory not fatal, throttling.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore, checkpointName } from '../../agent/sources/checkpoint';
import type { Logger } from '../../agent/types';

interface Logged {
  level: string;
  obj: object;
  msg: string | undefined;
}
function recordingLogger(out: Logged[]): Logger {
  const make = (): Logger => ({
    debug: (obj, msg) => void out.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => void out.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void out.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void out.push({ level: 'error', obj, msg }),
    child: () => make(),
  });
  return make();
}

let dir: string;
let logs: Logged[];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-ckpt-'));
  logs = [];
});
afterEach(() => {
  fs.chmodSync(dir, 0o755);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('CheckpointStore', () => {
  it('round-trips values and creates the directory on first save', () => {
    const stateDir = path.join(dir, 'a', 'b');
    const s = new CheckpointStore(stateDir, recordingLogger(logs));
    expect(s.load('kmsg')).toBeUndefined();
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(s.save('kmsg', { bootId: 'x', seq: 42 })).toBe(true);
    expect(new CheckpointStore(stateDir, recordingLogger(logs)).load('kmsg')).toEqual({ bootId: 'x', seq: 42 });
    expect(s.stats.saves).toBe(1);
    // no temp files left behind
    expect(fs.readdirSync(stateDir)).toEqual(['kmsg.json']);
    expect(logs).toEqual([]);
  });

  it('forgets a position, pending throttled value included', () => {
    const s = new CheckpointStore(dir, recordingLogger(logs));
    s.save('file:/var/log/a.log', { offset: 1 });
    s.saveThrottled('file:/var/log/a.log', { offset: 2 }, 0);
    s.saveThrottled('file:/var/log/a.log', { offset: 3 }, 1);
    s.forget('file:/var/log/a.log');
    s.flush();
    expect(s.load('file:/var/log/a.log')).toBeUndefined();
    s.forget('never-saved');
    expect(logs).toEqual([]);
  });

  it('keeps names that are file paths apart and inside the directory', () => {
    const s = new CheckpointStore(dir, recordingLogger(logs));
    s.save('/var/log/kern.log', 1);
    s.save('/var/log/kern_log', 2);
    s.save('../../etc/passwd', 3);
    expect(s.load('/var/log/kern.log')).toBe(1);
    expect(s.load('/var/log/kern_log')).toBe(2);
    expect(s.load('../../etc/passwd')).toBe(3);
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(3);
    for (const f of files) expect(path.dirname(s.fileFor(f))).toBe(dir);
    expect(path.dirname(s.fileFor('../../etc/passwd'))).toBe(dir);
  });

  it('treats corrupt, foreign and unreadable files as absent and logs them', () => {
    const s = new CheckpointStore(dir, recordingLogger(logs));
    fs.writeFileSync(s.fileFor('a'), '{"version":1,"name":"a","value":');
    fs.writeFileSync(s.fileFor('b'), JSON.stringify({ version: 1, name: 'other', value: 5 }));
    fs.writeFileSync(s.fileFor('c'), '\u0000\u0001garbage');
    fs.mkdirSync(s.fileFor('d')); // EISDIR on read
    expect(s.load('a')).toBeUndefined();
    expect(s.load('b')).toBeUndefined();
    expect(s.load('c')).toBeUndefined();
    expect(s.load('d')).toBeUndefined();
    expect(s.stats.loadErrors).toBe(4);
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(4);
    // a later save replaces the corrupt file
    expect(s.save('a', 7)).toBe(true);
    expect(s.load('a')).toBe(7);
  });

  it('counts failures on a read-only directory without throwing, logging once per outage', () => {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions: use a path under a regular file instead (ENOTDIR)
      const file = path.join(dir, 'plain');
      fs.writeFileSync(file, '');
      const s = new CheckpointStore(path.join(file, 'state'), recordingLogger(logs));
      expect(s.save('kmsg', 1)).toBe(false);
      expect(s.save('kmsg', 2)).toBe(false);
      expect(s.stats.saveErrors).toBe(2);
      expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
      expect(s.load('kmsg')).toBeUndefined();
      return;
    }
    fs.chmodSync(dir, 0o555);
    const s = new CheckpointStore(dir, recordingLogger(logs));
    expect(s.save('kmsg', 1)).toBe(false);
    expect(s.save('kmsg', 2)).toBe(false);
    expect(s.stats.saveErrors).toBe(2);
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it('throttles writes to one per interval and flushes the newest pending value', () => {
    const s = new CheckpointStore(dir, recordingLogger(logs), { minIntervalMs: 1000 });
    s.saveThrottled('k', 1, 10_000); // written (first)
    s.saveThrottled('k', 2, 10_100);
    s.saveThrottled('k', 3, 10_900);
    expect(s.stats.saves).toBe(1);
    expect(s.load('k')).toBe(1);
    expect(s.isDirty('k')).toBe(true);
    s.saveThrottled('k', 4, 11_000); // due
    expect(s.stats.saves).toBe(2);
    expect(s.load('k')).toBe(4);
    expect(s.isDirty('k')).toBe(false);
    s.saveThrottled('k', 5, 11_500);
    s.flush();
    expect(s.load('k')).toBe(5);
    expect(s.stats.saves).toBe(3);
    s.flush(); // nothing pending: no write
    expect(s.stats.saves).toBe(3);
  });

  it('fsyncs the file and the directory, except for boot-scoped names, which are written just as atomically', () => {
    const s = new CheckpointStore(dir, recordingLogger(logs));
    s.markBootScoped('kmsg');
    expect(s.save('file:/var/log/kern.log', { offset: 1 })).toBe(true);
    expect(s.stats.fsyncs).toBe(2);
    expect(s.save('kmsg', { bootId: 'b', seq: 7 })).toBe(true);
    s.saveThrottled('kmsg', { bootId: 'b', seq: 8 }, 50_000);
    expect(s.stats).toMatchObject({ saves: 3, fsyncs: 2 });
    expect(new CheckpointStore(dir, recordingLogger(logs)).load('kmsg')).toEqual({ bootId: 'b', seq: 8 });
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('checkpointName', () => {
  it('names the kernel log and each file, distinctly', () => {
    expect(checkpointName({ kind: 'kmsg' })).toBe('kmsg');
    expect(checkpointName({ kind: 'file', path: '/var/log/a.log' })).toBe('file:/var/log/a.log');
    expect(checkpointName({ kind: 'file', path: 'kmsg' })).not.toBe(checkpointName({ kind: 'kmsg' }));
  });
});
