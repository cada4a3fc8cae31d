// main.ts: the nodewarden command. Parses argv and env, loads and validates the rule files,
// builds the logger, clock, metrics registry and Kubernetes client, and runs a subcommand:
// `run` (the agent), `check-rules` (validate, exit 2 on errors), `replay` (offline rule test;
// with --drops, offline packet-drop parsing) or `log-counter` (NPD's helper, log-counter.ts; also
// when the bundle is invoked as `log-counter`).
// Handles SIGTERM/SIGINT: stop reading, flush within --shutdown-timeout, exit 0.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Agent } from './agent';
import { systemClock } from './runtime/clock';
import { errText } from './runtime/err-text';
import { loadRuleFiles } from './config/rule-files';
import { parseSettings, usage, type Settings } from './config/settings';
import { PrefixMatcher } from './engine/drop-prefixes';
import { createKubeClient } from './kube/client';
import { createPeerLookup } from './kube/peers';
import { createLogger } from './log';
import { runLogCounter } from './log-counter';
import { monotonicBootTime } from './sources/kmsg';
import { replay } from './replay';
import { replayDrops, type PeerLookup } from './replay-drops';
import { Metrics } from './sinks/metrics';
import { formatConfigError, type PluginFile, type RuleFile } from './types';

declare const NODEWARDEN_VERSION: string | undefined;
const VERSION = typeof NODEWARDEN_VERSION === 'string' ? NODEWARDEN_VERSION : 'dev';

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid configuration. */
const EXIT_CONFIG = 2;

/**
 * The default `rules/` is looked up in the working directory first, then beside the bundle
 * (dist/../rules), so `npx nodewarden` works from anywhere in a checkout and in the image.
 */
function defaultRules(paths: readonly string[]): string[] {
  if (paths.length !== 1 || paths[0] !== 'rules/' || existsSync('rules')) return paths.map((p) => resolve(p));
  const beside = join(dirname(process.argv[1] ?? '.'), '..', 'rules');
  return [existsSync(beside) ? beside : resolve('rules')];
}

async function loadRules(paths: readonly string[]): Promise<{ files: RuleFile[]; plugins: PluginFile[] } | undefined> {
  const { files, plugins, errors } = await loadRuleFiles(paths);
  if (errors.length === 0) return { files, plugins };
  for (const e of errors) process.stderr.write(`${formatConfigError(e)}\n`);
  process.stderr.write(`nodewarden: ${errors.length} error${errors.length === 1 ? '' : 's'} in rule files\n`);
  return undefined;
}

async function checkRules(settings: Settings): Promise<number> {
  const paths = settings.paths.length > 0 ? settings.paths : defaultRules(settings.rules);
  const set = await loadRules(paths);
  if (!set) return EXIT_CONFIG;
  const files = [...set.files, ...set.plugins];
  const rules = files.reduce((n, f) => n + f.rules.length, 0);
  process.stdout.write(`ok: ${files.length} rule file${files.length === 1 ? '' : 's'}, ${rules} rules\n`);
  return 0;
}

/** `replay --drops`: the agent's drop parser and prefixes; pods through a read-only lookup. */
async function runDropReplay(settings: Settings): Promise<number> {
  let peers: PeerLookup | undefined;
  if (settings.kubeconfig !== undefined) {
    let kube;
    try {
      kube = createKubeClient({ kubeconfig: settings.kubeconfig, userAgent: `nodewarden/${VERSION} (replay)` });
    } catch (e) {
      process.stderr.write(`nodewarden: ${errText(e)}\n`);
      return EXIT_CONFIG;
    }
    if (kube) {
      const cache = createPeerLookup(kube.core, systemClock);
      peers = (ip) => cache.get(ip);
    }
  }
  const result = await replayDrops({
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
    format: settings.format === 'syslog' ? 'syslog' : 'kmsg',
    matcher: new PrefixMatcher(settings.dropPrefixes),
    clock: systemClock,
    ...(peers ? { peers } : {}),
  });
  process.stderr.write(`replay --drops: ${JSON.stringify(result)}\n`);
  return 0;
}

async function runReplay(settings: Settings): Promise<number> {
  if (settings.drops) return runDropReplay(settings);
  const set = await loadRules(defaultRules(settings.rules));
  if (!set) return EXIT_CONFIG;
  const result = await replay({
    input: process.stdin,
    output: process.stdout,
    files: set.files,
    format: settings.format,
    clock: systemClock,
  });
  process.stderr.write(`replay: ${JSON.stringify(result)}\n`);
  return 0;
}

async function run(settings: Settings): Promise<number> {
  // The kubelet registers the lower-cased hostname unless told otherwise.
  const nodeName = settings.nodeName ?? process.env.NODE_NAME ?? hostname().toLowerCase();
  const logger = createLogger(settings.logLevel, { node: nodeName });
  const rulePaths = defaultRules(settings.rules);
  const set = await loadRules(rulePaths);
  if (!set) return EXIT_CONFIG;

  let kube;
  try {
    kube = createKubeClient({
      ...(settings.kubeconfig !== undefined ? { kubeconfig: settings.kubeconfig } : {}),
      userAgent: `nodewarden/${VERSION}`,
      clock: systemClock,
    });
  } catch (e) {
    process.stderr.write(`nodewarden: ${errText(e)}\n`);
    return EXIT_CONFIG;
  }
  const agent = new Agent({
    settings,
    files: set.files,
    plugins: set.plugins,
    rulePaths,
    logger,
    clock: systemClock,
    metrics: new Metrics(),
    nodeName,
    ...(kube ? { kube } : {}),
  });

  let stopped = false;
  const stop = (signal: string): void => {
    if (stopped) return;
    stopped = true;
    logger.info({ signal }, 'shutting down');
    // Last resort: stop() keeps its own deadline; if something still hangs, do not outlive it.
    setTimeout(() => {
      logger.error({ timeoutMs: settings.shutdownTimeoutMs }, 'shutdown did not finish in time; exiting');
      logger.flush();
      process.exit(1);
    }, settings.shutdownTimeoutMs + 3000).unref();
    agent.stop().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (e: unknown) => {
        logger.error({ err: errText(e) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await agent.start();
  } catch (e) {
    logger.error({ err: errText(e) }, 'failed to start');
    await agent.stop(1000).catch(() => undefined);
    logger.flush();
    return 1;
  }
  // The HTTP server and timers are unref'd; this keeps the process alive until stop() exits it.
  setInterval(() => undefined, 1 << 30);
  return new Promise<number>(() => undefined);
}

/** `log-counter` (NPD's helper): by subcommand, or busybox-style when invoked by that name. */
function logCounter(argv: readonly string[]): Promise<number> {
  return runLogCounter(argv, {
    stdout: process.stdout,
    clock: systemClock,
    bootTimeMs: monotonicBootTime(systemClock),
  });
}

async function main(argv: readonly string[]): Promise<number> {
  if (basename(process.argv[1] ?? '') === 'log-counter') return logCounter(argv);
  if (argv[0] === 'log-counter') return logCounter(argv.slice(1));
  const parsed = parseSettings(argv, process.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) process.stderr.write(`nodewarden: ${e}\n`);
    process.stderr.write(`\n${usage()}\n`);
    return EXIT_CONFIG;
  }
  const settings = parsed.settings;
  switch (settings.command) {
    case 'help':
      process.stdout.write(`${usage()}\n`);
      return 0;
    case 'version':
      process.stdout.write(`nodewarden ${VERSION}\n`);
      return 0;
    case 'check-rules':
      return checkRules(settings);
    case 'replay':
      return runReplay(settings);
    case 'run':
      return run(settings);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`nodewarden: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
