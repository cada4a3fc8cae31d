// corpus.ts: a deterministic generated kernel-log corpus for the engine benchmark and the
// equivalence test: 0.6% of lines match NPD's shipped kernel rules, 70% are iptables LOG lines
// (Calico style), the rest ordinary kernel chatter. Emits the kmsg message form or the
// rsyslog kern.log form `Nov 22 03:42:14 host kernel: [ 1156.246182] msg`.

export interface CorpusOptions {
  readonly lines: number;
  readonly seed?: number;
  readonly form: 'kmsg' | 'syslog';
  /** Fraction of lines matching the kernel rules (default 0.006). */
  readonly matchRate?: number;
  /** Fraction of iptables LOG lines (default 0.7). */
  readonly iptablesRate?: number;
  /** 'syslog': epoch ms of the first line's timestamp (default 2025-01-31T00:16:40Z). */
  readonly startMs?: number;
  /**
   * 'syslog': wall-clock ms the syslog timestamps advance per ms of kernel uptime (default 1;
   * lines are ~5 ms of uptime apart). Below 1 the lines fit a shorter span, e.g. after a recent boot.
   */
  readonly timeScale?: number;
}

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MATCHING: readonly ((r: () => number) => string)[] = [
  (r) =>
    `Out of memory: Killed process ${int(r, 1000, 99999)} (java) total-vm:${int(r, 1e5, 9e6)}kB, anon-rss:${int(r, 1e4, 9e5)}kB, file-rss:${int(r, 0, 9999)}kB, shmem-rss:0kB`,
  (r) => `INFO: task kworker/${int(r, 0, 64)}:${int(r, 0, 9)}:${int(r, 100, 9999)} blocked for more than 120 seconds.`,
  (r) => `INFO: task docker:${int(r, 100, 99999)} blocked for more than 120 seconds.`,
  (r) => `unregister_netdevice: waiting for eth${int(r, 0, 3)} to become free. Usage count = ${int(r, 1, 9)}`,
  (r) => `BUG: unable to handle kernel NULL pointer dereference at 00000000000000${int(r, 10, 99)}`,
  () => `divide error: 0000 [#1] SMP`,
  (r) =>
    `EXT4-fs error (device sda${int(r, 1, 4)}): ext4_find_entry:1455: inode #${int(r, 2, 99999)}: comm ls: reading directory lblock 0`,
  (r) => `EXT4-fs warning (device sdb${int(r, 1, 4)}): ext4_dx_add_entry:2217: Directory index full!`,
  (r) => `Buffer I/O error on dev sdc${int(r, 1, 4)}, logical block ${int(r, 0, 1e6)}, async page read`,
  (r) => `XFS (dm-${int(r, 0, 9)}): Corruption of in-memory data detected. Shutting down filesystem`,
  (r) => `EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#${int(r, 0, 3)}_DIMM#0`,
  () => `{1}[Hardware Error]: event severity: corrected`,
  () => `{2}[Hardware Error]: event severity: recoverable`,
];

const CHATTER: readonly ((r: () => number) => string)[] = [
  (r) => `usb 1-${int(r, 1, 8)}: new high-speed USB device number ${int(r, 2, 99)} using xhci_hcd`,
  (r) => `IPv6: ADDRCONF(NETDEV_CHANGE): cali${hex(r, 11)}: link becomes ready`,
  (r) => `eth0: renamed from tmp${hex(r, 5)}`,
  (r) => `cni0: port ${int(r, 1, 30)}(veth${hex(r, 8)}) entered forwarding state`,
  (r) => `device veth${hex(r, 8)} entered promiscuous mode`,
  (r) => `EXT4-fs (sda${int(r, 1, 4)}): mounted filesystem with ordered data mode. Opts: (null)`,
  (r) =>
    `audit: type=1400 audit(${int(r, 1.6e9, 1.7e9)}.${int(r, 100, 999)}:${int(r, 1, 9999)}): apparmor="STATUS" operation="profile_load" name="cri-containerd.apparmor.d" pid=${int(r, 100, 99999)}`,
  (r) =>
    `overlayfs: upperdir is in-use as upperdir/workdir of another mount, accessing files from both mounts will result in undefined behavior. (${int(r, 1, 9)})`,
  (r) =>
    `TCP: request_sock_TCP: Possible SYN flooding on port ${int(r, 1024, 65535)}. Sending cookies.  Check SNMP counters.`,
];

function int(r: () => number, lo: number, hi: number): number {
  return Math.floor(lo + r() * (hi - lo + 1));
}
function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(r() * 16)];
  return s;
}
function mac(r: () => number): string {
  const p: string[] = [];
  for (let i = 0; i < 14; i++) p.push(hex(r, 2));
  return p.join(':');
}

function iptables(r: () => number): string {
  const tcp = r() < 0.8;
  const src = `10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
  const dst = `10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
  const proto = tcp
    ? `PROTO=TCP SPT=${int(r, 1024, 65535)} DPT=${int(r, 1, 9999)} WINDOW=64240 RES=0x00 SYN URGP=0`
    : `PROTO=UDP SPT=${int(r, 1024, 65535)} DPT=53 LEN=${int(r, 20, 500)}`;
  return `calico-packet: IN=eth0 OUT= MAC=${mac(r)} SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=${int(r, 1, 65535)} DF ${proto}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Generates the corpus lines (messages for 'kmsg', full lines for 'syslog'). */
export function generateCorpus(o: CorpusOptions): string[] {
  const r = rng(o.seed ?? 42);
  // Timestamps draw from their own stream, so both forms carry the same messages.
  const rt = rng((o.seed ?? 42) ^ 0x5eed);
  const matchRate = o.matchRate ?? 0.006;
  const ipRate = o.iptablesRate ?? 0.7;
  const out = new Array<string>(o.lines);
  let uptime = 1000;
  const startMs = o.startMs ?? Date.UTC(2025, 0, 1) + (1000 + 86400 * 30) * 1000;
  const timeScale = o.timeScale ?? 1;
  for (let i = 0; i < o.lines; i++) {
    const x = r();
    const msg = x < matchRate ? pick(MATCHING, r)(r) : x < matchRate + ipRate ? iptables(r) : pick(CHATTER, r)(r);
    if (o.form === 'kmsg') {
      out[i] = msg;
      continue;
    }
    uptime += rt() * 0.01;
    const d = new Date(startMs + Math.floor((uptime - 1000) * timeScale) * 1000);
    const ts = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
    out[i] = `${ts} node-1 kernel: [${uptime.toFixed(6).padStart(12, ' ')}] ${msg}`;
  }
  return flatten(out);
}

/**
 * Real lines arrive as flat strings decoded from a buffer; concatenated ones are rope (cons)
 * strings that every consumer would flatten again. Round-trip through one Buffer, like a file.
 */
function flatten(lines: string[]): string[] {
  const out = new Array<string>(lines.length);
  const CHUNK = 10_000;
  for (let i = 0; i < lines.length; i += CHUNK) {
    const part = lines.slice(i, i + CHUNK);
    const buf = Buffer.from(part.join('\n'), 'utf8');
    let start = 0;
    for (let k = 0; k < part.length; k++) {
      let end = buf.indexOf(10, start);
      if (end < 0) end = buf.length;
      out[i + k] = buf.toString('utf8', start, end);
      start = end + 1;
    }
  }
  return out;
}

function pick<T>(a: readonly T[], r: () => number): T {
  return a[Math.floor(r() * a.length)]!;
}
function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
