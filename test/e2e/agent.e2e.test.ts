// agent.e2e.test.ts: the real agent (dist/nodewarden.cjs) on the real /dev/kmsg, publishing to
// the API server KUBECONFIG names (or the in-process fake with NODEWARDEN_E2E_FAKE=1). The
// harness uses the admin kubeconfig to create and delete the Node and Events; the agent may use
// NODEWARDEN_E2E_AGENT_KUBECONFIG (RBAC from manifests/) instead.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreV1Event, V1NodeCondition } from '@kubernetes/client-node';
import { createAdminClient, type AdminClient } from './admin-client';
import { FakeApiServer } from '../helpers/fake-apiserver';
import { AGENT, AgentProcess, freePort } from './agent-process';
import { eventually as pollUntil } from '../helpers/eventually';
import { nodeView, runArgs, type NodeView } from './e2e-node';

const run = randomBytes(4).toString('hex');
const NODE = `nodewarden-e2e-${run}`;
const MARK = `NWE2E-${run}`;
const DEADLOCK = 'NodewardenE2EDeadlock';
const BLIP = 'NodewardenE2EBlip';

let fake: FakeApiServer | undefined;
let admin: AdminClient;
let agentKubeconfig: string;
let work: string;
let agent: AgentProcess | undefined;

function rules(withBlip: boolean): string {
  return JSON.stringify({
    plugin: 'kmsg',
    logPath: '/dev/kmsg',
    lookback: '1m',
    bufferSize: 10,
    source: 'kernel-monitor',
    conditions: [
      { type: DEADLOCK, reason: 'NoE2EDeadlock', message: 'no deadlock' },
      ...(withBlip ? [{ type: BLIP, reason: 'NoE2EBlip', message: 'no blip', recoverAfter: '4s' }] : []),
    ],
    rules: [
      { type: 'temporary', reason: 'E2EOops', pattern: `${MARK} oops.*` },
      { type: 'permanent', condition: DEADLOCK, reason: 'E2EHung', pattern: `${MARK} task hung.*` },
      ...(withBlip ? [{ type: 'permanent', condition: BLIP, reason: 'E2EBlipSeen', pattern: `${MARK} blip.*` }] : []),
    ],
  });
}

function kmsg(text: string): void {
  writeFileSync('/dev/kmsg', `<3>${MARK} ${text}\n`);
}

async function startAgent(): Promise<void> {
  const port = await freePort();
  agent = new AgentProcess(
    runArgs(NODE, agentKubeconfig, work, port, [
      '--heartbeat-period',
      '10s',
      '--event-namespace',
      'default',
      '--reload-interval',
      '1s',
    ]),
  );
}

const view = (): NodeView => nodeView(admin, NODE);
const conditions = (): Promise<V1NodeCondition[]> => view().conditions();
const condition = (type: string): Promise<V1NodeCondition | undefined> => view().condition(type);
const events = (reason: string): Promise<CoreV1Event[]> => view().events(reason);

/** Polls until `check` yields a value; fails early if the agent exits, with its output. */
const eventually = <T>(what: string, check: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> =>
  pollUntil(what, check, { ms, everyMs: 250, agent: () => agent });

beforeAll(async () => {
  expect(existsSync(AGENT), `${AGENT} is missing: run \`node scripts/build.mjs\``).toBe(true);
  accessSync('/dev/kmsg', constants.W_OK); // the suite injects kernel records: run it as root
  let kubeconfig = process.env.KUBECONFIG ?? '';
  if (process.env.NODEWARDEN_E2E_FAKE === '1') {
    fake = await FakeApiServer.start();
    kubeconfig = fake.writeKubeconfig();
  }
  agentKubeconfig = process.env.NODEWARDEN_E2E_AGENT_KUBECONFIG || kubeconfig;
  admin = createAdminClient(kubeconfig);
  work = mkdtempSync(join(tmpdir(), 'nodewarden-e2e-'));
  mkdirSync(join(work, 'rules'));
  mkdirSync(join(work, 'state'));
  writeFileSync(join(work, 'rules', 'e2e-monitor.json'), rules(true));
  await admin.core.createNode({
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'nodewarden.io/e2e': run } } },
  });
  await startAgent();
});

afterAll(async () => {
  await agent?.stop();
  if (admin) {
    for (const ns of ['default']) {
      const list = await admin.core
        .listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${NODE}` })
        .catch(() => ({ items: [] as CoreV1Event[] }));
      for (const e of list.items)
        await admin.core.deleteNamespacedEvent({ namespace: ns, name: e.metadata!.name! }).catch(() => undefined);
    }
    await admin.core.deleteNode({ name: NODE }).catch(() => undefined);
  }
  if (work) rmSync(work, { recursive: true, force: true });
  await fake?.close();
});

describe(`nodewarden e2e on node ${NODE}`, () => {
  it("publishes the declared conditions as False at start, next to nothing of the kubelet's", async () => {
    const c = await eventually('the default conditions', async () => (await condition(DEADLOCK)) ?? undefined);
    expect(c).toMatchObject({ status: 'False', reason: 'NoE2EDeadlock' });
    expect(await condition(BLIP)).toMatchObject({ status: 'False', reason: 'NoE2EBlip' });
    expect((await conditions()).map((x) => x.type).sort()).toEqual([BLIP, DEADLOCK].sort());
  });

  let transition: Date;
  it("a permanent rule sets the condition True with its reason and the log line's time", async () => {
    const before = Date.now();
    kmsg('task hung: blocked for more than 120 seconds');
    const c = await eventually('condition True', async () => {
      const x = await condition(DEADLOCK);
      return x?.status === 'True' ? x : undefined;
    });
    expect(c.reason).toBe('E2EHung');
    expect(c.message).toContain(`${MARK} task hung`);
    transition = new Date(c.lastTransitionTime!);
    expect(transition.getTime()).toBeGreaterThanOrEqual(before - 2000);
    expect(transition.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('repeated temporary problems aggregate into one Event with count ≥ 2', async () => {
    kmsg('oops: something bad');
    await new Promise((r) => setTimeout(r, 1500));
    kmsg('oops: something bad');
    const [e] = await eventually('an aggregated event', async () => {
      const list = await events('E2EOops');
      return list.length > 0 && (list[0]!.count ?? 0) >= 2 ? list : undefined;
    });
    expect(await events('E2EOops')).toHaveLength(1);
    expect(e).toMatchObject({ type: 'Warning', source: { component: 'kernel-monitor', host: NODE } });
    expect(e!.involvedObject).toMatchObject({ kind: 'Node', name: NODE });
    expect(e!.message).toContain(`${MARK} oops: something bad`);
  });

  it('recoverAfter turns the condition back to False', async () => {
    kmsg('blip seen');
    await eventually('blip True', async () => (await condition(BLIP))?.status === 'True');
    const c = await eventually(
      'blip recovered',
      async () => {
        const x = await condition(BLIP);
        return x?.status === 'False' ? x : undefined;
      },
      30_000,
    );
    expect(c.reason).toBe('NoE2EBlip');
  });

  it('SIGTERM exits 0 by itself, and a restart keeps the condition (and its transition time)', async () => {
    const stopped = await agent!.stop();
    expect(stopped.code).toBe(0); // by itself, before stop()'s SIGKILL at 10 s (a hang guard)
    const hbBefore = new Date((await condition(DEADLOCK))!.lastHeartbeatTime!).getTime();
    await startAgent();
    const c = await eventually('a sync from the restarted agent', async () => {
      const x = await condition(DEADLOCK);
      return x && new Date(x.lastHeartbeatTime!).getTime() > hbBefore ? x : undefined;
    });
    expect(c).toMatchObject({ status: 'True', reason: 'E2EHung' });
    expect(new Date(c.lastTransitionTime!).getTime()).toBe(transition.getTime());
  });

  it('a condition type the rules no longer declare disappears from the node', async () => {
    await agent!.stop();
    writeFileSync(join(work, 'rules', 'e2e-monitor.json'), rules(false));
    await startAgent();
    await eventually(
      'the undeclared type removed',
      async () => (await condition(BLIP)) === undefined && (await condition(DEADLOCK)) !== undefined,
    );
    expect((await condition(DEADLOCK))?.status).toBe('True');
  });
});
