// log.ts: builds the pino logger main hands down. JSON lines on stdout, ISO times, no global
// logger. Kernel text only ever goes into fields, never into the message template.
import pino from 'pino';
import type { Logger } from './types';

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger & { flush(): void } {
  const logger = pino({
    level,
    base: { name: 'nodewarden', ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  return logger as unknown as Logger & { flush(): void };
}
