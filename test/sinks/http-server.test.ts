// http-server.test.ts: /metrics, /healthz (503 on a dead or stalled source, grace for a first poll) and /conditions over
// real HTTP on loopback.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOn, startHttpServer } from '../../agent/sinks/http-server';
import { Metrics } from '../../agent/sinks/metrics';
import type { Condition, Logger, Source, SourceHealth } from '../../agent/types';
import { newSourceStats } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function fakeSource(id: string, health: () => SourceHealth): Source {
  return { id, stats: newSourceStats(), health, run: async () => {} };
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function serve(sources: Source[], conditions: Condition[] = [], clock = new FakeClock(), startedAt?: number) {
  const metrics = new Metrics({ processMetrics: false });
  server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    sources: () => sources,
    conditions: () => conditions,
    clock,
    stallTimeoutMs: 60_000,
    logger: quiet,
    ...(startedAt !== undefined ? { startedAt } : {}),
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, metrics, clock };
}

describe('http server', () => {
  it('is healthy while every source is alive and polling', async () => {
    const clock = new FakeClock();
    const { base } = await serve([fakeSource('kmsg', () => ({ alive: true, lastPollAt: clock.now() }))], [], clock);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
  });

  it('fails /healthz with 503 when a source died', async () => {
    const clock = new FakeClock();
    const { base } = await serve(
      [fakeSource('kmsg', () => ({ alive: false, lastPollAt: clock.now(), lastError: 'EACCES: /dev/kmsg' }))],
      [],
      clock,
    );
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { sources: unknown[] };
    expect(body.sources[0]).toMatchObject({ id: 'kmsg', ok: false, lastError: 'EACCES: /dev/kmsg' });
  });

  it('fails /healthz with 503 when a source stalled', async () => {
    const clock = new FakeClock();
    const polled = clock.now();
    const { base } = await serve(
      [fakeSource('/var/log/kern.log', () => ({ alive: true, lastPollAt: polled }))],
      [],
      clock,
    );
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    clock.advance(60_001);
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
  });

  it('reports no poll age for a source that never polled, and only stalls it after the grace period', async () => {
    const clock = new FakeClock();
    const { base } = await serve([fakeSource('/var/log/kern.log', () => ({ alive: true, lastPollAt: 0 }))], [], clock);
    let res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    let body = (await res.json()) as { ok: boolean; sources: Record<string, unknown>[] };
    expect(body.sources[0]).toEqual({ id: '/var/log/kern.log', ok: true, alive: true, lastPollAgeMs: null });
    clock.advance(60_000);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    clock.advance(1);
    res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503); // never polled within stallTimeoutMs of the start: stalled
    body = (await res.json()) as { ok: boolean; sources: Record<string, unknown>[] };
    expect(body.sources[0]).toMatchObject({ ok: false, alive: true, lastPollAgeMs: null });
  });

  it('reports a degraded source (an unreadable file) without failing /healthz, which is the liveness probe', async () => {
    const clock = new FakeClock();
    const { base } = await serve(
      [
        fakeSource('/var/log/x.log', () => ({
          alive: true,
          lastPollAt: clock.now(),
          lastError: 'EISDIR',
          degraded: 'unreadable: EISDIR',
        })),
      ],
      [],
      clock,
    );
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { sources: unknown[] };
    expect(body.sources[0]).toMatchObject({ id: '/var/log/x.log', ok: true, degraded: 'unreadable: EISDIR' });
  });

  it('fails a never-polled source at once when it is not alive', async () => {
    const clock = new FakeClock();
    const { base } = await serve(
      [fakeSource('kmsg', () => ({ alive: false, lastPollAt: 0, lastError: 'cannot open /dev/kmsg: ENOENT' }))],
      [],
      clock,
    );
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { sources: unknown[] };
    expect(body.sources[0]).toEqual({
      id: 'kmsg',
      ok: false,
      alive: false,
      lastPollAgeMs: null,
      lastError: 'cannot open /dev/kmsg: ENOENT',
    });
  });

  it('counts the first-poll grace period from startedAt', async () => {
    const clock = new FakeClock();
    const { base } = await serve(
      [fakeSource('kmsg', () => ({ alive: true, lastPollAt: 0 }))],
      [],
      clock,
      clock.now() - 60_001,
    );
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
  });

  it('serves conditions as JSON', async () => {
    const t = new Date('2026-01-01T00:00:00Z');
    const cond: Condition = {
      type: 'KernelDeadlock',
      status: 'False',
      reason: 'KernelHasNoDeadlock',
      message: 'kernel has no deadlock',
      lastTransitionTime: t,
    };
    const { base } = await serve([], [cond]);
    const body = await (await fetch(`${base}/conditions`)).json();
    expect(body).toEqual([{ ...cond, lastTransitionTime: t.toISOString() }]);
  });

  it('serves NPD problem metrics and component counters', async () => {
    const { base, metrics } = await serve([]);
    const counters = { received: 7, sent: 3, dropped: 1, errors: 0, lost: 2 };
    metrics.registerComponent('source', 'kmsg', counters);
    metrics.onProblem({
      kind: 'temporary',
      component: 'kernel-monitor',
      reason: 'OOMKilling',
      message: 'x',
      time: new Date(),
    });
    metrics.onConditionChange({
      component: 'kernel-monitor',
      condition: {
        type: 'KernelDeadlock',
        status: 'True',
        reason: 'DockerHung',
        message: 'm',
        lastTransitionTime: new Date(),
      },
      previous: {
        type: 'KernelDeadlock',
        status: 'False',
        reason: 'KernelHasNoDeadlock',
        message: 'm',
        lastTransitionTime: new Date(),
      },
    });
    let text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/problem_counter\{reason="OOMKilling"\} 1/);
    expect(text).toMatch(/problem_gauge\{type="KernelDeadlock",reason="DockerHung"\} 1/);
    expect(text).not.toMatch(/reason="KernelHasNoDeadlock"/); // NPD: no series for default reasons
    expect(text).toMatch(/nodewarden_component_received_total\{component_kind="source",component_id="kmsg"\} 7/);
    expect(text).toMatch(/nodewarden_component_lost_total\{component_kind="source",component_id="kmsg"\} 2/);
    counters.received = 10;
    text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/nodewarden_component_received_total\{component_kind="source",component_id="kmsg"\} 10/);
  });

  it('exports packet drops without IP or pod labels', async () => {
    const { base, metrics } = await serve([]);
    const series = { labels: { direction: 'sending', namespace: 'team-a', proto: 'tcp', verdict: 'drop' }, value: 5 };
    metrics.registerPacketDrops(() => [series]);
    let text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/packet_drops_total\{direction="sending",namespace="team-a",proto="tcp",verdict="drop"\} 5/);
    series.value = 8;
    text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/packet_drops_total\{direction="sending",namespace="team-a",proto="tcp",verdict="drop"\} 8/);
  });

  it('rejects writes and unknown paths', async () => {
    const { base } = await serve([]);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});

describe('listenOn', () => {
  /** A server whose listen() calls are counted, bound through listenOn(host) and listening. */
  async function listenCounted(host: string): Promise<{ srv: Server; listenCalls: number }> {
    const srv = createServer((_req, res) => res.end('ok'));
    server = srv;
    const counter = { srv, listenCalls: 0 };
    const listen = srv.listen.bind(srv);
    srv.listen = ((...args: Parameters<Server['listen']>) => {
      counter.listenCalls++;
      return listen(...args);
    }) as Server['listen'];
    await new Promise<void>((resolve, reject) => {
      srv.once('listening', resolve);
      srv.once('error', reject);
      listenOn(srv, host, 0);
    });
    return counter;
  }

  it('binds an IP address without listen() (which loads node:cluster) and serves on it', async () => {
    const { srv, listenCalls } = await listenCounted('127.0.0.1');
    expect(listenCalls).toBe(0);
    const addr = srv.address() as AddressInfo;
    expect(addr.address).toBe('127.0.0.1');
    expect(await (await fetch(`http://127.0.0.1:${addr.port}/`)).text()).toBe('ok');
  });

  it('takes listen() for a host name, which needs a lookup', async () => {
    expect((await listenCounted('localhost')).listenCalls).toBe(1);
  });

  it('reports a port in use as an error, as listen() does', async () => {
    const { base } = await serve([]);
    const port = Number(new URL(base).port);
    const metrics = new Metrics({ processMetrics: false });
    const second = startHttpServer({
      host: '127.0.0.1',
      port,
      metrics,
      sources: () => [],
      conditions: () => [],
      clock: new FakeClock(),
      stallTimeoutMs: 60_000,
      logger: quiet,
    });
    await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
