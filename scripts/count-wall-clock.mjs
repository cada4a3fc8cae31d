// count-wall-clock.mjs: counts the places where tests lean on the real clock, for issue 8's
// before/after figure. Reads test/**/*.ts (not test/e2e/, which runs against a real cluster, nor
// test/helpers/, whose waits are the shared ones), writes nothing. A line-based count, by kind:
//   sleep     a fixed sleep: `await sleep(N)` / `await new Promise((r) => setTimeout(r, N))`
//             outside a `while`/`for` poll condition line
//   poll      a poll loop step on the real clock (the same, on a `while`/`for` line)
//   deadline  `Date.now()`, `performance.now()`, `process.hrtime`: wall-clock deadlines or
//             elapsed times
//   elapsed   an assertion on an elapsed time: toBeLessThan*/toBeGreaterThan* on a name with
//             elapsed|took|duration|Ms
//   clock     `systemClock` handed to the code under test (it takes an injected clock)
// A line carrying (or following a line carrying) `hang guard` is counted apart, as a guard:
// a bound that only ends a hung test, at least 10x the expected time.
// Usage: node scripts/count-wall-clock.mjs [DIR] [--files]   (DIR: a checkout; default .)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const perFile = args.includes('--files');
const root = args.find((a) => !a.startsWith('--')) ?? '.';
const testDir = join(root, 'test');
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const rel = relative(testDir, path);
    if (rel === 'e2e' || rel === 'helpers' || rel === 'fixtures/npd') continue;
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
};
walk(testDir);

const KINDS = ['sleep', 'poll', 'deadline', 'elapsed', 'clock'];
const SLEEP =
  /await\s+(?:sleep|delay)\(\s*[^)]|await\s+new\s+Promise\(\s*\(?\w*\)?\s*=>\s*setTimeout\(\s*\w+\s*,\s*[^)]/;
const DEADLINE = /Date\.now\(\)|performance\.now\(\)|process\.hrtime/;
const ELAPSED = /(?:elapsed|took|duration|\w+Ms)\b[^;]*\)\.(?:toBeLessThan|toBeGreaterThan)/i;
const CLOCK = /\bsystemClock\b/;
const totals = Object.fromEntries([...KINDS, 'guard'].map((k) => [k, 0]));
const rows = [];
for (const file of files.sort()) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const counts = Object.fromEntries([...KINDS, 'guard'].map((k) => [k, 0]));
  lines.forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*(?:\*|\/\*)/.test(line) || /^\s*import\b/.test(line)) return;
    const kinds = [];
    if (SLEEP.test(code)) kinds.push(/^\s*(?:while|for)\b/.test(code) ? 'poll' : 'sleep');
    if (DEADLINE.test(code)) kinds.push('deadline');
    if (ELAPSED.test(code)) kinds.push('elapsed');
    if (CLOCK.test(code)) kinds.push('clock');
    if (kinds.length === 0) return;
    const guard = /hang guard/i.test(line) || /hang guard/i.test(lines[i - 1] ?? '');
    for (const k of kinds) counts[guard ? 'guard' : k]++;
  });
  const n = KINDS.reduce((s, k) => s + counts[k], 0);
  for (const k of Object.keys(counts)) totals[k] += counts[k];
  if (n + counts.guard > 0) rows.push({ file: relative(root, file), n, counts });
}
// The system project's suites (real /dev/kmsg, rsyslogd, iptables, the bundle) wait on real
// parts, so real time is theirs to use; the rest (unit, and the harnesses in fixtures) should not.
// An old checkout without the split uses this checkout's list, so that before and after compare.
const systemSuitesIn = (dir) => {
  try {
    const list = /SYSTEM_SUITES\s*=\s*\[([^\]]*)\]/.exec(readFileSync(join(dir, 'vitest.config.ts'), 'utf8'));
    return list ? [...list[1].matchAll(/'([^']+)'/g)].map((m) => m[1]) : undefined;
  } catch {
    return undefined;
  }
};
const systemSuites = systemSuitesIn(root) ?? systemSuitesIn('.') ?? [];
const sum = (sel) => KINDS.reduce((s, k) => s + rows.filter(sel).reduce((t, r) => t + r.counts[k], 0), 0);
const isSystem = (r) => systemSuites.includes(r.file);
const total = KINDS.reduce((s, k) => s + totals[k], 0);
console.log(
  `wall-clock uses in test/: ${total} (${KINDS.map((k) => `${k} ${totals[k]}`).join(', ')}); hang guards ${totals.guard}`,
);
console.log(`  in system suites: ${sum(isSystem)}; elsewhere (unit tests, fixtures): ${sum((r) => !isSystem(r))}`);
if (perFile) {
  rows.sort((a, b) => b.n - a.n || a.file.localeCompare(b.file));
  for (const r of rows) {
    const detail = [...KINDS, 'guard'].filter((k) => r.counts[k] > 0).map((k) => `${k} ${r.counts[k]}`);
    console.log(`  ${String(r.n).padStart(3)}  ${r.file}  (${detail.join(', ')})`);
  }
}
