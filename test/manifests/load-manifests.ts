// load-manifests.ts: reads every YAML document under manifests/ (the top-level files that
// `kubectl apply -f manifests/` applies, and the objects `kubectl apply -k manifests/extras/`
// applies: its Kustomization's resources and the generated dashboard ConfigMap) for the
// manifest tests.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const manifestsDir = join(repoRoot, 'manifests');

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

export interface ManifestDoc {
  /** Path relative to manifests/, e.g. "30-daemonset.yaml" or "extras/podmonitor.yaml". */
  readonly file: string;
  readonly object: K8sObject;
}

/** The files `kubectl apply -f DIR` reads: non-recursive, .json/.yaml/.yml, in lexical order. */
export function applyableFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name))
    .map((e) => e.name)
    .sort();
}

/** Parses a multi-document YAML file; throws on any YAML error or a non-object document. */
export function parseFile(path: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { uniqueKeys: true, strict: true });
  if (!Array.isArray(docs)) throw new Error(`${path}: not YAML documents`);
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue; // an empty document (comments only)
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${path}: a document is not a mapping`);
    out.push(value as K8sObject);
  }
  return out;
}

export function loadDir(sub: string): ManifestDoc[] {
  const dir = sub === '' ? manifestsDir : join(manifestsDir, sub);
  return applyableFiles(dir).flatMap((f) =>
    parseFile(join(dir, f)).map((object) => ({ file: sub === '' ? f : `${sub}/${f}`, object })),
  );
}

export interface ExtrasKustomization {
  readonly kind: string;
  readonly namespace?: string;
  readonly resources: string[];
  readonly configMapGenerator?: {
    name: string;
    files: string[];
    options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
  }[];
}

export function extrasKustomization(): ExtrasKustomization {
  return parseFile(join(manifestsDir, 'extras', 'Kustomization'))[0] as unknown as ExtrasKustomization;
}

/**
 * What `kubectl apply -k manifests/extras/` applies: the listed resources, then each generated
 * ConfigMap as kustomize builds it (data keyed by file name; namespace and labels applied).
 */
export function loadExtras(): ManifestDoc[] {
  const k = extrasKustomization();
  const dir = join(manifestsDir, 'extras');
  const docs = k.resources.flatMap((f) => parseFile(join(dir, f)).map((object) => ({ file: `extras/${f}`, object })));
  for (const g of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const f of g.files) data[f] = readFileSync(join(dir, f), 'utf8');
    const object: K8sObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: g.name, ...(k.namespace !== undefined ? { namespace: k.namespace } : {}), labels: { ...g.options?.labels } },
      data,
    };
    docs.push({ file: `extras/Kustomization#${g.name}`, object });
  }
  return docs;
}

/** The default set (manifests/*.yaml) and the optional extras. */
export function loadAll(): { base: ManifestDoc[]; extras: ManifestDoc[] } {
  return { base: loadDir(''), extras: loadExtras() };
}

export function findOne(docs: readonly ManifestDoc[], kind: string, name?: string): K8sObject {
  const found = docs.filter((d) => d.object.kind === kind && (name === undefined || d.object.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!.object;
}
