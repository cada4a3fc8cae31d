// k8s-schema.ts: validates a Kubernetes object against the API's OpenAPI schema, offline.
// Two checks, because neither is complete alone:
//  - kubernetes-models (JSON schemas generated from the Kubernetes OpenAPI spec, compiled with ajv):
//    types, required fields, enums, formats such as quantities. It ignores unknown fields.
//  - strict fields: every key must be a field of its type in @kubernetes/client-node's models
//    (also generated from the OpenAPI spec), as the API server's strict field validation demands.
// CRD kinds (monitoring.coreos.com) get the first check from @kubernetes-models/prometheus-operator.
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}
interface ModelClass {
  getAttributeTypeMap(): Attribute[];
}

function modelClass(type: string): ModelClass | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return typeof candidate === 'function' && 'getAttributeTypeMap' in candidate ? (candidate as unknown as ModelClass) : undefined;
}

/** client-node's class name for apiVersion/kind, e.g. apps/v1 DaemonSet -> V1DaemonSet. */
export function clientNodeType(apiVersion: string, kind: string): string {
  const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
  return version.charAt(0).toUpperCase() + version.slice(1) + kind;
}

/** Paths of the fields the API server does not know (empty: all known). */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`)) : [];
  }
  const cls = modelClass(type);
  if (!cls || typeof value !== 'object' || Array.isArray(value)) return []; // a scalar: typed by the schema check
  const attributes = cls.getAttributeTypeMap();
  return Object.entries(value).flatMap(([key, v]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    const here = path === '' ? key : `${path}.${key}`;
    return attribute ? unknownFields(v, attribute.type, here) : [`${here} (not a field of ${type})`];
  });
}

const CRD_MODELS: Readonly<Record<string, string>> = {
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

/** Every schema problem of obj, as messages (empty: valid). */
export async function schemaErrors(obj: { apiVersion?: unknown; kind?: unknown }): Promise<string[]> {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind must be strings'];
  const crd = CRD_MODELS[apiVersion];
  const modulePath = crd ?? `kubernetes-models/${apiVersion}`;
  let models: Record<string, unknown>;
  try {
    models = (await import(modulePath)) as Record<string, unknown>;
  } catch {
    return [`no schema for apiVersion ${apiVersion}`];
  }
  const Model = models[kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (typeof Model !== 'function') return [`no schema for ${apiVersion} ${kind}`];
  const errors: string[] = [];
  try {
    new Model(obj).validate();
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (crd === undefined) {
    const type = clientNodeType(apiVersion, kind);
    if (!modelClass(type)) errors.push(`no field list for ${type}`);
    else errors.push(...unknownFields(obj, type).map((p) => `unknown field ${p}`));
  }
  return errors;
}
