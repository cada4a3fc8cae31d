// kube/types.ts: what the rest of nodewarden sees of the Kubernetes API. Plain data and two
// small interfaces (NodeStatusApi, EventApi); no @kubernetes/client-node types leak out of
// agent/kube/, so sinks and tests can use in-memory fakes.
import type { ConditionStatus, EventBody } from '../types';

/** A failed call, classified: retryable or not, with the HTTP details. */
export interface ApiFailure {
  readonly ok: false;
  readonly retryable: boolean;
  readonly error: string;
  readonly retryAfterMs?: number;
  /** HTTP status, absent for network errors and timeouts. */
  readonly status?: number;
  /** metav1.Status reason ("NotFound", "AlreadyExists", ...) when the server sent one. */
  readonly reason?: string;
}

export type ApiResult<T> = { readonly ok: true; readonly value: T } | ApiFailure;

/** A node condition as it is on the wire (times parsed). */
export interface WireCondition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime?: Date;
  readonly lastHeartbeatTime?: Date;
}

export interface NodeSnapshot {
  readonly name: string;
  readonly uid: string;
  readonly conditions: readonly WireCondition[];
}

export interface NodeStatusApi {
  getNode(name: string): Promise<ApiResult<NodeSnapshot>>;
  /**
   * Strategic-merge-patches `status.conditions` with exactly `conditions` (upserted by type)
   * and `remove` (deleted by type). The kubelet's own types are refused, never sent.
   */
  patchNodeConditions(
    name: string,
    conditions: readonly WireCondition[],
    remove: readonly string[],
  ): Promise<ApiResult<NodeSnapshot>>;
}

/** A core/v1 Event as nodewarden writes it. */
export interface EventRecord extends EventBody {
  readonly namespace: string;
  readonly reportingComponent: string;
  readonly reportingInstance: string;
}

export interface EventRef {
  readonly name: string;
  readonly namespace: string;
  readonly count: number;
  readonly resourceVersion: string;
}

export interface EventApi {
  createEvent(ev: EventRecord): Promise<ApiResult<EventRef>>;
  /** Strategic-merge-patches count, lastTimestamp and message of an existing Event. */
  patchEvent(
    namespace: string,
    name: string,
    patch: { readonly count: number; readonly lastTimestamp: Date; readonly message: string },
  ): Promise<ApiResult<EventRef>>;
}

/** The kubelet's condition types: nodewarden never writes or removes these. */
export const KUBELET_CONDITION_TYPES: ReadonlySet<string> = new Set([
  'Ready',
  'MemoryPressure',
  'DiskPressure',
  'PIDPressure',
  'NetworkUnavailable',
]);
