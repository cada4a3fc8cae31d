// plugin-file.test.ts: custom plugin files (NPD's custom-plugin-monitor format) through the
// production loader. NPD's shipped custom files load unchanged with NPD's defaults; bad files
// report every error with file, index and field; system-stats files are named as unsupported.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRuleFiles, parseRuleFile } from '../../agent/config/rule-files';
import { formatConfigError } from '../../agent/types';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NPD_DIR = join(REPO, 'test', 'fixtures', 'npd');
const CUSTOM = [
  'custom-plugin-monitor.json',
  'network-problem-monitor.json',
  'iptables-mode-monitor.json',
  'kernel-monitor-counter.json',
  'systemd-monitor-counter.json',
  'docker-monitor-counter.json',
  'health-checker-kubelet.json',
  'health-checker-containerd.json',
  'health-checker-docker.json',
];

const errorsOf = (obj: unknown): string[] => parseRuleFile('f.json', JSON.stringify(obj)).errors.map(formatConfigError);

const custom = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  plugin: 'custom',
  source: 'ntp-custom-plugin-monitor',
  conditions: [{ type: 'NTPProblem', reason: 'NTPIsUp', message: 'ntp service is up' }],
  rules: [{ type: 'permanent', condition: 'NTPProblem', reason: 'NTPIsDown', path: '/bin/true' }],
  ...extra,
});

describe("NPD's shipped custom plugin files", () => {
  it.each(CUSTOM)('%s loads unchanged as a plugin file', async (name) => {
    const r = await loadRuleFiles([join(NPD_DIR, name)]);
    expect(r.errors.map(formatConfigError)).toEqual([]);
    expect(r.files).toEqual([]);
    expect(r.plugins).toHaveLength(1);
    expect(r.plugins[0]?.rules.length).toBeGreaterThan(0);
  });

  it('gives custom-plugin-monitor.json its NPD meaning', async () => {
    const r = await loadRuleFiles([join(NPD_DIR, 'custom-plugin-monitor.json')]);
    expect(r.plugins[0]).toEqual({
      path: join(NPD_DIR, 'custom-plugin-monitor.json'),
      plugin: 'custom',
      component: 'ntp-custom-plugin-monitor',
      metricsReporting: true,
      invokeIntervalMs: 30_000,
      timeoutMs: 5_000,
      maxOutputLength: 80,
      concurrency: 3,
      messageChangeUpdates: false,
      skipInitialStatus: false,
      conditions: [{ type: 'NTPProblem', reason: 'NTPIsUp', message: 'ntp service is up' }],
      rules: [
        // A relative path is taken from the working directory, as NPD's exec does.
        {
          type: 'temporary',
          reason: 'NTPIsDown',
          path: resolve('./config/plugin/check_ntp.sh'),
          args: [],
          timeoutMs: 3_000,
        },
        {
          type: 'permanent',
          condition: 'NTPProblem',
          reason: 'NTPIsDown',
          path: resolve('./config/plugin/check_ntp.sh'),
          args: [],
          timeoutMs: 3_000,
        },
      ],
    });
  });

  it('keeps a counter rule argv exactly as written (no shell, no splitting)', async () => {
    const r = await loadRuleFiles([join(NPD_DIR, 'kernel-monitor-counter.json')]);
    const rule = r.plugins[0]?.rules[0];
    expect(rule?.path).toBe('/home/kubernetes/bin/log-counter');
    expect(rule?.args).toEqual([
      '--journald-source=kernel',
      '--log-path=/var/log/journal',
      '--lookback=20m',
      '--count=3',
      '--pattern=unregister_netdevice: waiting for \\w+ to become free. Usage count = \\d+',
    ]);
    expect(rule?.timeoutMs).toBe(60_000);
  });

  it('loads custom and log monitor files together, checking condition types across both', async () => {
    const r = await loadRuleFiles([join(NPD_DIR, 'kernel-monitor.json'), join(NPD_DIR, 'custom-plugin-monitor.json')]);
    expect(r.errors).toEqual([]);
    expect(r.files.map((f) => f.component)).toEqual(['kernel-monitor']);
    expect(r.plugins.map((f) => f.component)).toEqual(['ntp-custom-plugin-monitor']);
  });

  it('refuses a condition type that a log monitor file already declares', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewarden-plugin-file-'));
    try {
      const clash = join(dir, 'clash.json');
      const spec = custom({ conditions: [{ type: 'KernelDeadlock', reason: 'R' }], rules: [] });
      await writeFile(clash, JSON.stringify(spec));
      const r = await loadRuleFiles([join(NPD_DIR, 'kernel-monitor.json'), clash]);
      expect(r.errors.map(formatConfigError)).toEqual([
        `${clash}: conditions[0].type: duplicate condition type "KernelDeadlock" (already declared in ${join(NPD_DIR, 'kernel-monitor.json')} conditions[0].type)`,
      ]);
      expect(r.plugins).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('system-stats monitor files', () => {
  it.each(['system-stats-monitor.json', 'net-cgroup-system-stats-monitor.json'])(
    '%s gets a clear "not supported" error naming the file',
    async (name) => {
      const path = join(NPD_DIR, 'unsupported', name);
      const r = await loadRuleFiles([path]);
      expect(r.errors.map(formatConfigError)).toEqual([
        `${path}: this is a system-stats monitor file (NPD's system-stats-monitor format: cpu, disk, memory, ...), which nodewarden does not support; it runs log monitor files (kmsg, filelog) and custom plugin files`,
      ]);
      expect(r.files).toEqual([]);
      expect(r.plugins).toEqual([]);
    },
  );
});

describe('custom plugin file validation', () => {
  it('lists every error of a bad file with its field, in document order', () => {
    const path = join(REPO, 'test', 'fixtures', 'plugins', 'custom-errors.json');
    const r = parseRuleFile('custom-errors.json', readFileSync(path, 'utf8'));
    expect(r.file).toBeUndefined();
    expect(r.errors.map(formatConfigError)).toEqual([
      'custom-errors.json: unknown key "lookback" (a log monitor key; a custom plugin file runs programs and reads no log)',
      'custom-errors.json: pluginConfig: unknown key "invokeInterval" (did you mean "invoke_interval"?)',
      'custom-errors.json: pluginConfig.invoke_interval: unknown unit " seconds" in duration "30 seconds" (valid units are "ns", "us", "ms", "s", "m", "h")',
      'custom-errors.json: pluginConfig.max_output_length: must be between 0 and 4096, got 100000',
      'custom-errors.json: pluginConfig.concurrency: must be between 1 and 64, got 0',
      'custom-errors.json: pluginConfig.skip_initial_status: expected true or false, got string',
      'custom-errors.json: conditions[0]: unknown key "recoverAfter" (a plugin condition recovers when its plugin exits 0; recoverAfter is for log monitor files)',
      'custom-errors.json: rules[0].path: is required',
      'custom-errors.json: rules[1].condition: condition "NTPBroken" is not declared in "conditions" (declared: NTPProblem)',
      'custom-errors.json: rules[1].timeout: "10s" is longer than pluginConfig.timeout (5000 ms); NPD refuses this too',
      'custom-errors.json: rules[2]: unknown key "pattern" (a custom plugin rule runs "path"; it has no pattern)',
      'custom-errors.json: rules[2].type: expected "temporary" or "permanent", got "permanant"',
      'custom-errors.json: rules[2].reason: must not be empty',
      'custom-errors.json: rules[2].args[1]: expected a string, got number',
    ]);
  });

  it('checks argv, timeouts and the interval floor', () => {
    expect(errorsOf(custom({ pluginConfig: { invoke_interval: '500ms', timeout: '-1s' } }))).toEqual([
      'f.json: pluginConfig.invoke_interval: must be at least 1s, got "500ms"',
      expect.stringMatching(/^f\.json: pluginConfig\.timeout: /),
    ]);
    expect(
      errorsOf(custom({ rules: [{ type: 'temporary', reason: 'R', path: '/bin/x\u0000y', args: 'a b' }] })),
    ).toEqual([
      'f.json: rules[0].path: must not contain a NUL byte',
      'f.json: rules[0].args: expected an array of strings, got string',
    ]);
    expect(errorsOf(custom({ rules: [{ type: 'permanent', reason: 'R', path: '/bin/true' }] }))).toEqual([
      'f.json: rules[0].condition: is required for a permanent rule (the condition type it sets)',
    ]);
  });

  it('takes the shorter of rule and file timeouts, and the NPD defaults', () => {
    const r = parseRuleFile(
      'f.json',
      JSON.stringify(custom({ rules: [{ type: 'temporary', reason: 'R', path: '/bin/true', timeout: '2s' }] })),
    );
    expect(r.errors).toEqual([]);
    expect(r.plugin).toMatchObject({
      invokeIntervalMs: 30_000,
      timeoutMs: 5_000,
      maxOutputLength: 80,
      concurrency: 3,
      messageChangeUpdates: false,
      skipInitialStatus: false,
      metricsReporting: true,
      rules: [{ timeoutMs: 2_000, args: [] }],
    });
  });
});
