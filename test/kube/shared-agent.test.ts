// shared-agent.test.ts: API requests reuse kept-alive connections, over HTTPS (the fake API
// server with a self-signed certificate named as the kubeconfig's CA) and plain HTTP; the TLS
// settings are still checked; a change of them gets a new agent.
import * as http from 'node:http';
import * as https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient, type KubeClient } from '../../agent/kube/client';
import { sharedAgent } from '../../agent/kube/shared-agent';
import type { EventRecord } from '../../agent/kube/types';
import { FakeApiServer } from '../helpers/fake-apiserver';

const T0 = new Date('2026-03-01T10:00:00Z');
const ev = (i: number): EventRecord => ({
  namespace: 'default',
  name: `n1.${i}`,
  involved: { kind: 'Node', name: 'n1' },
  type: 'Warning',
  reason: 'OOMKilling',
  message: `Out of memory ${i}`,
  component: 'kernel-monitor',
  host: 'n1',
  count: 1,
  firstTimestamp: T0,
  lastTimestamp: T0,
  reportingComponent: 'nodewarden',
  reportingInstance: 'n1',
});

let api: FakeApiServer | undefined;
let kube: KubeClient | undefined;
afterEach(async () => {
  kube?.close();
  await api?.close();
  kube = undefined;
  api = undefined;
});

describe('kept-alive API connections', () => {
  for (const tls of [true, false]) {
    it(`sends 20 sequential requests and 5 concurrent ones over few connections (${tls ? 'HTTPS' : 'HTTP'})`, async () => {
      api = await FakeApiServer.start({ tls });
      api.addNode('n1');
      expect(api.url.startsWith(tls ? 'https://' : 'http://')).toBe(true);
      kube = createKubeClient({ kubeconfig: api.writeKubeconfig() })!;
      for (let i = 0; i < 20; i++) expect((await kube.events.createEvent(ev(i))).ok).toBe(true);
      expect((await kube.nodes.getNode('n1')).ok).toBe(true);
      expect(api.connections).toBe(1);
      const burst = await Promise.all([20, 21, 22, 23, 24].map((i) => kube!.events.createEvent(ev(i))));
      expect(burst.every((r) => r.ok)).toBe(true);
      expect(api.connections).toBeLessThanOrEqual(5);
      expect(api.events.size).toBe(25);
    });
  }

  it('keeps the connections of an 8-request burst open, so the next burst makes no TLS handshake', async () => {
    api = await FakeApiServer.start({ tls: true });
    api.addNode('n1');
    kube = createKubeClient({ kubeconfig: api.writeKubeconfig() })!;
    const burst = (from: number): Promise<boolean[]> =>
      Promise.all(Array.from({ length: 8 }, (_, k) => kube!.events.createEvent(ev(from + k)).then((r) => r.ok)));
    expect(await burst(0)).toEqual(new Array(8).fill(true));
    const opened = api.connections;
    expect(opened).toBeGreaterThan(2); // the burst did run concurrently
    expect(await burst(100)).toEqual(new Array(8).fill(true));
    expect(api.connections).toBe(opened);
  });

  it('still verifies the server certificate: a kubeconfig naming another CA fails, retryable', async () => {
    api = await FakeApiServer.start({ tls: true });
    api.addNode('n1');
    const file = api.writeKubeconfig();
    const other = Buffer.from(
      readFileSync(new URL('../fixtures/tls/apiserver.crt', import.meta.url), 'utf8').replace(
        /[A-Za-z]{8}\n/,
        'AAAAAAAA\n',
      ),
    ).toString('base64');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(/certificate-authority-data: .*/, `certificate-authority-data: ${other}`),
    );
    kube = createKubeClient({ kubeconfig: file })!;
    const r = await kube.nodes.getNode('n1');
    expect(r.ok).toBe(false);
    expect(api.requests).toEqual([]);
  });

  it('reconnects after the server dropped its connections, and after close()', async () => {
    api = await FakeApiServer.start({ tls: true });
    api.addNode('n1');
    kube = createKubeClient({ kubeconfig: api.writeKubeconfig() })!;
    expect((await kube.nodes.getNode('n1')).ok).toBe(true);
    await api.refuse();
    await api.accept();
    // The client has not yet seen the server's close: the request fails on the old connection
    // and is sent once more on a new one.
    expect((await kube.nodes.getNode('n1')).ok).toBe(true);
    kube.close();
    expect((await kube.nodes.getNode('n1')).ok).toBe(true);
    expect(api.connections).toBe(3);
  });
});

describe('sharedAgent', () => {
  it('keeps one agent while the TLS settings hold, and makes a new one when they change', () => {
    const shared = sharedAgent();
    const tls = { ca: Buffer.from('ca-1'), cert: Buffer.from('c'), key: Buffer.from('k') };
    const a = shared.get(true, tls);
    const b = shared.get(true, { ...tls, ca: Buffer.from('ca-1') }); // equal content, new Buffer (a file read again)
    expect(b).toBe(a);
    expect(a).toBeInstanceOf(https.Agent);
    expect((a as http.Agent & { keepAlive: boolean }).keepAlive).toBe(true);
    expect((a as http.Agent & { options: { ca?: Buffer } }).options.ca?.toString()).toBe('ca-1');
    const c = shared.get(true, { ...tls, cert: Buffer.from('rotated') });
    expect(c).not.toBe(a);
    expect(shared.get(true, { ...tls, cert: Buffer.from('rotated'), rejectUnauthorized: false })).not.toBe(c);
    expect(shared.made).toBe(3);
    const d = shared.get(false, {});
    expect(d.constructor).toBe(http.Agent);
    expect(shared.made).toBe(4);
    shared.destroy();
  });
});
