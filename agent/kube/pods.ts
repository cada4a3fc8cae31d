// kube/pods.ts: who owns an IP, for packet-drop events, with memory and API load that do not grow
// with the cluster.
//   - LocalPodIndex: list + watch of pods with fieldSelector spec.nodeName=<node>, indexing every
//     IP in status.podIPs (dual-stack). hostNetwork pods are not indexed as pods (they share the
//     node's IPs and get no drop events); their IPs are remembered as this node's while some
//     hostNetwork pod still reports them (counted per IP, so a deleted pod takes its IPs with it
//     unless another hostNetwork pod still has them). Terminal pods
//     (Succeeded/Failed) are dropped: their IPs get reused. The watch resumes from the last
//     resourceVersion (bookmarks on); 410 Gone → relist; any other failure → backoff, relist.
//     The backoff (backoff.ts, WATCH_BACKOFF) is full jitter capped at 20 s, so the index resumes
//     within about 20 s of the API server answering again; it resets once a list + watch has
//     held for a minute or a watch ended cleanly, so a watch that keeps failing right after its
//     list does not turn into a tight relist loop.
//     Lists are served from the API server's watch cache, as client-go's reflector does: the
//     first with resourceVersion=0, a relist with the last version seen (not older than what
//     the index already holds); only when the server cannot serve that version (410, or "too
//     large resource version") does one list go to etcd (resourceVersion unset, a quorum read).
// Remote IPs (pods elsewhere, Services) are looked up lazily by kube/peers.ts.
// RBAC: pods list, watch.
import { WATCH_BACKOFF, backoffDelay, type BackoffPolicy } from '../runtime/backoff';
import { sleeperFor } from '../runtime/clock';
import { normaliseIP } from '../engine/packet-log';
import type { Clock, Logger, PodInfo, Sleep } from '../types';
import type { CoreApi } from './core-api';
import { classifyApiError } from './errors';
import type { List, Pod } from './wire';

export interface PodIndexStats {
  lists: number;
  watches: number;
  watchEvents: number;
  /** Relists caused by 410 Gone (expired resourceVersion). */
  gone: number;
  errors: number;
  pods: number;
  ips: number;
}

export interface LocalPodIndexOptions {
  readonly core: CoreApi;
  readonly nodeName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sleep?: Sleep;
  /** Backoff after failures (default WATCH_BACKOFF: 1 s doubling, capped at 20 s, full jitter). */
  readonly backoff?: BackoffPolicy;
  /** [0, 1) source for jitter (default Math.random). */
  readonly random?: () => number;
  /** Server-side watch timeout (default 300 s; reflector-like). */
  readonly watchTimeoutSec?: number;
}

interface Indexed {
  readonly info: PodInfo;
  readonly ips: readonly string[];
}

const TERMINAL = new Set(['Succeeded', 'Failed']);
/** A list + watch that lasted this long counts as a success: the backoff starts over. */
const HEALTHY_WATCH_MS = 60_000;

/** Succeeded or Failed: its IPs may already belong to another pod. */
export function isTerminal(pod: Pod): boolean {
  return TERMINAL.has(pod.status?.phase ?? '');
}

/** The IPs of a pod, canonical; status.podIPs first, status.podIP as a fallback. */
export function podIPs(pod: Pod): string[] {
  const raw = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => typeof ip === 'string');
  if (raw.length === 0 && pod.status?.podIP) raw.push(pod.status.podIP);
  const out: string[] = [];
  for (const ip of raw) {
    const n = normaliseIP(ip);
    if (n !== null && !out.includes(n)) out.push(n);
  }
  return out;
}

export function podInfo(pod: Pod): PodInfo {
  const md = pod.metadata ?? {};
  const info: { namespace: string; name: string; uid?: string; labels?: Record<string, string> } = {
    namespace: md.namespace ?? '',
    name: md.name ?? '',
  };
  if (md.uid) info.uid = md.uid;
  if (md.labels) info.labels = md.labels;
  return info;
}

class GoneError extends Error {}

/** A list refused because the server cannot serve that resourceVersion from its cache. */
function versionUnavailable(err: unknown): boolean {
  const f = classifyApiError(err);
  return f.status === 410 || /too large resource version/i.test(f.error);
}

export class LocalPodIndex {
  readonly stats: PodIndexStats = { lists: 0, watches: 0, watchEvents: 0, gone: 0, errors: 0, pods: 0, ips: 0 };
  /** uid (or ns/name) → indexed pod. */
  private readonly pods = new Map<string, Indexed>();
  /** IP → its pod's entry in `pods` (one lookup per drop address). */
  private readonly byIp = new Map<string, Indexed>();
  /** hostNetwork pods: key → their IPs (this node's). */
  private readonly hostPods = new Map<string, readonly string[]>();
  /** IPs of this node, learned from hostNetwork pods: IP → how many such pods report it. */
  private readonly nodeIps = new Map<string, number>();
  private synced = false;
  private readonly sleep: Sleep;

  constructor(private readonly opts: LocalPodIndexOptions) {
    this.sleep = opts.sleep ?? sleeperFor(opts.clock);
  }

  /** True once the first list has been applied. */
  get hasSynced(): boolean {
    return this.synced;
  }

  localPod(ip: string): PodInfo | undefined {
    return this.byIp.get(ip)?.info;
  }

  /** True if `ip` is one of this node's (a hostNetwork pod's) addresses. */
  isNodeIp(ip: string): boolean {
    return this.nodeIps.has(ip);
  }

  /** Applies one pod (from a list or an ADDED/MODIFIED event). */
  upsert(pod: Pod): void {
    const key = pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    this.remove(key);
    const ips = podIPs(pod);
    if (pod.spec?.hostNetwork) {
      if (ips.length === 0) return;
      this.hostPods.set(key, ips);
      for (const ip of ips) this.nodeIps.set(ip, (this.nodeIps.get(ip) ?? 0) + 1);
      return;
    }
    if (TERMINAL.has(pod.status?.phase ?? '') || ips.length === 0) return;
    const entry: Indexed = { info: podInfo(pod), ips };
    this.pods.set(key, entry);
    for (const ip of ips) this.byIp.set(ip, entry);
    this.updateCounts();
  }

  delete(pod: Pod): void {
    this.remove(pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`);
  }

  private remove(key: string): void {
    const host = this.hostPods.get(key);
    if (host !== undefined) {
      this.hostPods.delete(key);
      for (const ip of host) {
        const n = (this.nodeIps.get(ip) ?? 1) - 1;
        if (n > 0) this.nodeIps.set(ip, n);
        else this.nodeIps.delete(ip);
      }
    }
    const old = this.pods.get(key);
    if (old === undefined) return;
    this.pods.delete(key);
    // Only drop an IP that still points at this pod (a new pod may already own it).
    for (const ip of old.ips) if (this.byIp.get(ip) === old) this.byIp.delete(ip);
    this.updateCounts();
  }

  private updateCounts(): void {
    this.stats.pods = this.pods.size;
    this.stats.ips = this.byIp.size;
  }

  private replaceAll(items: readonly Pod[]): void {
    this.pods.clear();
    this.byIp.clear();
    this.hostPods.clear();
    this.nodeIps.clear();
    for (const p of items) this.upsert(p);
    this.updateCounts();
    this.synced = true;
  }

  /** List, then watch from the list's resourceVersion, until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const policy = this.opts.backoff ?? WATCH_BACKOFF;
    const random = this.opts.random ?? Math.random;
    /** Consecutive failures; the backoff grows with it. */
    let attempt = 0;
    /** Epoch ms of the last successful list (the current list + watch started then). */
    let listedAt: number | undefined;
    const selector = `spec.nodeName=${this.opts.nodeName}`;
    /** Last resourceVersion applied to the index ('' before the first list). */
    let synced = '';
    /** The server could not serve `synced` for a list: the next list is a quorum read. */
    let unavailable = false;
    while (!signal.aborted) {
      try {
        this.stats.lists++;
        const listRv = unavailable ? undefined : synced === '' ? '0' : synced;
        let list: List<Pod>;
        try {
          list = await this.opts.core.listPodForAllNamespaces(
            listRv !== undefined ? { fieldSelector: selector, resourceVersion: listRv } : { fieldSelector: selector },
          );
        } catch (err) {
          if (listRv !== undefined && listRv !== '0' && versionUnavailable(err)) unavailable = true;
          throw err;
        }
        unavailable = false;
        this.replaceAll(list.items);
        let rv = list.metadata?.resourceVersion ?? '';
        synced = rv;
        listedAt = this.opts.clock.now();
        if (attempt > 0) this.opts.logger.info({ failures: attempt }, 'pod list succeeded again; watching');
        // Watch until it fails; a clean end (server timeout) just re-watches from rv.
        while (!signal.aborted) {
          rv = await this.watchOnce(selector, rv, signal, (v) => {
            synced = v;
          });
          attempt = 0;
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof GoneError) {
          this.stats.gone++;
          this.opts.logger.info({ node: this.opts.nodeName }, 'pod watch expired (410 Gone); relisting');
          continue;
        }
        this.stats.errors++;
        // A list + watch that held for a minute was a success: start the backoff over.
        if (listedAt !== undefined && this.opts.clock.now() - listedAt >= HEALTHY_WATCH_MS) attempt = 0;
        listedAt = undefined;
        attempt++;
        const f = classifyApiError(err, this.opts.clock.now());
        const delay = backoffDelay(attempt, policy, random, f.retryAfterMs);
        const c =
          err instanceof Error && 'statusCode' in err ? String((err as { statusCode: unknown }).statusCode) : f.error;
        this.opts.logger.warn({ err: c, attempt, retryInMs: Math.round(delay) }, 'pod list/watch failed; backing off');
        await this.sleep(delay, signal);
      }
    }
  }

  /** One watch request; resolves with the last resourceVersion when the server ends it. */
  private async watchOnce(
    selector: string,
    rv: string,
    signal: AbortSignal,
    seen: (rv: string) => void,
  ): Promise<string> {
    this.stats.watches++;
    let last = rv;
    /** An ERROR event: the watch is stopped and this is thrown. */
    let failure: Error | undefined;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.opts.core.watchPods(
        {
          fieldSelector: selector,
          resourceVersion: rv,
          allowWatchBookmarks: true,
          timeoutSeconds: this.opts.watchTimeoutSec ?? 300,
        },
        (type, obj) => {
          if (failure !== undefined) return;
          this.stats.watchEvents++;
          if (type === 'ERROR') {
            const code = obj.code;
            failure = code === 410 ? new GoneError('410 Gone') : new Error(`watch error ${code ?? ''}`);
            stop.abort();
            return;
          }
          const v = obj.metadata?.resourceVersion;
          if (type === 'ADDED' || type === 'MODIFIED') this.upsert(obj);
          else if (type === 'DELETED') this.delete(obj);
          if (v) {
            last = v;
            seen(v);
          }
        },
        stop.signal,
      );
    } catch (err) {
      if (failure === undefined)
        throw (err as { statusCode?: unknown })?.statusCode === 410 ? new GoneError('410 Gone') : err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw failure;
    return last;
  }
}
