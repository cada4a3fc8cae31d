// packet-log.test.ts: table tests for the nf_log_syslog LOG line parser, on real-format lines
// (the kernel's own captures in test/fixtures/drops/ and hand-made lines in the same format).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DROP_PREFIXES, parseDropPrefixes, PrefixMatcher } from '../../agent/engine/drop-prefixes';
import { parseSyslogHead, parseSyslogLine } from '../../agent/engine/drop-time';
import {
  findPacketStart,
  MAX_PACKET_LINE,
  normaliseIP,
  normaliseIPv4,
  normaliseIPv6,
  parsePacketFields,
  parsePacketLog,
  protoName,
  type PacketFields,
} from '../../agent/engine/packet-log';
import { referencePacketFields } from './packet-log-reference';

const T = new Date('2026-01-01T00:00:00Z');
const matcher = new PrefixMatcher(
  parseDropPrefixes([
    'calico-packet:=audit',
    'calico-drop:=drop',
    'calico-drop <action>:=auto',
    'INPUT-drop:=drop',
    'cp <tier> <kind> <policy>:',
    'IN:=drop',
  ]).prefixes,
);

function drop(line: string): Record<string, unknown> {
  const r = parsePacketLog(line, matcher, T);
  if (r.kind !== 'drop') throw new Error(`not a drop (${r.kind}): ${line}`);
  const { time: _t, ...rest } = r.drop;
  return rest;
}

const MAC = 'MAC=92:83:e3:7f:a1:95:ba:af:33:1b:a9:82:08:00';

describe('parsePacketLog: lines in the kernel format', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    [
      'TCP v4 with DF and flags',
      `calico-packet: IN=cali1 OUT=eth0 ${MAC} SRC=10.244.1.5 DST=10.96.0.10 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4242 DF PROTO=TCP SPT=41000 DPT=53 WINDOW=64240 RES=0x00 SYN URGP=0 `,
      {
        prefix: 'calico-packet:',
        verdict: 'audit',
        inIf: 'cali1',
        outIf: 'eth0',
        family: 4,
        src: '10.244.1.5',
        dst: '10.96.0.10',
        proto: 'tcp',
        srcPort: 41000,
        dstPort: 53,
      },
    ],
    [
      'UDP v4 (UDP has its own LEN=)',
      'calico-drop: IN=eth0 OUT= SRC=192.168.1.2 DST=10.0.0.3 LEN=30 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=5000 DPT=5353 LEN=10 ',
      { verdict: 'drop', proto: 'udp', srcPort: 5000, dstPort: 5353, src: '192.168.1.2', dst: '10.0.0.3' },
    ],
    [
      'UDPLITE',
      'calico-drop: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=30 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDPLITE SPT=1 DPT=2 LEN=10 ',
      { proto: 'udplite', srcPort: 1, dstPort: 2 },
    ],
    [
      'ICMP echo (ID= and SEQ= after TYPE/CODE do not confuse the IPv4 ID)',
      `calico-packet: IN=vb1 OUT= ${MAC} SRC=10.213.1.1 DST=10.213.1.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=34426 DF PROTO=ICMP TYPE=8 CODE=0 ID=12773 SEQ=1 `,
      { proto: 'icmp', icmpType: 8, icmpCode: 0, src: '10.213.1.1', dst: '10.213.1.2' },
    ],
    [
      'ICMP error: the embedded header does not override outer SRC/DST/PROTO/ports',
      'calico-drop: IN=va1 OUT= SRC=10.213.1.2 DST=10.213.1.1 LEN=58 TOS=0x00 PREC=0xC0 TTL=64 ID=32147 PROTO=ICMP TYPE=3 CODE=3 [SRC=10.213.1.1 DST=10.213.1.2 LEN=30 TOS=0x00 PREC=0x00 TTL=64 ID=51351 DF PROTO=UDP SPT=56320 DPT=9999 LEN=10 ] ',
      { proto: 'icmp', icmpType: 3, icmpCode: 3, src: '10.213.1.2', dst: '10.213.1.1' },
    ],
    [
      'ICMP frag-needed with MTU, embedded TCP with INCOMPLETE [8 bytes]',
      'calico-drop: IN=eth0 OUT=cali9 SRC=10.0.0.1 DST=10.0.0.2 LEN=576 TOS=0x00 PREC=0x00 TTL=64 ID=9 PROTO=ICMP TYPE=3 CODE=4 [SRC=10.0.0.2 DST=10.0.0.1 LEN=1500 TOS=0x00 PREC=0x00 TTL=64 ID=3 DF PROTO=TCP INCOMPLETE [8 bytes] ] MTU=1400 MARK=0x4000 ',
      { proto: 'icmp', icmpType: 3, icmpCode: 4, src: '10.0.0.1', dst: '10.0.0.2', outIf: 'cali9' },
    ],
    [
      'ICMPv6 error with embedded IPv6 header',
      'calico-drop: IN=va1 OUT= SRC=fd00:0213:00e0:0000:0000:0000:0000:0002 DST=fd00:0213:00e0:0000:0000:0000:0000:0001 LEN=98 TC=0 HOPLIMIT=64 FLOWLBL=624555 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=fd00:0213:00e0:0000:0000:0000:0000:0001 DST=fd00:0213:00e0:0000:0000:0000:0000:0002 LEN=50 TC=0 HOPLIMIT=64 FLOWLBL=288321 PROTO=UDP SPT=49570 DPT=9999 LEN=10 ] ',
      { family: 6, proto: 'icmpv6', icmpType: 1, icmpCode: 4, src: 'fd00:213:e0::2', dst: 'fd00:213:e0::1' },
    ],
    [
      'TCP v6 with zero-padded addresses → RFC 5952',
      'calico-packet: IN=cali2 OUT=eth0 SRC=fd00:0010:0244:0001:0000:0000:0000:0005 DST=2001:0db8:0000:0000:0001:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=63 FLOWLBL=441473 PROTO=TCP SPT=55712 DPT=443 WINDOW=64800 RES=0x00 SYN URGP=0 ',
      { family: 6, src: 'fd00:10:244:1::5', dst: '2001:db8::1:0:0:1', proto: 'tcp', dstPort: 443 },
    ],
    [
      'SCTP: the kernel prints the number (no ports)',
      'calico-packet: IN=vb1 OUT= SRC=10.213.1.1 DST=10.213.1.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=10872 DF PROTO=132 ',
      { proto: '132', src: '10.213.1.1' },
    ],
    [
      'SCTP by name with ports (other loggers)',
      'calico-packet: IN=vb1 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=SCTP SPT=3868 DPT=3868 ',
      { proto: 'sctp', srcPort: 3868, dstPort: 3868 },
    ],
    [
      'numeric protocol (GRE 47) on a line without trailing space',
      'calico-drop: IN=eth0 OUT=eth1 SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=47',
      { proto: '47', inIf: 'eth0', outIf: 'eth1' },
    ],
    [
      'bridged packet with PHYSIN/PHYSOUT',
      'calico-drop: IN=br0 OUT=br0 PHYSIN=veth1 PHYSOUT=veth2 MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=10.1.0.1 DST=10.1.0.2 LEN=60 TOS=0x10 PREC=0x00 TTL=64 ID=7 CE DF MF FRAG:0 PROTO=TCP SPT=1 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0 ',
      { inIf: 'br0', outIf: 'br0', dstPort: 22 },
    ],
    [
      'non-first fragment: no ports',
      'calico-drop: IN=eth0 OUT= SRC=10.1.0.1 DST=10.1.0.2 LEN=500 TOS=0x00 PREC=0x00 TTL=64 ID=7 MF FRAG:185 PROTO=UDP ',
      { proto: 'udp' },
    ],
    [
      'empty MAC, UID/GID/MARK at the end',
      'INPUT-drop: IN= OUT=eth0 MAC= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=49021 DF PROTO=TCP SPT=35762 DPT=8081 WINDOW=64240 RES=0x00 SYN URGP=0 UID=1000 GID=1000 MARK=0x1 ',
      { prefix: 'INPUT-drop:', inIf: '', outIf: 'eth0', dstPort: 8081 },
    ],
    [
      'a prefix that is just "IN:"',
      'IN: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 ',
      { prefix: 'IN:', dstPort: 2 },
    ],
    [
      'kernel time in front (rsyslog imklog) is skipped',
      '[ 1156.246182] calico-drop: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 ',
      { prefix: 'calico-drop:', dstPort: 2 },
    ],
    [
      'Calico drop with action: LOG-and-ACCEPT is audit',
      'calico-drop LOG-and-ACCEPT: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 ',
      { prefix: 'calico-drop <action>:', verdict: 'audit' },
    ],
    [
      'Calico drop with action: LOG-and-DROP is drop',
      'calico-drop LOG-and-DROP: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 ',
      { verdict: 'drop' },
    ],
    [
      'policy placeholders',
      'cp default gnp ns1/deny-db: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=5432 ',
      { prefix: 'cp <tier> <kind> <policy>:', policy: 'default gnp ns1/deny-db', verdict: 'drop', dstPort: 5432 },
    ],
  ];
  for (const [name, line, want] of cases) {
    it(name, () => {
      expect(drop(line)).toMatchObject(want);
    });
  }

  it('ICMP lines carry no ports, even with an embedded UDP header', () => {
    const d = drop(cases[4]![1]);
    expect(d['srcPort']).toBeUndefined();
    expect(d['dstPort']).toBeUndefined();
  });
});

describe('one object shape', () => {
  // Shapes grown field by field die with their last object and take the optimized parser with
  // them (packet-log.ts, PacketFields): every result carries every field, undefined or not.
  const lines = [
    `calico-drop: IN=eth0 OUT=cali1 ${MAC} SRC=10.0.0.1 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=1 DPT=2 `,
    'cp default gnp deny: IN=eth0 OUT= PHYSIN=veth1 SRC=fd00::1 DST=fd00::2 LEN=60 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=fd00::2 DST=fd00::3 PROTO=UDP SPT=5 DPT=6 ] UID=0 ',
    'calico-packet: IN=eth0 OUT= SRC=010.0.0.1 DST=10.0.0.2 LEN=60 PROTO=47 MARK=0x1 ',
  ];
  it('every drop has the same keys in the same order, whatever its line carries', () => {
    const keys = lines.map((l) => {
      const r = parsePacketLog(l, matcher, T);
      if (r.kind !== 'drop') throw new Error(`not a drop: ${l}`);
      return Object.keys(r.drop).join(' ');
    });
    expect(new Set(keys).size, keys.join('\n')).toBe(1);
  });
  it('so do the packet fields, from the search and from the token scan', () => {
    const keys = lines.flatMap((l) =>
      [true, false].map((forDrop) => Object.keys(parsePacketFields(l, findPacketStart(l), forDrop) ?? {}).join(' ')),
    );
    expect(new Set(keys).size, keys.join('\n')).toBe(1);
  });
});

describe('lines that are not drops, and garbage', () => {
  const other = [
    '',
    'just a kernel message',
    'IN=eth0 without OUT',
    'some-other-prefix: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=1 DPT=2 ',
    'IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 PROTO=TCP SPT=1 DPT=2 ', // empty prefix, not configured
    'calico-packetX: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP ',
  ];
  for (const line of other) {
    it(`not ours: ${JSON.stringify(line.slice(0, 40))}`, () => {
      expect(parsePacketLog(line, matcher, T).kind).toBe('other');
    });
  }
  const unparsed = [
    'calico-drop: IN=eth0 OUT= ',
    'calico-drop: IN=eth0 OUT= SRC=10.0.0.1 LEN=60 PROTO=TCP ', // no DST
    'calico-drop: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 ', // no PROTO
    'calico-drop: IN=eth0 OUT= SRC=10.0.0.999 DST=10.0.0.2 PROTO=TCP ',
    'calico-drop: IN=eth0 OUT= SRC=fd00::zz DST=fd00::1 PROTO=TCP ',
    'calico-drop: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO= ',
    'calico-drop: IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 ',
  ];
  for (const line of unparsed) {
    it(`counted as unparsed: ${JSON.stringify(line.slice(14, 60))}`, () => {
      expect(parsePacketLog(line, matcher, T).kind).toBe('unparsed');
    });
  }
  it('never throws on random bytes', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = 'INOUTSRCDPT=[] :.0123456789abcdef-calico-drop';
    for (let k = 0; k < 2000; k++) {
      let s = k % 2 ? 'calico-drop: IN=a OUT= ' : '';
      const n = Math.floor(rnd() * 200);
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      expect(() => parsePacketLog(s, matcher, T)).not.toThrow();
    }
  });
  it('ignores bytes past the length cap', () => {
    const line = 'calico-drop: IN=eth0 OUT= ' + 'X'.repeat(5000) + ' SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP ';
    expect(parsePacketLog(line, matcher, T).kind).toBe('unparsed');
  });
});

describe('findPacketStart', () => {
  it('skips an "IN=" inside the prefix that is not followed by OUT=', () => {
    const line = 'IN=weird prefix: IN=eth0 OUT= SRC=1.1.1.1';
    expect(findPacketStart(line)).toBe(line.indexOf('IN=eth0'));
  });
  it('finds IN= glued to a prefix without trailing space', () => {
    expect(findPacketStart('dropIN=eth0 OUT= SRC=1.1.1.1')).toBe(4);
  });
  it('agrees with the naive definition on adversarial strings', () => {
    const naive = (text: string): number => {
      for (let i = text.indexOf('IN='); i >= 0; i = text.indexOf('IN=', i + 1)) {
        const sp = text.indexOf(' ', i + 3);
        if (sp > 0 && text.startsWith('OUT=', sp + 1)) return i;
      }
      return -1;
    };
    const parts = ['IN=', 'OUT=', ' ', 'x', 'IN=IN=', ' OUT=', 'N='];
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let k = 0; k < 3000; k++) {
      let t = '';
      for (let j = rnd(12); j >= 0; j--) t += parts[rnd(parts.length)];
      expect(findPacketStart(t), JSON.stringify(t)).toBe(naive(t));
    }
  });

  it('never parses 1,000 16 KiB "IN=IN=IN=…" lines as drops (their speed: npm run bench)', () => {
    const rep = 'IN='.repeat(Math.ceil(16384 / 3)).slice(0, 16384);
    const lines = [rep, `calico-drop: ${rep}`, `${rep} SRC=1.2.3.4`, `calico-drop: ${rep.slice(0, 16000)} OUT`];
    for (const l of lines) expect(['other', 'unparsed']).toContain(parsePacketLog(l, matcher, T).kind);
    for (let k = 0; k < 1000; k++) {
      const l = lines[k % lines.length]!;
      if (parsePacketLog(l, matcher, T).kind === 'drop') throw new Error('parsed garbage as a drop');
    }
  });

  it('parsePacketFields reads from the given start', () => {
    const line = 'x IN=a OUT=b SRC=1.2.3.4 DST=4.3.2.1 PROTO=UDP SPT=1 DPT=2';
    expect(parsePacketFields(line, 2)).toMatchObject({ inIf: 'a', outIf: 'b', proto: 'udp' });
  });
});

describe('address normalisation', () => {
  const v6: [string, string][] = [
    ['fd00:0010:0244:0001:0000:0000:0000:0005', 'fd00:10:244:1::5'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'], // a single 0 group stays
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // tie: leftmost run
    ['2001:0DB8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // lower case
    ['fe80:0000:0000:0000:0000:0000:0000:0000', 'fe80::'],
    ['2001:db8::1', '2001:db8::1'], // already compressed
    ['2001:db8:0:0::1', '2001:db8::1'],
  ];
  for (const [i, o] of v6) it(`${i} → ${o}`, () => expect(normaliseIPv6(i)).toBe(o));
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', ':::']) {
    it(`rejects ${bad}`, () => expect(normaliseIPv6(bad)).toBeNull());
  }
  it('IPv4 passes through, zero padding is stripped, junk rejected', () => {
    expect(normaliseIPv4('10.244.1.5')).toBe('10.244.1.5');
    expect(normaliseIPv4('010.001.000.005')).toBe('10.1.0.5');
    expect(normaliseIPv4('0.0.0.0')).toBe('0.0.0.0');
    expect(normaliseIPv4('256.1.1.1')).toBeNull();
    expect(normaliseIPv4('1.1.1')).toBeNull();
    expect(normaliseIPv4('1.1.1.1.1')).toBeNull();
    expect(normaliseIPv4('1..1.1')).toBeNull();
    expect(normaliseIP('fd00:0000:0000:0000:0000:0000:0000:0001')).toBe('fd00::1');
  });
});

describe('real captures (test/fixtures/drops)', () => {
  const dir = join(__dirname, '../fixtures/drops');
  const lines = readFileSync(join(dir, 'kmsg-real.txt'), 'utf8').split('\n').filter(Boolean);
  const real = new PrefixMatcher([
    ...DEFAULT_DROP_PREFIXES,
    ...parseDropPrefixes(['INPUT-reject:', 'cp <tier> <kind> <policy>:']).prefixes,
  ]);
  it('every captured kernel line parses to a drop with canonical addresses', () => {
    expect(lines.length).toBeGreaterThanOrEqual(16);
    for (const l of lines) {
      const r = parsePacketLog(l, real, T);
      expect(r.kind, l).toBe('drop');
      if (r.kind !== 'drop') continue;
      expect(normaliseIP(r.drop.src)).toBe(r.drop.src);
      expect(r.drop.src).not.toMatch(/:0[0-9a-f]/);
      if (r.drop.proto === 'tcp' || r.drop.proto === 'udp') expect(r.drop.dstPort).toBeGreaterThan(0);
    }
  });
  it('the rsyslog copies of the same capture parse to the same packets', () => {
    const strip = (text: string): unknown => {
      const r = parsePacketLog(text, real, T);
      if (r.kind !== 'drop') return r.kind;
      const { time: _t, ...rest } = r.drop;
      return rest;
    };
    const want = lines.map(strip);
    for (const f of ['rfc3339.log', 'traditional.log', 'journal-iso.log']) {
      const got = readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => strip(parseSyslogLine(l, { now: () => Date.parse('2026-11-23T00:00:00Z') })?.message ?? ''));
      expect(got, f).toEqual(want);
    }
  });
});

describe('parsePacketLog read in place (from: where the message starts)', () => {
  it('gives what the message sliced out gives, on the rsyslog captures and at the length cap', () => {
    const dir = join(__dirname, '../fixtures/drops');
    const lines = ['rfc3339.log', 'traditional.log', 'journal-iso.log'].flatMap((f) =>
      readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean),
    );
    const head = 'May 18 18:42:44 node-1 kernel: ';
    const fill = ' LEN=1'.repeat(Math.ceil(MAX_PACKET_LINE / 6));
    // The cap counts from the message (after the kernel time), not from the start of the line.
    lines.push(
      `${head}[ 1.5] calico-drop: IN=a OUT= ${fill.slice(0, MAX_PACKET_LINE - 70)} SRC=1.1.1.1 DST=2.2.2.2 PROTO=TCP `,
    );
    lines.push(`${head}calico-drop: IN=a OUT= ${fill} SRC=1.1.1.1 DST=2.2.2.2 PROTO=TCP `);
    let drops = 0;
    for (const l of lines) {
      const h = parseSyslogHead(l, { now: () => Date.parse('2026-11-23T00:00:00Z') });
      expect(h, l).not.toBeNull();
      const want = parsePacketLog(l.slice(h!.messageAt), matcher, T);
      expect(parsePacketLog(l, matcher, T, h!.messageAt), l).toEqual(want);
      if (want.kind === 'drop') drops++;
    }
    expect(drops).toBeGreaterThan(10);
  });
});

describe('parsePacketFields against the reference parser (test/engine/packet-log-reference.ts)', () => {
  const dropFields = (f: PacketFields | null): unknown =>
    f === null
      ? null
      : {
          inIf: f.inIf,
          outIf: f.outIf,
          family: f.family,
          src: f.src,
          dst: f.dst,
          proto: f.proto,
          srcPort: f.srcPort,
          dstPort: f.dstPort,
          icmpType: f.icmpType,
          icmpCode: f.icmpCode,
        };
  const check = (line: string): void => {
    const at = findPacketStart(line);
    if (at < 0) return;
    const want = referencePacketFields(line, at);
    expect(parsePacketFields(line, at), line).toEqual(want);
    // The early stop leaves out only what a drop does not carry.
    expect(dropFields(parsePacketFields(line, at, true)), line).toEqual(dropFields(want));
  };

  it('agrees on the captured and hand-made lines', () => {
    const dir = join(__dirname, '../fixtures/drops');
    const lines = [
      ...readFileSync(join(dir, 'kmsg-real.txt'), 'utf8').split('\n'),
      ...readFileSync(join(dir, 'edge-cases.kmsg'), 'utf8').split('\n'),
    ].filter(Boolean);
    expect(lines.length).toBeGreaterThan(16);
    // Ports before an ICMP type: an ICMP line is read to its end.
    lines.push('calico-drop: IN=a OUT= SRC=1.1.1.1 DST=2.2.2.2 PROTO=ICMP SPT=1 DPT=2 TYPE=3 CODE=4 UID=5 ');
    for (const l of lines) check(l);
  });

  it('agrees on 20,000 lines of shuffled, repeated, bracketed and cut fields', () => {
    const tokens = [
      'IN=eth9',
      'OUT=cali1',
      'OUT=',
      'SRC=10.0.0.1',
      'DST=10.0.0.2',
      'SRC=10.0.0.3',
      'DST=10.0.0.4',
      'SRC=10.0.0.999',
      // Leading zeros (normalised away), too many parts, too many digits: the search must
      // normalise or reject these as the scan does.
      'SRC=010.000.0.1',
      'DST=10.0.0.02',
      'DST=1.2.3.4.5',
      'SRC=1.2.3',
      'SPT=12345678901',
      'DPT=0099',
      'DPT=8a',
      'PROTO=TCP',
      'PROTO=ICMP',
      'PROTO=icmpv6',
      'PROTO=47',
      'PROTO=',
      'SPT=1234',
      'DPT=80',
      'DPT=99999',
      'SPT=x',
      'TYPE=3',
      'CODE=1',
      'TYPE=',
      'UID=0',
      'GID=7',
      'MARK=0x1',
      'PHYSIN=veth1',
      'PHYSOUT=veth2',
      'LEN=60',
      'TTL=63',
      'DF',
      'SYN',
      'MAC=aa:bb',
      '[SRC=1.1.1.1',
      ']',
      '[x',
      ']]',
      'S=RC=1',
      'SRC==1.2.3.4',
      'IN',
      'INPUT=1',
      '',
    ];
    let seed = 11;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 8) % n;
    for (let k = 0; k < 20_000; k++) {
      const parts = ['calico-drop: IN=eth0', 'OUT='];
      for (let j = rnd(24); j > 0; j--) parts.push(tokens[rnd(tokens.length)]!);
      if (rnd(4) === 0) parts.push('SRC=fd00:0:0:0:0:0:0:1', 'DST=fd00::2'); // IPv6 when these come first
      let line = parts.join(rnd(8) === 0 ? '  ' : ' ') + (rnd(2) === 0 ? ' ' : '');
      // Sometimes cut at the length cap, in the middle of a token.
      if (rnd(50) === 0) line = line + ' LEN=1'.repeat(Math.ceil(MAX_PACKET_LINE / 6)) + ' SRC=1.2.3.4 DST=5.6.7.8';
      check(line);
    }
  });
});

describe('protoName', () => {
  it("names the kernel's protocols, keeps numbers, lower-cases the rest", () => {
    const named: [string, string][] = [
      ['TCP', 'tcp'],
      ['UDP', 'udp'],
      ['UDPLITE', 'udplite'],
      ['SCTP', 'sctp'],
      ['ICMP', 'icmp'],
      ['ICMPv6', 'icmpv6'],
      ['ICMPV6', 'icmpv6'],
      ['AH', 'ah'],
      ['ESP', 'esp'],
      ['DCCP', 'dccp'],
      ['GRE', 'gre'],
      ['132', '132'],
      ['Foo', 'foo'],
    ];
    for (const [raw, want] of named) expect(protoName(raw), raw).toBe(want);
    expect(protoName('')).toBeNull();
    expect(protoName('X'.repeat(17))).toBeNull();
  });

  it("takes names of Object.prototype's properties for plain text (a lookup table keyed by the raw text did not)", () => {
    for (const raw of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])
      expect(protoName(raw), raw).toBe(raw.toLowerCase());
    const f = parsePacketFields('IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=40 PROTO=constructor ', 0);
    expect(f?.proto).toBe('constructor');
  });
});

describe('forDrop: the search, and the scan that stops after the ports only when the protocol is not ICMP, in any case', () => {
  it('reads TYPE and CODE after DPT= for every spelling protoName takes for icmp/icmpv6', () => {
    const raws = [
      'ICMP',
      'icmp',
      'IcMp',
      'ICMPv6',
      'ICMPV6',
      'icmpv6',
      'iCmPv6',
      'ICMPv7',
      'ICMPX6',
      'ICMP6',
      'İCMP',
      'TCP',
      'ICM',
    ];
    // Without "[" the drop's fields are searched for; an ICMP error's embedded header ("[…]")
    // leaves the line to the token scan and its early stop.
    for (const embedded of ['', '[SRC=10.9.9.9 DST=10.9.9.8 LEN=28 PROTO=UDP SPT=5 DPT=6 ] '])
      for (const raw of raws) {
        const line = `IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=40 PROTO=${raw} SPT=1 DPT=2 TYPE=3 CODE=4 UID=7 ${embedded}`;
        const full = parsePacketFields(line, 0, false);
        const drop = parsePacketFields(line, 0, true);
        const icmp = protoName(raw) === 'icmp' || protoName(raw) === 'icmpv6';
        expect(drop?.icmpType, raw).toBe(icmp ? 3 : undefined);
        // Every field a drop carries is the same as without the early stop.
        for (const k of ['inIf', 'outIf', 'src', 'dst', 'proto', 'srcPort', 'dstPort', 'icmpType', 'icmpCode'] as const)
          expect(drop?.[k], `${raw} ${k}`).toEqual(full?.[k]);
        // UID= (not a drop field) is left unread: by the search always, by the scan's early stop
        // unless the protocol is ICMP.
        expect(drop?.uid, raw).toBe(embedded !== '' && icmp ? 7 : undefined);
      }
  });
});
