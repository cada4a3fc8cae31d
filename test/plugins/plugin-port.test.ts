// plugin-port.test.ts: the real plugin port against real child processes: small scripts written
// to a temp dir at test time, following NPD's plugin contract. Every exit path: ok, fail,
// unknown, a signal, huge output (kept bytes, and the pipe closed on a flood), a missing or
// non-executable program, arguments passed as an argv (no shell), a hang killed on abort, and
// children that outlive their parent (the process group dies). Assertions are on outcomes,
// never on elapsed time; waits are hang guards only.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLUGIN_OUTPUT_KEEP_BYTES } from '../../agent/config/plugin-file';
import { realPluginPort, type PluginRun } from '../../agent/plugins/plugin-port';
import { eventually } from '../helpers/eventually';

const dir = mkdtempSync(join(tmpdir(), `nodewarden-plugins-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string, mode = 0o755): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, mode);
  return p;
}

const run = (path: string, args: string[] = [], signal = new AbortController().signal): Promise<PluginRun> =>
  realPluginPort.run({ path, args, signal });

/** Whether a process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const pidIn = (file: string): Promise<number> =>
  eventually(`pid in ${file}`, () => {
    const t = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    return t === '' ? undefined : Number(t);
  });

describe('realPluginPort', () => {
  it('returns exit code and output of ok, fail and unknown plugins', async () => {
    const ok = await run(script('ok.sh', 'echo "ntp is fine"\nexit 0'));
    expect(ok).toMatchObject({ kind: 'ran', code: 0, stdout: 'ntp is fine\n', truncated: false, flooded: false });
    expect(await run(script('fail.sh', 'echo "ntp is down"; echo oops >&2; exit 1'))).toMatchObject({
      code: 1,
      stdout: 'ntp is down\n',
      stderr: 'oops\n',
    });
    expect(await run(script('unknown.sh', 'exit 3'))).toMatchObject({ code: 3, exitSignal: null });
    expect(await run(script('signal.sh', 'kill -TERM $$'))).toMatchObject({ code: null, exitSignal: 'SIGTERM' });
  });

  it('passes args as an argv: no shell sees them, and output is never interpreted', async () => {
    const marker = join(dir, 'injected');
    const echo = script('args.sh', 'for a in "$@"; do printf "[%s]" "$a"; done');
    const r = await run(echo, [`; touch ${marker}`, '$(touch x)', 'two words']);
    expect(r).toMatchObject({ code: 0, stdout: `[; touch ${marker}][$(touch x)][two words]` });
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a missing or non-executable program as a failed start', async () => {
    const missing = await run(join(dir, 'no-such-plugin'));
    expect(missing).toEqual({ kind: 'failed', error: expect.stringContaining('ENOENT') });
    const notExec = await run(script('not-exec.sh', 'exit 0', 0o644));
    expect(notExec).toEqual({ kind: 'failed', error: expect.stringContaining('EACCES') });
  });

  it('keeps the first bytes of huge output and discards the rest while reading', async () => {
    // 300 KiB then exit 1: all read, only the first 4 KiB kept.
    const big = await run(script('big.sh', 'head -c 307200 /dev/zero | tr "\\0" "a"\nexit 1'));
    expect(big).toMatchObject({ kind: 'ran', code: 1, truncated: true, flooded: false });
    expect(big.kind === 'ran' && big.stdout).toBe('a'.repeat(PLUGIN_OUTPUT_KEEP_BYTES));
  });

  it('closes the pipe on a plugin that floods output forever, which ends it', async () => {
    // `yes` stops at the first failed write: killed by SIGPIPE, or exit 1 where SIGPIPE is
    // ignored (the disposition a child inherits depends on its parent). Either way it ends.
    const r = await run(script('flood.sh', 'exec yes flooding'));
    expect(r).toMatchObject({ kind: 'ran', truncated: true, flooded: true });
    expect(r.kind === 'ran' && (r.exitSignal === 'SIGPIPE' || r.code === 1)).toBe(true);
    expect(r.kind === 'ran' && r.stdout.length).toBe(PLUGIN_OUTPUT_KEEP_BYTES);
  });

  it('kills the process group of a hanging plugin on abort, children included', async () => {
    const pidFile = join(dir, 'hang.pid');
    const hang = script('hang.sh', `sleep 1000 &\necho $! > ${pidFile}\nsleep 1000`);
    const ac = new AbortController();
    const done = run(hang, [], ac.signal);
    const child = await pidIn(pidFile);
    expect(alive(child)).toBe(true);
    ac.abort();
    expect(await done).toMatchObject({ kind: 'ran', code: null });
    await eventually('the backgrounded child to die', () => !alive(child));
  });

  it('kills children that outlive their parent when it exits, and reports the exit', async () => {
    const pidFile = join(dir, 'orphan.pid');
    // The child keeps stdout open: without the group kill the run would wait for it.
    const orphan = script('orphan.sh', `sleep 1000 &\necho $! > ${pidFile}\necho parent done\nexit 1`);
    const r = await run(orphan);
    expect(r).toMatchObject({ kind: 'ran', code: 1, stdout: 'parent done\n' });
    const child = await pidIn(pidFile);
    await eventually('the orphaned child to die', () => !alive(child));
  });
});
