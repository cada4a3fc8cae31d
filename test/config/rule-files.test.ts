// rule-files.test.ts: the rule-file loader and validator. NPD's shipped files and every file in
// rules/ must load unchanged; bad files must report every error at once, exactly.
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editDistance, loadRuleFiles, parseRuleFile } from '../../agent/config/rule-files';
import { compiledRules, keptCompiled } from '../../agent/engine/compiled-rules';
import { formatConfigError, type ConfigError } from '../../agent/types';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const RULES_DIR = join(REPO, 'rules');
/** NPD's shipped rule files, unchanged (see its SOURCE.md). */
const NPD_DIR = join(REPO, 'test', 'fixtures', 'npd');
const FIXTURES = join(REPO, 'test', 'fixtures', 'rules');

const lines = (errors: readonly ConfigError[]): string[] => errors.map(formatConfigError);

/** Parses `obj` (as JSON) and returns the formatted error lines. */
function errorsOf(obj: unknown): string[] {
  return lines(parseRuleFile('f.json', JSON.stringify(obj)).errors);
}

const kmsg = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  plugin: 'kmsg',
  source: 'kernel-monitor',
  conditions: [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'kernel has no deadlock' }],
  rules: [{ type: 'temporary', reason: 'OOMKilling', pattern: 'Killed process \\d+' }],
  ...extra,
});

describe('shipped rule files', () => {
  const jsonIn = (dir: string): string[] =>
    readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort()
      .map((n) => join(dir, n));

  it("holds NPD's shipped kmsg, filelog, journald and custom plugin files", () => {
    expect(existsSync(NPD_DIR)).toBe(true);
    expect(jsonIn(NPD_DIR).map((p) => p.slice(NPD_DIR.length + 1))).toEqual([
      'abrt-adaptor.json',
      'custom-plugin-monitor.json',
      'docker-monitor-counter.json',
      'docker-monitor.json',
      'health-checker-containerd.json',
      'health-checker-docker.json',
      'health-checker-kubelet.json',
      'iptables-mode-monitor.json',
      'kernel-monitor-counter.json',
      'kernel-monitor-filelog.json',
      'kernel-monitor.json',
      'network-problem-monitor.json',
      'readonly-monitor.json',
      'systemd-monitor-counter.json',
      'systemd-monitor.json',
    ]);
  });

  it('loads every file in rules/ and in test/fixtures/npd/ on its own with zero errors', async () => {
    const all = [...jsonIn(RULES_DIR), ...jsonIn(NPD_DIR)];
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const path of all) {
      const r = await loadRuleFiles([path]);
      expect(lines(r.errors), path).toEqual([]);
      const loaded = [...r.files, ...r.plugins];
      expect(loaded).toHaveLength(1);
      expect(loaded[0]?.rules.length, path).toBeGreaterThan(0);
    }
  });

  it('loads the rules/ directory as a whole with zero errors', async () => {
    const r = await loadRuleFiles([RULES_DIR]);
    expect(lines(r.errors)).toEqual([]);
    expect(r.files.map((f) => f.component).sort()).toEqual(['kernel-monitor', 'readonly-monitor']);
  });

  it('gives NPD kernel-monitor.json its NPD meaning', async () => {
    const r = await loadRuleFiles([join(NPD_DIR, 'kernel-monitor.json')]);
    const f = r.files[0];
    expect(f).toMatchObject({
      plugin: 'kmsg',
      logPath: '/dev/kmsg',
      lookbackMs: 300_000,
      delayMs: 0,
      bufferSize: 10,
      component: 'kernel-monitor',
      metricsReporting: true,
      skipList: [],
      pluginConfig: {},
    });
    expect(f?.conditions.map((c) => c.type)).toEqual(['KernelDeadlock', 'XfsShutdown', 'CperHardwareErrorFatal']);
    expect(f?.conditions[0]).toEqual({
      type: 'KernelDeadlock',
      reason: 'KernelHasNoDeadlock',
      message: 'kernel has no deadlock',
    });
    expect(f?.rules).toHaveLength(14);
    expect(f?.rules.at(-1)).toEqual({
      type: 'permanent',
      condition: 'KernelDeadlock',
      reason: 'DockerHung',
      pattern: 'task docker:\\w+ blocked for more than \\w+ seconds\\.',
    });
  });

  it('gives NPD kernel-monitor-filelog.json its pluginConfig', async () => {
    const r = await loadRuleFiles([join(NPD_DIR, 'kernel-monitor-filelog.json')]);
    expect(r.files[0]).toMatchObject({
      plugin: 'filelog',
      logPath: '/var/log/kern.log',
      pluginConfig: { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' },
      metricsReporting: true,
    });
  });

  it("flags the three real conflicts when all of NPD's files load together", async () => {
    // Both kernel monitors declare KernelDeadlock, both container-runtime health checkers
    // ContainerRuntimeUnhealthy, docker-monitor.json and its counter variant CorruptDockerOverlay2:
    // each pair is alternatives, and running both would make two monitors fight over the condition.
    const r = await loadRuleFiles([NPD_DIR]);
    expect(lines(r.errors)).toEqual([
      `${join(NPD_DIR, 'docker-monitor.json')}: conditions[0].type: duplicate condition type "CorruptDockerOverlay2" (already declared in ${join(NPD_DIR, 'docker-monitor-counter.json')} conditions[0].type)`,
      `${join(NPD_DIR, 'health-checker-docker.json')}: conditions[0].type: duplicate condition type "ContainerRuntimeUnhealthy" (already declared in ${join(NPD_DIR, 'health-checker-containerd.json')} conditions[0].type)`,
      `${join(NPD_DIR, 'kernel-monitor.json')}: conditions[0].type: duplicate condition type "KernelDeadlock" (already declared in ${join(NPD_DIR, 'kernel-monitor-filelog.json')} conditions[0].type)`,
    ]);
    expect(r.files.map((f) => f.path)).toEqual([
      join(NPD_DIR, 'abrt-adaptor.json'),
      join(NPD_DIR, 'kernel-monitor-filelog.json'),
      join(NPD_DIR, 'readonly-monitor.json'),
      join(NPD_DIR, 'systemd-monitor.json'),
    ]);
  });
});

describe('fixtures', () => {
  it('loads the good fixtures with zero errors', async () => {
    const r = await loadRuleFiles([join(FIXTURES, 'good')]);
    expect(lines(r.errors)).toEqual([]);
    expect(r.files.map((f) => f.component)).toEqual(['quirks-monitor', 'containerd-monitor', 'docker-monitor']);
  });

  it('docker-monitor-filelog: RFC 3339 timestampFormat, empty conditions', async () => {
    const r = await loadRuleFiles([join(FIXTURES, 'good', 'docker-monitor-filelog.json')]);
    expect(r.files[0]).toMatchObject({
      plugin: 'filelog',
      logPath: '/var/log/docker.log',
      pluginConfig: {
        timestamp: '^time="(\\S*)"',
        message: 'msg="([^\\n]*)"',
        timestampFormat: '2006-01-02T15:04:05.999999999Z07:00',
      },
      conditions: [],
    });
  });

  it('containerd-monitor: extensions and every optional field', async () => {
    const r = await loadRuleFiles([join(FIXTURES, 'good', 'containerd-monitor-filelog.json')]);
    const f = r.files[0];
    expect(f).toMatchObject({
      lookbackMs: 600_000,
      delayMs: 30_000,
      bufferSize: 5,
      metricsReporting: false,
      skipList: ['level=debug', 'level=info'],
    });
    expect(f?.conditions[0]?.recoverAfterMs).toBe(900_000);
    expect(f?.rules[0]?.patternGeneratedMessageSuffix).toBe('see https://github.com/containerd/containerd/issues');
    // A temporary rule's condition is ignored, as in NPD.
    expect(f?.rules[1]).toEqual({
      type: 'temporary',
      reason: 'ShimReaped',
      pattern: 'level=warning msg="cleaning up after shim disconnected".*',
    });
  });

  it('quirks NPD accepts: case-insensitive keys, nulls, bufferSize 0, condition status/transition', async () => {
    const r = await loadRuleFiles([join(FIXTURES, 'good', 'case-and-nulls.json')]);
    expect(r.files[0]).toMatchObject({ plugin: 'kmsg', logPath: '/dev/kmsg', bufferSize: 10, skipList: [] });
    expect(r.files[0]?.conditions[0]).toEqual({ type: 'NvidiaXid', reason: 'NoXidErrors', message: '' });
  });

  it('reports every error of a bad file at once, in document order', async () => {
    const f = join(FIXTURES, 'bad', 'many-errors.json');
    const r = await loadRuleFiles([f]);
    expect(r.files).toEqual([]);
    expect(lines(r.errors)).toEqual(
      [
        'pluginConfig: unknown key "mesage" (did you mean "message"?)',
        'pluginConfig.message: is required for plugin filelog',
        'pluginConfig.timestamp: invalid RE2 pattern: missing ): ^(\\d+',
        'pluginConfig.timestampFormat: "%b %d %H:%M:%S" looks like strftime; use a Go reference-time layout such as "Jan _2 15:04:05" or "2006-01-02T15:04:05.999999999Z07:00"',
        'logPath: is required for plugin filelog',
        'lookback: unknown unit " minutes" in duration "5 minutes" (valid units are "ns", "us", "ms", "s", "m", "h")',
        'delay: duration "-1s" must not be negative',
        'bufferSize: expected an integer, got 10.5',
        'source: must not be empty',
        'metricsReporting: expected true or false, got string',
        'skipList[1]: must not be empty (an empty entry would skip every line)',
        'conditions[1].recoverAfter: duration "0s" must be greater than zero',
        'conditions[1].type: duplicate condition type "KernelDeadlock" (already declared at conditions[0].type)',
        'conditions[2].type: must not be empty',
        'conditions[3].reason: is required',
        'conditions[3].recoverAfter: unknown unit "d" in duration "1d" (valid units are "ns", "us", "ms", "s", "m", "h")',
        'rules[0].pattern: invalid RE2 pattern: invalid perl operator: (?=',
        'rules[1].pattern: invalid RE2 pattern: invalid escape sequence: \\1',
        'rules[2].condition: is required for a permanent rule (the condition type it sets)',
        'rules[3].condition: condition "Undeclared" is not declared in "conditions" (declared: KernelDeadlock, Frozen)',
        'rules[4]: unknown key "paterns" (did you mean "pattern"?)',
        'rules[4].pattern: is required',
        'rules[5].type: expected "temporary" or "permanent", got "sometimes"',
        'rules[5].reason: must not be empty',
        'rules[5].pattern: invalid RE2 pattern: missing ]: [',
        "rules[6].pattern: pattern does not compile in an RE2.Set (the engine's prefilter): RE2.Set could not be compiled.",
        'rules[7]: duplicate key "pattern" (JSON keeps only the last one)',
        'rules[8]: expected an object, got string',
      ].map((l) => `${f}: ${l}`),
    );
  });

  it('reports a JSON syntax error with line and column', async () => {
    const f = join(FIXTURES, 'bad', 'syntax.json');
    const r = await loadRuleFiles([f]);
    expect(lines(r.errors)).toEqual([
      `${f}: invalid JSON at line 6, column 5: unexpected character "{", expected "," or "]" after array element`,
    ]);
  });

  it('lists every error of a journald file: unknown pluginConfig key, missing source, bad duration', async () => {
    const f = join(FIXTURES, 'bad', 'journald.json');
    const r = await loadRuleFiles([f]);
    expect(lines(r.errors)).toEqual([
      `${f}: pluginConfig: unknown key "sorce" (did you mean "source"?)`,
      `${f}: pluginConfig.source: is required for plugin journald (the SYSLOG_IDENTIFIER to read)`,
      `${f}: lookback: unknown unit " minutes" in duration "5 minutes" (valid units are "ns", "us", "ms", "s", "m", "h")`,
    ]);
  });

  it("gives NPD's docker-monitor.json its NPD meaning: SYSLOG_IDENTIFIER dockerd in /var/log/journal", async () => {
    const r = await loadRuleFiles([join(NPD_DIR, 'docker-monitor.json')]);
    expect(lines(r.errors)).toEqual([]);
    expect(r.files[0]).toMatchObject({
      plugin: 'journald',
      pluginConfig: { source: 'dockerd' },
      logPath: '/var/log/journal',
      lookbackMs: 300_000,
      bufferSize: 10,
      component: 'docker-monitor',
    });
  });

  it('defaults a journald logPath to /var/log/journal and refuses timestamp keys in its pluginConfig', () => {
    const ok = parseRuleFile(
      'j.json',
      JSON.stringify({ plugin: 'journald', pluginConfig: { source: 'kubelet' }, source: 's' }),
    );
    expect(ok.file?.logPath).toBe('/var/log/journal');
    const bad = parseRuleFile(
      'j.json',
      JSON.stringify({ plugin: 'journald', pluginConfig: { source: '', timestamp: 'x' }, source: 's' }),
    );
    expect(lines(bad.errors)).toEqual([
      'j.json: pluginConfig: unknown key "timestamp" (known keys: source)',
      'j.json: pluginConfig.source: must not be empty',
    ]);
  });

  it('reads every file of every path and reports all their errors together', async () => {
    const r = await loadRuleFiles([join(FIXTURES, 'bad'), join(FIXTURES, 'good'), RULES_DIR]);
    const files = new Set(r.errors.map((e) => e.file));
    expect([...files]).toEqual(
      ['journald.json', 'many-errors.json', 'syntax.json']
        .map((n) => join(FIXTURES, 'bad', n))
        .concat(join(RULES_DIR, 'kernel-monitor.json')),
    );
    expect(r.errors).toHaveLength(3 + 28 + 1 + 1);
    // The invalid many-errors.json still declares KernelDeadlock, so rules/ clashes with it.
    expect(lines(r.errors).at(-1)).toBe(
      `${join(RULES_DIR, 'kernel-monitor.json')}: conditions[0].type: duplicate condition type "KernelDeadlock" (already declared in ${join(FIXTURES, 'bad', 'many-errors.json')} conditions[0].type)`,
    );
    expect(r.files.map((f) => f.component)).toEqual([
      'quirks-monitor',
      'containerd-monitor',
      'docker-monitor',
      'readonly-monitor',
    ]);
  });
});

describe('parseRuleFile', () => {
  it('accepts a minimal kmsg file with NPD defaults', () => {
    const r = parseRuleFile('f.json', JSON.stringify({ plugin: 'kmsg', source: 's' }));
    expect(r.errors).toEqual([]);
    expect(r.file).toEqual({
      path: 'f.json',
      plugin: 'kmsg',
      pluginConfig: {},
      logPath: '/dev/kmsg',
      lookbackMs: 0,
      delayMs: 0,
      bufferSize: 10,
      component: 's',
      metricsReporting: true,
      skipList: [],
      conditions: [],
      rules: [],
    });
  });

  it('keeps an explicit kmsg logPath', () => {
    expect(parseRuleFile('f.json', JSON.stringify(kmsg({ logPath: '/tmp/fake-kmsg' }))).file?.logPath).toBe(
      '/tmp/fake-kmsg',
    );
  });

  it('requires plugin and source', () => {
    expect(errorsOf({})).toEqual(['f.json: plugin: is required', 'f.json: source: is required']);
    expect(errorsOf({ plugin: 'kmsg', source: '   ' })).toEqual(['f.json: source: must not be empty']);
  });

  it('names unsupported plugins', () => {
    expect(errorsOf(kmsg({ plugin: 'systemd' }))).toEqual([
      'f.json: plugin: unknown plugin "systemd" (expected "kmsg", "filelog", "journald" or "custom")',
    ]);
    // A custom plugin file is validated as one (test/config/plugin-file.test.ts): a log rule's
    // pattern is not a plugin rule's key.
    expect(errorsOf(kmsg({ plugin: 'custom' }))).toEqual([
      'f.json: rules[0]: unknown key "pattern" (a custom plugin rule runs "path"; it has no pattern)',
      'f.json: rules[0].path: is required',
    ]);
    expect(errorsOf(kmsg({ plugin: 7 }))).toEqual(['f.json: plugin: expected a string, got number']);
  });

  it('requires filelog pluginConfig and logPath', () => {
    expect(errorsOf(kmsg({ plugin: 'filelog' }))).toEqual([
      'f.json: pluginConfig: is required for plugin filelog (timestamp, message, timestampFormat)',
      'f.json: logPath: is required for plugin filelog',
    ]);
    expect(
      errorsOf(
        kmsg({
          plugin: 'filelog',
          logPath: '',
          pluginConfig: { timestamp: '', message: 3, timestampFormat: 'Jan _2 15:04:05' },
        }),
      ),
    ).toEqual([
      'f.json: pluginConfig.timestamp: must not be empty',
      'f.json: pluginConfig.message: expected a string, got number',
      'f.json: logPath: must not be empty',
    ]);
    expect(errorsOf(kmsg({ plugin: 'filelog', logPath: '/x', pluginConfig: 'kernel' }))).toEqual([
      'f.json: pluginConfig: expected an object, got string',
    ]);
  });

  it('accepts a filelog message regex without a capture group (NPD then uses the whole match)', () => {
    const r = parseRuleFile(
      'f.json',
      JSON.stringify(
        kmsg({
          plugin: 'filelog',
          logPath: '/var/log/kern.log',
          pluginConfig: { timestamp: '^.{15}', message: 'kernel: .*', timestampFormat: 'Jan _2 15:04:05' },
        }),
      ),
    );
    expect(r.errors).toEqual([]);
  });

  it('suggests the nearest key for typos, at every level', () => {
    expect(errorsOf(kmsg({ lookbak: '5m', bufferSise: 3 }))).toEqual([
      'f.json: unknown key "lookbak" (did you mean "lookback"?)',
      'f.json: unknown key "bufferSise" (did you mean "bufferSize"?)',
    ]);
    expect(errorsOf(kmsg({ conditions: [{ tpye: 'A', reason: 'B', mesage: 'C' }] }))).toEqual([
      'f.json: conditions[0]: unknown key "tpye" (did you mean "type"?)',
      'f.json: conditions[0]: unknown key "mesage" (did you mean "message"?)',
      'f.json: conditions[0].type: is required',
    ]);
    expect(
      errorsOf(kmsg({ rules: [{ type: 'temporary', reason: 'R', pattern: 'x', patternGeneratedMessageSufix: 's' }] })),
    ).toEqual([
      'f.json: rules[0]: unknown key "patternGeneratedMessageSufix" (did you mean "patternGeneratedMessageSuffix"?)',
    ]);
    expect(errorsOf(kmsg({ frobnicate: true }))).toEqual([
      'f.json: unknown key "frobnicate" (known keys: plugin, pluginConfig, logPath, lookback, delay, bufferSize, source, metricsReporting, skipList, conditions, rules)',
    ]);
  });

  it('says where a misplaced key belongs', () => {
    expect(errorsOf(kmsg({ timestampFormat: 'Jan _2 15:04:05' }))).toEqual([
      'f.json: unknown key "timestampFormat" (it belongs in "pluginConfig")',
    ]);
    expect(errorsOf(kmsg({ rules: [{ type: 'temporary', reason: 'R', pattern: 'x', recoverAfter: '5m' }] }))).toEqual([
      'f.json: rules[0]: unknown key "recoverAfter" (it belongs on the condition, in "conditions")',
    ]);
  });

  it('reports a key spelled twice in different case', () => {
    expect(errorsOf(kmsg({ source: 'a', Source: 'b' }))).toEqual([
      'f.json: key "Source" duplicates "source" (keys match case-insensitively)',
    ]);
  });

  it('catches wrong types everywhere', () => {
    expect(
      errorsOf(
        kmsg({
          lookback: 300,
          delay: true,
          bufferSize: '10',
          metricsReporting: 1,
          skipList: 'x',
          conditions: {},
          rules: 'r',
        }),
      ),
    ).toEqual([
      'f.json: lookback: expected a duration string such as "5m" or "30s", got number',
      'f.json: delay: expected a duration string such as "5m" or "30s", got boolean',
      'f.json: bufferSize: expected an integer, got string',
      'f.json: metricsReporting: expected true or false, got number',
      'f.json: skipList: expected an array of strings, got string',
      'f.json: conditions: expected an array, got object',
      'f.json: rules: expected an array, got string',
    ]);
    expect(errorsOf(kmsg({ skipList: ['a', 2, null] }))).toEqual([
      'f.json: skipList[1]: expected a string, got number',
      'f.json: skipList[2]: expected a string, got null',
    ]);
    expect(errorsOf('str')).toEqual(['f.json: expected a JSON object at the top level, got string']);
    expect(errorsOf([])).toEqual(['f.json: expected a JSON object at the top level, got array']);
  });

  it('bounds bufferSize', () => {
    expect(parseRuleFile('f.json', JSON.stringify(kmsg({ bufferSize: 1 }))).file?.bufferSize).toBe(1);
    expect(parseRuleFile('f.json', JSON.stringify(kmsg({ bufferSize: 1000 }))).file?.bufferSize).toBe(1000);
    expect(errorsOf(kmsg({ bufferSize: -1 }))).toEqual([
      'f.json: bufferSize: must be between 1 and 1000 (0 means the default, 10), got -1',
    ]);
    expect(errorsOf(kmsg({ bufferSize: 1001 }))).toEqual([
      'f.json: bufferSize: must be between 1 and 1000 (0 means the default, 10), got 1001',
    ]);
  });

  it('checks conditions named by permanent rules and ignores them on temporary rules', () => {
    expect(errorsOf(kmsg({ rules: [{ type: 'permanent', condition: '', reason: 'R', pattern: 'x' }] }))).toEqual([
      'f.json: rules[0].condition: is required for a permanent rule (the condition type it sets)',
    ]);
    expect(
      errorsOf(
        kmsg({
          conditions: [],
          rules: [{ type: 'permanent', condition: 'KernelDeadlock', reason: 'R', pattern: 'x' }],
        }),
      ),
    ).toEqual(['f.json: rules[0].condition: condition "KernelDeadlock" is not declared in "conditions"']);
    const r = parseRuleFile(
      'f.json',
      JSON.stringify(kmsg({ rules: [{ type: 'temporary', condition: 'Nowhere', reason: 'R', pattern: 'x' }] })),
    );
    expect(r.errors).toEqual([]);
    expect(r.file?.rules[0]).toEqual({ type: 'temporary', reason: 'R', pattern: 'x' });
  });

  it('a condition declared after the rule that names it is fine (NPD reads the whole file)', () => {
    const text =
      '{"plugin":"kmsg","source":"s","rules":[{"type":"permanent","condition":"C","reason":"R","pattern":"x"}],"conditions":[{"type":"C","reason":"Ok"}]}';
    expect(parseRuleFile('f.json', text).errors).toEqual([]);
  });

  it.each([
    ['foo(?!bar)', 'invalid RE2 pattern: invalid perl operator: (?!'],
    ['(?<=a)b', 'invalid RE2 pattern: invalid perl operator: (?<='],
    ['(?P=name)', 'invalid RE2 pattern: invalid perl operator: (?P'],
    ['a**', 'invalid RE2 pattern: bad repetition operator: **'],
    ['x{1001}', 'invalid RE2 pattern: invalid repetition size: {1001}'],
    ['trailing\\', 'invalid RE2 pattern: trailing \\'],
    ['\\pL{500}', 'invalid RE2 pattern: pattern too large - compile failed'],
  ])("reports RE2's own message for %s", (pattern, message) => {
    expect(errorsOf(kmsg({ rules: [{ type: 'temporary', reason: 'R', pattern }] }))).toEqual([
      `f.json: rules[0].pattern: ${message}`,
    ]);
  });

  it('accepts Go/RE2 syntax NPD users write', () => {
    for (const pattern of [
      '[[:space:]]+x',
      '\\Qa.b\\E',
      '(?i)oom',
      '(?s:.)+',
      '\\x{41}\\pL\\p{Greek}',
      '(?P<pid>\\d+)',
      'end\\z',
      '.*\\[Hardware Error\\]: event severity: fatal$',
    ]) {
      expect(errorsOf(kmsg({ rules: [{ type: 'temporary', reason: 'R', pattern }] })), pattern).toEqual([]);
    }
  });

  it('checks that the single-line patterns of a file compile together in the prefilter, as the engine compiles them', () => {
    // A class of 1,024 code points in 512 ranges: each pattern compiles alone in a set; together
    // they exceed the set's default memory budget.
    let cls = '[';
    for (let c = 0x100; c < 0x800; c += 2) cls += String.fromCodePoint(c);
    cls += ']';
    const rules = ['a', 'b'].map((p) => ({ type: 'temporary', reason: `R${p}`, pattern: `${p}${cls}{150}` }));
    expect(errorsOf(kmsg({ rules }))).toEqual([
      "f.json: rules: the patterns of this file do not compile together in an RE2.Set (the engine's prefilter): RE2.Set could not be compiled.",
    ]);
    // \pL may match across lines (mayCrossLines), so these run on the joined buffer, outside the
    // prefilter: the engine compiles them fine, and so the loader accepts them.
    const slow = ['a', 'b'].map((p) => ({ type: 'temporary', reason: `R${p}`, pattern: `${p}\\pL{100}` }));
    expect(errorsOf(kmsg({ rules: slow }))).toEqual([]);
  });

  it('keeps the compiled rules with the file, so the engine does not compile them again', () => {
    const r = parseRuleFile(
      'f.json',
      JSON.stringify(kmsg({ rules: [{ type: 'temporary', reason: 'R', pattern: 'x \\d+' }] })),
    );
    const kept = keptCompiled(r.file!);
    expect(kept?.rules.map((c) => c.spec)).toEqual(r.file!.rules);
    expect(compiledRules(r.file!)).toBe(kept);
    expect(kept!.prefilter.test(Buffer.from('x 12'))).toBe(true);
    expect(kept!.prefilter.test(Buffer.from('x 12 y'))).toBe(false);
  });

  it('reports an empty file plainly', () => {
    expect(lines(parseRuleFile('f.json', ' \n').errors)).toEqual(['f.json: file is empty']);
  });
});

describe('loadRuleFiles on disk', () => {
  let dir: string;
  const good = (source: string, cond = `${source}Problem`): string =>
    JSON.stringify({ plugin: 'kmsg', source, conditions: [{ type: cond, reason: 'Fine' }], rules: [] });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-rules-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads a directory's *.json files sorted, skipping dotfiles, other files and subdirectories", async () => {
    await writeFile(join(dir, 'b.json'), good('b'));
    await writeFile(join(dir, 'a.json'), good('a'));
    await writeFile(join(dir, '.hidden.json'), '{broken');
    await writeFile(join(dir, 'notes.txt'), 'not json');
    await writeFile(join(dir, 'c.json.bak'), '{broken');
    await mkdir(join(dir, 'sub.json'));
    await writeFile(join(dir, 'sub.json', 'x.json'), '{broken');
    const r = await loadRuleFiles([dir]);
    expect(lines(r.errors)).toEqual([]);
    expect(r.files.map((f) => f.component)).toEqual(['a', 'b']);
    expect(r.files[0]?.path).toBe(join(dir, 'a.json'));
  });

  it('loads a mounted ConfigMap directory: top-level symlinks once each, ..data ignored', async () => {
    const ts = join(dir, '..2026_01_01_00_00_00.000000001');
    await mkdir(ts);
    await writeFile(join(ts, 'kernel.json'), good('kernel'));
    await writeFile(join(ts, 'readonly.json'), good('readonly'));
    await symlink('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    await symlink('..data/kernel.json', join(dir, 'kernel.json'));
    await symlink('..data/readonly.json', join(dir, 'readonly.json'));
    await symlink('..data/gone.json', join(dir, 'gone.json')); // dangling during a swap
    const r = await loadRuleFiles([dir]);
    expect(lines(r.errors)).toEqual([]);
    expect(r.files.map((f) => f.path)).toEqual([join(dir, 'kernel.json'), join(dir, 'readonly.json')]);
  });

  it('loads a file reached twice only once', async () => {
    await writeFile(join(dir, 'a.json'), good('a'));
    await symlink('a.json', join(dir, 'alias.json'));
    const r = await loadRuleFiles([dir, join(dir, 'a.json')]);
    expect(lines(r.errors)).toEqual([]);
    expect(r.files).toHaveLength(1);
  });

  it('reports a duplicate condition type across files on the second file', async () => {
    await writeFile(join(dir, 'a.json'), good('a', 'Shared'));
    await writeFile(join(dir, 'b.json'), good('b', 'Shared'));
    const r = await loadRuleFiles([dir]);
    expect(lines(r.errors)).toEqual([
      `${join(dir, 'b.json')}: conditions[0].type: duplicate condition type "Shared" (already declared in ${join(dir, 'a.json')} conditions[0].type)`,
    ]);
    expect(r.files.map((f) => f.component)).toEqual(['a']);
  });

  it('reports missing paths, empty directories and oversized files, and still loads the rest', async () => {
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'big.json'), ' '.repeat((1 << 20) + 1));
    await writeFile(join(dir, 'ok.json'), good('ok'));
    const r = await loadRuleFiles([
      join(dir, 'nope.json'),
      join(dir, 'empty'),
      join(dir, 'big.json'),
      join(dir, 'ok.json'),
    ]);
    expect(lines(r.errors)).toEqual([
      `${join(dir, 'nope.json')}: cannot read: no such file or directory`,
      `${join(dir, 'empty')}: directory has no *.json rule files`,
      `${join(dir, 'big.json')}: file is larger than 1048576 bytes`,
    ]);
    expect(r.files.map((f) => f.component)).toEqual(['ok']);
  });
});

describe('editDistance', () => {
  it('counts edits and transpositions', () => {
    expect(editDistance('pattern', 'pattern')).toBe(0);
    expect(editDistance('paterns', 'pattern')).toBe(2);
    expect(editDistance('tpye', 'type')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
