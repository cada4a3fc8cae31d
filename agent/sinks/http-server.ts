// http-server.ts: the agent's HTTP face: /metrics (Prometheus), /healthz (503 when a source has
// died or stalled, unlike NPD's always-200), /conditions (JSON) and /. Read-only; no request
// body is ever read.
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { httpDate, isoString } from '../runtime/utc-time';
import type { Clock, Condition, Logger, Source } from '../types';
import type { Metrics } from './metrics';

export interface SourceHealthRow {
  readonly id: string;
  readonly ok: boolean;
  readonly alive: boolean;
  /** Ms since the source last polled its fd; null when it has not polled yet. */
  readonly lastPollAgeMs: number | null;
  readonly lastError?: string;
  /** Working, but unable to do its job for a reason a restart would not fix. Does not fail /healthz. */
  readonly degraded?: string;
}

export interface HealthReport {
  readonly ok: boolean;
  readonly sources: readonly SourceHealthRow[];
}

/**
 * A source is healthy while it is alive and has polled its fd within stallTimeoutMs. A source
 * that has never polled (lastPollAt 0) has no poll age; it is healthy while alive, until
 * stallTimeoutMs have passed since `startedAt` (when the server started) without a first poll.
 */
export function healthOf(
  sources: readonly Source[],
  clock: Clock,
  stallTimeoutMs: number,
  startedAt: number,
): HealthReport {
  const now = clock.now();
  const rows = sources.map((s): SourceHealthRow => {
    const h = s.health();
    const polled = h.lastPollAt > 0;
    const age = polled ? Math.max(0, now - h.lastPollAt) : null;
    const ok = h.alive && (age !== null ? age <= stallTimeoutMs : now - startedAt <= stallTimeoutMs);
    return {
      id: s.id,
      ok,
      alive: h.alive,
      lastPollAgeMs: age,
      ...(h.lastError !== undefined ? { lastError: h.lastError } : {}),
      ...(h.degraded !== undefined ? { degraded: h.degraded } : {}),
    };
  });
  return { ok: rows.every((r) => r.ok), sources: rows };
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: Metrics;
  readonly sources: () => readonly Source[];
  readonly conditions: () => readonly Condition[];
  readonly clock: Clock;
  readonly stallTimeoutMs: number;
  readonly logger: Logger;
  /** Epoch ms the agent started: the grace period for a first poll runs from here. Default: now. */
  readonly startedAt?: number;
}

/** Conditions with lastTransitionTime as ISO text, as JSON.stringify would write it. */
function conditionsJson(conds: readonly Condition[]): unknown[] {
  return conds.map((c) => ({ ...c, lastTransitionTime: isoString(c.lastTransitionTime.getTime()) }));
}

/** net.Server's bind-and-listen step, which listen() ends in when the process is not a cluster worker. */
type Listen2 = (address: string, port: number, family: number) => void;

/**
 * Binds server to host:port and listens; 'listening' or 'error' follows, as after listen().
 * listen() first loads node:cluster, to ask whether this process is a cluster worker, and
 * cluster loads child_process, dgram and dns with it: 0.8 MiB of RSS on Node 24 (README, Memory
 * cuts: built-ins) for a question whose answer is always no here. So for an IP address the
 * server goes straight to the step listen() takes in a process that is not a worker,
 * `_listen2`, which Node keeps under that name for code that wraps it. A host name (it needs a
 * lookup), or a Node without `_listen2`, takes listen().
 */
export function listenOn(server: Server, host: string, port: number): void {
  const family = isIP(host);
  const listen2 = (server as unknown as { _listen2?: Listen2 })._listen2;
  if (family !== 0 && typeof listen2 === 'function') listen2.call(server, host, port, family);
  else server.listen(port, host);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<Server> {
  const startedAt = opts.startedAt ?? opts.clock.now();
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string): void => {
      // Our Date header: Node's own (toUTCString) sets up ICU's time zones on first use (utc-time.ts).
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', date: httpDate(opts.clock.now()) });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    switch (url) {
      case '/metrics':
        opts.metrics.render().then(
          (m) => send(200, m.contentType, m.body),
          (e: unknown) => send(500, 'text/plain', `metrics failed: ${String(e)}\n`),
        );
        return;
      case '/healthz':
      case '/readyz': {
        const h = healthOf(opts.sources(), opts.clock, opts.stallTimeoutMs, startedAt);
        return send(h.ok ? 200 : 503, 'application/json', JSON.stringify(h) + '\n');
      }
      case '/conditions':
        // Times as text here: JSON.stringify would call Date's toJSON, which loads ICU (utc-time.ts).
        return send(200, 'application/json', JSON.stringify(conditionsJson(opts.conditions()), null, 2) + '\n');
      case '/':
        return send(200, 'text/plain', 'nodewarden: /metrics /healthz /conditions\n');
      default:
        return send(404, 'text/plain', 'not found\n');
    }
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    listenOn(server, opts.host, opts.port);
  });
  server.unref();
  opts.logger.info({ address: server.address() }, 'serving /metrics, /healthz and /conditions');
  return server;
}
