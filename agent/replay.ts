// replay.ts: offline rule testing (`nodewarden replay`). Reads a capture, runs it through the same
// Detector the agent uses (no start-window filtering), and writes one JSON object per line: an
// `event` line per Event that would be posted (before aggregation) and a `condition` line per
// condition change. Formats: `kmsg` is raw /dev/kmsg record text (a header line, then dictionary
// lines starting with a space); `syslog` is parsed by each filelog rule file's pluginConfig;
// `plain` is one message per line, matched by every rule file, timed by the clock.
// kmsg time: records carry microseconds since boot; with no `bootTimeMs` the boot is taken to be
// the epoch, so times read as time since boot (1970-01-01T00:19:16.246Z = 1156.246 s).
// Condition time follows the log (recoverAfter is measured between lines of the capture).
import { createInterface } from 'node:readline';
import { Detector } from './detector';
import { parseKmsgRecord } from './sources/kmsg-record';
import type { Clock, ConditionChange, Logger, LogLine, NodeEvent, RuleFile, Sink } from './types';

export type ReplayFormat = 'kmsg' | 'syslog' | 'plain';

export interface ReplayOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  readonly files: readonly RuleFile[];
  readonly format: ReplayFormat;
  readonly clock: Clock;
  /** Epoch ms of boot for kmsg records (default 0: times are time since boot). */
  readonly bootTimeMs?: number;
  readonly logger?: Logger;
}

export interface ReplayResult {
  /** Records (kmsg) or lines (syslog, plain) read. */
  lines: number;
  /** Malformed kmsg records, and syslog lines no rule file could parse. */
  skipped: number;
}

/** The pseudo source id every syslog-format rule file is routed from during replay. */
const REPLAY_FILE = '(replay)';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const files = selectFiles(opts.files, opts.format);
  const out = opts.output;
  // Backpressure: when the output is full, reading waits for it to drain (memory stays flat
  // however large the capture and however slow the pipe).
  let drained: Promise<void> | undefined;
  const write = (o: object): void => {
    if (out.write(JSON.stringify(o) + '\n') || drained) return;
    drained = new Promise<void>((resolve) =>
      out.once('drain', () => {
        drained = undefined;
        resolve();
      }),
    );
  };
  const sink: Sink = {
    name: 'replay',
    onConditionChange(c: ConditionChange) {
      write({
        kind: 'condition',
        time: c.condition.lastTransitionTime.toISOString(),
        source: c.source,
        reason: c.condition.reason,
        message: c.condition.message,
        condition: c.condition.type,
        status: c.condition.status,
      });
    },
    onEvent(e: NodeEvent) {
      write({ kind: 'event', time: e.time.toISOString(), source: e.component, reason: e.reason, message: e.message });
    },
  };
  const detector = new Detector(files, {
    clock: opts.clock,
    logger: opts.logger ?? silent,
    nodeName: 'replay',
    sinks: [sink],
    applyLookback: false,
    lineTime: true,
  });
  const bootMs = opts.bootTimeMs ?? 0;
  let lines = 0;
  let skipped = 0;
  let record: string | undefined;

  const flushRecord = (): void => {
    if (record === undefined) return;
    const r = parseKmsgRecord(record);
    record = undefined;
    if ('error' in r) {
      skipped++;
      return;
    }
    detector.handle({ source: 'kmsg', seq: r.seq, time: new Date(bootMs + Math.floor(r.usec / 1000)), text: r.message });
  };

  const rl = createInterface({ input: opts.input, crlfDelay: Infinity });
  for await (const raw of rl) {
    if (drained) await drained;
    if (opts.format === 'kmsg') {
      if (raw.startsWith(' ') && record !== undefined) {
        record += '\n' + raw;
        continue;
      }
      flushRecord();
      if (raw === '') continue;
      lines++;
      record = raw;
      continue;
    }
    lines++;
    if (opts.format === 'plain') {
      detector.handle({ source: 'kmsg', time: new Date(opts.clock.now()), text: raw });
      continue;
    }
    const line: LogLine = { source: REPLAY_FILE, time: new Date(opts.clock.now()), text: raw };
    const before = detector.counterMap().get(REPLAY_FILE)?.unparsed ?? 0;
    detector.handle(line);
    const after = detector.counterMap().get(REPLAY_FILE)?.unparsed ?? 0;
    // A line is skipped when every filelog rule file failed to parse it.
    if (files.length > 0 && after - before === files.length) skipped++;
  }
  flushRecord();
  await new Promise<void>((resolve) => {
    if (!out.write('')) out.once('drain', () => resolve());
    else resolve();
  });
  return { lines, skipped };
}

/** Which rule files read which format, re-pointed at the replay's pseudo sources. */
function selectFiles(files: readonly RuleFile[], format: ReplayFormat): RuleFile[] {
  switch (format) {
    case 'kmsg':
      return files.filter((f) => f.plugin === 'kmsg');
    case 'syslog':
      return files.filter((f) => f.plugin === 'filelog').map((f) => ({ ...f, logPath: REPLAY_FILE }));
    case 'plain':
      // No parsing: every file's rules see the line as a message.
      return files.map((f) => ({ ...f, plugin: 'kmsg' as const, logPath: '/dev/kmsg' }));
  }
}
