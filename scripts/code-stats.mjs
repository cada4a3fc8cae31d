// Code-size figures for issue 8's before/after table: the longest functions and the largest
// files under agent/. Reads the sources with the TypeScript parser; writes nothing.
// Usage: node scripts/code-stats.mjs [N]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const top = Number(process.argv[2] ?? 10);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
};
walk('agent');

const fns = [];
const sizes = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  sizes.push({ file, lines: text.split('\n').length - 1 });
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = src.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = src.getLineAndCharacterOfPosition(node.getEnd()).line;
      const owner = ts.isClassLike(node.parent) && node.parent.name ? `${node.parent.name.text}.` : '';
      const name =
        node.name && ts.isIdentifier(node.name)
          ? node.name.text
          : node.kind === ts.SyntaxKind.Constructor
            ? 'constructor'
            : '(anonymous)';
      fns.push({ where: `${file}:${start + 1}`, name: owner + name, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
}
fns.sort((a, b) => b.lines - a.lines);
sizes.sort((a, b) => b.lines - a.lines);
console.log(`longest functions (lines):`);
for (const f of fns.slice(0, top)) console.log(`  ${String(f.lines).padStart(4)}  ${f.name}  ${f.where}`);
console.log(`largest files (lines):`);
for (const s of sizes.slice(0, top)) console.log(`  ${String(s.lines).padStart(4)}  ${s.file}`);
console.log(`agent/: ${files.length} files, ${sizes.reduce((n, s) => n + s.lines, 0)} lines`);
