// plugin-result.ts: NPD's custom plugin protocol, pure. A run becomes a status and a message
// (exit 0 OK, 1 NonOK, anything else, a signal, a timeout or a failed start Unknown; the message
// is the trimmed stdout cut at max_output_length bytes), and a permanent rule's status moves its
// condition as NPD's custom plugin monitor does (checked against pkg/custompluginmonitor's
// generateStatus): True with the rule's reason and the output; back to False with the
// condition's default reason and message; Unknown with the default reason and the output.
import type { Condition, ConditionSpec, ConditionStatus } from '../types';
import type { PluginRun } from './plugin-port';

export type PluginStatus = 'ok' | 'nonok' | 'unknown';

export interface PluginVerdict {
  readonly status: PluginStatus;
  readonly message: string;
}

/** A run's status and message. `timedOut`: the monitor killed it at its timeout. */
export function verdictOf(
  run: PluginRun,
  opts: { readonly path: string; readonly timedOut: boolean; readonly maxOutputLength: number },
): PluginVerdict {
  if (run.kind === 'failed') return { status: 'unknown', message: `cannot start plugin: ${run.error}` };
  const output = run.stdout.trim();
  if (opts.timedOut) {
    const text = `Timeout when running plugin ${JSON.stringify(opts.path)}: killed. output - ${JSON.stringify(output)}`;
    return { status: 'unknown', message: cutUtf8(text, opts.maxOutputLength) };
  }
  const message = cutUtf8(output, opts.maxOutputLength);
  if (run.code === 0) return { status: 'ok', message };
  if (run.code === 1) return { status: 'nonok', message };
  return { status: 'unknown', message };
}

/** At most `max` UTF-8 bytes of `s`, never splitting a character. */
export function cutUtf8(s: string, max: number): string {
  if (s.length * 3 <= max) return s;
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= max) return s;
  let end = max;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // back to a character start
  return bytes.subarray(0, end).toString('utf8');
}

export function conditionStatusOf(status: PluginStatus): ConditionStatus {
  return status === 'ok' ? 'False' : status === 'nonok' ? 'True' : 'Unknown';
}

/**
 * NPD's condition update for a permanent rule's result, or undefined when nothing changes.
 * `messageChange`: pluginConfig.enable_message_change_based_condition_update.
 */
export function nextCondition(
  current: Condition,
  spec: ConditionSpec,
  ruleReason: string,
  verdict: PluginVerdict,
  messageChange: boolean,
): { status: ConditionStatus; reason: string; message: string } | undefined {
  const status = conditionStatusOf(verdict.status);
  if (status === 'True') {
    if (current.status !== 'True') return { status, reason: ruleReason, message: verdict.message };
    const changed = current.reason !== ruleReason || (messageChange && current.message !== verdict.message);
    return changed ? { status, reason: ruleReason, message: verdict.message } : undefined;
  }
  // To False or Unknown: the default reason; the default message when False, the output when
  // Unknown (it says what went wrong). Unknown to Unknown changes nothing, as in NPD.
  if (current.status === status) return undefined;
  return { status, reason: spec.reason, message: status === 'False' ? spec.message : verdict.message };
}
