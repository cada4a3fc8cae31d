import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SourceRunner } from '../../agent/app/source-runner';
import type { LineHandler, Logger, Source } from '../../agent/types';

const log = { error: () => undefined } as unknown as Logger;

/** A source that runs until its signal aborts, and records the signal it was given. */
function waitingSource(id: string): Source & { signal?: AbortSignal } {
  const s = {
    id,
    signal: undefined as AbortSignal | undefined,
    run(_onLine: LineHandler, signal: AbortSignal): Promise<void> {
      s.signal = signal;
      return new Promise((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  };
  return s as unknown as Source & { signal?: AbortSignal };
}

/** A runner under a fresh agent signal, running two waiting sources, a and b. */
function twoSources() {
  const agent = new AbortController();
  const runner = new SourceRunner(agent.signal, log);
  const a = waitingSource('a');
  const b = waitingSource('b');
  runner.add(a, () => undefined);
  runner.add(b, () => undefined);
  return { agent, runner, a, b };
}

describe('SourceRunner', () => {
  it("stops every source when the agent's signal aborts, with its reason", async () => {
    const { agent, runner, a, b } = twoSources();
    expect(a.signal!.aborted).toBe(false);
    agent.abort(new Error('shutdown'));
    expect(a.signal!.aborted && b.signal!.aborted).toBe(true);
    expect((a.signal!.reason as Error).message).toBe('shutdown');
    await runner.stopped();
  });

  it('remove stops that source only, and no listener is left on the agent signal', async () => {
    const { agent, runner, a, b } = twoSources();
    expect(getEventListeners(agent.signal, 'abort')).toHaveLength(2);
    await runner.remove('a');
    expect(a.signal!.aborted).toBe(true);
    expect(b.signal!.aborted).toBe(false);
    expect(runner.ids()).toEqual(['b']);
    expect(getEventListeners(agent.signal, 'abort')).toHaveLength(1);
    agent.abort();
    await runner.stopped();
    expect(getEventListeners(agent.signal, 'abort')).toHaveLength(0);
  });

  it('a source added after the agent signal aborted starts aborted; one that throws is logged', async () => {
    const agent = new AbortController();
    agent.abort();
    const errors: unknown[] = [];
    const runner = new SourceRunner(agent.signal, { error: (o: unknown) => errors.push(o) } as unknown as Logger);
    const a = waitingSource('a');
    runner.add(a, () => undefined);
    expect(a.signal!.aborted).toBe(true);
    const bad = { id: 'bad', run: () => Promise.reject(new Error('boom')) } as unknown as Source;
    runner.add(bad, () => undefined);
    await runner.stopped();
    expect(errors).toEqual([{ source: 'bad', err: 'boom' }]);
  });
});
