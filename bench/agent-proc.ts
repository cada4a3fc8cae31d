// agent-proc.ts: the bundled agent (dist/nodewarden.cjs) as a benchmark child process, run as the
// DaemonSet runs it (the image's V8 flags and malloc environment), and what the benchmarks read about
// it from outside: CPU seconds (utime + stime from /proc/<pid>/stat), VmRSS/VmHWM from
// /proc/<pid>/status, and its /metrics. Shared by flood-bench, process-bench and memory-breakdown.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The bundle to run; NODEWARDEN_BENCH_AGENT names a copy (e.g. next to a re2 built for another node). */
export const AGENT = process.env.NODEWARDEN_BENCH_AGENT ?? join(ROOT, 'dist/nodewarden.cjs');
/**
 * `npm start`'s V8 flags (package.json): the agent on the machine's node, Node 20 here. Node 20 has
 * no production Maglev, so its top tier stays TurboFan.
 */
export const START_V8_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--max-old-space-size=48',
  '--no-concurrent-recompilation',
  '--no-maglev',
];
/**
 * The image's entrypoint flags (Dockerfile ENTRYPOINT, manifests/30-daemonset.yaml): Node 24, with
 * Maglev as the top tier instead of TurboFan (README, Memory cuts: the JIT tier on Node 24).
 */
export const IMAGE_V8_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--max-old-space-size=48',
  '--no-concurrent-recompilation',
  '--max-opt=2',
  '--invocation-count-for-maglev=5000',
];
/** The image's major Node version (Dockerfile NODE_RUNTIME_IMAGE); the image's flags are for it. */
export const IMAGE_NODE_MAJOR = 24;

/**
 * The V8 flags to run the agent with on a node of this major version: the image's on the Node
 * major the image runs (and newer), `npm start`'s on older ones (Node 20).
 * NODEWARDEN_BENCH_V8_FLAGS overrides both, for experiments.
 */
export function daemonsetV8Flags(nodeMajor: number): readonly string[] {
  const override = process.env.NODEWARDEN_BENCH_V8_FLAGS;
  if (override !== undefined) return override.split(' ').filter(Boolean);
  return nodeMajor >= IMAGE_NODE_MAJOR ? IMAGE_V8_FLAGS : START_V8_FLAGS;
}

/** The major version of a node binary (this process's without a path). */
export function nodeMajor(node?: string): number {
  const version =
    node === undefined || node === process.execPath
      ? process.versions.node
      : execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  return Number(version.split('.')[0]);
}

/**
 * The agent's whole environment: the image's (PATH, NODE_ENV=production), the malloc settings and
 * TZ=UTC. Nothing else is inherited from the caller, whose shell may set things the DaemonSet does
 * not (NODE_EXTRA_CA_CERTS, for one, loads a CA bundle at start: +1 MiB RSS on Node 20 and 24).
 * MALLOC_ARENA_MAX and GLIBC_TUNABLES set by the caller win, for experiments.
 */
export function daemonsetEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    NODE_ENV: 'production',
    TZ: 'UTC',
    ...DAEMONSET_MALLOC_ENV,
  };
  for (const name of Object.keys(DAEMONSET_MALLOC_ENV))
    if (process.env[name] !== undefined) env[name] = process.env[name];
  return { ...env, ...extra };
}
/**
 * The image's glibc malloc environment (Dockerfile ENV, manifests/30-daemonset.yaml, `npm start`;
 * test/manifests/image.test.ts checks they agree).
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

/** The kmsg source's counters in the agent's /metrics: records read, and records it knows it missed. */
export const KMSG_RECEIVED = /nodewarden_component_received_total\{component_kind="source",component_id="kmsg"\} (\d+)/;
export const KMSG_LOST = /nodewarden_component_lost_total\{component_kind="source",component_id="kmsg"\} (\d+)/;

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
  /** V8 flags after the DaemonSet's, so that they win over them (ab.ts's experiments). */
  readonly v8FlagsAfter?: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** stdio for stdout (default: ignored; stderr is inherited). */
  readonly stdout?: 'ignore' | 'inherit';
  /** The bundle to run (default AGENT). */
  readonly agent?: string;
}

/** Starts the agent on a random loopback port and waits until /healthz answers 200. */
export async function spawnAgent(o: SpawnAgentOptions): Promise<AgentChild> {
  const port = 20_400 + Math.floor(Math.random() * 2000);
  const args = [
    ...(o.nodeFlags ?? []),
    ...daemonsetV8Flags(nodeMajor(o.node)),
    ...(o.v8FlagsAfter ?? []),
    o.agent ?? AGENT,
    'run',
    '--metrics-address',
    `127.0.0.1:${port}`,
    ...o.args,
  ];
  const child = spawn(o.node ?? process.execPath, args, {
    cwd: o.cwd,
    stdio: ['ignore', o.stdout ?? 'ignore', 'inherit'],
    env: daemonsetEnv(o.env),
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
