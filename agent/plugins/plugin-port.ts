// plugin-port.ts: how a custom plugin runs, behind a small port so the monitor's scheduling,
// concurrency and timeout logic is tested on the fake clock. The real port spawns the program
// with an argv (never a shell) in a process group of its own, with stdin closed. It keeps the
// first PLUGIN_OUTPUT_KEEP_BYTES of stdout and of stderr and discards the rest as it reads;
// past DRAIN_LIMIT_BYTES it closes the pipe, so a flooding plugin gets SIGPIPE instead of CPU.
// When the program exits, its process group is killed (children that outlive their parent die
// with it). When the caller's signal aborts (the timeout), the whole group is killed and the
// run resolves at once, without waiting for the kernel to reap anything.
import type { Readable } from 'node:stream';
import { PLUGIN_OUTPUT_KEEP_BYTES } from '../config/plugin-file';
import { errTextWithCode } from '../runtime/err-text';

/** Bytes read from one stream before its pipe is closed on the plugin. */
export const DRAIN_LIMIT_BYTES = 1 << 20;

export interface PluginRunRequest {
  readonly path: string;
  readonly args: readonly string[];
  /** Aborting kills the process group; run() then resolves promptly. */
  readonly signal: AbortSignal;
}

export type PluginRun =
  /** The program could not be started (missing, not executable, ...). */
  | { readonly kind: 'failed'; readonly error: string }
  | {
      readonly kind: 'ran';
      /** Exit code; null when killed by a signal or still running when aborted. */
      readonly code: number | null;
      readonly exitSignal: string | null;
      /** The first PLUGIN_OUTPUT_KEEP_BYTES of stdout (UTF-8, invalid bytes replaced). */
      readonly stdout: string;
      readonly stderr: string;
      /** Some output was discarded: more than PLUGIN_OUTPUT_KEEP_BYTES on a stream. */
      readonly truncated: boolean;
      /** A stream passed DRAIN_LIMIT_BYTES and its pipe was closed. */
      readonly flooded: boolean;
    };

export interface PluginPort {
  run(req: PluginRunRequest): Promise<PluginRun>;
}

/** Keeps the first `keep` bytes of a stream, counts the rest, closes it past the drain limit. */
class CappedStream {
  private readonly parts: Buffer[] = [];
  private kept = 0;
  total = 0;
  flooded = false;

  constructor(
    private readonly stream: Readable,
    private readonly keep: number,
  ) {
    stream.on('data', (chunk: Buffer) => this.push(chunk));
    stream.on('error', () => undefined); // EPIPE and friends after destroy: nothing to report
  }

  private push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.kept < this.keep) {
      const part = chunk.subarray(0, this.keep - this.kept);
      this.parts.push(part);
      this.kept += part.length;
    }
    if (this.total > DRAIN_LIMIT_BYTES && !this.flooded) {
      this.flooded = true;
      this.stream.destroy();
    }
  }

  get truncated(): boolean {
    return this.total > this.keep;
  }

  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }

  close(): void {
    this.stream.destroy();
  }
}

/** The real port: child processes of this machine. */
export const realPluginPort: PluginPort = {
  run: (req) =>
    new Promise<PluginRun>((resolve) => {
      let child;
      try {
        // node:child_process is loaded on first use, not at start (README, Memory cuts: built-ins).
        child = process.getBuiltinModule('node:child_process').spawn(req.path, [...req.args], {
          detached: true, // setsid: a process group of its own, so the group can be killed
          shell: false,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (e) {
        resolve({ kind: 'failed', error: errTextWithCode(e) });
        return;
      }
      const out = new CappedStream(child.stdout, PLUGIN_OUTPUT_KEEP_BYTES);
      const err = new CappedStream(child.stderr, PLUGIN_OUTPUT_KEEP_BYTES);
      let started = false;
      let exited: { code: number | null; signal: string | null } | undefined;
      let done = false;
      const killGroup = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // ESRCH: the group is gone already
        }
      };
      const finish = (): void => {
        if (done) return;
        done = true;
        req.signal.removeEventListener('abort', onAbort);
        out.close();
        err.close();
        resolve({
          kind: 'ran',
          code: exited?.code ?? null,
          exitSignal: exited?.signal ?? null,
          stdout: out.text(),
          stderr: err.text(),
          truncated: out.truncated || err.truncated,
          flooded: out.flooded || err.flooded,
        });
      };
      const onAbort = (): void => {
        killGroup();
        finish();
      };
      child.on('spawn', () => {
        started = true;
        if (req.signal.aborted) onAbort();
      });
      child.on('error', (e) => {
        if (started || done) return;
        done = true;
        req.signal.removeEventListener('abort', onAbort);
        resolve({ kind: 'failed', error: errTextWithCode(e) });
      });
      child.on('exit', (code, signal) => {
        exited = { code, signal };
        killGroup(); // children that outlive their parent
      });
      // Both pipes closed and the program exited: everything it wrote has been read.
      child.on('close', finish);
      req.signal.addEventListener('abort', onAbort, { once: true });
    }),
};
