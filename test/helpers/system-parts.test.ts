// system-parts.test.ts: the real-parts table's plumbing: detection on PATH, the one install
// command, the skip line and the run's summary of skipped suites; and the `system` vitest
// project lists exactly the suites that use real parts or the bundle.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_SUITES } from '../../vitest.config';
import {
  ALL_PARTS,
  installCommand,
  missingParts,
  packagesFor,
  PARTS,
  requireParts,
  skipLine,
  skippedSummary,
} from './system-parts';

const savedPath = process.env['PATH'];
const dirs: string[] = [];
afterEach(() => {
  process.env['PATH'] = savedPath;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('system parts', () => {
  it('finds a binary only as an executable on PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodewarden-parts-test-'));
    dirs.push(dir);
    process.env['PATH'] = dir;
    expect(missingParts(['iptables', 'rsyslogd'])).toEqual(['iptables', 'rsyslogd']);
    writeFileSync(join(dir, 'rsyslogd'), '#!/bin/sh\n');
    expect(missingParts(['iptables', 'rsyslogd'])).toEqual(['iptables', 'rsyslogd']); // not executable
    chmodSync(join(dir, 'rsyslogd'), 0o755);
    expect(missingParts(['iptables', 'rsyslogd'])).toEqual(['iptables']);
  });

  it('installs parts that share a package with one package, in one command', () => {
    expect(packagesFor(['ip6tables', 'iptables', 'rsyslogd', 'root'])).toEqual(['iptables', 'rsyslog']);
    expect(installCommand(['ip6tables', 'iptables', 'logger'])).toBe(
      'apt-get install -y --no-install-recommends bsdutils iptables',
    );
    expect(installCommand(['root', 'kmsg'])).toBeUndefined(); // no package makes us root
  });

  it('every row is detectable and either installable or says what to do', () => {
    expect(ALL_PARTS.length).toBeGreaterThan(0);
    for (const name of ALL_PARTS) {
      const p = PARTS[name] as { detect: object; apt?: string; hint?: string };
      expect(Object.keys(p.detect), name).toHaveLength(1);
      expect(p.apt ?? p.hint, name).toMatch(/\S/);
    }
  });

  it('says what a skipped suite misses and how to install it, and sums the run up', () => {
    expect(skipLine('test/x.test.ts > real drops', ['iptables', 'root'])).toBe(
      'system parts: skipping "test/x.test.ts > real drops": missing iptables (iptables), root (run the tests as root); ' +
        'install with: apt-get install -y --no-install-recommends iptables',
    );
    expect(skippedSummary('')).toEqual([]);
    expect(skippedSummary('test/a.test.ts > A\tiptables,ip6tables\ntest/b.test.ts > B\trsyslogd\n')).toEqual([
      'system parts: 2 suites skipped for missing parts (install with: apt-get install -y --no-install-recommends iptables rsyslog):',
      '  test/a.test.ts > A (missing iptables, ip6tables)',
      '  test/b.test.ts > B (missing rsyslogd)',
    ]);
  });

  it('NODEWARDEN_REQUIRE_SYSTEM_PARTS=1, and only 1, makes skips failures', () => {
    expect(requireParts({ NODEWARDEN_REQUIRE_SYSTEM_PARTS: '1' })).toBe(true);
    expect(requireParts({ NODEWARDEN_REQUIRE_SYSTEM_PARTS: '0' })).toBe(false);
    expect(requireParts({})).toBe(false);
  });
});

describe('vitest projects', () => {
  it('the system project holds every suite that needs real parts or runs the bundle, and only those', () => {
    const root = resolve(__dirname, '../..');
    const files = (readdirSync(join(root, 'test'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.test.ts') && !f.startsWith('e2e/'))
      .map((f) => relative(root, join(root, 'test', f)));
    const needs = /describeWithParts|needsParts|dist\/nodewarden\.cjs|dist\/THIRD_PARTY|emulate-image/;
    const system = files
      .filter((f) => f !== 'test/helpers/system-parts.test.ts' && needs.test(readFileSync(join(root, f), 'utf8')))
      .sort();
    expect([...SYSTEM_SUITES].sort()).toEqual(system);
  });
});
