// recovery.ts: how long the Node takes to show a condition after an API server outage, in real
// time, with the bundled agent (dist/nodewarden.cjs) against the in-process fake API server.
// Each run: the agent starts and syncs; the API server stops (connections refused) for
// --down seconds; a kernel problem (XFS shutdown, a permanent rule) is written to the followed
// kern.log during the outage; the API server comes back; the time until the Node shows the
// condition True is printed. No /dev/kmsg, no network beyond loopback.
// Run: npm run build && npx tsx bench/recovery.ts [--runs 5] [--down 60]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, freePort } from '../test/e2e/agent-process';
import { FakeApiServer } from '../test/helpers/fake-apiserver';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 5);
const DOWN_S = arg('down', 60);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** NPD's filelog form of one kernel message, stamped now. */
function kernLine(msg: string): string {
  const d = new Date();
  const mon = d.toLocaleString('en-US', { month: 'short' });
  const hms = d.toTimeString().slice(0, 8);
  return `${mon} ${String(d.getDate()).padStart(2, ' ')} ${hms} host kernel: [ 1234.567890] ${msg}\n`;
}

async function run(n: number): Promise<number | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-recovery-'));
  const server = await FakeApiServer.start();
  const node = `nodewarden-recovery-${process.pid}-${n}`;
  server.addNode(node, [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready' }]);
  const kernLog = join(dir, 'kern.log');
  writeFileSync(kernLog, '');
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules', 'kernel.json'),
    JSON.stringify({
      plugin: 'filelog',
      pluginConfig: { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' },
      logPath: kernLog,
      lookback: '5m',
      bufferSize: 10,
      source: 'kernel-monitor',
      conditions: [{ type: 'XfsShutdown', reason: 'XfsHasNotShutDown', message: 'XFS has not shutdown' }],
      rules: [
        {
          type: 'permanent',
          condition: 'XfsShutdown',
          reason: 'XfsHasShutdown',
          pattern: 'XFS .* Shutting down filesystem.?',
        },
      ],
    }),
  );
  const agent = new AgentProcess([
    'run',
    '--rules',
    join(dir, 'rules'),
    '--state-dir',
    join(dir, 'state'),
    '--kubeconfig',
    server.writeKubeconfig(dir),
    '--node-name',
    node,
    '--kmsg-path',
    '',
    '--metrics-address',
    `127.0.0.1:${await freePort()}`,
    '--log-level',
    'warn',
  ]);
  const xfs = (): Record<string, unknown> | undefined =>
    server.conditionsOf(node).find((c) => c.type === 'XfsShutdown');
  try {
    if (!(await until(() => xfs()?.status === 'False', 30_000)))
      throw new Error(`agent never synced:\n${agent.output}`);
    await server.refuse();
    await sleep((DOWN_S * 1000) / 3);
    appendFileSync(kernLog, kernLine('XFS (dm-0): Corruption of in-memory data detected. Shutting down filesystem'));
    await sleep((DOWN_S * 1000 * 2) / 3);
    await server.accept();
    const up = Date.now();
    const ok = await until(() => xfs()?.status === 'True', 120_000);
    return ok ? (Date.now() - up) / 1000 : undefined;
  } finally {
    await agent.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const out: (number | undefined)[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await run(i);
    out.push(s);
    console.log(
      `run ${i + 1}: API server down ${DOWN_S} s; condition True on the Node ${s === undefined ? 'not within 120 s' : `${s.toFixed(1)} s`} after it came back`,
    );
  }
  const got = out.filter((s): s is number => s !== undefined).sort((a, b) => a - b);
  if (got.length > 0)
    console.log(
      `recovery: min ${got[0]!.toFixed(1)} s, median ${got[Math.floor(got.length / 2)]!.toFixed(1)} s, max ${got.at(-1)!.toFixed(1)} s over ${got.length}/${RUNS} runs`,
    );
}

void main();
