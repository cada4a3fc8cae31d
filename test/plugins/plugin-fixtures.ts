// plugin-fixtures.ts: custom plugin files for the plugin tests: a PluginFile with NPD's defaults,
// and NPD's shipped files (test/fixtures/npd) with only their rules' `path` fields rewritten.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginFile } from '../../agent/types';

export const NPD_DIR = fileURLToPath(new URL('../fixtures/npd/', import.meta.url));

/** A custom plugin file with NPD's pluginConfig defaults and no conditions or rules. */
export function pluginFile(extra: Partial<PluginFile> = {}): PluginFile {
  return {
    path: '/rules/custom.json',
    plugin: 'custom',
    component: 'custom-monitor',
    metricsReporting: true,
    invokeIntervalMs: 30_000,
    timeoutMs: 5_000,
    maxOutputLength: 80,
    concurrency: 3,
    messageChangeUpdates: false,
    skipInitialStatus: false,
    conditions: [],
    rules: [],
    ...extra,
  };
}

/** The text of NPD's file `name`, with rule i's `path` replaced by paths[i]; nothing else changed. */
export function npdTextWithPaths(name: string, paths: readonly string[]): string {
  const json = JSON.parse(readFileSync(join(NPD_DIR, name), 'utf8')) as { rules: { path: string }[] };
  json.rules.forEach((r, i) => (r.path = paths[i] ?? r.path));
  return JSON.stringify(json);
}
