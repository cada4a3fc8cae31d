// replay.ts: offline rule testing (`nodewarden replay`). Reads a capture, runs it through the same
// Detector the agent uses (no start-window filtering), and writes one JSON object per line: an
// `event` line per Event that would be posted (before aggregation) and a `condition` line per
// condition change. Formats: `kmsg` is raw /dev/kmsg record text (a header line, then dictionary
// lines starting with a space); `syslog` is parsed by each filelog rule file's pluginConfig;
// `plain` is one message per line, matched by every rule file, timed by the clock;
// `journal-export` (`journalctl -o export`) and `journal-json` (`journalctl -o json`) are journal
// entries, matched by the journald rule files of their SYSLOG_IDENTIFIER (replay-journal.ts).
// kmsg time: records carry microseconds since boot; with no `bootTimeMs` the boot is taken to be
// the epoch, so times read as time since boot (1970-01-01T00:19:16.246Z = 1156.246 s).
// Condition time follows the log (recoverAfter is measured between lines of the capture).
import { Detector } from './detector';
import { JsonLines, readCapture } from './replay-io';
import { parseJournalJsonLine, readJournalExport, type JournalCaptureItem } from './replay-journal';
import { journalSourceId } from './sources/journal-entry';
import { parseKmsgRecord } from './sources/kmsg-record';
import { isoString } from './runtime/utc-time';
import type { Clock, ConditionChange, Logger, LogLine, NodeEvent, RuleFile, Sink } from './types';

export type ReplayFormat = 'kmsg' | 'syslog' | 'plain' | 'journal-export' | 'journal-json';

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
/** The pseudo journal directory every journald rule file reads during replay. */
const REPLAY_JOURNAL = '(replay journal)';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const files = selectFiles(opts.files, opts.format);
  const out = new JsonLines(opts.output);
  const sink: Sink = {
    name: 'replay',
    onConditionChange(c: ConditionChange) {
      out.write({
        kind: 'condition',
        time: isoString(c.condition.lastTransitionTime.getTime()),
        source: c.component,
        reason: c.condition.reason,
        message: c.condition.message,
        condition: c.condition.type,
        status: c.condition.status,
      });
    },
    onEvent(e: NodeEvent) {
      out.write({
        kind: 'event',
        time: isoString(e.time.getTime()),
        source: e.component,
        reason: e.reason,
        message: e.message,
      });
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

  if (opts.format === 'journal-export' || opts.format === 'journal-json') {
    const items: AsyncIterable<JournalCaptureItem> =
      opts.format === 'journal-export'
        ? readJournalExport(opts.input as AsyncIterable<Buffer>)
        : mapItems(readCapture(opts.input, false), (c) => parseJournalJsonLine(c.text));
    for await (const item of items) {
      await out.drained();
      if (out.closed) break;
      lines++;
      if ('bad' in item) {
        skipped++;
        continue;
      }
      const e = item.entry;
      detector.handle({
        origin: journalSourceId(REPLAY_JOURNAL),
        identifier: e.identifier,
        time: new Date(e.timeMs),
        text: e.message,
      });
    }
    await out.end();
    return { lines, skipped };
  }

  for await (const item of readCapture(opts.input, opts.format === 'kmsg')) {
    await out.drained();
    if (out.closed) break;
    lines++;
    if (opts.format === 'kmsg') {
      const r = parseKmsgRecord(item.text);
      if ('error' in r) {
        skipped++;
        continue;
      }
      detector.handle({
        origin: 'kmsg',
        seq: r.seq,
        time: new Date(bootMs + Math.floor(r.usec / 1000)),
        text: r.message,
      });
      continue;
    }
    if (opts.format === 'plain') {
      detector.handle({ origin: 'kmsg', time: new Date(opts.clock.now()), text: item.text });
      continue;
    }
    const line: LogLine = { origin: REPLAY_FILE, time: new Date(opts.clock.now()), text: item.text };
    const before = detector.counterMap().get(REPLAY_FILE)?.unparsed ?? 0;
    detector.handle(line);
    const after = detector.counterMap().get(REPLAY_FILE)?.unparsed ?? 0;
    // A line is skipped when every filelog rule file failed to parse it.
    if (files.length > 0 && after - before === files.length) skipped++;
  }
  await out.end();
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
    case 'journal-export':
    case 'journal-json':
      // Each journald file reads its SYSLOG_IDENTIFIER's entries, whatever its logPath.
      return files.filter((f) => f.plugin === 'journald').map((f) => ({ ...f, logPath: REPLAY_JOURNAL }));
  }
}

async function* mapItems<A, B>(src: AsyncIterable<A>, f: (a: A) => B): AsyncGenerator<B> {
  for await (const a of src) yield f(a);
}
