// flood-bench.ts: the bundled agent (dist/nodewarden.cjs, with the DaemonSet's V8 flags) under a
// real /dev/kmsg flood — 2,000 records/s for 20 s of the benchmark corpus — standalone and
// connected to an API server (the in-process fake, over HTTP). Reports peak RSS (VmHWM), CPU
// seconds, records per CPU-second, records the agent saw vs wrote, and API writes. The agent runs
// as the DaemonSet runs it: the same V8 flags and MALLOC_ARENA_MAX=2.
// Run alone: `npx tsx bench/flood-bench.ts [seconds] [rate]` (root: it writes /dev/kmsg).
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '../test/helpers/fake-apiserver';
import { generateCorpus } from './corpus';

export interface FloodResult {
  mode: 'standalone' | 'connected';
  seconds: number;
  rate: number;
  written: number;
  received: number;
  peakRssMiB: number;
  idleRssMiB: number;
  cpuSeconds: number;
  cpuPercent: number;
  recordsPerCpuSecond: number;
  apiWrites: number;
}

const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(HERE), '..');
const AGENT = join(ROOT, 'dist/nodewarden.cjs');
const CLK_TCK = 100;

function procStatus(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(port: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

export async function runFloodBench(mode: 'standalone' | 'connected', seconds = 20, rate = 2000): Promise<FloodResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-flood-'));
  const port = 20_400 + Math.floor(Math.random() * 500);
  let api: FakeApiServer | undefined;
  const v8Flags = (process.env.NODEWARDEN_BENCH_V8_FLAGS ?? '--max-semi-space-size=1 --max-old-space-size=48').split(' ').filter(Boolean);
  const args = [...v8Flags, AGENT, 'run', '--state-dir', join(dir, 'state'), '--metrics-address', `127.0.0.1:${port}`, '--node-name', 'flood-node', '--log-level', 'error'];
  if (mode === 'connected') {
    api = await FakeApiServer.start();
    api.addNode('flood-node');
    args.push('--kubeconfig', api.writeKubeconfig(dir));
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KUBECONFIG: '', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' } });
  const pid = child.pid!;
  const corpus = generateCorpus({ lines: Math.min(rate * seconds, 200_000), form: 'kmsg', seed: 7 });
  const prevDevkmsg = readFileSync('/proc/sys/kernel/printk_devkmsg', 'utf8').trim();
  let written = 0;
  try {
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(100);
    }
    await sleep(2000); // settle: catch up with the ring's backlog
    const idleRssMiB = procStatus(pid, 'VmRSS');
    const receivedBefore = await metric(port, /nodewarden_component_received_total\{component_kind="source",component_id="kmsg"\} (\d+)/);
    const cpuBefore = procCpuSeconds(pid);

    // A single fd would be rate-limited by printk_devkmsg=ratelimit; lift it for the flood.
    writeFileSync('/proc/sys/kernel/printk_devkmsg', 'on\n');
    const fd = openSync('/dev/kmsg', 'w');
    const tickMs = 10;
    const start = Date.now();
    try {
      while (Date.now() - start < seconds * 1000) {
        const due = Math.floor(((Date.now() - start) / 1000) * rate);
        while (written < due) {
          const text = corpus[written % corpus.length]!.replace(/[\n]/g, ' ');
          writeSync(fd, `<4>${text}\n`);
          written++;
        }
        await sleep(tickMs);
      }
    } finally {
      closeSync(fd);
      writeFileSync('/proc/sys/kernel/printk_devkmsg', `${prevDevkmsg}\n`);
    }
    await sleep(1500);
    const cpuSeconds = procCpuSeconds(pid) - cpuBefore;
    const received = (await metric(port, /nodewarden_component_received_total\{component_kind="source",component_id="kmsg"\} (\d+)/)) - receivedBefore;
    const peakRssMiB = procStatus(pid, 'VmHWM');
    const apiWrites = api ? api.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH').length : 0;
    return {
      mode,
      seconds,
      rate,
      written,
      received,
      peakRssMiB: Math.round(peakRssMiB * 10) / 10,
      idleRssMiB: Math.round(idleRssMiB * 10) / 10,
      cpuSeconds: Math.round(cpuSeconds * 100) / 100,
      cpuPercent: Math.round((cpuSeconds / (seconds + 1.5)) * 1000) / 10,
      recordsPerCpuSecond: Math.round(received / Math.max(cpuSeconds, 0.01)),
      apiWrites,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === HERE) {
  const seconds = Number(process.argv[2] ?? 20);
  const rate = Number(process.argv[3] ?? 2000);
  (async () => {
    for (const mode of ['standalone', 'connected'] as const) console.log(JSON.stringify(await runFloodBench(mode, seconds, rate)));
  })().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
