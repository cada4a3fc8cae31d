// rule-watch.test.ts: hot reload against a real directory, driven by the fake clock: a
// ConfigMap-style ..data symlink swap, an invalid edit followed by a fix, touches, stop.
import { createHook } from 'node:async_hooks';
import { mkdir, mkdtemp, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadRuleFiles } from '../../agent/config/rule-files';
import { watchRuleFiles, type RuleWatcher } from '../../agent/config/rule-watch';
import { formatConfigError, type ConfigError, type Logger, type RuleFile } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';

interface LogEntry {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger(entries: LogEntry[]): Logger {
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (obj: object, msg?: string): void => {
        entries.push({ level, obj: { ...bindings, ...obj }, msg });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}

const rulesJson = (reasons: string[], extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    plugin: 'kmsg',
    source: 'kernel-monitor',
    conditions: [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'kernel has no deadlock' }],
    rules: reasons.map((reason) => ({ type: 'temporary', reason, pattern: `${reason} happened` })),
    ...extra,
  });

const INTERVAL = 10_000;

describe('watchRuleFiles', () => {
  let dir: string;
  let clock: FakeClock;
  let logs: LogEntry[];
  let reloads: RuleFile[][];
  let invalids: ConfigError[][];
  let abort: AbortController;
  let watcher: RuleWatcher | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-watch-'));
    clock = new FakeClock();
    logs = [];
    reloads = [];
    invalids = [];
    abort = new AbortController();
  });
  afterEach(async () => {
    abort.abort();
    await watcher?.settled();
    watcher = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (paths: string[], withInitial = true): Promise<RuleWatcher> => {
    const initial = withInitial ? (await loadRuleFiles(paths)).files : undefined;
    watcher = watchRuleFiles({
      paths,
      intervalMs: INTERVAL,
      clock,
      logger: recordingLogger(logs),
      signal: abort.signal,
      onReload: (files) => reloads.push(files),
      onInvalid: (errors) => invalids.push(errors),
      ...(initial === undefined ? {} : { initial }),
    });
    await watcher.settled();
    return watcher;
  };

  /** One poll interval passes on the fake clock; waits for the poll it starts. */
  const tick = async (w: RuleWatcher): Promise<void> => {
    clock.advance(INTERVAL);
    await w.settled();
  };

  const reasons = (files: RuleFile[] | undefined): string[] =>
    (files ?? []).flatMap((f) => f.rules.map((r) => r.reason));

  it('follows a ConfigMap update (..data symlink swap) within one poll interval', async () => {
    // The kubelet's layout: ..<timestamp>/ holds the files, ..data points at it, and each key
    // is a top-level symlink into ..data.
    const v1 = join(dir, '..2026_01_01_00_00_00.000000001');
    await mkdir(v1);
    await writeFile(join(v1, 'kernel.json'), rulesJson(['OOMKilling']));
    await symlink('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    await symlink('..data/kernel.json', join(dir, 'kernel.json'));

    const w = await start([dir]);
    expect(reloads).toEqual([]); // the first check finds the rules main loaded
    await tick(w);
    expect(reloads).toEqual([]);

    // The update: a new timestamped dir (same byte size, so only the symlink target changes),
    // an atomic rename of a fresh symlink over ..data, then the old dir goes away.
    const v2 = join(dir, '..2026_01_01_00_05_00.000000002');
    await mkdir(v2);
    await writeFile(join(v2, 'kernel.json'), rulesJson(['TaskHungX']));
    await symlink('..2026_01_01_00_05_00.000000002', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(v1, { recursive: true });

    expect(reloads).toEqual([]); // nothing happens between polls
    await tick(w);
    expect(reloads).toHaveLength(1);
    expect(reasons(reloads[0])).toEqual(['TaskHungX']);
    expect(reloads[0]?.[0]?.path).toBe(join(dir, 'kernel.json'));
    expect(invalids).toEqual([]);
    expect(w.stats).toMatchObject({ reloads: 1, invalid: 0, valid: true });

    await tick(w);
    expect(reloads).toHaveLength(1); // no change, no reload
    expect(logs.filter((l) => l.level === 'info' && l.msg === 'rule files reloaded')).toHaveLength(1);
  });

  it('keeps the old rules on an invalid edit, reports every error once, then takes the fix', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    const w = await start([file]);

    await writeFile(
      file,
      rulesJson(['Bad'], {
        lookback: '5 min',
        rules: [
          { type: 'temporary', reason: 'A', pattern: 'x(?=y)' },
          { type: 'permanent', condition: 'Nope', reason: 'B', pattern: 'z' },
        ],
      }),
    );
    await tick(w);
    expect(reloads).toEqual([]);
    expect(invalids).toHaveLength(1);
    const expected = [
      `${file}: lookback: unknown unit " min" in duration "5 min" (valid units are "ns", "us", "ms", "s", "m", "h")`,
      `${file}: rules[0].pattern: invalid RE2 pattern: invalid perl operator: (?=`,
      `${file}: rules[1].condition: condition "Nope" is not declared in "conditions" (declared: KernelDeadlock)`,
    ];
    expect(invalids[0]?.map(formatConfigError)).toEqual(expected);
    const errorLogs = logs.filter((l) => l.level === 'error');
    expect(errorLogs.map((l) => l.obj['error'])).toEqual(expected);
    expect(
      errorLogs.every(
        (l) => l.msg === 'invalid rule file; keeping the previous rules' && l.obj['component'] === 'rule-watch',
      ),
    ).toBe(true);
    expect(w.stats).toMatchObject({ valid: false, invalid: 1, reloads: 0 });
    expect(w.stats.lastErrors).toHaveLength(3);

    await tick(w); // unchanged invalid file: no second report
    expect(invalids).toHaveLength(1);
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(3);

    await writeFile(file, rulesJson(['OOMKilling', 'TaskHung']));
    await tick(w);
    expect(reloads).toHaveLength(1);
    expect(reasons(reloads[0])).toEqual(['OOMKilling', 'TaskHung']);
    expect(w.stats).toMatchObject({ valid: true, invalid: 1, reloads: 1, lastErrors: [] });
  });

  it('reports a half-written file as invalid and reloads once it is complete', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    const w = await start([file]);
    const full = rulesJson(['OOMKilling', 'XfsShutdown']);
    await writeFile(file, full.slice(0, 40)); // cut inside "kernel-monitor", which starts at column 27
    await tick(w);
    expect(invalids[0]?.map(formatConfigError)).toEqual([
      `${file}: invalid JSON at line 1, column 27: unterminated string`,
    ]);
    await writeFile(file, full);
    await tick(w);
    expect(reasons(reloads[0])).toEqual(['OOMKilling', 'XfsShutdown']);
  });

  it('calls onReload after an invalid spell even when the fix restores the old rules exactly', async () => {
    const file = join(dir, 'kernel.json');
    const original = rulesJson(['OOMKilling']);
    await writeFile(file, original);
    const w = await start([file]);
    await writeFile(file, '{');
    await tick(w);
    expect(invalids).toHaveLength(1);
    await writeFile(file, original);
    await tick(w);
    expect(reloads).toHaveLength(1); // lets the caller clear its "rules invalid" state
    expect(reasons(reloads[0])).toEqual(['OOMKilling']);
  });

  it('does not miss a same-size rewrite made in the same timestamp tick as the last poll', async () => {
    // Same size, same inode, and (on a coarse-tick filesystem) the same mtime/ctime: only the
    // "recently modified, re-read" rule catches it.
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['AAAA']));
    const w = await start([file]);
    await writeFile(file, rulesJson(['BBBB']));
    await tick(w);
    expect(reasons(reloads[0])).toEqual(['BBBB']);
    await tick(w); // re-read while racy, but nothing changed: no second reload
    expect(reloads).toHaveLength(1);
  });

  it('does not reload when a file is touched but not changed', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    const w = await start([file]);
    const later = new Date(Date.now() + 60_000);
    await utimes(file, later, later);
    await tick(w);
    expect(w.stats.checks).toBe(2);
    expect(reloads).toEqual([]);
    expect(invalids).toEqual([]);
  });

  it('reloads when a file is added to or removed from a watched directory', async () => {
    await writeFile(join(dir, 'a.json'), rulesJson(['A']));
    const w = await start([dir]);
    await writeFile(
      join(dir, 'b.json'),
      JSON.stringify({ plugin: 'kmsg', source: 'b', rules: [{ type: 'temporary', reason: 'B', pattern: 'b' }] }),
    );
    await tick(w);
    expect(reasons(reloads[0])).toEqual(['A', 'B']);
    await unlink(join(dir, 'a.json'));
    await tick(w);
    expect(reasons(reloads[1])).toEqual(['B']);
    // Removing the last file leaves an empty directory: invalid, the old rules stay.
    await unlink(join(dir, 'b.json'));
    await tick(w);
    expect(reloads).toHaveLength(2);
    expect(invalids[0]?.map(formatConfigError)).toEqual([`${dir}: directory has no *.json rule files`]);
  });

  it('reloads at once if the files changed between the initial load and the watch', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    const initial = (await loadRuleFiles([file])).files;
    await writeFile(file, rulesJson(['Changed']));
    watcher = watchRuleFiles({
      paths: [file],
      clock,
      logger: recordingLogger(logs),
      signal: abort.signal,
      initial,
      onReload: (files) => reloads.push(files),
      onInvalid: (errors) => invalids.push(errors),
    });
    await watcher.settled();
    expect(reasons(reloads[0])).toEqual(['Changed']);
  });

  it('without initial rules, the first check only records the baseline', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    const w = await start([file], false);
    expect(reloads).toEqual([]);
    await writeFile(file, rulesJson(['OOMKilling', 'More']));
    await tick(w);
    expect(reasons(reloads[0])).toEqual(['OOMKilling', 'More']);
  });

  it('polls every intervalMs (default 10 s) and stops on abort, idempotently', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    const w = await start([file]);
    expect(w.stats.checks).toBe(1);
    clock.advance(INTERVAL - 1);
    await w.settled();
    expect(w.stats.checks).toBe(1);
    clock.advance(1);
    await w.settled();
    expect(w.stats.checks).toBe(2);
    expect(clock.pending()).toBe(1);

    abort.abort();
    w.stop();
    expect(clock.pending()).toBe(0);
    await writeFile(file, rulesJson(['Changed']));
    clock.advance(INTERVAL * 3);
    await w.checkNow();
    expect(w.stats.checks).toBe(2);
    expect(reloads).toEqual([]);
  });

  it('polls an unchanged set without a thread-pool round trip (synchronous fingerprint)', async () => {
    // Each fs/promises or callback fs call is a libuv thread-pool request (an FSREQ* async
    // resource): a pool thread wakes, then the main thread. An idle poll must cause none.
    await writeFile(join(dir, 'kernel.json'), rulesJson(['OOMKilling']));
    await writeFile(join(dir, 'readonly.json'), rulesJson(['FilesystemIsReadOnly'], { conditions: [] }));
    // The files' ctimes are now: move the wall clock (Date only) past RACY_MS, so that the
    // fingerprint is trusted and an unchanged poll loads nothing.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    const fsRequests: string[] = [];
    const hook = createHook({
      init(_id, type) {
        if (type.startsWith('FSREQ')) fsRequests.push(type);
      },
    });
    let w: RuleWatcher;
    try {
      w = await start([dir]);
      hook.enable();
      await tick(w);
      await tick(w);
    } finally {
      hook.disable();
      vi.useRealTimers();
    }
    expect(w.stats.checks).toBe(3);
    expect(fsRequests).toEqual([]);
    // A change still loads (asynchronously) and reloads.
    await writeFile(join(dir, 'kernel.json'), rulesJson(['OOMKilling', 'TaskHung']));
    await tick(w);
    expect(reasons(reloads[0])).toEqual(['OOMKilling', 'TaskHung', 'FilesystemIsReadOnly']);
  });

  it('survives a throwing callback', async () => {
    const file = join(dir, 'kernel.json');
    await writeFile(file, rulesJson(['OOMKilling']));
    watcher = watchRuleFiles({
      paths: [file],
      intervalMs: INTERVAL,
      clock,
      logger: recordingLogger(logs),
      signal: abort.signal,
      onReload: () => {
        throw new Error('boom');
      },
      onInvalid: () => undefined,
    });
    await watcher.settled();
    await writeFile(file, rulesJson(['Changed']));
    await tick(watcher);
    expect(watcher.stats).toMatchObject({ reloads: 1, errors: 1 });
    expect(logs.some((l) => l.level === 'error' && l.obj['err'] === 'boom')).toBe(true);
    await writeFile(file, rulesJson(['Changed', 'Again']));
    await tick(watcher);
    expect(watcher.stats.reloads).toBe(2);
  });
});
