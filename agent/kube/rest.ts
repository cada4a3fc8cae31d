// kube/rest.ts: the HTTP side of the API client: JSON requests and watch streams over node:http(s).
// Each request takes its credentials (bearer token, client certificate, basic auth,
// impersonation) from the KubeConnection (kubeconfig.ts), and its agent, kept alive while the
// TLS settings hold, from shared-agent.ts.
// Bounds: a response body is at most MAX_RESPONSE_BYTES, a watch line MAX_WATCH_LINE_BYTES; a
// request takes at most `timeoutMs`; a watch with no byte for `idleMs` is dropped. A request whose
// kept-alive connection the server had just closed (ECONNRESET, EPIPE before an answer) is sent
// once more on a new connection; every call nodewarden makes is idempotent or has a fixed name
// (an Event created twice gets 409 AlreadyExists).
import * as http from 'node:http';
import * as https from 'node:https';
import { systemClock } from '../runtime/clock';
import type { Clock } from '../types';
import type { KubeConnection } from './kubeconfig';
import type { SharedAgent } from './shared-agent';

/** Largest response body read; a bigger one fails the request. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** Largest watch line (one object; etcd's limit is 1.5 MiB); a bigger one ends the watch. */
export const MAX_WATCH_LINE_BYTES = 8 * 1024 * 1024;
/** Error bodies (metav1.Status) are kept up to this size. */
const MAX_ERROR_BODY = 64 * 1024;

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** A non-2xx answer: `code` is the HTTP status, `body` the (capped) text, usually a metav1.Status. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: http.IncomingHttpHeaders,
  ) {
    super(`HTTP ${code}`);
    this.name = 'ApiError';
  }
  get statusCode(): number {
    return this.code;
  }
}

export interface RestOptions {
  readonly connection: KubeConnection;
  readonly timeoutMs: number;
  readonly userAgent: string;
  readonly agent: SharedAgent;
  /** Where each request's timeout timer is set (default: the real clock). */
  readonly clock?: Clock;
}

export interface RestStats {
  requests: number;
  /** Requests sent a second time after a stale kept-alive connection. */
  retries: number;
  watches: number;
  /** Watch lines that were not JSON, skipped. */
  badWatchLines: number;
}

interface Prepared {
  readonly url: URL;
  readonly options: http.RequestOptions;
}

/** The reason a call's timeout aborts it with: a TimeoutError, as AbortSignal.timeout's. */
function timedOut(ms: number): DOMException {
  return new DOMException(`no answer within ${ms} ms`, 'TimeoutError');
}

/** The errors of a connection the peer closed before answering. */
function staleConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

/**
 * Keeps a response body's first `limit` bytes; calls `done` with them at its end. Past the limit
 * the rest is drained unkept and `over` (if any) runs.
 */
function collectBody(res: http.IncomingMessage, limit: number, done: (body: Buffer) => void, over?: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    const room = limit - size;
    size += c.length;
    if (room >= c.length) chunks.push(c);
    else {
      if (room > 0) chunks.push(c.subarray(0, room));
      over?.();
    }
  });
  res.on('end', () => done(Buffer.concat(chunks)));
}

function tooLarge(what: string, limit: number): Error {
  return Object.assign(new Error(`${what} larger than ${limit} bytes`), { code: 'ERESPONSETOOLARGE' });
}

export class RestClient {
  readonly stats: RestStats = { requests: 0, retries: 0, watches: 0, badWatchLines: 0 };
  private readonly base: string;

  constructor(private readonly o: RestOptions) {
    this.base = o.connection.server.replace(/\/+$/, '');
  }

  /** Credentials and agent for one request, fresh from the connection (tokens and certs rotate). */
  private async prepare(method: string, path: string, query: Query | undefined, type?: string): Promise<Prepared> {
    const cred = await this.o.connection.credentials();
    const url = new URL(this.base + path + queryString(query));
    const headers: http.OutgoingHttpHeaders = { ...cred.headers };
    headers['User-Agent'] = this.o.userAgent;
    headers.Accept = 'application/json';
    if (type !== undefined) headers['Content-Type'] = type;
    return { url, options: { method, headers, agent: this.o.agent.get(url.protocol === 'https:', cred.tls) } };
  }

  /**
   * One JSON call: resolves with the decoded 2xx body; rejects with ApiError for any other
   * status, or with the network error (a `code` string) or AbortError (the timeout).
   */
  async request<T>(method: string, path: string, query?: Query, body?: unknown, type?: string): Promise<T> {
    this.stats.requests++;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // One timer per call, cancelled when the call settles. (AbortSignal.timeout left a timer behind
    // every call that fired timeoutMs later, building a DOMException and an abort event for a
    // request long finished.)
    const timeout = new AbortController();
    const signal = timeout.signal;
    const cancel = (this.o.clock ?? systemClock).setTimer(
      () => timeout.abort(timedOut(this.o.timeoutMs)),
      this.o.timeoutMs,
    );
    try {
      for (let attempt = 0; ; attempt++) {
        const p = await this.prepare(method, path, query, payload ? (type ?? 'application/json') : undefined);
        if (payload) (p.options.headers as Record<string, string>)['Content-Length'] = String(payload.length);
        try {
          const res = await this.send(p, payload, signal);
          if (res.status >= 200 && res.status < 300) {
            return (res.body.length === 0 ? undefined : JSON.parse(res.body.toString('utf8'))) as T;
          }
          throw new ApiError(res.status, res.body.toString('utf8'), res.headers);
        } catch (err) {
          if (attempt > 0 || !staleConnection(err) || signal.aborted) throw err;
          this.stats.retries++;
        }
      }
    } finally {
      cancel();
    }
  }

  private send(
    p: Prepared,
    payload: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const mod = p.url.protocol === 'http:' ? http : https;
      const req = mod.request(p.url, { ...p.options, signal }, (res) => {
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        const limit = ok ? MAX_RESPONSE_BYTES : MAX_ERROR_BODY;
        collectBody(
          res,
          limit,
          (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
          ok ? () => req.destroy(tooLarge('response', limit)) : undefined, // an error body is cut
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Watches `path`: calls `onEvent` for every line of the stream, until the server ends it
   * (resolves), `signal` aborts (resolves), or it fails (rejects: ApiError for a non-200 answer,
   * a network error, or ETIMEDOUT when no byte came for `idleMs`). Lines that are not JSON are
   * counted and skipped.
   */
  async watch<T>(
    path: string,
    query: Query,
    onEvent: (type: string, object: T & { code?: number }) => void,
    signal: AbortSignal,
    idleMs: number,
  ): Promise<void> {
    this.stats.watches++;
    if (signal.aborted) return;
    const p = await this.prepare('GET', path, { ...query, watch: 'true' });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        // A stream the server ended cleanly leaves its connection to the agent's pool.
        if (err || signal.aborted) req.destroy();
        if (err && !signal.aborted) reject(err);
        else resolve();
      };
      const onAbort = (): void => done(null);
      signal.addEventListener('abort', onAbort, { once: true });
      const mod = p.url.protocol === 'http:' ? http : https;
      const req = mod.request(p.url, p.options, (res) => {
        if (res.statusCode !== 200) {
          collectBody(res, MAX_ERROR_BODY, (body) =>
            done(new ApiError(res.statusCode ?? 0, body.toString('utf8'), res.headers)),
          );
          res.on('error', done);
          return;
        }
        let pending: Buffer[] = [];
        let pendingLen = 0;
        const deliver = (line: Buffer): void => {
          if (line.length === 0 || settled) return;
          let ev: { type?: unknown; object?: unknown };
          try {
            ev = JSON.parse(line.toString('utf8')) as { type?: unknown; object?: unknown };
          } catch {
            this.stats.badWatchLines++;
            return;
          }
          if (typeof ev?.type !== 'string' || ev.object === null || typeof ev.object !== 'object') {
            this.stats.badWatchLines++;
            return;
          }
          onEvent(ev.type, ev.object as T & { code?: number });
        };
        res.on('data', (chunk: Buffer) => {
          let start = 0;
          for (let nl = chunk.indexOf(10); nl !== -1 && !settled; nl = chunk.indexOf(10, start)) {
            const part = chunk.subarray(start, nl);
            start = nl + 1;
            if (pendingLen === 0) deliver(part);
            else {
              pending.push(part);
              const line = Buffer.concat(pending);
              pending = [];
              pendingLen = 0;
              deliver(line);
            }
          }
          if (start < chunk.length && !settled) {
            pendingLen += chunk.length - start;
            if (pendingLen > MAX_WATCH_LINE_BYTES) return done(tooLarge('watch line', MAX_WATCH_LINE_BYTES));
            pending.push(chunk.subarray(start));
          }
        });
        res.on('end', () => done(null));
        res.on('error', done);
      });
      req.setTimeout(idleMs, () =>
        done(Object.assign(new Error(`watch: no data for ${idleMs} ms`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', done);
      req.end();
    });
  }
}
