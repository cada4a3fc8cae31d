// e2e-node.ts: what the e2e suites read back through the API about their test Node (its
// conditions, the Events on it), how they start the agent against it, and how they clean up.
import { join } from 'node:path';
import type { CoreV1Event, V1NodeCondition } from '@kubernetes/client-node';
import type { AdminClient } from './admin-client';

export interface NodeView {
  conditions(): Promise<V1NodeCondition[]>;
  condition(type: string): Promise<V1NodeCondition | undefined>;
  /** Events on the Node in `default` with this reason. */
  events(reason: string): Promise<CoreV1Event[]>;
}

export function nodeView(admin: AdminClient, node: string): NodeView {
  const conditions = async (): Promise<V1NodeCondition[]> =>
    (await admin.core.readNode({ name: node })).status?.conditions ?? [];
  return {
    conditions,
    condition: async (type) => (await conditions()).find((c) => c.type === type),
    events: async (reason) =>
      (
        await admin.core.listNamespacedEvent({
          namespace: 'default',
          fieldSelector: `involvedObject.kind=Node,involvedObject.name=${node},reason=${reason}`,
        })
      ).items,
  };
}

/** `run` against the test Node with rules and state under `work`; more flags after. */
export function runArgs(node: string, kubeconfig: string, work: string, port: number, more: string[] = []): string[] {
  return [
    'run',
    '--node-name',
    node,
    '--kubeconfig',
    kubeconfig,
    '--rules',
    join(work, 'rules'),
    '--state-dir',
    join(work, 'state'),
    '--metrics-address',
    `127.0.0.1:${port}`,
    ...more,
  ];
}

/** Deletes the Events on the Node (in `default`) and the Node; errors are ignored. */
export async function deleteNode(admin: AdminClient, node: string): Promise<void> {
  const list = await admin.core
    .listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${node}` })
    .catch(() => ({ items: [] as CoreV1Event[] }));
  for (const e of list.items)
    await admin.core.deleteNamespacedEvent({ namespace: 'default', name: e.metadata!.name! }).catch(() => undefined);
  await admin.core.deleteNode({ name: node }).catch(() => undefined);
}
