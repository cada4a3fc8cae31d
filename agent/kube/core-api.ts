// kube/core-api.ts: the core/v1 calls nodewarden makes, and nothing else: read a Node, patch its
// status, create and patch Events, list Pods and Services, watch Pods. Names follow the API's
// operations (readNode, patchNodeStatus, ...). Every PATCH is a strategic merge patch. RBAC for
// each is in manifests/ (nodes get, nodes/status patch, events create/patch, pods and services
// list, pods watch).
import { RestClient, type Query } from './rest';
import type { Event, List, Node, Pod, Service } from './wire';

export const STRATEGIC_MERGE = 'application/strategic-merge-patch+json';

/** A list's query: fieldSelector, limit, resourceVersion ('0': the watch cache). */
export interface ListQuery {
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly resourceVersion?: string;
}

export interface PodWatchQuery {
  readonly fieldSelector: string;
  readonly resourceVersion: string;
  readonly allowWatchBookmarks: boolean;
  readonly timeoutSeconds: number;
}

const seg = encodeURIComponent;

function listQuery(q: ListQuery): Query {
  return { fieldSelector: q.fieldSelector, limit: q.limit, resourceVersion: q.resourceVersion };
}

export class CoreApi {
  constructor(private readonly rest: RestClient) {}

  readNode(p: { name: string }): Promise<Node> {
    return this.rest.request<Node>('GET', `/api/v1/nodes/${seg(p.name)}`);
  }

  patchNodeStatus(p: { name: string; body: object }): Promise<Node> {
    return this.rest.request<Node>('PATCH', `/api/v1/nodes/${seg(p.name)}/status`, undefined, p.body, STRATEGIC_MERGE);
  }

  createNamespacedEvent(p: { namespace: string; body: Event }): Promise<Event> {
    return this.rest.request<Event>('POST', `/api/v1/namespaces/${seg(p.namespace)}/events`, undefined, p.body);
  }

  patchNamespacedEvent(p: { namespace: string; name: string; body: object }): Promise<Event> {
    const path = `/api/v1/namespaces/${seg(p.namespace)}/events/${seg(p.name)}`;
    return this.rest.request<Event>('PATCH', path, undefined, p.body, STRATEGIC_MERGE);
  }

  listPodForAllNamespaces(q: ListQuery): Promise<List<Pod>> {
    return this.rest.request<List<Pod>>('GET', '/api/v1/pods', listQuery(q)).then(items);
  }

  listServiceForAllNamespaces(q: ListQuery): Promise<List<Service>> {
    return this.rest.request<List<Service>>('GET', '/api/v1/services', listQuery(q)).then(items);
  }

  listNamespacedService(p: { namespace: string } & ListQuery): Promise<List<Service>> {
    const path = `/api/v1/namespaces/${seg(p.namespace)}/services`;
    return this.rest.request<List<Service>>('GET', path, listQuery(p)).then(items);
  }

  /** Watches Pods across namespaces; see RestClient.watch for how it ends. */
  watchPods(
    q: PodWatchQuery,
    onEvent: (type: string, pod: Pod & { code?: number }) => void,
    signal: AbortSignal,
  ): Promise<void> {
    // No byte for the server's own timeout plus a minute: the connection is gone.
    const idleMs = (q.timeoutSeconds + 60) * 1000;
    return this.rest.watch<Pod>('/api/v1/pods', { ...q }, onEvent, signal, idleMs);
  }
}

/** A list whose `items` is null (the API sends that for none) reads as empty. */
function items<T>(list: List<T> | undefined): List<T> {
  if (list !== undefined && list !== null && Array.isArray(list.items)) return list;
  return { ...(list ?? {}), items: [] };
}
