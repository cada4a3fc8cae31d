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
/**
 * Node built-ins the bundle must not load: nothing the agent runs uses them, and on Node 24 each
 * loaded built-in keeps its source in the V8 heap. They came in through module top levels only:
 *   - prom-client's index loads Pushgateway (zlib) and AggregatorRegistry (cluster, dgram): the
 *     agent imports prom-client through SHIMS['prom-client-core'] below;
 *   - pino loads thread-stream (worker_threads, assert) for transports, which the agent does not
 *     use, and pino/lib/tools.js reads isMainThread from worker_threads: the agent runs pino on
 *     the main thread only, so it is true;
 *   - sonic-boom asserts one argument with assert;
 *   - fs/promises (which loads readline and fs.watch's machinery, 0.65 MiB on Node 24): the agent's
 *     own code uses node:fs's callback API through agent/runtime/fs-async.ts.
 * The same way, @opentelemetry/api (23 KiB, for prom-client's exemplars, which are off) stays out.
 * Together 0.6-0.7 MiB of idle RSS on Node 24 (README, Memory cuts). The build fails if a
 * dependency starts importing one of them again.
 */
const UNUSED_BUILTINS = ['assert', 'cluster', 'dgram', 'fs/promises', 'worker_threads', 'zlib'];
/** The modules that stand in for them, by name (nodewarden-shim:<name> in the metafile). */
const SHIMS = {
  // The parts of prom-client the agent imports (an import of anything else fails the build).
  'prom-client-core': `
    import Registry from 'prom-client/lib/registry';
    import Counter from 'prom-client/lib/counter';
    import Gauge from 'prom-client/lib/gauge';
    import collectDefaultMetrics from 'prom-client/lib/defaultMetrics';
    export { Registry, Counter, Gauge, collectDefaultMetrics };`,
  'thread-stream': `module.exports = function ThreadStream() {
    throw new Error('nodewarden: pino transports are not bundled');
  };`,
  'pino-worker-threads': 'module.exports = { isMainThread: true };',
  // prom-client reads the active trace span only for exemplars, which the agent does not enable.
  'otel-api': `module.exports = {
    get trace() { throw new Error('nodewarden: @opentelemetry/api is not bundled (exemplars are off)'); },
    get context() { throw new Error('nodewarden: @opentelemetry/api is not bundled (exemplars are off)'); },
  };`,
  'sonic-boom-assert': `module.exports = function assert(ok, message) {
    if (!ok) throw new Error(message);
  };`,
};
const trimBuiltins = {
  name: 'trim-builtins',
  setup(b) {
    const virtual = (name) => ({ path: name, namespace: 'nodewarden-shim' });
    const from = (args, dir) => args.importer.includes(`/node_modules/${dir}/`);
    b.onResolve({ filter: /^prom-client$/ }, (args) =>
      args.importer.startsWith(`${root}agent/`) ? virtual('prom-client-core') : undefined,
    );
    b.onResolve({ filter: /^thread-stream$/ }, (args) => (from(args, 'pino') ? virtual('thread-stream') : undefined));
    b.onResolve({ filter: /^worker_threads$/ }, (args) =>
      args.importer.endsWith('/node_modules/pino/lib/tools.js') ? virtual('pino-worker-threads') : undefined,
    );
    b.onResolve({ filter: /^@opentelemetry\/api$/ }, (args) =>
      args.importer.endsWith('/node_modules/prom-client/lib/metrics/processCpuTotal.js')
        ? virtual('otel-api')
        : undefined,
    );
    b.onResolve({ filter: /^assert$/ }, (args) =>
      from(args, 'sonic-boom') ? virtual('sonic-boom-assert') : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'nodewarden-shim' }, (args) => ({
      contents: SHIMS[args.path],
      resolveDir: root,
      loader: 'js',
    }));
  },
};
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
  plugins: [trimBuiltins],
  logLevel: 'warning',
});
const loaded = Object.values(result.metafile.inputs).flatMap((i) =>
  i.imports.map((im) => im.path.replace(/^node:/, '')),
);
const unwanted = UNUSED_BUILTINS.filter((m) => loaded.includes(m));
if (unwanted.length > 0)
  throw new Error(`build: the bundle imports ${unwanted.join(', ')} again (see UNUSED_BUILTINS)`);
chmodSync(outfile, 0o755);
writeFileSync(metafile, JSON.stringify(result.metafile));
const entries = collectLicences(root, bundledPackageDirs(result.metafile, outfile), RE2_DIRS);
writeFileSync(
  licences,
  renderLicences(entries, 'Third-party software in the nodewarden image (dist/nodewarden.cjs and node_modules/re2):'),
);
