// fake-apiserver.ts: an in-process Kubernetes API server for tests, over real HTTP on
// 127.0.0.1. It implements only the endpoints nodewarden uses, with the real semantics that
// matter (strategic merge of status.conditions by type, `$patch: delete`, 415 on unsupported
// patch types, 409 AlreadyExists, 404/422 Status objects, resourceVersion bumps, Node-event
// namespace validation), records every request, and injects faults: refused connections,
// hangs, and status codes with Retry-After. More endpoints plug in through `route()`.
// `start({ tls: true })` serves HTTPS with test/fixtures/tls's self-signed certificate, as a
// real API server does, and the kubeconfig then names that certificate as the CA. An idle
// kept-alive connection is closed after 90 s, as kube-apiserver's (its http.Server IdleTimeout),
// not after Node's default 5 s.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TLS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tls');

/** kube-apiserver closes a kept-alive connection idle this long (secure_serving.go, IdleTimeout). */
const IDLE_TIMEOUT_MS = 90_000;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  readonly body: unknown;
}

export interface Reply {
  readonly code: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Streaming reply (watch): takes over the response after the status line is written. */
  readonly stream?: (res: http.ServerResponse) => void;
}

export interface Req extends RecordedRequest {
  readonly params: readonly string[];
}

export type Handler = (req: Req) => Reply;

export interface StatusFault {
  readonly code: number;
  /** Seconds, sent as the Retry-After header. */
  readonly retryAfterSec?: number;
  /** Which requests it applies to (default: all). */
  readonly match?: (r: RecordedRequest) => boolean;
}

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  404: 'NotFound',
  409: 'AlreadyExists',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** A metav1.Status shaped like the real API server's. */
export function status(code: number, message: string, details?: Json, reason?: string): Reply {
  return {
    code,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason: reason ?? STATUS_REASONS[code] ?? 'Unknown',
      ...(details ? { details } : {}),
      code,
    },
  };
}

const SMP = 'application/strategic-merge-patch+json';
const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';
/** Lists the fake merges by key under strategic merge patch (field name → merge key). */
const MERGE_KEYS: Record<string, string> = { conditions: 'type', addresses: 'type' };

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Strategic merge patch: like merge patch, but lists in MERGE_KEYS merge by key and honour `$patch: delete`. */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // directives such as $setElementOrder/conditions
    const key = MERGE_KEYS[k];
    if (v === null) delete out[k];
    else if (key !== undefined && Array.isArray(v)) out[k] = mergeList(Array.isArray(out[k]) ? out[k] : [], v, key);
    else out[k] = strategicMerge(out[k], v);
  }
  return out;
}

function mergeList(current: Json[], patch: Json[], key: string): Json[] {
  const out = [...current];
  for (const item of patch) {
    const i = out.findIndex((x) => x[key] === item[key]);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = strategicMerge(out[i], item) as Json;
    else out.push(item);
  }
  return out;
}

function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Json)[p] : undefined;
  return cur === undefined || cur === null ? '' : String(cur);
}

/** `a.b=x,c!=y` as the API server evaluates it. */
function matchesFieldSelector(obj: unknown, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(==|!=|=)(.*)$/.exec(term);
    if (!m) return false;
    const v = fieldValue(obj, m[1]!);
    return m[2] === '!=' ? v !== m[3] : v === m[3];
  });
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly nodes = new Map<string, Json>();
  /** Events keyed by `${namespace}/${name}`. */
  readonly events = new Map<string, Json>();
  private readonly routes: { method: string; pattern: RegExp; handler: Handler }[] = [];
  private readonly faults: (StatusFault & { remaining: number })[] = [];
  private readonly sockets = new Set<Socket>();
  /** TCP connections accepted so far (a keep-alive client opens few). */
  connections = 0;
  private readonly tls: { key: Buffer; cert: Buffer } | undefined;
  private rv = 1000;
  private hanging = false;
  /** Requests received while hanging whose connection is still open. */
  private readonly hung = new Set<http.ServerResponse>();
  /** Temp dirs writeKubeconfig() made; close() removes them. */
  private readonly tempDirs: string[] = [];
  private server: http.Server;
  port = 0;

  private constructor(opts: { tls?: boolean }) {
    this.tls = opts.tls
      ? { key: readFileSync(join(TLS_DIR, 'apiserver.key')), cert: readFileSync(join(TLS_DIR, 'apiserver.crt')) }
      : undefined;
    this.server = this.newServer();
    this.installCoreRoutes();
  }

  static async start(opts: { tls?: boolean } = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(opts);
    await s.listen(0);
    return s;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Adds an endpoint. Later routes take precedence; capture groups arrive as `req.params`. */
  route(method: string, pattern: RegExp, handler: Handler): void {
    this.routes.unshift({ method, pattern, handler });
  }

  nextResourceVersion(): string {
    return String(++this.rv);
  }

  // ---- fault injection -------------------------------------------------------------------

  /** The next `times` matching requests get this status (with a Status body). */
  failNext(times: number, fault: StatusFault): void {
    this.faults.push({ ...fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** While on, requests are read and recorded but never answered. */
  setHang(on: boolean): void {
    this.hanging = on;
  }

  /** Stops listening and drops open connections: clients get ECONNREFUSED. */
  async refuse(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Listens again on the same port after refuse(). */
  async accept(): Promise<void> {
    this.server = this.newServer();
    await this.listen(this.port);
  }

  /** Stops the server (if listening) and removes the temp dirs it made. */
  async close(): Promise<void> {
    for (const d of this.tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
    if (!this.server.listening) return;
    await this.refuse();
  }

  /** How many requests received while hanging are still open (neither answered nor given up). */
  hungRequests(): number {
    return this.hung.size;
  }

  // ---- fixtures and assertions ------------------------------------------------------------

  addNode(name: string, conditions: Json[] = []): Json {
    const node = {
      kind: 'Node',
      apiVersion: 'v1',
      metadata: {
        name,
        uid: `uid-${name}`,
        resourceVersion: this.nextResourceVersion(),
        creationTimestamp: new Date().toISOString(),
      },
      spec: {},
      status: { conditions },
    };
    this.nodes.set(name, node);
    return node;
  }

  conditionsOf(node: string): Json[] {
    return (this.nodes.get(node)?.status?.conditions ?? []) as Json[];
  }

  listEvents(fieldSelector?: string): Json[] {
    return [...this.events.values()].filter((e) => matchesFieldSelector(e, fieldSelector ?? null));
  }

  requestsTo(method: string, pathPattern: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && pathPattern.test(r.path));
  }

  /** Writes a kubeconfig that points at this server, in `dir` or a temp dir close() removes; returns its path. */
  writeKubeconfig(dir?: string): string {
    if (dir === undefined) {
      dir = mkdtempSync(join(tmpdir(), 'nodewarden-kubeconfig-'));
      this.tempDirs.push(dir);
    }
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: fake',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${this.url}`,
        this.tls
          ? `    certificate-authority-data: ${this.tls.cert.toString('base64')}`
          : '    insecure-skip-tls-verify: true',
        'users:',
        '- name: fake',
        '  user:',
        '    token: fake-token',
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: fake',
      ].join('\n') + '\n',
    );
    return file;
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private newServer(): http.Server {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.handle(req, res);
    const server = this.tls ? https.createServer(this.tls, handler) : http.createServer(handler);
    server.keepAliveTimeout = IDLE_TIMEOUT_MS;
    server.on('connection', (s: Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = text;
      }
      const contentType = req.headers['content-type']?.split(';')[0]?.trim();
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        contentType,
        body,
      };
      this.requests.push(rec);
      if (this.hanging) {
        // Never answer; count it until the client gives up.
        this.hung.add(res);
        res.once('close', () => this.hung.delete(res));
        return;
      }
      const reply = this.faultFor(rec) ?? this.dispatch(rec);
      res.writeHead(reply.code, { 'content-type': 'application/json', ...reply.headers });
      if (reply.stream) return reply.stream(res);
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  }

  private faultFor(rec: RecordedRequest): Reply | undefined {
    const i = this.faults.findIndex((f) => f.remaining > 0 && (f.match?.(rec) ?? true));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (--f.remaining === 0) this.faults.splice(i, 1);
    const r = status(f.code, `injected ${f.code}`);
    return f.retryAfterSec === undefined ? r : { ...r, headers: { 'retry-after': String(f.retryAfterSec) } };
  }

  private dispatch(rec: RecordedRequest): Reply {
    for (const r of this.routes) {
      if (r.method !== rec.method) continue;
      const m = r.pattern.exec(rec.path);
      if (m) return r.handler({ ...rec, params: m.slice(1).map((p) => decodeURIComponent(p)) });
    }
    return status(404, 'the server could not find the requested resource');
  }

  private installCoreRoutes(): void {
    const NAME = '([^/]+)';
    this.route('GET', new RegExp(`^/api/v1/nodes/${NAME}$`), (r) => {
      const node = this.nodes.get(r.params[0]!);
      return node ? { code: 200, body: node } : notFound('nodes', r.params[0]!);
    });
    this.route('POST', /^\/api\/v1\/nodes$/, (r) => {
      const name = fieldValue(r.body, 'metadata.name');
      if (this.nodes.has(name)) return status(409, `nodes "${name}" already exists`, { name, kind: 'nodes' });
      const node = this.addNode(name, ((r.body as Json).status?.conditions ?? []) as Json[]);
      return { code: 201, body: node };
    });
    this.route('DELETE', new RegExp(`^/api/v1/nodes/${NAME}$`), (r) => {
      const node = this.nodes.get(r.params[0]!);
      if (!node) return notFound('nodes', r.params[0]!);
      this.nodes.delete(r.params[0]!);
      return { code: 200, body: node };
    });
    this.route('PATCH', new RegExp(`^/api/v1/nodes/${NAME}/status$`), (r) => {
      const node = this.nodes.get(r.params[0]!);
      if (!node) return notFound('nodes', r.params[0]!);
      const { patched, error } = this.applyPatch(node, r);
      if (error) return error;
      // The status subresource ignores everything but status.
      const next = {
        ...node,
        status: patched!.status ?? {},
        metadata: { ...node.metadata, resourceVersion: this.nextResourceVersion() },
      };
      this.nodes.set(r.params[0]!, next);
      return { code: 200, body: next };
    });
    this.route('GET', /^\/api\/v1\/events$/, (r) => this.eventList(undefined, r.query));
    this.route('GET', new RegExp(`^/api/v1/namespaces/${NAME}/events$`), (r) => this.eventList(r.params[0], r.query));
    this.route('GET', new RegExp(`^/api/v1/namespaces/${NAME}/events/${NAME}$`), (r) => {
      const ev = this.events.get(`${r.params[0]}/${r.params[1]}`);
      return ev ? { code: 200, body: ev } : notFound('events', r.params[1]!);
    });
    this.route('POST', new RegExp(`^/api/v1/namespaces/${NAME}/events$`), (r) =>
      this.createEvent(r.params[0]!, r.body as Json),
    );
    this.route('PATCH', new RegExp(`^/api/v1/namespaces/${NAME}/events/${NAME}$`), (r) => {
      const key = `${r.params[0]}/${r.params[1]}`;
      const ev = this.events.get(key);
      if (!ev) return notFound('events', r.params[1]!);
      const { patched, error } = this.applyPatch(ev, r);
      if (error) return error;
      const next = { ...patched, metadata: { ...ev.metadata, resourceVersion: this.nextResourceVersion() } };
      this.events.set(key, next);
      return { code: 200, body: next };
    });
    this.route('DELETE', new RegExp(`^/api/v1/namespaces/${NAME}/events/${NAME}$`), (r) => {
      const key = `${r.params[0]}/${r.params[1]}`;
      const ev = this.events.get(key);
      if (!ev) return notFound('events', r.params[1]!);
      this.events.delete(key);
      return { code: 200, body: ev };
    });
  }

  private applyPatch(obj: Json, r: Req): { patched: Json; error?: undefined } | { patched?: undefined; error: Reply } {
    if (r.body === null || typeof r.body !== 'object') return { error: status(400, 'invalid patch body') };
    if (r.contentType === SMP) return { patched: strategicMerge(obj, r.body) as Json };
    if (r.contentType === MERGE) return { patched: mergePatch(obj, r.body) as Json };
    if (r.contentType === JSON_PATCH && !Array.isArray(r.body)) {
      return { error: status(400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch') };
    }
    return {
      error: status(
        415,
        `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE}, ${SMP}, application/apply-patch+yaml`,
      ),
    };
  }

  private createEvent(ns: string, ev: Json): Reply {
    const name = fieldValue(ev, 'metadata.name');
    const bodyNs = fieldValue(ev, 'metadata.namespace');
    if (bodyNs !== '' && bodyNs !== ns) {
      return status(400, 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (name === '')
      return status(422, 'Event "" is invalid: metadata.name: Required value: name or generateName is required', {
        kind: 'Event',
      });
    // core/v1 validation: a Node event lives in "default"; a namespaced object's event in its namespace.
    const objNs = fieldValue(ev, 'involvedObject.namespace');
    if ((objNs === '' && ns !== 'default') || (objNs !== '' && objNs !== ns)) {
      return status(
        422,
        `Event "${name}" is invalid: involvedObject.namespace: Invalid value: "${objNs}": does not match event.namespace`,
        { name, kind: 'Event' },
      );
    }
    const key = `${ns}/${name}`;
    if (this.events.has(key)) return status(409, `events "${name}" already exists`, { name, kind: 'events' });
    const stored = {
      ...ev,
      kind: 'Event',
      apiVersion: 'v1',
      metadata: {
        ...ev.metadata,
        namespace: ns,
        uid: `uid-${name}`,
        resourceVersion: this.nextResourceVersion(),
        creationTimestamp: new Date().toISOString(),
      },
    };
    this.events.set(key, stored);
    return { code: 201, body: stored };
  }

  private eventList(ns: string | undefined, q: URLSearchParams): Reply {
    const items = [...this.events.values()].filter(
      (e) => (ns === undefined || e.metadata.namespace === ns) && matchesFieldSelector(e, q.get('fieldSelector')),
    );
    return {
      code: 200,
      body: { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items },
    };
  }
}

function notFound(resource: string, name: string): Reply {
  return status(404, `${resource} "${name}" not found`, { name, kind: resource });
}
