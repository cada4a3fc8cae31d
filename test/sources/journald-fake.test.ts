// journald-fake.test.ts: the journald source's decisions on the fake clock, with a scripted
// journalctl (an injected JournalPort): the arguments (start at now − lookback, or after the
// saved cursor), backlog marking, cursor checkpoints, and each fault (child exits, files rotated
// or vacuumed, directory missing at start) retried with the injected backoff from the cursor.
// Time moves only by clock.advance(). The same against real journal files:
// journald-real.test.ts.
import { describe, expect, it } from 'vitest';
import { JOURNAL_BACKOFF, JournaldSource, type JournaldStats } from '../../agent/sources/journald';
import type { ChildExit, ChildLine, JournalChild, JournalPort } from '../../agent/sources/journal-port';
import type { LogLine } from '../../agent/types';
import { quietLogger } from '../fixtures/files/follow-harness';
import { FakeClock } from '../helpers/fake-clock';

const DIR = '/var/log/journal';
const T0 = Date.parse('2026-01-01T00:00:00Z');

class MemoryCheckpoints {
  readonly values = new Map<string, unknown>();
  load<T>(name: string): T | undefined {
    return this.values.get(name) as T | undefined;
  }
  save(name: string, value: unknown): boolean {
    this.values.set(name, structuredClone(value));
    return true;
  }
  saveThrottled(name: string, value: unknown): void {
    this.save(name, value);
  }
  cursor(): string | undefined {
    return (this.values.get(`journal:${DIR}`) as { cursor?: string } | undefined)?.cursor;
  }
}

class FakeChild implements JournalChild {
  private lines: (ChildLine | undefined)[] = [];
  private waiter: ((l: ChildLine | undefined) => void) | undefined;
  private resolveExit!: (e: ChildExit) => void;
  readonly exited = new Promise<ChildExit>((r) => (this.resolveExit = r));
  killed = false;
  constructor(readonly args: readonly string[]) {}
  next(): Promise<ChildLine | undefined> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift());
    return new Promise((r) => (this.waiter = r));
  }
  private give(l: ChildLine | undefined): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(l);
    } else this.lines.push(l);
  }
  line(text: string): void {
    this.give({ text });
  }
  entry(seq: number, identifier: string, message: string, timeMs: number): void {
    this.line(
      JSON.stringify({
        __CURSOR: `s=abc;i=${seq}`,
        __REALTIME_TIMESTAMP: String(timeMs * 1000),
        SYSLOG_IDENTIFIER: identifier,
        MESSAGE: message,
      }),
    );
  }
  /** The child dies on its own. */
  die(code: number, message: string): void {
    this.give(undefined);
    this.resolveExit({ code, signal: null, message });
  }
  kill(): void {
    if (this.killed) return;
    this.killed = true;
    this.give(undefined);
    this.resolveExit({ code: null, signal: 'SIGTERM', message: '' });
  }
}

class FakePort implements JournalPort {
  files: string[] | undefined = ['m/system.journal 11'];
  readonly children: FakeChild[] = [];
  async list(): Promise<readonly string[] | undefined> {
    return this.files === undefined ? undefined : [...this.files];
  }
  spawn(command: string, args: readonly string[]): JournalChild {
    expect(command).toBe('journalctl');
    const c = new FakeChild(args);
    this.children.push(c);
    return c;
  }
  get last(): FakeChild {
    const c = this.children.at(-1);
    if (c === undefined) throw new Error('no child spawned');
    return c;
  }
}

/** Lets the source run until it waits on the clock (or on the child) again. */
async function turns(n = 50): Promise<void> {
  // A bounded number of event-loop turns; the source needs only a few per step.
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function start(opts: { port?: FakePort; checkpoints?: MemoryCheckpoints; clock?: FakeClock } = {}) {
  const port = opts.port ?? new FakePort();
  const checkpoints = opts.checkpoints ?? new MemoryCheckpoints();
  const clock = opts.clock ?? new FakeClock(T0);
  const lines: LogLine[] = [];
  const source = new JournaldSource({
    dir: DIR,
    identifiers: ['dockerd', 'systemd'],
    checkpoints: checkpoints as never,
    clock,
    logger: quietLogger,
    startAfterMs: T0 - 300_000,
    idlePollIntervalMs: 1000,
    port,
    random: () => 0.5,
  });
  const ac = new AbortController();
  const done = source.run((l) => {
    lines.push(l);
  }, ac.signal);
  const stop = async (): Promise<void> => {
    ac.abort();
    await done;
  };
  return { source, port, checkpoints, clock, lines, stop, stats: source.stats as JournaldStats };
}

describe('JournaldSource on a scripted journalctl', () => {
  it('starts at now − lookback with every identifier as a match, marks older entries backlog, saves the cursor', async () => {
    const s = start();
    await turns();
    expect(s.port.children).toHaveLength(1);
    expect(s.port.last.args).toEqual([
      `--directory=${DIR}`,
      '--output=json',
      '--output-fields=SYSLOG_IDENTIFIER,MESSAGE',
      '--all',
      '--follow',
      '--no-pager',
      '--quiet',
      `--since=@${(T0 - 300_000) / 1000}`,
      'SYSLOG_IDENTIFIER=dockerd',
      'SYSLOG_IDENTIFIER=systemd',
    ]);
    s.port.last.entry(1, 'systemd', '  Started Kubernetes kubelet.  ', T0 - 60_000);
    s.port.last.entry(2, 'dockerd', 'hello', T0 + 5);
    await turns();
    expect(s.lines).toEqual([
      {
        origin: `journald:${DIR}`,
        identifier: 'systemd',
        time: new Date(T0 - 60_000),
        text: 'Started Kubernetes kubelet.',
        backlog: true,
      },
      { origin: `journald:${DIR}`, identifier: 'dockerd', time: new Date(T0 + 5), text: 'hello' },
    ]);
    expect(s.checkpoints.cursor()).toBe('s=abc;i=2');
    await s.stop();
    expect(s.port.last.killed).toBe(true);
    expect(s.stats).toMatchObject({ received: 2, sent: 2, malformed: 0, restarts: 0, errors: 0 });
  });

  it('resumes after the saved cursor on restart, and nothing it reads then is backlog', async () => {
    const checkpoints = new MemoryCheckpoints();
    checkpoints.save(`journal:${DIR}`, { cursor: 's=abc;i=7' });
    const s = start({ checkpoints });
    await turns();
    expect(s.port.last.args).toContain('--after-cursor=s=abc;i=7');
    expect(s.port.last.args.some((a) => a.startsWith('--since'))).toBe(false);
    s.port.last.entry(8, 'dockerd', 'old but unseen', T0 - 3_600_000);
    await turns();
    expect(s.lines.map((l) => [l.text, l.backlog])).toEqual([['old but unseen', undefined]]);
    await s.stop();
  });

  it('counts bad lines and skips them: not JSON, no MESSAGE (cursor still taken), binary, too long', async () => {
    const s = start();
    await turns();
    const c = s.port.last;
    c.line('not json');
    c.line(JSON.stringify({ __CURSOR: 'c1', __REALTIME_TIMESTAMP: '1', SYSLOG_IDENTIFIER: 'systemd' }));
    c.line(
      JSON.stringify({ __CURSOR: 'c2', __REALTIME_TIMESTAMP: '1', SYSLOG_IDENTIFIER: 'systemd', MESSAGE: [0, 1, 2] }),
    );
    c.line(
      JSON.stringify({
        __CURSOR: 'c3',
        __REALTIME_TIMESTAMP: String(T0 * 1000),
        SYSLOG_IDENTIFIER: 'systemd',
        MESSAGE: [...Buffer.from('bytes ok')],
      }),
    );
    await turns();
    expect(s.stats.malformed).toBe(3);
    expect(s.lines.map((l) => l.text)).toEqual(['bytes ok']);
    expect(s.checkpoints.cursor()).toBe('c3');
    await s.stop();
  });

  it('restarts a child that died, after a jittered backoff, from the cursor; counts it and reports it', async () => {
    const s = start();
    await turns();
    s.port.last.entry(1, 'systemd', 'one', T0 + 1);
    await turns();
    s.port.last.die(1, 'Failed to open journal');
    await turns();
    expect(s.stats.exits).toBe(1);
    expect(s.source.health().lastError).toBe('journalctl exited (code 1): Failed to open journal');
    expect(s.port.children).toHaveLength(1);
    // attempt 1: random 0.5 × 1 s. An entry was read, so the count had reset.
    s.clock.advance(JOURNAL_BACKOFF.baseMs * 0.5 - 1);
    await turns();
    expect(s.port.children).toHaveLength(1);
    s.clock.advance(1);
    await turns();
    expect(s.port.children).toHaveLength(2);
    expect(s.port.last.args).toContain('--after-cursor=s=abc;i=1');
    expect(s.stats.restarts).toBe(1);
    // Dying again at once, without an entry: the step doubles (0.5 × 2 s).
    s.port.last.die(1, 'Failed to open journal');
    await turns();
    s.clock.advance(999);
    await turns();
    expect(s.port.children).toHaveLength(2);
    s.clock.advance(1);
    await turns();
    expect(s.port.children).toHaveLength(3);
    // A long backoff is waited in idle-poll slices: /healthz sees it alive throughout.
    const beforeWait = s.clock.now();
    s.port.last.die(1, 'Failed to open journal');
    await turns();
    s.clock.advance(1000);
    await turns();
    expect(s.source.health().lastPollAt).toBe(beforeWait + 1000);
    s.clock.advance(1000);
    await turns();
    expect(s.port.children).toHaveLength(4); // attempt 3: 0.5 × 4 s
    // Failures in a row: degraded in /healthz, still alive.
    s.port.last.die(1, 'Failed to open journal');
    await turns();
    expect(s.source.health()).toMatchObject({ alive: true, degraded: expect.stringContaining('keeps failing') });
    await s.stop();
  });

  it('restarts from the cursor when a journal file it saw is gone (rotation or vacuum), not on a new file', async () => {
    const s = start();
    await turns();
    s.port.last.entry(1, 'systemd', 'one', T0 + 1);
    await turns();
    s.port.files = ['m/system.journal 11', 'm/user-1000.journal 12'];
    s.clock.advance(1000);
    await turns();
    expect(s.stats.rotations).toBe(0);
    // journald rotated user-1000.journal: renamed to an archive name (same inode), a new file
    // under the old name (a new inode). The pair (name, inode) it had seen is gone.
    s.port.files = ['m/system.journal 11', 'm/user-1000.journal 13', 'm/user-1000@00a-01-02.journal 12'];
    s.clock.advance(1000);
    await turns();
    expect(s.stats.rotations).toBe(1);
    expect(s.port.children[0]?.killed).toBe(true);
    s.clock.advance(500);
    await turns();
    expect(s.port.children).toHaveLength(2);
    expect(s.port.last.args).toContain('--after-cursor=s=abc;i=1');
    await s.stop();
  });

  it('waits with backoff while the directory is missing at start, degraded, then reads once it appears', async () => {
    const port = new FakePort();
    port.files = undefined;
    const s = start({ port });
    await turns();
    expect(port.children).toHaveLength(0);
    expect(s.stats.missing).toBe(1);
    expect(s.source.health()).toMatchObject({
      alive: true,
      degraded: expect.stringContaining('/run/log/journal'),
      lastError: `journal directory ${DIR} is missing`,
    });
    expect(s.source.health().lastPollAt).toBe(T0);
    s.clock.advance(500);
    await turns();
    expect(s.stats.missing).toBe(2);
    port.files = [];
    s.clock.advance(1000);
    await turns();
    expect(port.children).toHaveLength(1);
    expect(s.source.health().degraded).toBeUndefined();
    expect(port.last.args).toContain(`--since=@${(T0 - 300_000) / 1000}`);
    await s.stop();
  });
});
