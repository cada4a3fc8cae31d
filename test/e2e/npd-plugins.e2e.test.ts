// npd-plugins.e2e.test.ts: the real agent (dist/nodewarden.cjs) with NPD's other two monitor
// kinds, publishing to the API server KUBECONFIG names (or the in-process fake with
// NODEWARDEN_E2E_FAKE=1): a journald log monitor reading real journal files (written by
// systemd-journal-remote, as journald lays them out), and a custom plugin monitor running a
// script on its schedule. What an operator sees: Events and NodeConditions on a real Node,
// including a condition in status Unknown.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreV1Event, V1NodeCondition } from '@kubernetes/client-node';
import { createAdminClient, type AdminClient } from './admin-client';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { writeJournal } from '../helpers/journal-writer';
import { AGENT, AgentProcess, freePort } from './agent-process';
import { eventually as pollUntil } from '../helpers/eventually';
import { deleteNode, nodeView, runArgs, type NodeView } from './e2e-node';

const run = randomBytes(4).toString('hex');
const NODE = `nodewarden-e2e-npd-${run}`;
const IDENT = `nwe2e-${run}`;
const JOURNAL_COND = 'NodewardenE2EJournalProblem';
const PLUGIN_COND = 'NodewardenE2EPluginProblem';

let fake: FakeApiServer | undefined;
let admin: AdminClient;
let work: string;
let agent: AgentProcess | undefined;
let view: NodeView;
const condition = (type: string): Promise<V1NodeCondition | undefined> => view.condition(type);
const events = (reason: string): Promise<CoreV1Event[]> => view.events(reason);

/** NPD's journald log-monitor format, as systemd-monitor.json writes it. */
function journaldRules(): string {
  return JSON.stringify({
    plugin: 'journald',
    pluginConfig: { source: IDENT },
    logPath: join(work, 'journal'),
    lookback: '5m',
    bufferSize: 10,
    source: 'systemd-monitor',
    conditions: [{ type: JOURNAL_COND, reason: 'NoJournalProblem', message: 'journal is quiet' }],
    rules: [
      { type: 'temporary', reason: 'E2EServiceRestart', pattern: 'Started e2e service.*' },
      { type: 'permanent', condition: JOURNAL_COND, reason: 'E2EServiceBroken', pattern: 'e2e service is broken.*' },
    ],
  });
}

/** NPD's custom plugin format, as custom-plugin-monitor.json writes it. */
function pluginRules(): string {
  return JSON.stringify({
    plugin: 'custom',
    pluginConfig: { invoke_interval: '1s', timeout: '5s', max_output_length: 80, concurrency: 1 },
    source: 'e2e-custom-plugin-monitor',
    metricsReporting: true,
    conditions: [{ type: PLUGIN_COND, reason: 'PluginIsHappy', message: 'plugin says ok' }],
    rules: [
      {
        type: 'permanent',
        condition: PLUGIN_COND,
        reason: 'PluginIsUnhappy',
        path: join(work, 'plugin.sh'),
        timeout: '3s',
      },
      { type: 'temporary', reason: 'PluginWarned', path: join(work, 'plugin.sh'), args: ['temp'], timeout: '3s' },
    ],
  });
}

/** The plugin's exit status comes from a file the test writes: 0 OK, 1 NonOK, 3 Unknown. */
function setPlugin(status: 0 | 1 | 3, text: string): void {
  writeFileSync(join(work, 'plugin-status'), `${status}\n${text}\n`);
}

function journal(message: string): void {
  writeJournal(join(work, 'journal', 'system.journal'), [{ identifier: IDENT, message, timeMs: Date.now() }]);
}

const eventually = <T>(what: string, check: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> =>
  pollUntil(what, check, { ms, everyMs: 250, agent: () => agent });

const statusOf = async (type: string, status: string): Promise<V1NodeCondition | undefined> => {
  const c = await condition(type);
  return c?.status === status ? c : undefined;
};

beforeAll(async () => {
  expect(existsSync(AGENT), `${AGENT} is missing: run \`node scripts/build.mjs\``).toBe(true);
  let kubeconfig = process.env.KUBECONFIG ?? '';
  if (process.env.NODEWARDEN_E2E_FAKE === '1') {
    fake = await FakeApiServer.start();
    kubeconfig = fake.writeKubeconfig();
  }
  const agentKubeconfig = process.env.NODEWARDEN_E2E_AGENT_KUBECONFIG || kubeconfig;
  admin = createAdminClient(kubeconfig);
  view = nodeView(admin, NODE);
  work = mkdtempSync(join(tmpdir(), 'nodewarden-e2e-npd-'));
  for (const d of ['rules', 'state', 'journal']) mkdirSync(join(work, d));
  // The plugin: reads its status file; `temp` makes the temporary rule's run say NonOK too.
  const script = join(work, 'plugin.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `f='${join(work, 'plugin-status')}'`,
      'status=$(head -n 1 "$f")',
      'sed -n 2p "$f"',
      'exit "$status"',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  setPlugin(0, 'all good');
  journal('e2e service preparing');
  writeFileSync(join(work, 'rules', 'e2e-journald-monitor.json'), journaldRules());
  writeFileSync(join(work, 'rules', 'e2e-custom-plugin-monitor.json'), pluginRules());
  await admin.core.createNode({
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'nodewarden.io/e2e': run } } },
  });
  const port = await freePort();
  agent = new AgentProcess(
    runArgs(NODE, agentKubeconfig, work, port, [
      '--kmsg-path',
      '',
      '--heartbeat-period',
      '10s',
      '--event-namespace',
      'default',
    ]),
  );
});

afterAll(async () => {
  await agent?.stop();
  if (admin) await deleteNode(admin, NODE);
  if (work) rmSync(work, { recursive: true, force: true });
  await fake?.close();
});

describe(`nodewarden e2e, NPD's journald and custom plugin monitors, on node ${NODE}`, () => {
  it('publishes both files’ conditions as False at start', async () => {
    expect(await eventually('journald default', () => statusOf(JOURNAL_COND, 'False'))).toMatchObject({
      reason: 'NoJournalProblem',
    });
    expect(await eventually('plugin default', () => statusOf(PLUGIN_COND, 'False'))).toMatchObject({
      reason: 'PluginIsHappy',
    });
  });

  it('a journald entry of the monitored identifier posts an Event and sets a condition', async () => {
    journal('Started e2e service.');
    const [e] = await eventually('the journald Event', async () => {
      const list = await events('E2EServiceRestart');
      return list.length > 0 ? list : undefined;
    });
    expect(e).toMatchObject({ type: 'Warning', source: { component: 'systemd-monitor', host: NODE } });
    expect(e!.message).toContain('Started e2e service.');
    // Another identifier's entry with the same text is not the monitor's.
    writeJournal(join(work, 'journal', 'system.journal'), [
      { identifier: `other-${run}`, message: 'e2e service is broken: not ours', timeMs: Date.now() },
    ]);
    journal('e2e service is broken: exit code 3');
    const c = await eventually('the journald condition True', () => statusOf(JOURNAL_COND, 'True'));
    expect(c).toMatchObject({ reason: 'E2EServiceBroken' });
    expect(c.message).toContain('exit code 3');
    expect(c.message).not.toContain('not ours');
  });

  it('a custom plugin sets its condition True on NonOK, Unknown on exit 3, False again on OK', async () => {
    setPlugin(1, 'clock is not synchronised');
    const t = await eventually('plugin True', () => statusOf(PLUGIN_COND, 'True'));
    expect(t).toMatchObject({ reason: 'PluginIsUnhappy', message: 'clock is not synchronised' });
    const [e] = await eventually('the plugin Event', async () => {
      const list = await events('PluginWarned');
      return list.length > 0 ? list : undefined;
    });
    expect(e).toMatchObject({ source: { component: 'e2e-custom-plugin-monitor', host: NODE } });
    expect(e!.message).toContain('clock is not synchronised');

    setPlugin(3, 'cannot tell');
    const u = await eventually('plugin Unknown', () => statusOf(PLUGIN_COND, 'Unknown'));
    expect(u.message).toContain('cannot tell');

    setPlugin(0, 'all good again');
    const f = await eventually('plugin False', () => statusOf(PLUGIN_COND, 'False'));
    expect(f.reason).toBe('PluginIsHappy');
  });
});
