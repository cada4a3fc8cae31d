// journald-real.test.ts: the journald source against real journal files (written by
// systemd-journal-remote, read by a real journalctl child): appends while following, rotation
// to a new file (the old one renamed away) and vacuum, restart from the saved cursor, a directory
// created after start; and NPD's docker-monitor.json and systemd-monitor.json, unchanged but for
// logPath, detecting their events and condition from a real journal. Counts and order only; the
// waits are hang guards (eventually(), 30 s against well under a second).
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadRuleFiles } from '../../agent/config/rule-files';
import { Detector } from '../../agent/detector';
import { systemClock } from '../../agent/runtime/clock';
import { CheckpointStore } from '../../agent/sources/checkpoint';
import { JournaldSource } from '../../agent/sources/journald';
import type { LogLine, NodeEvent, RuleFile } from '../../agent/types';
import { quietLogger } from '../fixtures/files/follow-harness';
import { eventually } from '../helpers/eventually';
import { writeJournal, type TestEntry } from '../helpers/journal-writer';
import { describeWithParts } from '../helpers/system-parts';

const NPD = join(__dirname, '..', 'fixtures', 'npd');
const MACHINE = 'fedcba9876543210fedcba9876543210';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nw-journal-'));
  dirs.push(d);
  return d;
}

function reader(dir: string, state: string, identifiers: readonly string[], startAfterMs = Date.now() - 60_000) {
  const checkpoints = new CheckpointStore(state, quietLogger);
  const source = new JournaldSource({
    dir,
    identifiers,
    checkpoints,
    clock: systemClock,
    logger: quietLogger,
    startAfterMs,
    idlePollIntervalMs: 50,
    random: () => 0.01,
  });
  const lines: LogLine[] = [];
  const ac = new AbortController();
  const done = source.run((l) => {
    lines.push(l);
  }, ac.signal);
  return {
    source,
    lines,
    texts: () => lines.map((l) => l.text),
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

const BASE = Date.now() - 10_000;
const at = (n: number): number => BASE + n;
const entries = (identifier: string, from: number, to: number): TestEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    identifier,
    message: `${identifier} line ${from + i}`,
    timeMs: at(from + i),
  }));

describeWithParts(['journalctl', 'systemd-journal-remote'], 'journald source on real journal files', () => {
  it('follows appends, reads only its identifiers, survives rotation and vacuum, resumes from the cursor', async () => {
    const root = tempDir();
    const dir = join(root, 'journal');
    const state = join(root, 'state');
    const sys = join(dir, MACHINE, 'system.journal');
    mkdirSync(join(dir, MACHINE), { recursive: true });
    writeJournal(sys, [...entries('kubelet', 1, 3), ...entries('other', 1, 2)]);

    const r = reader(dir, state, ['kubelet', 'dockerd']);
    await eventually('the first entries', () => r.lines.length === 3);
    writeJournal(sys, [...entries('dockerd', 4, 5), ...entries('other', 3, 3)]);
    await eventually('appended entries', () => r.lines.length === 5);

    // journald's rotation: the active file is renamed to an archive name, a new one is written.
    renameSync(sys, join(dir, MACHINE, 'system@0000000000000001-0000000000000001.journal'));
    writeJournal(sys, entries('kubelet', 6, 8));
    await eventually('entries after rotation', () => r.lines.length === 8);
    await eventually('the rotation seen', () => r.source.stats.rotations >= 1);
    // Vacuum: the archive is deleted; the reader restarts from its cursor and loses nothing new.
    rmSync(join(dir, MACHINE, 'system@0000000000000001-0000000000000001.journal'));
    writeJournal(sys, entries('kubelet', 9, 9));
    await eventually('entries after vacuum', () => r.lines.length === 9);
    await r.stop();
    expect(r.texts()).toEqual([
      ...[1, 2, 3].map((n) => `kubelet line ${n}`),
      'dockerd line 4',
      'dockerd line 5',
      ...[6, 7, 8, 9].map((n) => `kubelet line ${n}`),
    ]);
    expect(r.lines.map((l) => l.identifier)).toEqual([
      ...Array(3).fill('kubelet'),
      'dockerd',
      'dockerd',
      ...Array(4).fill('kubelet'),
    ]);
    expect(r.lines[0]?.time.getTime()).toBe(Math.round(at(1)));
    expect(r.source.stats).toMatchObject({ received: 9, malformed: 0, exits: 0 });

    // Restart: nothing re-reported, nothing written while stopped skipped, nothing backlog.
    writeJournal(sys, entries('kubelet', 10, 11));
    const again = reader(dir, state, ['kubelet', 'dockerd']);
    await eventually('entries written while stopped', () => again.lines.length === 2);
    writeJournal(sys, entries('kubelet', 12, 12));
    await eventually('a new entry', () => again.lines.length === 3);
    await again.stop();
    expect(again.texts()).toEqual(['kubelet line 10', 'kubelet line 11', 'kubelet line 12']);
    expect(again.lines.some((l) => l.backlog)).toBe(false);
  });

  it('waits for a directory that is missing at start, counted and degraded, then reads it', async () => {
    const root = tempDir();
    const dir = join(root, 'journal');
    const r = reader(dir, join(root, 'state'), ['kubelet']);
    await eventually('the missing directory counted', () => r.source.stats.missing >= 1);
    expect(r.source.health().degraded).toContain('is missing');
    mkdirSync(dir);
    writeJournal(join(dir, 'system.journal'), entries('kubelet', 1, 2));
    await eventually('its entries', () => r.lines.length === 2);
    expect(r.source.health().degraded).toBeUndefined();
    await r.stop();
  });

  it("runs NPD's docker-monitor.json and systemd-monitor.json unchanged (logPath aside) on a real journal", async () => {
    const dir = join(tempDir(), 'journal');
    mkdirSync(dir);
    const loaded = await loadRuleFiles([join(NPD, 'docker-monitor.json'), join(NPD, 'systemd-monitor.json')]);
    expect(loaded.errors).toEqual([]);
    const files: RuleFile[] = loaded.files.map((f) => ({ ...f, logPath: dir }));
    const events: NodeEvent[] = [];
    const detector = new Detector(files, {
      clock: systemClock,
      logger: quietLogger,
      nodeName: 'n1',
      sinks: [{ name: 'test', onEvent: (e) => events.push(e) }],
      applyLookback: true,
    });
    const now = Date.now();
    writeJournal(join(dir, 'system.journal'), [
      // Ten minutes old, no cursor: past the 5m lookback, as in NPD.
      { identifier: 'systemd', message: 'Started Kubernetes kubelet.', timeMs: now - 600_000 },
      { identifier: 'systemd', message: 'Started Kubernetes kubelet.', timeMs: now - 1000 },
      { identifier: 'systemd', message: 'Starting Docker Application Container Engine...', timeMs: now - 900 },
      { identifier: 'systemd', message: 'Starting containerd container runtime...', timeMs: now - 800 },
      // Another identifier's text is not systemd-monitor's.
      { identifier: 'kubelet', message: 'Started Kubernetes kubelet.', timeMs: now - 700 },
      {
        identifier: 'dockerd',
        message:
          'Error trying v2 registry: failed to register layer: rename /var/lib/docker/image/overlay2/layerdb/tmp/write-set-1 /var/lib/docker/image/overlay2/layerdb/sha256/abc: directory not empty',
        timeMs: now - 600,
      },
      {
        identifier: 'dockerd',
        message:
          'handler for POST /containers/x/start returned error: readlink /var/lib/docker/overlay2/l/ABC: invalid argument',
        timeMs: now - 500,
      },
    ]);
    const checkpoints = join(tempDir(), 'state');
    const r = reader(dir, checkpoints, ['dockerd', 'systemd'], now - 300_000);
    const source = r.source;
    // Feed the detector from the source's lines as the agent does.
    const fed = (): number => {
      while (r.lines.length > 0) detector.handle(r.lines.shift() as LogLine);
      return events.length;
    };
    await eventually('the events', () => fed() >= 5);
    writeJournal(join(dir, 'system.journal'), [
      {
        identifier: 'dockerd',
        message: 'OCI runtime start failed: container process is already dead: unknown',
        timeMs: Date.now(),
      },
    ]);
    await eventually('the event of an entry appended while following', () => fed() >= 6);
    await r.stop();
    // 6 of the 8 written: the ten-minute-old entry is before --since (now − lookback), and the
    // kubelet identifier is not read.
    expect(source.stats.received).toBe(6);
    expect(events.map((e) => `${e.component} ${e.reason}`)).toEqual([
      'systemd-monitor KubeletStart',
      'systemd-monitor DockerStart',
      'systemd-monitor ContainerdStart',
      'docker-monitor CorruptDockerImage',
      // The permanent rule's condition change, posted as an Event as NPD does.
      'docker-monitor CorruptDockerOverlay2',
      'docker-monitor DockerContainerStartupFailure',
    ]);
    expect(detector.conditions().find((c) => c.type === 'CorruptDockerOverlay2')).toMatchObject({
      status: 'True',
      reason: 'CorruptDockerOverlay2',
    });
  });
});
