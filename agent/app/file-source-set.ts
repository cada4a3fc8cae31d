// file-source-set.ts: owns which files are followed. sync() takes the files the rules and
// --drop-log name now, starts a FileSource for each new one, and stops the ones no longer named,
// forgetting their positions once saved: if a later reload names a file again, its content is
// backlog (filtered by lookback), not days of "new" lines. How a file starts: a drop log seen for
// the first time is read from its end (its old lines are past --drop-max-age anyway, and a
// multi-GB iptables.log must not be parsed to find that out); a rule-file log is read from its
// start, as NPD does, and filtered by lookback.
import { checkpointName } from '../sources/checkpoint';
import type { LineHandler, Logger, Source } from '../types';
import type { SourceRunner } from './source-runner';

/** What a followed file feeds. */
export interface FileRole {
  /** Named by a filelog rule file: its lines go to the detector. */
  readonly rules: boolean;
  /** Named by --drop-log: its lines go to the drop pipeline (and the detector). */
  readonly drops: boolean;
}

export interface FileSourceSetOptions {
  readonly runner: SourceRunner;
  /** Builds the source for `path`; startAtEnd as above. */
  readonly makeSource: (path: string, startAtEnd: boolean) => Source;
  /** The handler for a file's lines, by its role. */
  readonly handlerFor: (role: FileRole) => LineHandler;
  readonly forget: (checkpoint: string) => void;
  readonly logger: Logger;
}

export class FileSourceSet {
  constructor(private readonly opts: FileSourceSetOptions) {}

  /** Follows exactly the files in `wanted` (absolute path → role). */
  sync(wanted: ReadonlyMap<string, FileRole>): void {
    const { runner } = this.opts;
    for (const id of runner.ids()) {
      if (!this.ours.has(id) || wanted.has(id)) continue;
      this.opts.logger.info({ path: id }, 'no longer named by the rules: stop following');
      this.ours.delete(id);
      void runner.remove(id).then(() => this.opts.forget(checkpointName({ kind: 'file', path: id })));
    }
    for (const [path, role] of wanted) {
      if (runner.has(path)) continue;
      const source = this.opts.makeSource(path, role.drops && !role.rules);
      this.ours.add(path);
      runner.add(source, this.opts.handlerFor(role));
    }
  }

  private readonly ours = new Set<string>();
}
