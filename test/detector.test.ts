import { describe, expect, it } from 'vitest';
import { Detector } from '../agent/detector';
import type { Logger, RuleFile, Sink } from '../agent/types';
import { perm, ruleFile, temp } from './engine/rule-file';
import { FakeClock } from './helpers/fake-clock';
import { recorder } from './helpers/recording-sink';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

const kernel = ruleFile({
  lookbackMs: 5 * 60_000,
  skipList: ['nwskip'],
  conditions: [
    { type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'kernel has no deadlock' },
    {
      type: 'ReadonlyFilesystem',
      reason: 'FilesystemIsNotReadOnly',
      message: 'Filesystem is not read-only',
      recoverAfterMs: 60_000,
    },
  ],
  rules: [
    temp('OOMKilling', 'Killed process \\d+ (.+) total-vm:\\d+kB.*'),
    perm('KernelDeadlock', 'DockerHung', 'task docker:\\w+ blocked for more than \\w+ seconds\\.'),
    perm('ReadonlyFilesystem', 'FilesystemIsReadOnly', 'Remounting filesystem read-only'),
  ],
});
const filelog: RuleFile = {
  ...kernel,
  path: 'filelog.json',
  plugin: 'filelog',
  logPath: '/var/log/kern.log',
  component: 'kernel-monitor-file',
  pluginConfig: { timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' },
  conditions: [],
  rules: [temp('OOMKilling', 'Killed process \\d+ (.+) total-vm:\\d+kB.*')],
};

function setup(extra: Partial<ConstructorParameters<typeof Detector>[1]> = {}, files: RuleFile[] = [kernel]) {
  const clock = new FakeClock(new Date(2026, 5, 15, 12).getTime());
  const { got, sink } = recorder();
  const d = new Detector(files, { clock, logger, nodeName: 'node-1', sinks: [sink], applyLookback: true, ...extra });
  const kmsg = (text: string, agoMs = 0, backlog = false) =>
    d.handle({ origin: 'kmsg', time: new Date(clock.now() - agoMs), text, backlog });
  return { clock, got, d, kmsg };
}

describe('Detector', () => {
  it('reports the default conditions at start, per source', () => {
    const { got } = setup();
    expect(got.initial).toHaveLength(1);
    expect(got.initial[0]![0]).toBe('kernel-monitor');
    expect(got.initial[0]![1].map((c) => [c.type, c.status, c.reason])).toEqual([
      ['KernelDeadlock', 'False', 'KernelHasNoDeadlock'],
      ['ReadonlyFilesystem', 'False', 'FilesystemIsNotReadOnly'],
    ]);
  });

  it('temporary problem → Warning event on the Node with the matched text', () => {
    const { got, kmsg, d } = setup();
    kmsg('Out of memory: Killed process 1 (x) total-vm:1kB, anon-rss:1kB');
    expect(got.events).toEqual([
      {
        involved: { kind: 'Node', name: 'node-1' },
        type: 'Warning',
        reason: 'OOMKilling',
        message: 'Out of memory: Killed process 1 (x) total-vm:1kB, anon-rss:1kB',
        component: 'kernel-monitor',
        time: got.problems[0]!.time,
      },
    ]);
    expect(got.changes).toEqual([]);
    expect(d.counterMap().get('kmsg')).toMatchObject({ received: 1, matched: 1, problems: 1 });
  });

  it('permanent problem → condition change + NPD condition-change event; repeat → nothing new', () => {
    const { got, kmsg, d } = setup();
    kmsg('INFO: task docker:12 blocked for more than 120 seconds.');
    kmsg('INFO: task docker:12 blocked for more than 120 seconds.');
    expect(got.problems).toHaveLength(2);
    expect(got.changes).toHaveLength(1);
    expect(got.changes[0]!.condition).toMatchObject({ type: 'KernelDeadlock', status: 'True', reason: 'DockerHung' });
    expect(got.events).toHaveLength(1);
    expect(got.events[0]).toMatchObject({
      type: 'Warning',
      reason: 'DockerHung',
      message:
        'Node condition KernelDeadlock is now: True, reason: DockerHung, message: "INFO: task docker:12 blocked for more than 120 seconds."',
    });
    expect(d.conditions().find((c) => c.type === 'KernelDeadlock')?.status).toBe('True');
  });

  it('recoverAfter via tick(): Normal event back to the default', () => {
    const { got, kmsg, d, clock } = setup();
    kmsg('EXT4-fs (sda1): Remounting filesystem read-only');
    expect(d.nextDueAt()).toBe(clock.now() + 60_000);
    clock.advance(60_000);
    d.tick();
    expect(got.changes.map((c) => c.condition.status)).toEqual(['True', 'False']);
    expect(got.events.at(-1)).toMatchObject({
      type: 'Normal',
      reason: 'FilesystemIsNotReadOnly',
      message:
        'Node condition ReadonlyFilesystem is now: False, reason: FilesystemIsNotReadOnly, message: "Filesystem is not read-only"',
    });
  });

  it('recoverAfter via its own timer on the clock: a repeat moves the recovery, stop() cancels it', () => {
    const { got, kmsg, d, clock } = setup({ recoveryTimer: true });
    expect(clock.pending()).toBe(0); // nothing due at start
    kmsg('EXT4-fs (sda1): Remounting filesystem read-only');
    expect(clock.pending()).toBe(1);
    clock.advance(30_000);
    kmsg('EXT4-fs (sda1): Remounting filesystem read-only'); // still True; due again 60 s from here
    clock.advance(30_000); // the timer fires, finds nothing due yet, and re-arms
    expect(got.changes.map((c) => c.condition.status)).toEqual(['True']);
    expect(clock.pending()).toBe(1);
    clock.advance(30_000);
    expect(got.changes.map((c) => c.condition.status)).toEqual(['True', 'False']);
    expect(clock.pending()).toBe(0);
    kmsg('EXT4-fs (sda1): Remounting filesystem read-only');
    expect(clock.pending()).toBe(1);
    d.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(120_000);
    expect(got.changes.map((c) => c.condition.status)).toEqual(['True', 'False', 'True']);
  });

  it('recoverAfter of a condition adopted late (from the Node) is armed too', () => {
    const { got, d, clock } = setup({ recoveryTimer: true });
    const t = new Date(clock.now());
    d.adoptLate([
      {
        type: 'ReadonlyFilesystem',
        status: 'True',
        reason: 'FilesystemIsReadOnly',
        message: 'ro',
        lastTransitionTime: t,
      },
    ]);
    expect(d.conditions().find((c) => c.type === 'ReadonlyFilesystem')?.status).toBe('True');
    expect(clock.pending()).toBe(1);
    clock.advance(60_000);
    expect(got.changes.map((c) => [c.condition.type, c.condition.status])).toEqual([['ReadonlyFilesystem', 'False']]);
  });

  it('drops lines older than start − lookback when applyLookback; keeps them otherwise', () => {
    const a = setup();
    a.kmsg('Killed process 1 (x) total-vm:1kB', 6 * 60_000, true);
    a.kmsg('Killed process 1 (x) total-vm:1kB', 4 * 60_000, true);
    expect(a.got.problems).toHaveLength(1);
    expect(a.d.counterMap().get('kmsg')).toMatchObject({ received: 2, tooOld: 1 });
    // Lines a checkpoint vouches for (not backlog) are never dropped, however old.
    a.kmsg('Killed process 1 (x) total-vm:1kB', 60 * 60_000, false);
    expect(a.got.problems).toHaveLength(2);
    const b = setup({ applyLookback: false });
    b.kmsg('Killed process 1 (x) total-vm:1kB', 6 * 60_000, true);
    expect(b.got.problems).toHaveLength(1);
  });

  it('NPD delay: nothing before boot + delay', () => {
    const clock0 = new Date(2026, 5, 15, 12).getTime();
    const a = setup({ bootTimeMs: clock0 - 60_000 }, [{ ...kernel, delayMs: 120_000 }]);
    a.kmsg('Killed process 1 (x) total-vm:1kB', 0, true);
    expect(a.got.problems).toHaveLength(0);
    a.clock.advance(61_000);
    a.kmsg('Killed process 1 (x) total-vm:1kB', 0, true);
    expect(a.got.problems).toHaveLength(1);
    // delay applies to live lines too (not only backlog), as NPD's start time does.
    const b = setup({ bootTimeMs: clock0 - 60_000 }, [{ ...kernel, delayMs: 120_000 }]);
    b.kmsg('Killed process 1 (x) total-vm:1kB', 0, false);
    expect(b.got.problems).toHaveLength(0);
    b.clock.advance(61_000);
    b.kmsg('Killed process 1 (x) total-vm:1kB', 0, false);
    expect(b.got.problems).toHaveLength(1);
  });

  it('skipList, empty kmsg lines and trimming', () => {
    const { got, kmsg, d } = setup();
    kmsg('nwskip Killed process 1 (x) total-vm:1kB');
    kmsg('   ');
    kmsg('  Killed process 1 (x) total-vm:1kB  ');
    expect(got.problems.map((p) => p.message)).toEqual(['Killed process 1 (x) total-vm:1kB']);
    expect(d.counterMap().get('kmsg')).toMatchObject({ received: 3, skipped: 2 });
  });

  it('routes file lines by logPath through the syslog parser; unparseable lines are counted', () => {
    const { got, d } = setup({}, [kernel, filelog]);
    d.handle({
      origin: '/var/log/kern.log',
      time: new Date(),
      text: 'Jun 15 11:59:00 n kernel: [ 1.0] Killed process 9 (y) total-vm:2kB',
    });
    d.handle({ origin: '/var/log/kern.log', time: new Date(), text: 'not a syslog line' });
    d.handle({
      origin: '/var/log/other.log',
      time: new Date(),
      text: 'Jun 15 11:59:00 n kernel: [ 1.0] Killed process 9 (y) total-vm:2kB',
    });
    expect(got.problems).toEqual([
      {
        kind: 'temporary',
        component: 'kernel-monitor-file',
        reason: 'OOMKilling',
        message: 'Killed process 9 (y) total-vm:2kB',
        time: new Date(2026, 5, 15, 11, 59),
      },
    ]);
    expect(d.counterMap().get('/var/log/kern.log')).toMatchObject({ received: 2, unparsed: 1, matched: 1 });
    expect(d.counterMap().get('/var/log/other.log')).toMatchObject({ received: 1, unrouted: 1 });
  });

  it('a file first named by a reload counts its lookback from the reload, not from agent start', () => {
    const { got, d, clock } = setup({}, [kernel]);
    clock.advance(3 * 24 * 3_600_000); // the agent has run for 3 days
    d.reload([kernel, { ...filelog, lookbackMs: 5 * 60_000 }]);
    // Jun 16 12:00 is 2 days before now (Jun 18 12:00): old backlog of the newly followed file.
    d.handle({
      origin: '/var/log/kern.log',
      time: new Date(),
      backlog: true,
      text: 'Jun 16 12:00:00 n kernel: [ 1.0] Killed process 1 (old) total-vm:2kB',
    });
    d.handle({
      origin: '/var/log/kern.log',
      time: new Date(),
      backlog: true,
      text: 'Jun 18 11:58:00 n kernel: [ 1.0] Killed process 2 (recent) total-vm:2kB',
    });
    expect(got.problems.map((p) => p.message)).toEqual(['Killed process 2 (recent) total-vm:2kB']);
    expect(d.counterMap().get('/var/log/kern.log')).toMatchObject({ received: 2, tooOld: 1 });
  });

  it('initialConditions are adopted; reload keeps condition state', () => {
    const was = new Date('2026-01-01T00:00:00Z');
    const { got, kmsg, d } = setup({
      initialConditions: [
        { type: 'KernelDeadlock', status: 'True', reason: 'DockerHung', message: 'm', lastTransitionTime: was },
      ],
    });
    expect(got.initial[0]![1][0]).toMatchObject({ status: 'True', reason: 'DockerHung' });
    kmsg('INFO: task docker:12 blocked for more than 120 seconds.');
    expect(got.changes).toHaveLength(0);
    d.reload([{ ...kernel, rules: [perm('KernelDeadlock', 'NewReason', 'new pattern')] }]);
    expect(d.conditions().find((c) => c.type === 'KernelDeadlock')).toMatchObject({
      status: 'True',
      reason: 'DockerHung',
    });
    kmsg('new pattern');
    expect(got.changes.at(-1)?.condition.reason).toBe('NewReason');
    kmsg('Killed process 1 (x) total-vm:1kB');
    expect(got.problems.at(-1)?.reason).toBe('NewReason'); // old rules are gone
  });

  it('a throwing sink does not stop the others', () => {
    const clock = new FakeClock();
    const { got, sink } = recorder();
    const bad: Sink = {
      name: 'bad',
      onProblem: () => {
        throw new Error('boom');
      },
    };
    const d = new Detector([kernel], { clock, logger, nodeName: 'n', sinks: [bad, sink], applyLookback: false });
    d.handle({ origin: 'kmsg', time: new Date(), text: 'Killed process 1 (x) total-vm:1kB' });
    expect(got.problems).toHaveLength(1);
  });
});
