// deadline.ts: races work against a deadline (epoch ms) on the injected Clock, so shutdown flushes
// stay bounded and tests drive the deadline with the fake clock. The timer is cancelled once the
// race settles; the work itself is not cancelled (it keeps running, unawaited).
import type { Clock } from '../types';

/**
 * Waits for `work` or the deadline, whichever comes first; true when the work settled first.
 * Pass a function to arm the timer before the work starts; a promise is already running.
 * A rejection of the work propagates.
 */
export async function raceDeadline(
  clock: Clock,
  work: Promise<unknown> | (() => Promise<unknown>),
  deadline: number,
): Promise<boolean> {
  let cancel: (() => void) | undefined;
  let timedOut = false;
  const timeout = new Promise<void>((resolve) => {
    cancel = clock.setTimer(
      () => {
        timedOut = true;
        resolve();
      },
      Math.max(0, deadline - clock.now()),
    );
  });
  try {
    await Promise.race([typeof work === 'function' ? work() : work, timeout]);
  } finally {
    cancel?.();
  }
  return !timedOut;
}

/** The work's value, or `fallback` once the deadline (epoch ms) passes or the work rejects. */
export async function valueBy<T>(clock: Clock, work: Promise<T>, deadline: number, fallback: T): Promise<T> {
  let value = fallback;
  const settled = work.then(
    (v) => {
      value = v;
    },
    () => undefined,
  );
  return (await raceDeadline(clock, settled, deadline)) ? value : fallback;
}
