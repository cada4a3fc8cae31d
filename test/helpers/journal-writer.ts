// journal-writer.ts: writes real journal files for tests, with Debian's systemd-journal-remote
// reading journal export format on stdin (no journald runs here). Each call appends entries to a
// file (creating it), exactly as journald's own writer lays them out, so journalctl reads them as
// it reads a host's journal.
import { execFileSync } from 'node:child_process';
import { JOURNAL_REMOTE } from './system-parts';

export interface TestEntry {
  readonly identifier: string;
  readonly message: string;
  /** Epoch ms. */
  readonly timeMs: number;
}

/** One boot id for every test entry (journalctl needs one; it is not this machine's). */
export const TEST_BOOT_ID = '0123456789abcdef0123456789abcdef';

let monotonic = 1;

/** Journal export format: KEY=value lines, an empty line after each entry. Values are one line. */
export function exportFormat(entries: readonly TestEntry[]): string {
  return entries
    .map((e) => {
      for (const v of [e.identifier, e.message]) if (v.includes('\n')) throw new Error('one-line values only');
      return [
        `__REALTIME_TIMESTAMP=${Math.round(e.timeMs * 1000)}`,
        `__MONOTONIC_TIMESTAMP=${monotonic++}`,
        `_BOOT_ID=${TEST_BOOT_ID}`,
        `SYSLOG_IDENTIFIER=${e.identifier}`,
        `MESSAGE=${e.message}`,
        '',
        '',
      ].join('\n');
    })
    .join('');
}

/** Appends entries to the journal file `file` (created when missing). */
export function writeJournal(file: string, entries: readonly TestEntry[]): void {
  execFileSync(JOURNAL_REMOTE, [`--output=${file}`, '-'], {
    input: exportFormat(entries),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}
