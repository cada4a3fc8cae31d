// log-counter.ts: `nodewarden log-counter`, NPD's log-counter helper (cmd/logcounter), for the
// custom-plugin counter configs NPD ships (systemd-monitor-counter.json and friends). The same
// flags, semantics and exit codes, so those configs run by changing only `path`; the bundle also
// answers to the name `log-counter` (a symlink, busybox-style; see main.ts and the Dockerfile).
//
// Semantics (NPD's pkg/logcounter): read the journal entries of SYSLOG_IDENTIFIER
// `--journald-source` in `--log-path`, from max(now − lookback, boot + delay) up to the moment
// the counter started (it stops at the first newer entry). Each entry goes into a 1,000-line
// buffer; when `--pattern` matches at the end of the buffer (the rules' end-anchored, multi-line
// matching) the count goes up by one; when `--revert-pattern` matches, down by one. An empty
// revert pattern counts nothing (it would match every entry). Exit codes are the custom plugin
// protocol's: 1 (NonOK) with `Found N matching logs, which meets the threshold of C` on stdout
// when count >= `--count` (default 1); 0 (OK) otherwise; 2 (Unknown) with the error on stdout
// when the journal cannot be read or a flag is bad.
// Entries come from a `journalctl` child without --follow (journal-port.ts), decoded and guarded
// like the journald source's (journal-entry.ts).
import { stat } from './runtime/fs-async';
import { parseArgs } from 'node:util';
import { parseRuleFile } from './config/rule-files';
import { parseNonNegativeDuration } from './config/duration';
import { Monitor } from './engine/monitor';
import { parseJournalEntry } from './sources/journal-entry';
import { realJournalPort, type JournalPort } from './sources/journal-port';
import { DEFAULT_MAX_LINE_BYTES } from './sources/text-guard';
import { MAX_JSON_LINE_BYTES } from './sources/journald';
import { formatConfigError, type Clock } from './types';

/** NPD's log counter buffer. */
export const LOG_COUNTER_BUFFER = 1000;
export const EXIT_OK = 0;
export const EXIT_NON_OK = 1;
export const EXIT_UNKNOWN = 2;

export interface LogCounterOptions {
  readonly journaldSource: string;
  readonly logPath: string;
  readonly lookbackMs: number;
  readonly delayMs: number;
  readonly count: number;
  readonly pattern: string;
  readonly revertPattern: string;
}

const FLAGS = {
  'journald-source': { type: 'string' },
  'log-path': { type: 'string' },
  lookback: { type: 'string' },
  delay: { type: 'string' },
  count: { type: 'string' },
  pattern: { type: 'string' },
  'revert-pattern': { type: 'string' },
} as const;

/** Parses log-counter's flags (`--flag=value` or `--flag value`); every problem is listed. */
export function parseLogCounterArgs(
  argv: readonly string[],
): { ok: true; options: LogCounterOptions } | { ok: false; errors: string[] } {
  let values: Partial<Record<keyof typeof FLAGS, string>>;
  try {
    values = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const errors: string[] = [];
  const dur = (name: 'lookback' | 'delay'): number => {
    const v = values[name];
    if (v === undefined || v === '') return 0;
    const r = parseNonNegativeDuration(v);
    if (typeof r === 'string') {
      errors.push(`--${name}: ${r}`);
      return 0;
    }
    return r;
  };
  const lookbackMs = dur('lookback');
  const delayMs = dur('delay');
  let count = 1;
  if (values.count !== undefined) {
    count = /^-?\d+$/.test(values.count) ? Number(values.count) : NaN;
    if (!Number.isSafeInteger(count)) errors.push(`--count: expected an integer, got ${JSON.stringify(values.count)}`);
  }
  const journaldSource = values['journald-source'] ?? '';
  if (journaldSource === '') errors.push('--journald-source: required (the SYSLOG_IDENTIFIER to count)');
  const pattern = values.pattern ?? '';
  if (pattern === '') errors.push('--pattern: required');
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    options: {
      journaldSource,
      logPath: values['log-path'] || '/var/log/journal',
      lookbackMs,
      delayMs,
      count,
      pattern,
      revertPattern: values['revert-pattern'] ?? '',
    },
  };
}

/**
 * The two patterns compiled as the rule engine runs rules (end-anchored, RE2, a 1,000-line
 * buffer), through the rule-file loader so a bad pattern gets the loader's message.
 */
export function counterMonitor(o: LogCounterOptions): Monitor | string[] {
  const rules = [{ type: 'temporary', reason: 'pattern', pattern: o.pattern }];
  if (o.revertPattern !== '') rules.push({ type: 'temporary', reason: 'revert', pattern: o.revertPattern });
  const doc = { plugin: 'kmsg', source: 'log-counter', bufferSize: LOG_COUNTER_BUFFER, rules };
  const r = parseRuleFile('log-counter', JSON.stringify(doc));
  if (r.file === undefined) {
    return r.errors.map((e) =>
      formatConfigError(e)
        .replace('log-counter: rules[0].pattern', '--pattern')
        .replace('log-counter: rules[1].pattern', '--revert-pattern'),
    );
  }
  return new Monitor(r.file);
}

/** Counts as NPD does: +1 per entry completing a pattern match, −1 per revert match. */
export function countEntry(monitor: Monitor, message: string, time: Date): number {
  let n = 0;
  for (const p of monitor.matchText(message, time)) n += p.reason === 'pattern' ? 1 : -1;
  return n;
}

export interface LogCounterIo {
  readonly stdout: NodeJS.WritableStream;
  readonly clock: Clock;
  /** Epoch ms of boot (for --delay). */
  readonly bootTimeMs: number;
  readonly port?: JournalPort;
  readonly journalctl?: string;
}

/** Runs `log-counter` with argv (the flags only); resolves to the exit code. */
export async function runLogCounter(argv: readonly string[], io: LogCounterIo): Promise<number> {
  const parsed = parseLogCounterArgs(argv);
  if (!parsed.ok) {
    io.stdout.write(`log-counter: ${parsed.errors.join('; ')}\n`);
    return EXIT_UNKNOWN;
  }
  const o = parsed.options;
  const monitor = counterMonitor(o);
  if (!(monitor instanceof Monitor)) {
    io.stdout.write(`log-counter: ${monitor.join('; ')}\n`);
    return EXIT_UNKNOWN;
  }
  // NPD stats the path itself: sd-journal would create a missing directory.
  try {
    if (!(await stat(o.logPath)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    io.stdout.write(`failed to stat the log path ${JSON.stringify(o.logPath)}: ${(e as Error).message}\n`);
    return EXIT_UNKNOWN;
  }
  const startedAt = io.clock.now();
  const since = Math.max(startedAt - o.lookbackMs, io.bootTimeMs + o.delayMs);
  const args = [
    `--directory=${o.logPath}`,
    '--output=json',
    '--output-fields=SYSLOG_IDENTIFIER,MESSAGE',
    '--all',
    '--no-pager',
    '--quiet',
    `--since=@${Math.floor(Math.max(0, since) / 1000)}`,
    `SYSLOG_IDENTIFIER=${o.journaldSource}`,
  ];
  const child = (io.port ?? realJournalPort).spawn(io.journalctl ?? 'journalctl', args, MAX_JSON_LINE_BYTES);
  let count = 0;
  for (;;) {
    const l = await child.next();
    if (l === undefined) break;
    if ('tooLong' in l) continue;
    const e = parseJournalEntry(l.text, DEFAULT_MAX_LINE_BYTES);
    if ('error' in e) continue;
    // --since has whole seconds; the window is exact here. Entries after the start end the count.
    if (e.timeMs < since) continue;
    if (e.timeMs > startedAt) break;
    count += countEntry(monitor, e.message, new Date(e.timeMs));
  }
  child.kill();
  const exit = await child.exited;
  // Killed by us after the window (a signal) is fine; any other end but 0 is an error.
  if (exit.signal === null && exit.code !== 0) {
    io.stdout.write(`error reading the journal: journalctl exited (code ${exit.code ?? '?'}): ${exit.message}\n`);
    return EXIT_UNKNOWN;
  }
  if (count >= o.count) {
    io.stdout.write(`Found ${count} matching logs, which meets the threshold of ${o.count}\n`);
    return EXIT_NON_OK;
  }
  return EXIT_OK;
}
