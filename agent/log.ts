// log.ts: builds the pino logger main hands down. JSON lines on stdout, ISO times, no global
// logger. Kernel text only ever goes into fields, never into the message template.
import pino from 'pino';
import { isoString } from './runtime/utc-time';
import type { Logger } from './types';

/** pino.stdTimeFunctions.isoTime's field, without Date's toISOString (runtime/utc-time.ts). */
const isoTime = (): string => `,"time":"${isoString(Date.now())}"`;

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger & { flush(): void } {
  const logger = pino({
    level,
    base: { name: 'nodewarden', ...bindings },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  return logger as unknown as Logger & { flush(): void };
}
