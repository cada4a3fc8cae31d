// backoff.ts: retry delays for everything that talks to the API server (condition and event
// exporters, the pod watch): exponential from `baseMs`, capped at `capMs`, with full jitter
// (uniform in [0, current step]) so a fleet that lost its API server together comes back spread
// over the whole cap instead of in waves. Retry-After wins when it is longer, up to
// RETRY_AFTER_CAP_MS. The caller resets its attempt count on success. Pure: randomness injected.
// backoffStep alone (no jitter) paces idle polling (the kmsg and file sources).
export interface BackoffPolicy {
  /** First step (the first retry waits up to this long). */
  readonly baseMs: number;
  /** Largest step: no retry waits longer (unless Retry-After asks for more). */
  readonly capMs: number;
}

/**
 * Conditions: the cap equals node-problem-detector's resync period (10 s), so the Node shows
 * the conditions within about 10 s of the API server answering again, as with NPD.
 */
export const CONDITION_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 10_000 };
/** Events: they carry their own counts and timestamps, so they can wait longer. */
export const EVENT_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 120_000 };
/** The pod list/watch: resumes within 20 s (plus one list) of the API server answering again. */
export const WATCH_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 20_000 };
/**
 * The longest Retry-After honoured. The API server's own 429s (priority and fairness,
 * max-inflight) ask for 1 s or a few; a longer value comes from something in front of it, and
 * state older than a minute on the Node is worse than one more request per minute per node.
 */
export const RETRY_AFTER_CAP_MS = 60_000;

/** The un-jittered step for `attempt` (1 = first): baseMs doubling, capped at capMs. */
export function backoffStep(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/** Delay before retry number `attempt` (1 = first retry). `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const jittered = random() * backoffStep(attempt, policy);
  return retryAfterMs !== undefined ? Math.max(jittered, Math.min(retryAfterMs, RETRY_AFTER_CAP_MS)) : jittered;
}

/** `periodMs` ±10 %. */
export function jitterPeriod(periodMs: number, random: () => number): number {
  return periodMs * (0.9 + 0.2 * random());
}
