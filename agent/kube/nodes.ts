// kube/nodes.ts: reads the Node and strategic-merge-patches `status.conditions` with only
// nodewarden's condition types.
import type { ConditionStatus } from '../types';
import type { CoreApi } from './core-api';
import { classifyApiError } from './errors';
import { rfc3339 } from './time';
import { KUBELET_CONDITION_TYPES } from './types';
import type { ApiResult, NodeSnapshot, NodeStatusApi, WireCondition } from './types';
import type { Node } from './wire';

function toStatus(s: unknown): ConditionStatus {
  return s === 'True' || s === 'False' ? s : 'Unknown';
}

export function nodeSnapshot(node: Node): NodeSnapshot {
  return {
    name: node.metadata?.name ?? '',
    uid: node.metadata?.uid ?? '',
    conditions: (node?.status?.conditions ?? []).map((c) => ({
      type: c.type,
      status: toStatus(c.status),
      reason: c.reason ?? '',
      message: c.message ?? '',
      ...(c.lastTransitionTime ? { lastTransitionTime: new Date(c.lastTransitionTime) } : {}),
      ...(c.lastHeartbeatTime ? { lastHeartbeatTime: new Date(c.lastHeartbeatTime) } : {}),
    })),
  };
}

/**
 * The patch body: `{status: {conditions: [...upserts, ...{type, $patch: delete}]}}`. Kubelet
 * types are filtered out of both lists, so no caller can ever touch them.
 */
export function conditionsPatch(conditions: readonly WireCondition[], remove: readonly string[]): object {
  const upserts = conditions
    .filter((c) => !KUBELET_CONDITION_TYPES.has(c.type))
    .map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      ...(c.lastHeartbeatTime ? { lastHeartbeatTime: rfc3339(c.lastHeartbeatTime) } : {}),
      ...(c.lastTransitionTime ? { lastTransitionTime: rfc3339(c.lastTransitionTime) } : {}),
    }));
  const deletes = remove.filter((t) => !KUBELET_CONDITION_TYPES.has(t)).map((type) => ({ type, $patch: 'delete' }));
  return { status: { conditions: [...upserts, ...deletes] } };
}

export function createNodeStatusApi(core: CoreApi): NodeStatusApi {
  return {
    async getNode(name): Promise<ApiResult<NodeSnapshot>> {
      try {
        return { ok: true, value: nodeSnapshot(await core.readNode({ name })) };
      } catch (err) {
        return classifyApiError(err);
      }
    },
    async patchNodeConditions(name, conditions, remove): Promise<ApiResult<NodeSnapshot>> {
      try {
        const body = conditionsPatch(conditions, remove);
        return { ok: true, value: nodeSnapshot(await core.patchNodeStatus({ name, body })) };
      } catch (err) {
        return classifyApiError(err);
      }
    },
  };
}
