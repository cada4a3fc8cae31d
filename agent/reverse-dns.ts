// reverse-dns.ts: names an address that no pod, node or Service owns by its PTR record
// (`--drop-peer-dns`, off by default). kube-iptables-tailer does this for every unknown IP with
// no timeout and no cache (its #20 asks for control). Here:
//   - the resolver is the system's (the servers in /etc/resolv.conf; Node's c-ares resolver, so
//     /etc/hosts is not consulted) or one server given as IP[:PORT];
//   - the query is a PTR query for the in-addr.arpa / ip6.arpa name (resolvePtr). Not
//     Resolver#reverse: c-ares' gethostbyaddr turns a timeout or SERVFAIL into ENOTFOUND after
//     falling back to the hosts file, so they could not be told apart;
//   - each query gets one try and at most `timeoutMs`: a race on the injected clock cancels it
//     (c-ares' own `timeout`, set to the same value, was measured to end a query at about twice
//     that). Each query has its own c-ares channel, so cancelling one leaves the others alone
//     and no more than `maxInFlight` queries are ever outstanding;
//   - answers are cached in a state/peer-cache.ts LRU: names for 5 min, "no name" for 1 min,
//     failures and timeouts for 30 s, so a dead server is asked at most once per address per 30 s;
//   - at most 2 queries in flight and 64 waiting; beyond that the address stays unnamed (shed);
//   - the name is untrusted: it is used only if it looks like a host name (letters, digits,
//     `-`, `_`, `.`, at most 253 characters); the trailing dot is dropped.
import { isIP } from 'node:net';
import { raceDeadline } from './runtime/deadline';
import { LookupCache, type LookupCacheOptions } from './runtime/lookup-cache';
import type { Clock } from './types';

/** `--drop-peer-dns`: off, the system's resolver, or one server ("1.2.3.4:53", "[::1]:53"). */
export type DnsSetting =
  { readonly kind: 'off' } | { readonly kind: 'system' } | { readonly kind: 'server'; readonly server: string };

/** Parses off | system | IP | IP:PORT | [IPv6]:PORT; a string is the error. */
export function parseDnsSetting(s: string): DnsSetting | string {
  if (s === 'off' || s === '') return { kind: 'off' };
  if (s === 'system') return { kind: 'system' };
  const bad = `expected off, system, or a server's IP address with an optional port (1.2.3.4:53, [::1]:53), got ${JSON.stringify(s)}`;
  let host = s;
  let port = '53';
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const v4 = /^([^:]+):(\d{1,5})$/.exec(s);
  if (v6) [host, port] = [v6[1]!, v6[2] ?? '53'];
  else if (v4) [host, port] = [v4[1]!, v4[2]!];
  const family = isIP(host);
  if (family === 0 || (v6 && family !== 6) || Number(port) < 1 || Number(port) > 65535) return bad;
  return { kind: 'server', server: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** What one query needs (node:dns/promises Resolver); tests may pass their own. */
export interface PtrResolver {
  resolvePtr(name: string): Promise<string[]>;
  /** Abandons the outstanding query (it then rejects with ECANCELLED). */
  cancel(): void;
}

/** The 8 groups of an IPv6 address as 4 hex digits each, or null. */
function ipv6Groups(ip: string): string[] | null {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text =
      text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return null;
  return [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => g.padStart(4, '0'));
}

/** The PTR query name of an address: 4.3.2.1.in-addr.arpa, or 32 nibbles under ip6.arpa. */
export function ptrName(ip: string): string | null {
  const family = isIP(ip);
  if (family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) return null;
  const groups = ipv6Groups(ip);
  return groups === null ? null : `${[...groups.join('')].reverse().join('.')}.ip6.arpa`;
}

export interface ReverseDnsOptions {
  readonly clock: Clock;
  readonly setting: Exclude<DnsSetting, { kind: 'off' }>;
  /** One try of this long per query (default 1 s). */
  readonly timeoutMs?: number;
  readonly cache?: Omit<LookupCacheOptions<string>, 'clock' | 'lookup'>;
  /** Makes the resolver for one query. Default: a node:dns Resolver for `setting`. */
  readonly resolver?: () => PtrResolver;
}

export interface ReverseDnsStats {
  /** Queries sent. */
  readonly lookups: number;
  /** Answered from the cache: a name, or a cached "no name". */
  readonly hits: number;
  readonly negativeHits: number;
  /** Addresses left unnamed because too many queries were in flight or waiting. */
  readonly shed: number;
  /** Queries answered with a usable name. */
  names: number;
  /** NXDOMAIN, no PTR record, or only names that do not look like host names. */
  notFound: number;
  timeouts: number;
  /** Any other error (refused, server failure, ...). */
  failures: number;
}

const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$/;

/** A PTR answer as a host name, or null when it does not look like one. */
export function cleanHostName(raw: string): string | null {
  const name = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  return HOST_NAME.test(name) ? name : null;
}

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);

class DnsTimeout extends Error {}

export class ReverseDns {
  readonly stats: ReverseDnsStats;
  private readonly cache: LookupCache<string>;
  private readonly resolver: () => PtrResolver;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ReverseDnsOptions) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.resolver = opts.resolver ?? (() => ReverseDns.nodeResolver(opts.setting, this.timeoutMs));
    this.cache = new LookupCache<string>({
      maxEntries: 1024,
      ttlMs: 300_000,
      negativeTtlMs: 60_000,
      errorTtlMs: 30_000,
      maxInFlight: 2,
      maxQueued: 64,
      ...opts.cache,
      clock: opts.clock,
      lookup: (ip) => this.query(ip),
    });
    const c = this.cache.stats;
    const own = { names: 0, notFound: 0, timeouts: 0, failures: 0 };
    // One object for metrics: the cache's counters read through, our own stored.
    this.stats = Object.defineProperties(own, {
      lookups: { get: () => c.lookups, enumerable: true },
      hits: { get: () => c.hits, enumerable: true },
      negativeHits: { get: () => c.negativeHits, enumerable: true },
      shed: { get: () => c.shed, enumerable: true },
    }) as ReverseDnsStats;
  }

  /** A Resolver that asks only the configured servers (the system's: /etc/resolv.conf), one try. */
  static nodeResolver(setting: ReverseDnsOptions['setting'], timeoutMs: number): PtrResolver {
    // node:dns/promises is loaded on first use, not at start (README, Memory cuts: built-ins): the option is off by default.
    const { Resolver } = process.getBuiltinModule('node:dns/promises');
    const r = new Resolver({ timeout: timeoutMs, tries: 1 });
    if (setting.kind === 'server') r.setServers([setting.server]);
    return r;
  }

  /** The host name of `ip`, or null (no record, error, timeout, shed). Never rejects. */
  name(ip: string): Promise<string | null> {
    return this.cache.get(ip);
  }

  private async query(ip: string): Promise<string | null> {
    const name = ptrName(ip);
    if (name === null) {
      this.stats.notFound++;
      return null;
    }
    let answer: string[] = [];
    const resolver = this.resolver();
    try {
      const work = resolver.resolvePtr(name).then((names) => {
        answer = names;
      });
      if (!(await raceDeadline(this.opts.clock, work, this.opts.clock.now() + this.timeoutMs))) {
        work.catch(() => {}); // ECANCELLED, below
        resolver.cancel();
        throw new DnsTimeout();
      }
    } catch (err) {
      const code = err instanceof DnsTimeout ? 'ETIMEOUT' : String((err as { code?: unknown }).code ?? '');
      if (NOT_FOUND.has(code)) {
        this.stats.notFound++;
        return null;
      }
      if (code === 'ETIMEOUT') this.stats.timeouts++;
      else this.stats.failures++;
      throw err;
    }
    for (const raw of answer) {
      const host = cleanHostName(raw);
      if (host !== null) {
        this.stats.names++;
        return host;
      }
    }
    this.stats.notFound++;
    return null;
  }
}
