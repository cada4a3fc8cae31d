// cluster.ts: the Kubernetes half of the agent, built from a KubeClient: NodeAdoption (the one
// reader of the Node), the condition and Event exporters, and the drop resolver (this node's
// pods, peers, Services, reverse DNS). The composition root (agent.ts) owns the order: adopt()
// before the detector exists, adoptLater() once it does; the exporters only export.
import type { Settings } from '../config/settings';
import type { KubeClient } from '../kube/client';
import { createClusterResolver } from '../kube/cluster-resolver';
import { NodeAdoption } from '../kube/node-adoption';
import { ReverseDns } from '../reverse-dns';
import { ConditionExporter } from '../sinks/condition-exporter';
import { EventExporter } from '../sinks/event-exporter';
import type { Metrics } from '../sinks/metrics';
import type { CheckpointStore } from '../sources/checkpoint';
import type { Clock, Condition, DropResolver, Logger, Sink } from '../types';

export interface ClusterOptions {
  readonly kube: KubeClient;
  readonly settings: Settings;
  readonly nodeName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly checkpoints: CheckpointStore;
}

export class Cluster {
  readonly adoption: NodeAdoption;
  readonly conditions: ConditionExporter;
  readonly events: EventExporter;
  private podIndex: Promise<void> | undefined;

  constructor(private readonly opts: ClusterOptions) {
    const { kube, settings, nodeName, clock, logger, metrics, checkpoints } = opts;
    this.adoption = new NodeAdoption({ api: kube.nodes, nodeName, clock, logger });
    this.conditions = new ConditionExporter({
      api: kube.nodes,
      nodeName,
      clock,
      logger,
      heartbeatPeriodMs: settings.heartbeatPeriodMs,
      store: checkpoints,
    });
    // Nothing is written to the Node before it has been read.
    this.conditions.hold();
    const adoption = this.adoption;
    this.events = new EventExporter({
      api: kube.events,
      nodeName,
      clock,
      logger,
      namespace: settings.eventNamespace,
      nodeUid: () => adoption.nodeUid(),
    });
    metrics.registerComponent('sink', 'kube-conditions', this.conditions.counters);
    metrics.registerComponent('sink', 'kube-events', this.events.counters);
  }

  get sinks(): readonly Sink[] {
    return [this.conditions, this.events];
  }

  /**
   * Declares the condition types and reads the Node until `deadline`: its conditions of those
   * types, or undefined when the API server did not answer (then call adoptLater()).
   */
  async adopt(types: readonly string[], deadline: number): Promise<Condition[] | undefined> {
    this.conditions.declare(types);
    const found = await this.adoption.read(types, deadline);
    if (found) this.conditions.release();
    return found;
  }

  /** Keeps reading the Node; when it answers, `adopt` gets its conditions, then the exporter writes. */
  adoptLater(types: () => readonly string[], adopt: (conditions: Condition[]) => void): void {
    const exporter = this.conditions;
    this.adoption.readLater(types, (conditions) => {
      adopt(conditions);
      exporter.release();
    });
  }

  /** The drop resolver; this node's pod index runs until `signal` aborts. */
  resolver(signal: AbortSignal): DropResolver {
    const { kube, settings, nodeName, clock, logger, metrics } = this.opts;
    const dns =
      settings.dropPeerDns.kind === 'off'
        ? undefined
        : new ReverseDns({ clock, setting: settings.dropPeerDns, timeoutMs: settings.dropPeerDnsTimeoutMs });
    const { index, peers } = createClusterResolver(kube, {
      nodeName,
      clock,
      logger,
      services: settings.dropPeerServices,
      ...(dns ? { hostName: (ip: string) => dns.name(ip) } : {}),
    });
    this.podIndex = index.run(signal);
    metrics.registerComponent('resolver', 'local-pods', index.stats, { gauges: ['pods', 'ips'] });
    metrics.registerComponent('resolver', 'peer-cache', peers.cache.stats);
    metrics.registerComponent('resolver', 'peers', peers.stats);
    if (settings.dropPeerServices) {
      metrics.registerComponent('resolver', 'service-ips', peers.clusterIPCache.stats);
      metrics.registerComponent('resolver', 'namespace-services', peers.namespaceCache.stats);
    }
    if (dns) metrics.registerComponent('resolver', 'reverse-dns', dns.stats);
    return peers;
  }

  /** Before the sinks flush at stop: one more try at a pending late adoption. */
  async beforeFlush(): Promise<void> {
    if (this.adoption.pending) await this.adoption.tryNow();
  }

  /** After the flush: timers off. Idempotent. */
  stop(): void {
    this.adoption.stop();
    this.conditions.stop();
    this.events.stop();
  }

  /** The pod index's run (it ends after the signal aborts). */
  stopped(): Promise<void> {
    return this.podIndex ?? Promise.resolve();
  }
}
