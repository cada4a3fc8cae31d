// eventually.ts: polls a check until it yields a value, for tests that watch a real agent process
// or a real API. On timeout (or when the watched agent exits) it throws with the last error and
// the agent's output, so a failure says why.
export interface Watched {
  readonly alive: boolean;
  readonly exitCode: number | null | undefined;
  readonly output: string;
}

export interface EventuallyOptions {
  readonly ms?: number;
  readonly everyMs?: number;
  /** The agent whose death ends the wait early and whose output goes into the error. */
  readonly agent?: () => Watched | undefined;
}

export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: EventuallyOptions = {},
): Promise<T> {
  const end = Date.now() + (opts.ms ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    const agent = opts.agent?.();
    if (agent && !agent.alive)
      throw new Error(`agent exited (${agent.exitCode}) while waiting for ${what}\n${agent.output}`);
    if (Date.now() > end) {
      const lastError = last ? ` (last error: ${String(last)})` : '';
      throw new Error(`timed out waiting for ${what}${lastError}${agent ? `\nagent output:\n${agent.output}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}

/**
 * Waits until pred() holds, checking every 5 ms: for in-process tests waiting on real I/O (the
 * fake API server over loopback HTTP). The 30 s bound only guards against a hang (the waits it
 * ends take milliseconds to a few hundred).
 */
export function until(what: string, pred: () => boolean): Promise<true> {
  return eventually(what, () => pred() || undefined, { everyMs: 5 });
}
