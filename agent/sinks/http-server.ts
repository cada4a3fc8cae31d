// http-server.ts: the agent's HTTP face: /metrics (Prometheus), /healthz (503 when a source has
// died or stalled, unlike NPD's always-200), /conditions (JSON) and /. Read-only; no request
// body is ever read.
import { createServer, type Server } from 'node:http';
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

export async function startHttpServer(opts: HttpServerOptions): Promise<Server> {
  const startedAt = opts.startedAt ?? opts.clock.now();
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
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
        return send(200, 'application/json', JSON.stringify(opts.conditions(), null, 2) + '\n');
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
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  opts.logger.info({ address: server.address() }, 'serving /metrics, /healthz and /conditions');
  return server;
}
