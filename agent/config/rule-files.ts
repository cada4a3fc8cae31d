// rule-files.ts: loads and validates rule files in node-problem-detector's system-log-monitor
// format (kernel-monitor.json and friends) into RuleFile objects. Every file is read and every
// error reported at once, as ConfigError {file, field, message}. Runs at start and on reload,
// never per log line. Rule patterns are compiled here exactly as the engine runs them
// (engine/compiled-rules.ts), and the compiled forms are kept with the RuleFile for the engine.
// Custom plugin files (`"plugin": "custom"`) are validated by plugin-file.ts into PluginFiles.
//
// ## Rule file format (for the README)
//
// A rule file is NPD's system-log-monitor JSON. NPD's shipped kernel-monitor.json,
// kernel-monitor-filelog.json, readonly-monitor.json, docker-monitor.json, systemd-monitor.json
// and abrt-adaptor.json load unchanged. Fields and defaults:
//
// | key                | type     | default       | notes                                                    |
// |--------------------|----------|---------------|----------------------------------------------------------|
// | `plugin`           | string   | (required)    | `kmsg`, `filelog` or `journald`.                         |
// | `pluginConfig`     | object   | `{}`          | filelog: `timestamp`, `message`, `timestampFormat`, all  |
// |                    |          |               | required. The message is the LAST capture group of      |
// |                    |          |               | `message` (the whole match if it has none), as in NPD.  |
// |                    |          |               | journald: `source` (SYSLOG_IDENTIFIER), required.        |
// | `logPath`          | string   | `/dev/kmsg`   | kmsg: default `/dev/kmsg`. filelog: required. journald:  |
// |                    |          |               | the journal directory, default `/var/log/journal`.       |
// | `lookback`         | duration | `0`           | Go duration ("5m"). Not negative.                        |
// | `delay`            | duration | `0`           | Go duration. Not negative.                               |
// | `bufferSize`       | integer  | `10`          | 1..1000 lines; 0 means the default, as in NPD.           |
// | `source`           | string   | (required)    | Event source component, e.g. `kernel-monitor`.           |
// | `metricsReporting` | bool     | `true`        | NPD's default.                                           |
// | `skipList`         | string[] | `[]`          | Lines containing any entry are ignored. No empty entry.  |
// | `conditions`       | array    | `[]`          | `{type, reason, message?, recoverAfter?}`                |
// | `rules`            | array    | `[]`          | `{type, condition?, reason, pattern,                     |
// |                    |          |               |   patternGeneratedMessageSuffix?}`                       |
//
// ## Extensions to NPD's format
//
// - `conditions[].recoverAfter` (Go duration, > 0): when no permanent rule for that condition
//   has matched for this long, the condition goes back to False with its default reason and
//   message. NPD conditions never recover (NPD #449). Without it, nodewarden behaves as NPD.
//
// ## Where nodewarden is stricter than NPD (NPD accepts these silently and misbehaves)
//
// - Unknown keys are errors, with the nearest known key suggested ("did you mean ...?").
//   Keys match case-insensitively, as Go's encoding/json does ("LogPath" is `logPath`).
// - A key given twice in one object is an error (JSON keeps only the last one).
// - `plugin` is required; a `rules[].type` other than temporary/permanent is an error (NPD
//   treats anything but "temporary" as permanent).
// - A permanent rule must name a `condition` declared in the same file's `conditions` (NPD
//   silently never fires it). A condition type declared twice, in one file or across the loaded
//   files, is an error on the second declaration (two monitors would fight over it).
// - `source`, `conditions[].type`, `conditions[].reason`, `rules[].reason` and
//   `rules[].pattern` must be non-empty. `conditions[].message` may be empty.
// - Patterns must be valid RE2 (no lookaround, no backreferences); the error is RE2's own. A
//   pattern must also compile inside an RE2.Set (the engine's prefilter, which has a memory
//   budget), alone and together with the other patterns of its file.
// - filelog `timestamp` and `message` must be valid RE2; `timestampFormat` is a Go layout
//   ("Jan _2 15:04:05"), so a strftime-style "%b %d" is an error.
// - An empty string in `skipList` is an error (it would skip every line).
// - A negative `lookback`/`delay`, or a `bufferSize` outside 0..1000, is an error.
//
// ## Accepted and ignored, as in NPD
//
// - `condition` on a temporary rule: NPD documents it as ignored, and so does nodewarden (no
//   error, since NPD's own files may carry it; warnings have no channel at load time).
// - `conditions[].status` and `conditions[].transition` (fields of NPD's Condition type):
//   conditions always start False.
// - `pluginConfig` of a kmsg file (only the three known keys are allowed).
// - A JSON `null` value means "not set", as with Go's encoding/json.
//
// ## Loading paths
//
// `--rules` takes files and directories. A directory contributes its `*.json` files, sorted,
// not recursively; names starting with "." are skipped, so a mounted ConfigMap's `..data` and
// `..2026_...` directories are ignored and each top-level `name.json -> ..data/name.json`
// symlink is loaded once. A dangling symlink inside a directory is skipped (it exists only for
// a moment while the kubelet swaps a ConfigMap); a named file that is missing is an error, and
// so is a directory with no `*.json` file. A file reached twice (same real path) loads once.
// Rule files larger than 1 MiB are refused.
import { readdirSync } from 'node:fs';
import { readFile, readdir, realpath, stat } from '../runtime/fs-async';
import { join, resolve as resolvePath } from 'node:path';
import RE2 from 're2';
import { errText } from '../runtime/err-text';
import { compileRule, compileRulePrefilter, keepCompiled, type CompiledRule } from '../engine/compiled-rules';
import type { Prefilter } from '../engine/prefilter';
import type { ConfigError, PluginConfig, PluginFile, RuleFile, RuleKind, RuleSpec } from '../types';
import { isCustomPluginFile, looksLikeSystemStats, parsePluginFile, SYSTEM_STATS_ERROR } from './plugin-file';
import { parseJson, type JsonValue } from './json-parse';
import {
  arrayOf,
  checkPermanentCondition,
  duration,
  isObject,
  readConditions,
  readKeys,
  report,
  reportUnreadDuplicates,
  str,
  typeName,
  type Ctx,
  type DeclaredCondition,
} from './rule-fields';

export { editDistance } from './rule-fields';

export const DEFAULT_BUFFER_SIZE = 10;
export const MAX_BUFFER_SIZE = 1000;
export const DEFAULT_KMSG_PATH = '/dev/kmsg';
/** NPD's journald default: the persistent journal. Hosts with only a volatile one use /run/log/journal. */
export const DEFAULT_JOURNAL_PATH = '/var/log/journal';
export const MAX_RULE_FILE_BYTES = 1 << 20;

const TOP_KEYS = [
  'plugin',
  'pluginConfig',
  'logPath',
  'lookback',
  'delay',
  'bufferSize',
  'source',
  'metricsReporting',
  'skipList',
  'conditions',
  'rules',
] as const;
const PLUGIN_CONFIG_KEYS = ['timestamp', 'message', 'timestampFormat'] as const;
/** journald's pluginConfig: the SYSLOG_IDENTIFIER to read, as in NPD. */
const JOURNALD_PLUGIN_CONFIG_KEYS = ['source'] as const;
const CONDITION_KEYS = ['type', 'reason', 'message', 'recoverAfter'] as const;
const CONDITION_IGNORED_KEYS = ['status', 'transition'] as const;
const RULE_KEYS = ['type', 'condition', 'reason', 'pattern', 'patternGeneratedMessageSuffix'] as const;

/** Hints for keys that are known, but at another level of the file. */
const MISPLACED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  top: {
    timestamp: 'it belongs in "pluginConfig"',
    message: 'it belongs in "pluginConfig" (filelog) or in a condition',
    timestampformat: 'it belongs in "pluginConfig"',
    recoverafter: 'it belongs on a condition in "conditions"',
    pattern: 'it belongs on a rule in "rules"',
  },
  rule: {
    recoverafter: 'it belongs on the condition, in "conditions"',
    message: 'a rule\'s message is the matched text; did you mean "patternGeneratedMessageSuffix"?',
  },
  condition: {
    pattern: 'it belongs on a rule in "rules"',
    condition: 'a condition\'s name is its "type"',
  },
};

/** Compiles a pluginConfig `pattern` with RE2 as syslog-line.ts does (`u`); false on error. */
function checkRegex(ctx: Ctx, field: string, pattern: string): boolean {
  try {
    new RE2(pattern, 'u');
  } catch (e) {
    report(ctx, field, `invalid RE2 pattern: ${errText(e)}`);
    return false;
  }
  return true;
}

/** A rule that compiled, with where its errors go in the file's list (document order). */
interface CheckedRule {
  readonly field: string;
  readonly rule: CompiledRule;
  readonly at: number;
}

/** Compiles a rule as the engine runs it (compiled-rules.ts); undefined (reported) on error. */
function checkRule(ctx: Ctx, field: string, spec: RuleSpec): CompiledRule | undefined {
  try {
    return compileRule(spec);
  } catch (e) {
    // RE2's message about the pattern as written, not the anchored form (error path only).
    let message = errText(e);
    try {
      new RE2(spec.pattern, 'u');
    } catch (raw) {
      message = errText(raw);
    }
    report(ctx, field, `invalid RE2 pattern: ${message}`);
    return undefined;
  }
}

/**
 * The engine's prefilter over the file's single-line rules. When RE2.Set refuses them, each is
 * tried alone so the error names the rule at fault when there is one.
 */
function checkPrefilter(ctx: Ctx, compiled: readonly CheckedRule[]): Prefilter | undefined {
  try {
    return compileRulePrefilter(compiled.map((c) => c.rule));
  } catch (e) {
    const named: { at: number; error: ConfigError }[] = [];
    for (const c of compiled) {
      if (c.rule.slow) continue;
      try {
        compileRulePrefilter([c.rule]);
      } catch (one) {
        named.push({
          at: c.at,
          error: {
            file: ctx.file,
            field: c.field,
            message: `pattern does not compile in an RE2.Set (the engine's prefilter): ${errText(one)}`,
          },
        });
      }
    }
    // In document order: each where its rule's other errors are.
    for (const n of named.reverse()) ctx.errors.splice(n.at, 0, n.error);
    if (named.length === 0)
      report(
        ctx,
        'rules',
        `the patterns of this file do not compile together in an RE2.Set (the engine's prefilter): ${errText(e)}`,
      );
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// One file
// ---------------------------------------------------------------------------------------------

interface ParsedFile {
  readonly path: string;
  readonly file?: RuleFile;
  /** Set instead of `file` for a valid custom plugin file. */
  readonly plugin?: PluginFile;
  readonly errors: ConfigError[];
  /** Condition types the file declares (even when it has other errors), for cross-file checks. */
  readonly declared: readonly DeclaredCondition[];
}

/**
 * Parses and validates one rule file's text. Pure apart from compiling regexes.
 * `file` is set only when there are no errors.
 */
export function parseRuleFile(
  path: string,
  text: string,
): { file?: RuleFile; plugin?: PluginFile; errors: ConfigError[] } {
  const r = parseRuleFileDetailed(path, text);
  if (r.plugin !== undefined) return { plugin: r.plugin, errors: r.errors };
  return r.file === undefined ? { errors: r.errors } : { file: r.file, errors: r.errors };
}

function parseRuleFileDetailed(path: string, text: string): ParsedFile {
  const ctx: Ctx = { file: path, errors: [], duplicates: new Map() };
  if (text.trim() === '') {
    report(ctx, '', 'file is empty');
    return { path, errors: ctx.errors, declared: [] };
  }
  const parsed = parseJson(text);
  if (!parsed.ok) {
    report(ctx, '', `invalid JSON at line ${parsed.line}, column ${parsed.column}: ${parsed.message}`);
    return { path, errors: ctx.errors, declared: [] };
  }
  for (const d of parsed.duplicates) {
    const list = ctx.duplicates.get(d.path);
    if (list === undefined) ctx.duplicates.set(d.path, [d.key]);
    else list.push(d.key);
  }
  const root = parsed.value;
  if (!isObject(root)) {
    report(ctx, '', `expected a JSON object at the top level, got ${typeName(root)}`);
    return { path, errors: ctx.errors, declared: [] };
  }
  if (isCustomPluginFile(root)) return { path, errors: ctx.errors, ...parsePluginFile(ctx, root) };
  if (looksLikeSystemStats(root)) {
    report(ctx, '', SYSTEM_STATS_ERROR);
    return { path, errors: ctx.errors, declared: [] };
  }
  const top = readKeys(ctx, '', root, TOP_KEYS, [], MISPLACED['top']);

  // plugin, pluginConfig, logPath
  const pluginRaw = str(ctx, 'plugin', top.get('plugin'), { required: true });
  let plugin: RuleFile['plugin'] | undefined;
  if (pluginRaw === 'kmsg' || pluginRaw === 'filelog' || pluginRaw === 'journald') {
    plugin = pluginRaw;
  } else if (pluginRaw !== undefined) {
    report(
      ctx,
      'plugin',
      `unknown plugin ${JSON.stringify(pluginRaw)} (expected "kmsg", "filelog", "journald" or "custom")`,
    );
  }

  const pluginConfig: { timestamp?: string; message?: string; timestampFormat?: string; source?: string } = {};
  const pcRaw = top.get('pluginConfig');
  const pcKeys = plugin === 'journald' ? JOURNALD_PLUGIN_CONFIG_KEYS : PLUGIN_CONFIG_KEYS;
  let pc = new Map<string, JsonValue>();
  if (pcRaw !== undefined) {
    if (!isObject(pcRaw)) report(ctx, 'pluginConfig', `expected an object, got ${typeName(pcRaw)}`);
    else pc = readKeys(ctx, 'pluginConfig', pcRaw, pcKeys, []);
    for (const k of pcKeys) {
      const v = str(ctx, `pluginConfig.${k}`, pc.get(k), { nonEmpty: plugin === 'filelog' || plugin === 'journald' });
      if (v !== undefined) pluginConfig[k] = v;
    }
  }
  // journald: NPD refuses an empty source (it would read every entry of the journal).
  if (plugin === 'journald' && !pc.has('source') && !(pcRaw !== undefined && !isObject(pcRaw))) {
    report(ctx, 'pluginConfig.source', 'is required for plugin journald (the SYSLOG_IDENTIFIER to read)');
  }
  if (plugin === 'filelog') {
    if (pcRaw === undefined) {
      report(ctx, 'pluginConfig', 'is required for plugin filelog (timestamp, message, timestampFormat)');
    } else if (isObject(pcRaw)) {
      for (const k of PLUGIN_CONFIG_KEYS) {
        if (!pc.has(k)) report(ctx, `pluginConfig.${k}`, 'is required for plugin filelog');
      }
    }
    if (pluginConfig.timestamp !== undefined) checkRegex(ctx, 'pluginConfig.timestamp', pluginConfig.timestamp);
    if (pluginConfig.message !== undefined) checkRegex(ctx, 'pluginConfig.message', pluginConfig.message);
    if (pluginConfig.timestampFormat !== undefined && /%[a-zA-Z]/.test(pluginConfig.timestampFormat)) {
      report(
        ctx,
        'pluginConfig.timestampFormat',
        `${JSON.stringify(pluginConfig.timestampFormat)} looks like strftime; use a Go reference-time layout such as "Jan _2 15:04:05" or "2006-01-02T15:04:05.999999999Z07:00"`,
      );
    }
  }

  let logPath = str(ctx, 'logPath', top.get('logPath'), { nonEmpty: plugin === 'filelog' });
  if (plugin === 'kmsg' && (logPath === undefined || logPath === '')) logPath = DEFAULT_KMSG_PATH;
  if (plugin === 'journald' && (logPath === undefined || logPath === '')) logPath = DEFAULT_JOURNAL_PATH;
  // Files and journal directories are followed (and lines routed) by absolute path: a relative
  // logPath is taken from the working directory once, here, so the source and the detector agree.
  if (plugin !== 'kmsg' && logPath !== undefined && logPath !== '') logPath = resolvePath(logPath);
  if (plugin === 'filelog' && !top.has('logPath')) report(ctx, 'logPath', 'is required for plugin filelog');

  // lookback, delay, bufferSize
  const lookbackMs = duration(ctx, 'lookback', top.get('lookback'), false) ?? 0;
  const delayMs = duration(ctx, 'delay', top.get('delay'), false) ?? 0;
  let bufferSize = DEFAULT_BUFFER_SIZE;
  const bs = top.get('bufferSize');
  if (bs !== undefined) {
    if (typeof bs !== 'number' || !Number.isInteger(bs)) {
      report(ctx, 'bufferSize', `expected an integer, got ${typeof bs === 'number' ? String(bs) : typeName(bs)}`);
    } else if (bs < 0 || bs > MAX_BUFFER_SIZE) {
      report(
        ctx,
        'bufferSize',
        `must be between 1 and ${MAX_BUFFER_SIZE} (0 means the default, ${DEFAULT_BUFFER_SIZE}), got ${bs}`,
      );
    } else if (bs > 0) {
      bufferSize = bs;
    }
  }

  const source = str(ctx, 'source', top.get('source'), { required: true, nonEmpty: true });

  let metricsReporting = true;
  const mr = top.get('metricsReporting');
  if (mr !== undefined) {
    if (typeof mr !== 'boolean') report(ctx, 'metricsReporting', `expected true or false, got ${typeName(mr)}`);
    else metricsReporting = mr;
  }

  const skipList: string[] = [];
  const sl = top.get('skipList');
  if (sl !== undefined) {
    if (!Array.isArray(sl)) {
      report(ctx, 'skipList', `expected an array of strings, got ${typeName(sl)}`);
    } else {
      sl.forEach((item, i) => {
        const v = str(ctx, `skipList[${i}]`, item, { required: true });
        if (v === '') report(ctx, `skipList[${i}]`, 'must not be empty (an empty entry would skip every line)');
        else if (v !== undefined) skipList.push(v);
      });
    }
  }

  // conditions
  const { conditions, declared, declaredByType } = readConditions(ctx, top.get('conditions'), {
    keys: CONDITION_KEYS,
    ignored: CONDITION_IGNORED_KEYS,
    misplaced: MISPLACED['condition'],
  });

  // rules
  const rules: RuleSpec[] = [];
  const compiled: CheckedRule[] = [];
  for (const [i, r] of arrayOf(ctx, 'rules', top.get('rules'))) {
    const field = `rules[${i}]`;
    if (!isObject(r)) {
      report(ctx, field, `expected an object, got ${typeName(r)}`);
      continue;
    }
    const keys = readKeys(ctx, field, r, RULE_KEYS, [], MISPLACED['rule']);
    const typeRaw = str(ctx, `${field}.type`, keys.get('type'), { required: true });
    let type: RuleKind | undefined;
    if (typeRaw === 'temporary' || typeRaw === 'permanent') type = typeRaw;
    else if (typeRaw !== undefined)
      report(ctx, `${field}.type`, `expected "temporary" or "permanent", got ${JSON.stringify(typeRaw)}`);

    const condition = str(ctx, `${field}.condition`, keys.get('condition'));
    if (type === 'permanent') checkPermanentCondition(ctx, field, keys.has('condition'), condition, declaredByType);
    const reason = str(ctx, `${field}.reason`, keys.get('reason'), { required: true, nonEmpty: true });
    const pattern = str(ctx, `${field}.pattern`, keys.get('pattern'), { required: true });
    if (pattern === '') report(ctx, `${field}.pattern`, 'must not be empty');
    const suffix = str(ctx, `${field}.patternGeneratedMessageSuffix`, keys.get('patternGeneratedMessageSuffix'));

    if (pattern !== undefined && pattern !== '') {
      const spec: { -readonly [K in keyof RuleSpec]: RuleSpec[K] } = {
        type: type ?? 'temporary',
        reason: reason ?? '',
        pattern,
      };
      if (type === 'permanent' && condition !== undefined) spec.condition = condition;
      if (suffix !== undefined && suffix !== '') spec.patternGeneratedMessageSuffix = suffix;
      const rule = checkRule(ctx, `${field}.pattern`, spec);
      if (rule !== undefined && type !== undefined && reason !== undefined) {
        compiled.push({ field: `${field}.pattern`, rule, at: ctx.errors.length });
        rules.push(spec);
      }
    }
  }
  const prefilter = checkPrefilter(ctx, compiled);
  reportUnreadDuplicates(ctx);

  if (
    ctx.errors.length > 0 ||
    plugin === undefined ||
    source === undefined ||
    logPath === undefined ||
    prefilter === undefined
  ) {
    return { path, errors: ctx.errors, declared };
  }
  const file: RuleFile = {
    path,
    plugin,
    pluginConfig: pluginConfig satisfies PluginConfig,
    logPath,
    lookbackMs,
    delayMs,
    bufferSize,
    component: source,
    metricsReporting,
    skipList,
    conditions,
    rules,
  };
  keepCompiled(file, { rules: compiled.map((c) => c.rule), prefilter });
  return { path, file, errors: ctx.errors, declared };
}

// ---------------------------------------------------------------------------------------------
// Many files: expand directories, read everything, check across files
// ---------------------------------------------------------------------------------------------

/**
 * The rule files a `--rules` directory holds: `*.json`, not hidden, in name order. The loader and
 * the reload watcher (rule-watch.ts) both list directories with this, so they always agree.
 */
export async function ruleDirNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(isRuleFileName).sort();
}

/** ruleDirNames, synchronously: for the reload watcher's idle poll (no thread-pool round trip). */
export function ruleDirNamesSync(dir: string): string[] {
  return readdirSync(dir).filter(isRuleFileName).sort();
}

const isRuleFileName = (n: string): boolean => !n.startsWith('.') && n.endsWith('.json');

/** Expands `--rules` paths into the rule files to read, in order, reporting unreadable paths. */
export async function expandRulePaths(paths: readonly string[]): Promise<{ files: string[]; errors: ConfigError[] }> {
  const files: string[] = [];
  const errors: ConfigError[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      errors.push({ file: p, field: '', message: `cannot read: ${fsMessage(e)}` });
      continue;
    }
    if (st.isFile()) {
      files.push(p);
      continue;
    }
    if (!st.isDirectory()) {
      errors.push({ file: p, field: '', message: 'not a regular file or directory' });
      continue;
    }
    let names: string[];
    try {
      names = await ruleDirNames(p);
    } catch (e) {
      errors.push({ file: p, field: '', message: `cannot read directory: ${fsMessage(e)}` });
      continue;
    }
    let found = 0;
    let failed = 0;
    for (const name of names) {
      const full = join(p, name);
      try {
        if (!(await stat(full)).isFile()) continue;
      } catch (e) {
        if (isCode(e, 'ENOENT')) continue; // dangling symlink: a ConfigMap swap in progress
        errors.push({ file: full, field: '', message: `cannot read: ${fsMessage(e)}` });
        failed++;
        continue;
      }
      files.push(full);
      found++;
    }
    if (found === 0 && failed === 0) {
      errors.push({ file: p, field: '', message: 'directory has no *.json rule files' });
    }
  }
  return { files, errors };
}

/**
 * Loads rule files and directories (see the header). Reads every file and returns every
 * error; `files` holds the files that are valid on their own, in load order.
 */
export async function loadRuleFiles(
  paths: readonly string[],
): Promise<{ files: RuleFile[]; plugins: PluginFile[]; errors: ConfigError[] }> {
  const expanded = await expandRulePaths(paths);
  const errors: ConfigError[] = [...expanded.errors];

  // A file reached twice (named and inside a directory, or two symlinks to it) loads once.
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const f of expanded.files) {
    let real = f;
    try {
      real = await realpath(f);
    } catch {
      // reported below when reading fails
    }
    if (seen.has(real)) continue;
    seen.add(real);
    unique.push(f);
  }

  const results = await Promise.all(
    unique.map(async (f): Promise<ParsedFile> => {
      try {
        const st = await stat(f);
        if (st.size > MAX_RULE_FILE_BYTES) {
          return {
            path: f,
            errors: [{ file: f, field: '', message: `file is larger than ${MAX_RULE_FILE_BYTES} bytes` }],
            declared: [],
          };
        }
        const text = await readFile(f, 'utf8');
        return parseRuleFileDetailed(f, text);
      } catch (e) {
        return { path: f, errors: [{ file: f, field: '', message: `cannot read: ${fsMessage(e)}` }], declared: [] };
      }
    }),
  );

  const files: RuleFile[] = [];
  const plugins: PluginFile[] = [];
  const owner = new Map<string, string>(); // condition type -> "file field"
  for (const r of results) {
    errors.push(...r.errors);
    let crossFileError = false;
    for (const d of r.declared) {
      const first = owner.get(d.type);
      const here = r.path;
      if (first !== undefined) {
        errors.push({
          file: here,
          field: d.field,
          message: `duplicate condition type ${JSON.stringify(d.type)} (already declared in ${first})`,
        });
        crossFileError = true;
      } else {
        owner.set(d.type, `${here} ${d.field}`);
      }
    }
    if (r.file !== undefined && !crossFileError) files.push(r.file);
    if (r.plugin !== undefined && !crossFileError) plugins.push(r.plugin);
  }
  return { files, plugins, errors };
}

function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

function fsMessage(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return errText(e);
  }
}
