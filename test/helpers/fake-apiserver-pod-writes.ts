// fake-apiserver-pod-writes.ts: the writes an e2e harness makes with admin credentials, for the
// fake API server: namespaces create/delete, pods create/get/delete, and the pods/status
// subresource patch (merge or strategic merge; only status changes) that sets podIP/podIPs and
// phase. Pods live in FakePods, so the agent's list/watch sees every change. Real semantics that
// matter here: 409 on an existing name, 404 for an unknown namespace or pod, a new pod is Pending
// with no IP, deleting a namespace deletes its pods.
import { mergePatch, status, strategicMerge, type FakeApiServer } from './fake-apiserver';
import type { FakePods } from './fake-apiserver-pods';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NAME = '([^/]+)';

function ipsOf(st: Json | undefined): string[] {
  const list = Array.isArray(st?.podIPs)
    ? (st.podIPs as Json[]).map((p) => String(p.ip ?? '')).filter((ip) => ip !== '')
    : [];
  if (list.length === 0 && typeof st?.podIP === 'string' && st.podIP !== '') list.push(st.podIP);
  return list;
}

/** Registers the routes on `api`; returns the namespaces it keeps. */
export function installPodWrites(api: FakeApiServer, pods: FakePods): Map<string, Json> {
  const namespaces = new Map<string, Json>([
    ['default', { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'default', uid: 'uid-ns-default' } }],
  ]);
  const find = (ns: string, name: string): Json | undefined => pods.pods.get(`uid-${ns}-${name}`);
  const podNotFound = (name: string) => status(404, `pods "${name}" not found`, { name, kind: 'pods' });

  api.route('POST', /^\/api\/v1\/namespaces$/, (r) => {
    const name = String((r.body as Json | undefined)?.metadata?.name ?? '');
    if (name === '') return status(422, 'Namespace "" is invalid: metadata.name: Required value');
    if (namespaces.has(name)) return status(409, `namespaces "${name}" already exists`, { name, kind: 'namespaces' });
    const ns = {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name, uid: `uid-ns-${name}`, resourceVersion: api.nextResourceVersion() },
      status: { phase: 'Active' },
    };
    namespaces.set(name, ns);
    return { code: 201, body: ns };
  });
  api.route('DELETE', new RegExp(`^/api/v1/namespaces/${NAME}$`), (r) => {
    const name = r.params[0]!;
    const ns = namespaces.get(name);
    if (!ns || name === 'default') return status(404, `namespaces "${name}" not found`, { name, kind: 'namespaces' });
    for (const p of [...pods.pods.values()])
      if (p.metadata.namespace === name) pods.remove(name, p.metadata.name as string);
    for (const [key, ev] of [...api.events]) if (ev.metadata?.namespace === name) api.events.delete(key);
    namespaces.delete(name);
    return { code: 200, body: { ...ns, status: { phase: 'Terminating' } } };
  });

  api.route('POST', new RegExp(`^/api/v1/namespaces/${NAME}/pods$`), (r) => {
    const ns = r.params[0]!;
    const body = (r.body ?? {}) as Json;
    const name = String(body.metadata?.name ?? '');
    if (!namespaces.has(ns)) return status(404, `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (name === '') return status(422, 'Pod "" is invalid: metadata.name: Required value');
    if (find(ns, name)) return status(409, `pods "${name}" already exists`, { name, kind: 'pods' });
    const created = pods.put({
      namespace: ns,
      name,
      node: String(body.spec?.nodeName ?? ''),
      ips: [],
      phase: 'Pending',
      hostNetwork: body.spec?.hostNetwork === true,
      labels: (body.metadata?.labels ?? {}) as Record<string, string>,
    });
    return { code: 201, body: created };
  });
  api.route('GET', new RegExp(`^/api/v1/namespaces/${NAME}/pods/${NAME}$`), (r) => {
    const pod = find(r.params[0]!, r.params[1]!);
    return pod ? { code: 200, body: pod } : podNotFound(r.params[1]!);
  });
  api.route('DELETE', new RegExp(`^/api/v1/namespaces/${NAME}/pods/${NAME}$`), (r) => {
    const pod = find(r.params[0]!, r.params[1]!);
    if (!pod) return podNotFound(r.params[1]!);
    pods.remove(r.params[0]!, r.params[1]!);
    return { code: 200, body: pod };
  });
  api.route('PATCH', new RegExp(`^/api/v1/namespaces/${NAME}/pods/${NAME}/status$`), (r) => {
    const [ns, name] = [r.params[0]!, r.params[1]!];
    const pod = find(ns, name);
    if (!pod) return podNotFound(name);
    if (r.body === null || typeof r.body !== 'object') return status(400, 'invalid patch body');
    let next: Json;
    if (r.contentType === 'application/merge-patch+json') next = mergePatch(pod, r.body) as Json;
    else if (r.contentType === 'application/strategic-merge-patch+json') next = strategicMerge(pod, r.body) as Json;
    else return status(415, `the body of the request was in an unknown format: ${r.contentType ?? ''}`);
    const st = (next.status ?? {}) as Json;
    const ips = ipsOf(st);
    if (typeof st.podIP === 'string' && st.podIP !== '' && ips[0] !== st.podIP) {
      return status(422, `Pod "${name}" is invalid: status.podIPs[0]: Invalid value: must match status.podIP`, {
        name,
        kind: 'Pod',
      });
    }
    const updated = pods.put({
      namespace: ns,
      name,
      node: String(pod.spec?.nodeName ?? ''),
      ips,
      phase: String(st.phase ?? 'Pending'),
      hostNetwork: pod.spec?.hostNetwork === true,
      labels: (pod.metadata?.labels ?? {}) as Record<string, string>,
    });
    return { code: 200, body: updated };
  });
  return namespaces;
}
