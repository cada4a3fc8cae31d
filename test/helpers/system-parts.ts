// system-parts.ts: the real parts of the machine that tests use (root, /dev/kmsg, iptables,
// rsyslogd…), in one table: how each is detected and which Debian package provides it.
// Suites declare what they need with describeWithParts() or needsParts(); a suite whose parts are
// missing is skipped with one line naming them and the install command, and the run's summary
// (printed by the global setup's teardown) names it. NODEWARDEN_REQUIRE_SYSTEM_PARTS=1 (CI)
// turns every such skip into a failure. ensureSystemParts() (global setup) installs what is
// missing in one apt-get install when it runs as root and apt-get exists.
// To add a part: add one row to PARTS.
import { execFileSync } from 'node:child_process';
import { accessSync, appendFileSync, constants } from 'node:fs';
import { delimiter, join, relative } from 'node:path';

// vitest's runtime loads only inside a test worker; the global setup (vitest's main process) uses
// the table and ensureSystemParts() alone.
const vt = process.env['VITEST_POOL_ID'] === undefined ? undefined : await import('vitest');
function vitest(): typeof import('vitest') {
  if (vt === undefined) throw new Error('system-parts: suites can be declared only inside a vitest worker');
  return vt;
}

type Detect =
  /** An executable of this name on PATH. */
  | { readonly bin: string }
  /** The process runs as root. */
  | { readonly root: true }
  /** This path exists and is writable by the process. */
  | { readonly writable: string }
  /** An executable at this path (for programs Debian keeps off PATH, in /lib/systemd). */
  | { readonly exec: string };

interface PartSpec {
  readonly detect: Detect;
  /** The Debian package that provides it; none when installing cannot help. */
  readonly apt?: string;
  /** What to do when it is missing and no package provides it. */
  readonly hint?: string;
}

/** Where Debian installs systemd-journal-remote (not on PATH). */
export const JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote';

/** Every real part a test uses. One row per part; several parts may share a package. */
export const PARTS = {
  root: { detect: { root: true }, hint: 'run the tests as root' },
  kmsg: { detect: { writable: '/dev/kmsg' }, hint: 'run as root on a machine with /dev/kmsg' },
  ip: { detect: { bin: 'ip' }, apt: 'iproute2' },
  iptables: { detect: { bin: 'iptables' }, apt: 'iptables' },
  ip6tables: { detect: { bin: 'ip6tables' }, apt: 'iptables' },
  ping: { detect: { bin: 'ping' }, apt: 'iputils-ping' },
  python3: { detect: { bin: 'python3' }, apt: 'python3' },
  rsyslogd: { detect: { bin: 'rsyslogd' }, apt: 'rsyslog' },
  logrotate: { detect: { bin: 'logrotate' }, apt: 'logrotate' },
  logger: { detect: { bin: 'logger' }, apt: 'bsdutils' },
  // dnsmasq-base: the binary without the system service the dnsmasq package starts.
  dnsmasq: { detect: { bin: 'dnsmasq' }, apt: 'dnsmasq-base' },
  // Debian's Prometheus server and its promtool; no service runs (no systemd), the tests start their own.
  prometheus: { detect: { bin: 'prometheus' }, apt: 'prometheus' },
  promtool: { detect: { bin: 'promtool' }, apt: 'prometheus' },
  // The journal's reader, and a writer of real journal files from export-format input (no journald runs).
  journalctl: { detect: { bin: 'journalctl' }, apt: 'systemd' },
  unshare: { detect: { bin: 'unshare' }, apt: 'util-linux' },
  'systemd-journal-remote': { detect: { exec: JOURNAL_REMOTE }, apt: 'systemd-journal-remote' },
} as const satisfies Record<string, PartSpec>;

export type PartName = keyof typeof PARTS;
export const ALL_PARTS = Object.keys(PARTS) as PartName[];
const SPEC: Readonly<Record<PartName, PartSpec>> = PARTS;

/** Set (to 1) in CI: a suite that would be skipped for a missing part fails instead. */
export const REQUIRE_ENV = 'NODEWARDEN_REQUIRE_SYSTEM_PARTS';
export const requireParts = (env: NodeJS.ProcessEnv = process.env): boolean => env[REQUIRE_ENV] === '1';

function onPath(bin: string, path = process.env['PATH'] ?? ''): boolean {
  return path.split(delimiter).some((dir) => dir !== '' && usable(join(dir, bin), constants.X_OK));
}

function usable(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

function present(d: Detect): boolean {
  if ('bin' in d) return onPath(d.bin);
  if ('root' in d) return process.getuid?.() === 0;
  if ('exec' in d) return usable(d.exec, constants.X_OK);
  return usable(d.writable, constants.W_OK);
}

/** The parts in `parts` this machine lacks, in table order. */
export function missingParts(parts: readonly PartName[] = ALL_PARTS): PartName[] {
  return ALL_PARTS.filter((p) => parts.includes(p) && !present(SPEC[p].detect));
}

/** The Debian packages that provide `parts` (sorted, unique). */
export function packagesFor(parts: readonly PartName[]): string[] {
  const pkgs = parts.map((p): string | undefined => SPEC[p].apt).filter((p): p is string => p !== undefined);
  return [...new Set(pkgs)].sort();
}

/** The one command that installs `parts`, or undefined when no package provides any of them. */
export function installCommand(parts: readonly PartName[]): string | undefined {
  const pkgs = packagesFor(parts);
  return pkgs.length === 0 ? undefined : `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/** "iptables (iptables), kmsg (run as root on a machine with /dev/kmsg)" */
export function describeMissing(parts: readonly PartName[]): string {
  return parts.map((p) => `${p} (${SPEC[p].apt ?? SPEC[p].hint})`).join(', ');
}

/** The line printed for a suite skipped (or failed, under REQUIRE) for missing parts. */
export function skipLine(suite: string, missing: readonly PartName[]): string {
  const cmd = installCommand(missing);
  return `system parts: skipping "${suite}": missing ${describeMissing(missing)}${cmd ? `; install with: ${cmd}` : ''}`;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** File the workers append skipped suites to; the global teardown prints it. */
    systemPartsReport: string;
  }
}

/**
 * Declares that the current test file's suite `suite` needs `parts`. Returns skip=true (after
 * printing one line and recording the suite for the run's summary) when any is missing; throws
 * under NODEWARDEN_REQUIRE_SYSTEM_PARTS=1 instead, which fails the test file.
 * Use: `describe.skipIf(needsParts(['iptables'], 'x').skip)('x', …)`, or describeWithParts().
 */
export function needsParts(parts: readonly PartName[], suite: string): { skip: boolean; missing: PartName[] } {
  const missing = missingParts(parts);
  if (missing.length === 0) return { skip: false, missing };
  const file = vitest().expect.getState().testPath;
  const name = file ? `${relative(process.cwd(), file)} > ${suite}` : suite;
  const line = skipLine(name, missing);
  if (requireParts()) throw new Error(`${line} (${REQUIRE_ENV}=1 makes this a failure)`);
  console.warn(line);
  let report: string | undefined;
  try {
    report = vitest().inject('systemPartsReport');
  } catch {
    /* run without the global setup */
  }
  if (report) appendFileSync(report, `${name}\t${missing.join(',')}\n`);
  return { skip: true, missing };
}

/** describe(name, fn) when `parts` are present; see needsParts() for when they are not. */
export function describeWithParts(parts: readonly PartName[], name: string, fn: () => void): void {
  vitest().describe.skipIf(needsParts(parts, name).skip)(name, fn);
}

/**
 * Global setup: installs every missing part that a package provides, in one apt-get install
 * (after one apt-get update), when the process is root and apt-get exists. Returns the parts
 * still missing. Under REQUIRE it throws when any is.
 */
export function ensureSystemParts(log: (line: string) => void = console.log): PartName[] {
  let missing = missingParts();
  const installable = missing.filter((p) => SPEC[p].apt !== undefined);
  const cmd = installCommand(installable);
  if (cmd && process.getuid?.() === 0 && onPath('apt-get')) {
    log(`system parts: missing ${describeMissing(installable)}; installing: apt-get update -q && ${cmd}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args: string[]): void => {
      try {
        execFileSync('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=120', ...args], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          maxBuffer: 64 << 20,
        });
      } catch (e) {
        const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
        log(
          `system parts: apt-get ${args[0]} failed: ${String(err.stderr ?? err.message)
            .trim()
            .split('\n')
            .slice(-5)
            .join(' | ')}`,
        );
        throw e;
      }
    };
    try {
      apt(['update']);
      apt(['install', '-y', '--no-install-recommends', ...packagesFor(installable)]);
    } catch {
      /* reported above; the suites that need these parts are skipped (or fail under REQUIRE) */
    }
    missing = missingParts();
  }
  if (missing.length > 0) {
    const still = installCommand(missing);
    const outcome = requireParts() ? `${REQUIRE_ENV}=1, so the run fails` : 'the suites that need them are skipped';
    log(
      `system parts: missing ${describeMissing(missing)}; ${outcome}${still ? `. Install with (as root): apt-get update && ${still}` : ''}`,
    );
    if (requireParts()) throw new Error(`system parts missing under ${REQUIRE_ENV}=1: ${missing.join(', ')}`);
  }
  return missing;
}

/** The summary line(s) for the suites recorded as skipped (the report file's lines). */
export function skippedSummary(report: string): string[] {
  const rows = report.split('\n').filter((l) => l !== '');
  if (rows.length === 0) return [];
  const missing = new Set<PartName>();
  const suites = rows.map((r) => {
    const [name = '', parts = ''] = r.split('\t');
    for (const p of parts.split(',')) if (p in PARTS) missing.add(p as PartName);
    return `  ${name} (missing ${parts.split(',').join(', ')})`;
  });
  const cmd = installCommand([...missing]);
  return [
    `system parts: ${rows.length} suite${rows.length === 1 ? '' : 's'} skipped for missing parts${cmd ? ` (install with: ${cmd})` : ''}:`,
    ...suites,
  ];
}
