// journal-read-compare.ts: the measurement behind the journald source's choice of reader (README,
// journald). Two ways to read the entries of some SYSLOG_IDENTIFIERs from a journal directory:
//   A. what the source ships: a `journalctl --output=json` child, its lines parsed in Node
//      (agent/sources/journal-entry.ts); CPU of both processes per entry;
//   B. a bench-only prototype that walks an uncompressed journal file's objects in Node: every
//      ENTRY object, its items' DATA objects, SYSLOG_IDENTIFIER and MESSAGE. No hash tables, no
//      entry arrays, no compression, no interleaving of files, no follow, no rotation: the floor
//      of a native reader's CPU per entry, not a reader.
// Usage: npx tsx bench/journal-read-compare.ts [--entries 200000] [--runs 3]
// Needs journalctl and systemd-journal-remote (test/helpers/system-parts.ts). Not in `npm run bench`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseJournalEntry } from '../agent/sources/journal-entry';

const { values } = parseArgs({ options: { entries: { type: 'string' }, runs: { type: 'string' } } });
const N = Number(values.entries ?? 200_000);
const RUNS = Number(values.runs ?? 3);
const WANT = new Set(['systemd', 'dockerd']);

const OBJECT_ENTRY = 3;
const OBJECT_DATA = 1;
const INCOMPAT_COMPACT = 16;

/** Walks every ENTRY object of one journal file; returns the entries of WANT's identifiers. */
function walkFile(buf: Buffer): { matched: number; total: number } {
  if (buf.toString('latin1', 0, 8) !== 'LPKSHHRH') throw new Error('not a journal file');
  const compact = (buf.readUInt32LE(12) & INCOMPAT_COMPACT) !== 0;
  const headerSize = Number(buf.readBigUInt64LE(88));
  const tail = Number(buf.readBigUInt64LE(136));
  const payloadAt = compact ? 72 : 64;
  let matched = 0;
  let total = 0;
  for (let off = headerSize; off <= tail && off + 16 <= buf.length;) {
    const type = buf[off] as number;
    const size = Number(buf.readBigUInt64LE(off + 8));
    if (size < 16) break;
    if (type === OBJECT_ENTRY) {
      total++;
      let id: string | undefined;
      let message: string | undefined;
      const itemSize = compact ? 4 : 16;
      for (let i = off + 64; i + itemSize <= off + size; i += itemSize) {
        const d = compact ? buf.readUInt32LE(i) : Number(buf.readBigUInt64LE(i));
        if (buf[d] !== OBJECT_DATA || (buf[d + 1] as number) !== 0) continue; // compressed: not handled
        const dSize = Number(buf.readBigUInt64LE(d + 8));
        const start = d + payloadAt;
        const end = d + dSize;
        if (buf[start] === 0x53 && buf.toString('latin1', start, start + 18) === 'SYSLOG_IDENTIFIER=') {
          id = buf.toString('utf8', start + 18, end);
        } else if (buf[start] === 0x4d && buf.toString('latin1', start, start + 8) === 'MESSAGE=') {
          message = buf.toString('utf8', start + 8, end);
        }
      }
      if (id !== undefined && message !== undefined && WANT.has(id)) matched++;
    }
    off += (size + 7) & ~7;
  }
  return { matched, total };
}

/** CPU of this process's waited-for children (cutime + cstime, USER_HZ 100), in ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'nw-journal-bench-'));
try {
  const jdir = join(dir, 'journal');
  mkdirSync(jdir);
  const base = (Date.now() - 3_600_000) * 1000;
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    const id = i % 4 === 3 ? 'kubelet' : i % 2 === 0 ? 'systemd' : 'dockerd';
    lines.push(
      `__REALTIME_TIMESTAMP=${base + i * 10}\n__MONOTONIC_TIMESTAMP=${i + 1}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n` +
        `SYSLOG_IDENTIFIER=${id}\nMESSAGE=Started Kubernetes kubelet number ${i} with some typical length text here.\n\n`,
    );
  }
  writeFileSync(join(dir, 'export'), lines.join(''));
  execFileSync(
    '/lib/systemd/systemd-journal-remote',
    [`--output=${join(jdir, 'system.journal')}`, join(dir, 'export')],
    {
      stdio: 'ignore',
    },
  );
  const files = readdirSync(jdir).filter((f) => f.endsWith('.journal'));
  console.log(`${N} entries in ${files.length} journal file(s); ${[...WANT].join(', ')} wanted`);
  let childBefore = childrenCpuMs();
  for (let run = 1; run <= RUNS; run++) {
    // A: journalctl child + Node parse.
    const r = spawnSync(
      'sh',
      [
        '-c',
        'exec journalctl "$@" > "$OUT"',
        'sh',
        `--directory=${jdir}`,
        '--output=json',
        '--output-fields=SYSLOG_IDENTIFIER,MESSAGE',
        '--all',
        '--no-pager',
        '--quiet',
        '--since=@0',
        ...[...WANT].map((w) => `SYSLOG_IDENTIFIER=${w}`),
      ],
      { env: { ...process.env, OUT: join(dir, 'out.json') } },
    );
    if (r.status !== 0) throw new Error(`journalctl failed: ${String(r.stderr)}`);
    const childMs = childrenCpuMs() - childBefore;
    childBefore += childMs;
    const json = readFileSync(join(dir, 'out.json'), 'utf8').split('\n');
    const p0 = cpuMs();
    let parsed = 0;
    for (const l of json) if (l !== '' && !('error' in parseJournalEntry(l, 16384))) parsed++;
    const parseMs = cpuMs() - p0;
    // B: the file walk.
    const w0 = cpuMs();
    let matched = 0;
    let total = 0;
    for (const f of files) {
      const res = walkFile(readFileSync(join(jdir, f)));
      matched += res.matched;
      total += res.total;
    }
    const walkMs = cpuMs() - w0;
    console.log(
      `run ${run}: journalctl ${parsed} entries ${((childMs * 1000) / parsed).toFixed(2)} us CPU/entry, ` +
        `+ Node parse ${((parseMs * 1000) / parsed).toFixed(2)} us/entry; ` +
        `file walk ${matched}/${total} entries ${((walkMs * 1000) / total).toFixed(2)} us/entry walked`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
