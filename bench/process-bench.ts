// process-bench.ts: whole-process benchmarks of the bundled agent, run as the DaemonSet runs it
// (agent-proc.ts: the image's V8 flags, MALLOC_ARENA_MAX=2). Each workload starts the agent, lets
// it settle (idle RSS), then feeds it and waits until the agent reports all of it; CPU is the
// agent's utime + stime delta between those two points (/proc/<pid>/stat), peak is VmHWM.
//   W1: a generated kern.log corpus (bench/corpus.ts, 1% matching, 70% iptables lines) appended
//       in one go to a file that NPD's kernel-monitor-filelog.json (a copy whose logPath names
//       the file) follows; done when nodewarden_rule_matches_total equals, per reason, an
//       independent count (JS RegExp per rule on the message part; every shipped pattern is
//       single-line, so NPD's buffer join cannot add matches). Standalone, no /dev/kmsg.
//   W3: RFC 3339 drop lines for 20 local/remote pod pairs appended to a --drop-log file, the
//       agent connected to the in-process fake API server (pods listed and watched there); done
//       when the PacketDrop Events' counts sum to the number of lines. Also idle CPU over a
//       period before the burst, and the RSS at its end.
//   (W2, the /dev/kmsg flood, is flood-bench.ts.)
//   idle: the agent as the DaemonSet runs it (shipped rules, /dev/kmsg), connected, nothing to
//       read: CPU and wake-ups (voluntary context switches) over 60 s (10 s with --quick,
//       --seconds N to choose) from 3 s after /healthz answered (--settle N); --drop-log
//       follows an empty drop log too, as W3 does; --threads adds CPU and wake-ups per thread
//       name and a per-second CPU timeline.
// Run alone: `npm run build && npx tsx bench/process-bench.ts [--quick] [--only w1|w3|idle] [--node PATH]`.
// --node runs the agent with another node binary; the re2 addon the bundle loads must be built
// for it: NODEWARDEN_BENCH_AGENT names a copy of the bundle whose node_modules/re2 is (README).
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../agent/runtime/clock';
import { monotonicBootTime } from '../agent/sources/kmsg';
import { FakeApiServer } from '../test/helpers/fake-apiserver';
import { FakePods } from '../test/helpers/fake-apiserver-pods';
import {
  KMSG_RECEIVED,
  metric,
  metricsText,
  procCpuSeconds,
  procStatus,
  ROOT,
  sleep,
  spawnAgent,
  type AgentChild,
} from './agent-proc';
import { generateCorpus } from './corpus';

export interface ProcessResult {
  readonly workload: string;
  readonly lines: number;
  readonly cpuSeconds: number;
  readonly linesPerCpuSecond: number;
  /** Wall time from the append to done (includes the drop flush interval for W3). */
  readonly wallSeconds: number;
  /** VmRSS soon after start: SETTLE_MS (3 s) after /healthz answered. */
  readonly idleRssMiB: number;
  /** W3: VmRSS at the end of its idle period, just before the burst. */
  readonly idleEndRssMiB?: number;
  readonly peakRssMiB: number;
  /** CPU seconds from spawn to settled (module load, first list/watch...). */
  readonly startCpuSeconds: number;
  readonly expected: Record<string, number>;
  readonly counted: Record<string, number>;
  readonly apiWrites?: number;
  /** W3: TCP connections the agent opened to the API server during the drain (each a TLS handshake). */
  readonly apiConnections?: number;
  /** W3: CPU over an idle period before the burst, as % of one core. */
  readonly idleCpuPercent?: number;
  readonly idleSeconds?: number;
}

const HERE = fileURLToPath(import.meta.url);
const SETTLE_MS = 3000;
const DONE_LIMIT_MS = 300_000; // hang guard only: W1 takes ~10 s, W3 ~15 s here

const mib = (n: number): number => Math.round(n * 10) / 10;
const cpu = (n: number): number => Math.round(n * 100) / 100;

async function until(pred: () => Promise<boolean>, what: () => string): Promise<void> {
  const end = Date.now() + DONE_LIMIT_MS;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`process-bench: ${what()} not reached within ${DONE_LIMIT_MS / 1000} s`);
    await sleep(100);
  }
}

type Drained = Pick<
  ProcessResult,
  | 'workload'
  | 'lines'
  | 'cpuSeconds'
  | 'linesPerCpuSecond'
  | 'wallSeconds'
  | 'idleRssMiB'
  | 'peakRssMiB'
  | 'startCpuSeconds'
>;

/**
 * Feeds the settled agent (`feed`), waits until `done`, and returns its CPU seconds and wall time
 * for that, with its idle RSS (`idleRssMiB`, read before) and peak RSS.
 */
async function drain(
  pid: number,
  w: { workload: string; lines: number; idleRssMiB: number; startCpuSeconds: number },
  feed: () => void,
  done: () => Promise<boolean>,
  what: () => string,
): Promise<Drained> {
  const before = procCpuSeconds(pid);
  const t0 = Date.now();
  feed();
  await until(done, what);
  const cpuSeconds = procCpuSeconds(pid) - before;
  return {
    workload: w.workload,
    lines: w.lines,
    cpuSeconds: cpu(cpuSeconds),
    linesPerCpuSecond: Math.round(w.lines / cpuSeconds),
    wallSeconds: cpu((Date.now() - t0) / 1000),
    idleRssMiB: mib(w.idleRssMiB),
    peakRssMiB: mib(procStatus(pid, 'VmHWM')),
    startCpuSeconds: cpu(w.startCpuSeconds),
  };
}

/** Per-reason nodewarden_rule_matches_total from /metrics. */
function matchesByReason(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^nodewarden_rule_matches_total\{([^}]*)\} (\d+)/gm)) {
    const reason = /reason="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    out[reason] = (out[reason] ?? 0) + Number(m[2]);
  }
  return out;
}

const sameCounts = (a: Record<string, number>, b: Record<string, number>): boolean =>
  Object.keys({ ...a, ...b }).every((k) => (a[k] ?? 0) === (b[k] ?? 0));

interface NpdRuleJson {
  logPath: string;
  lookback?: string;
  pluginConfig: { message: string };
  rules: { reason: string; pattern: string }[];
}

/** W1: a kern.log corpus through NPD's filelog kernel rules. */
export async function runFileLogWorkload(o: {
  lines: number;
  node?: string | undefined;
  /** Called once the agent answers /healthz (memory-timeline.ts samples it from there). */
  onAgent?: (agent: AgentChild) => void;
}): Promise<ProcessResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-w1-'));
  const log = join(dir, 'kern.log');
  writeFileSync(log, '');
  const rules = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/npd/kernel-monitor-filelog.json'), 'utf8'),
  ) as NpdRuleJson;
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules/kernel-monitor-filelog.json'), JSON.stringify({ ...rules, logPath: log }, null, 2));

  // Timestamps end two minutes before now and start after boot (the agent drops lines from before
  // boot + NPD's delay, and the expected counts below assume none is dropped). Appended lines are
  // not backlog, so the 5m lookback does not apply to them. On a machine booted less than the
  // corpus's span ago (~5 ms a line), the timestamps are compressed to fit.
  const endMs = Date.now() - 120_000;
  const spanMs = o.lines * 5; // corpus.ts advances ~5 ms of uptime per line
  const room = endMs - monotonicBootTime(systemClock) - 60_000; // the agent's own boot time
  if (room < 60_000)
    throw new Error('process-bench: W1 needs the machine up for 4 minutes (its lines must be after boot)');
  const timeScale = Math.min(1, room / (spanMs * 1.1));
  const text = generateCorpus({
    lines: o.lines,
    form: 'syslog',
    seed: 11,
    matchRate: 0.01,
    startMs: endMs - spanMs * timeScale,
    timeScale,
  });
  const msgRe = new RegExp(rules.pluginConfig.message);
  const ruleRes = rules.rules.map((r) => ({ reason: r.reason, re: new RegExp(`(?:${r.pattern})$`) }));
  const expected: Record<string, number> = {};
  for (const line of text) {
    const msg = msgRe.exec(line)?.[1];
    if (msg === undefined) continue;
    for (const r of ruleRes) if (r.re.test(msg)) expected[r.reason] = (expected[r.reason] ?? 0) + 1;
  }
  const payload = Buffer.from(text.join('\n') + '\n', 'utf8');
  text.length = 0;

  let agent: AgentChild | undefined;
  try {
    agent = await spawnAgent({
      node: o.node,
      args: [
        '--rules',
        join(dir, 'rules'),
        '--state-dir',
        join(dir, 'state'),
        '--kmsg-path',
        '',
        '--node-name',
        'bench-node',
      ],
    });
    o.onAgent?.(agent);
    await sleep(SETTLE_MS);
    const { pid, port } = agent;
    const startCpuSeconds = procCpuSeconds(pid);
    const idleRssMiB = procStatus(pid, 'VmRSS');
    let counted: Record<string, number> = {};
    const d = await drain(
      pid,
      { workload: 'W1 kern.log via NPD filelog rules', lines: o.lines, idleRssMiB, startCpuSeconds },
      () => appendFileSync(log, payload),
      async () => sameCounts((counted = matchesByReason(await metricsText(port))), expected),
      () => `every expected problem counted (${JSON.stringify(expected)}; counted ${JSON.stringify(counted)})`,
    );
    return { ...d, expected, counted };
  } finally {
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const PAIRS = 20;
const NODE = 'bench-node';

/** `lines` calico-drop lines, round-robin over the pairs (remote → local, TCP SYN to a fixed port). */
export function dropLines(lines: number, nowMs: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const k = i % PAIRS;
    // Spread over the last 5 s: well inside --drop-max-age (10m).
    const t = new Date(nowMs - 5000 + Math.floor((i / lines) * 5000)).toISOString().replace('Z', '000+00:00');
    out.push(
      `${t} ${NODE} kernel: [ 9000.${String(i % 1_000_000).padStart(6, '0')}] calico-drop: IN=eth0 OUT=cali${k}abc MAC=ee:ee:ee:ee:ee:ee:aa:bb:cc:dd:ee:ff:08:00 SRC=10.244.2.${10 + k} DST=10.244.1.${10 + k} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${i % 65536} DF PROTO=TCP SPT=${30000 + (i % 30000)} DPT=8080 WINDOW=64240 RES=0x00 SYN URGP=0 `,
    );
  }
  return out.join('\n') + '\n';
}

/** The fake API server with this node, another, and the PAIRS local/remote pods on them. */
export async function apiWithPods(): Promise<FakeApiServer> {
  const api = await FakeApiServer.start({ tls: true }); // HTTPS, as a real API server
  api.addNode(NODE);
  api.addNode('other-node');
  const pods = new FakePods(api);
  for (let k = 0; k < PAIRS; k++) {
    pods.put({ namespace: `ns-${k}`, name: `local-${k}`, node: NODE, ips: [`10.244.1.${10 + k}`] });
    pods.put({ namespace: `peer-${k}`, name: `remote-${k}`, node: 'other-node', ips: [`10.244.2.${10 + k}`] });
  }
  return api;
}

/** The sum of the PacketDrop Events' counts on the fake API server. */
export function packetDropCount(api: FakeApiServer): number {
  return api
    .listEvents()
    .filter((e) => e.reason === 'PacketDrop')
    .reduce((n, e) => n + Number(e.count ?? 1), 0);
}

/**
 * W3's files in `dir`: an empty drop log and NPD's kernel rules; returns the log's path and the
 * agent's `run` flags for them (no /dev/kmsg, this node).
 */
export function dropLogSetup(dir: string): { log: string; args: string[] } {
  const log = join(dir, 'iptables.log');
  writeFileSync(log, '');
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules/kernel-monitor.json'),
    readFileSync(join(ROOT, 'test/fixtures/npd/kernel-monitor.json')),
  );
  return { log, args: ['--rules', join(dir, 'rules'), '--kmsg-path', '', '--drop-log', log, '--node-name', NODE] };
}

/** W3: a drop log resolved against the fake API server, until the Events count every line. */
export async function runDropLogWorkload(o: {
  lines: number;
  idleSeconds: number;
  node?: string | undefined;
  /** Called once the agent answers /healthz (memory-timeline.ts samples it from there). */
  onAgent?: (agent: AgentChild) => void;
}): Promise<ProcessResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-w3-'));
  const { log, args } = dropLogSetup(dir);
  const api = await apiWithPods();
  const dropCount = (): number => packetDropCount(api);
  const writes = (): number => api.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH').length;

  let agent: AgentChild | undefined;
  try {
    agent = await spawnAgent({
      node: o.node,
      args: [...args, '--state-dir', join(dir, 'state'), '--kubeconfig', api.writeKubeconfig(dir)],
    });
    o.onAgent?.(agent);
    await sleep(SETTLE_MS);
    const { pid, port } = agent;
    const startCpuSeconds = procCpuSeconds(pid);
    const idleRssMiB = procStatus(pid, 'VmRSS');
    // Idle: no input; what is left is timers, the pod watch and the heartbeat.
    await sleep(o.idleSeconds * 1000);
    const idleCpu = procCpuSeconds(pid) - startCpuSeconds;
    const idleEndRssMiB = procStatus(pid, 'VmRSS');
    const writesBefore = writes();
    const connectionsBefore = api.connections;
    const d = await drain(
      pid,
      { workload: 'W3 drop log, fake API server', lines: o.lines, idleRssMiB, startCpuSeconds },
      () => appendFileSync(log, dropLines(o.lines, Date.now())),
      async () => dropCount() >= o.lines,
      () => 'PacketDrop Event counts summing to the lines',
    );
    await metricsText(port); // still answering
    return {
      ...d,
      expected: { PacketDrop: o.lines },
      counted: { PacketDrop: dropCount() },
      apiWrites: writes() - writesBefore,
      apiConnections: api.connections - connectionsBefore,
      idleCpuPercent: Math.round((idleCpu / o.idleSeconds) * 10000) / 100,
      idleSeconds: o.idleSeconds,
      idleEndRssMiB: mib(idleEndRssMiB),
    };
  } finally {
    await agent?.stop();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Voluntary + involuntary context switches of every thread: each is a thread waking up, or being preempted. */
export function procContextSwitches(pid: number): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
      involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { voluntary, involuntary };
}

/** CPU time of every live thread in ns (/proc/<pid>/task/<tid>/schedstat): finer than utime + stime's 10 ms ticks. */
export function procSchedNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns;
}

/**
 * Per thread: CPU ns (schedstat) and voluntary switches, keyed "main" for the main thread and
 * "<comm> <tid>" for the others (Node 20 names none of its threads, so the tid's order of creation
 * is what tells the V8 platform workers, created first, from libuv's pool, created on first use).
 */
export function procThreads(pid: number): Map<string, { ns: number; wakeups: number }> {
  const out = new Map<string, { ns: number; wakeups: number }>();
  const tids = readdirSync(`/proc/${pid}/task`).sort((a, b) => Number(a) - Number(b));
  for (const tid of tids) {
    try {
      const name =
        Number(tid) === pid ? 'main' : `${readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()} ${tid}`;
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out.set(name, { ns, wakeups: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export interface IdleResult {
  readonly workload: string;
  readonly idleSeconds: number;
  readonly idleCpuPercent: number;
  /** The same from the threads' schedstat (ns; threads that ended during the period are missed). */
  readonly idleCpuPercentSched: number;
  /** Voluntary context switches per second, all threads: the wake-ups. */
  readonly wakeupsPerSecond: number;
  readonly kmsg: boolean;
  /** Records the kmsg source received during the idle period (other processes' writes). */
  readonly kmsgRecords: number;
  readonly idleRssMiB: number;
  /** VmRSS at the end of the period (after V8's memory reducer, which runs some 8 s after start). */
  readonly endRssMiB: number;
  /** With `threads`: CPU ms and wake-ups over the period per thread name, and CPU ms (all threads) per second. */
  readonly perThread?: Record<string, { cpuMs: number; wakeups: number }>;
  readonly cpuMsPerSecond?: readonly number[];
}

/**
 * Idle: the agent as the DaemonSet runs it (the shipped rules/, /dev/kmsg when this process may
 * read it, drops from the kernel log), connected to the fake API server with the W3 pods, and
 * nothing written to read. CPU and context switches over idleSeconds, after SETTLE_MS.
 */
export async function runIdleWorkload(o: {
  idleSeconds: number;
  settleSeconds?: number;
  dropLog?: boolean;
  node?: string | undefined;
  /** Also per-thread CPU and wake-ups, and a per-second CPU timeline (samples /proc once a second). */
  threads?: boolean;
}): Promise<IdleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-idle-'));
  const dropLog = join(dir, 'iptables.log');
  if (o.dropLog === true) writeFileSync(dropLog, '');
  let kmsg = true;
  try {
    closeSync(openSync('/dev/kmsg', 'r'));
  } catch {
    kmsg = false;
  }
  const api = await apiWithPods();
  let agent: AgentChild | undefined;
  try {
    agent = await spawnAgent({
      node: o.node,
      args: [
        '--rules',
        join(ROOT, 'rules'),
        '--state-dir',
        join(dir, 'state'),
        ...(kmsg ? [] : ['--kmsg-path', '']),
        ...(o.dropLog === true ? ['--drop-log', dropLog] : []),
        '--node-name',
        NODE,
        '--kubeconfig',
        api.writeKubeconfig(dir),
      ],
    });
    await sleep(o.settleSeconds !== undefined ? o.settleSeconds * 1000 : SETTLE_MS);
    const { pid, port } = agent;
    const records0 = kmsg ? await metric(port, KMSG_RECEIVED) : 0;
    const cpu0 = procCpuSeconds(pid);
    const cs0 = procContextSwitches(pid);
    const ns0 = procSchedNs(pid);
    const idleRssMiB = procStatus(pid, 'VmRSS');
    const threads0 = o.threads === true ? procThreads(pid) : undefined;
    const cpuMsPerSecond: number[] = [];
    if (o.threads === true) {
      const t0 = Date.now();
      let last = ns0;
      for (let i = 1; i <= o.idleSeconds; i++) {
        await sleep(Math.max(0, t0 + i * 1000 - Date.now()));
        const ns = procSchedNs(pid);
        cpuMsPerSecond.push(Math.round((ns - last) / 1e5) / 10);
        last = ns;
      }
    } else await sleep(o.idleSeconds * 1000);
    const threads1 = o.threads === true ? procThreads(pid) : undefined;
    const cpu1 = procCpuSeconds(pid);
    const cs1 = procContextSwitches(pid);
    const ns1 = procSchedNs(pid);
    const endRssMiB = procStatus(pid, 'VmRSS');
    const records1 = kmsg ? await metric(port, KMSG_RECEIVED) : 0;
    return {
      workload: `idle, connected, ${kmsg ? '/dev/kmsg' : 'no /dev/kmsg'}${o.dropLog === true ? ', a drop log' : ''}`,
      idleSeconds: o.idleSeconds,
      idleCpuPercent: Math.round(((cpu1 - cpu0) / o.idleSeconds) * 10000) / 100,
      idleCpuPercentSched: Math.round(((ns1 - ns0) / 1e9 / o.idleSeconds) * 10000) / 100,
      wakeupsPerSecond: Math.round(((cs1.voluntary - cs0.voluntary) / o.idleSeconds) * 10) / 10,
      kmsg,
      kmsgRecords: records1 - records0,
      idleRssMiB: mib(idleRssMiB),
      endRssMiB: mib(endRssMiB),
      ...(threads0 && threads1
        ? {
            perThread: Object.fromEntries(
              [...threads1].map(([name, t]) => [
                name,
                {
                  cpuMs: Math.round((t.ns - (threads0.get(name)?.ns ?? 0)) / 1e5) / 10,
                  wakeups: t.wakeups - (threads0.get(name)?.wakeups ?? 0),
                },
              ]),
            ),
            cpuMsPerSecond,
          }
        : {}),
    };
  } finally {
    await agent?.stop();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ProcessBenchOptions {
  readonly quick: boolean;
  readonly only?: 'w1' | 'w3' | undefined;
  readonly node?: string | undefined;
}

export async function runProcessBench(o: ProcessBenchOptions): Promise<ProcessResult[]> {
  const out: ProcessResult[] = [];
  if (o.only !== 'w3') out.push(await runFileLogWorkload({ lines: o.quick ? 200_000 : 1_000_000, node: o.node }));
  if (o.only !== 'w1')
    out.push(
      await runDropLogWorkload({ lines: o.quick ? 20_000 : 100_000, idleSeconds: o.quick ? 10 : 60, node: o.node }),
    );
  return out;
}

export function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === HERE) {
  const only = argValue(process.argv, '--only');
  if (only !== undefined && only !== 'w1' && only !== 'w3' && only !== 'idle')
    throw new Error('--only takes w1, w3 or idle (the flood, W2, is flood-bench.ts)');
  const quick = process.argv.includes('--quick');
  const node = argValue(process.argv, '--node');
  const seconds = argValue(process.argv, '--seconds');
  const settle = argValue(process.argv, '--settle');
  const idle = {
    idleSeconds: seconds !== undefined ? Number(seconds) : quick ? 10 : 60,
    ...(settle !== undefined ? { settleSeconds: Number(settle) } : {}),
    dropLog: process.argv.includes('--drop-log'),
    threads: process.argv.includes('--threads'),
    node,
  };
  (only === 'idle' ? runIdleWorkload(idle).then((r) => [r]) : runProcessBench({ quick, only, node }))
    .then((rs: readonly object[]) => {
      for (const r of rs) console.log(JSON.stringify(r));
    })
    .catch((e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    });
}
