#!/usr/bin/env node
// scripts/emulate-image.mjs: checks the Dockerfile's runtime stage without a Docker engine. It
// reads the Dockerfile, performs the runtime stage's COPY instructions into a temp directory
// (`COPY --from=build /src/X` is taken from X in this repo, which `npm run build` has built the
// same way), then runs the ENTRYPOINT from there with this machine's node. So it proves the image's
// file list is enough to run the bundle: nothing is resolved from the repo's node_modules.
//   node scripts/emulate-image.mjs [--keep] [--json] [--dockerfile FILE]
// Checks: every require() in the bundle is a Node builtin or re2; re2 loads and matches from the
// image layout; `--help` works; `check-rules` accepts the image's rules/.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');

/** Dockerfile instructions, with line continuations joined and comments dropped. */
export function instructions(text) {
  const out = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/s.exec(current);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
    current = '';
  }
  return out;
}

/** Stages: { name, from, workdir, instructions }, with ARG defaults substituted in FROM. */
export function stages(text) {
  const args = {};
  const list = [];
  for (const ins of instructions(text)) {
    if (ins.op === 'ARG' && list.length === 0) {
      const [k, v = ''] = ins.args.split('=');
      args[k] = v;
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`cannot parse FROM ${ins.args}`);
      const from = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? '');
      list.push({ name: m[2] ?? String(list.length), from, workdir: '/', instructions: [] });
    } else if (list.length > 0) {
      const stage = list[list.length - 1];
      if (ins.op === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, ins.args);
      stage.instructions.push({ ...ins, workdir: stage.workdir });
    }
  }
  return list;
}

/** COPY [--from=STAGE] SRC... DEST, as { from, sources, dest } with absolute image paths. */
export function parseCopy(ins) {
  const words = ins.args.split(/\s+/);
  let from;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift();
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (!/^--(chown|chmod|link)/.test(flag)) throw new Error(`unsupported COPY flag ${flag}`);
  }
  const destRaw = words.pop();
  const dest = posix.resolve(ins.workdir, destRaw) + (destRaw.endsWith('/') ? '/' : '');
  return { from, sources: words, dest };
}

/** Copies like Docker: a directory's contents go into DEST; a file goes to DEST/ or DEST. */
function copyInto(src, dest, many) {
  const st = statSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const e of readdirSync(src)) cpSync(join(src, e), join(dest, e), { recursive: true });
  } else {
    const target = dest.endsWith('/') || many ? join(dest, src.split('/').pop()) : dest;
    mkdirSync(dirname(target), { recursive: true });
    cpSync(src, target);
  }
}

/** Files under dir, recursively: { path (from dir, with a leading /), bytes }. */
export function listFiles(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? listFiles(p, base) : [{ path: p.slice(base.length), bytes: statSync(p).size }];
  });
}

/** Module names the bundle require()s with a literal string. */
export function bundleRequires(code) {
  return [...new Set([...code.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]))].sort();
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
function requireCount(code, name) {
  return code.match(new RegExp(`\\brequire\\(\\s*["'\`]${escape(name)}["'\`]\\s*\\)`, 'g'))?.length ?? 0;
}
/** require(name) calls that open a try block (minified or not): try{ let x=require("name") ... */
function guardedRequires(code, name) {
  return (
    code.match(new RegExp(`\\btry\\s*\\{[^{}]{0,80}\\brequire\\(\\s*["'\`]${escape(name)}["'\`]\\s*\\)`, 'g'))
      ?.length ?? 0
  );
}

export function emulate({ dockerfile = join(root, 'Dockerfile'), keep = false, node = process.execPath } = {}) {
  const all = stages(readFileSync(dockerfile, 'utf8'));
  const runtime = all[all.length - 1];
  const byName = Object.fromEntries(all.map((s) => [s.name, s]));
  const tmp = mkdtempSync(join(tmpdir(), 'nodewarden-image-'));
  const image = join(tmp, 'rootfs');
  const inImage = (p) => join(image, p);
  const report = { dir: tmp, from: runtime.from, files: [], bytes: 0, checks: [], ok: true };
  const check = (name, ok, detail = '') => {
    report.checks.push({ name, ok, detail });
    if (!ok) report.ok = false;
  };
  try {
    let entrypoint = [];
    let cmd = [];
    let workdir = runtime.workdir;
    for (const ins of runtime.instructions) {
      if (ins.op === 'COPY' || ins.op === 'ADD') {
        const { from, sources, dest } = parseCopy(ins);
        for (const src of sources) {
          let local;
          if (from === undefined) local = join(root, src);
          else {
            const stage = byName[from];
            if (!stage) throw new Error(`COPY --from=${from}: no such stage`);
            // System files installed with apt in their own stage (journalctl) are not emulated:
            // `npm run test:image` builds the real thing.
            if (from === 'journalctl') {
              report.skipped = [...(report.skipped ?? []), `${from}:${src}`];
              continue;
            }
            // The build stage's WORKDIR is this repo, built by `npm run build`.
            local = join(root, posix.relative(stage.workdir, posix.resolve(stage.workdir, src)));
          }
          if (!existsSync(local)) throw new Error(`COPY source ${src} (${local}) does not exist; run npm run build`);
          copyInto(local, inImage(dest), sources.length > 1);
        }
      } else if (ins.op === 'ENTRYPOINT') entrypoint = JSON.parse(ins.args);
      else if (ins.op === 'CMD') cmd = JSON.parse(ins.args);
      else if (ins.op === 'WORKDIR') workdir = ins.workdir;
    }
    report.files = listFiles(image).sort((a, b) => a.path.localeCompare(b.path));
    report.bytes = report.files.reduce((n, f) => n + f.bytes, 0);
    report.entrypoint = entrypoint;
    report.cmd = cmd;

    // Nothing above the temp dir may supply modules (Node looks in every parent's node_modules).
    for (let d = dirname(tmp); ; d = dirname(d)) {
      check(`no ${join(d, 'node_modules')} above the image`, !existsSync(join(d, 'node_modules')));
      if (d === dirname(d)) break;
    }

    const script = entrypoint.find((a) => a.endsWith('.cjs') || a.endsWith('.js'));
    check(
      'ENTRYPOINT runs node on a bundle',
      entrypoint[0] === 'node' && script !== undefined,
      JSON.stringify(entrypoint),
    );
    const bundle = inImage(script);
    const code = readFileSync(bundle, 'utf8');
    const requires = bundleRequires(code);
    // Besides builtins and re2, only optional modules a library loads inside try/catch (esbuild
    // leaves an unresolved require() in the bundle only there: ws's bufferutil, debug's
    // supports-color...). Anything else would be a missing file in the image.
    const foreign = requires.filter((r) => !isBuiltin(r) && r !== 're2');
    const unguarded = foreign.filter((r) => guardedRequires(code, r) !== requireCount(code, r));
    check(
      'the bundle requires only Node builtins, re2, and optional modules inside try/catch',
      unguarded.length === 0,
      unguarded.join(', '),
    );
    report.requires = requires;
    report.optionalRequires = foreign;

    const cwd = inImage(workdir);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, NODE_ENV: 'production' };
    const run = (args) => {
      const argv = [...entrypoint.slice(1).map((a) => (a.startsWith('/') ? inImage(a) : a)), ...args];
      const r = spawnSync(node, argv, { cwd, env, encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
    };
    const re2 = spawnSync(
      node,
      [
        '-e',
        "const RE2 = require('re2'); const r = new RE2('Killed process (\\\\d+)'); process.stdout.write(String(r.exec('Killed process 42 (x)')[1]))",
      ],
      { cwd: inImage(posix.dirname(script)), env, encoding: 'utf8' },
    );
    check(
      're2 loads and matches from the image layout',
      re2.status === 0 && re2.stdout === '42',
      `${re2.stdout}${re2.stderr}`.trim().slice(0, 400),
    );
    const help = run(['--help']);
    check(
      'nodewarden --help exits 0 and prints the usage',
      help.status === 0 && /usage: nodewarden/.test(help.out) && help.out.includes('check-rules'),
      help.out.slice(0, 400),
    );
    const rules = readdirSync(inImage(join(workdir, 'rules'))).filter((f) => f.endsWith('.json'));
    const checkRules = run(['check-rules', ...rules.map((f) => join('rules', f))]);
    check(
      `nodewarden check-rules on the image's rules/ (${rules.length} files) exits 0`,
      checkRules.status === 0,
      checkRules.out.slice(0, 400),
    );
    // A rule RE2 cannot compile must be refused: proves check-rules really compiled the rules.
    const broken = join(tmp, 'broken-rule.json');
    writeFileSync(
      broken,
      JSON.stringify({
        plugin: 'kmsg',
        source: 'broken',
        conditions: [],
        rules: [{ type: 'temporary', reason: 'Broken', pattern: 'unbalanced (' }],
      }),
    );
    const refused = run(['check-rules', broken]);
    check(
      'nodewarden check-rules refuses a pattern RE2 cannot compile',
      refused.status !== 0 && refused.status !== null && /pattern/i.test(refused.out),
      `exit ${refused.status}: ${refused.out.slice(0, 400)}`,
    );
  } catch (e) {
    check('emulation', false, e.message);
  } finally {
    if (!keep) rmSync(tmp, { recursive: true, force: true });
  }
  return report;
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] !== undefined && resolve(process.argv[1]) === self) {
  const { values } = parseArgs({
    options: { keep: { type: 'boolean' }, json: { type: 'boolean' }, dockerfile: { type: 'string' } },
  });
  const report = emulate({
    keep: values.keep ?? false,
    ...(values.dockerfile ? { dockerfile: resolve(values.dockerfile) } : {}),
  });
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    process.stdout.write(`runtime stage FROM ${report.from}; layout${values.keep ? ` kept in ${report.dir}` : ''}:\n`);
    for (const f of report.files) process.stdout.write(`  ${String(f.bytes).padStart(10)}  ${f.path}\n`);
    process.stdout.write(`  ${String(report.bytes).padStart(10)}  total\n`);
    for (const c of report.checks)
      process.stdout.write(
        `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok || !c.detail ? '' : `\n     ${c.detail.replace(/\n/g, '\n     ')}`}\n`,
      );
  }
  process.exit(report.ok ? 0 : 1);
}
