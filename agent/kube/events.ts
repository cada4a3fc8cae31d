// kube/events.ts: creates core/v1 Events and patches their count/lastTimestamp (strategic
// merge). Node events carry no involvedObject.namespace; Pod events live in the Pod's namespace.
import type { CoreApi } from './core-api';
import { classifyApiError } from './errors';
import { rfc3339 } from './time';
import type { ApiResult, EventApi, EventRecord, EventRef } from './types';
import type { Event } from './wire';

function ref(ev: Event | undefined): EventRef {
  return {
    name: ev?.metadata?.name ?? '',
    namespace: ev?.metadata?.namespace ?? '',
    count: ev?.count ?? 1,
    resourceVersion: ev?.metadata?.resourceVersion ?? '',
  };
}

export function eventBody(ev: EventRecord): Event {
  const inv = ev.involved;
  return {
    metadata: { name: ev.name, namespace: ev.namespace },
    involvedObject: {
      apiVersion: 'v1',
      kind: inv.kind,
      name: inv.name,
      ...(inv.kind === 'Pod' ? { namespace: inv.namespace } : {}),
      ...(inv.uid !== undefined && inv.uid !== '' ? { uid: inv.uid } : {}),
    },
    type: ev.type,
    reason: ev.reason,
    message: ev.message,
    source: { component: ev.component, host: ev.host },
    count: ev.count,
    firstTimestamp: rfc3339(ev.firstTimestamp),
    lastTimestamp: rfc3339(ev.lastTimestamp),
    reportingComponent: ev.reportingComponent,
    reportingInstance: ev.reportingInstance,
  };
}

export function createEventApi(core: CoreApi): EventApi {
  return {
    async createEvent(ev): Promise<ApiResult<EventRef>> {
      try {
        return {
          ok: true,
          value: ref(await core.createNamespacedEvent({ namespace: ev.namespace, body: eventBody(ev) })),
        };
      } catch (err) {
        return classifyApiError(err);
      }
    },
    async patchEvent(namespace, name, patch): Promise<ApiResult<EventRef>> {
      try {
        const body = { count: patch.count, lastTimestamp: rfc3339(patch.lastTimestamp), message: patch.message };
        return { ok: true, value: ref(await core.patchNamespacedEvent({ namespace, name, body })) };
      } catch (err) {
        return classifyApiError(err);
      }
    },
  };
}
