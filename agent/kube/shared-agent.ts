// kube/shared-agent.ts: connection reuse for API requests. @kubernetes/client-node's KubeConfig
// builds a new http(s).Agent each time it applies the kubeconfig to a request
// (applyToHTTPSOptions), so each request would open a new TCP connection and, against a real API
// server, pay a full TLS handshake. This keeps one keep-alive agent with the same TLS settings
// and puts it in place of the fresh one; a change of those settings (a rotated client
// certificate from an exec plugin) gets a new agent. Proxy agents are left alone. Idle
// connections close after IDLE_CLOSE_MS, and at most MAX_IDLE stay open, so a quiet node holds
// no connection to the API server. (A request that meets a connection the server has just
// closed is sent again by rest.ts.)
import * as http from 'node:http';
import * as https from 'node:https';

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
  /** The agent to use instead of `fresh` (the kubeconfig's per-request agent), or `fresh` itself. */
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
