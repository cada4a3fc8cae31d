// scripts/build.mjs: bundles agent/ into dist/nodewarden.cjs with esbuild (re2 stays external,
// it is a native addon). The image and the tests run this one file, so CI tests what ships.
// The agent talks to the API server through its own small client (agent/kube/), not
// @kubernetes/client-node, which was two thirds of the bundle (README, Memory cuts).
//
// Outputs: dist/nodewarden.cjs (the image ships it), dist/THIRD_PARTY_LICENSES.txt (shipped: the
// licence text of every package with code in the bundle, plus re2's), and, not shipped,
// dist/nodewarden.cjs.map (for decoding stack traces off the image) and dist/nodewarden.meta.json
// (esbuild's metafile, which the licence file is made from and a test checks it against).
import { build } from 'esbuild';
import { chmodSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundledPackageDirs, collectLicences, renderLicences } from './third-party-licenses.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = 'dist/nodewarden.cjs';
const metafile = 'dist/nodewarden.meta.json';
const licences = 'dist/THIRD_PARTY_LICENSES.txt';
/** Shipped beside the bundle (Dockerfile): re2's addon compiles in Google RE2 and Abseil. */
const RE2_DIRS = [
  { dir: 'node_modules/re2' },
  {
    dir: 'node_modules/re2/vendor/re2',
    label: 'Google RE2 (vendored by re2, compiled into re2.node)',
    license: 'BSD-3-Clause',
  },
  {
    dir: 'node_modules/re2/vendor/abseil-cpp',
    label: 'Abseil (vendored by re2, compiled into re2.node)',
    license: 'Apache-2.0',
  },
];
const result = await build({
  entryPoints: ['agent/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  // An external map, not linked from the bundle: the image does not ship it (README, Image).
  sourcemap: 'external',
  // The bundled packages carry no @license comments; their notices are THIRD_PARTY_LICENSES.txt.
  legalComments: 'none',
  metafile: true,
  external: ['re2'],
  define: { NODEWARDEN_VERSION: JSON.stringify(process.env.npm_package_version ?? 'dev') },
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
writeFileSync(metafile, JSON.stringify(result.metafile));
const entries = collectLicences(root, bundledPackageDirs(result.metafile, outfile), RE2_DIRS);
writeFileSync(
  licences,
  renderLicences(entries, 'Third-party software in the nodewarden image (dist/nodewarden.cjs and node_modules/re2):'),
);
