// kube/client.ts: finds the API server (explicit --kubeconfig, then in-cluster service account,
// then $KUBECONFIG; none → standalone) and builds the one CoreApi the agent uses (core-api.ts over
// rest.ts), with a per-request timeout, a User-Agent and kept-alive connections (shared-agent.ts).
// Everything else in agent/kube/ takes a KubeClient.
import { existsSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import { CoreApi } from './core-api';
import { createEventApi } from './events';
import { connection, inClusterConfig, loadKubeconfig, type KubeConnection } from './kubeconfig';
import { createNodeStatusApi } from './nodes';
import { RestClient, type RestStats } from './rest';
import { sharedAgent } from './shared-agent';
import type { Clock } from '../types';
import type { EventApi, NodeStatusApi } from './types';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface KubeClientOptions {
  /** --kubeconfig; wins over everything when set. */
  readonly kubeconfig?: string;
  /** Environment to read KUBERNETES_SERVICE_HOST and KUBECONFIG from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Per-request timeout (default 10 s). A hung API server costs at most this much per call. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** Where the in-cluster token is looked for (tests override it). */
  readonly tokenPath?: string;
  /** The clock request timeouts run on (default: the real one). */
  readonly clock?: Clock;
}

export interface KubeClient {
  /** How the server was found: 'kubeconfig:<path>' or 'in-cluster'. */
  readonly source: string;
  /** The API server URL. */
  readonly server: string;
  readonly nodes: NodeStatusApi;
  readonly events: EventApi;
  /** For agent/kube/ modules only (pods.ts, peers.ts): the core/v1 calls. */
  readonly core: CoreApi;
  /** Requests, stale-connection retries, watches, skipped watch lines. */
  readonly stats: Readonly<RestStats>;
  /** Closes kept-alive idle connections (shutdown). Idempotent. */
  close(): void;
}

/** Where the config comes from, or undefined for standalone. Pure, for tests and logs. */
export function resolveKubeSource(
  opts: KubeClientOptions,
): { kind: 'file'; path: string } | { kind: 'in-cluster' } | undefined {
  const env = opts.env ?? process.env;
  if (opts.kubeconfig !== undefined && opts.kubeconfig !== '') return { kind: 'file', path: opts.kubeconfig };
  if (env.KUBERNETES_SERVICE_HOST && existsSync(opts.tokenPath ?? SERVICE_ACCOUNT_TOKEN)) return { kind: 'in-cluster' };
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  const first = fromEnv.find((p) => existsSync(p)) ?? fromEnv[0];
  return first !== undefined ? { kind: 'file', path: first } : undefined;
}

/**
 * Builds the client, or returns undefined when there is nothing to connect to (standalone).
 * Throws (a startup configuration error) when a named kubeconfig cannot be loaded.
 */
export function createKubeClient(opts: KubeClientOptions = {}): KubeClient | undefined {
  const where = resolveKubeSource(opts);
  if (where === undefined) return undefined;
  let conn: KubeConnection;
  try {
    conn =
      where.kind === 'in-cluster'
        ? connection(inClusterConfig(opts.env ?? process.env, dirname(opts.tokenPath ?? SERVICE_ACCOUNT_TOKEN)))
        : loadKubeconfig(where.path);
  } catch (err) {
    const what = where.kind === 'in-cluster' ? 'in-cluster config' : `kubeconfig ${where.path}`;
    throw new Error(`cannot load ${what}: ${(err as Error).message}`);
  }
  const agent = sharedAgent();
  const rest = new RestClient({
    connection: conn,
    timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    userAgent: opts.userAgent ?? 'nodewarden',
    agent,
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
  });
  const core = new CoreApi(rest);
  return {
    source: where.kind === 'in-cluster' ? 'in-cluster' : `kubeconfig:${where.path}`,
    server: conn.server,
    core,
    stats: rest.stats,
    nodes: createNodeStatusApi(core),
    events: createEventApi(core),
    close: () => agent.destroy(),
  };
}
