// global-setup.ts: before the tests, builds dist/nodewarden.cjs once, so tests that run the agent
// as a child process run exactly the bundle that ships, and makes sure the machine has the real
// parts the tests use (system-parts.ts: installs what is missing when it can). After the tests,
// names the suites that were skipped for missing parts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureSystemParts, skippedSummary } from './system-parts';

export default function setup(project: TestProject): () => void {
  execFileSync(process.execPath, [resolve(__dirname, '../../scripts/build.mjs')], {
    cwd: resolve(__dirname, '../..'),
    stdio: 'inherit',
  });
  ensureSystemParts();
  const dir = mkdtempSync(join(tmpdir(), 'nodewarden-parts-'));
  const report = join(dir, 'skipped.tsv');
  writeFileSync(report, '');
  project.provide('systemPartsReport', report);
  return () => {
    try {
      for (const line of skippedSummary(readFileSync(report, 'utf8'))) console.log(line);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
