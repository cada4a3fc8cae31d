// kube-backoff.ts: retry delays for the Kubernetes exporters: exponential from `baseMs`,
// capped at `capMs`, with "equal jitter" (half fixed, half random) so a fleet that lost its
// API server together does not come back in step; Retry-After wins when it is longer.
export interface BackoffPolicy {
  /** First delay (default 1 s). */
  readonly baseMs: number;
  /** Largest delay (default 2 min). */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 120_000 };

/** Delay before retry number `attempt` (1 = first retry). `random` returns [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterMs?: number): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jittered = exp / 2 + random() * (exp / 2);
  return retryAfterMs !== undefined ? Math.max(jittered, retryAfterMs) : jittered;
}

/** `periodMs` ±10 %. */
export function jitterPeriod(periodMs: number, random: () => number): number {
  return periodMs * (0.9 + 0.2 * random());
}
