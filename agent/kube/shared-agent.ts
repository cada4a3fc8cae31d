// kube/shared-agent.ts: connection reuse for API requests. @kubernetes/client-node builds a new
// http(s).Agent for every request (KubeConfig.applySecurityAuthentication), so each request
// opens a new TCP connection and, against a real API server, pays a full TLS handshake. This
// keeps one keep-alive agent with the same TLS settings and puts it in place of the fresh one;
// a change of those settings (a rotated client certificate from an exec plugin) gets a new
// agent. Proxy agents are left alone. Idle connections close after IDLE_CLOSE_MS, and at most
// MAX_IDLE stay open, so a quiet node holds no connection to the API server.
// A kept-alive connection the server has just closed (a restart) can fail the next request
// before any response (ECONNRESET, "socket hang up"); RetryStaleHttpLibrary sends such a request
// once more, on a new connection. Every call here is idempotent or has a fixed name (an Event
// created twice gets 409 AlreadyExists), so a second send is safe.
import * as http from 'node:http';
import * as https from 'node:https';
import { IsomorphicFetchHttpLibrary, Observable } from '@kubernetes/client-node';
import type { HttpLibrary, RequestContext, ResponseContext } from '@kubernetes/client-node';

/** An idle kept-alive connection is closed after this long. */
export const IDLE_CLOSE_MS = 30_000;
/** Idle connections kept per server. */
const MAX_IDLE = 2;

/** The TLS settings client-node derives from the kubeconfig; an agent is reused while they hold. */
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

type AgentOptions = Record<string, unknown>;

function same(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return a === b;
}

export interface SharedAgent {
  /** The agent to use instead of `fresh` (client-node's per-request agent), or `fresh` itself. */
  swap(fresh: http.Agent): http.Agent;
  /** Agents made so far (1 while the TLS settings hold). */
  readonly made: number;
  /** Closes idle connections (shutdown). */
  destroy(): void;
}

export function sharedAgent(): SharedAgent {
  let current: http.Agent | undefined;
  let currentOpts: AgentOptions | undefined;
  let made = 0;
  return {
    swap(fresh) {
      // Only the plain agents client-node makes for a direct connection; never a proxy agent.
      const plain = fresh?.constructor === https.Agent || fresh?.constructor === http.Agent;
      if (!plain) return fresh;
      const opts = (fresh as http.Agent & { options: AgentOptions }).options;
      const fits =
        current !== undefined &&
        current.constructor === fresh.constructor &&
        TLS_KEYS.every((k) => same(opts[k], currentOpts![k]));
      if (!fits) {
        current?.destroy();
        const base: AgentOptions = { keepAlive: true, maxFreeSockets: MAX_IDLE, timeout: IDLE_CLOSE_MS };
        for (const k of TLS_KEYS) if (opts[k] !== undefined) base[k] = opts[k];
        current = fresh.constructor === https.Agent ? new https.Agent(base) : new http.Agent(base);
        currentOpts = opts;
        made++;
      }
      fresh.destroy(); // it holds no sockets yet; nothing should keep it
      return current!;
    },
    get made() {
      return made;
    },
    destroy() {
      current?.destroy();
      current = undefined;
    },
  };
}

/** The errors of a connection the peer closed before answering. */
function staleConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** client-node's fetch library, sending once more a request whose connection was found closed. */
export class RetryStaleHttpLibrary implements HttpLibrary {
  /** Requests sent a second time. */
  retries = 0;
  private readonly inner = new IsomorphicFetchHttpLibrary();

  send(ctx: RequestContext): Observable<ResponseContext> {
    const once = (): Promise<ResponseContext> => this.inner.send(ctx).toPromise();
    return new Observable(
      once().catch((err: unknown) => {
        if (!staleConnection(err) || ctx.getSignal()?.aborted) throw err;
        this.retries++;
        return once();
      }),
    );
  }
}
