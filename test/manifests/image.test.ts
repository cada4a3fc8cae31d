// image.test.ts: the Dockerfile builds on Node 24 with npm ci + the esbuild bundle (re2 compiled
// with only the npm registry reachable) and ships only the bundle, its licence notices, re2's
// runtime files and rules/; the V8 flags match `npm start`; the glibc malloc environment is the
// same in the image, the DaemonSet, `npm start` and the benchmarks; the build context is
// minimal; and scripts/emulate-image.mjs proves the runtime stage's files run the bundle.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAEMONSET_MALLOC_ENV, IMAGE_V8_FLAGS, START_V8_FLAGS } from '../../bench/agent-proc';
import { findOne, loadAll, repoRoot } from './load-manifests';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly image: string;
  readonly name: string;
  readonly body: Instruction[];
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const joined = text.replace(/\\\n/g, ' ');
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`unparsed Dockerfile line: ${line}`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
    } else if (op === 'FROM') {
      const f = /^(\S+) AS (\S+)$/i.exec(rest);
      if (!f) throw new Error(`FROM without a stage name: ${rest}`);
      stages.push({ image: f[1]!.replace(/\$\{(\w+)\}/g, (_, a: string) => args[a] ?? ''), name: f[2]!, body: [] });
    } else {
      stages.at(-1)?.body.push({ op, args: rest });
    }
  }
  return { args, stages };
}

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const { stages } = parseDockerfile(dockerfile);
const build = stages[0]!;
const runtime = stages.at(-1)!;
const runs = (s: Stage): string => s.body.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
const copies = (s: Stage): { from?: string; sources: string[]; dest: string }[] =>
  s.body
    .filter((i) => i.op === 'COPY' || i.op === 'ADD')
    .map((i) => {
      const words = i.args.split(' ');
      const from = words[0]?.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
      const dest = words.pop()!;
      return from === undefined ? { sources: words, dest } : { from, sources: words, dest };
    });

describe('Dockerfile', () => {
  it('needs no frontend image: no `# syntax=` directive', () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it('has a Node 24 build stage, a journalctl stage on the runtime base, and a slim Node 24 runtime stage', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'journalctl', 'runtime']);
    expect(stages[1]!.image).toBe(runtime.image);
    expect(build.image).toMatch(/^node:24(\.\d+)*(-bookworm)?$/);
    expect(runtime.image).toMatch(/^(node:24(\.\d+)*-(bookworm-)?slim|gcr\.io\/distroless\/nodejs24-debian\d+)$/);
  });

  it('builds with npm ci from the lockfile, compiles re2 there, and bundles with npm run build', () => {
    const body = build.body.map((i) => `${i.op} ${i.args}`);
    const lock = body.findIndex((l) => /^COPY .*package-lock\.json/.test(l));
    const ci = body.findIndex((l) => /^RUN npm ci\b/.test(l));
    expect(lock).toBeGreaterThanOrEqual(0);
    expect(ci).toBeGreaterThan(lock);
    // re2 is compiled from source against the image's own Node headers: only the npm registry is
    // needed (no GitHub prebuilt download, no nodejs.org headers).
    expect(runs(build)).toMatch(/RE2_DOWNLOAD_FORCE_BUILD=1 npm_config_nodedir=\/usr\/local npm rebuild re2\b/);
    expect(runs(build)).toMatch(/npm run build\b/);
    expect(runs(build)).toMatch(/check-rules rules\//);
  });

  it('the runtime stage copies only the bundle, its licence notices, re2 runtime files and rules/', () => {
    const sources = copies(runtime).flatMap((c) => c.sources.map((s) => `${c.from ?? 'context'}:${s}`));
    expect(sources.sort()).toEqual(
      [
        'build:/src/dist/nodewarden.cjs',
        'build:/src/dist/THIRD_PARTY_LICENSES.txt',
        'build:/src/node_modules/re2/LICENSE',
        'build:/src/node_modules/re2/build/Release/re2.node',
        'build:/src/node_modules/re2/package.json',
        'build:/src/node_modules/re2/re2.js',
        'context:rules/',
        'journalctl:/out/',
      ].sort(),
    );
    expect(runtime.body.filter((i) => i.op === 'RUN')).toEqual([]);
    // journalctl's stage: Debian's systemd package; only journalctl, the libraries the base lacks
    // and the log-counter symlink to the bundle reach the runtime stage.
    const journal = stages[1]!;
    expect(runs(journal)).toMatch(/apt-get install -y --no-install-recommends systemd\b/);
    expect(runs(journal)).toMatch(/ln -s \/app\/dist\/nodewarden\.cjs \/out\/usr\/local\/bin\/log-counter$/);
  });

  it('runs the bundle with the heap flags of `npm start` and Maglev as the top tier, as root (privileged, documented)', () => {
    const entrypoint = runtime.body.filter((i) => i.op === 'ENTRYPOINT');
    expect(entrypoint).toHaveLength(1);
    const argv = JSON.parse(entrypoint[0]!.args) as string[];
    expect(argv).toEqual([
      'node',
      '--max-semi-space-size=1',
      '--max-old-space-size=48',
      '--no-concurrent-recompilation',
      '--max-opt=2',
      '--invocation-count-for-maglev=5000',
      '/app/dist/nodewarden.cjs',
    ]);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // `npm start` runs the same heap and compiler flags, but keeps TurboFan as its top tier: it runs
    // on the machine's node, Node 20 here, which has no production Maglev. The image's Node 24
    // makes Maglev its top tier (--max-opt=2) and tunes when Maglev starts.
    const startFlags = pkg.scripts.start!.split(' ').filter((w) => w.startsWith('--'));
    const imageFlags = argv.filter((w) => w.startsWith('--'));
    const shared = ['--max-semi-space-size=1', '--max-old-space-size=48', '--no-concurrent-recompilation'];
    expect(startFlags.slice(0, 3)).toEqual(shared);
    expect(imageFlags.slice(0, 3)).toEqual(shared);
    expect(startFlags.slice(3)).toEqual(['--no-maglev']);
    expect(imageFlags).toContain('--max-opt=2');
    expect(imageFlags).not.toContain('--no-maglev');
    expect(JSON.parse(runtime.body.find((i) => i.op === 'CMD')!.args)).toEqual(['run']);
    expect(runtime.body.find((i) => i.op === 'WORKDIR')!.args).toBe('/app');
    expect(runtime.body.filter((i) => i.op === 'USER').map((i) => i.args)).toEqual(['root']);
    expect(dockerfile).toMatch(/root[^\n]*\n[^\n]*\/dev\/kmsg|\/dev\/kmsg[^\n]*CAP_SYSLOG/);
  });

  it('the image, the DaemonSet, `npm start` and the benchmarks set the same malloc environment and V8 flags', () => {
    expect(Object.keys(DAEMONSET_MALLOC_ENV).sort()).toEqual(['GLIBC_TUNABLES', 'MALLOC_ARENA_MAX']);
    expect(DAEMONSET_MALLOC_ENV.GLIBC_TUNABLES).toMatch(/^glibc\.malloc\.mmap_threshold=\d+$/);
    const imageEnv = Object.fromEntries(
      runtime.body
        .filter((i) => i.op === 'ENV')
        .flatMap((i) => i.args.split(' ').map((kv) => kv.split('=')))
        .map(([k, ...v]) => [k!, v.join('=')]),
    );
    const container = (findOne(loadAll().base, 'DaemonSet') as any).spec.template.spec.containers[0];
    const dsEnv = Object.fromEntries(container.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const startEnv = Object.fromEntries(
      pkg.scripts.start!.split(' ').filter((w) => /^[A-Z_]+=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
    );
    for (const [name, value] of Object.entries(DAEMONSET_MALLOC_ENV)) {
      expect(imageEnv[name], `Dockerfile ENV ${name}`).toBe(value);
      expect(dsEnv[name], `DaemonSet env ${name}`).toBe(value);
      expect(startEnv[name], `npm start ${name}`).toBe(value);
    }
    const entrypoint = JSON.parse(runtime.body.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(IMAGE_V8_FLAGS).toEqual(entrypoint.filter((w) => w.startsWith('--')));
    expect(START_V8_FLAGS).toEqual(pkg.scripts.start!.split(' ').filter((w) => w.startsWith('--')));
  });

  it('.dockerignore admits exactly what the stages copy from the build context', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const admitted = lines.slice(1).map((l) => {
      expect(l.startsWith('!')).toBe(true);
      return l.slice(1);
    });
    const fromContext = stages.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
    expect([...new Set(fromContext)].sort()).toEqual([...admitted].sort());
  });
});

describe('runtime layout emulation (scripts/emulate-image.mjs)', () => {
  it('the files the runtime stage copies run the bundle: re2 loads, --help and check-rules work', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'emulate-image.mjs'), '--json'], { encoding: 'utf8', timeout: 60_000 });
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      files: { path: string; bytes: number }[];
      checks: { name: string; ok: boolean; detail: string }[];
      requires: string[];
    };
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(r.status).toBe(0);
    expect(report.checks.length).toBeGreaterThanOrEqual(7);
    const paths = report.files.map((f) => f.path);
    expect(paths).toContain('/app/dist/nodewarden.cjs');
    expect(paths).toContain('/app/dist/THIRD_PARTY_LICENSES.txt');
    expect(paths.filter((p) => p.endsWith('.map') || p.endsWith('.meta.json'))).toEqual([]);
    expect(paths).toContain('/app/node_modules/re2/build/Release/re2.node');
    expect(paths.filter((p) => p.startsWith('/app/node_modules/') && !p.startsWith('/app/node_modules/re2/'))).toEqual([]);
    expect(report.requires).toContain('re2');
  });
});
