// drops-real.test.ts: real packet drops. Two network namespaces joined by a veth pair (addresses in
// 10.213.x.0/24 and fd00:213:x::/64 exist only inside them), iptables/ip6tables LOG + DROP/REJECT
// rules inside the namespaces, TCP/UDP/ICMP/raw-protocol traffic over IPv4 and IPv6; the kernel's
// own LOG lines are read from /dev/kmsg and parsed. The same lines then go through a private
// rsyslogd (RFC3339, traditional and journald short-iso-precise templates) and must parse to the
// same packets. Needs root, iproute2, iptables, iputils-ping, python3, rsyslog, util-linux logger.
// Set NODEWARDEN_WRITE_FIXTURES=1 to refresh test/fixtures/drops/{kmsg-real.txt,*.log} from this run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDropPrefixes, PrefixMatcher, DEFAULT_DROP_PREFIX_SPECS } from '../agent/engine/drop-prefixes';
import { parsePacketLog } from '../agent/engine/packet-log';
import { parseSyslogLine } from '../agent/engine/drop-time';
import { DropPipeline } from '../agent/drops';
import type { Logger, NodeEvent, PacketDrop, PodInfo } from '../agent/types';
import { createVethPair, deleteNetns, enableLogAllNetns, inNs, readKmsg, sh } from './helpers/netns';
import { describeWithParts, type PartName } from './helpers/system-parts';

const PARTS: PartName[] = ['root', 'kmsg', 'ip', 'iptables', 'ip6tables', 'ping', 'python3', 'rsyslogd', 'logger'];

const N = 1 + Math.floor(Math.random() * 250);
const TAG = String(100000 + Math.floor(Math.random() * 899999));
const NS_A = `nwdropA${TAG}`;
const NS_B = `nwdropB${TAG}`;
const IF_A = `va${TAG}`;
const IF_B = `vb${TAG}`;
const A4 = `10.213.${N}.1`;
const B4 = `10.213.${N}.2`;
const A6 = `fd00:213:${N.toString(16)}::1`;
const B6 = `fd00:213:${N.toString(16)}::2`;

const SPECS = [...DEFAULT_DROP_PREFIX_SPECS, 'INPUT-reject:=drop', 'cp <tier> <kind> <policy>:=drop'];
const matcher = new PrefixMatcher(parseDropPrefixes(SPECS).prefixes);

let restoreLogAllNetns: (() => void) | undefined;
let rsyslog: ChildProcess | undefined;
let workDir = '';
/** Kernel messages (text after the kmsg header) mentioning our interfaces. */
let captured: { text: string; usec: number }[] = [];
const fromKmsg: PacketDrop[] = [];

function readKmsgOurs(): { text: string; usec: number }[] {
  return readKmsg((text) => text.includes(IF_A) || text.includes(IF_B)).map(({ text, usec }) => ({ text, usec }));
}

function setupNamespaces(): void {
  createVethPair({
    nsA: NS_A,
    nsB: NS_B,
    ifA: IF_A,
    ifB: IF_B,
    addrsA: [`${A4}/24`, `${A6}/64`],
    addrsB: [`${B4}/24`, `${B6}/64`],
  });
  for (const ipt of ['iptables', 'ip6tables']) {
    const v6 = ipt === 'ip6tables';
    const icmp = v6 ? ['-p', 'ipv6-icmp', '--icmpv6-type'] : ['-p', 'icmp', '--icmp-type'];
    const logDrop = (ns: string, chain: string, match: string[], prefix: string, extra: string[] = []): void => {
      inNs(ns, ipt, '-A', chain, ...match, '-j', 'LOG', '--log-prefix', prefix, ...extra);
      inNs(ns, ipt, '-A', chain, ...match, '-j', 'DROP');
    };
    logDrop(NS_B, 'INPUT', ['-p', 'tcp', '--dport', '8080'], 'calico-packet: ');
    logDrop(NS_B, 'INPUT', ['-p', 'udp', '--dport', '5353'], 'calico-drop: ');
    logDrop(NS_B, 'INPUT', [...icmp, 'echo-request'], 'calico-packet: ');
    logDrop(NS_B, 'INPUT', ['-p', '132'], 'calico-packet: ');
    logDrop(NS_B, 'INPUT', ['-p', 'tcp', '--dport', '8082'], 'cp t1 np ns/p1: ');
    inNs(NS_B, ipt, '-A', 'INPUT', '-p', 'udp', '--dport', '9999', '-j', 'REJECT');
    // A logs the ICMP error that carries the rejected datagram's header, and lets it through.
    inNs(NS_A, ipt, '-A', 'INPUT', ...icmp, 'destination-unreachable', '-j', 'LOG', '--log-prefix', 'calico-drop: ');
    logDrop(NS_A, 'OUTPUT', ['-p', 'tcp', '--dport', '8081'], 'INPUT-reject: ', ['--log-uid']);
  }
}

function sendTraffic(): void {
  const script = [
    `for h in ${B4} ${B6}; do`,
    `  (timeout 1.5 bash -c "echo > /dev/tcp/$h/8080" 2>/dev/null &)`,
    `  (timeout 1.5 bash -c "echo > /dev/tcp/$h/8081" 2>/dev/null &)`,
    `  (timeout 1.5 bash -c "echo > /dev/tcp/$h/8082" 2>/dev/null &)`,
    `  echo x > /dev/udp/$h/5353 2>/dev/null`,
    `  echo x > /dev/udp/$h/9999 2>/dev/null`,
    `done`,
    `ping -c1 -W1 ${B4} >/dev/null 2>&1 &`,
    `ping -6 -c1 -W1 ${B6} >/dev/null 2>&1 &`,
    `python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 132).sendto(b'x'*20, ('${B4}', 0)); socket.socket(socket.AF_INET6, socket.SOCK_RAW, 132).sendto(b'x'*20, ('${B6}', 0))"`,
    `sleep 1.8; wait`,
  ].join('\n');
  inNs(NS_A, 'bash', '-c', script);
}

function cleanup(): void {
  deleteNetns(NS_A, NS_B); // removes the veth pair and every rule in the namespaces
  restoreLogAllNetns?.();
  if (rsyslog && rsyslog.exitCode === null) rsyslog.kill('SIGTERM');
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

const T0 = new Date();

beforeAll(() => {
  try {
    setupNamespaces();
    restoreLogAllNetns = enableLogAllNetns();
    sendTraffic();
    restoreLogAllNetns();
    captured = readKmsgOurs();
    for (const c of captured) {
      const r = parsePacketLog(c.text, matcher, T0);
      if (r.kind === 'drop') fromKmsg.push(r.drop);
    }
    if (process.env['NODEWARDEN_WRITE_FIXTURES'] === '1') {
      writeFileSync(join(__dirname, 'fixtures/drops/kmsg-real.txt'), captured.map((c) => c.text).join('\n') + '\n');
    }
  } catch (e) {
    cleanup();
    throw e;
  }
}, 60_000);

afterAll(() => {
  cleanup();
});

function find(pred: (d: PacketDrop) => boolean): PacketDrop | undefined {
  return fromKmsg.find(pred);
}

describeWithParts(PARTS, 'real kernel LOG lines from /dev/kmsg', () => {
  it('captured our lines, and every one parses', () => {
    expect(captured.length).toBeGreaterThanOrEqual(16);
    for (const c of captured) {
      const r = parsePacketLog(c.text, matcher, T0);
      expect(r.kind, c.text).toBe('drop');
    }
  });

  for (const [fam, src, dst, icmpProto, echo, unreach] of [
    [4, A4, B4, 'icmp', 8, 3],
    [6, A6, B6, 'icmpv6', 128, 1],
  ] as const) {
    describe(`IPv${fam}`, () => {
      it('TCP SYN dropped on input (calico-packet: = audit)', () => {
        const d = find((x) => x.dst === dst && x.proto === 'tcp' && x.dstPort === 8080);
        expect(d).toBeDefined();
        expect(d).toMatchObject({
          family: fam,
          src,
          dst,
          prefix: 'calico-packet:',
          verdict: 'audit',
          inIf: IF_B,
          outIf: '',
        });
        expect(d?.srcPort).toBeGreaterThan(1023);
      });
      it('UDP dropped (calico-drop: = drop)', () => {
        const d = find((x) => x.dst === dst && x.proto === 'udp' && x.dstPort === 5353);
        expect(d).toMatchObject({ family: fam, src, verdict: 'drop', prefix: 'calico-drop:' });
      });
      it('ICMP echo request dropped: type and code, no ports', () => {
        const d = find((x) => x.dst === dst && x.proto === icmpProto && x.icmpType === echo);
        expect(d).toMatchObject({ src, icmpCode: 0 });
        expect(d?.dstPort).toBeUndefined();
      });
      it('ICMP error keeps the outer addresses, not the embedded header', () => {
        const d = find((x) => x.proto === icmpProto && x.icmpType === unreach);
        expect(d).toMatchObject({ src: dst, dst: src, icmpCode: fam === 4 ? 3 : 4, inIf: IF_A });
        expect(d?.dstPort).toBeUndefined();
        const raw = captured.find((c) => c.text.includes(`TYPE=${unreach} `) && c.text.includes('DPT=9999'));
        expect(raw?.text).toContain('[SRC=');
      });
      it('numeric protocol (raw 132) has no ports', () => {
        const d = find((x) => x.dst === dst && (x.proto === '132' || x.proto === 'sctp'));
        expect(d).toMatchObject({ src, family: fam });
      });
      it('OUTPUT drop with a prefix that starts with "IN", and --log-uid', () => {
        const d = find((x) => x.dst === dst && x.dstPort === 8081);
        expect(d).toMatchObject({ prefix: 'INPUT-reject:', verdict: 'drop', inIf: '', outIf: IF_A, src });
        const raw = captured.find(
          (c) => c.text.startsWith('INPUT-reject:') && c.text.includes(fam === 4 ? B4 : 'fd00:0213'),
        );
        expect(raw?.text).toMatch(/ UID=0 GID=0 /);
      });
      it('templated prefix gives the policy', () => {
        const d = find((x) => x.dst === dst && x.dstPort === 8082);
        expect(d).toMatchObject({ prefix: 'cp <tier> <kind> <policy>:', policy: 't1 np ns/p1', verdict: 'drop' });
      });
    });
  }

  it('IPv6 addresses arrive zero-padded and come out canonical', () => {
    expect(
      captured.some((c) =>
        c.text.includes(`SRC=fd00:0213:${N.toString(16).padStart(4, '0')}:0000:0000:0000:0000:0001`),
      ),
    ).toBe(true);
    expect(fromKmsg.some((d) => d.src === A6)).toBe(true);
  });
});

describeWithParts(PARTS, 'real lines through the DropPipeline', () => {
  it('become PacketDrop events on both local pods, with counts', async () => {
    const client: PodInfo = { namespace: 'ns-a', name: 'client', uid: 'u-a' };
    const server: PodInfo = { namespace: 'ns-b', name: 'server', uid: 'u-b' };
    const local = new Map<string, PodInfo>([
      [A4, client],
      [A6, client],
      [B4, server],
      [B6, server],
    ]);
    const events: NodeEvent[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
    const p = new DropPipeline({
      prefixes: parseDropPrefixes(SPECS).prefixes,
      clock: { now: () => Date.now(), setTimer: () => () => {} },
      logger,
      resolver: {
        localPod: (ip) => local.get(ip),
        peer: async (ip) => (local.has(ip) ? { kind: 'pod', pod: local.get(ip)! } : { kind: 'unknown' }),
      },
      onEvent: (e) => events.push(e),
      perNode: { burst: 1000, perSecond: 1000 },
      perPod: { burst: 1000, perSecond: 1000 },
    });
    for (const c of captured) p.handle({ origin: 'kmsg', time: new Date(), text: c.text });
    expect(p.stats.parsed).toBe(captured.length);
    await p.flushOnce();
    const msgs = events.map((e) => `${e.involved.kind === 'Pod' ? e.involved.name : ''}: ${e.message}`);
    expect(msgs).toContain(`client: Packet would be dropped when sending traffic to ns-b (${B4}) on port 8080/tcp`);
    expect(msgs).toContain(`server: Packet dropped when receiving traffic from ns-a (${A6}) on port 5353/udp`);
    expect(msgs).toContain(
      `server: Packet dropped when receiving traffic from ns-a (${A4}) on port 8082/tcp by policy t1 np ns/p1`,
    );
    expect(msgs).toContain(`client: Packet dropped when receiving traffic from ns-b (${B6}) on icmpv6 type 1 code 4`);
    expect(events.every((e) => e.reason === 'PacketDrop' && e.type === 'Warning' && e.component === 'nodewarden')).toBe(
      true,
    );
    // Every drop is in exactly two events' counts (both ends are local pods).
    expect(events.reduce((a, e) => a + (e.count ?? 1), 0)).toBe(2 * captured.length);
  });
});

describeWithParts(PARTS, 'the same lines through rsyslog files', () => {
  const files = ['rfc3339.log', 'traditional.log', 'journal-iso.log'] as const;
  const parsed: Record<string, PacketDrop[]> = {};

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'nw-drops-rsyslog-'));
    const sock = join(workDir, 'log.sock');
    const conf = [
      `global(workDirectory="${workDir}")`,
      `module(load="imuxsock" SysSock.Use="off")`,
      `input(type="imuxsock" Socket="${sock}")`,
      `template(name="shortIsoPrecise" type="string" string="%timereported:1:29:date-rfc3339%%timereported:31:32:date-rfc3339% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\\n")`,
      `action(type="omfile" file="${workDir}/rfc3339.log" template="RSYSLOG_FileFormat")`,
      `action(type="omfile" file="${workDir}/traditional.log" template="RSYSLOG_TraditionalFileFormat")`,
      `action(type="omfile" file="${workDir}/journal-iso.log" template="shortIsoPrecise")`,
    ].join('\n');
    writeFileSync(join(workDir, 'rsyslog.conf'), conf + '\n');
    rsyslog = spawn('rsyslogd', ['-n', '-f', join(workDir, 'rsyslog.conf'), '-i', join(workDir, 'rsyslog.pid')], {
      stdio: 'ignore',
    });
    for (let k = 0; k < 100 && !existsSync(sock); k++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sock)).toBe(true);
    // As imklog would write them: with the kernel's "[secs.usecs] " time in front.
    for (const c of captured) {
      const secs = (c.usec / 1e6).toFixed(6).padStart(12, ' ');
      sh('logger', ['-u', sock, '--socket-errors=on', '-t', 'kernel', '--', `[${secs}] ${c.text}`]);
    }
    for (let k = 0; k < 100; k++) {
      const done = files.every((f) => {
        const p = join(workDir, f);
        return existsSync(p) && readFileSync(p, 'utf8').split('\n').filter(Boolean).length >= captured.length;
      });
      if (done) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (process.env['NODEWARDEN_WRITE_FIXTURES'] === '1') {
      for (const f of files) writeFileSync(join(__dirname, 'fixtures/drops', f), readFileSync(join(workDir, f)));
    }
    for (const f of files) {
      parsed[f] = [];
      for (const line of readFileSync(join(workDir, f), 'utf8').split('\n')) {
        if (line === '') continue;
        const st = parseSyslogLine(line, { now: () => Date.now() });
        expect(st, line).not.toBeNull();
        if (st === null) continue;
        // Logged during this run: after T0 (less the second the traditional format drops), not later than now.
        expect(st.time.getTime(), line).toBeGreaterThanOrEqual(T0.getTime() - 1000);
        expect(st.time.getTime(), line).toBeLessThanOrEqual(Date.now());
        const r = parsePacketLog(st.message, matcher, st.time);
        expect(r.kind, line).toBe('drop');
        if (r.kind === 'drop') parsed[f]?.push(r.drop);
      }
    }
  }, 30_000);

  for (const f of files) {
    it(`${f}: same packets as /dev/kmsg`, () => {
      const strip = (d: PacketDrop): Omit<PacketDrop, 'time'> => {
        const { time: _t, ...rest } = d;
        return rest;
      };
      expect(parsed[f]?.length).toBe(fromKmsg.length);
      expect(parsed[f]?.map(strip)).toEqual(fromKmsg.map(strip));
    });
  }
});
