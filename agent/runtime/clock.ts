// clock.ts: the real clock and an abortable sleep. main builds one and hands it down; tests pass
// test/helpers/fake-clock.ts instead.
import type { Clock, Sleep } from '../types';

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Abortable sleep on a clock: resolves after ms, or at once when the signal aborts. */
export function sleeperFor(clock: Clock): Sleep {
  return (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        cancel();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const cancel = clock.setTimer(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    });
}
