// daemonset.test.ts: the DaemonSet's operational contract: privileges, host mounts, node name,
// resources, probes, tolerations, priority, rollout, metrics port and annotations.
import { describe, expect, it } from 'vitest';
import { FLAGS, envName, parseSettings } from '../../agent/config/settings';
import { findOne, loadAll } from './load-manifests';

const { base } = loadAll();
const ds = findOne(base, 'DaemonSet') as any;
const pod = ds.spec.template.spec;
const container = pod.containers[0];
const env = (name: string): any => container.env.find((e: any) => e.name === name);
const mount = (path: string): any => container.volumeMounts.find((m: any) => m.mountPath === path);
const volume = (name: string): any => pod.volumes.find((v: any) => v.name === name);

describe('DaemonSet', () => {
  it('runs one privileged container from the placeholder image, command run', () => {
    expect(pod.containers).toHaveLength(1);
    expect(container.image).toBe('ghcr.io/nodewarden/nodewarden:0.1.0');
    expect(container.args).toEqual(['run']);
    expect(container.securityContext.privileged).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.hostNetwork).toBe(false);
    expect(pod.hostPID).toBeUndefined();
  });

  it('mounts /dev/kmsg and /var/log read-only from the host, and the state dir read-write', () => {
    const kmsg = mount('/dev/kmsg');
    expect(kmsg.readOnly).toBe(true);
    expect(volume(kmsg.name).hostPath).toEqual({ path: '/dev/kmsg', type: 'CharDevice' });
    const varlog = mount('/var/log');
    expect(varlog.readOnly).toBe(true);
    expect(volume(varlog.name).hostPath).toEqual({ path: '/var/log', type: 'Directory' });
    // The journals: persistent under /var/log, volatile in /run/log/journal (NPD #121).
    const volatile = mount('/run/log/journal');
    expect(volatile.readOnly).toBe(true);
    expect(volume(volatile.name).hostPath).toEqual({ path: '/run/log/journal', type: 'DirectoryOrCreate' });
    const state = mount('/var/lib/nodewarden');
    expect(state.readOnly).toBeUndefined();
    expect(volume(state.name).hostPath).toEqual({ path: '/var/lib/nodewarden', type: 'DirectoryOrCreate' });
    expect(env('NODEWARDEN_STATE_DIR').value).toBe('/var/lib/nodewarden');
    // Every mount but the state dir is read-only: the root filesystem is too.
    for (const m of container.volumeMounts) if (m.mountPath !== '/var/lib/nodewarden') expect(m.readOnly, m.mountPath).toBe(true);
  });

  it('takes NODE_NAME from the downward API', () => {
    expect(env('NODE_NAME').valueFrom).toEqual({ fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } });
  });

  it('requests 20m/48Mi and is limited to 200m/100Mi', () => {
    expect(container.resources).toEqual({ requests: { cpu: '20m', memory: '48Mi' }, limits: { cpu: '200m', memory: '100Mi' } });
  });

  it('probes /healthz on the metrics port, which the agent binds on the pod IP', () => {
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(1);
      expect(probe.failureThreshold).toBeGreaterThanOrEqual(3);
    }
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 20257, protocol: 'TCP' }]);
    expect(env('NODEWARDEN_METRICS_ADDRESS').value).toBe('0.0.0.0:20257');
  });

  it('carries the prometheus.io scrape annotations for the same port', () => {
    expect(ds.spec.template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(container.ports[0].containerPort),
      'prometheus.io/path': '/metrics',
    });
  });

  it('tolerates every taint, is system-node-critical, and rolls out 10% at a time', () => {
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
  });

  it('mounts the service account token and gives SIGTERM time to flush (5 s)', () => {
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(5);
  });

  it('runs in kube-system, where system-node-critical is admitted and privileged pods are allowed', () => {
    // GKE and other distributions limit the critical priority classes to kube-system with a
    // ResourceQuota admission configuration; Pod Security Admission exempts kube-system on
    // standard clusters. node-problem-detector runs there too.
    expect(ds.metadata.namespace).toBe('kube-system');
    expect(base.filter((d) => d.object.kind === 'Namespace')).toEqual([]);
  });

  it('the agent accepts the DaemonSet command and environment, and they agree with the mounts and port', () => {
    const known = new Set(Object.keys(FLAGS).map(envName));
    const ours = container.env.filter((e: any) => e.name.startsWith('NODEWARDEN_'));
    for (const e of ours) expect(known.has(e.name), e.name).toBe(true);
    const podEnv: Record<string, string> = { NODE_NAME: 'node-a' };
    for (const e of ours) podEnv[e.name] = e.value;
    const parsed = parseSettings(container.args, podEnv);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const s = parsed.settings;
    expect(s.command).toBe('run');
    expect(s.rules).toEqual([mount('/etc/nodewarden/rules').mountPath]);
    expect(s.stateDir).toBe(mount('/var/lib/nodewarden').mountPath);
    expect(s.kmsgPath).toBe(mount('/dev/kmsg').mountPath);
    expect(s.metricsAddress).toEqual({ host: '0.0.0.0', port: container.ports[0].containerPort });
    for (const log of s.dropLogs) expect(log.startsWith('/var/log/'), log).toBe(true);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(s.shutdownTimeoutMs);
    expect(s.stallTimeoutMs).toBeGreaterThan(0);
  });
});
