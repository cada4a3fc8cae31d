// kube/kubeconfig.ts: where the API server is and how to authenticate to it, from a kubeconfig
// file or the in-cluster service account. It reads what kubectl reads for a cluster and a user:
//   cluster: server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name;
//   user: token, tokenFile, client-certificate(-data), client-key(-data), username/password,
//         as / as-groups (impersonation), exec (client.authentication.k8s.io ExecCredential).
// Not supported, and refused at load with the field named: auth-provider (gcp, azure, oidc;
// removed from kubectl, use exec), proxy-url. Every problem in the chosen context is listed.
// Files (CA, token, client certificate and key) are read again at most every FILE_REFRESH_MS, so
// a rotated service-account token or kubelet-style client certificate is picked up without a
// restart. An exec plugin runs without a shell, with a timeout and a bounded output, and its
// credential is kept until its expirationTimestamp (or for the process's life without one).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type * as JsYaml from 'js-yaml';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Credential files are read again after this long. */
export const FILE_REFRESH_MS = 60_000;
/** An exec plugin gets this long, and this much stdout. */
const EXEC_TIMEOUT_MS = 30_000;
const EXEC_MAX_OUTPUT = 1024 * 1024;
/** An exec credential is renewed this long before it expires. */
const EXEC_RENEW_BEFORE_MS = 10_000;
const readFileFromDisk = (path: string): Buffer => readFileSync(path);

/** TLS settings for the connection (an agent is kept while they hold: shared-agent.ts). */
export interface TlsSettings {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface Credentials {
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly tls: TlsSettings;
}

export interface KubeConnection {
  /** The server URL (https://host:port, possibly with a path prefix). */
  readonly server: string;
  /** Headers and TLS for the next request. Rejects when an exec plugin fails. */
  credentials(): Promise<Credentials>;
}

export interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** Where a value comes from: inline data (base64 in a kubeconfig), or a file read now and then. */
type Source = { readonly data: Buffer } | { readonly file: string };

interface Resolved {
  readonly server: string;
  readonly ca?: Source;
  readonly insecure: boolean;
  readonly servername?: string;
  readonly token?: Source;
  readonly cert?: Source;
  readonly key?: Source;
  readonly basic?: string;
  readonly impersonate?: string;
  readonly impersonateGroups?: readonly string[];
  readonly exec?: ExecConfig;
}

export interface ConnectionPorts {
  readonly now?: () => number;
  readonly readFile?: (path: string) => Buffer;
  /** Runs an exec plugin: resolves with its stdout. */
  readonly runExec?: (exec: ExecConfig, env: NodeJS.ProcessEnv) => Promise<string>;
  readonly env?: NodeJS.ProcessEnv;
}

type Obj = Record<string, unknown>;

let yaml: typeof JsYaml | undefined;

/**
 * js-yaml's load, the module required on first use: the DaemonSet's in-cluster config never
 * parses YAML, and a loaded js-yaml costs its RSS on every node (README, Performance).
 */
function parseYaml(text: string): unknown {
  // esbuild bundles this require and runs the module only when it is first called.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  yaml ??= require('js-yaml') as typeof JsYaml;
  return yaml.load(text);
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Parses a kubeconfig's text; throws one Error listing every problem of its current context. */
export function parseKubeconfig(text: string, path: string): Resolved {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isObj(doc)) throw new Error('not a kubeconfig (no mapping at the top)');
  const problems: string[] = [];
  const base = dirname(path);
  const ctxName = doc['current-context'];
  if (typeof ctxName !== 'string' || ctxName === '') throw new Error('current-context: missing');
  const find = (list: string, name: unknown): { index: number; value: Obj } | undefined => {
    const items = Array.isArray(doc[list]) ? (doc[list] as unknown[]) : [];
    const index = items.findIndex((x) => isObj(x) && x.name === name);
    return index < 0 ? undefined : { index, value: items[index] as Obj };
  };
  const ctx = find('contexts', ctxName);
  if (ctx === undefined) throw new Error(`current-context: "${ctxName}" is not in contexts`);
  const c = isObj(ctx.value.context) ? ctx.value.context : {};
  const cl = find('clusters', c.cluster);
  if (cl === undefined)
    throw new Error(`contexts[${ctx.index}].context.cluster: "${String(c.cluster)}" is not in clusters`);
  const cluster = isObj(cl.value.cluster) ? cl.value.cluster : {};
  const cp = `clusters[${cl.index}].cluster`;
  const str = (o: Obj, k: string, at: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push(`${at}.${k}: not a string`);
      return undefined;
    }
    return v;
  };
  const source = (o: Obj, at: string, fileKey: string, dataKey: string): Source | undefined => {
    const data = str(o, dataKey, at);
    if (data !== undefined) return { data: Buffer.from(data, 'base64') };
    const file = str(o, fileKey, at);
    return file === undefined ? undefined : { file: isAbsolute(file) ? file : join(base, file) };
  };
  const server = str(cluster, 'server', cp);
  if (server === undefined) problems.push(`${cp}.server: missing`);
  else if (!/^https?:\/\/[^/]/.test(server)) problems.push(`${cp}.server: not an http(s) URL: ${server}`);
  if (str(cluster, 'proxy-url', cp) !== undefined) problems.push(`${cp}.proxy-url: not supported`);
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const ca = source(cluster, cp, 'certificate-authority', 'certificate-authority-data');
  const servername = str(cluster, 'tls-server-name', cp);

  let user: Obj = {};
  let up = 'user';
  if (c.user !== undefined && c.user !== '') {
    const u = find('users', c.user);
    if (u === undefined) problems.push(`contexts[${ctx.index}].context.user: "${String(c.user)}" is not in users`);
    else {
      user = isObj(u.value.user) ? u.value.user : {};
      up = `users[${u.index}].user`;
    }
  }
  if (user['auth-provider'] !== undefined) problems.push(`${up}.auth-provider: not supported (use exec)`);
  const tokenText = str(user, 'token', up);
  const tokenFile = str(user, 'tokenFile', up);
  const token: Source | undefined =
    tokenText !== undefined
      ? { data: Buffer.from(tokenText) }
      : tokenFile !== undefined
        ? { file: isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile) }
        : undefined;
  const cert = source(user, up, 'client-certificate', 'client-certificate-data');
  const key = source(user, up, 'client-key', 'client-key-data');
  if ((cert === undefined) !== (key === undefined))
    problems.push(`${up}: client-certificate and client-key go together`);
  const username = str(user, 'username', up);
  const password = str(user, 'password', up);
  const impersonate = str(user, 'as', up);
  const groups = user['as-groups'];
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    problems.push(`${up}.as-groups: not a list of strings`);
  }
  let exec: ExecConfig | undefined;
  if (user.exec !== undefined) {
    const e = isObj(user.exec) ? user.exec : {};
    const ep = `${up}.exec`;
    const command = str(e, 'command', ep);
    const apiVersion = str(e, 'apiVersion', ep) ?? '';
    if (command === undefined) problems.push(`${ep}.command: missing`);
    if (!/^client\.authentication\.k8s\.io\/(v1|v1beta1)$/.test(apiVersion)) {
      problems.push(`${ep}.apiVersion: want client.authentication.k8s.io/v1 or v1beta1, got "${apiVersion}"`);
    }
    const args = e.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
      problems.push(`${ep}.args: not a list of strings`);
    const env: Record<string, string> = {};
    const envList = e.env ?? [];
    if (!Array.isArray(envList)) problems.push(`${ep}.env: not a list`);
    else
      envList.forEach((kv, i) => {
        if (isObj(kv) && typeof kv.name === 'string' && typeof kv.value === 'string') env[kv.name] = kv.value;
        else problems.push(`${ep}.env[${i}]: want name and value strings`);
      });
    if (command !== undefined) {
      // A relative command with a slash runs from the kubeconfig's directory, as kubectl does.
      const cmd = !isAbsolute(command) && command.includes('/') ? join(base, command) : command;
      exec = { apiVersion, command: cmd, args: Array.isArray(args) ? (args as string[]) : [], env };
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return {
    server: server!,
    insecure,
    ...(ca !== undefined ? { ca } : {}),
    ...(servername !== undefined ? { servername } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    ...(username !== undefined ? { basic: `${username}:${password ?? ''}` } : {}),
    ...(impersonate !== undefined ? { impersonate } : {}),
    ...(Array.isArray(groups) && groups.length > 0 ? { impersonateGroups: groups as string[] } : {}),
    ...(exec !== undefined ? { exec } : {}),
  };
}

/** The in-cluster config: KUBERNETES_SERVICE_HOST/PORT, the service account's CA and token. */
export function inClusterConfig(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): Resolved {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set');
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${h}:${port}`,
    insecure: false,
    ca: { file: join(dir, 'ca.crt') },
    token: { file: join(dir, 'token') },
  };
}

function defaultRunExec(exec: ExecConfig, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    // node:child_process is loaded on first use, not at start (README, Memory cuts: built-ins).
    process
      .getBuiltinModule('node:child_process')
      .execFile(
        exec.command,
        [...exec.args],
        { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: EXEC_MAX_OUTPUT, shell: false, windowsHide: true },
        (err, stdout, stderr) => {
          if (err) {
            const why = String(stderr).trim().slice(0, 512);
            reject(execError(exec, `${err.message.split('\n')[0]}${why ? `: ${why}` : ''}`));
          } else resolve(String(stdout));
        },
      );
  });
}

/** An exec plugin's failure: `code` makes it a retryable failure of the request (errors.ts). */
function execError(exec: ExecConfig, what: string): Error {
  return Object.assign(new Error(`exec plugin ${exec.command}: ${what}`), { code: 'EEXECPLUGIN' });
}

interface ExecCredential {
  readonly token?: string;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Epoch ms; undefined: never. */
  readonly expires?: number;
}

function parseExecCredential(out: string, exec: ExecConfig): ExecCredential {
  let doc: unknown;
  try {
    doc = JSON.parse(out);
  } catch {
    throw execError(exec, 'output is not JSON');
  }
  const status = isObj(doc) && isObj(doc.status) ? doc.status : undefined;
  if (!isObj(doc) || doc.kind !== 'ExecCredential' || status === undefined) {
    throw execError(exec, 'output is not an ExecCredential with a status');
  }
  const token = typeof status.token === 'string' && status.token !== '' ? status.token : undefined;
  const certText = typeof status.clientCertificateData === 'string' ? status.clientCertificateData : undefined;
  const keyText = typeof status.clientKeyData === 'string' ? status.clientKeyData : undefined;
  if (token === undefined && (certText === undefined || keyText === undefined)) {
    throw execError(exec, 'ExecCredential has neither a token nor a client certificate and key');
  }
  const exp = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : NaN;
  return {
    ...(token !== undefined ? { token } : {}),
    ...(certText !== undefined && keyText !== undefined
      ? { cert: Buffer.from(certText), key: Buffer.from(keyText) }
      : {}),
    ...(Number.isNaN(exp) ? {} : { expires: exp }),
  };
}

/** A connection from a resolved config: credentials() re-reads files and runs exec as needed. */
export function connection(r: Resolved, ports: ConnectionPorts = {}): KubeConnection {
  const now = ports.now ?? Date.now;
  const readFile = ports.readFile ?? readFileFromDisk;
  const runExec = ports.runExec ?? defaultRunExec;
  const env = ports.env ?? process.env;
  const files = new Map<string, { at: number; data: Buffer }>();
  const read = (s: Source | undefined): Buffer | undefined => {
    if (s === undefined) return undefined;
    if ('data' in s) return s.data;
    const hit = files.get(s.file);
    if (hit !== undefined && now() - hit.at < FILE_REFRESH_MS) return hit.data;
    const data = readFile(s.file);
    files.set(s.file, { at: now(), data });
    return data;
  };
  let cred: ExecCredential | undefined;
  let running: Promise<ExecCredential> | undefined;
  const execCredential = async (exec: ExecConfig): Promise<ExecCredential> => {
    if (cred !== undefined && (cred.expires === undefined || now() < cred.expires - EXEC_RENEW_BEFORE_MS)) return cred;
    running ??= (async () => {
      const info = {
        apiVersion: exec.apiVersion,
        kind: 'ExecCredential',
        spec: { interactive: false },
      };
      const out = await runExec(exec, { ...env, ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) });
      return parseExecCredential(out, exec);
    })().finally(() => {
      running = undefined;
    });
    cred = await running;
    return cred;
  };
  return {
    server: r.server,
    async credentials(): Promise<Credentials> {
      const headers: Record<string, string | string[]> = {};
      const tls: TlsSettings = {};
      if (r.insecure) tls.rejectUnauthorized = false;
      else {
        const ca = read(r.ca);
        if (ca !== undefined) tls.ca = ca;
      }
      if (r.servername !== undefined) tls.servername = r.servername;
      const cert = read(r.cert);
      const key = read(r.key);
      if (cert !== undefined && key !== undefined) {
        tls.cert = cert;
        tls.key = key;
      }
      const token = read(r.token)?.toString('utf8').trim();
      if (token) headers.Authorization = `Bearer ${token}`;
      else if (r.basic !== undefined) headers.Authorization = `Basic ${Buffer.from(r.basic).toString('base64')}`;
      if (r.exec !== undefined && !token) {
        const e = await execCredential(r.exec);
        if (e.token !== undefined) headers.Authorization = `Bearer ${e.token}`;
        if (e.cert !== undefined && e.key !== undefined) {
          tls.cert = e.cert;
          tls.key = e.key;
        }
      }
      if (r.impersonate !== undefined) headers['Impersonate-User'] = r.impersonate;
      if (r.impersonateGroups !== undefined) headers['Impersonate-Group'] = [...r.impersonateGroups];
      return { headers, tls };
    },
  };
}

/** Loads a kubeconfig file. Throws one Error naming the file and every problem. */
export function loadKubeconfig(path: string, ports: ConnectionPorts = {}): KubeConnection {
  const text = (ports.readFile ?? readFileFromDisk)(path).toString('utf8');
  return connection(parseKubeconfig(text, path), ports);
}
