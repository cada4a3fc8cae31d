// file-rsyslog.test.ts: FileSource behind a REAL private rsyslogd, rotated by a REAL private
// logrotate: `create` with a postrotate HUP (rsyslog keeps writing the renamed file until the
// HUP) and `copytruncate`. 3,000 lines fed through `logger --socket`, rotated at 1,000 and
// 2,000. Needs the Debian packages rsyslog, logrotate and bsdutils (logger).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { follow } from '../fixtures/files/follow-harness';
import {
  feedLogger,
  logrotate,
  numbersOnDisk,
  startRsyslog,
  type PrivateRsyslog,
} from '../fixtures/files/private-rsyslog';
import { tally } from '../fixtures/files/rotating-writer';
import { describeWithParts } from '../helpers/system-parts';

let dir: string;
let rs: PrivateRsyslog | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-rsyslog-'));
});
afterEach(async () => {
  await rs?.stop();
  rs = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const TOTAL = 3000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function scenario(mode: 'create' | 'copytruncate') {
  rs = await startRsyslog(dir);
  const r = rs;
  const f = follow(r.out, path.join(dir, 'state'));
  const outcomes = await feedLogger(r, TOTAL, new Set([1000, 2000]), () => logrotate(r, mode));
  for (const e of await Promise.all(outcomes)) expect(e).toBeUndefined();
  // Let rsyslog write out what it has.
  const end = Date.now() + 10_000;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    const n = numbersOnDisk(r).size;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    }
    if (n >= TOTAL || Date.now() - stableSince > 700 || Date.now() > end) break;
    await sleep(50);
  }
  const onDisk = numbersOnDisk(r);
  await f.stopWhen(onDisk.size, 3000);
  const t = tally(
    f.lines.map((l) => l.text),
    TOTAL,
  );
  const missingOnDisk: number[] = [];
  for (let i = 1; i <= TOTAL; i++) if (!onDisk.has(i)) missingOnDisk.push(i);
  if (process.env.NW_DEBUG)
    console.log(mode, {
      lost: t.lost.length,
      dup: t.duplicates.length,
      missingOnDisk: missingOnDisk.length,
      stats: f.source.stats,
    });
  return { f, t, onDisk, missingOnDisk };
}

describeWithParts(['rsyslogd', 'logrotate', 'logger'], 'FileSource with real rsyslogd + logrotate', () => {
  it('logrotate create + postrotate HUP: 0 lost, 0 duplicates', async () => {
    const { f, t, missingOnDisk } = await scenario('create');
    expect(missingOnDisk).toEqual([]); // rsyslog itself lost nothing
    expect(t.lost).toEqual([]);
    expect(t.duplicates).toEqual([]);
    expect(t.foreign).toBe(0);
    expect(f.source.stats.rotations).toBe(2);
    expect(f.source.stats.malformed).toBe(0);
  });

  it('logrotate copytruncate: loses only what neither file kept (the copy-to-truncate window), 0 duplicates', async () => {
    const { f, t, missingOnDisk } = await scenario('copytruncate');
    expect(t.duplicates).toEqual([]);
    // Every line the follower missed is one that is in no file on disk: written after the copy
    // and before the truncation.
    const window = new Set(missingOnDisk);
    for (const n of t.lost) expect(window.has(n)).toBe(true);
    expect(t.lost.length).toBeLessThanOrEqual(missingOnDisk.length);
    expect(f.source.stats.truncations).toBe(2);
  });
});
