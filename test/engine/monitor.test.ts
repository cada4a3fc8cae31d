import { describe, expect, it } from 'vitest';
import { Monitor } from '../../agent/engine/monitor';
import { mayCrossLines } from '../../agent/engine/pattern-shape';
import { perm, ruleFile, temp } from './rule-file';

const t0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

function run(m: Monitor, lines: string[]) {
  return lines.map((l, i) => m.matchText(l, at(i)));
}

describe('Monitor: NPD semantics', () => {
  it('a pattern must match at the end of the newest line', () => {
    const m = new Monitor(ruleFile({ rules: [temp('Oops', 'divide error')] }));
    const [a, b] = run(m, ['divide error: 0000 [#1] SMP', 'kernel: divide error']);
    expect(a).toEqual([]);
    expect(b).toEqual([
      { kind: 'temporary', component: 'kernel-monitor', reason: 'Oops', message: 'kernel: divide error', time: at(1) },
    ]);
  });

  it('every branch of a top-level alternation is end-anchored (NPD groups the pattern)', () => {
    const m = new Monitor(ruleFile({ rules: [temp('OOM', 'oom-kill|Out of memory')] }));
    const r = run(m, ['oom-kill:constraint=CONSTRAINT_NONE', 'node ready', 'kernel: Out of memory']);
    expect(r.map((x) => x.length)).toEqual([0, 0, 1]);
  });

  it('tests every rule on every line: one line can fire several rules, in rule order', () => {
    const m = new Monitor(
      ruleFile({
        conditions: [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'ok' }],
        rules: [
          temp('TaskHung', 'task [\\S ]+:\\w+ blocked for more than \\w+ seconds\\.'),
          perm('KernelDeadlock', 'DockerHung', 'task docker:\\w+ blocked for more than \\w+ seconds\\.'),
        ],
      }),
    );
    const [r] = run(m, ['INFO: task docker:7 blocked for more than 120 seconds.']);
    expect(r!.map((p) => [p.kind, p.reason, p.condition])).toEqual([
      ['temporary', 'TaskHung', undefined],
      ['permanent', 'DockerHung', 'KernelDeadlock'],
    ]);
  });

  it('adds "; suffix" to the message', () => {
    const m = new Monitor(ruleFile({ rules: [temp('X', 'EXT4-fs error .*', 'see runbook')] }));
    expect(run(m, ['EXT4-fs error (device sda1)'])[0]![0]!.message).toBe('EXT4-fs error (device sda1); see runbook');
  });

  it('multi-line rules match across the buffer; the message is the covered lines, the time the first', () => {
    const m = new Monitor(ruleFile({ bufferSize: 3, rules: [temp('Two', 'first line\\nsecond line')] }));
    const r = run(m, ['noise', 'first line', 'second line']);
    expect(r[2]).toEqual([
      {
        kind: 'temporary',
        component: 'kernel-monitor',
        reason: 'Two',
        message: 'first line\nsecond line',
        time: at(1),
      },
    ]);
    expect(m.slowRules().length).toBe(1);
  });

  it('a multi-line rule cannot reach beyond bufferSize lines', () => {
    const m = new Monitor(ruleFile({ bufferSize: 2, rules: [temp('Three', 'a\\nb\\nc')] }));
    expect(run(m, ['a', 'b', 'c']).flat()).toEqual([]);
  });

  it('^ anchors at the start of the whole buffer, as in NPD (empty slots included)', () => {
    const one = new Monitor(ruleFile({ bufferSize: 1, rules: [temp('S', '^start')] }));
    expect(run(one, ['start']).flat().length).toBe(1);
    const ten = new Monitor(ruleFile({ bufferSize: 10, rules: [temp('S', '^start')] }));
    expect(run(ten, ['start']).flat().length).toBe(0);
    // (?s) can reach back over the empty slots to the start.
    const s = new Monitor(ruleFile({ bufferSize: 3, rules: [temp('S', '(?s)^.*end')] }));
    const r = run(s, ['x', 'end']);
    expect(r[1]![0]!.message).toBe('x\nend');
  });

  it('negated classes can span lines (slow path), with \\n excluded they cannot', () => {
    const m = new Monitor(
      ruleFile({ bufferSize: 2, rules: [temp('N', 'alpha[^x]+beta'), temp('M', 'alpha[^x\\n]+beta')] }),
    );
    const r = run(m, ['alpha one', 'two beta']);
    expect(r[1]!.map((p) => [p.reason, p.message])).toEqual([['N', 'alpha one\ntwo beta']]);
  });

  it('skipList is substring based', () => {
    const m = new Monitor(ruleFile({ skipList: ['audit:'], rules: [] }));
    expect(m.skips('x audit: y')).toBe(true);
    expect(m.skips('x y')).toBe(false);
  });

  it('handles non-ASCII text on the fast path', () => {
    const m = new Monitor(ruleFile({ rules: [temp('U', 'héllo \\w+ wörld')] }));
    expect(run(m, ['… héllo big wörld'])[0]![0]!.message).toBe('… héllo big wörld');
  });
});

describe('pattern-shape: which patterns may cross lines', () => {
  it.each([
    ['EXT4-fs error .*', false],
    ['task [\\S ]+:\\w+ blocked', false],
    ['alpha$', false],
    ['\\balpha\\b', false],
    ['[^x]+', true],
    ['[^x\\n]+', false],
    ['(?s)alpha.*beta', true],
    ['(?m)alpha$', true],
    ['^alpha', true],
    ['\\Aalpha', true],
    ['alpha\\nbeta', true],
    ['alpha[\\s\\S]*beta', true],
    ['alpha\\s+beta', true],
    ['alpha[\\x00-\\x7f]beta', true],
    ['alpha[\\t-\\r]beta', true],
    ['alpha\\pCbeta', true],
    ['alpha[[:space:]]beta', true],
    ['alpha\\Wbeta', true],
    ['a\\Db', true],
    ['alpha|beta', false],
    ['.*\\[Hardware Error\\]: event severity: fatal$', false],
    ['(?i)oops', false],
    ['(?P<x>a)b', false],
  ])('%s → %s', (p, want) => {
    expect(mayCrossLines(p)).toBe(want);
  });
});
