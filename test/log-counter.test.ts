// log-counter.test.ts: log-counter's flags and counting, in memory (the real journal runs are in
// log-counter-real.test.ts): every flag problem listed, NPD's defaults, +1 per pattern match and
// −1 per revert match on the end-anchored buffer, an empty revert pattern counting nothing.
import { describe, expect, it } from 'vitest';
import { counterMonitor, countEntry, parseLogCounterArgs } from '../agent/log-counter';
import { Monitor } from '../agent/engine/monitor';

describe('log-counter flags', () => {
  it("takes NPD's flags in both --flag=value and --flag value forms, with NPD's defaults", () => {
    const r = parseLogCounterArgs(['--journald-source=systemd', '--pattern', 'x', '--lookback=20m', '--delay=5m']);
    expect(r).toEqual({
      ok: true,
      options: {
        journaldSource: 'systemd',
        logPath: '/var/log/journal',
        lookbackMs: 1_200_000,
        delayMs: 300_000,
        count: 1,
        pattern: 'x',
        revertPattern: '',
      },
    });
  });

  it('lists every problem at once', () => {
    const r = parseLogCounterArgs(['--lookback=5 minutes', '--count=many']);
    expect(r).toEqual({
      ok: false,
      errors: [
        '--lookback: unknown unit " minutes" in duration "5 minutes" (valid units are "ns", "us", "ms", "s", "m", "h")',
        '--count: expected an integer, got "many"',
        '--journald-source: required (the SYSLOG_IDENTIFIER to count)',
        '--pattern: required',
      ],
    });
    expect(parseLogCounterArgs(['--patern=x'])).toMatchObject({ ok: false });
  });

  it("reports a bad pattern with RE2's message, named by its flag", () => {
    const opts = { journaldSource: 's', logPath: '/j', lookbackMs: 0, delayMs: 0, count: 1, pattern: '(?=x)' };
    expect(counterMonitor({ ...opts, revertPattern: 'a(' })).toEqual([
      '--pattern: invalid RE2 pattern: invalid perl operator: (?=',
      '--revert-pattern: invalid RE2 pattern: missing ): a(',
    ]);
  });
});

describe('log-counter counting', () => {
  const base = { journaldSource: 's', logPath: '/j', lookbackMs: 0, delayMs: 0, count: 1 };
  const t = new Date(0);

  it('adds one per pattern match and takes one per revert match, anchored at the end of the entry', () => {
    const m = counterMonitor({ ...base, pattern: 'Started (kubelet).', revertPattern: 'Stopping kubelet...' });
    if (!(m instanceof Monitor)) throw new Error(m.join('\n'));
    const counts = ['Started kubelet.', 'Started kubelet. again', 'Stopping kubelet...', 'noise'].map((s) =>
      countEntry(m, s, t),
    );
    expect(counts).toEqual([1, 0, -1, 0]);
  });

  it('counts nothing for an empty revert pattern (it would match every entry)', () => {
    const m = counterMonitor({ ...base, pattern: 'x', revertPattern: '' });
    if (!(m instanceof Monitor)) throw new Error(m.join('\n'));
    expect(['x', 'y', 'x'].map((s) => countEntry(m, s, t))).toEqual([1, 0, 1]);
  });
});
