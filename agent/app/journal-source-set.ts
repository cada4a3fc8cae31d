// journal-source-set.ts: owns which journal directories are followed. sync() takes the journald
// rule files in force and runs one JournaldSource (one journalctl child) per logPath, reading
// every SYSLOG_IDENTIFIER those files name. A directory whose identifiers change is restarted
// once the old reader has saved its cursor, so the new one resumes there; a directory no longer
// named is stopped and its cursor forgotten (named again later, its entries are backlog).
import { checkpointName } from '../sources/checkpoint';
import { journalSourceId } from '../sources/journal-entry';
import type { LineHandler, Logger, RuleFile, Source } from '../types';
import type { SourceRunner } from './source-runner';

export interface JournalSourceSetOptions {
  readonly runner: SourceRunner;
  /** Builds the reader of `dir` for `identifiers`; `lookbackMs` is the largest of its files. */
  readonly makeSource: (dir: string, identifiers: readonly string[], lookbackMs: number) => Source;
  readonly onLine: LineHandler;
  readonly forget: (checkpoint: string) => void;
  readonly logger: Logger;
}

interface Wanted {
  readonly identifiers: string[];
  lookbackMs: number;
}

/** The journal directories the rule files read: directory → identifiers (sorted) and lookback. */
export function journalDirs(files: readonly RuleFile[]): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  for (const f of files) {
    if (f.plugin !== 'journald' || f.pluginConfig.source === undefined) continue;
    let w = out.get(f.logPath);
    if (w === undefined) out.set(f.logPath, (w = { identifiers: [], lookbackMs: 0 }));
    if (!w.identifiers.includes(f.pluginConfig.source)) w.identifiers.push(f.pluginConfig.source);
    w.lookbackMs = Math.max(w.lookbackMs, f.lookbackMs);
  }
  for (const w of out.values()) w.identifiers.sort();
  return out;
}

export class JournalSourceSet {
  /** Directory → the identifiers its running reader reads (joined). */
  private readonly ours = new Map<string, string>();

  constructor(private readonly opts: JournalSourceSetOptions) {}

  sync(files: readonly RuleFile[]): void {
    const { runner, logger } = this.opts;
    const wanted = journalDirs(files);
    for (const [dir] of this.ours) {
      if (wanted.has(dir)) continue;
      logger.info({ dir }, 'journal no longer named by the rules: stop reading');
      this.ours.delete(dir);
      void runner.remove(journalSourceId(dir)).then(() => this.opts.forget(checkpointName({ kind: 'journal', dir })));
    }
    for (const [dir, w] of wanted) {
      const key = w.identifiers.join('\n');
      const running = this.ours.get(dir);
      if (running === key) continue;
      this.ours.set(dir, key);
      const start = (): void => runner.add(this.opts.makeSource(dir, w.identifiers, w.lookbackMs), this.opts.onLine);
      if (running === undefined) start();
      else {
        logger.info({ dir, identifiers: w.identifiers }, 'journal identifiers changed: restarting its reader');
        // The new reader resumes from the cursor the old one saves when it stops.
        void runner.remove(journalSourceId(dir)).then(() => {
          if (this.ours.get(dir) === key) start();
        });
      }
    }
  }
}
