// fake-apiserver-pods.ts: pods list and watch for the fake API server (registered through its
// route table): fieldSelector with the real server's labels and values (fake-field-selector.ts:
// status.podIP is the primary IP; status.podIPs is accepted and never matches), limit,
// streamed watch events from a resourceVersion, bookmarks, 410 Gone for expired versions, and
// server-side watch endings.
import type * as http from 'node:http';
import { status, type FakeApiServer } from './fake-apiserver';
import { matchesTerms, parseFieldSelector, podFields, POD_FIELD_LABELS, type Term } from './fake-field-selector';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function selects(pod: Json, terms: readonly Term[]): boolean {
  return matchesTerms(podFields(pod), terms);
}

interface Watcher {
  readonly res: http.ServerResponse;
  readonly selector: readonly Term[];
}

export interface PodSpecLite {
  namespace: string;
  name: string;
  node: string;
  ips: string[];
  hostNetwork?: boolean;
  phase?: string;
  labels?: Record<string, string>;
}

export class FakePods {
  readonly pods = new Map<string, Json>();
  private readonly watchers = new Set<Watcher>();
  /** Watches from a resourceVersion older than this get 410 Gone. */
  private oldestRv = 0;
  private readonly history: { rv: number; type: string; pod: Json }[] = [];

  constructor(private readonly api: FakeApiServer) {
    api.route('GET', /^\/api\/v1\/pods$/, (r) => {
      const selector = parseFieldSelector(r.query.get('fieldSelector'), POD_FIELD_LABELS);
      if ('error' in selector) return status(400, selector.error);
      if (r.query.get('watch') === 'true') {
        const from = Number(r.query.get('resourceVersion') ?? '0');
        return {
          code: 200,
          stream: (res) => {
            res.flushHeaders(); // like the real server: headers go out before the first event
            if (from > 0 && from < this.oldestRv) {
              res.end(
                JSON.stringify({
                  type: 'ERROR',
                  object: {
                    kind: 'Status',
                    apiVersion: 'v1',
                    status: 'Failure',
                    message: 'too old resource version',
                    reason: 'Expired',
                    code: 410,
                  },
                }) + '\n',
              );
              return;
            }
            const w: Watcher = { res, selector };
            this.watchers.add(w);
            res.on('close', () => this.watchers.delete(w));
            for (const h of this.history) if (h.rv > from && selects(h.pod, selector)) this.send(w, h.type, h.pod);
          },
        };
      }
      let items = [...this.pods.values()].filter((p) => selects(p, selector));
      const limit = Number(r.query.get('limit') ?? '0');
      if (limit > 0) items = items.slice(0, limit);
      return {
        code: 200,
        body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.currentRv()) }, items },
      };
    });
  }

  private currentRv(): number {
    return Number(this.api.nextResourceVersion()) - 0;
  }

  private send(w: Watcher, type: string, pod: Json): void {
    w.res.write(JSON.stringify({ type, object: pod }) + '\n');
  }

  private emit(type: string, pod: Json): void {
    const rv = Number(pod.metadata.resourceVersion);
    this.history.push({ rv, type, pod });
    for (const w of this.watchers) if (selects(pod, w.selector)) this.send(w, type, pod);
  }

  static body(p: PodSpecLite, rv: string): Json {
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        namespace: p.namespace,
        name: p.name,
        uid: `uid-${p.namespace}-${p.name}`,
        resourceVersion: rv,
        labels: p.labels ?? {},
      },
      spec: { nodeName: p.node, hostNetwork: p.hostNetwork ?? false },
      status: { phase: p.phase ?? 'Running', podIP: p.ips[0] ?? '', podIPs: p.ips.map((ip) => ({ ip })) },
    };
  }

  /** Adds or replaces a pod (ADDED or MODIFIED to watchers). */
  put(p: PodSpecLite): Json {
    const body = FakePods.body(p, this.api.nextResourceVersion());
    const key = body.metadata.uid as string;
    const existed = this.pods.has(key);
    this.pods.set(key, body);
    this.emit(existed ? 'MODIFIED' : 'ADDED', body);
    return body;
  }

  remove(namespace: string, name: string): void {
    const key = `uid-${namespace}-${name}`;
    const pod = this.pods.get(key);
    if (!pod) return;
    this.pods.delete(key);
    this.emit('DELETED', { ...pod, metadata: { ...pod.metadata, resourceVersion: this.api.nextResourceVersion() } });
  }

  /** Compacts history: open watches get an ERROR 410 event and end; older versions are refused. */
  expireWatches(): void {
    this.oldestRv = this.currentRv();
    this.history.length = 0;
    for (const w of this.watchers) {
      w.res.end(
        JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            message: 'too old resource version',
            reason: 'Expired',
            code: 410,
          },
        }) + '\n',
      );
    }
    this.watchers.clear();
  }

  /** Ends every watch cleanly (the server's timeoutSeconds). */
  endWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  get openWatches(): number {
    return this.watchers.size;
  }
}
