// log-throttle.ts: the one log rate limit. Per key, a fixed window opens at the first message
// admitted and admits `perWindow` messages; later ones are suppressed until it ends. When a
// window that suppressed messages ends (seen at the next message of its key), `onSuppressed`
// says how many. At most `maxKeys` windows are kept; beyond that all are forgotten at once.
import type { Clock } from '../types';

export interface LogThrottleOptions {
  readonly windowMs: number;
  /** Messages admitted per window and key (default 1). */
  readonly perWindow?: number;
  /** Windows kept (default 256). */
  readonly maxKeys?: number;
  readonly onSuppressed?: (key: string, suppressed: number) => void;
}

interface Window {
  start: number;
  admitted: number;
  suppressed: number;
}

export class LogThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly clock: Clock,
    private readonly opts: LogThrottleOptions,
  ) {}

  /** True when a message of `key` may be logged now. */
  admit(key: string): boolean {
    const now = this.clock.now();
    let w = this.windows.get(key);
    if (w && now - w.start >= this.opts.windowMs) {
      if (w.suppressed > 0) this.opts.onSuppressed?.(key, w.suppressed);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= (this.opts.maxKeys ?? 256)) this.windows.clear();
      w = { start: now, admitted: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.admitted < (this.opts.perWindow ?? 1)) {
      w.admitted++;
      return true;
    }
    w.suppressed++;
    return false;
  }
}
