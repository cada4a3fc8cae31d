// flood-bench.ts: the bundled agent (dist/nodewarden.cjs, with the DaemonSet's V8 flags) under a
// real /dev/kmsg flood — 2,000 records/s for 20 s of the benchmark corpus — standalone and
// connected to an API server (the in-process fake over HTTPS: the node, an empty pod list). Reports peak RSS (VmHWM), CPU
// seconds, records per CPU-second, records the agent saw vs wrote, and API writes; and idle RSS
// before the flood, 2 s after start (the ring's backlog just read) and 10 s after (settled). The agent runs
// as the DaemonSet runs it: the same V8 flags and malloc environment (agent-proc.ts).
// Run alone: `npx tsx bench/flood-bench.ts [seconds] [rate]` (root: it writes /dev/kmsg).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '../test/helpers/fake-apiserver';
import { FakePods } from '../test/helpers/fake-apiserver-pods';
import { KMSG_LOST, KMSG_RECEIVED, metric, procCpuSeconds, procStatus, sleep, spawnAgent } from './agent-proc';
import { generateCorpus } from './corpus';

export interface FloodResult {
  mode: 'standalone' | 'connected';
  seconds: number;
  rate: number;
  written: number;
  received: number;
  peakRssMiB: number;
  /** VmRSS 2 s after /healthz: the ring's backlog just read, V8 not yet settled. */
  earlyRssMiB: number;
  /** VmRSS IDLE_RSS_AT_MS after /healthz, before the flood: the idle figure. */
  idleRssMiB: number;
  cpuSeconds: number;
  cpuPercent: number;
  recordsPerCpuSecond: number;
  apiWrites: number;
  /** Records the agent knows the kernel overwrote before it read them (kmsg overrun gaps). */
  lost: number;
}

const HERE = fileURLToPath(import.meta.url);
export const FLOOD_NODE = 'flood-node';
/** When the idle RSS is read, after /healthz answered (as `bench/memory-breakdown.ts --idle 10` reads it). */
export const IDLE_RSS_AT_MS = 10_000;

/** The fake API server of the connected flood (HTTPS, as a real API server): the node, and no pods. */
export async function floodApi(): Promise<FakeApiServer> {
  const api = await FakeApiServer.start({ tls: true });
  api.addNode(FLOOD_NODE);
  new FakePods(api); // the pod list and watch succeed, empty, as on a real API server
  return api;
}

/**
 * Writes `rate` records a second of the corpus to /dev/kmsg for `seconds` (root); returns how many.
 * A single fd would be rate-limited by printk_devkmsg=ratelimit, so that is lifted meanwhile.
 */
export async function floodKmsg(corpus: readonly string[], seconds: number, rate: number): Promise<number> {
  const prev = readFileSync('/proc/sys/kernel/printk_devkmsg', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/printk_devkmsg', 'on\n');
  const fd = openSync('/dev/kmsg', 'w');
  let written = 0;
  try {
    const start = Date.now();
    while (Date.now() - start < seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      for (; written < due; written++) writeSync(fd, `<4>${corpus[written % corpus.length]!.replace(/\n/g, ' ')}\n`);
      await sleep(10);
    }
  } finally {
    closeSync(fd);
    writeFileSync('/proc/sys/kernel/printk_devkmsg', `${prev}\n`);
  }
  return written;
}

export async function runFloodBench(
  mode: 'standalone' | 'connected',
  seconds = 20,
  rate = 2000,
  node?: string,
): Promise<FloodResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-flood-'));
  let api: FakeApiServer | undefined;
  const args = ['--state-dir', join(dir, 'state'), '--node-name', FLOOD_NODE, '--log-level', 'error'];
  if (mode === 'connected') {
    api = await floodApi();
    args.push('--kubeconfig', api.writeKubeconfig(dir));
  }
  const agent = await spawnAgent({ args, node }).catch(async (e: unknown) => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const { pid, port } = agent;
  const corpus = generateCorpus({ lines: Math.min(rate * seconds, 200_000), form: 'kmsg', seed: 7 });
  try {
    await sleep(2000); // settle: catch up with the ring's backlog
    const earlyRssMiB = procStatus(pid, 'VmRSS');
    // Idle: on Node 20, V8's memory reducer runs its first mark-compact about 8 s after start and
    // gives back 2-3 MiB of start-up garbage; Node 24 stays where it is (README, Performance).
    await sleep(IDLE_RSS_AT_MS - 2000);
    const idleRssMiB = procStatus(pid, 'VmRSS');
    const receivedBefore = await metric(port, KMSG_RECEIVED);
    const lostBefore = await metric(port, KMSG_LOST);
    const cpuBefore = procCpuSeconds(pid);

    const written = await floodKmsg(corpus, seconds, rate);
    await sleep(1500);
    const cpuSeconds = procCpuSeconds(pid) - cpuBefore;
    const received = (await metric(port, KMSG_RECEIVED)) - receivedBefore;
    const lost = (await metric(port, KMSG_LOST)) - lostBefore;
    const peakRssMiB = procStatus(pid, 'VmHWM');
    const apiWrites = api ? api.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH').length : 0;
    return {
      mode,
      seconds,
      rate,
      written,
      received,
      peakRssMiB: Math.round(peakRssMiB * 10) / 10,
      earlyRssMiB: Math.round(earlyRssMiB * 10) / 10,
      idleRssMiB: Math.round(idleRssMiB * 10) / 10,
      cpuSeconds: Math.round(cpuSeconds * 100) / 100,
      cpuPercent: Math.round((cpuSeconds / (seconds + 1.5)) * 1000) / 10,
      recordsPerCpuSecond: Math.round(received / Math.max(cpuSeconds, 0.01)),
      apiWrites,
      lost,
    };
  } finally {
    await agent.stop();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === HERE) {
  const seconds = Number(process.argv[2] ?? 20);
  const rate = Number(process.argv[3] ?? 2000);
  (async () => {
    for (const mode of ['standalone', 'connected'] as const)
      console.log(JSON.stringify(await runFloodBench(mode, seconds, rate)));
  })().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
