// tail-compare.ts: the numbers behind replacing the `tail` npm package with FileSource. Runs the
// same rotation scenarios (3,000 numbered lines at ~1,000 lines/s, rotated at lines 1,000 and
// 2,000) against `tail` 2.2.x (fs.watch, and fs.watchFile) and against FileSource, and prints
// lost / duplicate counts. Run: npx tsx bench/tail-compare.ts [--runs N]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tail } from 'tail';
import { follow } from '../test/fixtures/files/follow-harness';
import { runWriter, tally, type RotationMode } from '../test/fixtures/files/rotating-writer';

type Scenario = { name: string; mode: RotationMode; createAfterMs?: number };
const scenarios: Scenario[] = [
  { name: 'rename+create', mode: 'rename-create' },
  { name: 'rename, reopen after 200 ms', mode: 'rename-delayed' },
  { name: 'create-after-start', mode: 'rename-create', createAfterMs: 300 },
  { name: 'copytruncate (5-line window)', mode: 'copytruncate' },
];
type Follower = 'FileSource' | 'tail (fs.watch)' | 'tail (watchFile)';
const followers: Follower[] = ['FileSource', 'tail (fs.watch)', 'tail (watchFile)'];

interface Outcome {
  lost: number;
  dup: number;
  window: number;
  note?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitIdle(count: () => number, want: number, idleMs = 2500): Promise<void> {
  let last = -1;
  let since = Date.now();
  while (count() < want && Date.now() - since < idleMs) {
    await sleep(25);
    if (count() !== last) {
      last = count();
      since = Date.now();
    }
  }
  await sleep(300);
}

async function runOnce(s: Scenario, who: Follower): Promise<Outcome> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-tailcmp-'));
  const file = path.join(dir, 'kern.log');
  try {
    if (!s.createAfterMs) fs.writeFileSync(file, '');
    if (who === 'FileSource') {
      const f = follow(file, path.join(dir, 'state'));
      const w = await runWriter({
        path: file,
        mode: s.mode,
        ...(s.createAfterMs ? { createAfterMs: s.createAfterMs } : {}),
      });
      await f.stopWhen(w.total - w.window.size);
      const t = tally(
        f.lines.map((l) => l.text),
        w.total,
      );
      return { lost: t.lost.length, dup: t.duplicates.length, window: w.window.size };
    }
    const texts: string[] = [];
    let tail: Tail;
    try {
      tail = new Tail(file, { fromBeginning: true, follow: true, useWatchFile: who === 'tail (watchFile)' });
    } catch (err) {
      // `tail` throws when the file does not exist yet: create-after-start is not supported.
      const w = await runWriter({
        path: file,
        mode: s.mode,
        ...(s.createAfterMs ? { createAfterMs: s.createAfterMs } : {}),
      });
      return {
        lost: w.total,
        dup: 0,
        window: w.window.size,
        note: `cannot start: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      };
    }
    const errors: string[] = [];
    tail.on('line', (l: string) => void texts.push(l));
    tail.on('error', (e: unknown) => void errors.push(String(e)));
    const w = await runWriter({ path: file, mode: s.mode });
    await waitIdle(() => texts.length, w.total - w.window.size);
    tail.unwatch();
    const t = tally(texts, w.total);
    return {
      lost: t.lost.length,
      dup: t.duplicates.length,
      window: w.window.size,
      ...(errors.length ? { note: `${errors.length} error event(s)` } : {}),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Math.max(1, Number(process.argv[i + 1]) || 1) : 1;
  console.log(`3,000 lines, rotated at 1,000 and 2,000; ${runs} run(s) per cell; lost/duplicates (min-max)`);
  console.log(`${'scenario'.padEnd(32)}${followers.map((f) => f.padEnd(46)).join('')}`);
  for (const s of scenarios) {
    const cells: string[] = [];
    for (const who of followers) {
      const outs: Outcome[] = [];
      for (let r = 0; r < runs; r++) outs.push(await runOnce(s, who));
      const lost = outs.map((o) => o.lost);
      const dup = outs.map((o) => o.dup);
      const range = (xs: number[]): string => {
        const lo = Math.min(...xs);
        const hi = Math.max(...xs);
        return lo === hi ? String(lo) : `${lo}-${hi}`;
      };
      const note = outs.find((o) => o.note)?.note;
      const win = outs[0]?.window ? ` (window ${outs[0].window})` : '';
      cells.push(`lost ${range(lost)} dup ${range(dup)}${win}${note ? ` [${note}]` : ''}`.padEnd(46));
    }
    console.log(`${s.name.padEnd(32)}${cells.join('')}`);
  }
}

await main();
