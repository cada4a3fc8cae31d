// engine-bench.ts: the engine's throughput on the generated 1M-line corpus with NPD's shipped
// kernel rules: matching alone (kmsg messages) and parsing plus matching (kern.log lines through
// NPD's shipped filelog pluginConfig), in lines per CPU-second (process.cpuUsage), plus peak RSS.
// Run alone with `npx tsx bench/engine-bench.ts [lines]`; bench/run.ts calls runEngineBench().
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Monitor } from '../agent/engine/monitor';
import type { PrefilterKind } from '../agent/engine/prefilter';
import { compileSyslogParser } from '../agent/engine/syslog-line';
import type { RuleFile, RuleSpec } from '../agent/types';
import { generateCorpus } from './corpus';

export interface EngineBenchResult {
  lines: number;
  matchingLinesPerCpuSecond: number;
  parseAndMatchLinesPerCpuSecond: number;
  /** Same as matching, with one alternation RE2 as the prefilter instead of RE2.Set. */
  matchingWithAlternationLinesPerCpuSecond: number;
  problems: number;
  parseAndMatchProblems: number;
  peakRssMiB: number;
}

const here = dirname(fileURLToPath(import.meta.url));

function kernelRules(): RuleFile {
  const j = JSON.parse(readFileSync(join(here, '../rules/kernel-monitor.json'), 'utf8')) as {
    source: string;
    bufferSize: number;
    rules: RuleSpec[];
  };
  return {
    path: 'rules/kernel-monitor.json',
    plugin: 'kmsg',
    pluginConfig: {},
    logPath: '/dev/kmsg',
    lookbackMs: 0,
    delayMs: 0,
    bufferSize: j.bufferSize,
    component: j.source,
    metricsReporting: true,
    skipList: [],
    conditions: [],
    rules: j.rules,
  };
}

function cpuSeconds(f: () => void): number {
  const a = process.cpuUsage();
  f();
  const d = process.cpuUsage(a);
  return (d.user + d.system) / 1e6;
}

export function runEngineBench(lines = 1_000_000): EngineBenchResult {
  const file = kernelRules();
  const msgs = generateCorpus({ lines, form: 'kmsg', seed: 1 });
  const syslog = generateCorpus({ lines, form: 'syslog', seed: 1 });
  const time = new Date();

  const matchWith = (kind: PrefilterKind): { rate: number; problems: number } => {
    const m = new Monitor(file, { prefilter: kind });
    for (let i = 0; i < 20_000; i++) m.matchText(msgs[i]!, time); // warm up
    const m2 = new Monitor(file, { prefilter: kind });
    let problems = 0;
    const s = cpuSeconds(() => {
      for (const l of msgs) problems += m2.matchText(l, time).length;
    });
    return { rate: lines / s, problems };
  };
  const set = matchWith('set');
  const alt = matchWith('alternation');

  const pluginConfig = { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' };
  const clock = { now: () => Date.now(), setTimer: () => () => {} };
  const parse = compileSyslogParser(pluginConfig, clock);
  const fm = new Monitor({ ...file, plugin: 'filelog', logPath: '/var/log/kern.log', pluginConfig });
  for (let i = 0; i < 20_000; i++) {
    const p = parse(syslog[i]!);
    if (p) fm.matchText(p.message, p.time, p.bytes);
  }
  let problems2 = 0;
  let unparsed = 0;
  const s2 = cpuSeconds(() => {
    for (const l of syslog) {
      const p = parse(l);
      if (p === undefined) {
        unparsed++;
        continue;
      }
      problems2 += fm.matchText(p.message, p.time, p.bytes).length;
    }
  });
  // NPD's shipped message regex is greedy (`\\[.*\\] (.*)` keeps the text after the LAST "] "), so
  // e.g. "divide error: 0000 [#1] SMP" cannot match through kern.log: fewer problems is expected.
  if (unparsed > 0 || problems2 === 0)
    throw new Error(`parse+match failed: unparsed=${unparsed} problems=${problems2}`);
  return {
    lines,
    matchingLinesPerCpuSecond: Math.round(set.rate),
    matchingWithAlternationLinesPerCpuSecond: Math.round(alt.rate),
    parseAndMatchLinesPerCpuSecond: Math.round(lines / s2),
    problems: set.problems,
    parseAndMatchProblems: problems2,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const r = runEngineBench(n);
  console.log(JSON.stringify(r, null, 2));
}
