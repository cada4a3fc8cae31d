// settings.test.ts: the command line and NODEWARDEN_* environment parsing.
import { describe, expect, it } from 'vitest';
import { envName, parseSettings, usage } from '../../agent/config/settings';
import { DEFAULT_DROP_PREFIXES } from '../../agent/engine/drop-prefixes';

describe('parseSettings', () => {
  it('defaults to run with the documented defaults', () => {
    const r = parseSettings([], {});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = r.settings;
    expect(s.command).toBe('run');
    expect(s.rules).toEqual(['rules/']);
    expect(s.stateDir).toBe('/var/lib/nodewarden');
    expect(s.metricsAddress).toEqual({ host: '127.0.0.1', port: 20257 });
    expect(s.heartbeatPeriodMs).toBe(300_000);
    expect(s.kubeconfig).toBeUndefined();
    expect(s.dropLogs).toEqual([]);
    expect(s.dropMaxAgeMs).toBe(600_000);
    expect(s.dropFlushIntervalMs).toBe(10_000);
    expect(s.shutdownTimeoutMs).toBe(5_000);
    // Services are named; reverse DNS is off unless asked for.
    expect(s.dropPeerServices).toBe(true);
    expect(s.dropPeerDns).toEqual({ kind: 'off' });
    expect(s.dropPeerDnsTimeoutMs).toBe(1_000);
  });

  it('parses the peer flags: Services on/off, reverse DNS off/system/server, its timeout', () => {
    const r = parseSettings(
      ['run', '--drop-peer-services=false', '--drop-peer-dns', '127.0.0.1:5353', '--drop-peer-dns-timeout', '250ms'],
      {},
    );
    expect(r.ok && r.settings.dropPeerServices).toBe(false);
    expect(r.ok && r.settings.dropPeerDns).toEqual({ kind: 'server', server: '127.0.0.1:5353' });
    expect(r.ok && r.settings.dropPeerDnsTimeoutMs).toBe(250);
    const env = parseSettings([], { NODEWARDEN_DROP_PEER_DNS: 'system', NODEWARDEN_DROP_PEER_SERVICES: 'true' });
    expect(env.ok && env.settings.dropPeerDns).toEqual({ kind: 'system' });
    expect(env.ok && env.settings.dropPeerServices).toBe(true);
    const bad = parseSettings(
      ['--drop-peer-services', 'no', '--drop-peer-dns', 'dns.example.org', '--drop-peer-dns-timeout', '1ms'],
      {},
    );
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors).toHaveLength(3);
    expect(bad.errors[0]).toMatch(/^--drop-peer-services: expected true or false/);
    expect(bad.errors[1]).toMatch(/^--drop-peer-dns: expected off, system, or a server's IP address/);
    expect(bad.errors[2]).toMatch(/^--drop-peer-dns-timeout: must be at least 10 ms/);
  });

  it('takes flags over env over defaults', () => {
    const env = { NODEWARDEN_STATE_DIR: '/env/state', NODEWARDEN_NODE_NAME: 'env-node', NODEWARDEN_RULES: 'a.json,b/' };
    const r = parseSettings(['run', '--state-dir', '/flag/state', '--heartbeat-period', '90s'], env);
    expect(r.ok && r.settings.stateDir).toBe('/flag/state');
    expect(r.ok && r.settings.nodeName).toBe('env-node');
    expect(r.ok && r.settings.rules).toEqual(['a.json', 'b/']);
    expect(r.ok && r.settings.heartbeatPeriodMs).toBe(90_000);
  });

  it('repeats list flags', () => {
    const r = parseSettings(
      ['run', '--rules', 'x.json', '--rules', 'y.json', '--drop-log', '/var/log/iptables.log'],
      {},
    );
    expect(r.ok && r.settings.rules).toEqual(['x.json', 'y.json']);
    expect(r.ok && r.settings.dropLogs).toEqual(['/var/log/iptables.log']);
  });

  it('parses check-rules and replay positionals and format', () => {
    const c = parseSettings(['check-rules', 'a.json', 'dir/'], {});
    expect(c.ok && c.settings.command).toBe('check-rules');
    expect(c.ok && c.settings.paths).toEqual(['a.json', 'dir/']);
    const r = parseSettings(['replay', '--rules', 'r.json', '--format', 'syslog'], {});
    expect(r.ok && r.settings.format).toBe('syslog');
    expect(r.ok && r.settings.drops).toBe(false);
  });

  it('parses replay --drops (flag or env), only for replay and not with --format plain', () => {
    const d = parseSettings(['replay', '--drops', '--format', 'syslog', '--drop-prefix', 'x:=drop'], {});
    expect(d.ok && [d.settings.drops, d.settings.format, d.settings.dropPrefixes]).toEqual([
      true,
      'syslog',
      [{ template: 'x:', verdict: 'drop' }],
    ]);
    const e = parseSettings(['replay'], { NODEWARDEN_DROPS: 'true' });
    expect(e.ok && e.settings.drops).toBe(true);
    const bad = parseSettings(['run', '--drops'], {});
    expect(bad.ok ? [] : bad.errors).toEqual(['--drops: only for replay']);
    const plain = parseSettings(['replay', '--drops', '--format', 'plain'], {});
    expect(plain.ok ? [] : plain.errors).toEqual(['--format: replay --drops reads kmsg or syslog, not plain']);
  });

  it('parses IPv6 and wildcard metrics addresses', () => {
    const r = parseSettings(['--metrics-address', '[::1]:9100'], {});
    expect(r.ok && r.settings.metricsAddress).toEqual({ host: '::1', port: 9100 });
    const w = parseSettings([], { NODEWARDEN_METRICS_ADDRESS: '0.0.0.0:20257' });
    expect(w.ok && w.settings.metricsAddress).toEqual({ host: '0.0.0.0', port: 20257 });
  });

  it('reports every problem at once', () => {
    const r = parseSettings(
      ['frobnicate', '--heartbeat-period', 'soon', '--metrics-address', 'nope', '--format', 'xml'],
      {
        NODEWARDEN_DROP_MAX_AGE: '-5m',
      },
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(5);
    expect(r.errors.join('\n')).toMatch(/unknown command "frobnicate"/);
    expect(r.errors.join('\n')).toMatch(/--heartbeat-period/);
    expect(r.errors.join('\n')).toMatch(/--metrics-address: expected HOST:PORT/);
    expect(r.errors.join('\n')).toMatch(/--format/);
    expect(r.errors.join('\n')).toMatch(/--drop-max-age/);
  });

  it('rejects bad drop prefixes and a Node event namespace the API would refuse', () => {
    const r = parseSettings(['run', '--drop-prefix', 'calico-drop:=dorp', '--event-namespace', 'kube-system'], {});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.some((e) => e.startsWith('--drop-prefix: ') && e.includes('dorp'))).toBe(true);
    expect(!r.ok && r.errors.some((e) => e.startsWith('--event-namespace: '))).toBe(true);
    const ok = parseSettings(['run', '--drop-prefix', 'calico-drop:=drop', '--drop-prefix', 'my-audit:=audit'], {});
    expect(ok.ok && ok.settings.dropPrefixes).toEqual([
      { template: 'calico-drop:', verdict: 'drop' },
      { template: 'my-audit:', verdict: 'audit' },
    ]);
    // none given: the defaults, parsed
    const none = parseSettings(['run'], {});
    expect(none.ok && none.settings.dropPrefixes).toEqual(DEFAULT_DROP_PREFIXES);
  });

  it('rejects unknown flags', () => {
    const r = parseSettings(['run', '--rulez', 'x'], {});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]).toMatch(/rulez/);
  });

  it('documents every flag with its env name', () => {
    expect(envName('metrics-address')).toBe('NODEWARDEN_METRICS_ADDRESS');
    expect(usage()).toMatch(/--heartbeat-period/);
  });

  it('--help: no flag or command runs into its description, and descriptions share one column', () => {
    const lines = usage().split('\n');
    const flagLines = lines.filter((l) => /^ {2}--/.test(l));
    expect(flagLines.length).toBeGreaterThanOrEqual(19);
    const columns = new Set<number>();
    for (const l of flagLines) {
      // flag, optional VALUE/PATH (with ...), at least two spaces, then the description.
      const m = /^( {2}--[a-z-]+(?: (?:VALUE|PATH)(?:\.\.\.)?)?)( {2,})(\S.*)$/.exec(l);
      expect(m, `help line runs into its description: ${JSON.stringify(l)}`).not.toBeNull();
      columns.add(m![1]!.length + m![2]!.length);
    }
    expect(columns.size).toBe(1);
    // The regression the issue showed: a placeholder glued to the text after it.
    for (const l of lines) expect(l).not.toMatch(/(?:VALUE|PATH)(?:\.\.\.)?[^\s.]/);
    const column = [...columns][0]!;
    for (const cmd of ['run', 'check-rules PATH...']) {
      const l = lines.find((x) => x.startsWith(`  ${cmd} `))!;
      expect(l.slice(0, column).trimEnd()).toBe(`  ${cmd}`);
      expect(l[column]).toMatch(/\S/);
    }
  });
});
