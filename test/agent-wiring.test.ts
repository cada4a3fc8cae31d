// agent-wiring.test.ts: the composition root with in-memory sources (the SourceFactory port) and
// the fake clock: needs neither root nor /dev/kmsg. Kernel lines reach the detector and the drop
// pipeline, file lines reach what their role says (rule log: detector; --drop-log: also the drop
// pipeline, started at the end), a reload stops following a file, and against the fake API
// server a detection becomes a condition patch and an Event.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type SourceFactory } from '../agent/agent';
import { loadRuleFiles } from '../agent/config/rule-files';
import { parseSettings } from '../agent/config/settings';
import { createKubeClient } from '../agent/kube/client';
import { Metrics } from '../agent/sinks/metrics';
import type { FileSourceOptions } from '../agent/sources/file';
import type { JournaldSourceOptions } from '../agent/sources/journald';
import type { LineHandler, LogLine, Logger, Source, SourceHealth } from '../agent/types';
import { newSourceStats } from '../agent/types';
import { FakeApiServer } from './helpers/fake-apiserver';
import { FakeClock } from './helpers/fake-clock';
import { until } from './helpers/eventually';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Source fed by the test: push() hands lines to the agent's handler, in order. */
class ScriptedSource implements Source {
  readonly stats = newSourceStats();
  running = false;
  private handler: LineHandler | undefined;
  private queue: Promise<void> = Promise.resolve();
  constructor(readonly id: string) {}
  health(): SourceHealth {
    return { alive: true, lastPollAt: 0 };
  }
  run(onLine: LineHandler, signal: AbortSignal): Promise<void> {
    this.handler = onLine;
    this.running = true;
    return new Promise((resolve) =>
      signal.addEventListener('abort', () => {
        this.running = false;
        resolve();
      }),
    );
  }
  push(text: string, time: Date, identifier?: string): Promise<void> {
    const line: LogLine =
      identifier === undefined ? { origin: this.id, time, text } : { origin: this.id, time, text, identifier };
    this.queue = this.queue.then(async () => {
      this.stats.received++;
      await this.handler?.(line);
      this.stats.sent++;
    });
    return this.queue;
  }
}

async function setup(opts: { rules: object[]; args?: string[]; api?: FakeApiServer }) {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-wiring-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const rulePaths = opts.rules.map((r, i) => {
    const p = join(dir, `rules-${i}.json`);
    writeFileSync(p, JSON.stringify(r));
    return p;
  });
  const args = [
    'run',
    ...rulePaths.flatMap((p) => ['--rules', p]),
    '--state-dir',
    join(dir, 'state'),
    '--metrics-address',
    '127.0.0.1:0',
    '--reload-interval',
    '1s',
    ...(opts.args ?? []),
  ];
  const parsed = parseSettings(args, {});
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const { files, errors } = await loadRuleFiles(rulePaths);
  expect(errors).toEqual([]);
  const clock = new FakeClock(Date.parse('2026-06-15T12:00:00Z'));
  const made = new Map<string, ScriptedSource>();
  const fileOpts = new Map<string, FileSourceOptions>();
  const journalOpts: JournaldSourceOptions[] = [];
  const sources: SourceFactory = {
    journald: (o) => {
      const s = new ScriptedSource(`journald:${o.dir}`);
      made.set(s.id, s);
      journalOpts.push(o);
      return s;
    },
    kmsg: () => {
      const s = new ScriptedSource('kmsg');
      made.set('kmsg', s);
      return s;
    },
    file: (o) => {
      const s = new ScriptedSource(o.path);
      made.set(o.path, s);
      fileOpts.set(o.path, o);
      return s;
    },
  };
  const metrics = new Metrics({ processMetrics: false });
  const kube = opts.api ? createKubeClient({ kubeconfig: opts.api.writeKubeconfig(dir) }) : undefined;
  const agent = new Agent({
    settings: parsed.settings,
    files,
    rulePaths,
    logger: quiet,
    clock,
    metrics,
    nodeName: 'wired',
    sources,
    ...(kube ? { kube } : {}),
  });
  cleanups.push(() => agent.stop(1000));
  await agent.start();
  const metric = async (re: RegExp): Promise<number> => Number(re.exec(await metrics.registry.metrics())?.[1] ?? 'NaN');
  return { dir, rulePaths, clock, agent, made, fileOpts, journalOpts, metric };
}

const kmsgRules = {
  plugin: 'kmsg',
  source: 'wiring',
  conditions: [{ type: 'WiringBroken', reason: 'WiringFine', message: 'fine' }],
  rules: [
    { type: 'permanent', condition: 'WiringBroken', reason: 'WiringBrokeDown', pattern: 'wiring broke .*' },
    { type: 'temporary', reason: 'WiringBlip', pattern: 'wiring blip \\d+' },
  ],
};
const DROP =
  'calico-drop: IN=cali1 OUT=eth0 MAC=ee:ee:ee:ee:ee:ee:aa:aa:aa:aa:aa:aa:08:00 SRC=10.0.1.5 DST=10.0.2.9 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=7070 WINDOW=64240 RES=0x00 SYN URGP=0';
const dropsReceived =
  /nodewarden_component_received_total\{component_kind="transform",component_id="packet-drops"\} (\d+)/;

describe('Agent wiring (in-memory sources, fake clock)', () => {
  it('standalone: kernel lines reach the detector and the drop pipeline', async () => {
    const t = await setup({ rules: [kmsgRules] });
    const kmsg = t.made.get('kmsg')!;
    expect(kmsg.running).toBe(true);
    expect(t.agent.conditions()).toMatchObject([{ type: 'WiringBroken', status: 'False' }]);
    await kmsg.push('wiring broke down hard', new Date(t.clock.now()));
    await kmsg.push(DROP, new Date(t.clock.now()));
    expect(t.agent.conditions()).toMatchObject([{ type: 'WiringBroken', status: 'True', reason: 'WiringBrokeDown' }]);
    expect(await t.metric(dropsReceived)).toBe(2);
    await t.agent.stop();
    expect(kmsg.running).toBe(false);
  });

  it('files by role: a --drop-log starts at its end and feeds the drop pipeline; a rule log starts at its start and does not; a reload unfollows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodewarden-wiring-logs-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ruleLog = join(dir, 'kern.log');
    const dropLog = join(dir, 'iptables.log');
    const filelog = {
      plugin: 'filelog',
      logPath: ruleLog,
      pluginConfig: { timestamp: '^.{15}', message: 'kernel: (.*)', timestampFormat: 'Jan _2 15:04:05' },
      source: 'wiring-file',
      conditions: [],
      rules: [{ type: 'temporary', reason: 'WiringFileBlip', pattern: 'file blip' }],
    };
    const t = await setup({ rules: [kmsgRules, filelog], args: ['--drop-log', dropLog] });
    expect([...t.made.keys()].sort()).toEqual([dropLog, ruleLog, 'kmsg'].sort());
    expect(t.fileOpts.get(dropLog)!.startAtEnd).toBe(true);
    expect(t.fileOpts.get(ruleLog)!.startAtEnd).toBe(false);
    const now = new Date(t.clock.now());
    await t.made.get(ruleLog)!.push(`Jun 15 12:00:00 n kernel: ${DROP}`, now);
    expect(await t.metric(dropsReceived)).toBe(0);
    await t.made.get(dropLog)!.push(`2026-06-15T12:00:00.000000+00:00 n kernel: ${DROP}`, now);
    expect(await t.metric(dropsReceived)).toBe(1);
    // The rule file no longer names kern.log: it is no longer followed; the drop log stays.
    writeFileSync(t.rulePaths[1]!, JSON.stringify({ ...filelog, logPath: join(dir, 'other.log') }));
    t.clock.advance(1000); // one --reload-interval: the watcher sees the change and reloads
    await until('kern.log unfollowed', () => !t.made.get(ruleLog)!.running);
    expect(t.made.get(dropLog)!.running).toBe(true);
    expect(
      t.agent
        .sourceList()
        .map((s) => s.id)
        .sort(),
    ).toEqual([dropLog, join(dir, 'other.log'), 'kmsg'].sort());
  });

  it('journald: one reader per journal directory for all its identifiers; entries routed by identifier; a reload restarts it', async () => {
    const journald = (source: string, id: string, reason: string, logPath = '/var/log/journal') => ({
      plugin: 'journald',
      pluginConfig: { source: id },
      logPath,
      lookback: '5m',
      source,
      conditions: [],
      rules: [{ type: 'temporary', reason, pattern: 'Started (Kubernetes kubelet|kubelet.service).' }],
    });
    const t = await setup({
      rules: [
        journald('systemd-monitor', 'systemd', 'KubeletStart'),
        journald('other-monitor', 'kubelet', 'KubeletSaysStarted'),
        journald('volatile-monitor', 'systemd', 'VolatileStart', '/run/log/journal'),
      ],
    });
    expect(t.journalOpts.map((o) => [o.dir, o.identifiers, o.startAfterMs])).toEqual([
      ['/var/log/journal', ['kubelet', 'systemd'], t.clock.now() - 300_000],
      ['/run/log/journal', ['systemd'], t.clock.now() - 300_000],
    ]);
    const persistent = t.made.get('journald:/var/log/journal')!;
    const volatile = t.made.get('journald:/run/log/journal')!;
    const now = new Date(t.clock.now());
    await persistent.push('Started Kubernetes kubelet.', now, 'systemd');
    await persistent.push('Started Kubernetes kubelet.', now, 'kubelet');
    await persistent.push('Started Kubernetes kubelet.', now, 'dockerd'); // no rule file reads it
    await volatile.push('Started kubelet.service.', now, 'systemd');
    const counter = (reason: string) => t.metric(new RegExp(`problem_counter\\{reason="${reason}"\\} (\\d+)`));
    expect(await counter('KubeletStart')).toBe(1);
    expect(await counter('KubeletSaysStarted')).toBe(1);
    expect(await counter('VolatileStart')).toBe(1);
    // A reload moves the kubelet file's rules to systemd in /run/log/journal: the reader of
    // /var/log/journal restarts for systemd only (resuming from the cursor it saves).
    writeFileSync(t.rulePaths[1]!, JSON.stringify(journald('other-monitor', 'systemd', 'Other', '/run/log/journal')));
    for (let i = 0; i < 5 && t.journalOpts.length < 3; i++) {
      t.clock.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(t.journalOpts.map((o) => [o.dir, o.identifiers])).toEqual([
      ['/var/log/journal', ['kubelet', 'systemd']],
      ['/run/log/journal', ['systemd']],
      ['/var/log/journal', ['systemd']],
    ]);
    expect(persistent.running).toBe(false);
  });

  it('connected: a detection becomes a condition patch and an Event on the Node', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    api.addNode('wired');
    const t = await setup({ rules: [kmsgRules], api });
    const kmsg = t.made.get('kmsg')!;
    await kmsg.push('wiring blip 7', new Date(t.clock.now()));
    await kmsg.push('wiring broke down', new Date(t.clock.now()));
    await t.agent.stop(5000);
    const conds = api.conditionsOf('wired') as unknown as { type: string; status: string; reason: string }[];
    expect(conds.find((c) => c.type === 'WiringBroken')).toMatchObject({ status: 'True', reason: 'WiringBrokeDown' });
    const events = api.listEvents('involvedObject.name=wired') as unknown as { reason: string; message: string }[];
    expect(events.map((e) => e.reason).sort()).toEqual(['WiringBlip', 'WiringBrokeDown']);
  });
});
