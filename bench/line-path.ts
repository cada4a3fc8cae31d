// line-path.ts: W3's per-line path in process, stage by stage, for changes smaller than this
// machine's run-to-run noise in the whole-process benchmarks. 100,000 W3 drop lines (the same
// lines process-bench.ts appends) sit in one buffer as the file follower reads them; each stage
// runs them all, and each stage's figure is the least CPU time per line over the rounds (noise
// here only ever adds time). The stages are cumulative:
//   split  the newline search alone;        guard  + the text guard and decoding (guardText);
//   head   + the syslog time and host/tag;  parse  + the packet parser (parsePacketLog);
//   handle the whole DropPipeline.handle (time, parse, count, pod lookup, aggregation).
// Secondary to the whole-process figures (npm run bench), as every in-process loop is.
// Run: npx tsx bench/line-path.ts [--rounds N]; on Node 24 with the image's V8 flags:
//   node24 --max-semi-space-size=1 --max-opt=2 --invocation-count-for-maglev=5000 \
//     --no-concurrent-recompilation --import tsx bench/line-path.ts
import { DropPipeline } from '../agent/drops';
import { DEFAULT_DROP_PREFIXES, PrefixMatcher } from '../agent/engine/drop-prefixes';
import { parseSyslogHead, UtcDays } from '../agent/engine/drop-time';
import { parsePacketLog } from '../agent/engine/packet-log';
import { systemClock } from '../agent/runtime/clock';
import { guardText, wordsOf } from '../agent/sources/text-guard';
import { lineOf, type LogLine, type Logger, type PodInfo } from '../agent/types';
import { argValue, dropLines } from './process-bench';

const LINES = 100_000;
const rounds = Number(argValue(process.argv, '--rounds') ?? 25);

const text = Buffer.from(dropLines(LINES, Date.now()));
// As the follower reads: a chunk that starts on a 4-byte boundary, with its word view.
const chunk = Buffer.alloc(text.length + 8);
text.copy(chunk);
const view = chunk.subarray(0, text.length);
const words = wordsOf(chunk);

const local = new Map<string, PodInfo>();
for (let k = 0; k < 20; k++)
  local.set(`10.244.1.${10 + k}`, { namespace: `ns-${k}`, name: `local-${k}`, uid: `uid-${k}` });
const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
const pipe = new DropPipeline({
  prefixes: DEFAULT_DROP_PREFIXES,
  clock: systemClock,
  logger,
  resolver: { localPod: (ip) => local.get(ip), peer: async () => ({ kind: 'unknown' }) },
  perNode: { burst: 1e9, perSecond: 1e9 },
  perPod: { burst: 1e9, perSecond: 1e9 },
  fileZone: 'utc',
});
const matcher = new PrefixMatcher(DEFAULT_DROP_PREFIXES);
const timeOpts = { now: () => Date.now(), zone: 'utc' as const, days: new UtcDays() };
const stats = { malformed: 0, truncated: 0 };
let sink = 0;

type Stage = 'split' | 'guard' | 'head' | 'parse' | 'handle';
const STAGES: readonly Stage[] = ['split', 'guard', 'head', 'parse', 'handle'];

function perLine(line: LogLine, stage: Stage): void {
  if (stage === 'guard') {
    sink += line.text.length;
    return;
  }
  if (stage === 'handle') {
    pipe.handle(line);
    return;
  }
  const h = parseSyslogHead(line.text, timeOpts);
  if (h === null) throw new Error(`not a syslog line: ${line.text}`);
  if (stage === 'head') {
    sink += h.messageAt;
    return;
  }
  if (parsePacketLog(line.text, matcher, line.time, h.messageAt).kind === 'drop') sink++;
}

/** CPU nanoseconds per line for one pass of a stage. */
function pass(stage: Stage): number {
  const time = new Date();
  const c0 = process.cpuUsage();
  for (let pos = 0; pos < view.length;) {
    const nl = view.indexOf(0x0a, pos);
    if (stage !== 'split') {
      const g = guardText(view, pos, nl, 16 * 1024, stats, words);
      if (g === undefined) throw new Error('a W3 line failed the guard');
      perLine(lineOf('/var/log/iptables.log', nl, time, g.text, g.truncated, false), stage);
    }
    pos = nl + 1;
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / LINES;
}

const least = new Map<Stage, number>();
for (let r = 0; r < rounds; r++)
  for (const stage of STAGES) {
    const ns = pass(stage);
    // The first rounds warm the code up.
    if (r >= 3) least.set(stage, Math.min(least.get(stage) ?? Infinity, ns));
  }
await pipe.flushOnce();
console.log(`node ${process.versions.node}, ${LINES.toLocaleString('en')} W3 lines, least of ${rounds - 3} rounds:`);
for (const stage of STAGES) console.log(`  ${stage.padEnd(7)} ${Math.round(least.get(stage) ?? 0)} ns/line`);
if (sink === 0) throw new Error('nothing parsed');
