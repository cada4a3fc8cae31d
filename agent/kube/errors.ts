// kube/errors.ts: turns whatever an API call throws (rest.ts's ApiError with a status and a
// metav1.Status body, a network or exec-plugin error with a string `code`, AbortError for our
// request timeout) into an ApiFailure: retryable or not, with Retry-After in ms.
import type { ApiFailure } from './types';

/** Statuses worth retrying: timeouts, conflicts on optimistic writes, throttling, server errors. */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 10 * 60_000;

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

function parseBody(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      const v: unknown = JSON.parse(body);
      return v !== null && typeof v === 'object' ? (v as StatusBody) : undefined;
    } catch {
      return undefined;
    }
  }
  return body !== null && typeof body === 'object' ? (body as StatusBody) : undefined;
}

/** Retry-After as seconds or an HTTP date, in ms (bounded); undefined when absent or bad. */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const s = value.trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const at = Date.parse(s);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/** Classifies a thrown error. Never throws. */
export function classifyApiError(err: unknown, nowMs = Date.now()): ApiFailure {
  const e = (err ?? {}) as {
    code?: unknown;
    body?: unknown;
    headers?: unknown;
    name?: unknown;
    message?: unknown;
  };
  if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) {
    const status = e.code;
    const body = parseBody(e.body);
    const reason = typeof body?.reason === 'string' ? body.reason : undefined;
    const message = typeof body?.message === 'string' ? body.message : `HTTP ${status}`;
    const headers = (e.headers ?? {}) as Record<string, unknown>;
    const retryAfterMs = parseRetryAfter(headers['retry-after'], nowMs);
    return {
      ok: false,
      retryable: RETRYABLE_STATUS.has(status),
      error: `${status}${reason ? ` ${reason}` : ''}: ${message}`.slice(0, 512),
      status,
      ...(reason !== undefined ? { reason } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (name === 'AbortError' || name === 'TimeoutError') {
    return { ok: false, retryable: true, error: `request timed out: ${message}`.slice(0, 512) };
  }
  if (typeof e.code === 'string') {
    return { ok: false, retryable: true, error: `network error: ${e.code}: ${message}`.slice(0, 512) };
  }
  // Anything else (a bug, a serialisation error) is not something a retry fixes.
  return { ok: false, retryable: false, error: `unexpected error: ${message}`.slice(0, 512) };
}
