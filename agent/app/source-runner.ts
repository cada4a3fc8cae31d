// source-runner.ts: runs Sources under the agent's AbortSignal, each with its own stop. Owns the
// running set (for /healthz, metrics and logs) and every run promise ever started, so shutdown
// awaits the sources that were stopped earlier by a reload too. A source that throws is logged;
// it never takes the agent down. Each source gets a plain AbortSignal that follows the agent's and
// its own stop, not an AbortSignal.any: sources read `aborted` once per line, and on Node 24 a
// composite signal's getter re-walks its sources on every read (about 3% of W1's CPU).
import { errText } from '../runtime/err-text';
import type { LineHandler, Logger, Source } from '../types';

interface Running {
  readonly source: Source;
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

export class SourceRunner {
  private readonly running = new Map<string, Running>();
  private readonly all: Promise<void>[] = [];

  constructor(
    private readonly signal: AbortSignal,
    private readonly log: Logger,
  ) {}

  /** Starts `source` (its id must be new); resolves, never rejects, when it has stopped. */
  add(source: Source, onLine: LineHandler): void {
    const stop = new AbortController();
    const parent = this.signal;
    const follow = (): void => stop.abort(parent.reason);
    if (parent.aborted) follow();
    else parent.addEventListener('abort', follow, { once: true });
    const done = source
      .run(onLine, stop.signal)
      .catch((e: unknown) => {
        this.log.error({ source: source.id, err: errText(e) }, 'source failed');
      })
      .finally(() => parent.removeEventListener('abort', follow));
    this.running.set(source.id, { source, stop, done });
    this.all.push(done);
  }

  has(id: string): boolean {
    return this.running.has(id);
  }

  ids(): string[] {
    return [...this.running.keys()];
  }

  list(): Source[] {
    return [...this.running.values()].map((r) => r.source);
  }

  /** Stops one source; resolves once it has saved its position. */
  remove(id: string): Promise<void> {
    const r = this.running.get(id);
    if (r === undefined) return Promise.resolve();
    r.stop.abort();
    this.running.delete(id);
    return r.done;
  }

  /** Every run ever started, stopped or not: shutdown awaits these (after the signal aborts). */
  stopped(): Promise<void> {
    return Promise.all(this.all).then(() => undefined);
  }
}
