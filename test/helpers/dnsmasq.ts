// dnsmasq.ts: a real DNS server for tests: Debian's dnsmasq on 127.0.0.1 at a free port, serving
// PTR (and A/AAAA) records from a hosts file and nothing else (no upstream servers, no
// /etc/hosts, NXDOMAIN for private addresses it does not know). Queries never leave loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why dnsmasq cannot run here, or null when it can. */
export function dnsmasqMissing(): string | null {
  const r = spawnSync('dnsmasq', ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? 'dnsmasq is not installed (Debian package dnsmasq-base or dnsmasq)' : null;
}

export interface Dnsmasq {
  readonly port: number;
  /** "127.0.0.1:<port>", as --drop-peer-dns takes it. */
  readonly server: string;
  stop(): void;
}

/** A UDP port on loopback that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  sock.close();
  return port;
}

/** Starts dnsmasq with `hosts` ([ip, name] pairs); resolves once it has read them. */
export async function startDnsmasq(hosts: readonly (readonly [string, string])[]): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-dnsmasq-'));
  chmodSync(dir, 0o755); // dnsmasq reads the hosts file after dropping to "nobody"
  const file = join(dir, 'hosts');
  writeFileSync(file, hosts.map(([ip, name]) => `${ip} ${name}\n`).join(''), { mode: 0o644 });
  // The port may be taken between the probe and dnsmasq's bind: dnsmasq then exits, and we retry.
  let lastLog = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort();
    const child: ChildProcess = spawn(
      'dnsmasq',
      [
        '--keep-in-foreground',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${file}`,
        `--port=${port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--conf-file=/dev/null',
        '--pid-file=',
        '--bogus-priv',
        '--log-facility=-',
        // As root, stay root: dropped to "nobody", dnsmasq cannot read the hosts file when a parent of
        // the temp dir is private (TMPDIR=$(mktemp -d)); it would then wait forever.
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
      lastLog = log;
    });
    const ready = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearInterval(check);
        clearTimeout(guard);
        resolve(ok);
      };
      // Hang guard (it starts in milliseconds): dnsmasq that cannot read its hosts file waits forever.
      const guard = setTimeout(() => {
        child.kill('SIGKILL');
        done(false);
      }, 10_000);
      const check = setInterval(() => {
        if (new RegExp(`read .*hosts - ${hosts.length} names?`).test(log)) done(true);
      }, 20);
      child.once('exit', () => done(false));
    });
    if (ready) {
      return {
        port,
        server: `127.0.0.1:${port}`,
        stop: () => {
          child.kill('SIGTERM');
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`dnsmasq did not start in 5 attempts; its last log: ${lastLog.slice(-500)}`);
}
