// cluster-resolver.ts: builds the drop resolver a cluster gives, from a KubeClient: this node's
// pod index (list + watch) and the lazy peer lookups (remote pods, Services, reverse DNS). The
// API objects they need (CoreApi) never leave agent/kube/.
import type { Clock, Logger } from '../types';
import type { KubeClient } from './client';
import { createPeerResolver, type PeerResolver } from './peers';
import { LocalPodIndex } from './pods';

export interface ClusterResolverOptions {
  readonly nodeName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Name Services (ClusterIPs, and pods a Service selects). */
  readonly services: boolean;
  /** Reverse DNS for addresses nobody in the cluster owns; absent: off. */
  readonly hostName?: (ip: string) => Promise<string | null>;
}

export interface ClusterResolver {
  /** This node's pods; run(signal) keeps it listed and watched until the signal aborts. */
  readonly index: LocalPodIndex;
  readonly peers: PeerResolver;
}

export function createClusterResolver(kube: KubeClient, opts: ClusterResolverOptions): ClusterResolver {
  const { nodeName, clock, logger } = opts;
  const index = new LocalPodIndex({ core: kube.core, nodeName, clock, logger });
  const peers = createPeerResolver({
    index,
    core: kube.core,
    clock,
    nodeName,
    services: opts.services,
    ...(opts.hostName ? { hostName: opts.hostName } : {}),
  });
  return { index, peers };
}
