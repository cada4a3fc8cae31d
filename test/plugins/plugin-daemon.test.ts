// plugin-daemon.test.ts: custom plugin results to the sinks, on the fake clock through a fake
// port: Events for temporary rules, NPD's condition moves (Unknown included) with their change
// Events, skip_initial_status, adoption, and reload keeping unchanged files' monitors.
import { describe, expect, it } from 'vitest';
import { PluginDaemon } from '../../agent/plugins/plugin-daemon';
import type { Condition, Logger, PluginFile } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';
import { recorder } from '../helpers/recording-sink';
import { pluginFile } from './plugin-fixtures';
import { FakePluginPort, settle } from './fake-plugin-port';

const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

const ntp = pluginFile({
  path: '/rules/custom-plugin-monitor.json',
  component: 'ntp-custom-plugin-monitor',
  conditions: [{ type: 'NTPProblem', reason: 'NTPIsUp', message: 'ntp service is up' }],
  rules: [
    { type: 'temporary', reason: 'NTPIsDown', path: '/temp', args: [], timeoutMs: 3_000 },
    { type: 'permanent', condition: 'NTPProblem', reason: 'NTPIsDown', path: '/perm', args: [], timeoutMs: 3_000 },
  ],
});

function setup(files: PluginFile[], initialConditions?: Condition[]) {
  const clock = new FakeClock();
  const port = new FakePluginPort();
  const { got, sink } = recorder();
  const daemon = new PluginDaemon(files, {
    clock,
    logger,
    nodeName: 'node-1',
    sinks: [sink],
    port,
    ...(initialConditions ? { initialConditions } : {}),
  });
  return { clock, port, got, daemon };
}

/** Finishes the pending runs of one round: path -> [exit code, stdout]. */
async function round(port: FakePluginPort, exits: Record<string, [number | null, string]>): Promise<void> {
  for (const [path, [code, out]] of Object.entries(exits)) port.of(path).exit(code, out);
  await settle();
}

const status = (d: PluginDaemon): string[] =>
  d.conditions().map((c) => `${c.type}=${c.status}/${c.reason}/${c.message}`);

describe('PluginDaemon', () => {
  it('announces the default conditions at start and runs the first round', () => {
    const { port, got, daemon } = setup([ntp]);
    daemon.start();
    expect(got.initial).toEqual([
      [
        'ntp-custom-plugin-monitor',
        [expect.objectContaining({ type: 'NTPProblem', status: 'False', reason: 'NTPIsUp' })],
      ],
    ]);
    expect(port.started).toEqual(['/temp', '/perm']);
    daemon.stop();
  });

  it('posts an Event for a temporary rule on NonOK and on Unknown, never on OK', async () => {
    const { clock, port, got, daemon } = setup([ntp]);
    daemon.start();
    await round(port, { '/temp': [0, 'fine'], '/perm': [0, ''] });
    expect(got.events).toEqual([]);
    clock.advance(30_000);
    await round(port, { '/temp': [1, 'ntp is down'], '/perm': [0, ''] });
    clock.advance(30_000);
    await round(port, { '/temp': [2, 'cannot tell'], '/perm': [0, ''] });
    expect(got.events.map((e) => [e.type, e.reason, e.message, e.component, e.involved])).toEqual([
      ['Warning', 'NTPIsDown', 'ntp is down', 'ntp-custom-plugin-monitor', { kind: 'Node', name: 'node-1' }],
      ['Warning', 'NTPIsDown', 'cannot tell', 'ntp-custom-plugin-monitor', { kind: 'Node', name: 'node-1' }],
    ]);
    expect(got.problems.map((p) => [p.kind, p.reason])).toEqual([
      ['temporary', 'NTPIsDown'],
      ['temporary', 'NTPIsDown'],
    ]);
    expect(got.changes).toEqual([]);
    daemon.stop();
  });

  it("moves a permanent rule's condition True, Unknown and back to False, each with NPD's change Event", async () => {
    const { clock, port, got, daemon } = setup([ntp]);
    daemon.start();
    const next = async (code: number | null, out: string): Promise<void> => {
      await round(port, { '/temp': [0, ''], '/perm': [code, out] });
      clock.advance(30_000);
    };
    await next(1, 'ntp daemon not running\nmore detail');
    expect(status(daemon)).toEqual(['NTPProblem=True/NTPIsDown/ntp daemon not running\nmore detail']);
    await next(1, 'ntp daemon not running\nmore detail'); // a repeat changes nothing
    await next(3, 'clock source unreadable');
    expect(status(daemon)).toEqual(['NTPProblem=Unknown/NTPIsUp/clock source unreadable']);
    await next(3, 'still unreadable'); // Unknown to Unknown changes nothing
    await next(0, 'ok');
    expect(status(daemon)).toEqual(['NTPProblem=False/NTPIsUp/ntp service is up']);
    expect(got.changes.map((c) => [c.previous?.status, c.condition.status])).toEqual([
      ['False', 'True'],
      ['True', 'Unknown'],
      ['Unknown', 'False'],
    ]);
    expect(got.events.map((e) => [e.type, e.reason, e.message])).toEqual([
      [
        'Warning',
        'NTPIsDown',
        'Node condition NTPProblem is now: True, reason: NTPIsDown, message: "ntp daemon not running\\nmore detail"',
      ],
      [
        'Normal',
        'NTPIsUp',
        'Node condition NTPProblem is now: Unknown, reason: NTPIsUp, message: "clock source unreadable"',
      ],
      ['Normal', 'NTPIsUp', 'Node condition NTPProblem is now: False, reason: NTPIsUp, message: "ntp service is up"'],
    ]);
    expect(got.problems.filter((p) => p.kind === 'permanent')).toHaveLength(2); // the two NonOK runs
    daemon.stop();
  });

  it('updates a True condition on a new message only with enable_message_change_based_condition_update', async () => {
    for (const messageChangeUpdates of [false, true]) {
      const { clock, port, got, daemon } = setup([{ ...ntp, messageChangeUpdates }]);
      daemon.start();
      await round(port, { '/temp': [0, ''], '/perm': [1, 'offset 2s'] });
      clock.advance(30_000);
      await round(port, { '/temp': [0, ''], '/perm': [1, 'offset 3s'] });
      expect(got.changes.map((c) => c.condition.message)).toEqual(
        messageChangeUpdates ? ['offset 2s', 'offset 3s'] : ['offset 2s'],
      );
      daemon.stop();
    }
  });

  it('skip_initial_status: conditions are announced with the first result, not at start', async () => {
    const { port, got, daemon } = setup([{ ...ntp, skipInitialStatus: true }]);
    daemon.start();
    expect(got.initial).toEqual([]);
    await round(port, { '/temp': [0, ''] });
    expect(got.initial).toEqual([['ntp-custom-plugin-monitor', [expect.objectContaining({ status: 'False' })]]]);
    daemon.stop();
  });

  it("adopts the Node's conditions at start; an OK run then recovers an adopted Unknown", async () => {
    const adopted: Condition = {
      type: 'NTPProblem',
      status: 'Unknown',
      reason: 'NTPIsUp',
      message: 'was unknown',
      lastTransitionTime: new Date(0),
    };
    const { port, got, daemon } = setup([ntp], [adopted]);
    daemon.start();
    expect(got.initial[0]?.[1]).toEqual([adopted]);
    await round(port, { '/temp': [0, ''], '/perm': [0, 'fine'] });
    expect(status(daemon)).toEqual(['NTPProblem=False/NTPIsUp/ntp service is up']);
    daemon.stop();
  });

  it('reload keeps unchanged files running, restarts changed ones, stops removed ones, keeps condition state', async () => {
    const other: PluginFile = {
      ...ntp,
      path: '/rules/net.json',
      component: 'net',
      conditions: [],
      rules: [{ type: 'temporary', reason: 'DNS', path: '/dns', args: [], timeoutMs: 3_000 }],
    };
    const { port, daemon } = setup([ntp, other]);
    daemon.start();
    await round(port, { '/temp': [0, ''], '/perm': [1, 'down'], '/dns': [0, ''] });
    expect(port.started).toEqual(['/temp', '/perm', '/dns']);
    const before = daemon.counterMap().get(ntp.path);
    // ntp unchanged, net changed (interval), a new file added.
    const third: PluginFile = {
      ...other,
      path: '/rules/third.json',
      component: 'third',
      rules: [{ type: 'temporary', reason: 'X', path: '/x', args: [], timeoutMs: 1_000 }],
    };
    daemon.reload([ntp, { ...other, invokeIntervalMs: 60_000 }, third]);
    expect(port.started).toEqual(['/temp', '/perm', '/dns', '/dns', '/x']);
    expect(daemon.counterMap().get(ntp.path)).toBe(before);
    expect(status(daemon)).toEqual(['NTPProblem=True/NTPIsDown/down']);
    await round(port, { '/dns': [0, ''], '/x': [0, ''] });
    daemon.reload([ntp]);
    expect([...daemon.counterMap().keys()]).toEqual([ntp.path]);
    daemon.stop();
  });
});
