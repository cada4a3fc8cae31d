// replay-journal.ts: journal captures for `replay`: the journal export format (`journalctl -o
// export`: `KEY=value` lines, binary fields as `KEY\n`, a little-endian 64-bit size, the bytes and
// `\n`; an empty line ends an entry) and JSON lines (`journalctl -o json`). Yields each entry's
// SYSLOG_IDENTIFIER, MESSAGE and __REALTIME_TIMESTAMP; entries missing one of those, and fields
// larger than MAX_FIELD_BYTES, are counted as bad and skipped. Streams: memory is bounded by one
// entry, however large the capture.
import { parseJournalEntry } from './sources/journal-entry';
import { DEFAULT_MAX_LINE_BYTES, guardText } from './sources/text-guard';

export interface ReplayEntry {
  readonly identifier: string;
  readonly message: string;
  readonly timeMs: number;
}

/** A field larger than this makes its entry bad (the bytes are skipped, never held). */
export const MAX_FIELD_BYTES = 1 << 20;

export type JournalCaptureItem = { readonly entry: ReplayEntry } | { readonly bad: string };

/** Reads a journal export stream. */
export async function* readJournalExport(input: AsyncIterable<Buffer | string>): AsyncGenerator<JournalCaptureItem> {
  let buf = Buffer.alloc(0);
  let fields = new Map<string, Buffer>();
  let bad: string | undefined;
  /** Bytes of an oversized binary field still to skip (plus its closing newline). */
  let skip = 0;
  /** Inside an oversized text field: skip to its newline. */
  let skipLine = false;
  const finish = (): JournalCaptureItem | undefined => {
    const had = fields.size > 0 || bad !== undefined;
    const item = had ? toItem(fields, bad) : undefined;
    fields = new Map();
    bad = undefined;
    return item;
  };
  for await (const chunk of input) {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, Buffer.from(chunk)]);
    let pos = 0;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length - pos);
        pos += n;
        skip -= n;
        if (skip > 0) break;
      }
      const nl = buf.indexOf(10, pos);
      if (skipLine) {
        pos = nl < 0 ? buf.length : nl + 1;
        if (nl < 0) break;
        skipLine = false;
        continue;
      }
      if (nl < 0) {
        if (buf.length - pos > MAX_FIELD_BYTES) {
          bad = 'a field is larger than 1 MiB';
          pos = buf.length;
          skipLine = true;
        }
        break;
      }
      if (nl === pos) {
        pos++;
        const item = finish();
        if (item) yield item;
        continue;
      }
      const eq = buf.indexOf(61, pos);
      if (eq >= 0 && eq < nl) {
        if (nl - pos > MAX_FIELD_BYTES) bad = 'a field is larger than 1 MiB';
        else fields.set(buf.toString('utf8', pos, eq), buf.subarray(eq + 1, nl));
        pos = nl + 1;
        continue;
      }
      // Binary field: name, newline, 64-bit little-endian size, data, newline.
      if (buf.length - (nl + 1) < 8) break;
      const size = buf.readBigUInt64LE(nl + 1);
      const name = buf.toString('utf8', pos, nl);
      const dataAt = nl + 9;
      if (size > BigInt(MAX_FIELD_BYTES)) {
        bad = 'a field is larger than 1 MiB';
        skip = Number(size) + 1;
        pos = dataAt;
        continue;
      }
      const end = dataAt + Number(size);
      if (buf.length < end + 1) break;
      fields.set(name, buf.subarray(dataAt, end));
      pos = end + 1;
    }
    // Keep only the unread rest (copied: fields hold subarrays of the old buffer).
    for (const [k, v] of fields) fields.set(k, Buffer.from(v));
    buf = Buffer.from(buf.subarray(pos));
  }
  const last = finish();
  if (last) yield last;
}

function toItem(fields: ReadonlyMap<string, Buffer>, bad: string | undefined): JournalCaptureItem {
  if (bad !== undefined) return { bad };
  const id = fields.get('SYSLOG_IDENTIFIER');
  const msg = fields.get('MESSAGE');
  const rt = fields.get('__REALTIME_TIMESTAMP')?.toString('latin1');
  if (id === undefined || msg === undefined || rt === undefined || !/^\d{1,19}$/.test(rt)) {
    return { bad: 'an entry without SYSLOG_IDENTIFIER, MESSAGE or __REALTIME_TIMESTAMP' };
  }
  const g = guardText(msg, 0, msg.length, DEFAULT_MAX_LINE_BYTES, { malformed: 0, truncated: 0 });
  if (g === undefined) return { bad: 'MESSAGE is empty or binary' };
  return { entry: { identifier: id.toString('utf8'), message: g.text.trim(), timeMs: Math.floor(Number(rt) / 1000) } };
}

/** One JSON line of `journalctl -o json` (a cursor is not needed here). */
export function parseJournalJsonLine(text: string): JournalCaptureItem {
  const withCursor = text.includes('"__CURSOR"') ? text : text.replace(/^\s*\{/, '{"__CURSOR":"-",');
  const e = parseJournalEntry(withCursor, DEFAULT_MAX_LINE_BYTES);
  if ('error' in e) return { bad: e.error };
  return { entry: { identifier: e.identifier, message: e.message, timeMs: e.timeMs } };
}
