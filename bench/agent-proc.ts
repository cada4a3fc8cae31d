// agent-proc.ts: the bundled agent (dist/nodewarden.cjs) as a benchmark child process, run as the
// DaemonSet runs it (the image's V8 flags and malloc environment), and what the benchmarks read about
// it from outside: CPU seconds (utime + stime from /proc/<pid>/stat), VmRSS/VmHWM from
// /proc/<pid>/status, and its /metrics. Shared by flood-bench, process-bench and memory-breakdown.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The bundle to run; NODEWARDEN_BENCH_AGENT names a copy (e.g. next to a re2 built for another node). */
export const AGENT = process.env.NODEWARDEN_BENCH_AGENT ?? join(ROOT, 'dist/nodewarden.cjs');
/** The image's entrypoint flags (Dockerfile, manifests/30-daemonset.yaml); overridable for experiments. */
export const DAEMONSET_V8_FLAGS = (
  process.env.NODEWARDEN_BENCH_V8_FLAGS ??
  '--max-semi-space-size=1 --max-old-space-size=48 --no-concurrent-recompilation --no-maglev'
)
  .split(' ')
  .filter(Boolean);
/**
 * The image's glibc malloc environment (Dockerfile ENV, manifests/30-daemonset.yaml, `npm start`;
 * test/manifests/image.test.ts checks they agree). The caller's environment overrides each one.
 */
export const DAEMONSET_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=32768',
};
/** USER_HZ: the unit of /proc/<pid>/stat's utime and stime (100 on every Linux build we run on). */
const CLK_TCK = 100;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function procStatus(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** utime + stime of the process, in seconds. */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

export async function metric(port: number, re: RegExp): Promise<number> {
  const m = re.exec(await metricsText(port));
  return m ? Number(m[1]) : 0;
}

export interface AgentChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export interface SpawnAgentOptions {
  /** `run` flags after the metrics address. */
  readonly args: readonly string[];
  /** The node binary (default: this process's). Its re2 addon must be built for it. */
  readonly node?: string | undefined;
  /** Extra node flags before the V8 flags (e.g. --heapsnapshot-signal). */
  readonly nodeFlags?: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** stdio for stdout (default: ignored; stderr is inherited). */
  readonly stdout?: 'ignore' | 'inherit';
}

/** Starts the agent on a random loopback port and waits until /healthz answers 200. */
export async function spawnAgent(o: SpawnAgentOptions): Promise<AgentChild> {
  const port = 20_400 + Math.floor(Math.random() * 2000);
  const args = [
    ...(o.nodeFlags ?? []),
    ...DAEMONSET_V8_FLAGS,
    AGENT,
    'run',
    '--metrics-address',
    `127.0.0.1:${port}`,
    ...o.args,
  ];
  const child = spawn(o.node ?? process.execPath, args, {
    cwd: o.cwd,
    stdio: ['ignore', o.stdout ?? 'ignore', 'inherit'],
    env: { ...DAEMONSET_MALLOC_ENV, ...process.env, KUBECONFIG: '', TZ: 'UTC', ...o.env },
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode} before /healthz answered`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, pid: child.pid!, port, stop };
    await sleep(100);
  }
  await stop();
  throw new Error('agent: /healthz did not answer 200 within 15 s');
}
