// scripts/third-party-licenses.mjs: the third-party licence notices the image ships. It takes
// the packages from esbuild's metafile (every node_modules package with bytes in the bundle) plus
// the packages the image copies beside the bundle (re2 and the C++ libraries vendored in its
// addon), and writes each one's name, version, SPDX licence and full licence file text.
// A package without a licence file fails the build: shipping its code without its notice would
// break MIT/Apache-2.0/ISC terms.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';

const LICENCE_FILE = /^(licen[cs]e|copying|notice)([-._].*)?$/i;

/** The package directory (relative, posix) a bundled input path belongs to, or undefined. */
export function packageDirOf(input) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.split('\\').join('/'));
  return m ? m[1] : undefined;
}

/** Package directories that contribute bytes to the output file `outfile` of `metafile`. */
export function bundledPackageDirs(metafile, outfile) {
  const output = metafile.outputs[outfile];
  if (output === undefined) throw new Error(`metafile has no output ${outfile}`);
  const dirs = new Set();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const dir = packageDirOf(input);
    if (dir !== undefined && bytesInOutput > 0) dirs.add(dir);
  }
  return [...dirs].sort();
}

/**
 * One entry per package directory: { name, version, license, dir, files: [{ file, text }] }.
 * `extra` adds directories whose licence files are read the same way ({ dir, label, license }:
 * a name and SPDX id for directories without a package.json).
 */
export function collectLicences(root, dirs, extra = []) {
  const missing = [];
  const entries = [];
  for (const { dir, label, license: spdx } of [...dirs.map((dir) => ({ dir })), ...extra]) {
    const abs = join(root, dir);
    const pkgPath = join(abs, 'package.json');
    const pkg = existsSync(pkgPath) ? JSON.parse(readFileSync(pkgPath, 'utf8')) : {};
    const files = readdirSync(abs)
      .filter((f) => LICENCE_FILE.test(f))
      .sort()
      .map((file) => ({ file: posix.join(dir, file), text: readFileSync(join(abs, file), 'utf8').trim() }))
      .filter((f) => f.text !== '');
    const license =
      spdx ?? (typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? 'see the licence text'));
    const entry = { name: label ?? pkg.name ?? dir, version: pkg.version ?? '', license, dir, files };
    if (files.length === 0) missing.push(`${entry.name}@${entry.version} (${dir})`);
    entries.push(entry);
  }
  if (missing.length > 0) throw new Error(`no licence file for bundled package(s): ${missing.join(', ')}`);
  // One entry per name@version (npm may install the same version twice, nested).
  const seen = new Set();
  return entries
    .filter((e) => {
      const key = `${e.name}@${e.version}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The THIRD_PARTY_LICENSES text. */
export function renderLicences(entries, title) {
  const rule = '='.repeat(78);
  const out = [title, '', ...entries.map((e) => `  ${e.name} ${e.version}  ${e.license}`), ''];
  for (const e of entries) {
    out.push(rule, `${e.name} ${e.version}  (${e.license})`, rule);
    for (const f of e.files) out.push('', `--- ${f.file}`, '', f.text);
    out.push('');
  }
  return out.join('\n');
}
