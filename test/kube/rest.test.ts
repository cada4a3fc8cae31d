// rest.test.ts: the API client's HTTP layer against the fake API server over real HTTP(S):
// headers and credentials from the kubeconfig, a server URL with a path prefix, the response
// and watch-line size bounds, watch streams split across chunks, bad watch lines counted and
// skipped, a non-200 watch as ApiError, a stalled watch dropped, and abort ending a watch.
import { readFileSync, writeFileSync } from 'node:fs';
import type * as http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient, type KubeClient } from '../../agent/kube/client';
import { classifyApiError } from '../../agent/kube/errors';
import { MAX_RESPONSE_BYTES, MAX_WATCH_LINE_BYTES } from '../../agent/kube/rest';
import type { Pod } from '../../agent/kube/wire';
import { FakeApiServer, type Reply } from '../helpers/fake-apiserver';
import { until } from '../helpers/eventually';
import { FakeClock } from '../helpers/fake-clock';

let api: FakeApiServer | undefined;
let kube: KubeClient | undefined;
afterEach(async () => {
  kube?.close();
  await api?.close();
  kube = undefined;
  api = undefined;
});

async function start(tls = false): Promise<{ api: FakeApiServer; kube: KubeClient }> {
  api = await FakeApiServer.start({ tls });
  api.addNode('n1');
  kube = createKubeClient({ kubeconfig: api.writeKubeconfig(), userAgent: 'nodewarden/test' })!;
  return { api, kube };
}

const pod = (name: string, rv: string): Pod => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: rv },
  spec: { nodeName: 'n1' },
  status: { phase: 'Running', podIP: '10.0.0.1' },
});

/** A streamed reply that writes `chunks` one by one, then ends or stays open. */
function streamed(chunks: readonly (string | Buffer)[], end = true): Reply {
  return {
    code: 200,
    stream: (res: http.ServerResponse) => {
      const next = (i: number): void => {
        if (res.destroyed) return;
        if (i >= chunks.length) {
          if (end) res.end();
          return;
        }
        res.write(chunks[i], () => setImmediate(() => next(i + 1)));
      };
      next(0);
    },
  };
}

async function watchAll(
  k: KubeClient,
  signal = new AbortController().signal,
): Promise<{ events: [string, string | undefined][]; error?: unknown }> {
  const events: [string, string | undefined][] = [];
  try {
    await k.core.watchPods(
      { fieldSelector: 'spec.nodeName=n1', resourceVersion: '1', allowWatchBookmarks: true, timeoutSeconds: 30 },
      (type, obj) => events.push([type, obj.metadata?.name]),
      signal,
    );
    return { events };
  } catch (error) {
    return { events, error };
  }
}

describe('requests', () => {
  it('sends the kubeconfig token, a User-Agent and Accept, and keeps a server path prefix', async () => {
    const { api } = await start();
    const file = api.writeKubeconfig();
    const text = readFileSync(file, 'utf8')
      .replace(/server: (\S+)/, 'server: $1/prefix/')
      .replace('token: fake-token', 'token: s3cret');
    writeFileSync(file, text);
    let seen: http.IncomingHttpHeaders | undefined;
    api.route('GET', /^\/prefix\/api\/v1\/nodes\/n1$/, () => ({
      code: 200,
      body: { metadata: { name: 'n1', uid: 'u' } },
    }));
    const raw = api as unknown as { server: http.Server };
    raw.server.prependListener('request', (req: http.IncomingMessage) => {
      seen = req.headers;
    });
    kube = createKubeClient({ kubeconfig: file, userAgent: 'nodewarden/test' })!;
    const r = await kube.nodes.getNode('n1');
    expect(r).toMatchObject({ ok: true, value: { name: 'n1', uid: 'u' } });
    expect(seen?.authorization).toBe('Bearer s3cret');
    expect(seen?.['user-agent']).toBe('nodewarden/test');
    expect(seen?.accept).toBe('application/json');
    expect(kube.stats.requests).toBe(1);
  });

  it(`fails a response larger than ${MAX_RESPONSE_BYTES} bytes, without keeping it`, async () => {
    const { api, kube } = await start();
    const filler = Buffer.alloc(1024 * 1024, 0x20);
    const chunks = [Buffer.from('{"items":[],"pad":"'), ...Array.from({ length: 33 }, () => filler), Buffer.from('"}')];
    api.route('GET', /^\/api\/v1\/services$/, () => streamed(chunks));
    const err = await kube.core.listServiceForAllNamespaces({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(classifyApiError(err)).toMatchObject({ retryable: true });
    expect(String((err as Error).message)).toMatch(/response larger than/);
  });

  it('times a call out on the injected clock, and leaves no timer behind a call that finished', async () => {
    api = await FakeApiServer.start();
    api.addNode('n1');
    const clock = new FakeClock();
    kube = createKubeClient({ kubeconfig: api.writeKubeconfig(), timeoutMs: 5000, clock })!;
    expect((await kube.nodes.getNode('n1')).ok).toBe(true);
    expect(clock.pending()).toBe(0);
    api.setHang(true);
    const hung = kube.nodes.getNode('n1');
    await until('the request reaches the server', () => api!.hungRequests() === 1);
    expect(clock.pending()).toBe(1);
    clock.advance(4999);
    expect(api.hungRequests()).toBe(1);
    clock.advance(1);
    const r = await hung;
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.ok === false && r.error).toMatch(/timed out/);
    expect(clock.pending()).toBe(0);
  });

  it('reads a list whose items is null as empty', async () => {
    const { api, kube } = await start();
    api.route('GET', /^\/api\/v1\/services$/, () => ({
      code: 200,
      body: { metadata: { resourceVersion: '5' }, items: null },
    }));
    expect(await kube.core.listServiceForAllNamespaces({})).toEqual({ metadata: { resourceVersion: '5' }, items: [] });
  });
});

describe('watch', () => {
  it('splits lines across chunks, counts and skips bad lines, and resolves when the server ends', async () => {
    const { api, kube } = await start(true);
    const a = JSON.stringify({ type: 'ADDED', object: pod('a', '2') });
    const b = JSON.stringify({ type: 'MODIFIED', object: pod('b', '3') });
    const c = JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '4' } } });
    api.route('GET', /^\/api\/v1\/pods$/, () =>
      streamed([
        a.slice(0, 10),
        a.slice(10) + '\n' + b.slice(0, 5),
        b.slice(5) + '\nnot json\n{"type":1}\n\n',
        c.slice(0, -1),
        c.slice(-1) + '\n',
      ]),
    );
    const r = await watchAll(kube);
    expect(r.error).toBeUndefined();
    expect(r.events).toEqual([
      ['ADDED', 'a'],
      ['MODIFIED', 'b'],
      ['BOOKMARK', undefined],
    ]);
    expect(kube.stats.badWatchLines).toBe(2);
    expect(api.requests.at(-1)?.query.get('watch')).toBe('true');
  });

  it('keeps a UTF-8 character split between two chunks', async () => {
    const { api, kube } = await start();
    const line = Buffer.from(JSON.stringify({ type: 'ADDED', object: pod('café', '2') }) + '\n');
    const cut = line.indexOf(Buffer.from('é')) + 1; // inside the two bytes of é
    api.route('GET', /^\/api\/v1\/pods$/, () => streamed([line.subarray(0, cut), line.subarray(cut)]));
    const r = await watchAll(kube);
    expect(r.events).toEqual([['ADDED', 'café']]);
  });

  it(`ends with an error on a line longer than ${MAX_WATCH_LINE_BYTES} bytes`, async () => {
    const { api, kube } = await start();
    const filler = Buffer.alloc(1024 * 1024, 0x20);
    const first = JSON.stringify({ type: 'ADDED', object: pod('a', '2') }) + '\n{"type":"ADDED","object":{"pad":"';
    api.route('GET', /^\/api\/v1\/pods$/, () =>
      streamed([first, ...Array.from({ length: 9 }, () => filler), '"}}\n'], false),
    );
    const r = await watchAll(kube);
    expect(r.events).toEqual([['ADDED', 'a']]);
    expect(String((r.error as Error).message)).toMatch(/watch line larger than/);
  });

  it('rejects a non-200 answer with its status and Status body (410 Gone)', async () => {
    const { api, kube } = await start();
    api.route('GET', /^\/api\/v1\/pods$/, () => ({
      code: 410,
      body: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
    }));
    const r = await watchAll(kube);
    expect(r.events).toEqual([]);
    expect(classifyApiError(r.error)).toMatchObject({ status: 410, reason: 'Expired', retryable: false });
    expect((r.error as { statusCode?: number }).statusCode).toBe(410);
  });

  it('resolves, with no error, when the signal aborts an open watch', async () => {
    const { api, kube } = await start();
    const a = JSON.stringify({ type: 'ADDED', object: pod('a', '2') }) + '\n';
    api.route('GET', /^\/api\/v1\/pods$/, () => streamed([a], false));
    const ac = new AbortController();
    const events: string[] = [];
    const done = kube.core.watchPods(
      { fieldSelector: '', resourceVersion: '1', allowWatchBookmarks: true, timeoutSeconds: 30 },
      (type) => {
        events.push(type);
        ac.abort();
      },
      ac.signal,
    );
    await expect(done).resolves.toBeUndefined();
    expect(events).toEqual(['ADDED']);
  });

  it('drops a watch on which no byte arrives for its idle limit, as a retryable network error', async () => {
    const { api, kube } = await start();
    api.route('GET', /^\/api\/v1\/pods$/, () => streamed([], false));
    const rest = (kube.core as unknown as { rest: { watch: (...a: unknown[]) => Promise<void> } }).rest;
    const err = await rest
      .watch('/api/v1/pods', {}, () => undefined, new AbortController().signal, 200)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyApiError(err)).toMatchObject({ retryable: true });
    expect(String((err as Error).message)).toMatch(/no data for 200 ms/);
  });
});
