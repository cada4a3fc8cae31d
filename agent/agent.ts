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
import { LocalPodIndex, createPodResolver } from './kube/pods';
import { ConditionExporter } from './sinks/condition-exporter';
import { EventExporter } from './sinks/event-exporter';
import { startHttpServer } from './sinks/http-server';
import { LogSink } from './sinks/log-sink';
import type { Metrics } from './sinks/metrics';
import { CheckpointStore } from './sources/checkpoint';
import { FileSource } from './sources/file';
import { KmsgSource } from './sources/kmsg';
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
    metrics.registerComponent('state', 'checkpoints', checkpoints.stats as unknown as Record<string, number>);

    // recoverAfter: a condition that turns True gets a timer for its recovery check.
    this.sinks.push(metrics, new LogSink(this.log), { name: 'recovery-timer', onConditionChange: () => this.scheduleTick() });

    // Serve /healthz first: adopting conditions may wait for an API server that is down.
    this.server = await startHttpServer({
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
    });
    this.detector = detector;
    metrics.registerComponents('detector', () => detector.counterMap() as ReadonlyMap<string, unknown> as ReadonlyMap<string, Record<string, number>>);

    // Packet drops: from kmsg always, and from the files named by --drop-log.
    const parsed = settings.dropPrefixes.length > 0 ? parseDropPrefixes(settings.dropPrefixes) : { prefixes: [...DEFAULT_DROP_PREFIXES], errors: [] };
    let resolver = standaloneResolver;
    if (kube) {
      const index = new LocalPodIndex({ core: kube.core, kubeConfig: kube.kubeConfig, nodeName, clock, logger: this.log });
      this.podIndex = index.run(signal);
      resolver = createPodResolver({ index, core: kube.core, clock, nodeName });
      metrics.registerComponent('resolver', 'pods', index.stats as unknown as Record<string, number>);
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
      });
      this.addSource(kmsg, (line) => {
        detector.handle(line);
        drops.handle(line);
      });
    }
    for (const path of this.filePaths(this.parts.files)) this.addFileSource(path, checkpoints);

    this.watcher = watchRuleFiles({
      paths: this.parts.rulePaths,
      intervalMs: settings.reloadIntervalMs,
      clock,
      logger: this.log,
      signal,
      initial: this.parts.files,
      onReload: (files) => {
        detector.reload(files);
        this.conditionExporter?.redeclare(declaredTypes(files));
        for (const path of this.filePaths(files)) if (!this.sources.has(path)) this.addFileSource(path, checkpoints);
        metrics.setReloadResult(true);
        this.log.info({ files: files.map((f) => f.path) }, 'rules reloaded');
        this.scheduleTick();
      },
      onInvalid: () => metrics.setReloadResult(false),
    });
    metrics.registerComponent('config', 'rules', this.watcher.stats as unknown as Record<string, number>);

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

  /** Files to follow: filelog rule files' logPath and --drop-log. */
  private filePaths(files: readonly RuleFile[]): string[] {
    const paths = new Set<string>(this.dropLogs);
    for (const f of files) if (f.plugin === 'filelog') paths.add(abs(f.logPath));
    return [...paths];
  }

  private addFileSource(path: string, checkpoints: CheckpointStore): void {
    const detector = this.detector;
    const drops = this.drops;
    if (!detector || !drops) return;
    const isDropLog = this.dropLogs.has(path);
    const source = new FileSource({ path, checkpoints, clock: this.parts.clock, logger: this.log });
    this.addSource(source, (line: LogLine) => {
      detector.handle(line);
      if (isDropLog) drops.handle(line);
    });
  }

  private addSource(source: Source, onLine: LineHandler): void {
    const stop = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, stop.signal]);
    this.parts.metrics.registerComponent('source', source.id, source.stats);
    const done = source.run(onLine, signal).catch((e: unknown) => {
      this.log.error({ source: source.id, err: e instanceof Error ? e.message : String(e) }, 'source failed');
    });
    this.sources.set(source.id, { source, stop, done });
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
    const deadline = this.parts.clock.now() + timeoutMs;
    this.log.info({ timeoutMs }, 'stopping');
    this.abort.abort();
    this.cancelTick?.();
    this.watcher?.stop();
    await Promise.all([...this.sources.values()].map((s) => s.done));
    await this.drops?.flush(deadline);
    await Promise.all(this.sinks.map((s) => s.flush?.(deadline)));
    this.conditionExporter?.stop();
    this.eventExporter?.stop();
    await this.podIndex;
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
    this.server?.closeAllConnections?.();
    this.log.info({}, 'stopped');
  }
}

function declaredTypes(files: readonly RuleFile[]): string[] {
  return files.flatMap((f) => f.conditions.map((c) => c.type));
}
