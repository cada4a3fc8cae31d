// rule-file.ts: builds RuleFile objects for engine tests without the config loader.
import type { RuleFile, RuleSpec, ConditionSpec } from '../../agent/types';

export function ruleFile(over: Partial<RuleFile> & { rules: readonly RuleSpec[] }): RuleFile {
  return {
    path: 'test.json',
    plugin: 'kmsg',
    pluginConfig: {},
    logPath: '/dev/kmsg',
    lookbackMs: 0,
    delayMs: 0,
    bufferSize: 10,
    component: 'kernel-monitor',
    metricsReporting: true,
    skipList: [],
    conditions: [] as ConditionSpec[],
    ...over,
  };
}

export const temp = (reason: string, pattern: string, suffix?: string): RuleSpec =>
  suffix === undefined
    ? { type: 'temporary', reason, pattern }
    : { type: 'temporary', reason, pattern, patternGeneratedMessageSuffix: suffix };
export const perm = (condition: string, reason: string, pattern: string): RuleSpec => ({
  type: 'permanent',
  condition,
  reason,
  pattern,
});
