// kubeconfig.test.ts: reading a kubeconfig (files relative to it, inline data, the fields kubectl
// reads), every problem listed with its field, the in-cluster config, credential files read again
// after FILE_REFRESH_MS (fake clock), and exec plugins: the ExecCredential contract, its cache
// until expiry, one run for concurrent requests, failures, and a real plugin process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FILE_REFRESH_MS,
  connection,
  inClusterConfig,
  loadKubeconfig,
  parseKubeconfig,
  type ExecConfig,
} from '../../agent/kube/kubeconfig';
import { classifyApiError } from '../../agent/kube/errors';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nodewarden-kc-'));
  dirs.push(d);
  return d;
}

const config = (cluster: string, user: string, extra = ''): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    'current-context: c',
    'contexts:',
    '- name: other',
    '  context: {cluster: nope, user: nope}',
    '- name: c',
    '  context:',
    '    cluster: k',
    '    user: u',
    'clusters:',
    '- name: k',
    '  cluster:',
    ...cluster.split('\n').map((l) => `    ${l}`),
    'users:',
    '- name: u',
    '  user:',
    ...user.split('\n').map((l) => `    ${l}`),
    extra,
  ].join('\n');

describe('parseKubeconfig', () => {
  it('reads the current context: CA and client certificate files relative to the kubeconfig, token, server name', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'ca.pem'), 'CA');
    writeFileSync(join(d, 'client.pem'), 'CERT');
    writeFileSync(join(d, 'client.key'), 'KEY');
    const file = join(d, 'kubeconfig');
    writeFileSync(
      file,
      config(
        'server: https://10.0.0.1:6443\ncertificate-authority: ca.pem\ntls-server-name: kubernetes',
        `client-certificate: client.pem\nclient-key: ${join(d, 'client.key')}\ntoken: t0k\nas: admin\nas-groups: [a, b]`,
      ),
    );
    const conn = loadKubeconfig(file);
    expect(conn.server).toBe('https://10.0.0.1:6443');
    const cred = await conn.credentials();
    expect(cred.tls).toEqual({
      ca: Buffer.from('CA'),
      cert: Buffer.from('CERT'),
      key: Buffer.from('KEY'),
      servername: 'kubernetes',
    });
    expect(cred.headers).toEqual({
      Authorization: 'Bearer t0k',
      'Impersonate-User': 'admin',
      'Impersonate-Group': ['a', 'b'],
    });
  });

  it('takes inline base64 data, insecure-skip-tls-verify, and basic auth', async () => {
    const r = parseKubeconfig(
      config(
        `server: https://api.example:443/prefix\ninsecure-skip-tls-verify: true`,
        `client-certificate-data: ${Buffer.from('C').toString('base64')}\nclient-key-data: ${Buffer.from('K').toString('base64')}\nusername: ann\npassword: pw`,
      ),
      '/x/kubeconfig',
    );
    const cred = await connection(r).credentials();
    expect(cred.tls).toEqual({ rejectUnauthorized: false, cert: Buffer.from('C'), key: Buffer.from('K') });
    expect(cred.headers).toEqual({ Authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}` });
  });

  it('lists every problem of the current context, with its field', () => {
    const text = config(
      'server: ftp://x\nproxy-url: http://proxy:3128',
      [
        'client-certificate: c.pem',
        'auth-provider: {name: gcp}',
        'as-groups: 7',
        'exec:',
        '  apiVersion: client.authentication.k8s.io/v1alpha1',
        '  command: get-token',
        '  env: [{name: A}]',
      ].join('\n'),
    );
    let msg = '';
    try {
      parseKubeconfig(text, '/x/kubeconfig');
    } catch (e) {
      msg = (e as Error).message;
    }
    for (const want of [
      'clusters[0].cluster.server: not an http(s) URL: ftp://x',
      'clusters[0].cluster.proxy-url: not supported',
      'users[0].user.auth-provider: not supported (use exec)',
      'users[0].user: client-certificate and client-key go together',
      'users[0].user.as-groups: not a list of strings',
      'users[0].user.exec.apiVersion: want client.authentication.k8s.io/v1 or v1beta1, got "client.authentication.k8s.io/v1alpha1"',
      'users[0].user.exec.env[0]: want name and value strings',
    ]) {
      expect(msg).toContain(want);
    }
  });

  it('names a missing or unknown current-context, cluster and user', () => {
    expect(() => parseKubeconfig('apiVersion: v1\nkind: Config\n', 'f')).toThrow('current-context: missing');
    expect(() => parseKubeconfig('current-context: x\ncontexts: []\n', 'f')).toThrow(
      'current-context: "x" is not in contexts',
    );
    const noCluster = 'current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n';
    expect(() => parseKubeconfig(noCluster, 'f')).toThrow('contexts[0].context.cluster: "k" is not in clusters');
    expect(() => parseKubeconfig(`${noCluster}clusters: [{name: k, cluster: {server: "https://a"}}]\n`, 'f')).toThrow(
      'contexts[0].context.user: "u" is not in users',
    );
    expect(() => parseKubeconfig('{{{', 'f')).toThrow(/not YAML/);
  });
});

describe('in-cluster', () => {
  it('uses KUBERNETES_SERVICE_HOST/PORT (IPv6 in brackets) and the service account CA and token', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'ca.crt'), 'CA');
    writeFileSync(join(d, 'token'), 'sa-token\n');
    const r = inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, d);
    expect(r.server).toBe('https://[fd00::1]:6443');
    const cred = await connection(r).credentials();
    expect(cred).toEqual({ headers: { Authorization: 'Bearer sa-token' }, tls: { ca: Buffer.from('CA') } });
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, d).server).toBe('https://10.96.0.1:443');
    expect(() => inClusterConfig({}, d)).toThrow('KUBERNETES_SERVICE_HOST is not set');
  });

  it('reads a rotated token again after FILE_REFRESH_MS, not before', async () => {
    let now = 1_000_000;
    let token = 'one';
    let reads = 0;
    const conn = connection(inClusterConfig({ KUBERNETES_SERVICE_HOST: 'h' }, '/sa'), {
      now: () => now,
      readFile: (p) => {
        reads++;
        return Buffer.from(p.endsWith('token') ? token : 'CA');
      },
    });
    expect((await conn.credentials()).headers.Authorization).toBe('Bearer one');
    token = 'two';
    now += FILE_REFRESH_MS - 1;
    expect((await conn.credentials()).headers.Authorization).toBe('Bearer one');
    expect(reads).toBe(2);
    now += 1;
    expect((await conn.credentials()).headers.Authorization).toBe('Bearer two');
    expect(reads).toBe(4);
  });
});

describe('exec plugins', () => {
  const execUser =
    'exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: get-token\n  args: [--x]\n  env: [{name: FOO, value: bar}]';

  it('runs the plugin with KUBERNETES_EXEC_INFO and its env, and keeps the credential until shortly before it expires', async () => {
    let now = Date.parse('2026-03-01T10:00:00Z');
    const runs: { exec: ExecConfig; env: NodeJS.ProcessEnv }[] = [];
    const conn = connection(parseKubeconfig(config('server: https://a', execUser), '/etc/kc/config'), {
      now: () => now,
      env: { PATH: '/bin' },
      runExec: async (exec, env) => {
        runs.push({ exec, env });
        return JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1',
          kind: 'ExecCredential',
          status: { token: `tok-${runs.length}`, expirationTimestamp: '2026-03-01T10:05:00Z' },
        });
      },
    });
    const [a, b] = await Promise.all([conn.credentials(), conn.credentials()]);
    expect(a.headers.Authorization).toBe('Bearer tok-1');
    expect(b.headers.Authorization).toBe('Bearer tok-1');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.exec).toMatchObject({ command: 'get-token', args: ['--x'] });
    expect(runs[0]!.env).toMatchObject({ PATH: '/bin', FOO: 'bar' });
    expect(JSON.parse(runs[0]!.env.KUBERNETES_EXEC_INFO!)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
    now = Date.parse('2026-03-01T10:04:49Z');
    expect((await conn.credentials()).headers.Authorization).toBe('Bearer tok-1');
    now = Date.parse('2026-03-01T10:04:51Z');
    expect((await conn.credentials()).headers.Authorization).toBe('Bearer tok-2');
  });

  it('takes a client certificate from the plugin', async () => {
    const conn = connection(parseKubeconfig(config('server: https://a', execUser), 'f'), {
      runExec: async () =>
        JSON.stringify({ kind: 'ExecCredential', status: { clientCertificateData: 'PEM-C', clientKeyData: 'PEM-K' } }),
    });
    expect((await conn.credentials()).tls).toEqual({ cert: Buffer.from('PEM-C'), key: Buffer.from('PEM-K') });
  });

  it('fails a request, and runs the plugin again next time, when its output is not a credential', async () => {
    const outputs = [
      'not json',
      '{"kind":"ExecCredential","status":{}}',
      '{"kind":"ExecCredential","status":{"token":"ok"}}',
    ];
    const conn = connection(parseKubeconfig(config('server: https://a', execUser), 'f'), {
      runExec: async () => outputs.shift()!,
    });
    await expect(conn.credentials()).rejects.toThrow('exec plugin get-token: output is not JSON');
    await expect(conn.credentials()).rejects.toThrow(/neither a token nor a client certificate/);
    expect((await conn.credentials()).headers.Authorization).toBe('Bearer ok');
  });

  it('runs a real plugin process without a shell; a failing one rejects with its stderr', async () => {
    const d = tempDir();
    const ok = join(d, 'ok.cjs');
    writeFileSync(
      ok,
      'const i = JSON.parse(process.env.KUBERNETES_EXEC_INFO);' +
        'process.stdout.write(JSON.stringify({kind: "ExecCredential", status: {token: i.kind + "-" + process.argv[2] + "-" + process.env.FOO}}));',
    );
    const bad = join(d, 'bad.cjs');
    writeFileSync(bad, 'process.stderr.write("no credentials here"); process.exit(3);');
    const kc = (script: string): string =>
      config(
        'server: https://a',
        `exec:\n  apiVersion: client.authentication.k8s.io/v1beta1\n  command: ${process.execPath}\n  args: [${script}, "$(id)"]\n  env: [{name: FOO, value: bar}]`,
      );
    const good = connection(parseKubeconfig(kc(ok), join(d, 'config')));
    expect((await good.credentials()).headers.Authorization).toBe('Bearer ExecCredential-$(id)-bar');
    const failing = connection(parseKubeconfig(kc(bad), join(d, 'config')));
    const err = await failing.credentials().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/no credentials here/);
    // A failed plugin fails the request as retryable: the write is kept and tried again.
    expect(classifyApiError(err)).toMatchObject({ retryable: true });
  });
});
