// kube/peers.ts: who is on the other end of a dropped packet, looked up lazily with memory and
// API load that do not grow with the cluster. The order, for a peer IP:
//   1. a pod on this node (LocalPodIndex), or this node's own address (hostNetwork pods);
//   2. a remote pod: one list with fieldSelector status.podIP=<ip> (limit 50, resourceVersion=0,
//      the watch cache). A match that is only hostNetwork pods names their node. The API server
//      matches status.podIP against the PRIMARY address only, and accepts `status.podIPs` as a
//      field label but never matches it (ToSelectableFields in pkg/registry/core/pod/strategy.go
//      has no status.podIPs entry; a list and the watch cache use the same predicate). So a hit
//      also stores the pod's other addresses (a dual-stack pod's secondary family) in the same
//      bounded cache: once any address of a pod has been looked up, the others resolve with no
//      API call. A secondary address seen before its pod's primary stays unknown until then;
//   3. a Service's ClusterIP: one list with fieldSelector spec.clusterIP=<ip> (limit 5,
//      resourceVersion=0). Like status.podIP it matches the primary address; a hit stores the
//      Service's other clusterIPs too;
//   4. an address nobody in the cluster owns: the injected reverse-DNS port, when enabled;
//   5. unknown.
// A pod peer (local or remote) that a Service of its namespace selects is named by that Service:
// each namespace's Services (name and selector only, at most 250) are listed once per TTL and
// kept for at most `maxNamespaces` namespaces (LRU). Every cache is a state/peer-cache.ts LRU
// with TTL, negative caching, coalescing and bounded lookups in flight.
// RBAC: pods list (remote pods), services list (ClusterIPs and each namespace's Services).
import type { CoreApi } from './core-api';
import { LookupCache, type LookupCacheOptions } from '../runtime/lookup-cache';
import type { Clock, DropResolver, PeerInfo, PodInfo, ServiceRef } from '../types';
import { isTerminal, podIPs, podInfo, type LocalPodIndex } from './pods';
import type { Service } from './wire';

/** One namespace's Service, as far as naming a selected pod needs. */
export interface ServiceSelector {
  readonly name: string;
  readonly selector: readonly (readonly [string, string])[];
}

/** A remote lookup's answer with the pod's other addresses, to be cached under them too. */
export interface RemotePod {
  readonly peer: PeerInfo;
  /** Every address of the pod (status.podIPs), canonical. */
  readonly ips: readonly string[];
}

/** Services kept per namespace (the list is cut there: memory stays bounded). */
export const MAX_SERVICES_PER_NAMESPACE = 250;

/** The pod that owns `ip` as its primary address, the node of hostNetwork pods using it, or null. */
export async function lookupRemotePod(core: CoreApi, ip: string): Promise<RemotePod | null> {
  // resourceVersion=0: answered from the watch cache, not a quorum read from etcd.
  const list = await core.listPodForAllNamespaces({
    fieldSelector: `status.podIP=${ip}`,
    limit: 50,
    resourceVersion: '0',
  });
  let nodeName: string | undefined;
  for (const pod of list.items) {
    if (pod.spec?.hostNetwork) {
      nodeName ??= pod.spec.nodeName;
      continue;
    }
    if (isTerminal(pod)) continue;
    return { peer: { kind: 'pod', pod: podInfo(pod) }, ips: podIPs(pod) };
  }
  return nodeName !== undefined ? { peer: { kind: 'node', name: nodeName }, ips: [] } : null;
}

function clusterIPs(svc: Service): string[] {
  const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []);
  return ips.filter((ip) => ip !== '' && ip !== 'None');
}

/** The Service whose ClusterIP is `ip`, with all its ClusterIPs, or null. */
export async function lookupClusterIP(
  core: CoreApi,
  ip: string,
): Promise<{ service: ServiceRef; ips: string[] } | null> {
  const list = await core.listServiceForAllNamespaces({
    fieldSelector: `spec.clusterIP=${ip}`,
    limit: 5,
    resourceVersion: '0',
  });
  const svc = list.items.find((s) => s.metadata?.name && s.metadata.namespace);
  if (svc === undefined) return null;
  return { service: { namespace: svc.metadata!.namespace!, name: svc.metadata!.name! }, ips: clusterIPs(svc) };
}

/** The namespace's Services that select pods, sorted by name, at most MAX_SERVICES_PER_NAMESPACE. */
export async function listSelectingServices(core: CoreApi, namespace: string): Promise<ServiceSelector[]> {
  const list = await core.listNamespacedService({ namespace, limit: MAX_SERVICES_PER_NAMESPACE, resourceVersion: '0' });
  const out: ServiceSelector[] = [];
  for (const svc of list.items.slice(0, MAX_SERVICES_PER_NAMESPACE)) {
    const sel = Object.entries(svc.spec?.selector ?? {});
    // No selector selects nothing (its Endpoints are managed by hand); ExternalName has no pods.
    if (sel.length === 0 || svc.spec?.type === 'ExternalName' || !svc.metadata?.name) continue;
    out.push({ name: svc.metadata.name, selector: sel });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function selects(s: ServiceSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels !== undefined && s.selector.every(([k, v]) => labels[k] === v);
}

type CacheTuning<V> = Omit<LookupCacheOptions<V>, 'clock' | 'lookup'>;

/**
 * Remote pods by IP, cached (LRU, TTL, negative caching, bounded in flight): a pod found by its
 * primary address is cached under its other addresses too. Read-only (pods `list`). The agent's
 * resolver uses it, and so does `nodewarden replay --drops --kubeconfig`, with no node of its own.
 */
export function createPeerLookup(
  core: CoreApi,
  clock: Clock,
  tuning?: CacheTuning<PeerInfo>,
  onOtherAddress?: () => void,
): LookupCache<PeerInfo> {
  const cache: LookupCache<PeerInfo> = new LookupCache<PeerInfo>({
    ...tuning,
    clock,
    lookup: async (ip) => {
      const found = await lookupRemotePod(core, ip);
      if (found === null) return null;
      for (const other of found.ips) {
        if (other === ip) continue;
        cache.set(other, found.peer);
        onOtherAddress?.();
      }
      return found.peer;
    },
  });
  return cache;
}

export interface PeerResolverOptions {
  readonly index: LocalPodIndex;
  readonly core: CoreApi;
  readonly clock: Clock;
  readonly nodeName: string;
  /** Name Services (ClusterIPs, and pods a Service selects). Default true. */
  readonly services?: boolean;
  /** Reverse DNS for addresses nobody in the cluster owns (agent/reverse-dns.ts); null = no name. */
  readonly hostName?: (ip: string) => Promise<string | null>;
  /** Remote pods by IP (default: 4,096 entries, 5 min, 1 min negative). */
  readonly cache?: CacheTuning<PeerInfo>;
  /** Services by ClusterIP (default: 1,024 entries, 5 min, 1 min negative). */
  readonly clusterIPCache?: CacheTuning<ServiceRef>;
  /** Services of a namespace (default: 32 namespaces, 30 s). */
  readonly namespaceCache?: CacheTuning<readonly ServiceSelector[]>;
}

export interface PeerResolverStats {
  /** Addresses cached from a remote pod's status.podIPs besides the one looked up. */
  otherAddressesLearned: number;
  /** Pod peers named by a Service that selects them. */
  namedByService: number;
  /** Peers that were a Service's ClusterIP. */
  clusterIPs: number;
}

export interface PeerResolver extends DropResolver {
  readonly stats: PeerResolverStats;
  readonly cache: LookupCache<PeerInfo>;
  readonly clusterIPCache: LookupCache<ServiceRef>;
  readonly namespaceCache: LookupCache<readonly ServiceSelector[]>;
}

/** The DropResolver the pipeline uses in a cluster (see the header for the order). */
export function createPeerResolver(opts: PeerResolverOptions): PeerResolver {
  const { core, clock } = opts;
  const services = opts.services ?? true;
  const stats: PeerResolverStats = { otherAddressesLearned: 0, namedByService: 0, clusterIPs: 0 };
  const cache = createPeerLookup(core, clock, opts.cache, () => stats.otherAddressesLearned++);
  const clusterIPCache: LookupCache<ServiceRef> = new LookupCache<ServiceRef>({
    maxEntries: 1024,
    ...opts.clusterIPCache,
    clock,
    lookup: async (ip) => {
      const found = await lookupClusterIP(core, ip);
      if (found === null) return null;
      for (const other of found.ips) if (other !== ip) clusterIPCache.set(other, found.service);
      return found.service;
    },
  });
  const namespaceCache = new LookupCache<readonly ServiceSelector[]>({
    maxEntries: 32,
    ttlMs: 30_000,
    negativeTtlMs: 30_000,
    maxInFlight: 2,
    maxQueued: 64,
    ...opts.namespaceCache,
    clock,
    lookup: (ns) => listSelectingServices(core, ns),
  });

  /** The pod, named by the first Service (by name) of its namespace that selects it. */
  const withService = async (pod: PodInfo): Promise<PeerInfo> => {
    if (!services) return { kind: 'pod', pod };
    const list = (await namespaceCache.get(pod.namespace)) ?? [];
    const svc = list.find((s) => selects(s, pod.labels));
    if (svc === undefined) return { kind: 'pod', pod };
    stats.namedByService++;
    return { kind: 'pod', pod, service: { namespace: pod.namespace, name: svc.name } };
  };

  return {
    stats,
    cache,
    clusterIPCache,
    namespaceCache,
    localPod: (ip) => opts.index.localPod(ip),
    async peer(ip): Promise<PeerInfo> {
      const local = opts.index.localPod(ip);
      if (local !== undefined) return withService(local);
      if (opts.index.isNodeIp(ip)) return { kind: 'node', name: opts.nodeName };
      const remote = await cache.get(ip);
      if (remote !== null) return remote.kind === 'pod' ? withService(remote.pod) : remote;
      if (services) {
        const svc = await clusterIPCache.get(ip);
        if (svc !== null) {
          stats.clusterIPs++;
          return { kind: 'service', service: svc };
        }
      }
      const host = opts.hostName ? await opts.hostName(ip) : null;
      return host !== null ? { kind: 'host', name: host } : { kind: 'unknown' };
    },
  };
}
