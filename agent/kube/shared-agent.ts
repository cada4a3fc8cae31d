// kube/shared-agent.ts: connection reuse for API requests. One keep-alive http(s).Agent is kept
// while the TLS settings (CA, client certificate and key, verification, server name) stay the
// same, so requests share connections instead of paying a TLS handshake each against a real API
// server; a change of those settings (a rotated client certificate, an exec plugin's new one)
// gets a new agent, and the old one's connections are closed. Idle connections close after
// IDLE_CLOSE_MS, so a quiet node holds no connection to the API server, and at most MAX_IDLE stay
// open meanwhile: about what a drop flush has in flight (peer, Service and ClusterIP lookups, at
// most 4 + 2 + 4, beside one Event write), so that the next flush, 10 s later, finds them open
// instead of paying a TLS handshake each (kube-apiserver keeps an idle connection for 90 s).
// (A request that meets a connection the server has just closed is sent again by rest.ts.)
import * as http from 'node:http';
import * as https from 'node:https';
import type { TlsSettings } from './kubeconfig';

/** An idle kept-alive connection is closed after this long. */
export const IDLE_CLOSE_MS = 30_000;
/** Idle connections kept per server (W3 in `npm run bench`: 13 TLS handshakes with 2, 5 with 8). */
const MAX_IDLE = 8;

/** The TLS settings an agent is kept for. */
const TLS_KEYS = ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const;

function same(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}

export interface SharedAgent {
  /** The kept-alive agent for these settings (the same one while they hold). */
  get(secure: boolean, tls: TlsSettings): http.Agent;
  /** Agents made so far (1 while the TLS settings hold). */
  readonly made: number;
  /** Closes idle connections (shutdown). */
  destroy(): void;
}

export function sharedAgent(): SharedAgent {
  let current: http.Agent | undefined;
  let currentSecure = false;
  let currentTls: TlsSettings = {};
  let made = 0;
  return {
    get(secure, tls) {
      const fits =
        current !== undefined && currentSecure === secure && TLS_KEYS.every((k) => same(tls[k], currentTls[k]));
      if (!fits) {
        current?.destroy();
        const opts: https.AgentOptions = { keepAlive: true, maxFreeSockets: MAX_IDLE, timeout: IDLE_CLOSE_MS };
        for (const k of TLS_KEYS) if (tls[k] !== undefined) (opts as Record<string, unknown>)[k] = tls[k];
        current = secure ? new https.Agent(opts) : new http.Agent(opts);
        currentSecure = secure;
        currentTls = { ...tls };
        made++;
      }
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
