// client.test.ts: agent/kube against the in-process fake API server over real HTTP, through
// @kubernetes/client-node: content types, merge semantics, and error classification.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient, resolveKubeSource } from '../../agent/kube/client';
import type { KubeClient } from '../../agent/kube/client';
import type { EventRecord } from '../../agent/kube/types';
import { FakeApiServer } from '../helpers/fake-apiserver';

const T0 = new Date('2026-03-01T10:00:00Z');
let api: FakeApiServer;
let kube: KubeClient;

beforeEach(async () => {
  api = await FakeApiServer.start();
  api.addNode('n1', [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok' }]);
  kube = createKubeClient({ kubeconfig: api.writeKubeconfig(), timeoutMs: 300 })!;
});
afterEach(async () => api.close());

function ev(over: Partial<EventRecord> = {}): EventRecord {
  return {
    namespace: 'default',
    name: 'n1.abc',
    involved: { kind: 'Node', name: 'n1', uid: 'uid-n1' },
    type: 'Warning',
    reason: 'OOMKilling',
    message: 'Out of memory',
    component: 'kernel-monitor',
    host: 'n1',
    count: 1,
    firstTimestamp: T0,
    lastTimestamp: T0,
    reportingComponent: 'nodewarden',
    reportingInstance: 'n1',
    ...over,
  };
}

describe('resolveKubeSource', () => {
  it('prefers --kubeconfig, then in-cluster, then $KUBECONFIG, else standalone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-kube-'));
    const token = join(dir, 'token');
    writeFileSync(token, 't');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBECONFIG: '/env/kc' };
    expect(resolveKubeSource({ kubeconfig: '/flag/kc', env, tokenPath: token })).toEqual({
      kind: 'file',
      path: '/flag/kc',
    });
    expect(resolveKubeSource({ env, tokenPath: token })).toEqual({ kind: 'in-cluster' });
    expect(resolveKubeSource({ env, tokenPath: join(dir, 'missing') })).toEqual({ kind: 'file', path: '/env/kc' });
    expect(resolveKubeSource({ env: {}, tokenPath: token })).toBeUndefined();
    expect(createKubeClient({ env: {}, tokenPath: token })).toBeUndefined();
    rmSync(dir, { recursive: true });
  });

  it('throws a clear error for an unreadable kubeconfig', () => {
    expect(() => createKubeClient({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(
      /cannot load kubeconfig \/nonexistent/,
    );
  });
});

describe('nodes', () => {
  it('reads the node and its conditions', async () => {
    const r = await kube.nodes.getNode('n1');
    expect(r.ok && r.value.uid).toBe('uid-n1');
    expect(r.ok && r.value.conditions.map((c) => c.type)).toEqual(['Ready']);
  });

  it('patches with a strategic merge patch that carries only our types and keeps the kubelet ones', async () => {
    const r = await kube.nodes.patchNodeConditions(
      'n1',
      [
        {
          type: 'KernelDeadlock',
          status: 'True',
          reason: 'DockerHung',
          message: 'task hung',
          lastTransitionTime: T0,
          lastHeartbeatTime: T0,
        },
        { type: 'Ready', status: 'False', reason: 'Evil', message: 'must never be sent' },
      ],
      [],
    );
    expect(r.ok).toBe(true);
    const [req] = api.requestsTo('PATCH', /\/nodes\/n1\/status$/);
    expect(req!.contentType).toBe('application/strategic-merge-patch+json');
    expect(req!.body).toEqual({
      status: {
        conditions: [
          {
            type: 'KernelDeadlock',
            status: 'True',
            reason: 'DockerHung',
            message: 'task hung',
            lastHeartbeatTime: '2026-03-01T10:00:00Z',
            lastTransitionTime: '2026-03-01T10:00:00Z',
          },
        ],
      },
    });
    expect(api.conditionsOf('n1').map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True', 'KernelDeadlock=True']);
  });

  it('removes a type with $patch: delete, never a kubelet type', async () => {
    api.addNode('n1', [
      { type: 'Ready', status: 'True' },
      { type: 'Old', status: 'True' },
    ]);
    const r = await kube.nodes.patchNodeConditions('n1', [], ['Old', 'Ready']);
    expect(r.ok).toBe(true);
    expect(api.requests.at(-1)!.body).toEqual({ status: { conditions: [{ type: 'Old', $patch: 'delete' }] } });
    expect(api.conditionsOf('n1').map((c) => c.type)).toEqual(['Ready']);
  });

  it('classifies 404 as not retryable with the Status reason', async () => {
    const r = await kube.nodes.getNode('nope');
    expect(r).toMatchObject({ ok: false, retryable: false, status: 404, reason: 'NotFound' });
  });

  it('classifies 429 with Retry-After, 500 and 503 as retryable', async () => {
    api.failNext(1, { code: 429, retryAfterSec: 7 });
    expect(await kube.nodes.getNode('n1')).toMatchObject({
      ok: false,
      retryable: true,
      status: 429,
      retryAfterMs: 7000,
    });
    api.failNext(1, { code: 500 });
    expect(await kube.nodes.getNode('n1')).toMatchObject({ ok: false, retryable: true, status: 500 });
    api.failNext(1, { code: 503 });
    expect(await kube.nodes.getNode('n1')).toMatchObject({ ok: false, retryable: true, status: 503 });
    expect((await kube.nodes.getNode('n1')).ok).toBe(true);
  });

  it('classifies a refused connection and a hung server (timeout) as retryable, without throwing', async () => {
    api.setHang(true);
    const hung = await kube.nodes.getNode('n1'); // the client's 300 ms timeout ends it
    expect(hung).toMatchObject({ ok: false, retryable: true });
    expect(hung.ok === false && hung.error).toMatch(/timed out/);
    api.setHang(false);
    await api.refuse();
    const refused = await kube.nodes.getNode('n1');
    expect(refused).toMatchObject({ ok: false, retryable: true });
    expect(refused.ok === false && refused.error).toMatch(/ECONNREFUSED/);
    await api.accept();
    expect((await kube.nodes.getNode('n1')).ok).toBe(true);
  });
});

describe('events', () => {
  it('creates a Node event with the v1 fields, and 409 on a duplicate name', async () => {
    const r = await kube.events.createEvent(ev());
    expect(r).toMatchObject({ ok: true, value: { name: 'n1.abc', namespace: 'default', count: 1 } });
    const stored = api.events.get('default/n1.abc')!;
    expect(stored.involvedObject).toEqual({ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'uid-n1' });
    expect(stored.source).toEqual({ component: 'kernel-monitor', host: 'n1' });
    expect(stored.firstTimestamp).toBe('2026-03-01T10:00:00Z'); // metav1.Time: RFC 3339, whole seconds
    expect(stored.reportingComponent).toBe('nodewarden');
    expect(await kube.events.createEvent(ev())).toMatchObject({
      ok: false,
      retryable: false,
      status: 409,
      reason: 'AlreadyExists',
    });
  });

  it('rejects a Node event outside "default" like the real validation (422)', async () => {
    expect(await kube.events.createEvent(ev({ namespace: 'kube-system' }))).toMatchObject({
      ok: false,
      status: 422,
      reason: 'Invalid',
    });
  });

  it('patches count and lastTimestamp with a strategic merge patch; 404 when gone', async () => {
    await kube.events.createEvent(ev());
    const later = new Date(T0.getTime() + 65_000);
    const r = await kube.events.patchEvent('default', 'n1.abc', {
      count: 5,
      lastTimestamp: later,
      message: 'Out of memory',
    });
    expect(r).toMatchObject({ ok: true, value: { count: 5 } });
    expect(api.requests.at(-1)!.contentType).toBe('application/strategic-merge-patch+json');
    expect(api.events.get('default/n1.abc')).toMatchObject({
      count: 5,
      lastTimestamp: '2026-03-01T10:01:05Z',
      reason: 'OOMKilling',
    });
    expect(
      await kube.events.patchEvent('default', 'gone', { count: 2, lastTimestamp: later, message: 'm' }),
    ).toMatchObject({
      ok: false,
      status: 404,
      reason: 'NotFound',
      retryable: false,
    });
  });
});
