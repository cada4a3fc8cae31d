// settings.ts: the agent's command line. Parses argv (node:util parseArgs) and NODEWARDEN_<FLAG>
// environment variables into one validated Settings object, and reports every problem at once.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DROP_PREFIXES, parseDropPrefixes, type DropPrefix } from '../engine/drop-prefixes';
import { parsePeerNaming, type PeerNaming } from '../drops';
import { parseDnsSetting, type DnsSetting } from '../reverse-dns';
import { parseDuration } from './duration';

export type Command = 'run' | 'check-rules' | 'replay' | 'help' | 'version';
export type ReplayFormat = 'kmsg' | 'syslog' | 'plain' | 'journal-export' | 'journal-json';

export interface Settings {
  readonly command: Command;
  readonly rules: readonly string[];
  readonly stateDir: string;
  readonly metricsAddress: { readonly host: string; readonly port: number };
  readonly kubeconfig?: string;
  readonly nodeName?: string;
  readonly heartbeatPeriodMs: number;
  readonly eventNamespace: string;
  readonly kmsgPath: string;
  /** Absolute paths. */
  readonly dropLogs: readonly string[];
  /** Parsed; DEFAULT_DROP_PREFIXES when no --drop-prefix is given. */
  readonly dropPrefixes: readonly DropPrefix[];
  readonly dropPeerName: PeerNaming;
  /** Name Services (ClusterIP peers, and pods a Service selects). */
  readonly dropPeerServices: boolean;
  /** Reverse DNS for peers nobody in the cluster owns. */
  readonly dropPeerDns: DnsSetting;
  readonly dropPeerDnsTimeoutMs: number;
  readonly dropMaxAgeMs: number;
  readonly dropFlushIntervalMs: number;
  readonly reloadIntervalMs: number;
  readonly stallTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: string;
  /** replay only */
  readonly format: ReplayFormat;
  /** replay only: packet-drop lines instead of rules (--drops). */
  readonly drops: boolean;
  /** check-rules: positional paths. */
  readonly paths: readonly string[];
}

interface FlagDef {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly help: string;
  readonly default?: string;
}

/** Every flag; each can also be set as NODEWARDEN_<FLAG> (dashes as underscores, lists comma-separated). */
export const FLAGS: Readonly<Record<string, FlagDef>> = {
  rules: {
    type: 'string',
    multiple: true,
    help: 'rule files or directories (NPD system-log-monitor format)',
    default: 'rules/',
  },
  'state-dir': {
    type: 'string',
    help: 'where read positions and owned condition types are kept',
    default: '/var/lib/nodewarden',
  },
  'metrics-address': {
    type: 'string',
    help: 'HOST:PORT for /metrics, /healthz and /conditions',
    default: '127.0.0.1:20257',
  },
  kubeconfig: {
    type: 'string',
    help: 'kubeconfig file (default: in-cluster config, then $KUBECONFIG, else standalone)',
  },
  'node-name': { type: 'string', help: 'this node (default: $NODE_NAME, then the hostname)' },
  'heartbeat-period': { type: 'string', help: 'how often conditions are re-sent (±10% jitter)', default: '5m' },
  'event-namespace': {
    type: 'string',
    help: 'namespace of the Events about the Node (the API accepts only "default")',
    default: 'default',
  },
  'kmsg-path': { type: 'string', help: 'kernel log device; empty disables it', default: '/dev/kmsg' },
  'drop-log': {
    type: 'string',
    multiple: true,
    help: 'rsyslog files with packet-drop lines, e.g. /var/log/iptables.log',
  },
  'drop-prefix': {
    type: 'string',
    multiple: true,
    help: "LOG prefix and its verdict, 'PREFIX=drop|audit' (default: Calico's)",
  },
  'drop-peer-name': {
    type: 'string',
    help: 'how a peer is named: namespace | pod | namespace/name | label:KEY',
    default: 'namespace',
  },
  'drop-peer-services': {
    type: 'string',
    help: 'name the Service of a ClusterIP peer, or of a pod a Service selects: true | false',
    default: 'true',
  },
  'drop-peer-dns': {
    type: 'string',
    help: 'reverse DNS for peers no pod or Service owns: off | system | IP[:PORT]',
    default: 'off',
  },
  'drop-peer-dns-timeout': { type: 'string', help: 'how long one reverse DNS query may take', default: '1s' },
  'drop-max-age': { type: 'string', help: 'drop lines older than this are not reported', default: '10m' },
  'drop-flush-interval': {
    type: 'string',
    help: 'how often aggregated drops become PacketDrop events',
    default: '10s',
  },
  'reload-interval': { type: 'string', help: 'how often rule files are checked for changes', default: '10s' },
  'stall-timeout': {
    type: 'string',
    help: '/healthz fails when a source has not polled for this long',
    default: '60s',
  },
  'shutdown-timeout': { type: 'string', help: 'how long SIGTERM waits for pending work', default: '5s' },
  'log-level': { type: 'string', help: 'trace | debug | info | warn | error', default: 'info' },
  format: {
    type: 'string',
    help: 'replay input: kmsg | syslog | plain | journal-export | journal-json (--drops: kmsg | syslog)',
    default: 'kmsg',
  },
  drops: { type: 'boolean', help: 'replay: print the packet drops a capture holds, one JSON object each' },
  help: { type: 'boolean', help: 'show this help' },
};

const COMMANDS: readonly Command[] = ['run', 'check-rules', 'replay', 'help', 'version'];

export function envName(flag: string): string {
  return `NODEWARDEN_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function usage(): string {
  const commands = [
    { left: '  run', right: 'watch /dev/kmsg and log files; publish to Kubernetes or run standalone (default)' },
    { left: '  check-rules PATH...', right: 'validate rule files; exit 2 listing every error' },
    {
      left: '  replay --rules PATH... [--format kmsg|syslog|plain|journal-export|journal-json] < capture',
      right: 'print the events and condition changes a capture would produce',
    },
    {
      left: '  replay --drops [--drop-prefix P...] [--format kmsg|syslog] [--kubeconfig FILE] < capture',
      right: 'print every packet drop in a capture (with pods, given a kubeconfig)',
    },
    {
      left: '  log-counter --journald-source=ID --log-path=DIR --lookback=D [--delay=D] --count=N --pattern=RE [--revert-pattern=RE]',
      right:
        "NPD's log-counter: exit 1 when the pattern occurred count times in the window, else 0 (also as a `log-counter` symlink)",
    },
  ];
  const flags = Object.entries(FLAGS).map(([name, def]) => {
    const arg = def.type === 'string' ? ` ${name === 'rules' || name === 'drop-log' ? 'PATH' : 'VALUE'}` : '';
    const dflt = def.default !== undefined ? ` (default ${JSON.stringify(def.default)})` : '';
    return { left: `  --${name}${arg}${def.multiple ? '...' : ''}`, right: `${def.help}${dflt}` };
  });
  // Descriptions start two spaces after the longest flag, so none runs into its text; a command
  // longer than that column gets its description on the next line.
  const column = Math.max(...flags.map((f) => f.left.length)) + 2;
  const row = (r: { left: string; right: string }): string =>
    r.left.length + 2 <= column ? r.left.padEnd(column) + r.right : `${r.left}\n${' '.repeat(column)}${r.right}`;
  return [
    'usage: nodewarden <command> [flags]',
    '',
    'commands:',
    ...commands.map(row),
    '',
    'flags (each also as NODEWARDEN_<FLAG>):',
    ...flags.map(row),
  ].join('\n');
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; errors: string[] };

/** Parses argv (without node and script) and env. Flags win over env, env over defaults. */
export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): SettingsResult {
  const errors: string[] = [];
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, def] of Object.entries(FLAGS)) {
    options[name] = def.multiple ? { type: def.type, multiple: true } : { type: def.type };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const positionals = [...parsed.positionals];

  let command: Command = 'run';
  let knownCommand = true;
  const first = positionals[0];
  if (first !== undefined) {
    if ((COMMANDS as readonly string[]).includes(first)) {
      command = first as Command;
      positionals.shift();
    } else {
      knownCommand = false;
      errors.push(`unknown command ${JSON.stringify(first)} (expected one of ${COMMANDS.join(', ')})`);
    }
  }
  if (values.help === true) command = 'help';
  if (command === 'run' && knownCommand && positionals.length > 0) {
    errors.push(`run takes no positional arguments, got ${JSON.stringify(positionals.join(' '))}`);
  }

  const str = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const e = env[envName(name)];
    if (e !== undefined) return e;
    return FLAGS[name]?.default;
  };
  const list = (name: string): string[] => {
    const v = values[name];
    if (Array.isArray(v) && v.length > 0)
      return v
        .flatMap((x) => x.split(','))
        .map((x) => x.trim())
        .filter((x) => x !== '');
    const e = env[envName(name)];
    if (e !== undefined)
      return e
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    const d = FLAGS[name]?.default;
    return d !== undefined ? [d] : [];
  };
  // Drop prefixes may contain commas inside policy names in theory; they are split on commas only
  // from the environment, where a list has no other spelling.
  const prefixList = (): string[] => {
    const v = values['drop-prefix'];
    if (Array.isArray(v) && v.length > 0) return v;
    const e = env[envName('drop-prefix')];
    return e !== undefined ? e.split(',').filter((x) => x.trim() !== '') : [];
  };
  const duration = (name: string, min = 1): number => {
    const raw = str(name) ?? '';
    const ms = parseDuration(raw);
    if (typeof ms === 'string') {
      errors.push(`--${name}: ${ms}`);
      return 0;
    }
    if (ms < min) errors.push(`--${name}: must be at least ${min} ms, got ${JSON.stringify(raw)}`);
    return ms;
  };

  const addr = str('metrics-address') ?? '';
  const m = /^(.*):(\d{1,5})$/.exec(addr);
  let metricsAddress = { host: '127.0.0.1', port: 20257 };
  if (!m || Number(m[2]) > 65535) errors.push(`--metrics-address: expected HOST:PORT, got ${JSON.stringify(addr)}`);
  else metricsAddress = { host: (m[1] ?? '').replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };

  const format = str('format') ?? 'kmsg';
  if (!['kmsg', 'syslog', 'plain', 'journal-export', 'journal-json'].includes(format)) {
    errors.push(
      `--format: expected kmsg, syslog, plain, journal-export or journal-json, got ${JSON.stringify(format)}`,
    );
  }
  const drops = values.drops === true || /^(1|true)$/i.test(env[envName('drops')] ?? '');
  if (drops && command !== 'replay') errors.push('--drops: only for replay');
  if (drops && ['plain', 'journal-export', 'journal-json'].includes(format))
    errors.push(`--format: replay --drops reads kmsg or syslog, not ${format}`);
  const logLevel = str('log-level') ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    errors.push(`--log-level: expected trace, debug, info, warn or error, got ${JSON.stringify(logLevel)}`);
  }
  const peer = str('drop-peer-name') ?? 'namespace';
  const peerNaming = parsePeerNaming(peer);
  if (peerNaming === null)
    errors.push(`--drop-peer-name: expected namespace, pod, namespace/name or label:KEY, got ${JSON.stringify(peer)}`);
  const services = str('drop-peer-services') ?? 'true';
  if (services !== 'true' && services !== 'false') {
    errors.push(`--drop-peer-services: expected true or false, got ${JSON.stringify(services)}`);
  }
  const dns = parseDnsSetting(str('drop-peer-dns') ?? 'off');
  if (typeof dns === 'string') errors.push(`--drop-peer-dns: ${dns}`);
  const prefixSpecs = prefixList();
  const parsedPrefixes = parseDropPrefixes(prefixSpecs);
  for (const e of parsedPrefixes.errors) errors.push(`--drop-prefix: ${e}`);
  const dropPrefixes = prefixSpecs.length > 0 ? parsedPrefixes.prefixes : DEFAULT_DROP_PREFIXES;
  const eventNamespace = str('event-namespace') ?? 'default';
  // A real API server accepts core/v1 Events about a cluster-scoped object (the Node) only in
  // "default" (legacy event validation); anything else would be refused on every post.
  if (eventNamespace !== 'default') {
    errors.push(
      `--event-namespace: the API server accepts Node events only in "default", got ${JSON.stringify(eventNamespace)}`,
    );
  }
  if (command === 'check-rules' && positionals.length === 0 && values.rules === undefined) {
    errors.push('check-rules: name at least one rule file or directory');
  }

  const kubeconfig = str('kubeconfig');
  const nodeName = str('node-name');
  const settings: Settings = {
    command,
    rules: list('rules'),
    stateDir: str('state-dir') ?? '/var/lib/nodewarden',
    metricsAddress,
    ...(kubeconfig !== undefined && kubeconfig !== '' ? { kubeconfig } : {}),
    ...(nodeName !== undefined && nodeName !== '' ? { nodeName } : {}),
    heartbeatPeriodMs: duration('heartbeat-period', 1000),
    eventNamespace,
    kmsgPath: str('kmsg-path') ?? '/dev/kmsg',
    dropLogs:
      values['drop-log'] !== undefined || env[envName('drop-log')] !== undefined
        ? list('drop-log').map((p) => resolve(p))
        : [],
    dropPrefixes,
    dropPeerName: peerNaming ?? 'namespace',
    dropPeerServices: services !== 'false',
    dropPeerDns: typeof dns === 'string' ? { kind: 'off' } : dns,
    dropPeerDnsTimeoutMs: duration('drop-peer-dns-timeout', 10),
    dropMaxAgeMs: duration('drop-max-age'),
    dropFlushIntervalMs: duration('drop-flush-interval', 100),
    reloadIntervalMs: duration('reload-interval', 100),
    stallTimeoutMs: duration('stall-timeout', 1000),
    shutdownTimeoutMs: duration('shutdown-timeout', 0),
    logLevel,
    format: format as ReplayFormat,
    drops,
    paths: positionals,
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, settings };
}
