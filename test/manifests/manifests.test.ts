// manifests.test.ts: every manifest is valid against the Kubernetes schemas, `kubectl apply -f
// manifests/` and `kubectl apply -k manifests/` see the same objects in a workable order, every
// namespaced object goes into the existing kube-system namespace (so a server-side dry run works in
// one pass), and the objects refer to each other consistently.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { schemaErrors, unknownFields } from './k8s-schema';
import { applyableFiles, extrasKustomization, findOne, loadAll, manifestsDir } from './load-manifests';

const { base, extras } = loadAll();

describe('manifest schema validation', () => {
  it('holds the expected objects', () => {
    expect(base.map((d) => `${d.object.kind}/${d.object.metadata.name}`).sort()).toEqual([
      'ClusterRole/nodewarden',
      'ClusterRoleBinding/nodewarden',
      'ConfigMap/nodewarden-rules',
      'DaemonSet/nodewarden',
      'ServiceAccount/nodewarden',
    ]);
    expect(extras.map((d) => `${d.object.kind}/${d.object.metadata.name}`)).toEqual([
      'PodMonitor/nodewarden',
      'PrometheusRule/nodewarden',
      'ConfigMap/nodewarden-grafana-dashboard',
    ]);
  });

  for (const doc of [...base, ...extras]) {
    it(`${doc.file}: ${doc.object.kind} ${doc.object.metadata.name} is valid`, async () => {
      expect(await schemaErrors(doc.object)).toEqual([]);
    });
  }

  it('the validator rejects what the API server rejects', async () => {
    const ds = structuredClone(findOne(base, 'DaemonSet')) as Record<string, any>;
    expect(await schemaErrors(ds)).toEqual([]);
    const typo = structuredClone(ds);
    typo.spec.template.spec.tolerations[0].operater = 'Exists';
    expect((await schemaErrors(typo)).join()).toMatch(/unknown field spec\.template\.spec\.tolerations\[0\]\.operater/);
    const quantity = structuredClone(ds);
    quantity.spec.template.spec.containers[0].resources.limits.memory = '100 MiB';
    expect((await schemaErrors(quantity)).join()).toMatch(/memory/);
    const noImage = structuredClone(ds);
    noImage.spec.template.spec.containers = [];
    noImage.spec.template.spec.containers = undefined;
    expect((await schemaErrors(noImage)).join()).toMatch(/containers/);
    const badKind = { ...ds, kind: 'DaemonSett' };
    expect(await schemaErrors(badKind)).not.toEqual([]);
    const role = structuredClone(findOne(base, 'ClusterRole')) as Record<string, any>;
    role.rules[0].verb = ['get'];
    expect(await schemaErrors(role)).toEqual(['unknown field rules[0].verb (not a field of V1PolicyRule)']);
    const pm = structuredClone(findOne(extras, 'PodMonitor')) as Record<string, any>;
    delete pm.spec.selector;
    expect((await schemaErrors(pm)).join()).toMatch(/selector/);
  });

  it('the strict-field check walks arrays and maps', () => {
    expect(unknownFields({ metadata: { labels: { a: 'b' } }, data: { x: 'y' }, bogus: 1 }, 'V1ConfigMap')).toEqual([
      'bogus (not a field of V1ConfigMap)',
    ]);
  });
});

describe('kubectl apply -f and -k', () => {
  it('every file `kubectl apply -f manifests/` reads holds Kubernetes objects (no kustomization.yaml)', () => {
    const files = applyableFiles(manifestsDir);
    expect(files.length).toBeGreaterThan(0);
    expect(files).not.toContain('kustomization.yaml');
    expect(files).not.toContain('kustomization.yml');
    for (const d of base) {
      expect(d.object.apiVersion, d.file).toBeTruthy();
      expect(d.object.kind, d.file).toBeTruthy();
    }
  });

  it('the ServiceAccount and the ConfigMap are applied before the DaemonSet that uses them', () => {
    const index = (kind: string): number => base.findIndex((d) => d.object.kind === kind);
    expect(index('DaemonSet')).toBeGreaterThanOrEqual(0);
    expect(index('ServiceAccount')).toBeGreaterThanOrEqual(0);
    expect(index('ConfigMap')).toBeGreaterThanOrEqual(0);
    expect(index('ServiceAccount')).toBeLessThan(index('DaemonSet'));
    expect(index('ConfigMap')).toBeLessThan(index('DaemonSet'));
  });

  it('the Kustomization lists exactly the files of `apply -f`, so -k and -f deploy the same', () => {
    const kustomization = parse(readFileSync(join(manifestsDir, 'Kustomization'), 'utf8')) as { kind: string; resources: string[] };
    expect(kustomization.kind).toBe('Kustomization');
    expect([...kustomization.resources].sort()).toEqual(applyableFiles(manifestsDir));
  });

  it('the Kustomization puts everything in kube-system and lists no namespace file', () => {
    const kustomization = parse(readFileSync(join(manifestsDir, 'Kustomization'), 'utf8')) as { namespace?: string; resources: string[] };
    expect(kustomization.namespace).toBe('kube-system');
    expect(kustomization.resources.filter((r) => /namespace/i.test(r))).toEqual([]);
  });

  it('the PodMonitor and PrometheusRule (need prometheus-operator CRDs) are outside the default set', () => {
    expect(applyableFiles(manifestsDir).some((f) => /monitor|prometheus|dashboard/.test(f))).toBe(false);
    expect(readdirSync(join(manifestsDir, 'extras')).sort()).toEqual(
      ['Kustomization', 'grafana-dashboard.json', 'podmonitor.yaml', 'prometheusrule.yaml'].sort(),
    );
  });

  it('`kubectl apply -k manifests/extras/` lists every extras YAML file and generates the dashboard ConfigMap from the JSON', () => {
    const k = extrasKustomization();
    expect(k.kind).toBe('Kustomization');
    expect(k.namespace).toBe('kube-system');
    const yamls = applyableFiles(join(manifestsDir, 'extras')).filter((f) => /\.ya?ml$/.test(f));
    expect([...k.resources].sort()).toEqual(yamls);
    expect(k.configMapGenerator?.map((g) => g.files)).toEqual([['grafana-dashboard.json']]);
    const cm = findOne(extras, 'ConfigMap', 'nodewarden-grafana-dashboard') as any;
    // The Grafana dashboard sidecar (kube-prometheus-stack) imports ConfigMaps with this label.
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(cm.data['grafana-dashboard.json']).uid).toBe('nodewarden');
    // Client-side apply keeps the whole object in an annotation, limited to 256 KiB.
    expect(Buffer.byteLength(JSON.stringify(cm))).toBeLessThan(256 * 1024);
  });
});

/** Kinds we ship, by scope. A new kind must be added to one of these, or the tests below fail. */
const NAMESPACED = new Set(['ServiceAccount', 'ConfigMap', 'DaemonSet', 'PodMonitor', 'PrometheusRule']);
const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding']);

describe('namespace: kube-system, no Namespace object', () => {
  const all = [...base, ...extras];

  it('ships no Namespace object (a server dry run would not persist it for the objects after it)', () => {
    expect(all.filter((d) => d.object.kind === 'Namespace').map((d) => d.file)).toEqual([]);
    expect(readdirSync(manifestsDir).filter((f) => /namespace/i.test(f))).toEqual([]);
  });

  it('every namespaced object is in kube-system, and cluster-scoped objects carry no namespace', () => {
    for (const d of all) {
      const { kind, metadata } = d.object;
      const known = NAMESPACED.has(kind) || CLUSTER_SCOPED.has(kind);
      expect(known, `${d.file}: ${kind} is neither in NAMESPACED nor in CLUSTER_SCOPED`).toBe(true);
      if (NAMESPACED.has(kind)) expect(metadata.namespace, d.file).toBe('kube-system');
      else expect(metadata.namespace, d.file).toBeUndefined();
    }
    expect([...new Set(all.filter((d) => NAMESPACED.has(d.object.kind)).map((d) => d.object.kind))].sort()).toEqual([...NAMESPACED].sort());
  });

  it('every object name starts with "nodewarden", so nothing collides with other kube-system objects', () => {
    for (const d of all) expect(d.object.metadata.name, d.file).toMatch(/^nodewarden(-[a-z0-9-]+)?$/);
  });

  it('every namespace reference anywhere in an object (binding subjects, selectors) is kube-system', () => {
    /** Values of every `namespace` key and every namespaceSelector.matchNames entry, with their paths. */
    const refs = (v: unknown, path: string, out: string[][]): string[][] => {
      if (Array.isArray(v)) v.forEach((x, i) => refs(x, `${path}[${i}]`, out));
      else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'namespace' && typeof x === 'string') out.push([`${path}.${k}`, x]);
          if (k === 'namespaceSelector') for (const n of (x as { matchNames?: string[] }).matchNames ?? []) out.push([`${path}.${k}`, n]);
          refs(x, `${path}.${k}`, out);
        }
      }
      return out;
    };
    const found = all.flatMap((d) => refs(d.object, d.file, []));
    expect(found.map(([p]) => p)).toContain('12-clusterrolebinding.yaml.subjects[0].namespace');
    expect(found.map(([p]) => p)).toContain('extras/podmonitor.yaml.spec.namespaceSelector');
    expect(found.filter(([, ns]) => ns !== 'kube-system')).toEqual([]);
  });
});

describe('references between objects', () => {
  const ds = findOne(base, 'DaemonSet') as any;
  const pod = ds.spec.template.spec;
  const container = pod.containers[0];

  it('the DaemonSet runs as the ServiceAccount the ClusterRoleBinding binds to the ClusterRole', () => {
    const sa = findOne(base, 'ServiceAccount');
    const binding = findOne(base, 'ClusterRoleBinding') as any;
    const role = findOne(base, 'ClusterRole');
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.namespace).toBe('kube-system');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(ds.metadata.namespace).toBe(sa.metadata.namespace);
  });

  it('the selector matches the pod labels, and the PodMonitor selects the same pods and port', () => {
    const labels = ds.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    const pm = findOne(extras, 'PodMonitor') as any;
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    expect(pm.metadata.namespace).toBe(ds.metadata.namespace);
    expect(pm.spec.namespaceSelector.matchNames).toEqual([ds.metadata.namespace]);
    expect(pm.spec.podMetricsEndpoints.map((e: any) => e.port)).toEqual(['metrics']);
    expect(container.ports.map((p: any) => p.name)).toContain('metrics');
  });

  it('the rules volume is the generated ConfigMap, mounted where NODEWARDEN_RULES points', () => {
    const cm = findOne(base, 'ConfigMap');
    expect(cm.metadata.namespace).toBe(ds.metadata.namespace); // a pod mounts ConfigMaps of its own namespace only
    const volume = pod.volumes.find((v: any) => v.configMap);
    expect(volume.configMap.name).toBe(cm.metadata.name);
    const mount = container.volumeMounts.find((m: any) => m.name === volume.name);
    const rulesEnv = container.env.find((e: any) => e.name === 'NODEWARDEN_RULES');
    expect(rulesEnv.value).toBe(mount.mountPath);
    expect(mount.subPath).toBeUndefined(); // subPath mounts never see ConfigMap updates
  });

  it('every mount names a volume and every volume is mounted', () => {
    const volumes = pod.volumes.map((v: any) => v.name).sort();
    expect(container.volumeMounts.map((m: any) => m.name).sort()).toEqual(volumes);
  });
});
