// main.test.ts: the nodewarden command as operators run it — the built bundle as a child process:
// check-rules exit codes and error lines, replay, and a standalone `run` on the real /dev/kmsg
// (problems logged, conditions served, recoverAfter, restart without re-reporting, hot reload,
// SIGTERM), and a standalone `run` of a custom plugin file.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT, AgentProcess, freePort } from './e2e/agent-process';
import { eventually } from './helpers/eventually';
import { describeWithParts } from './helpers/system-parts';

const ROOT = resolve(__dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'nodewarden-main-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [AGENT, ...args],
      { cwd: ROOT, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

function kmsg(text: string): void {
  // One open per record: /dev/kmsg rate-limits writes per open file.
  writeFileSync('/dev/kmsg', `<3>${text}\n`);
}

const until = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> =>
  eventually(what, check, { ms });

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('nodewarden check-rules', () => {
  it('accepts the shipped rules and NPD files', async () => {
    const r = await cli(['check-rules', 'rules/', 'test/fixtures/rules/good/docker-monitor-filelog.json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 3 rule files, \d+ rules$/m);
    const npd = await cli(['check-rules', 'test/fixtures/npd/kernel-monitor-filelog.json']);
    expect(npd.code).toBe(0);
  });

  it('exits 2 and prints every error as file: field: message', async () => {
    const bad = 'test/fixtures/rules/bad/many-errors.json';
    const r = await cli(['check-rules', bad, 'test/fixtures/rules/bad/journald.json']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    const summary = lines.pop();
    expect(summary).toMatch(/^nodewarden: \d+ errors in rule files$/);
    expect(lines.length).toBeGreaterThan(20);
    for (const l of lines) expect(l).toMatch(/^test\/fixtures\/rules\/bad\/(many-errors|journald)\.json: \S.*: .+/);
    expect(lines).toContain(`${bad}: rules[0].pattern: invalid RE2 pattern: invalid perl operator: (?=`);
    expect(lines).toContain(
      'test/fixtures/rules/bad/journald.json: pluginConfig: unknown key "sorce" (did you mean "source"?)',
    );
  });

  it("accepts NPD's custom plugin files and lists every error of a bad one, exit 2", async () => {
    const npd = 'test/fixtures/npd';
    const good = await cli([
      'check-rules',
      `${npd}/custom-plugin-monitor.json`,
      `${npd}/network-problem-monitor.json`,
      `${npd}/kernel-monitor-counter.json`,
    ]);
    expect(good.stderr).toBe('');
    expect(good).toMatchObject({ code: 0, stdout: 'ok: 3 rule files, 5 rules\n' });
    const bad = 'test/fixtures/plugins/custom-errors.json';
    const stats = `${npd}/unsupported/system-stats-monitor.json`;
    const r = await cli(['check-rules', bad, stats]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.pop()).toBe('nodewarden: 15 errors in rule files');
    expect(lines).toContain(`${bad}: rules[0].path: is required`);
    expect(lines).toContain(
      `${bad}: pluginConfig.invoke_interval: unknown unit " seconds" in duration "30 seconds" (valid units are "ns", "us", "ms", "s", "m", "h")`,
    );
    expect(lines.at(-1)).toMatch(new RegExp(`^${stats}: this is a system-stats monitor file .*not support`));
  });

  it('exits 2 on a bad flag, naming it', async () => {
    const r = await cli(['run', '--heartbeat-period', 'often']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--heartbeat-period/);
  });
});

describe('nodewarden replay', () => {
  it('prints events and condition changes for a kmsg capture', async () => {
    const capture = [
      '3,100,5000000,-;EXT4-fs (sda1): Remounting filesystem read-only',
      ' SUBSYSTEM=block',
      '3,101,6000000,-;Killed process 42 (java) total-vm:10kB, anon-rss:5kB, file-rss:0kB, shmem-rss:0kB',
      '6,102,7000000,-;eth0: link up',
      '',
    ].join('\n');
    const r = await cli(['replay', '--rules', 'rules/', '--format', 'kmsg'], capture);
    expect(r.code).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toContainEqual(
      expect.objectContaining({
        kind: 'condition',
        condition: 'ReadonlyFilesystem',
        status: 'True',
        reason: 'FilesystemIsReadOnly',
      }),
    );
    expect(out).toContainEqual(
      expect.objectContaining({
        kind: 'event',
        reason: 'OOMKilling',
        source: 'kernel-monitor',
        message: expect.stringContaining('Killed process 42 (java)'),
      }),
    );
    expect(out.some((o) => String(o.message).includes('link up'))).toBe(false);
  });
});

describe('nodewarden run with a custom plugin file (standalone, no kernel log)', () => {
  it("runs NPD's custom-plugin-monitor.json plugins and serves their conditions; SIGTERM stops it", async () => {
    const dir = join(tmp, `plugins-${randomBytes(4).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    const plugin = join(dir, 'check_ntp.sh');
    writeFileSync(plugin, '#!/bin/sh\necho "ntp daemon is not running"\nexit 1\n');
    chmodSync(plugin, 0o755);
    // NPD's file, with only the rules' paths pointing at the test plugin.
    const npd = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/npd/custom-plugin-monitor.json'), 'utf8')) as {
      rules: { path: string }[];
    };
    for (const r of npd.rules) r.path = plugin;
    writeFileSync(join(dir, 'custom-plugin-monitor.json'), JSON.stringify(npd));
    const port = await freePort();
    const a = new AgentProcess([
      'run',
      '--rules',
      join(dir, 'custom-plugin-monitor.json'),
      '--state-dir',
      join(dir, 'state'),
      '--kmsg-path',
      '',
      '--metrics-address',
      `127.0.0.1:${port}`,
    ]);
    try {
      const cond = await until('NTPProblem True', async () => {
        const all = (await (await fetch(`http://127.0.0.1:${port}/conditions`).catch(() => undefined))?.json()) as
          Cond[] | undefined;
        return all?.find((c) => c.type === 'NTPProblem' && c.status === 'True');
      });
      expect(cond).toMatchObject({ reason: 'NTPIsDown', message: 'ntp daemon is not running' });
      await until(
        'the temporary rule logged',
        () => a.output.includes('"reason":"NTPIsDown","message":"ntp daemon is not running"') || undefined,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/problem_gauge\{type="NTPProblem",reason="NTPIsDown"\} 1/);
    } finally {
      expect((await a.stop()).code).toBe(0);
    }
  });
});

describeWithParts(['kmsg'], 'nodewarden run (standalone, real /dev/kmsg)', () => {
  const marker = `nwmain${randomBytes(4).toString('hex')}`;
  const rulesDir = join(tmp, 'rules');
  const stateDir = join(tmp, 'state');
  const rules = (extra: object[] = []) =>
    JSON.stringify({
      plugin: 'kmsg',
      source: 'main-test',
      conditions: [{ type: 'MainTestBroken', reason: 'MainTestOk', message: 'all good', recoverAfter: '2s' }, ...extra],
      rules: [
        { type: 'permanent', condition: 'MainTestBroken', reason: 'MainTestBrokeDown', pattern: `${marker} broke: .*` },
        { type: 'temporary', reason: 'MainTestBlip', pattern: `${marker} blip \\d+` },
      ],
    });

  async function start(port: number): Promise<AgentProcess> {
    const a = new AgentProcess([
      'run',
      '--rules',
      rulesDir,
      '--state-dir',
      stateDir,
      '--metrics-address',
      `127.0.0.1:${port}`,
      '--reload-interval',
      '200ms',
    ]);
    await until(
      'healthz',
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok || undefined,
    );
    return a;
  }
  const conditions = async (port: number): Promise<Cond[]> =>
    (await (await fetch(`http://127.0.0.1:${port}/conditions`)).json()) as Cond[];
  const problems = (a: AgentProcess, reason: string): number =>
    a.output.split('\n').filter((l) => l.includes(`"reason":"${reason}"`) && l.includes('"msg":"problem"')).length;

  it('detects, serves, recovers, survives a restart without re-reporting, reloads, and stops on SIGTERM', async () => {
    rmSync(rulesDir, { recursive: true, force: true });
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(join(rulesDir, 'main-test.json'), rules());
    const port = await freePort();
    let agent = await start(port);
    try {
      expect((await conditions(port)).find((c) => c.type === 'MainTestBroken')).toMatchObject({
        status: 'False',
        reason: 'MainTestOk',
      });

      kmsg(`${marker} broke: disk on fire`);
      kmsg(`${marker} blip 1`);
      const broken = await until('condition True', async () =>
        (await conditions(port)).find((c) => c.type === 'MainTestBroken' && c.status === 'True'),
      );
      expect(broken).toMatchObject({ reason: 'MainTestBrokeDown', message: `${marker} broke: disk on fire` });
      await until('blip logged', () => problems(agent, 'MainTestBlip') === 1 || undefined);

      // recoverAfter 2s: no more matching lines → back to False with the default reason.
      const recovered = await until(
        'recovery',
        async () => (await conditions(port)).find((c) => c.type === 'MainTestBroken' && c.status === 'False'),
        6000,
      );
      expect(recovered.reason).toBe('MainTestOk');

      const stopped = await agent.stop();
      expect(stopped.code).toBe(0); // by itself, before stop()'s SIGKILL at 10 s (a hang guard)

      // Restart on the same state dir: the lines already handled are not reported again.
      kmsg(`${marker} blip 2`);
      agent = await start(port);
      await until('blip 2 after restart', () => problems(agent, 'MainTestBlip') === 1 || undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(problems(agent, 'MainTestBlip')).toBe(1);
      expect(agent.output).toContain(`${marker} blip 2`);
      expect(agent.output).not.toContain(`${marker} blip 1`);
      expect(problems(agent, 'MainTestBrokeDown')).toBe(0);

      // Hot reload: a new condition appears without a restart; an invalid edit keeps the old rules.
      writeFileSync(
        join(rulesDir, 'main-test.json'),
        rules([{ type: 'MainTestExtra', reason: 'ExtraOk', message: 'fine' }]),
      );
      await until('reloaded condition', async () => (await conditions(port)).find((c) => c.type === 'MainTestExtra'));
      writeFileSync(join(rulesDir, 'main-test.json'), '{"plugin": "kmsg", "rules": [');
      await until(
        'reload failure metric',
        async () =>
          /nodewarden_rules_reload_failed 1/.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()) ||
          undefined,
      );
      kmsg(`${marker} blip 3`);
      await until('old rules still work', () => problems(agent, 'MainTestBlip') === 2 || undefined);
    } finally {
      const s = await agent.stop();
      expect(s.code).toBe(0);
    }
  });

  it('a source that cannot open its device fails /healthz and says so in nodewarden_source_healthy', async () => {
    const port = await freePort();
    const a = new AgentProcess([
      'run',
      '--rules',
      join(ROOT, 'rules'),
      '--state-dir',
      join(tmp, 'dead-state'),
      '--metrics-address',
      `127.0.0.1:${port}`,
      '--kmsg-path',
      join(tmp, 'no-such-kmsg'),
    ]);
    try {
      const metrics = await eventually(
        'source health metric',
        async () => {
          const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return /nodewarden_source_healthy\{source="kmsg"\} 0/.test(t) ? t : undefined;
        },
        { ms: 10_000, agent: () => a },
      );
      expect(metrics).toMatch(/nodewarden_source_last_poll_timestamp_seconds\{source="kmsg"\} 0/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { sources: { id: string; ok: boolean }[] }).sources).toContainEqual(
        expect.objectContaining({ id: 'kmsg', ok: false }),
      );
    } finally {
      await a.stop();
    }
  });

  it('refuses to start on invalid rules, listing every error, exit 2', async () => {
    const dir = join(tmp, 'bad-rules');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'a.json'),
      JSON.stringify({
        plugin: 'kmsg',
        source: 's',
        conditions: [],
        rules: [{ type: 'permanent', reason: 'R', pattern: '(?=x)' }],
      }),
    );
    writeFileSync(join(dir, 'b.json'), readFileSync(join(ROOT, 'test/fixtures/rules/bad/journald.json')));
    const r = await cli(['run', '--rules', dir, '--state-dir', stateDir, '--metrics-address', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a\.json: rules\[0\]\.condition: /);
    expect(r.stderr).toMatch(/a\.json: rules\[0\]\.pattern: invalid RE2 pattern/);
    expect(r.stderr).toMatch(/b\.json: pluginConfig\.source: is required for plugin journald/);
  });
});
