// third-party-licenses.test.ts: dist/THIRD_PARTY_LICENSES.txt (shipped in the image) has, for every
// package with code in the bundle according to esbuild's metafile, and for re2 and the C++
// libraries compiled into its addon, an entry with that package's licence file text; and the
// build refuses a package without a licence file.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './load-manifests';

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}
interface LicenceEntry {
  name: string;
  version: string;
  license: string;
  files: { file: string; text: string }[];
}
type Mod = {
  collectLicences: (root: string, dirs: string[], extra?: { dir: string; label?: string; license?: string }[]) => LicenceEntry[];
};
const mod = (await import(join(repoRoot, 'scripts', 'third-party-licenses.mjs'))) as Mod;

// global-setup.ts ran scripts/build.mjs, which writes both files.
const meta = JSON.parse(readFileSync(join(repoRoot, 'dist', 'nodewarden.meta.json'), 'utf8')) as Metafile;
const text = readFileSync(join(repoRoot, 'dist', 'THIRD_PARTY_LICENSES.txt'), 'utf8');
const RULE = '='.repeat(78);
/** Section title line ("name version  (licence)") -> the section's body. */
const sections = new Map<string, string>();
const parts = text.split(`${RULE}\n`).slice(1); // title, body, title, body...
for (let i = 0; i < parts.length; i += 2) sections.set(parts[i]!.trim(), parts[i + 1] ?? '');

/** Package directories with bytes in the bundle, found from the metafile independently of the script. */
function bundledPackages(): string[] {
  const dirs = new Set<string>();
  for (const [input, { bytesInOutput }] of Object.entries(meta.outputs['dist/nodewarden.cjs']!.inputs)) {
    if (bytesInOutput === 0) continue;
    const parts = input.split('/');
    const at = parts.lastIndexOf('node_modules');
    if (at < 0) continue;
    const scoped = parts[at + 1]!.startsWith('@');
    dirs.add(parts.slice(0, at + (scoped ? 3 : 2)).join('/'));
  }
  return [...dirs].sort();
}

function licenceFiles(dir: string): string[] {
  return readdirSync(join(repoRoot, dir)).filter((f) => /^(licen[cs]e|copying|notice)([-._].*)?$/i.test(f));
}

describe('THIRD_PARTY_LICENSES.txt', () => {
  const packages = bundledPackages();

  it('the bundle has third-party code from the metafile, the main dependencies among it', () => {
    expect(packages.length).toBeGreaterThan(5);
    // endsWith: where node_modules entries are links (scripts/node24.sh), esbuild names the real path.
    for (const dep of ['js-yaml', 'prom-client', 'pino']) expect(packages.some((p) => p.endsWith(`node_modules/${dep}`))).toBe(true);
    // The API client is the agent's own: client-node is a devDependency (the e2e harness's).
    expect(packages.some((p) => p.includes('@kubernetes/client-node'))).toBe(false);
    // scripts/build.mjs keeps out what only unused features load (pino transports, exemplars).
    for (const dep of ['thread-stream', '@opentelemetry/api']) expect(packages.some((p) => p.endsWith(`node_modules/${dep}`))).toBe(false);
  });

  it('every package with bytes in the bundle has an entry holding its licence file text', () => {
    const problems: string[] = [];
    for (const dir of packages) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as { name: string; version: string };
      const title = [...sections.keys()].find((t) => t.startsWith(`${pkg.name} ${pkg.version}  (`));
      const files = licenceFiles(dir);
      if (title === undefined) problems.push(`${pkg.name}@${pkg.version}: no entry`);
      else if (files.length === 0) problems.push(`${pkg.name}@${pkg.version}: no licence file in ${dir}`);
      else {
        for (const f of files) {
          const body = readFileSync(join(repoRoot, dir, f), 'utf8').trim();
          if (body.length < 100 || !sections.get(title)!.includes(body)) problems.push(`${pkg.name}@${pkg.version}: ${f} text missing`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('lists re2 and the RE2 and Abseil sources compiled into re2.node, with their licence texts', () => {
    for (const [prefix, dir] of [
      ['re2 ', 'node_modules/re2'],
      ['Google RE2 ', 'node_modules/re2/vendor/re2'],
      ['Abseil ', 'node_modules/re2/vendor/abseil-cpp'],
    ] as const) {
      const title = [...sections.keys()].find((t) => t.startsWith(prefix));
      expect(title, prefix).toBeDefined();
      expect(sections.get(title!)).toContain(readFileSync(join(repoRoot, dir, 'LICENSE'), 'utf8').trim());
    }
  });

  it('names no package that has no code in the bundle', () => {
    const names = new Set(packages.map((d) => (JSON.parse(readFileSync(join(repoRoot, d, 'package.json'), 'utf8')) as { name: string }).name));
    const listed = [...sections.keys()].map((t) => t.split(' ')[0]!).filter((n) => !['re2', 'Google', 'Abseil'].includes(n));
    expect(listed.filter((n) => !names.has(n))).toEqual([]);
    expect(sections.size).toBe(names.size + 3);
  });
});

describe('collectLicences', () => {
  const root = join(repoRoot, 'test', 'fixtures', 'licences');

  it('reads a scoped package licence file, name, version and SPDX id', () => {
    const [entry] = mod.collectLicences(root, ['packages/@scope/has-licence']);
    expect(entry).toMatchObject({ name: '@scope/has-licence', version: '2.0.0', license: 'ISC' });
    expect(entry!.files.map((f) => f.text)).toEqual(['ISC License\n\nCopyright (c) fixture']);
  });

  it('refuses a package without a licence file, naming it', () => {
    expect(() => mod.collectLicences(root, ['packages/@scope/has-licence', 'packages/no-licence'])).toThrow(/no-licence@1\.0\.0 \(packages\/no-licence\)/);
  });
});
