// run.ts: `npm run bench`. Runs every benchmark and prints one table: lines per CPU-second and
// peak RSS for the engine (matching; parse + match), packet drops (parse + resolve + aggregate,
// and the API writes of a 100k-line burst), the worst-case inputs (worst-case-bench.ts), and the bundled agent under a real /dev/kmsg flood,
// standalone and connected. Flags: --quick (smaller runs), --no-flood (skip the kmsg flood, which
// needs root). The README quotes this output.
import { runDropsBench } from './drops-bench';
import { runEngineBench } from './engine-bench';
import { runFloodBench } from './flood-bench';
import { runWorstCaseBench } from './worst-case-bench';

const quick = process.argv.includes('--quick');
const flood = !process.argv.includes('--no-flood');

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const rows: [string, string, string][] = [];
  const note = (what: string, value: string, target: string): void => {
    rows.push([what, value, target]);
    console.log(`${what.padEnd(58)} ${value.padStart(22)}   ${target}`);
  };
  console.log(`nodewarden bench — node ${process.version}, ${new Date().toISOString()}\n`);

  const engine = runEngineBench(quick ? 200_000 : 1_000_000);
  note(`engine: matching alone (${fmt(engine.lines)} lines)`, `${fmt(engine.matchingLinesPerCpuSecond)} lines/CPU-s`, 'target ≥ 1,000,000');
  note('engine: matching, one alternation RE2 as prefilter (comparison)', `${fmt(engine.matchingWithAlternationLinesPerCpuSecond)} lines/CPU-s`, '');
  note('engine: parse syslog + match (kern.log format)', `${fmt(engine.parseAndMatchLinesPerCpuSecond)} lines/CPU-s`, 'target ≥ 250,000 (NPD: ~2,300)');
  note('engine: problems found (matching / parse+match)', `${engine.problems} / ${engine.parseAndMatchProblems}`, '0.6% of lines');
  note('engine: peak RSS of the bench process (holds two corpora)', `${engine.peakRssMiB} MiB`, '');

  const drops = await runDropsBench(quick ? { lines: 100_000, rounds: 1 } : {});
  note('drops: parse + resolve (warm) + aggregate', `${fmt(drops.linesPerCpuSecond)} lines/CPU-s`, 'target ≥ 100,000');
  note(`drops: API writes for a ${fmt(drops.burstLines)}-line burst (first 60 s)`, `${drops.burstApiWrites} (${drops.burstApiWritesFirst60s})`, 'target ≤ 1/s per node on average');

  const worst = await runWorstCaseBench();
  note('worst case: 100k junk lines through the text guard', `${worst.textGuardJunkMs} CPU-ms`, 'target < 5,000');
  note('worst case: 1,000 16 KiB "IN=IN=…" lines, packet-log scan', `${worst.packetLogWorstMs} CPU-ms`, 'target < 100 (quadratic: ~400)');
  note('worst case: load NPD\'s kernel-monitor.json', `${worst.ruleLoadMs} CPU-ms`, 'target < 50');
  note('worst case: a ~16 MB condition message, capped', `${worst.hugeConditionMessageMs} CPU-ms`, 'target < 200');

  if (flood) {
    for (const mode of ['standalone', 'connected'] as const) {
      const f = await runFloodBench(mode, quick ? 5 : 20, 2000);
      note(`agent ${mode}: kmsg flood ${f.rate}/s for ${f.seconds} s, peak RSS`, `${f.peakRssMiB} MiB`, mode === 'connected' ? 'target ≤ 80 MiB' : 'limit 100 MiB');
      note(`agent ${mode}: idle RSS before the flood`, `${f.idleRssMiB} MiB`, '');
      note(`agent ${mode}: CPU during the flood`, `${f.cpuPercent}% of a core`, 'limit 200m');
      note(`agent ${mode}: records seen / written`, `${fmt(f.received)} / ${fmt(f.written)}`, '');
      note(`agent ${mode}: records per CPU-second (whole agent)`, `${fmt(f.recordsPerCpuSecond)}`, '');
      if (mode === 'connected') note('agent connected: API writes during the flood', `${f.apiWrites}`, '');
    }
  }
  console.log('\n' + JSON.stringify({ engine, drops, worst }, null, 0));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
