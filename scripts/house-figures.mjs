// house-figures.mjs: issue 8's before/after figures for one commit: the 10 longest functions
// and the 10 largest files under agent/ (scripts/code-stats.mjs, as committed and again with
// the files run through this checkout's Prettier settings, since the Prettier commit rewrapped
// every file), the `duplicates` tool's pair count over the whole tree and, against --base, the
// pairs the change since then added, and the real-clock uses in tests
// (scripts/count-wall-clock.mjs). Reads a `git archive` of the commit in a temp dir, which it
// removes; writes nothing else.
// Usage: node scripts/house-figures.mjs [REV (default HEAD)] [--base REV (default 53cf1b2)]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const args = process.argv.slice(2);
const baseAt = args.indexOf('--base');
const base = baseAt >= 0 ? args[baseAt + 1] : '53cf1b2';
const rev = args.find((a, i) => !a.startsWith('--') && (baseAt < 0 || i !== baseAt + 1)) ?? 'HEAD';
const run = (cmd, argv, cwd) => execFileSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
const firstLine = (text) => text.split('\n').find((l) => l.trim() !== '') ?? '';

const commit = run('git', ['rev-parse', '--short', rev], repo).trim();
const tmp = mkdtempSync(join(tmpdir(), 'nw-figures-'));
try {
  const tree = join(tmp, 'tree');
  run('sh', ['-c', `mkdir -p ${tree} && git archive ${commit} | tar -x -C ${tree}`], repo);
  console.log(`# ${rev} (${commit})\n`);
  console.log('## agent/ as committed');
  console.log(run('node', [join(here, 'code-stats.mjs'), '10'], tree));
  // The same files in this checkout's Prettier form, so that the figures of a commit before the
  // Prettier one compare with those after it.
  const pretty = join(tmp, 'pretty');
  cpSync(join(tree, 'agent'), join(pretty, 'agent'), { recursive: true });
  run(
    join(repo, 'node_modules', '.bin', 'prettier'),
    ['--config', join(repo, '.prettierrc.json'), '--write', 'agent'],
    pretty,
  );
  console.log("## agent/ formatted with this checkout's .prettierrc.json");
  console.log(run('node', [join(here, 'code-stats.mjs'), '10'], pretty));
  console.log('## duplicates');
  console.log(
    `whole tree (duplicates --repo <archive>): ${firstLine(run('duplicates', ['--repo', tree, '--seconds', '120']))}`,
  );
  const added = run('duplicates', ['--change', '--base', base, '--seconds', '120'], repo);
  console.log(`added since ${base} (duplicates --change --base ${base}, this working tree): ${firstLine(added)}`);
  console.log('\n## real-clock uses in tests');
  console.log(run('node', [join(here, 'count-wall-clock.mjs'), tree], repo));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
