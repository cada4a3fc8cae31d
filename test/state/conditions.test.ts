import { describe, expect, it } from 'vitest';
import { TRUNCATION_MARKER } from '../../agent/cap-message';
import { CONDITION_MESSAGE_LIMIT_BYTES, ConditionState, type DeclaredCondition } from '../../agent/state/conditions';
import type { Problem } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';

const specs: DeclaredCondition[] = [
  {
    type: 'KernelDeadlock',
    reason: 'KernelHasNoDeadlock',
    message: 'kernel has no deadlock',
    component: 'kernel-monitor',
  },
  {
    type: 'ReadonlyFilesystem',
    reason: 'FilesystemIsNotReadOnly',
    message: 'ro?',
    component: 'readonly-monitor',
    recoverAfterMs: 60_000,
  },
];
const perm = (condition: string, reason: string, message: string, time: Date): Problem => ({
  kind: 'permanent',
  component: 's',
  condition,
  reason,
  message,
  time,
});

describe('ConditionState', () => {
  it('starts at defaults: False with the default reason and message', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    expect(st.current().map((x) => [x.type, x.status, x.reason, x.message])).toEqual([
      ['KernelDeadlock', 'False', 'KernelHasNoDeadlock', 'kernel has no deadlock'],
      ['ReadonlyFilesystem', 'False', 'FilesystemIsNotReadOnly', 'ro?'],
    ]);
  });

  it('permanent problem → True; same reason again → nothing; new reason → change', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    const t1 = new Date(c.now() - 5000);
    const ch = st.apply(perm('KernelDeadlock', 'DockerHung', 'task docker:1 blocked', t1));
    expect(ch?.condition).toEqual({
      type: 'KernelDeadlock',
      status: 'True',
      reason: 'DockerHung',
      message: 'task docker:1 blocked',
      lastTransitionTime: t1,
    });
    expect(ch?.previous?.status).toBe('False');
    expect(st.apply(perm('KernelDeadlock', 'DockerHung', 'other text', new Date()))).toBeUndefined();
    expect(st.current()[0]!.message).toBe('task docker:1 blocked');
    expect(st.apply(perm('KernelDeadlock', 'OtherHung', 'x', new Date()))?.condition.reason).toBe('OtherHung');
    expect(
      st.apply({ kind: 'temporary', component: 's', reason: 'X', message: 'm', time: new Date() }),
    ).toBeUndefined();
    expect(st.apply(perm('Undeclared', 'R', 'm', new Date()))).toBeUndefined();
  });

  it('late adoption takes the Node value only where nothing changed since start, once', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    const now = new Date(c.now());
    st.apply(perm('KernelDeadlock', 'DockerHung', 'seen since start', now));
    const since = new Date(c.now() - 3_600_000);
    const node = [
      {
        type: 'KernelDeadlock',
        status: 'False' as const,
        reason: 'KernelHasNoDeadlock',
        message: 'old',
        lastTransitionTime: since,
      },
      {
        type: 'ReadonlyFilesystem',
        status: 'True' as const,
        reason: 'FilesystemIsReadOnly',
        message: 'from before',
        lastTransitionTime: since,
      },
    ];
    expect([...st.adoptWhereUntouched(node)]).toEqual(['readonly-monitor']);
    expect(st.current().map((x) => [x.type, x.status, x.reason])).toEqual([
      ['KernelDeadlock', 'True', 'DockerHung'],
      ['ReadonlyFilesystem', 'True', 'FilesystemIsReadOnly'],
    ]);
    // Only once: a second late read changes nothing.
    expect([...st.adoptWhereUntouched([{ ...node[1]!, status: 'False', reason: 'FilesystemIsNotReadOnly' }])]).toEqual(
      [],
    );
    expect(st.current()[1]!.status).toBe('True');
  });

  it('caps a huge (multi-line match) message at 1 KiB with the marker, in the change and in current()', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    const line = `task blocked ${'é'.repeat(8000)}`;
    const huge = Array.from({ length: 1000 }, () => line).join('\n'); // ~16 MB
    const ch = st.apply(perm('KernelDeadlock', 'DockerHung', huge, new Date())); // its speed: npm run bench
    const msg = ch?.condition.message ?? '';
    expect(CONDITION_MESSAGE_LIMIT_BYTES).toBe(1024);
    expect(Buffer.byteLength(msg, 'utf8')).toBeLessThanOrEqual(1024);
    expect(Buffer.byteLength(msg, 'utf8')).toBeGreaterThan(1000);
    expect(msg.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(msg.startsWith('task blocked éé')).toBe(true);
    expect(msg).not.toContain('\uFFFD');
    expect(st.current()[0]!.message).toBe(msg);
    // A short message is kept as is.
    expect(st.apply(perm('KernelDeadlock', 'Other', 'short', new Date()))?.condition.message).toBe('short');
  });

  it('adopt: conditions from the Node replace defaults (restart keeps True)', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    const was = new Date('2025-12-01T00:00:00Z');
    st.adopt([
      { type: 'KernelDeadlock', status: 'True', reason: 'DockerHung', message: 'old', lastTransitionTime: was },
      { type: 'Ready', status: 'True', reason: 'KubeletReady', message: '', lastTransitionTime: was },
    ]);
    expect(st.current().map((x) => x.type)).toEqual(['KernelDeadlock', 'ReadonlyFilesystem']);
    expect(st.current()[0]).toMatchObject({ status: 'True', reason: 'DockerHung', lastTransitionTime: was });
    expect(st.apply(perm('KernelDeadlock', 'DockerHung', 'again', new Date()))).toBeUndefined();
  });

  it('recoverAfter: back to the default after that long without a matching line', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    expect(st.nextDueAt()).toBeUndefined();
    st.apply(perm('ReadonlyFilesystem', 'FilesystemIsReadOnly', 'Remounting filesystem read-only', new Date(c.now())));
    expect(st.nextDueAt()).toBe(c.now() + 60_000);
    c.advance(30_000);
    expect(st.tick()).toEqual([]);
    st.apply(perm('ReadonlyFilesystem', 'FilesystemIsReadOnly', 'again', new Date(c.now()))); // repeat pushes recovery out
    c.advance(59_000);
    expect(st.tick()).toEqual([]);
    c.advance(1_000);
    const [ch] = st.tick();
    expect(ch?.condition).toMatchObject({ status: 'False', reason: 'FilesystemIsNotReadOnly', message: 'ro?' });
    expect(ch?.condition.lastTransitionTime.getTime()).toBe(c.now());
    expect(ch?.component).toBe('readonly-monitor');
    expect(st.nextDueAt()).toBeUndefined();
    // KernelDeadlock has no recoverAfter: never recovers.
    st.apply(perm('KernelDeadlock', 'DockerHung', 'x', new Date()));
    c.advance(365 * 86_400_000);
    expect(st.tick()).toEqual([]);
  });

  it('replaceSpecs keeps state of types still declared, drops others, adds new at default', () => {
    const c = new FakeClock();
    const st = new ConditionState(specs, c);
    st.apply(perm('KernelDeadlock', 'DockerHung', 'x', new Date()));
    st.replaceSpecs([
      { ...specs[0]!, message: 'new default' },
      { type: 'XfsShutdown', reason: 'XfsHasNotShutDown', message: 'XFS ok', component: 'kernel-monitor' },
    ]);
    expect(st.current().map((x) => [x.type, x.status, x.reason])).toEqual([
      ['KernelDeadlock', 'True', 'DockerHung'],
      ['XfsShutdown', 'False', 'XfsHasNotShutDown'],
    ]);
  });
});
