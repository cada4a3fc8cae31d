// replay-drops.test.ts: `nodewarden replay --drops`. The real-drop captures in
// test/fixtures/drops/ (kmsg records rebuilt from kmsg-real.txt with the kernel times the rsyslog
// files kept; the same lines as RFC 3339, traditional and journald short-iso-precise syslog) all
// give the same drops; hand-written edge cases (edge-cases.kmsg); unparseable lines reported on
// stderr with line numbers; the summary; pods resolved through the fake API server with
// read-only, cached lookups; and the bundled CLI end to end.
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DROP_PREFIX_SPECS, PrefixMatcher, parseDropPrefixes } from '../agent/engine/drop-prefixes';
import { createKubeClient } from '../agent/kube/client';
import { createPeerLookup } from '../agent/kube/peers';
import { replayDrops, WINDOW, type DropReplayFormat, type DropReplayOptions } from '../agent/replay-drops';
import { FakeApiServer } from './helpers/fake-apiserver';
import { FakePods } from './helpers/fake-apiserver-pods';
import { FakeClock } from './helpers/fake-clock';

const ROOT = resolve(__dirname, '..');
const AGENT = join(ROOT, 'dist/nodewarden.cjs');
const drops = join(__dirname, 'fixtures/drops');
const SPECS = [
  ...DEFAULT_DROP_PREFIX_SPECS,
  'INPUT-reject:=drop',
  'cp <tier> <kind> <policy>:=drop',
  'cali-drop <tier> <kind> <policy>:=drop',
];
const matcher = new PrefixMatcher(parseDropPrefixes(SPECS).prefixes);
/** When the fixtures were captured is 2026-11-22 (UTC): the clock says a few days later. */
const clock = new FakeClock(Date.UTC(2026, 11, 5, 12));

type Out = Record<string, string | number>;

async function run(input: NodeJS.ReadableStream, format: DropReplayFormat, extra: Partial<DropReplayOptions> = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  const errs: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  err.on('data', (c: Buffer) => errs.push(c.toString()));
  const result = await replayDrops({ input, output: out, errors: err, format, matcher, clock, zone: 'utc', ...extra });
  return {
    result,
    out: chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Out),
    err: errs.join('').split('\n').filter(Boolean),
  };
}

/** kmsg-real.txt as raw /dev/kmsg records, each with the kernel time its rsyslog line kept. */
function realKmsgCapture(): string {
  const texts = readFileSync(join(drops, 'kmsg-real.txt'), 'utf8').split('\n').filter(Boolean);
  const times = readFileSync(join(drops, 'rfc3339.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /kernel: \[\s*(\d+)\.(\d{6})\]/.exec(l);
      return Number(m?.[1]) * 1e6 + Number(m?.[2]);
    });
  expect(times.length).toBe(texts.length);
  return texts.map((t, i) => `4,${5000 + i},${times[i]},-;${t}`).join('\n') + '\n';
}

const withoutTime = (o: Out): Out => {
  const { time: _t, ...rest } = o;
  return rest;
};

describe('replay --drops on the real captures', () => {
  it('kmsg: every record is a drop, with the documented fields, in order', async () => {
    const r = await run(Readable.from([realKmsgCapture()]), 'kmsg');
    expect(r.err).toEqual([]);
    expect(r.result).toEqual({ lines: 18, drops: 18, drop: 11, audit: 7, unparsed: 0, ignored: 0 });
    expect(r.out[0]).toEqual({
      kind: 'drop',
      time: new Date(758_024).toISOString(),
      verdict: 'audit',
      prefix: 'calico-packet:',
      in: 'vb325056',
      out: '',
      src: '10.213.194.1',
      dst: '10.213.194.2',
      proto: 'tcp',
      sport: 36680,
      dport: 8080,
    });
    // Field order is the documented one.
    expect(Object.keys(r.out[0]!)).toEqual([
      'kind',
      'time',
      'verdict',
      'prefix',
      'in',
      'out',
      'src',
      'dst',
      'proto',
      'sport',
      'dport',
    ]);
    // An ICMP error: the outer header, never the embedded one's addresses or ports.
    expect(r.out[2]).toEqual({
      kind: 'drop',
      time: new Date(758_025).toISOString(),
      verdict: 'drop',
      prefix: 'calico-drop:',
      in: 'va325056',
      out: '',
      src: '10.213.194.2',
      dst: '10.213.194.1',
      proto: 'icmp',
      icmpType: 3,
      icmpCode: 3,
    });
    // OUTPUT chain: no MAC, a prefix that starts with "IN".
    expect(withoutTime(r.out[3]!)).toEqual({
      kind: 'drop',
      verdict: 'drop',
      prefix: 'INPUT-reject:',
      in: '',
      out: 'va325056',
      src: '10.213.194.1',
      dst: '10.213.194.2',
      proto: 'tcp',
      sport: 39202,
      dport: 8081,
    });
    // A Calico policy template: the policy, between prefix and the packet.
    expect(withoutTime(r.out[4]!)).toMatchObject({
      prefix: 'cp <tier> <kind> <policy>:',
      policy: 't1 np ns/p1',
      dport: 8082,
    });
    expect(Object.keys(r.out[4]!).slice(0, 6)).toEqual(['kind', 'time', 'verdict', 'prefix', 'policy', 'in']);
    // Zero-padded IPv6 from the kernel comes out in RFC 5952 form.
    expect(withoutTime(r.out[5]!)).toMatchObject({ src: 'fd00:213:c2::1', dst: 'fd00:213:c2::2', proto: 'tcp' });
    // The kernel prints SCTP as a number: no ports.
    expect(withoutTime(r.out[7]!)).toEqual({
      kind: 'drop',
      verdict: 'audit',
      prefix: 'calico-packet:',
      in: 'vb325056',
      out: '',
      src: '10.213.194.1',
      dst: '10.213.194.2',
      proto: '132',
    });
    expect(withoutTime(r.out[15]!)).toMatchObject({ proto: 'icmpv6', icmpType: 128, icmpCode: 0 });
    expect(withoutTime(r.out[17]!)).toMatchObject({
      proto: 'icmpv6',
      icmpType: 1,
      icmpCode: 4,
      src: 'fd00:213:c2::2',
      dst: 'fd00:213:c2::1',
    });
    expect(r.out[17]!.dport).toBeUndefined();
    for (const o of r.out) expect(String(o.src) + String(o.dst)).not.toMatch(/:0{2,}|[A-F]/);
  });

  for (const [file, time] of [
    ['rfc3339.log', '2026-11-22T03:54:17.747Z'],
    ['journal-iso.log', '2026-11-22T03:54:17.747Z'],
    ['traditional.log', '2026-11-22T03:54:17.000Z'],
  ] as const) {
    it(`syslog ${file}: the same drops as the kmsg records, at the file's times`, async () => {
      const kmsg = await run(Readable.from([realKmsgCapture()]), 'kmsg');
      const r = await run(createReadStream(join(drops, file)), 'syslog');
      expect(r.err).toEqual([]);
      expect(r.result).toEqual(kmsg.result);
      expect(r.out.map(withoutTime)).toEqual(kmsg.out.map(withoutTime));
      expect(r.out[0]!.time).toBe(time);
    });
  }
});

describe('replay --drops edge cases (edge-cases.kmsg)', () => {
  let r: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    r = await run(createReadStream(join(drops, 'edge-cases.kmsg')), 'kmsg');
  });

  it('SCTP with ports, as other loggers print it', () => {
    expect(withoutTime(r.out[0]!)).toEqual({
      kind: 'drop',
      verdict: 'drop',
      prefix: 'calico-drop:',
      in: 'cali1a2b',
      out: 'eth0',
      src: '10.244.1.5',
      dst: '10.244.2.7',
      proto: 'sctp',
      sport: 38412,
      dport: 9899,
    });
  });

  it('a numeric protocol stays a number; dictionary lines are not records', () => {
    expect(withoutTime(r.out[1]!)).toEqual({
      kind: 'drop',
      verdict: 'drop',
      prefix: 'calico-drop:',
      in: 'cali1a2b',
      out: 'eth0',
      src: '10.244.1.5',
      dst: '10.244.2.7',
      proto: '47',
    });
    expect(r.out[1]!.time).toBe(new Date(5_000_100).toISOString());
  });

  it('an ICMPv6 error keeps the outer header; upper-case, zero-padded IPv6 is canonical', () => {
    expect(withoutTime(r.out[2]!)).toEqual({
      kind: 'drop',
      verdict: 'drop',
      prefix: 'calico-drop:',
      in: 'eth0',
      out: 'cali3c4d',
      src: '2001:db8::1:0:0:1',
      dst: '2001:db8::ab',
      proto: 'icmpv6',
      icmpType: 1,
      icmpCode: 3,
    });
  });

  it('a Calico prefix cut at 29 characters still matches, with the policy as far as it goes', () => {
    expect(withoutTime(r.out[3]!)).toMatchObject({
      verdict: 'drop',
      prefix: 'cali-drop <tier> <kind> <policy>:',
      policy: 'default np shop/den',
      dport: 443,
    });
  });

  it('Calico policy placeholders on an OUTPUT line without MAC; LOG-and-ACCEPT is audit', () => {
    expect(withoutTime(r.out[4]!)).toEqual({
      kind: 'drop',
      verdict: 'drop',
      prefix: 'cali-drop <tier> <kind> <policy>:',
      policy: 't1 np a/b',
      in: '',
      out: 'cali5e6f',
      src: '10.244.1.10',
      dst: '10.96.0.10',
      proto: 'udp',
      sport: 41000,
      dport: 53,
    });
    expect(withoutTime(r.out[5]!)).toEqual({
      kind: 'drop',
      verdict: 'audit',
      prefix: 'calico-drop <action>:',
      in: 'cali5e6f',
      out: '',
      src: '10.244.1.9',
      dst: '10.244.1.10',
      proto: 'icmp',
      icmpType: 8,
      icmpCode: 0,
    });
  });

  it('lines with a prefix that do not parse go to stderr with their line numbers; others are ignored', () => {
    expect(r.out).toHaveLength(6);
    expect(r.err).toEqual([
      'line 10: carries a drop prefix but its packet fields do not parse: "calico-drop: IN=eth0 OUT= SRC=10.0.0.300 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=4 PROTO=TCP SPT=1 DPT=2 "',
      'line 11: carries a drop prefix but no packet fields (IN= OUT=): "calico-drop: logging suppressed, 17 messages"',
      expect.stringMatching(/^line 12: malformed kmsg record \(.+\): "garbage;calico-packet: IN=eth0 /),
    ]);
    expect(r.result).toEqual({ lines: 11, drops: 6, drop: 5, audit: 1, unparsed: 3, ignored: 2 });
  });

  it('syslog lines: a drop line whose timestamp is in no known form is reported, chatter ignored', async () => {
    const lines = [
      '2026-11-22T03:54:17Z vm kernel: calico-drop: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=1 DPT=2 ',
      '22/11/2026 vm kernel: calico-drop: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=1 DPT=2 ',
      'Nov 22 03:54:17 vm systemd[1]: Started something.',
      'not a log line at all',
    ];
    const s = await run(Readable.from([lines.join('\n') + '\n']), 'syslog');
    expect(s.out.map((o) => [o.time, o.dport])).toEqual([['2026-11-22T03:54:17.000Z', 2]]);
    expect(s.err).toEqual([`line 2: no timestamp in a form nodewarden reads: ${JSON.stringify(lines[1])}`]);
    expect(s.result).toMatchObject({ lines: 4, drops: 1, unparsed: 1, ignored: 2 });
  });
});

describe('replay --drops --kubeconfig: pods through the fake API server', () => {
  let api: FakeApiServer;
  let lookup: (ip: string) => Promise<unknown>;
  beforeAll(async () => {
    api = await FakeApiServer.start();
    const pods = new FakePods(api);
    pods.put({ namespace: 'shop', name: 'client', node: 'n1', ips: ['10.213.194.1'] });
    // Primary IPs only: status.podIP is what the field selector matches (README, Known limits).
    pods.put({ namespace: 'shop', name: 'client6', node: 'n1', ips: ['fd00:213:c2::1'] });
    pods.put({ namespace: 'shop', name: 'db', node: 'n2', ips: ['10.213.194.2'] });
    pods.put({ namespace: 'kube-system', name: 'agent', node: 'n2', ips: ['fd00:213:c2::2'], hostNetwork: true });
    const kube = createKubeClient({ kubeconfig: api.writeKubeconfig(), timeoutMs: 5000 })!;
    const cache = createPeerLookup(kube.core, clock);
    lookup = (ip) => cache.get(ip);
  });
  afterAll(async () => {
    await api.close();
  });

  it('adds srcPod/dstPod as namespace/name; node and unknown addresses get none; lookups are GETs, once per address', async () => {
    const r = await run(Readable.from([realKmsgCapture()]), 'kmsg', {
      peers: lookup as NonNullable<DropReplayOptions['peers']>,
    });
    expect(r.out).toHaveLength(18);
    expect(r.out[0]).toMatchObject({
      src: '10.213.194.1',
      srcPod: 'shop/client',
      dst: '10.213.194.2',
      dstPod: 'shop/db',
    });
    expect(Object.keys(r.out[0]!).slice(-2)).toEqual(['srcPod', 'dstPod']);
    expect(r.out[2]).toMatchObject({ src: '10.213.194.2', srcPod: 'shop/db', dstPod: 'shop/client' });
    // fd00:213:c2::2 belongs to a hostNetwork pod only: a node address, not a pod.
    expect(r.out[5]).toMatchObject({ src: 'fd00:213:c2::1', srcPod: 'shop/client6', dst: 'fd00:213:c2::2' });
    expect(r.out[5]!.dstPod).toBeUndefined();
    // 10 IPv4 drops: both ends pods; 8 IPv6 drops: one end a pod, the other the node.
    expect(r.result).toMatchObject({ drops: 18, resolved: 28, unresolved: 8 });
    // Order is the input's, though lookups run concurrently.
    const kmsg = await run(Readable.from([realKmsgCapture()]), 'kmsg');
    expect(
      r.out.map((o) => {
        const { srcPod: _s, dstPod: _d, ...rest } = o;
        return rest;
      }),
    ).toEqual(kmsg.out);
    // Read-only, and the agent's cache: one list per distinct address.
    expect(api.requests.every((q) => q.method === 'GET')).toBe(true);
    const byIp = api.requests.map((q) => q.query.get('fieldSelector'));
    expect(byIp.sort()).toEqual([
      'status.podIP=10.213.194.1',
      'status.podIP=10.213.194.2',
      'status.podIP=fd00:213:c2::1',
      'status.podIP=fd00:213:c2::2',
    ]);
  });

  it('the bundle: --kubeconfig names the pods; an unreadable kubeconfig is a configuration error', async () => {
    const r = await cli(['replay', '--drops', '--kubeconfig', api.writeKubeconfig()], realKmsgCapture());
    expect(r.code).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Out);
    expect(out[0]).toMatchObject({ srcPod: 'shop/client', dstPod: 'shop/db' });
    expect(r.stderr).toContain('"resolved":');
    const bad = await cli(['replay', '--drops', '--kubeconfig', '/nonexistent/kubeconfig'], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('cannot load kubeconfig /nonexistent/kubeconfig');
  });

  it(`keeps input order with more drops than its window (${WINDOW}) waiting for slow lookups`, async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = async (ip: string) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Later lines answer sooner: order must still be the input's.
      await new Promise((res) => setTimeout(res, 5 + (Number(ip.split('.')[3]) % 7)));
      inFlight--;
      return null;
    };
    const n = 3 * WINDOW;
    const capture = Array.from(
      { length: n },
      (_, i) =>
        `4,${i},${i * 1000},-;calico-drop: IN=eth0 OUT= SRC=10.1.${i >> 8}.${i & 255} DST=10.2.0.1 LEN=60 PROTO=TCP SPT=${1000 + i} DPT=80 `,
    ).join('\n');
    const r = await run(Readable.from([capture + '\n']), 'kmsg', { peers: slow });
    expect(r.out.map((o) => o.sport)).toEqual(Array.from({ length: n }, (_, i) => 1000 + i));
    // Two lookups per drop, at most WINDOW drops waiting.
    expect(maxInFlight).toBeLessThanOrEqual(2 * WINDOW);
    expect(r.result).toMatchObject({ drops: n, resolved: 0, unresolved: 2 * n });
  });
});

function cli(args: string[], stdin: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [AGENT, ...args],
      { cwd: ROOT, timeout: 30_000 },
      (err, stdout, stderr) => {
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(stdin);
  });
}

describe('nodewarden replay --drops (the bundle)', () => {
  it('reads syslog lines from stdin, writes JSON lines, and a summary on stderr', async () => {
    const r = await cli(
      [
        'replay',
        '--drops',
        '--format',
        'syslog',
        '--drop-prefix',
        'INPUT-reject:=drop',
        '--drop-prefix',
        'cp <tier> <kind> <policy>:=drop',
        '--drop-prefix',
        'calico-packet:=audit',
        '--drop-prefix',
        'calico-drop:=drop',
      ],
      readFileSync(join(drops, 'rfc3339.log'), 'utf8'),
    );
    expect(r.code).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Out);
    expect(out).toHaveLength(18);
    expect(out[3]).toMatchObject({
      kind: 'drop',
      time: '2026-11-22T03:54:17.757Z',
      prefix: 'INPUT-reject:',
      out: 'va325056',
      dport: 8081,
    });
    expect(r.stderr).toBe('replay --drops: {"lines":18,"drops":18,"drop":11,"audit":7,"unparsed":0,"ignored":0}\n');
  });

  it('with the default (Calico) prefixes, other prefixes are ignored', async () => {
    const r = await cli(['replay', '--drops'], realKmsgCapture());
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(11);
    expect(r.stderr).toContain('"drops":11');
    expect(r.stderr).toContain('"ignored":7');
  });

  it('refuses --format plain and --drops outside replay (exit 2)', async () => {
    const plain = await cli(['replay', '--drops', '--format', 'plain'], '');
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('replay --drops reads kmsg or syslog, not plain');
    const run = await cli(['run', '--drops'], '');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--drops: only for replay');
  });
});
