// configmap.test.ts: the rules ConfigMap in manifests/ is exactly what
// scripts/gen-configmap.mjs generates from rules/*.json, and the check catches drift.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOne, loadAll, manifestsDir, repoRoot } from './load-manifests';

const script = join(repoRoot, 'scripts', 'gen-configmap.mjs');
const rulesDir = join(repoRoot, 'rules');
const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function gen(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rules ConfigMap', () => {
  it('holds every rules/*.json file, byte for byte, and nothing else', () => {
    const cm = findOne(loadAll().base, 'ConfigMap', 'nodewarden-rules') as any;
    const files = readdirSync(rulesDir).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(0);
    expect(Object.keys(cm.data).sort()).toEqual(files);
    for (const f of files) expect(cm.data[f], f).toBe(readFileSync(join(rulesDir, f), 'utf8'));
    expect(cm.binaryData).toBeUndefined();
  });

  it('the manifest is exactly the generator output (gen-configmap --check passes)', () => {
    const r = gen('--check');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(gen('--stdout').stdout).toBe(readFileSync(join(manifestsDir, '20-configmap-rules.yaml'), 'utf8'));
  });

  it('--check fails when a rule file changes, and regenerating fixes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodewarden-gen-'));
    temps.push(dir);
    const rules = join(dir, 'rules');
    cpSync(rulesDir, rules, { recursive: true });
    const out = join(dir, 'cm.yaml');
    expect(gen('--rules-dir', rules, '--out', out).status).toBe(0);
    expect(gen('--check', '--rules-dir', rules, '--out', out).status).toBe(0);
    const first = readdirSync(rules).find((f) => f.endsWith('.json'))!;
    const parsed = JSON.parse(readFileSync(join(rules, first), 'utf8'));
    parsed.source = 'changed-source';
    writeFileSync(join(rules, first), JSON.stringify(parsed, null, 2) + '\n');
    const stale = gen('--check', '--rules-dir', rules, '--out', out);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(/out of date/);
    expect(gen('--rules-dir', rules, '--out', out).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('changed-source');
    expect(gen('--check', '--rules-dir', rules, '--out', out).status).toBe(0);
  });

  it('refuses a rule file that is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodewarden-gen-'));
    temps.push(dir);
    writeFileSync(join(dir, 'broken.json'), '{"rules": [');
    const r = gen('--stdout', '--rules-dir', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/broken\.json: not JSON/);
  });
});
