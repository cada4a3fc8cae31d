// netns.ts: real packet drops for tests. Network namespaces joined by a veth pair, with
// addresses that exist only inside them; commands run inside a namespace; the global
// nf_log_all_netns switch (LOG rules inside a namespace need it) set and restored; and a
// non-blocking read of the kernel ring (/dev/kmsg) filtered by the caller. Needs root, iproute2
// and iptables. Nothing here routes the private addresses outside the namespaces.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';

const LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';

export function sh(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function inNs(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

export interface VethPair {
  readonly nsA: string;
  readonly nsB: string;
  readonly ifA: string;
  readonly ifB: string;
  /** Addresses with prefix length, e.g. "10.213.7.1/24", "fd00:213:7::1/64". */
  readonly addrsA: readonly string[];
  readonly addrsB: readonly string[];
}

/** Creates both namespaces and the veth pair between them, with addresses, links up (and lo). */
export function createVethPair(p: VethPair): void {
  sh('ip', ['netns', 'add', p.nsA]);
  sh('ip', ['netns', 'add', p.nsB]);
  sh('ip', ['link', 'add', p.ifA, 'netns', p.nsA, 'type', 'veth', 'peer', 'name', p.ifB, 'netns', p.nsB]);
  for (const [ns, dev, addrs] of [
    [p.nsA, p.ifA, p.addrsA],
    [p.nsB, p.ifB, p.addrsB],
  ] as const) {
    for (const a of addrs) {
      // nodad: IPv6 addresses are usable at once (no duplicate address detection delay).
      sh(
        'ip',
        a.includes(':')
          ? ['-n', ns, '-6', 'addr', 'add', a, 'dev', dev, 'nodad']
          : ['-n', ns, 'addr', 'add', a, 'dev', dev],
      );
    }
    sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
}

/** Deletes namespaces (with their veth ends and every rule in them). Best effort, never throws. */
export function deleteNetns(...names: string[]): void {
  for (const ns of names) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      /* not created */
    }
  }
}

/**
 * Sets net.netfilter.nf_log_all_netns=1 and returns an idempotent restore of the old value.
 * The switch is global: restore it in a finally.
 */
export function enableLogAllNetns(): () => void {
  const old = readFileSync(LOG_ALL_NETNS, 'utf8').trim();
  let restored = false;
  writeFileSync(LOG_ALL_NETNS, '1');
  return () => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(LOG_ALL_NETNS, old);
    } catch {
      /* best effort */
    }
  };
}

export interface KmsgRecord {
  /** The message, after the kmsg header. */
  readonly text: string;
  /** Microseconds since boot (the record's timestamp). */
  readonly usec: number;
  readonly seq: number;
}

/** Every record now in the kernel ring whose text passes `keep` (non-blocking; overwritten records skipped). */
export function readKmsg(keep: (text: string) => boolean): KmsgRecord[] {
  const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16384);
  const out: KmsgRecord[] = [];
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // overwritten record: skip
        if (code === 'EAGAIN') break;
        throw e;
      }
      const rec = buf.toString('utf8', 0, n);
      const semi = rec.indexOf(';');
      const nl = rec.indexOf('\n', semi);
      const text = rec.slice(semi + 1, nl < 0 ? rec.length : nl);
      if (!keep(text)) continue;
      const head = rec.slice(0, semi).split(',');
      out.push({ text, usec: Number(head[2]), seq: Number(head[1]) });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** An IPv6 address as the kernel's LOG target prints it: eight zero-padded groups. */
export function kernelIPv6(ip: string): string {
  const [head = '', tail] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}
