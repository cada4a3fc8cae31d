// reverse-dns.test.ts: reverse DNS for peers nobody in the cluster owns, against real DNS servers
// on loopback: Debian's dnsmasq serving PTR records from a hosts file (names, NXDOMAIN), a UDP
// socket that reads queries and never answers (timeouts, bounded in-flight queries, the error TTL),
// and one that answers SERVFAIL (failures). Every resolver here is given its server explicitly,
// so no query leaves loopback. Needs the dnsmasq binary; skipped with a reason without it.
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanHostName, parseDnsSetting, ptrName, ReverseDns } from '../agent/reverse-dns';
import { startDnsmasq, type Dnsmasq } from './helpers/dnsmasq';
import { needsParts } from './helpers/system-parts';
import { eventually } from './helpers/eventually';
import { FakeClock } from './helpers/fake-clock';

/** A UDP socket on loopback that counts queries and answers them with `reply` (or never). */
async function udpServer(
  reply?: (query: Buffer) => Buffer,
): Promise<{ port: number; received: () => number; close: () => void }> {
  const sock: Socket = createSocket('udp4');
  let n = 0;
  sock.on('message', (msg, rinfo) => {
    n++;
    if (reply) sock.send(reply(msg), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, received: () => n, close: () => sock.close() };
}

/** The query echoed back as a response with RCODE 2 (SERVFAIL). */
function servfail(q: Buffer): Buffer {
  const r = Buffer.from(q);
  r[2] = r[2]! | 0x80;
  r[3] = (r[3]! & 0xf0) | 2;
  return r;
}

describe('parseDnsSetting and cleanHostName', () => {
  it('parses off, system and a server with or without a port; refuses names and bad ports', () => {
    expect(parseDnsSetting('off')).toEqual({ kind: 'off' });
    expect(parseDnsSetting('system')).toEqual({ kind: 'system' });
    expect(parseDnsSetting('10.0.0.10')).toEqual({ kind: 'server', server: '10.0.0.10:53' });
    expect(parseDnsSetting('127.0.0.1:5353')).toEqual({ kind: 'server', server: '127.0.0.1:5353' });
    expect(parseDnsSetting('[::1]:5353')).toEqual({ kind: 'server', server: '[::1]:5353' });
    expect(parseDnsSetting('fd00::10')).toEqual({ kind: 'server', server: '[fd00::10]:53' });
    for (const bad of ['dns.example.org', '10.0.0.1:0', '10.0.0.1:70000', '[10.0.0.1]:53', 'on']) {
      expect(typeof parseDnsSetting(bad), bad).toBe('string');
    }
  });

  it('builds the PTR query name of IPv4 and IPv6 addresses', () => {
    expect(ptrName('198.51.100.7')).toBe('7.100.51.198.in-addr.arpa');
    expect(ptrName('2001:db8::7')).toBe('7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
    expect(ptrName('::ffff:10.1.2.3')).toBe('3.0.2.0.1.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa');
    expect(ptrName('fd00:1:2:3:4:5:6:7')).toBe(
      '7.0.0.0.6.0.0.0.5.0.0.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa',
    );
    expect(ptrName('not an ip')).toBeNull();
  });

  it('keeps host names, drops the trailing dot, refuses anything else', () => {
    expect(cleanHostName('db.example.org.')).toBe('db.example.org');
    expect(cleanHostName('ip-10-0-0-1.ec2.internal')).toBe('ip-10-0-0-1.ec2.internal');
    expect(cleanHostName('a b')).toBeNull();
    expect(cleanHostName('%s%n')).toBeNull();
    expect(cleanHostName('x'.repeat(254))).toBeNull();
    expect(cleanHostName('')).toBeNull();
  });
});

describe.skipIf(needsParts(['dnsmasq'], 'against dnsmasq on loopback').skip)('against dnsmasq on loopback', () => {
  let server: Dnsmasq | undefined;
  let port = 0;
  beforeAll(async () => {
    server = await startDnsmasq([
      ['198.51.100.7', 'db.example.test'],
      ['2001:db8::7', 'v6.example.test'],
    ]);
    port = server.port;
  }, 30_000);
  afterAll(() => server?.stop());

  it('names IPv4 and IPv6 addresses from PTR records, and answers repeats from the cache', async () => {
    const clock = new FakeClock();
    const dns = new ReverseDns({ clock, setting: { kind: 'server', server: `127.0.0.1:${port}` }, timeoutMs: 2000 });
    expect(await dns.name('198.51.100.7')).toBe('db.example.test');
    expect(await dns.name('2001:db8::7')).toBe('v6.example.test');
    expect(await dns.name('198.51.100.7')).toBe('db.example.test');
    expect(dns.stats).toMatchObject({ lookups: 2, hits: 1, names: 2, timeouts: 0, failures: 0 });
    // Every counter is an own enumerable number, as the metrics registry reads them.
    expect(Object.keys(dns.stats).sort()).toEqual([
      'failures',
      'hits',
      'lookups',
      'names',
      'negativeHits',
      'notFound',
      'shed',
      'timeouts',
    ]);
    expect(Object.values(dns.stats).every((v) => typeof v === 'number')).toBe(true);
    clock.advance(300_001); // the positive TTL: asked again
    expect(await dns.name('198.51.100.7')).toBe('db.example.test');
    expect(dns.stats.lookups).toBe(3);
  });

  it('NXDOMAIN is "no name", cached for the negative TTL', async () => {
    const clock = new FakeClock();
    const dns = new ReverseDns({ clock, setting: { kind: 'server', server: `127.0.0.1:${port}` }, timeoutMs: 2000 });
    expect(await dns.name('10.99.0.1')).toBeNull();
    expect(await dns.name('10.99.0.1')).toBeNull();
    expect(dns.stats).toMatchObject({ lookups: 1, negativeHits: 1, notFound: 1, failures: 0 });
    clock.advance(60_001);
    await dns.name('10.99.0.1');
    expect(dns.stats.lookups).toBe(2);
  });
});

describe('against servers that misbehave (loopback UDP sockets)', () => {
  it('a server that never answers: the query is cancelled at the timeout, counted, and not retried within the error TTL', async () => {
    const silent = await udpServer();
    try {
      const clock = new FakeClock();
      // c-ares on its own would wait about 2 minutes: only our deadline can end these queries.
      const dns = new ReverseDns({
        clock,
        setting: { kind: 'server', server: `127.0.0.1:${silent.port}` },
        timeoutMs: 60_000,
      });
      const answer = dns.name('198.51.100.7');
      await eventually('the query reached the server', () => silent.received() === 1);
      clock.advance(60_000);
      expect(await answer).toBeNull();
      expect(dns.stats).toMatchObject({ lookups: 1, timeouts: 1, failures: 0, names: 0 });
      expect(silent.received()).toBe(1); // one try
      expect(await dns.name('198.51.100.7')).toBeNull();
      expect(silent.received()).toBe(1);
      clock.advance(30_001); // the error TTL
      const again = dns.name('198.51.100.7');
      await eventually('the second query reached the server', () => silent.received() === 2);
      clock.advance(60_000);
      expect(await again).toBeNull();
      expect(dns.stats.timeouts).toBe(2);
    } finally {
      silent.close();
    }
  });

  it('at most maxInFlight queries are outstanding and maxQueued wait; the rest are shed unnamed', async () => {
    const silent = await udpServer();
    try {
      const clock = new FakeClock();
      const dns = new ReverseDns({
        clock,
        setting: { kind: 'server', server: `127.0.0.1:${silent.port}` },
        timeoutMs: 60_000,
        cache: { maxInFlight: 2, maxQueued: 1 },
      });
      const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'];
      const answers = Promise.all(ips.map((ip) => dns.name(ip)));
      expect(dns.stats.shed).toBe(2); // at once
      await eventually('two queries on the wire', () => silent.received() === 2);
      clock.advance(60_000); // both time out; the queued one starts
      await eventually('the queued query on the wire', () => silent.received() === 3);
      clock.advance(60_000);
      expect(await answers).toEqual([null, null, null, null, null]);
      expect(dns.stats).toMatchObject({ lookups: 3, shed: 2, timeouts: 3 });
      expect(silent.received()).toBe(3);
    } finally {
      silent.close();
    }
  });

  it('SERVFAIL is a failure (not "no name"), cached for the error TTL', async () => {
    const failing = await udpServer(servfail);
    try {
      const dns = new ReverseDns({
        clock: new FakeClock(),
        setting: { kind: 'server', server: `127.0.0.1:${failing.port}` },
        timeoutMs: 2000,
      });
      expect(await dns.name('198.51.100.7')).toBeNull();
      expect(await dns.name('198.51.100.7')).toBeNull();
      expect(dns.stats).toMatchObject({ lookups: 1, failures: 1, timeouts: 0, notFound: 0 });
      expect(failing.received()).toBe(1);
    } finally {
      failing.close();
    }
  });
});
