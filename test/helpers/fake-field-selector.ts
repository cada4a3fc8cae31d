// fake-field-selector.ts: field selectors on pods and Services as the real API server evaluates
// them, for the fake API server. Facts from kubernetes/kubernetes (v1.32 era):
//   - pkg/apis/core/v1/conversion.go (AddFieldLabelConversionFunc for Pod, and
//     AddFieldLabelConversionsForService): the field labels a selector may name. Anything else is
//     refused with 400 "field label not supported: <label>". Pods accept metadata.name,
//     metadata.namespace, spec.nodeName, spec.restartPolicy, spec.schedulerName,
//     spec.serviceAccountName, spec.hostNetwork, status.phase, status.podIP, status.podIPs and
//     status.nominatedNodeName; Services accept metadata.namespace, metadata.name, spec.clusterIP
//     and spec.type.
//   - pkg/registry/core/pod/strategy.go (ToSelectableFields, used by GetAttrs/MatchPod): the values
//     a selector is matched against. status.podIP is status.podIPs[0].ip. There is no
//     status.podIPs entry, so a missing field reads as "": `status.podIPs=<ip>` matches no pod and
//     `status.podIPs!=<ip>` matches every pod. The label is accepted but never selects anything.
//     The same predicate filters lists read from etcd and from the watch cache (the cache's only
//     pod index is spec.nodeName), so resourceVersion=0 or not makes no difference.
//   - pkg/registry/core/service/strategy.go (SelectableFields): spec.clusterIP (the primary
//     address only; spec.clusterIPs is not selectable) and spec.type.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export type FieldSet = Readonly<Record<string, string>>;

export const POD_FIELD_LABELS: ReadonlySet<string> = new Set([
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'spec.hostNetwork',
  'status.phase',
  'status.podIP',
  'status.podIPs',
  'status.nominatedNodeName',
]);

export const SERVICE_FIELD_LABELS: ReadonlySet<string> = new Set([
  'metadata.namespace',
  'metadata.name',
  'spec.clusterIP',
  'spec.type',
]);

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** ToSelectableFields: note there is no status.podIPs. */
export function podFields(pod: Json): FieldSet {
  const ips = Array.isArray(pod.status?.podIPs) ? (pod.status.podIPs as Json[]) : [];
  return {
    'metadata.name': str(pod.metadata?.name),
    'metadata.namespace': str(pod.metadata?.namespace),
    'spec.nodeName': str(pod.spec?.nodeName),
    'spec.restartPolicy': str(pod.spec?.restartPolicy),
    'spec.schedulerName': str(pod.spec?.schedulerName),
    'spec.serviceAccountName': str(pod.spec?.serviceAccountName),
    'spec.hostNetwork': pod.spec?.hostNetwork === true ? 'true' : 'false',
    'status.phase': str(pod.status?.phase),
    'status.podIP': str(ips[0]?.ip),
    'status.nominatedNodeName': str(pod.status?.nominatedNodeName),
  };
}

export function serviceFields(svc: Json): FieldSet {
  return {
    'metadata.name': str(svc.metadata?.name),
    'metadata.namespace': str(svc.metadata?.namespace),
    'spec.clusterIP': str(svc.spec?.clusterIP),
    'spec.type': str(svc.spec?.type),
  };
}

export interface Term {
  readonly field: string;
  readonly not: boolean;
  readonly value: string;
}

/** Parses `a=b,c!=d`; an error names what the real server would refuse. */
export function parseFieldSelector(selector: string | null, accepted: ReadonlySet<string>): Term[] | { error: string } {
  if (!selector) return [];
  const terms: Term[] = [];
  for (const raw of selector.split(',')) {
    const m = /^([^!=]+)(==|!=|=)(.*)$/.exec(raw);
    if (!m) return { error: `invalid selector: '${selector}'; can't understand '${raw}'` };
    if (!accepted.has(m[1]!)) return { error: `field label not supported: ${m[1]}` };
    terms.push({ field: m[1]!, not: m[2] === '!=', value: m[3]! });
  }
  return terms;
}

/** fields.Set semantics: a field the set does not hold reads as "". */
export function matchesTerms(fields: FieldSet, terms: readonly Term[]): boolean {
  return terms.every((t) => ((fields[t.field] ?? '') === t.value) !== t.not);
}
