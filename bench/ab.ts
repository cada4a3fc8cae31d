// ab.ts: an A/B of two agents fed the same input at the same moment, for CPU cuts smaller than
// this machine's run-to-run noise. Run one after the other, the same bundle's W3 varies by 20-30%
// here (the machine is shared); run side by side, both agents go through the same slow or fast
// spell, so the ratio of their CPU-seconds is what a change did.
//   - w2: both agents read the same /dev/kmsg flood (each has its own reader position), 2,000
//     records/s for 20 s of the flood corpus, as flood-bench.ts; root. --connected gives each
//     its own fake API server (HTTPS, the node, no pods).
//   - w3: the same 100,000 drop lines are appended to each agent's own drop log, each resolved
//     against its own fake API server with the W3 pods, until the Events count every line.
// Each side is a bundle (--a, --b; default dist/nodewarden.cjs) with optional node/V8 flags
// (--flags-a "...", after the DaemonSet's, so they win) and environment (--env-a "K=V K2=V2");
// the rest is the DaemonSet's flags and environment (agent-proc.ts). The two start in alternating order each round. Prints every
// round and the sums; the ratio B/A is the result. A/A here (one bundle both sides, 3 rounds):
// W2 within 1%, W3 within 4-6% (W3's drain takes half a second; W2 is spread over 20 s).
// Run: npm run build && npx tsx bench/ab.ts [--workload w2|w3] [--rounds N] [--connected] [--node PATH]
//        [--a BUNDLE] [--b BUNDLE] [--flags-a "..."] [--flags-b "..."] [--env-a "..."] [--env-b "..."]
//        [--lines N (w3's lines a round, default 100,000)]
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeApiServer } from '../test/helpers/fake-apiserver';
import {
  AGENT,
  KMSG_RECEIVED,
  metric,
  procCpuSeconds,
  procStatus,
  sleep,
  spawnAgent,
  type AgentChild,
} from './agent-proc';
import { generateCorpus } from './corpus';
import { FLOOD_NODE, floodApi, floodKmsg } from './flood-bench';
import { apiWithPods, argValue, dropLines, dropLogSetup, packetDropCount } from './process-bench';

interface Side {
  readonly name: 'A' | 'B';
  readonly bundle: string;
  readonly flags: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

interface Running {
  readonly agent: AgentChild;
  readonly api: FakeApiServer | undefined;
  readonly dir: string;
  readonly log: string;
}

const argv = process.argv;
const workload = argValue(argv, '--workload') ?? 'w2';
if (workload !== 'w2' && workload !== 'w3') throw new Error('--workload takes w2 or w3');
const rounds = Number(argValue(argv, '--rounds') ?? 3);
const connected = argv.includes('--connected') || workload === 'w3';
const node = argValue(argv, '--node');
const W2_SECONDS = 20;
const W2_RATE = 2000;
const W3_LINES = Number(argValue(argv, '--lines') ?? 100_000);

function side(name: 'A' | 'B'): Side {
  const k = name.toLowerCase();
  const env: NodeJS.ProcessEnv = {};
  for (const kv of (argValue(argv, `--env-${k}`) ?? '').split(' ').filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--env-${k}: "${kv}" is not K=V`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return {
    name,
    bundle: argValue(argv, `--${k}`) ?? AGENT,
    flags: (argValue(argv, `--flags-${k}`) ?? '').split(' ').filter(Boolean),
    env,
  };
}

async function start(s: Side): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), `nodewarden-ab-${s.name}-`));
  const args = ['--state-dir', join(dir, 'state'), '--log-level', 'error'];
  let api: FakeApiServer | undefined;
  let log = '';
  if (workload === 'w3') {
    const w3 = dropLogSetup(dir);
    log = w3.log;
    args.push(...w3.args);
    api = await apiWithPods();
  } else {
    args.push('--node-name', FLOOD_NODE);
    if (connected) api = await floodApi();
  }
  if (api) args.push('--kubeconfig', api.writeKubeconfig(dir));
  const agent = await spawnAgent({ node, agent: s.bundle, v8FlagsAfter: s.flags, env: s.env, args });
  return { agent, api, dir, log };
}

async function stop(r: Running): Promise<void> {
  await r.agent.stop();
  await r.api?.close();
  rmSync(r.dir, { recursive: true, force: true });
}

/** Per side, in the order the round started them. */
interface RoundResult {
  readonly cpu: number[];
  readonly seen: string[];
  /** VmRSS before the input, VmHWM after, MiB. */
  readonly idleRss: number[];
  readonly peakRss: number[];
}

/** One round: both agents fed at once; CPU-seconds per side, what each saw, and its memory. */
async function round(sides: readonly Side[], corpus: readonly string[]): Promise<RoundResult> {
  const running: Running[] = [];
  try {
    for (const s of sides) running.push(await start(s));
    await sleep(3000); // settle: the ring's backlog, the first lists
    const cpu0 = running.map((r) => procCpuSeconds(r.agent.pid));
    const idleRss = running.map((r) => procStatus(r.agent.pid, 'VmRSS'));
    const peak = (): number[] => running.map((r) => procStatus(r.agent.pid, 'VmHWM'));
    if (workload === 'w2') {
      const seen0 = await Promise.all(running.map((r) => metric(r.agent.port, KMSG_RECEIVED)));
      const written = await floodKmsg(corpus, W2_SECONDS, W2_RATE);
      await sleep(1500);
      const cpu = running.map((r, i) => procCpuSeconds(r.agent.pid) - cpu0[i]!);
      const seen = await Promise.all(
        running.map(async (r, i) => (await metric(r.agent.port, KMSG_RECEIVED)) - seen0[i]!),
      );
      return { cpu, seen: seen.map((n) => `${n}/${written}`), idleRss, peakRss: peak() };
    }
    const text = dropLines(W3_LINES, Date.now());
    for (const r of running) appendFileSync(r.log, text);
    const cpu: number[] = running.map(() => NaN);
    const end = Date.now() + 120_000;
    while (cpu.some(Number.isNaN) && Date.now() < end) {
      await sleep(100);
      running.forEach((r, i) => {
        if (Number.isNaN(cpu[i]!) && packetDropCount(r.api!) >= W3_LINES)
          cpu[i] = procCpuSeconds(r.agent.pid) - cpu0[i]!;
      });
    }
    const stuck = sides.filter((_, i) => Number.isNaN(cpu[i]!)).map((s) => s.name);
    if (stuck.length > 0) throw new Error(`ab: ${stuck.join(' and ')} did not count every line within 120 s`);
    return { cpu, seen: running.map((r) => `${packetDropCount(r.api!)}/${W3_LINES}`), idleRss, peakRss: peak() };
  } finally {
    for (const r of running) await stop(r);
  }
}

async function main(): Promise<void> {
  const a = side('A');
  const b = side('B');
  const corpus = workload === 'w2' ? generateCorpus({ lines: W2_SECONDS * W2_RATE, form: 'kmsg', seed: 7 }) : [];
  console.log(`A/B ${workload}${connected ? ', connected' : ''}, ${rounds} rounds`);
  for (const s of [a, b])
    console.log(
      `  ${s.name}: ${s.bundle} ${s.flags.join(' ')} ${Object.entries(s.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  const sum = { A: 0, B: 0 };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [a, b] : [b, a];
    const r = await round(order, corpus);
    const by = Object.fromEntries(
      order.map((s, k) => [
        s.name,
        { cpu: r.cpu[k]!, seen: r.seen[k]!, rss: `${r.idleRss[k]!.toFixed(1)}/${r.peakRss[k]!.toFixed(1)} MiB` },
      ]),
    );
    sum.A += by.A!.cpu;
    sum.B += by.B!.cpu;
    console.log(
      `round ${i + 1}: A ${by.A!.cpu.toFixed(2)} CPU-s (${by.A!.seen}, idle/peak ${by.A!.rss})` +
        `  B ${by.B!.cpu.toFixed(2)} CPU-s (${by.B!.seen}, idle/peak ${by.B!.rss})`,
    );
  }
  console.log(`sum: A ${sum.A.toFixed(2)}  B ${sum.B.toFixed(2)}  B/A ${(sum.B / sum.A).toFixed(3)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
