// scripts/build.mjs: bundles agent/ into dist/nodewarden.cjs with esbuild (re2 stays external,
// it is a native addon). The image and the tests run this one file, so CI tests what ships.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const outfile = 'dist/nodewarden.cjs';
await build({
  entryPoints: ['agent/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  external: ['re2'],
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
