// journal-entry.ts: one journal entry as `journalctl --output=json` prints it, decoded and
// checked. Pure. Owns the ids the journald source and the detector share (a journal directory's
// source id, and the route key of a directory plus SYSLOG_IDENTIFIER), and the few fields read:
// `__CURSOR`, `__REALTIME_TIMESTAMP` (µs since the epoch), `SYSLOG_IDENTIFIER` and `MESSAGE`.
// journalctl prints a field as a string when it is UTF-8 text, as an array of byte values when it
// is binary, and as an array of those when the entry carries the field more than once (the first
// is taken). The message is untrusted text: it goes through the sources' line guard (length cap,
// binary junk, invalid UTF-8), and NPD's journald watcher trims its spaces.
import { guardText } from './text-guard';

/** The source id of a journal directory (also LogLine.origin of its entries). */
export function journalSourceId(dir: string): string {
  return `journald:${dir}`;
}

/** Where the detector routes an entry: its directory's source id and its SYSLOG_IDENTIFIER. */
export function journalRouteKey(sourceId: string, identifier: string): string {
  return `${sourceId}\n${identifier}`;
}

export interface JournalEntry {
  readonly cursor: string;
  /** Epoch ms (from __REALTIME_TIMESTAMP, µs). */
  readonly timeMs: number;
  readonly identifier: string;
  readonly message: string;
  readonly truncated: boolean;
}

/** Why a line is not an entry. `cursor` is set when the line still carried one (skip past it). */
export interface BadEntry {
  readonly error: string;
  readonly cursor?: string;
}

type JsonField = string | number[] | (string | number[])[] | null | undefined;

/** The text of a field: a string, or bytes; the first of a repeated field. */
function fieldBytes(v: JsonField): Buffer | undefined {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const first = v[0];
  if (typeof first === 'number') {
    return (v as unknown[]).every((b) => typeof b === 'number' && b >= 0 && b <= 255)
      ? Buffer.from(v as number[])
      : undefined;
  }
  return fieldBytes(first as JsonField);
}

/**
 * Decodes one line of journalctl's JSON output. The message is cut at maxMessageBytes (the
 * entry says so in `truncated`). Counts nothing: the caller counts bad entries and cut ones.
 */
export function parseJournalEntry(line: string, maxMessageBytes: number): JournalEntry | BadEntry {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { error: 'not a JSON object' };
  const o = doc as Record<string, JsonField>;
  const cursor = o['__CURSOR'];
  if (typeof cursor !== 'string' || cursor === '') return { error: 'no __CURSOR' };
  const rt = o['__REALTIME_TIMESTAMP'];
  const us = typeof rt === 'string' && /^\d{1,19}$/.test(rt) ? Number(rt) : NaN;
  if (!Number.isFinite(us)) return { error: 'no __REALTIME_TIMESTAMP', cursor };
  const idBytes = fieldBytes(o['SYSLOG_IDENTIFIER']);
  if (idBytes === undefined) return { error: 'no SYSLOG_IDENTIFIER', cursor };
  const msgBytes = fieldBytes(o['MESSAGE']);
  if (msgBytes === undefined) return { error: 'no MESSAGE', cursor };
  const g = guardText(msgBytes, 0, msgBytes.length, maxMessageBytes, { malformed: 0, truncated: 0 });
  if (g === undefined) return { error: 'MESSAGE is empty or binary', cursor };
  return {
    cursor,
    timeMs: Math.floor(us / 1000),
    identifier: idBytes.toString('utf8'),
    message: g.text.trim(),
    truncated: g.truncated,
  };
}
