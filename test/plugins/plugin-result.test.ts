// plugin-result.test.ts: NPD's plugin protocol as a table: exit status to status, the message
// (trimmed, cut at max_output_length bytes on a character boundary), and the condition moves
// of NPD's generateStatus, Unknown included.
import { describe, expect, it } from 'vitest';
import { cutUtf8, nextCondition, verdictOf, type PluginVerdict } from '../../agent/plugins/plugin-result';
import type { PluginRun } from '../../agent/plugins/plugin-port';
import type { Condition, ConditionSpec } from '../../agent/types';

const ran = (code: number | null, stdout = '', exitSignal: string | null = null): PluginRun => ({
  kind: 'ran',
  code,
  exitSignal,
  stdout,
  stderr: '',
  truncated: false,
  flooded: false,
});
const opts = { path: '/p/check.sh', timedOut: false, maxOutputLength: 80 };

describe('verdictOf', () => {
  it.each([
    [0, 'ok'],
    [1, 'nonok'],
    [2, 'unknown'],
    [3, 'unknown'],
    [127, 'unknown'],
    [null, 'unknown'],
  ] as const)('exit %s is %s', (code, status) => {
    expect(verdictOf(ran(code, ' out \n'), opts)).toEqual({ status, message: 'out' });
  });

  it('a failed start and a timeout are Unknown, saying so', () => {
    expect(verdictOf({ kind: 'failed', error: 'ENOENT: spawn /x ENOENT' }, opts)).toEqual({
      status: 'unknown',
      message: 'cannot start plugin: ENOENT: spawn /x ENOENT',
    });
    const t = verdictOf(ran(0, 'partial'), { ...opts, timedOut: true, maxOutputLength: 4096 });
    expect(t).toEqual({
      status: 'unknown',
      message: 'Timeout when running plugin "/p/check.sh": killed. output - "partial"',
    });
  });

  it('cuts the trimmed output at max_output_length bytes, never inside a character', () => {
    expect(verdictOf(ran(1, `\n${'a'.repeat(100)}\n`), opts).message).toBe('a'.repeat(80));
    expect(verdictOf(ran(1, 'line one\nline two\n'), opts).message).toBe('line one\nline two');
    expect(verdictOf(ran(1, 'abc'), { ...opts, maxOutputLength: 0 }).message).toBe('');
    expect(cutUtf8('aé€😀', 1)).toBe('a');
    expect(cutUtf8('aé€😀', 2)).toBe('a');
    expect(cutUtf8('aé€😀', 3)).toBe('aé');
    expect(cutUtf8('aé€😀', 6)).toBe('aé€');
    expect(cutUtf8('aé€😀', 9)).toBe('aé€');
    expect(cutUtf8('aé€😀', 10)).toBe('aé€😀');
  });
});

describe('nextCondition (NPD generateStatus)', () => {
  const spec: ConditionSpec = { type: 'NTPProblem', reason: 'NTPIsUp', message: 'ntp service is up' };
  const at = new Date(0);
  const cond = (status: Condition['status'], reason: string, message: string): Condition => ({
    type: 'NTPProblem',
    status,
    reason,
    message,
    lastTransitionTime: at,
  });
  const v = (status: PluginVerdict['status'], message: string): PluginVerdict => ({ status, message });
  const False = cond('False', 'NTPIsUp', 'ntp service is up');

  it.each([
    ['False + ok: no change', False, v('ok', 'fine'), false, undefined],
    [
      'False + nonok: True, rule reason, output',
      False,
      v('nonok', 'ntp down'),
      false,
      ['True', 'NTPIsDown', 'ntp down'],
    ],
    [
      'False + unknown: Unknown, default reason, output',
      False,
      v('unknown', 'boom'),
      false,
      ['Unknown', 'NTPIsUp', 'boom'],
    ],
    [
      'True + ok: False, default reason and message',
      cond('True', 'NTPIsDown', 'x'),
      v('ok', 'fine'),
      false,
      ['False', 'NTPIsUp', 'ntp service is up'],
    ],
    [
      'True + unknown: Unknown, default reason, output',
      cond('True', 'NTPIsDown', 'x'),
      v('unknown', 'timeout'),
      false,
      ['Unknown', 'NTPIsUp', 'timeout'],
    ],
    [
      'True + nonok, same reason and message: no change',
      cond('True', 'NTPIsDown', 'x'),
      v('nonok', 'x'),
      true,
      undefined,
    ],
    [
      'True + nonok, new message, message updates off: no change',
      cond('True', 'NTPIsDown', 'x'),
      v('nonok', 'y'),
      false,
      undefined,
    ],
    [
      'True + nonok, new message, message updates on: updated',
      cond('True', 'NTPIsDown', 'x'),
      v('nonok', 'y'),
      true,
      ['True', 'NTPIsDown', 'y'],
    ],
    [
      'True (other reason) + nonok: new reason',
      cond('True', 'Other', 'x'),
      v('nonok', 'x'),
      false,
      ['True', 'NTPIsDown', 'x'],
    ],
    [
      'Unknown + ok: False, default message',
      cond('Unknown', 'NTPIsUp', 'boom'),
      v('ok', 'fine'),
      false,
      ['False', 'NTPIsUp', 'ntp service is up'],
    ],
    ['Unknown + unknown: no change', cond('Unknown', 'NTPIsUp', 'boom'), v('unknown', 'other'), true, undefined],
    [
      'Unknown + nonok: True',
      cond('Unknown', 'NTPIsUp', 'boom'),
      v('nonok', 'down'),
      false,
      ['True', 'NTPIsDown', 'down'],
    ],
  ] as const)('%s', (_name, current, verdict, messageChange, want) => {
    const got = nextCondition(current, spec, 'NTPIsDown', verdict, messageChange);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toEqual({ status: want[0], reason: want[1], message: want[2] });
  });
});
