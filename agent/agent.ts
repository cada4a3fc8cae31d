// agent.ts: the composition root. Builds the running agent from parsed settings and the ports
// main hands in (logger, clock, metrics registry, optional Kubernetes client, source factory),
// and owns the start and stop order:
//   start: checkpoints → /healthz → the cluster reads the Node (adoption) → detector, custom
//          plugin daemon and drop pipeline, whose sinks are all known by then → sources → rule
//          watcher;
//   stop:  abort (sources stop and save positions) → drop flush → sink flush (deadline) → close.
// One AbortSignal runs through everything; stop is idempotent. The parts: app/cluster.ts (the
// Kubernetes half), app/source-runner.ts, app/file-source-set.ts and app/journal-source-set.ts
// (which sources run).
import type { Server } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import type { Settings } from './config/settings';
import { watchRuleFiles, type RuleWatcher } from './config/rule-watch';
import { Detector } from './detector';
import { DropPipeline } from './drops';
import type { KubeClient } from './kube/client';
import { healthOf, startHttpServer } from './sinks/http-server';
import { LogSink } from './sinks/log-sink';
import type { Metrics } from './sinks/metrics';
import { CheckpointStore } from './sources/checkpoint';
import { FileSource, type FileSourceOptions } from './sources/file';
import { JournaldSource, type JournaldSourceOptions } from './sources/journald';
import {
  DEFAULT_IDLE_POLL_MS,
  KMSG_IDLE_POLL_MS,
  KMSG_READY_WAIT_MS,
  KmsgSource,
  monotonicBootTime,
  type KmsgSourceOptions,
} from './sources/kmsg';
import { valueBy } from './runtime/deadline';
import type { Clock, Condition, DropResolver, LogLine, Logger, PluginFile, RuleFile, Sink, Source } from './types';
import { Cluster } from './app/cluster';
import { FileSourceSet, type FileRole } from './app/file-source-set';
import { JournalSourceSet } from './app/journal-source-set';
import { SourceRunner } from './app/source-runner';
import { PluginDaemon } from './plugins/plugin-daemon';
import { realPluginPort, type PluginPort } from './plugins/plugin-port';

/** How long start-up waits for the Node to adopt its conditions from. */
const ADOPT_DEADLINE_MS = 30_000;

/** Builds the sources; tests inject in-memory ones (the wiring then needs no root, no /dev/kmsg). */
export interface SourceFactory {
  kmsg(opts: KmsgSourceOptions): Source;
  file(opts: FileSourceOptions): Source;
  /** Default: the real journald source (a journalctl child). */
  journald?(opts: JournaldSourceOptions): Source;
}

const newJournaldSource = (opts: JournaldSourceOptions): Source => new JournaldSource(opts);

export const realSources: SourceFactory = {
  kmsg: (opts) => new KmsgSource(opts),
  file: (opts) => new FileSource(opts),
  journald: newJournaldSource,
};

export interface AgentParts {
  readonly settings: Settings;
  /** Validated at startup by main, from rulePaths (absolute; watched for changes). */
  readonly files: readonly RuleFile[];
  /** Custom plugin files, validated with `files`. */
  readonly plugins?: readonly PluginFile[];
  readonly rulePaths: readonly string[];
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly nodeName: string;
  /** Absent: standalone (log + metrics only). */
  readonly kube?: KubeClient;
  /** Default realSources. */
  readonly sources?: SourceFactory;
  /** How custom plugins run; default realPluginPort (child processes). */
  readonly pluginPort?: PluginPort;
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
  private readonly log: Logger;
  private readonly runner: SourceRunner;
  private detector: Detector | undefined;
  private plugins: PluginDaemon | undefined;
  private drops: DropPipeline | undefined;
  private cluster: Cluster | undefined;
  private sinks: readonly Sink[] = [];
  private server: Server | undefined;
  private watcher: RuleWatcher | undefined;
  private checkpoints: CheckpointStore | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly parts: AgentParts) {
    this.log = parts.logger;
    this.runner = new SourceRunner(this.abort.signal, this.log);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  conditions(): Condition[] {
    return [...(this.detector?.conditions() ?? []), ...(this.plugins?.conditions() ?? [])];
  }

  sourceList(): Source[] {
    return this.runner.list();
  }

  async start(): Promise<void> {
    const { settings, clock, metrics, kube, files } = this.parts;
    const pluginFiles = this.parts.plugins ?? [];
    const checkpoints = new CheckpointStore(settings.stateDir, this.log.child({ component: 'checkpoints' }));
    this.checkpoints = checkpoints;
    metrics.registerComponent('state', 'checkpoints', checkpoints.stats);
    metrics.setRuleFiles([...files, ...pluginFiles]);
    metrics.registerComponents('source', () => this.runner.list().map((s) => [s.id, s.stats] as const));

    // Serve /healthz first: adopting conditions may wait for an API server that is down.
    this.server = await this.serveHttp();

    // Kubernetes: read the Node's conditions of our types before the detector sets defaults. A
    // restart keeps what the node shows (NPD #304 resets it). If the API stays down past the
    // deadline, start from the defaults rather than not at all, and adopt when it answers.
    let initialConditions: readonly Condition[] = [];
    let adoptLater = false;
    if (kube) {
      const { nodeName } = this.parts;
      this.cluster = new Cluster({ kube, settings, nodeName, clock, logger: this.log, metrics, checkpoints });
      const found = await this.cluster.adopt(declaredTypes(files, pluginFiles), clock.now() + ADOPT_DEADLINE_MS);
      initialConditions = found ?? [];
      adoptLater = found === undefined;
    }
    // Every sink is known before the detector announces its first conditions.
    this.sinks = [metrics, new LogSink(this.log, clock), ...(this.cluster?.sinks ?? [])];
    const { detector, plugins } = this.startEngines(initialConditions, adoptLater);
    const drops = this.startDrops();
    const sync = this.startSources(checkpoints, detector, drops);
    sync(files);

    this.watcher = watchRuleFiles({
      paths: this.parts.rulePaths,
      intervalMs: settings.reloadIntervalMs,
      clock,
      logger: this.log,
      signal: this.abort.signal,
      initial: files,
      initialPlugins: pluginFiles,
      onReload: (reloaded, reloadedPlugins) => {
        metrics.setRuleFiles([...reloaded, ...reloadedPlugins]);
        detector.reload(reloaded);
        plugins.reload(reloadedPlugins);
        this.cluster?.conditions.redeclare(declaredTypes(reloaded, reloadedPlugins));
        sync(reloaded);
        metrics.setReloadResult(true);
        this.log.info({ files: [...reloaded, ...reloadedPlugins].map((f) => f.path) }, 'rules reloaded');
      },
      onInvalid: () => metrics.setReloadResult(false),
    });
    metrics.registerComponent('config', 'rules', this.watcher.stats, { skip: ['lastCheckAt'] });

    this.log.info(
      {
        mode: kube ? `kubernetes (${kube.source})` : 'standalone',
        rules: [...files, ...pluginFiles].map((f) => f.path),
        sources: this.runner.ids(),
        conditions: this.conditions().map((c) => `${c.type}=${c.status}`),
      },
      'nodewarden started',
    );
  }

  /** /healthz, /conditions and /metrics, with source health as metrics too. */
  private serveHttp(): Promise<Server> {
    const { settings, clock, metrics } = this.parts;
    const startedAt = clock.now();
    metrics.registerSourceHealth(() => {
      const sources = this.sourceList();
      const report = healthOf(sources, clock, settings.stallTimeoutMs, startedAt);
      return sources.map((s, i) => {
        const row = report.sources[i];
        return {
          id: s.id,
          healthy: row?.ok === true,
          degraded: row?.degraded !== undefined,
          lastPollAt: s.health().lastPollAt,
        };
      });
    });
    return startHttpServer({
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
  }

  /** The problem daemons: the log Detector and, beside it, the custom plugins; same sinks. */
  private startEngines(
    initialConditions: readonly Condition[],
    adoptLater: boolean,
  ): { detector: Detector; plugins: PluginDaemon } {
    const { clock, metrics, nodeName, files } = this.parts;
    const detector = new Detector(files, {
      clock,
      logger: this.log.child({ component: 'detector' }),
      nodeName,
      sinks: this.sinks,
      initialConditions,
      applyLookback: true,
      recoveryTimer: true,
      // NPD's `delay` counts from boot; the kernel's clock is CLOCK_MONOTONIC.
      bootTimeMs: monotonicBootTime(clock),
    });
    this.detector = detector;
    metrics.registerComponents('detector', () => detector.counterMap());
    const plugins = new PluginDaemon(this.parts.plugins ?? [], {
      clock,
      logger: this.log.child({ component: 'plugins' }),
      nodeName,
      sinks: this.sinks,
      port: this.parts.pluginPort ?? realPluginPort,
      initialConditions,
    });
    this.plugins = plugins;
    metrics.registerComponents('plugin', () => plugins.counterMap(), { gauges: ['running'] });
    plugins.start();
    // Downstream only: the Node's conditions go to the detector and the plugin daemon, which
    // re-announce them to the held exporter; then the exporter may write.
    if (adoptLater)
      this.cluster?.adoptLater(
        () => declaredTypes(detector.ruleFiles(), plugins.pluginFiles()),
        (c) => {
          detector.adoptLate(c);
          plugins.adoptLate(c);
        },
      );
    return { detector, plugins };
  }

  /** Packet drops: from kmsg always, and from the files named by --drop-log. */
  private startDrops(): DropPipeline {
    const { settings, clock, metrics } = this.parts;
    const drops = new DropPipeline({
      prefixes: settings.dropPrefixes,
      clock,
      logger: this.log.child({ component: 'drops' }),
      resolver: this.cluster?.resolver(this.abort.signal) ?? standaloneResolver,
      maxAgeMs: settings.dropMaxAgeMs,
      flushIntervalMs: settings.dropFlushIntervalMs,
      sinks: this.sinks,
      peerNaming: settings.dropPeerName,
    });
    this.drops = drops;
    drops.start(this.abort.signal);
    metrics.registerComponent('transform', 'packet-drops', drops.stats);
    metrics.registerPacketDrops(() => drops.counts.values());
    return drops;
  }

  /**
   * Starts kmsg, and returns the function that makes the followed files and journal readers
   * match a set of rule files (at start and on every reload).
   */
  private startSources(
    checkpoints: CheckpointStore,
    detector: Detector,
    drops: DropPipeline,
  ): (files: readonly RuleFile[]) => void {
    const { settings, clock, files } = this.parts;
    const factory = this.parts.sources ?? realSources;
    // An idle source polls every second at most (a wake-up costs 0.2-0.4 ms of CPU), the kernel
    // ring every 500 ms when it cannot wait on it (it is small enough for a burst to overrun it
    // within a second; kmsg.ts), or every quarter of --stall-timeout when that is shorter, so
    // that /healthz never takes a quiet source for a stalled one.
    const idlePollIntervalMs = Math.min(DEFAULT_IDLE_POLL_MS, settings.stallTimeoutMs / 4);
    const both = (line: LogLine): void => {
      detector.handle(line);
      drops.handle(line);
    };
    if (settings.kmsgPath !== '') {
      const lookback = Math.max(
        settings.dropMaxAgeMs,
        ...files.filter((f) => f.plugin === 'kmsg').map((f) => f.lookbackMs),
      );
      const kmsg = factory.kmsg({
        path: settings.kmsgPath,
        checkpoints,
        clock,
        logger: this.log.child({ component: 'kmsg' }),
        startAfterMs: clock.now() - lookback,
        idlePollIntervalMs: Math.min(KMSG_IDLE_POLL_MS, idlePollIntervalMs),
        // At most a quarter of --stall-timeout, as every poll interval: /healthz reads poll age.
        readyWaitMs: Math.min(KMSG_READY_WAIT_MS, settings.stallTimeoutMs / 4),
      });
      this.runner.add(kmsg, both);
    }
    const dropLogs = new Set(settings.dropLogs);
    const fileSet = new FileSourceSet({
      runner: this.runner,
      makeSource: (path, startAtEnd) =>
        factory.file({ path, checkpoints, clock, logger: this.log, startAtEnd, idlePollIntervalMs }),
      handlerFor: (role: FileRole) => (role.drops ? both : (line: LogLine) => detector.handle(line)),
      forget: (name) => checkpoints.forget(name),
      logger: this.log,
    });
    const journals = new JournalSourceSet({
      runner: this.runner,
      makeSource: (dir, identifiers, lookbackMs) =>
        (factory.journald ?? newJournaldSource)({
          dir,
          identifiers,
          checkpoints,
          clock,
          logger: this.log.child({ component: 'journald' }),
          startAfterMs: clock.now() - lookbackMs,
          idlePollIntervalMs,
        }),
      onLine: (line) => detector.handle(line),
      forget: (name) => checkpoints.forget(name),
      logger: this.log,
    });
    return (ruleFiles) => {
      const ruleLogs = new Set(ruleFiles.filter((f) => f.plugin === 'filelog').map((f) => abs(f.logPath)));
      fileSet.sync(
        new Map([...dropLogs, ...ruleLogs].map((p) => [p, { rules: ruleLogs.has(p), drops: dropLogs.has(p) }])),
      );
      journals.sync(ruleFiles);
    };
  }

  /** Stops reading, flushes pending work until the deadline, closes everything. Idempotent. */
  stop(timeoutMs = this.parts.settings.shutdownTimeoutMs): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    const { clock } = this.parts;
    const deadline = clock.now() + timeoutMs;
    const withinDeadline = (p: Promise<unknown>): Promise<unknown> => valueBy(clock, p, deadline, undefined);
    this.log.info({ timeoutMs }, 'stopping');
    this.abort.abort();
    this.detector?.stop();
    this.plugins?.stop();
    this.watcher?.stop();
    // Sources stop within one poll and save their positions; a read stuck on a dead filesystem
    // must not hold shutdown past the deadline.
    await withinDeadline(this.runner.stopped());
    await this.drops?.flush(deadline);
    // The API may have come back since the last late-adoption try: one more, so the flush can write.
    if (this.cluster) await withinDeadline(this.cluster.beforeFlush());
    await Promise.all(this.sinks.map((s) => s.flush?.(deadline)));
    this.cluster?.stop();
    if (this.cluster) await withinDeadline(this.cluster.stopped());
    this.checkpoints?.flush();
    this.parts.kube?.close();
    this.server?.closeAllConnections?.();
    await withinDeadline(new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done())));
    this.log.info({ late: clock.now() > deadline }, 'stopped');
  }
}

function declaredTypes(files: readonly RuleFile[], plugins: readonly PluginFile[]): string[] {
  return [...files, ...plugins].flatMap((f) => f.conditions.map((c) => c.type));
}
