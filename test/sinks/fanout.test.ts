// fanout.test.ts: every sink gets every call in order; a throwing sink is isolated and counted.
import { describe, expect, it } from 'vitest';
import { Fanout } from '../../agent/sinks/fanout';
import type { Logger, NodeEvent, Sink } from '../../agent/types';

function logger(lines: unknown[]): Logger {
  const l: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (o: unknown, msg?: string) => void lines.push([o, msg]),
    child: () => l,
  };
  return l;
}

const event: NodeEvent = {
  involved: { kind: 'Node', name: 'n' },
  type: 'Warning',
  reason: 'R',
  message: 'm',
  component: 'c',
  time: new Date(0),
};

describe('Fanout', () => {
  it('hands each call to every sink in order, isolating and counting one that throws', async () => {
    const order: string[] = [];
    const bad: Sink = {
      name: 'bad',
      onEvent: () => {
        order.push('bad');
        throw new Error('boom');
      },
    };
    const good: Sink = { name: 'good', onEvent: () => order.push('good'), flush: async () => void order.push('flush') };
    const lines: unknown[] = [];
    const sinks: Sink[] = [bad];
    const out = new Fanout(sinks, logger(lines));
    sinks.push(good); // added after construction: still called
    out.onEvent(event);
    out.onEvent(event);
    out.onProblem({ kind: 'temporary', component: 's', reason: 'R', message: 'm', time: new Date(0) }); // no sink has it
    expect(order).toEqual(['bad', 'good', 'bad', 'good']);
    expect(out.errors.get('bad')).toBe(2);
    expect(out.errors.has('good')).toBe(false);
    expect(lines[0]).toEqual([{ sink: 'bad', call: 'onEvent', err: 'boom' }, 'sink threw']);
    await out.flush(1_000); // a deadline; no sink here looks at it
    expect(order.at(-1)).toBe('flush');
  });
});
