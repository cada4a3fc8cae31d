// fake-plugin-port.ts: a PluginPort whose runs the test finishes by hand (exit code, output) or
// that the monitor aborts (its timeout, or stop), for the plugin monitor's fake-clock tests.
import type { PluginPort, PluginRun, PluginRunRequest } from '../../agent/plugins/plugin-port';

export interface PendingRun {
  readonly req: PluginRunRequest;
  /** Finishes the run as if the program exited with `code` after writing `stdout`. */
  exit(code: number | null, stdout?: string, extra?: Partial<Extract<PluginRun, { kind: 'ran' }>>): void;
  fail(error: string): void;
  readonly aborted: boolean;
}

export class FakePluginPort implements PluginPort {
  /** Runs started and not finished, in start order. */
  readonly pending: PendingRun[] = [];
  /** Every run started, by path, in start order. */
  readonly started: string[] = [];
  maxRunning = 0;

  run(req: PluginRunRequest): Promise<PluginRun> {
    this.started.push(req.path);
    return new Promise<PluginRun>((resolve) => {
      const done = (r: PluginRun): void => {
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
        resolve(r);
      };
      const ran = (
        code: number | null,
        stdout = '',
        extra: Partial<Extract<PluginRun, { kind: 'ran' }>> = {},
      ): PluginRun => ({
        kind: 'ran',
        code,
        exitSignal: null,
        stdout,
        stderr: '',
        truncated: false,
        flooded: false,
        ...extra,
      });
      const entry: PendingRun = {
        req,
        exit: (code, stdout, extra) => done(ran(code, stdout, extra)),
        fail: (error) => done({ kind: 'failed', error }),
        get aborted() {
          return req.signal.aborted;
        },
      };
      req.signal.addEventListener('abort', () => done(ran(null, '', { exitSignal: 'SIGKILL' })), { once: true });
      this.pending.push(entry);
      this.maxRunning = Math.max(this.maxRunning, this.pending.length);
    });
  }

  /** The pending run of `path` (the first one), or throws. */
  of(path: string): PendingRun {
    const r = this.pending.find((p) => p.req.path === path);
    if (r === undefined) throw new Error(`no pending run of ${path}`);
    return r;
  }
}

/** Lets promise callbacks run (a few macrotask turns; no time passes on any clock). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
