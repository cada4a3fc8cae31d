// agent.ts: builds the running agent from settings and the parts main hands in (logger, clock,
// metrics registry, optional Kubernetes client), starts sources → detector/drop pipeline → sinks,
// and stops it: one AbortSignal, idempotent stop, flush with a deadline.
import type { Server } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import type { Settings } from './config/settings';
import { watchRuleFiles, type RuleWatcher } from './config/rule-watch';
import { Detector } from './detector';
import { DropPipeline, parsePeerNaming, type DropResolver } from './drops';
import { DEFAULT_DROP_PREFIXES, parseDropPrefixes } from './engine/drop-prefixes';
import type { KubeClient } from './kube/client';
import { createPeerResolver } from './kube/peers';
import { LocalPodIndex } from './kube/pods';
import { ReverseDns } from './reverse-dns';
import { ConditionExporter } from './sinks/condition-exporter';
import { EventExporter } from './sinks/event-exporter';
import { healthOf, startHttpServer } from './sinks/http-server';
import { LogSink } from './sinks/log-sink';
import type { Metrics } from './sinks/metrics';
import { CheckpointStore } from './sources/checkpoint';
import { FileSource } from './sources/file';
import { DEFAULT_IDLE_POLL_MS, KmsgSource, monotonicBootTime } from './sources/kmsg';
import type { Clock, Condition, LineHandler, Logger, LogLine, RuleFile, Sink, Source } from './types';

/** How long start-up waits for the Node to adopt its conditions from. */
const ADOPT_DEADLINE_MS = 30_000;

export interface AgentParts {
  readonly settings: Settings;
  /** Validated at startup by main, from rulePaths (absolute; watched for changes). */
  readonly files: readonly RuleFile[];
  readonly rulePaths: readonly string[];
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly nodeName: string;
  /** Absent: standalone (log + metrics only). */
  readonly kube?: KubeClient;
}

/** Resolves a path from settings against the working directory. */
function abs(p: string): string {
  return isAbsolute(p) ? p : resolve(p);
}

/** No cluster: no pods to blame, drops are still parsed, counted and logged. */
const standaloneResolver: DropResolver = {
  localPod: () => undefined,
  peer: async () => ({ kind: 'unknown' }),
};

const KMSG_ID = 'kmsg';

export class Agent {
  private readonly abort = new AbortController();
  private readonly sources = new Map<string, { source: Source; stop: AbortController; done: Promise<void> }>();
  private readonly sinks: Sink[] = [];
  private readonly log: Logger;
  private detector: Detector | undefined;
  private drops: DropPipeline | undefined;
  private conditionExporter: ConditionExporter | undefined;
  private eventExporter: EventExporter | undefined;
  private podIndex: Promise<void> | undefined;
  private server: Server | undefined;
  private watcher: RuleWatcher | undefined;
  private cancelTick: (() => void) | undefined;
  private tickAt = Infinity;
  private dropLogs = new Set<string>();
  private ruleLogs = new Set<string>();
  private checkpoints: CheckpointStore | undefined;
  /** Run promises of every source ever started (stopped ones too), awaited at shutdown. */
  private readonly stoppedSources: Promise<void>[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly parts: AgentParts) {
    this.log = parts.logger;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  conditions(): Condition[] {
    return this.detector?.conditions() ?? [];
  }

  sourceList(): Source[] {
    return [...this.sources.values()].map((s) => s.source);
  }

  async start(): Promise<void> {
    const { settings, clock, metrics, nodeName, kube } = this.parts;
    const signal = this.abort.signal;
    const checkpoints = new CheckpointStore(settings.stateDir, this.log.child({ component: 'checkpoints' }));
    this.checkpoints = checkpoints;
    metrics.registerComponent('state', 'checkpoints', checkpoints.stats as unknown as Record<string, number>);
    metrics.setRuleFiles(this.parts.files);

    metrics.registerComponents('source', () => [...this.sources.values()].map((s) => [s.source.id, s.source.stats] as const));
    // recoverAfter: a condition that turns True gets a timer for its recovery check.
    this.sinks.push(metrics, new LogSink(this.log, clock), { name: 'recovery-timer', onConditionChange: () => this.scheduleTick() });

    // Serve /healthz first: adopting conditions may wait for an API server that is down.
    const startedAt = clock.now();
    metrics.registerSourceHealth(() => {
      const sources = this.sourceList();
      const report = healthOf(sources, clock, settings.stallTimeoutMs, startedAt);
      return sources.map((s, i) => {
        const row = report.sources[i];
        return { id: s.id, healthy: row?.ok === true, degraded: row?.degraded !== undefined, lastPollAt: s.health().lastPollAt };
      });
    });
    this.server = await startHttpServer({
      startedAt,
      host: settings.metricsAddress.host,
      port: settings.metricsAddress.port,
      metrics,
      sources: () => this.sourceList(),
      conditions: () => this.conditions(),
      clock,
      stallTimeoutMs: settings.stallTimeoutMs,
      logger: this.log,
    });

    // Kubernetes: adopt the node's conditions of our types before the detector sets defaults.
    let initialConditions: Condition[] = [];
    if (kube) {
      this.conditionExporter = new ConditionExporter({
        api: kube.nodes,
        nodeName,
        clock,
        logger: this.log,
        heartbeatPeriodMs: settings.heartbeatPeriodMs,
        store: checkpoints,
        // The API was down at start: the first sync reads the Node before writing anything.
        onLateAdopt: (conditions) => {
          this.detector?.adoptLate(conditions);
          this.scheduleTick(); // an adopted True condition may have recoverAfter
        },
      });
      // A restart keeps what the node shows (NPD #304 resets it). If the API stays down past the
      // deadline, start from the defaults rather than not at all.
      initialConditions = await this.conditionExporter.adoptConditions(declaredTypes(this.parts.files), {
        deadline: clock.now() + ADOPT_DEADLINE_MS,
      });
      this.eventExporter = new EventExporter({
        api: kube.events,
        nodeName,
        clock,
        logger: this.log,
        namespace: settings.eventNamespace,
        nodes: kube.nodes,
        ...(this.conditionExporter.nodeUid !== undefined ? { nodeUid: this.conditionExporter.nodeUid } : {}),
      });
      this.sinks.push(this.conditionExporter, this.eventExporter);
      metrics.registerComponent('sink', 'kube-conditions', this.conditionExporter.counters);
      metrics.registerComponent('sink', 'kube-events', this.eventExporter.counters);
    }

    const detector = new Detector(this.parts.files, {
      clock,
      logger: this.log.child({ component: 'detector' }),
      nodeName,
      sinks: this.sinks,
      initialConditions,
      applyLookback: true,
      // NPD's `delay` counts from boot; the kernel's clock is CLOCK_MONOTONIC.
      bootTimeMs: monotonicBootTime(clock),
    });
    this.detector = detector;
    metrics.registerComponents('detector', () => detector.counterMap() as ReadonlyMap<string, unknown> as ReadonlyMap<string, Record<string, number>>);

    // Packet drops: from kmsg always, and from the files named by --drop-log.
    const parsed = settings.dropPrefixes.length > 0 ? parseDropPrefixes(settings.dropPrefixes) : { prefixes: [...DEFAULT_DROP_PREFIXES], errors: [] };
    let resolver = standaloneResolver;
    if (kube) {
      const index = new LocalPodIndex({ core: kube.core, kubeConfig: kube.kubeConfig, nodeName, clock, logger: this.log });
      this.podIndex = index.run(signal);
      const dns = settings.dropPeerDns.kind === 'off' ? undefined : new ReverseDns({ clock, setting: settings.dropPeerDns, timeoutMs: settings.dropPeerDnsTimeoutMs });
      const peers = createPeerResolver({
        index, core: kube.core, clock, nodeName, services: settings.dropPeerServices,
        ...(dns ? { hostName: (ip: string) => dns.name(ip) } : {}),
      });
      resolver = peers;
      metrics.registerComponent('resolver', 'local-pods', index.stats as unknown as Record<string, number>, { gauges: ['pods', 'ips'] });
      metrics.registerComponent('resolver', 'peer-cache', peers.cache.stats as unknown as Record<string, number>);
      metrics.registerComponent('resolver', 'peers', peers.stats as unknown as Record<string, number>);
      if (settings.dropPeerServices) {
        metrics.registerComponent('resolver', 'service-ips', peers.clusterIPCache.stats as unknown as Record<string, number>);
        metrics.registerComponent('resolver', 'namespace-services', peers.namespaceCache.stats as unknown as Record<string, number>);
      }
      if (dns) metrics.registerComponent('resolver', 'reverse-dns', dns.stats as unknown as Record<string, number>);
    }
    const naming = parsePeerNaming(settings.dropPeerName) ?? 'namespace';
    this.drops = new DropPipeline({
      prefixes: parsed.prefixes,
      clock,
      logger: this.log.child({ component: 'drops' }),
      resolver,
      maxAgeMs: settings.dropMaxAgeMs,
      flushIntervalMs: settings.dropFlushIntervalMs,
      sinks: this.sinks,
      peerNaming: naming,
    });
    this.drops.start(signal);
    metrics.registerComponent('transform', 'packet-drops', this.drops.stats as unknown as Record<string, number>);
    const drops = this.drops;
    metrics.registerPacketDrops(() => drops.counts.values());

    // Sources.
    this.dropLogs = new Set(settings.dropLogs.map(abs));
    if (settings.kmsgPath !== '') {
      const lookback = Math.max(settings.dropMaxAgeMs, ...this.parts.files.filter((f) => f.plugin === 'kmsg').map((f) => f.lookbackMs));
      const kmsg = new KmsgSource({
        path: settings.kmsgPath,
        checkpoints,
        clock,
        logger: this.log.child({ component: 'kmsg' }),
        startAfterMs: clock.now() - lookback,
        idlePollIntervalMs: this.idlePollMs(),
      });
      this.addSource(kmsg, (line) => {
        detector.handle(line);
        drops.handle(line);
      });
    }
    this.ruleLogs = this.ruleLogPaths(this.parts.files);
    this.syncFileSources(this.parts.files);

    this.watcher = watchRuleFiles({
      paths: this.parts.rulePaths,
      intervalMs: settings.reloadIntervalMs,
      clock,
      logger: this.log,
      signal,
      initial: this.parts.files,
      onReload: (files) => {
        metrics.setRuleFiles(files);
        detector.reload(files);
        this.conditionExporter?.redeclare(declaredTypes(files));
        this.ruleLogs = this.ruleLogPaths(files);
        this.syncFileSources(files);
        metrics.setReloadResult(true);
        this.log.info({ files: files.map((f) => f.path) }, 'rules reloaded');
        this.scheduleTick();
      },
      onInvalid: () => metrics.setReloadResult(false),
    });
    metrics.registerComponent('config', 'rules', this.watcher.stats as unknown as Record<string, number>, { skip: ['lastCheckAt'] });

    this.scheduleTick();
    this.log.info(
      {
        mode: kube ? `kubernetes (${kube.source})` : 'standalone',
        rules: this.parts.files.map((f) => f.path),
        sources: [...this.sources.keys()],
        conditions: detector.conditions().map((c) => `${c.type}=${c.status}`),
      },
      'nodewarden started',
    );
  }

  /**
   * The longest sleep of an idle source between polls: 1 s (a wake-up costs 0.2-0.4 ms of CPU),
   * or a quarter of --stall-timeout when that is shorter, so /healthz never takes a quiet
   * source for a stalled one.
   */
  private idlePollMs(): number {
    return Math.min(DEFAULT_IDLE_POLL_MS, this.parts.settings.stallTimeoutMs / 4);
  }

  private ruleLogPaths(files: readonly RuleFile[]): Set<string> {
    return new Set(files.filter((f) => f.plugin === 'filelog').map((f) => abs(f.logPath)));
  }

  /** Follows every file the rules or --drop-log name, and stops following files no longer named. */
  private syncFileSources(files: readonly RuleFile[]): void {
    const wanted = new Set([...this.dropLogs, ...this.ruleLogPaths(files)]);
    for (const [id, s] of this.sources) {
      if (id === KMSG_ID || wanted.has(id)) continue;
      this.log.info({ path: id }, 'no longer named by the rules: stop following');
      s.stop.abort();
      this.sources.delete(id);
      // Forget its position once it has saved it: if a later reload names the file again, its
      // content is backlog (filtered by lookback), not days of "new" lines.
      const checkpoints = this.checkpoints;
      void s.done.then(() => checkpoints?.forget(`file:${id}`));
    }
    for (const path of wanted) if (!this.sources.has(path)) this.addFileSource(path);
  }

  private addFileSource(path: string): void {
    const detector = this.detector;
    const drops = this.drops;
    const checkpoints = this.checkpoints;
    if (!detector || !drops || !checkpoints) return;
    const isDropLog = this.dropLogs.has(path);
    const source = new FileSource({
      path,
      checkpoints,
      clock: this.parts.clock,
      logger: this.log,
      // A drop log seen for the first time is read from its end: its old lines are past
      // --drop-max-age anyway, and a multi-GB iptables.log must not be parsed to find that out.
      // (A rule-file log is read from its start, as NPD does, and filtered by lookback.)
      startAtEnd: isDropLog && !this.ruleLogs.has(path),
      // A quiet file is polled every second at most (250 ms after data); see the kmsg source.
      idlePollIntervalMs: this.idlePollMs(),
    });
    this.addSource(source, (line: LogLine) => {
      detector.handle(line);
      if (isDropLog) drops.handle(line);
    });
  }

  private addSource(source: Source, onLine: LineHandler): void {
    const stop = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, stop.signal]);
    const done = source.run(onLine, signal).catch((e: unknown) => {
      this.log.error({ source: source.id, err: e instanceof Error ? e.message : String(e) }, 'source failed');
    });
    this.sources.set(source.id, { source, stop, done });
    this.stoppedSources.push(done);
  }

  /** recoverAfter: wake the detector when the next condition is due. */
  private scheduleTick(): void {
    const detector = this.detector;
    if (!detector || this.abort.signal.aborted) return;
    const due = detector.nextDueAt();
    if (due === undefined || due >= this.tickAt) return;
    this.cancelTick?.();
    this.tickAt = due;
    this.cancelTick = this.parts.clock.setTimer(() => {
      this.tickAt = Infinity;
      this.cancelTick = undefined;
      detector.tick();
      this.scheduleTick();
    }, Math.max(0, due - this.parts.clock.now()));
  }

  /** Stops reading, flushes pending work until the deadline, closes everything. Idempotent. */
  stop(timeoutMs = this.parts.settings.shutdownTimeoutMs): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const { clock } = this.parts;
    const deadline = clock.now() + timeoutMs;
    const withinDeadline = (p: Promise<unknown>): Promise<unknown> =>
      new Promise((resolve) => {
        const cancel = clock.setTimer(() => resolve(undefined), Math.max(0, deadline - clock.now()));
        void p.finally(() => {
          cancel();
          resolve(undefined);
        });
      });
    this.log.info({ timeoutMs }, 'stopping');
    this.abort.abort();
    this.cancelTick?.();
    this.watcher?.stop();
    // Sources stop within one poll and save their positions; a read stuck on a dead filesystem
    // must not hold shutdown past the deadline.
    await withinDeadline(Promise.all(this.stoppedSources));
    await this.drops?.flush(deadline);
    await Promise.all(this.sinks.map((s) => s.flush?.(deadline)));
    this.conditionExporter?.stop();
    this.eventExporter?.stop();
    if (this.podIndex) await withinDeadline(this.podIndex);
    this.checkpoints?.flush();
    this.server?.closeAllConnections?.();
    await withinDeadline(new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done())));
    this.log.info({ late: clock.now() > deadline }, 'stopped');
  }
}

function declaredTypes(files: readonly RuleFile[]): string[] {
  return files.flatMap((f) => f.conditions.map((c) => c.type));
}
