// plugin-file.ts: validates custom plugin monitor files (NPD's custom-plugin-monitor format,
// `"plugin": "custom"`) into PluginFile objects, with every error as {file, field, message}, and
// names the system-stats monitor format as unsupported. rule-files.ts dispatches here after
// parsing the JSON; the field readers are rule-fields.ts's, shared with log monitor files.
//
// Format (NPD's pkg/custompluginmonitor/types/config.go; defaults as there):
//
// | key                                                        | default | notes                          |
// |------------------------------------------------------------|---------|--------------------------------|
// | `pluginConfig.invoke_interval`                             | `30s`   | at least 1s                    |
// | `pluginConfig.timeout`                                     | `5s`    | per run; kills the process group |
// | `pluginConfig.max_output_length`                           | `80`    | bytes of message, 0..4096      |
// | `pluginConfig.concurrency`                                 | `3`     | 1..64 plugins at once          |
// | `pluginConfig.enable_message_change_based_condition_update`| `false` |                                |
// | `pluginConfig.skip_initial_status`                         | `false` |                                |
// | `source`, `metricsReporting`, `conditions`                 |         | as in log monitor files, no `recoverAfter` |
// | `rules[]`                                                  |         | `{type, condition?, reason, path, args?, timeout?}` |
//
// Stricter than NPD, which accepts these silently: unknown and duplicate keys; a rule `timeout`
// longer than the file's (NPD refuses it too, at start); `max_output_length` above 4096 (NPD
// reads only 4096 bytes of output); an `invoke_interval` under 1s; a NUL byte in `path` or
// `args`. NPD refuses a rule whose `path` does not exist at start; here a missing program is
// found when it runs (Unknown, counted), so a file loads on a machine without its helpers.
import { resolve as resolvePath } from 'node:path';
import type { ConditionSpec, PluginFile, PluginRuleSpec, RuleKind } from '../types';
import type { JsonObject, JsonValue } from './json-parse';
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

/** Bytes of a plugin's stdout (and stderr) that are kept, as NPD's maxCustomPluginBufferBytes. */
export const PLUGIN_OUTPUT_KEEP_BYTES = 4096;
const MIN_INVOKE_INTERVAL_MS = 1000;
const MAX_CONCURRENCY = 64;

const DEFAULTS = {
  invokeIntervalMs: 30_000,
  timeoutMs: 5_000,
  maxOutputLength: 80,
  concurrency: 3,
  messageChangeUpdates: false,
  skipInitialStatus: false,
};

const TOP_KEYS = ['plugin', 'pluginConfig', 'source', 'metricsReporting', 'conditions', 'rules'] as const;
const PLUGIN_CONFIG_KEYS = [
  'invoke_interval',
  'timeout',
  'max_output_length',
  'concurrency',
  'enable_message_change_based_condition_update',
  'skip_initial_status',
] as const;
const CONDITION_KEYS = ['type', 'reason', 'message'] as const;
const CONDITION_IGNORED_KEYS = ['status', 'transition'] as const;
const RULE_KEYS = ['type', 'condition', 'reason', 'path', 'args', 'timeout'] as const;

const LOG_ONLY = 'a log monitor key; a custom plugin file runs programs and reads no log';
const MISPLACED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  top: {
    invoke_interval: 'it belongs in "pluginConfig"',
    timeout: 'it belongs in "pluginConfig" (or on a rule)',
    max_output_length: 'it belongs in "pluginConfig"',
    concurrency: 'it belongs in "pluginConfig"',
    logpath: LOG_ONLY,
    lookback: LOG_ONLY,
    buffersize: LOG_ONLY,
    skiplist: LOG_ONLY,
    delay: LOG_ONLY,
  },
  rule: {
    pattern: 'a custom plugin rule runs "path"; it has no pattern',
    message: "a plugin rule's message is the program's output",
  },
  condition: {
    recoverafter: 'a plugin condition recovers when its plugin exits 0; recoverAfter is for log monitor files',
  },
};

/** Keys of NPD's system-stats-monitor files (system-stats-monitor.json and friends). */
const SYSTEM_STATS_KEYS = ['cpu', 'disk', 'memory', 'host', 'net', 'osfeature', 'invokeinterval'];

/** Whether a file with no `plugin` key is a system-stats monitor file. */
export function looksLikeSystemStats(root: JsonObject): boolean {
  const keys = Object.keys(root).map((k) => k.toLowerCase());
  return !keys.includes('plugin') && keys.some((k) => SYSTEM_STATS_KEYS.includes(k));
}

export const SYSTEM_STATS_ERROR =
  "this is a system-stats monitor file (NPD's system-stats-monitor format: cpu, disk, memory, ...), which nodewarden does not support; it runs log monitor files (kmsg, filelog) and custom plugin files";

/** Whether the file says `"plugin": "custom"` (keys match case-insensitively). */
export function isCustomPluginFile(root: JsonObject): boolean {
  return Object.keys(root).some((k) => k.toLowerCase() === 'plugin' && root[k] === 'custom');
}

/** Validates a custom plugin file's top-level object. `plugin` is set only when there are no errors. */
export function parsePluginFile(ctx: Ctx, root: JsonObject): { plugin?: PluginFile; declared: DeclaredCondition[] } {
  const top = readKeys(ctx, '', root, TOP_KEYS, [], MISPLACED['top']);
  str(ctx, 'plugin', top.get('plugin'), { required: true });

  const cfg = { ...DEFAULTS };
  const pcRaw = top.get('pluginConfig');
  if (pcRaw !== undefined && !isObject(pcRaw)) {
    report(ctx, 'pluginConfig', `expected an object, got ${typeName(pcRaw)}`);
  } else if (pcRaw !== undefined) {
    const pc = readKeys(ctx, 'pluginConfig', pcRaw, PLUGIN_CONFIG_KEYS, []);
    const interval = duration(ctx, 'pluginConfig.invoke_interval', pc.get('invoke_interval'), true);
    if (interval !== undefined && interval < MIN_INVOKE_INTERVAL_MS) {
      report(
        ctx,
        'pluginConfig.invoke_interval',
        `must be at least 1s, got ${JSON.stringify(pc.get('invoke_interval'))}`,
      );
    } else if (interval !== undefined) {
      cfg.invokeIntervalMs = interval;
    }
    cfg.timeoutMs = duration(ctx, 'pluginConfig.timeout', pc.get('timeout'), true) ?? cfg.timeoutMs;
    cfg.maxOutputLength =
      int(ctx, 'pluginConfig.max_output_length', pc.get('max_output_length'), 0, PLUGIN_OUTPUT_KEEP_BYTES) ??
      cfg.maxOutputLength;
    cfg.concurrency =
      int(ctx, 'pluginConfig.concurrency', pc.get('concurrency'), 1, MAX_CONCURRENCY) ?? cfg.concurrency;
    cfg.messageChangeUpdates =
      bool(
        ctx,
        'pluginConfig.enable_message_change_based_condition_update',
        pc.get('enable_message_change_based_condition_update'),
      ) ?? cfg.messageChangeUpdates;
    cfg.skipInitialStatus =
      bool(ctx, 'pluginConfig.skip_initial_status', pc.get('skip_initial_status')) ?? cfg.skipInitialStatus;
  }

  const source = str(ctx, 'source', top.get('source'), { required: true, nonEmpty: true });
  const metricsReporting = bool(ctx, 'metricsReporting', top.get('metricsReporting')) ?? true;
  const { conditions, declared, declaredByType } = readConditions(ctx, top.get('conditions'), {
    keys: CONDITION_KEYS,
    ignored: CONDITION_IGNORED_KEYS,
    misplaced: MISPLACED['condition'],
  });

  const rules: PluginRuleSpec[] = [];
  for (const [i, r] of arrayOf(ctx, 'rules', top.get('rules'))) {
    const rule = parseRule(ctx, `rules[${i}]`, r, declaredByType, cfg.timeoutMs);
    if (rule !== undefined) rules.push(rule);
  }
  reportUnreadDuplicates(ctx);
  if (ctx.errors.length > 0 || source === undefined) return { declared };
  const plugin: PluginFile = {
    path: ctx.file,
    plugin: 'custom',
    component: source,
    metricsReporting,
    ...cfg,
    conditions: conditions satisfies ConditionSpec[],
    rules,
  };
  return { plugin, declared };
}

function parseRule(
  ctx: Ctx,
  field: string,
  r: JsonValue,
  declaredByType: ReadonlyMap<string, string>,
  fileTimeoutMs: number,
): PluginRuleSpec | undefined {
  if (!isObject(r)) {
    report(ctx, field, `expected an object, got ${typeName(r)}`);
    return undefined;
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
  const path = str(ctx, `${field}.path`, keys.get('path'), { required: true, nonEmpty: true });
  if (path?.includes('\0')) report(ctx, `${field}.path`, 'must not contain a NUL byte');

  const args: string[] = [];
  const argsRaw = keys.get('args');
  if (argsRaw !== undefined && !Array.isArray(argsRaw)) {
    report(ctx, `${field}.args`, `expected an array of strings, got ${typeName(argsRaw)}`);
  } else if (argsRaw !== undefined) {
    argsRaw.forEach((a, j) => {
      const v = str(ctx, `${field}.args[${j}]`, a, { required: true });
      if (v?.includes('\0')) report(ctx, `${field}.args[${j}]`, 'must not contain a NUL byte');
      else if (v !== undefined) args.push(v);
    });
  }

  let timeoutMs = fileTimeoutMs;
  const timeout = duration(ctx, `${field}.timeout`, keys.get('timeout'), true);
  if (timeout !== undefined && timeout > fileTimeoutMs) {
    report(
      ctx,
      `${field}.timeout`,
      `${JSON.stringify(keys.get('timeout'))} is longer than pluginConfig.timeout (${fileTimeoutMs} ms); NPD refuses this too`,
    );
  } else if (timeout !== undefined) {
    timeoutMs = timeout;
  }
  if (type === undefined || reason === undefined || path === undefined) return undefined;
  const spec: PluginRuleSpec = { type, reason, path: resolvePath(path), args, timeoutMs };
  return type === 'permanent' && condition !== undefined ? { ...spec, condition } : spec;
}

function int(ctx: Ctx, field: string, v: JsonValue | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    report(ctx, field, `expected an integer, got ${typeof v === 'number' ? String(v) : typeName(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    report(ctx, field, `must be between ${min} and ${max}, got ${v}`);
    return undefined;
  }
  return v;
}

function bool(ctx: Ctx, field: string, v: JsonValue | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') {
    report(ctx, field, `expected true or false, got ${typeName(v)}`);
    return undefined;
  }
  return v;
}
