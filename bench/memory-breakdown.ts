// memory-breakdown.ts: where the idle agent's RSS goes. Starts the bundled agent as the DaemonSet
// runs it (agent-proc.ts), connected to the in-process fake API server with a few pods, lets it
// idle, then prints Markdown tables of:
//   - RSS by mapping (/proc/<pid>/smaps): the node binary's file pages, re2.node, other shared
//     libraries, anonymous memory (V8 heap, malloc), stacks; and smaps_rollup's totals;
//   - V8 heap spaces (used / committed), from the agent's own /metrics (prom-client);
//   - the JS heap by node type and the biggest constructors/strings, from a heap snapshot the
//     agent writes on SIGUSR2 (--heapsnapshot-signal, in a temp cwd), taken after the RSS figures;
//   - the bundle's live functions by module (heap snapshot locations through the source map);
//   - the bundle's bytes per dependency, from esbuild's metafile (dist/nodewarden.meta.json).
// Run: npm run build && npx tsx bench/memory-breakdown.ts [--idle SECONDS] [--node PATH]
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { basename, join } from 'node:path';
import { FakeApiServer } from '../test/helpers/fake-apiserver';
import { FakePods } from '../test/helpers/fake-apiserver-pods';
import { metricsText, procStatus, ROOT, sleep, spawnAgent, type AgentChild } from './agent-proc';
import { argValue } from './process-bench';

const MiB = 1024 * 1024;
const f1 = (bytes: number): string => (bytes / MiB).toFixed(1);

interface Mapping {
  readonly name: string;
  rss: number;
  anon: number;
  privateBytes: number;
}

/** RSS per mapping group from /proc/<pid>/smaps, in bytes. */
function smapsGroups(pid: number, nodeBinary: string): Mapping[] {
  const groups = new Map<string, Mapping>();
  let current: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1]!.trim();
      const name =
        path === ''
          ? 'anonymous (V8 heap, malloc arenas, thread stacks)'
          : path === nodeBinary
            ? `node binary (${basename(nodeBinary)})`
            : path.endsWith('re2.node')
              ? 're2.node (addon)'
              : path === '[heap]'
                ? '[heap] (brk malloc)'
                : path.startsWith('[')
                  ? `${path}`
                  : `shared libraries and other files`;
      current = groups.get(name);
      if (!current) groups.set(name, (current = { name, rss: 0, anon: 0, privateBytes: 0 }));
      continue;
    }
    const kv = /^(Rss|Anonymous|Private_Clean|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (!kv || !current) continue;
    const bytes = Number(kv[2]) * 1024;
    if (kv[1] === 'Rss') current.rss += bytes;
    else if (kv[1] === 'Anonymous') current.anon += bytes;
    else current.privateBytes += bytes;
  }
  return [...groups.values()].sort((a, b) => b.rss - a.rss);
}

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm))
    out[m[1]!] = Number(m[2]) * 1024;
  return out;
}

function heapSpaces(text: string): { space: string; used: number; total: number }[] {
  const total = new Map<string, number>();
  const used = new Map<string, number>();
  for (const m of text.matchAll(/^nodejs_heap_space_size_(total|used)_bytes\{space="([^"]+)"\} (\d+)/gm)) {
    (m[1] === 'total' ? total : used).set(m[2]!, Number(m[3]));
  }
  return [...total.keys()]
    .map((space) => ({ space, used: used.get(space) ?? 0, total: total.get(space) ?? 0 }))
    .filter((s) => s.total > 0);
}

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
      location_fields: string[];
    };
  };
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

/** The package (node_modules/<pkg>, @scope/pkg) or agent/ file a bundled source path belongs to. */
function moduleOf(source: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
  if (m) return m[1]!;
  const a = /(agent\/.*)$/.exec(source);
  return a ? a[1]! : source;
}

/**
 * Functions by module: every closure of the bundle (the snapshot's locations: script, line,
 * column; the bundle's script is the one with minified columns > 10,000) is mapped through
 * dist/nodewarden.cjs.map to its source. Its self size, its SharedFunctionInfo's and what that
 * holds (bytecode, feedback metadata, scope info...), each counted once, go to that module.
 * Objects the functions create are not attributed (a heap snapshot does not say who allocated).
 */
function functionsByModule(s: Snapshot): { name: string; bytes: number; functions: number }[] {
  const meta = s.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const lf = meta.location_fields.length;
  const iSize = meta.node_fields.indexOf('self_size');
  const iEdges = meta.node_fields.indexOf('edge_count');
  const edgeTypes = meta.edge_types[0];
  const firstEdge = new Int32Array(s.nodes.length / nf);
  for (let i = 0, e = 0; i < s.nodes.length; i += nf) {
    firstEdge[i / nf] = e;
    e += s.nodes[i + iEdges]! * ef;
  }
  const children = function* (node: number, nameWanted?: string): Generator<number> {
    const fe = firstEdge[node / nf]!;
    for (let k = 0; k < s.nodes[node + iEdges]!; k++) {
      const b = fe + k * ef;
      const t = edgeTypes[s.edges[b]!]!;
      if (t === 'weak') continue;
      if (nameWanted !== undefined && (t === 'element' || t === 'hidden' || s.strings[s.edges[b + 1]!] !== nameWanted))
        continue;
      yield s.edges[b + 2]!;
    }
  };
  const bigColumns = new Map<number, number>();
  for (let i = 0; i < s.locations.length; i += lf)
    if (s.locations[i + 3]! > 10_000)
      bigColumns.set(s.locations[i + 1]!, (bigColumns.get(s.locations[i + 1]!) ?? 0) + 1);
  const bundleScript = [...bigColumns.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const map = new SourceMap(
    JSON.parse(readFileSync(join(ROOT, 'dist/nodewarden.cjs.map'), 'utf8')) as SourceMapPayload,
  );
  const claimed = new Set<number>();
  const by = new Map<string, { bytes: number; functions: number }>();
  const claim = (node: number): number => {
    if (claimed.has(node)) return 0;
    claimed.add(node);
    return s.nodes[node + iSize]!;
  };
  for (let i = 0; i < s.locations.length; i += lf) {
    if (s.locations[i + 1] !== bundleScript) continue;
    const node = s.locations[i]!;
    const entry = map.findEntry(s.locations[i + 2]!, s.locations[i + 3]!) as { originalSource?: string };
    const name = entry.originalSource ? moduleOf(entry.originalSource) : '(unmapped)';
    let bytes = claim(node);
    for (const shared of children(node, 'shared')) {
      bytes += claim(shared);
      for (const c of children(shared)) bytes += claim(c);
    }
    const g = by.get(name) ?? { bytes: 0, functions: 0 };
    g.bytes += bytes;
    g.functions++;
    by.set(name, g);
  }
  return [...by.entries()].map(([name, g]) => ({ name, ...g })).sort((a, b) => b.bytes - a.bytes);
}

/** Self sizes by node type, and the biggest (type, name) groups. */
function snapshotTables(path: string): {
  byType: [string, number, number][];
  byName: [string, number, number][];
  total: number;
  byModule: { name: string; bytes: number; functions: number }[];
} {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const byModule = functionsByModule(s);
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const nf = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const byType = new Map<string, [number, number]>();
  const byName = new Map<string, [number, number]>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += nf) {
    const type = types[s.nodes[i + iType]!]!;
    const size = s.nodes[i + iSize]!;
    total += size;
    const t = byType.get(type) ?? [0, 0];
    t[0] += size;
    t[1]++;
    byType.set(type, t);
    let name = s.strings[s.nodes[i + iName]!]!;
    // Strings and code are grouped by kind, not by content; objects by constructor name.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
      name =
        size > 256 * 1024
          ? `(string of ${f1(size)} MiB: ${JSON.stringify(name.slice(0, 40))}…)`
          : '(strings ≤ 256 KiB)';
    else if (type === 'code') name = name.startsWith('(') ? name : '(code objects)';
    else if (type === 'closure') name = '(closures)';
    else if (type === 'number' || type === 'hidden') name = `(${type})`;
    const key = `${type}\t${name}`;
    const n = byName.get(key) ?? [0, 0];
    n[0] += size;
    n[1]++;
    byName.set(key, n);
  }
  const sorted = (m: Map<string, [number, number]>): [string, number, number][] =>
    [...m.entries()].map(([k, [b, c]]): [string, number, number] => [k, b, c]).sort((a, b) => b[1] - a[1]);
  return { byType: sorted(byType), byName: sorted(byName).slice(0, 15), total, byModule };
}

interface Metafile {
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

/** The bundle's bytes by package (node_modules/<pkg> or @scope/pkg), agent/ as one. */
function bundleByDependency(): { name: string; bytes: number }[] {
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist/nodewarden.meta.json'), 'utf8')) as Metafile;
  const out = meta.outputs['dist/nodewarden.cjs'];
  if (!out) throw new Error('dist/nodewarden.meta.json: no dist/nodewarden.cjs output; run npm run build');
  const by = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    const name = m ? m[1]! : input.startsWith('agent/') ? 'agent/ (nodewarden)' : input;
    by.set(name, (by.get(name) ?? 0) + bytesInOutput);
  }
  return [...by.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

async function main(): Promise<void> {
  const idleSeconds = Number(argValue(process.argv, '--idle') ?? 20);
  const node = argValue(process.argv, '--node') ?? process.execPath;
  const cwd = mkdtempSync(join(tmpdir(), 'nodewarden-mem-'));
  const api = await FakeApiServer.start({ tls: true }); // HTTPS, as a real API server
  api.addNode('mem-node');
  const pods = new FakePods(api);
  for (let k = 0; k < 20; k++)
    pods.put({ namespace: `ns-${k}`, name: `pod-${k}`, node: 'mem-node', ips: [`10.244.1.${10 + k}`] });
  let agent: AgentChild | undefined;
  try {
    agent = await spawnAgent({
      node,
      cwd,
      nodeFlags: ['--heapsnapshot-signal=SIGUSR2'],
      args: [
        '--rules',
        join(ROOT, 'rules'),
        '--state-dir',
        join(cwd, 'state'),
        '--kmsg-path',
        '',
        '--node-name',
        'mem-node',
        '--kubeconfig',
        api.writeKubeconfig(cwd),
      ],
    });
    await sleep(idleSeconds * 1000);
    const { pid, port } = agent;
    const rss = procStatus(pid, 'VmRSS') * MiB;
    const roll = rollup(pid);
    const groups = smapsGroups(pid, realpathSync(`/proc/${pid}/exe`));
    const spaces = heapSpaces(await metricsText(port));
    const ext = Number(/^nodejs_external_memory_bytes (\d+)/m.exec(await metricsText(port))?.[1] ?? 0);

    console.log(
      `## Idle agent, ${idleSeconds} s after start, connected (node ${node === process.execPath ? process.version : node})\n`,
    );
    console.log(
      `VmRSS ${f1(rss)} MiB; smaps_rollup: Rss ${f1(roll.Rss ?? 0)}, Pss ${f1(roll.Pss ?? 0)}, Anonymous ${f1(roll.Anonymous ?? 0)}, file-backed ${f1((roll.Rss ?? 0) - (roll.Anonymous ?? 0))} MiB (Shared_Clean ${f1(roll.Shared_Clean ?? 0)}, Private_Clean ${f1(roll.Private_Clean ?? 0)}).\n`,
    );
    console.log('| mapping | RSS MiB | of which anonymous | private |\n|---|---:|---:|---:|');
    for (const g of groups)
      if (g.rss >= 64 * 1024) console.log(`| ${g.name} | ${f1(g.rss)} | ${f1(g.anon)} | ${f1(g.privateBytes)} |`);

    console.log('\n| V8 heap space | used MiB | committed MiB |\n|---|---:|---:|');
    let used = 0;
    let committed = 0;
    for (const s of spaces) {
      used += s.used;
      committed += s.total;
      console.log(`| ${s.space} | ${f1(s.used)} | ${f1(s.total)} |`);
    }
    console.log(`| **all spaces** | ${f1(used)} | ${f1(committed)} |`);
    console.log(`| external (ArrayBuffers, Buffers) | ${f1(ext)} | |`);

    // The snapshot last: writing it grows the process.
    process.kill(pid, 'SIGUSR2');
    let file: string | undefined;
    for (let i = 0; i < 600 && !file; i++) {
      await sleep(100);
      const f = readdirSync(cwd).find((n) => n.endsWith('.heapsnapshot'));
      // Done when the size stops changing.
      if (f && statSync(join(cwd, f)).size > 0) {
        const a = statSync(join(cwd, f)).size;
        await sleep(500);
        if (statSync(join(cwd, f)).size === a) file = join(cwd, f);
      }
    }
    if (!file) throw new Error('no heap snapshot within 60 s');
    const snap = snapshotTables(file);
    console.log(`\n### Heap snapshot: ${f1(snap.total)} MiB of live objects (self sizes)\n`);
    console.log('| node type | MiB | count |\n|---|---:|---:|');
    for (const [type, bytes, count] of snap.byType)
      if (bytes >= 32 * 1024) console.log(`| ${type} | ${f1(bytes)} | ${count.toLocaleString('en-US')} |`);
    console.log('\n| biggest groups (type, name) | MiB | count |\n|---|---:|---:|');
    for (const [key, bytes, count] of snap.byName)
      console.log(
        `| ${key.replace('\t', ': ').replace(/\|/g, '\\|')} | ${f1(bytes)} | ${count.toLocaleString('en-US')} |`,
      );

    const fnTotal = snap.byModule.reduce((n, m) => n + m.bytes, 0);
    console.log(
      `\n### The bundle's live functions by module: ${f1(fnTotal)} MiB (closures + their SharedFunctionInfo, bytecode...; via the source map)\n`,
    );
    console.log('| module | KiB | functions |\n|---|---:|---:|');
    const agentFiles = snap.byModule.filter((m) => m.name.startsWith('agent/'));
    const rows = [
      ...snap.byModule.filter((m) => !m.name.startsWith('agent/')),
      {
        name: 'agent/ (all files)',
        bytes: agentFiles.reduce((n, m) => n + m.bytes, 0),
        functions: agentFiles.reduce((n, m) => n + m.functions, 0),
      },
    ].sort((a, b) => b.bytes - a.bytes);
    for (const m of rows)
      if (m.bytes >= 8 * 1024)
        console.log(`| ${m.name} | ${(m.bytes / 1024).toFixed(0)} | ${m.functions.toLocaleString('en-US')} |`);

    const deps = bundleByDependency();
    const all = deps.reduce((n, d) => n + d.bytes, 0);
    console.log(`\n### Bundle dist/nodewarden.cjs: ${(all / 1024).toFixed(0)} KiB by dependency (esbuild metafile)\n`);
    console.log('| dependency | KiB | share |\n|---|---:|---:|');
    for (const d of deps)
      if (d.bytes >= 4096)
        console.log(`| ${d.name} | ${(d.bytes / 1024).toFixed(0)} | ${((d.bytes / all) * 100).toFixed(0)}% |`);
  } finally {
    await agent?.stop();
    await api.close();
    rmSync(cwd, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
