// plugin-monitor.test.ts: one custom plugin file's schedule on the fake clock, through a fake
// port: a round at start and every invoke_interval, `concurrency` at once, per-rule timeouts
// that kill the run, overrunning rounds, stop, and the counters.
import { describe, expect, it } from 'vitest';
import { PluginMonitor } from '../../agent/plugins/plugin-monitor';
import type { PluginVerdict } from '../../agent/plugins/plugin-result';
import type { Logger, PluginFile, PluginRuleSpec } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';
import { FakePluginPort, settle } from './fake-plugin-port';
import { pluginFile } from './plugin-fixtures';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

const rule = (path: string, timeoutMs = 3_000): PluginRuleSpec => ({
  type: 'temporary',
  reason: `R-${path}`,
  path,
  args: ['--flag', 'value with spaces'],
  timeoutMs,
});

const file = (rules: PluginRuleSpec[], extra: Partial<PluginFile> = {}): PluginFile => pluginFile({ rules, ...extra });

function setup(f: PluginFile) {
  const clock = new FakeClock();
  const port = new FakePluginPort();
  const results: [string, PluginVerdict][] = [];
  const monitor = new PluginMonitor(f, {
    clock,
    port,
    logger,
    onResult: (r, v) => results.push([r.path, v]),
  });
  return { clock, port, results, monitor };
}

describe('PluginMonitor', () => {
  it('runs every rule at start and again every invoke_interval, with its argv', async () => {
    const { clock, port, results, monitor } = setup(file([rule('/a'), rule('/b')]));
    monitor.start();
    expect(port.started).toEqual(['/a', '/b']);
    expect(port.pending[0]?.req.args).toEqual(['--flag', 'value with spaces']);
    port.of('/a').exit(0, 'fine');
    port.of('/b').exit(1, 'broken\n');
    await settle();
    expect(results).toEqual([
      ['/a', { status: 'ok', message: 'fine' }],
      ['/b', { status: 'nonok', message: 'broken' }],
    ]);
    clock.advance(29_999);
    expect(port.started).toHaveLength(2);
    clock.advance(1);
    expect(port.started).toEqual(['/a', '/b', '/a', '/b']);
    expect(monitor.stats).toMatchObject({ rounds: 2, runs: 2, ok: 1, nonOk: 1, running: 2 });
    monitor.stop();
  });

  it('runs at most `concurrency` plugins at once, starting the next as one finishes', async () => {
    const paths = ['/1', '/2', '/3', '/4', '/5'];
    const { port, monitor } = setup(
      file(
        paths.map((p) => rule(p)),
        { concurrency: 2 },
      ),
    );
    monitor.start();
    expect(port.started).toEqual(['/1', '/2']);
    port.of('/2').exit(0);
    await settle();
    expect(port.started).toEqual(['/1', '/2', '/3']);
    for (const p of ['/1', '/3', '/4']) {
      port.of(p).exit(0);
      await settle();
    }
    port.of('/5').exit(0);
    await settle();
    expect(port.started).toEqual(paths);
    expect(port.maxRunning).toBe(2);
    expect(monitor.stats.runs).toBe(5);
  });

  it("kills a run at its rule's timeout: Unknown, counted", async () => {
    const { clock, port, results, monitor } = setup(file([rule('/slow', 3_000), rule('/fast', 4_000)]));
    monitor.start();
    port.of('/fast').exit(0);
    await settle();
    clock.advance(2_999);
    expect(port.of('/slow').aborted).toBe(false);
    clock.advance(1);
    await settle();
    expect(port.pending).toEqual([]);
    expect(results.at(-1)).toEqual([
      '/slow',
      { status: 'unknown', message: 'Timeout when running plugin "/slow": killed. output - ""' },
    ]);
    expect(monitor.stats).toMatchObject({ timeouts: 1, unknown: 1, ok: 1, running: 0 });
  });

  it('follows an overrunning round at once and drops the ticks it missed', async () => {
    const { clock, port, monitor } = setup(file([rule('/long', 100_000)], { timeoutMs: 100_000 }));
    monitor.start();
    clock.advance(95_000); // three ticks pass while the first round runs
    expect(port.started).toHaveLength(1);
    port.of('/long').exit(0);
    await settle();
    clock.advance(0);
    expect(port.started).toHaveLength(2); // the one held tick: at once
    port.of('/long').exit(0);
    await settle();
    expect(port.started).toHaveLength(2); // the others were dropped
    clock.advance(24_999);
    expect(port.started).toHaveLength(2);
    clock.advance(1); // the tick at 120 s
    expect(port.started).toHaveLength(3);
    monitor.stop();
  });

  it('stop kills running plugins, reports nothing more and schedules nothing', async () => {
    const { clock, port, results, monitor } = setup(file([rule('/a'), rule('/b')]));
    monitor.start();
    port.of('/a').exit(1, 'x');
    await settle();
    monitor.stop();
    await settle();
    expect(port.pending).toEqual([]);
    expect(results).toHaveLength(1);
    clock.advance(120_000);
    expect(port.started).toEqual(['/a', '/b']);
    expect(clock.pending()).toBe(0);
  });

  it('counts start failures and output over the cap', async () => {
    const { port, results, monitor } = setup(file([rule('/missing'), rule('/flood')]));
    monitor.start();
    port.of('/missing').fail('ENOENT: spawn /missing ENOENT');
    port.of('/flood').exit(null, 'yyyy', { exitSignal: 'SIGPIPE', truncated: true, flooded: true });
    await settle();
    expect(results).toEqual([
      ['/missing', { status: 'unknown', message: 'cannot start plugin: ENOENT: spawn /missing ENOENT' }],
      ['/flood', { status: 'unknown', message: 'yyyy' }],
    ]);
    expect(monitor.stats).toMatchObject({ startFailures: 1, outputTruncated: 1, outputFlooded: 1, unknown: 2 });
    monitor.stop();
  });
});
