// memory-timeline.ts: where the agent's peak RSS goes under load. Runs W1 or W3 (process-bench.ts,
// the agent as the DaemonSet runs it) and samples the agent every --every ms (default 150) from
// /healthz on: VmRSS, RssAnon, RssFile and VmHWM (/proc/<pid>/status), the brk heap, the other
// anonymous mappings and the node binary's pages (/proc/<pid>/smaps), and the V8 heap spaces and external memory (its
// /metrics). Prints the idle sample (just before the feed), the sample with the highest VmRSS and
// each series' maximum, as a Markdown table; --csv FILE writes every sample.
// "anon, not V8 heap" is RssAnon less the V8 heap's committed size: malloc (the brk heap and the
// mmapped blocks of 32 KiB and more, V8's zones among them), Buffers, thread stacks.
// Run: npm run build && npx tsx bench/memory-timeline.ts --only w1|w3 [--quick] [--node PATH] [--csv FILE]
//      [--every MS] [--no-metrics]
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { metricsText, sleep, type AgentChild } from './agent-proc';
import { argValue, runDropLogWorkload, runFileLogWorkload } from './process-bench';

const MiB = 1024 * 1024;

type Sample = Record<string, number>;

function statusKb(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? (Number(m[1]) * 1024) / MiB : 0;
}

/** RSS of the brk heap, of the other anonymous mappings and their count, and of the node binary, from smaps. */
function smapsAnon(pid: number): { brk: number; anonMaps: number; anonMapCount: number; binary: number } {
  let brk = 0;
  let binary = 0;
  let anonMaps = 0;
  let anonMapCount = 0;
  let kind: 'brk' | 'anon' | 'binary' | 'other' = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1]!.trim();
      kind = path === '[heap]' ? 'brk' : path === '' ? 'anon' : basename(path) === 'node' ? 'binary' : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const v = (Number(rss[1]) * 1024) / MiB;
    if (kind === 'brk') brk += v;
    else if (kind === 'binary') binary += v;
    else if (kind === 'anon' && v > 0) {
      anonMaps += v;
      anonMapCount++;
    }
  }
  return { brk, anonMaps, anonMapCount, binary };
}

function heapSpaces(text: string): Sample {
  const out: Sample = {};
  for (const m of text.matchAll(/^nodejs_heap_space_size_(used|total)_bytes\{space="([a-z_]+)"\} (\d+)/gm))
    out[`${m[2]} ${m[1] === 'used' ? 'used' : 'committed'}`] = Number(m[3]) / MiB;
  const ext = /^nodejs_external_memory_bytes (\d+)/m.exec(text);
  if (ext) out['external'] = Number(ext[1]) / MiB;
  const total = /^nodejs_heap_size_total_bytes (\d+)/m.exec(text);
  if (total) out['V8 heap committed'] = Number(total[1]) / MiB;
  return out;
}

async function sample(agent: AgentChild, t0: number, metrics: boolean): Promise<Sample> {
  const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
  const s: Sample = {
    t: (Date.now() - t0) / 1000,
    VmRSS: statusKb(status, 'VmRSS'),
    VmHWM: statusKb(status, 'VmHWM'),
    RssAnon: statusKb(status, 'RssAnon'),
    RssFile: statusKb(status, 'RssFile'),
  };
  const a = smapsAnon(agent.pid);
  s['[heap] (brk)'] = a.brk;
  s['anon mmaps'] = a.anonMaps;
  s['anon mmap count'] = a.anonMapCount;
  s['node binary'] = a.binary;
  if (metrics) {
    Object.assign(s, heapSpaces(await metricsText(agent.port)));
    s['anon, not V8 heap'] = s.RssAnon! - (s['V8 heap committed'] ?? 0);
  }
  return s;
}

async function main(): Promise<void> {
  const only = argValue(process.argv, '--only') ?? 'w1';
  const quick = process.argv.includes('--quick');
  const node = argValue(process.argv, '--node');
  const every = Number(argValue(process.argv, '--every') ?? 150);
  const csv = argValue(process.argv, '--csv');
  // Scraping /metrics allocates in the agent (about 2 MiB more old space here): --no-metrics to compare.
  const metrics = !process.argv.includes('--no-metrics');
  const samples: Sample[] = [];
  let stop = false;
  let sampler: Promise<void> = Promise.resolve();
  const onAgent = (agent: AgentChild): void => {
    const t0 = Date.now();
    sampler = (async () => {
      while (!stop) {
        try {
          samples.push(await sample(agent, t0, metrics));
        } catch {
          return; // the agent exited
        }
        await sleep(every);
      }
    })();
  };
  const result =
    only === 'w3'
      ? await runDropLogWorkload({ lines: quick ? 20_000 : 100_000, idleSeconds: quick ? 10 : 20, node, onAgent })
      : await runFileLogWorkload({ lines: quick ? 200_000 : 1_000_000, node, onAgent });
  stop = true;
  await sampler;
  console.log(JSON.stringify(result));
  // The idle sample: the last one before the feed (RSS reads at the process-bench's idle point).
  const idleIdx = Math.max(0, samples.findIndex((s) => s.VmRSS! > result.idleRssMiB + 1) - 1);
  const idle = samples[idleIdx]!;
  const peak = samples.reduce((a, b) => (b.VmRSS! > a.VmRSS! ? b : a));
  const keys = Object.keys(peak).filter((k) => k !== 't');
  console.log(`samples: ${samples.length}, every ${every} ms; idle at t=${idle.t} s, peak VmRSS at t=${peak.t} s`);
  console.log('| MiB | idle | at peak VmRSS | peak - idle | max |');
  console.log('|---|---:|---:|---:|---:|');
  for (const k of keys) {
    const max = Math.max(...samples.map((s) => s[k] ?? 0));
    const f = (n: number | undefined): string => (n === undefined ? '' : n.toFixed(k.includes('count') ? 0 : 1));
    console.log(`| ${k} | ${f(idle[k])} | ${f(peak[k])} | ${f((peak[k] ?? 0) - (idle[k] ?? 0))} | ${f(max)} |`);
  }
  if (csv !== undefined) {
    const cols = ['t', ...keys];
    writeFileSync(
      csv,
      [cols.join(','), ...samples.map((s) => cols.map((k) => (s[k] ?? 0).toFixed(2)).join(','))].join('\n'),
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
