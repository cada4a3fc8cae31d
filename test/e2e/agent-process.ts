// agent-process.ts: starts the built agent (dist/nodewarden.cjs) as a child process for the
// e2e suite, keeps its output for failure messages, and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const AGENT = resolve(process.cwd(), 'dist/nodewarden.cjs');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => ok(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export class AgentProcess {
  output = '';
  exitCode: number | null | undefined;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [AGENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString('utf8')).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((r) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        r();
      }),
    );
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** SIGTERM; resolves with the exit code and how long it took (SIGKILL after `killAfterMs`). */
  async stop(killAfterMs = 10_000): Promise<{ code: number | null; ms: number }> {
    const t = Date.now();
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
      await this.exited;
      clearTimeout(timer);
    }
    return { code: this.exitCode ?? null, ms: Date.now() - t };
  }
}
