// rbac.test.ts: the ClusterRole grants exactly the least privilege the agent needs, and nothing
// else in manifests/ grants anything (no other Role, binding, or aggregation).
import { describe, expect, it } from 'vitest';
import { findOne, loadAll } from './load-manifests';

const { base, extras } = loadAll();

/** The only permissions nodewarden may have, as "group|resource|verb". */
const ALLOWED = [
  '|nodes|get',
  '|nodes/status|patch',
  '|events|create',
  '|events|patch',
  '|pods|list',
  '|pods|watch',
  '|services|list',
].sort();

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** Expands rules to "group|resource|verb" triples; wildcards stay as "*" so they fail. */
function grants(rules: readonly PolicyRule[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    for (const url of r.nonResourceURLs ?? []) out.push(`nonResourceURL|${url}|${r.verbs.join(',')}`);
    for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) out.push(`${g}|${res}|${v}`);
  }
  return out.sort();
}

describe('RBAC', () => {
  const role = findOne(base, 'ClusterRole') as unknown as { rules: PolicyRule[]; aggregationRule?: unknown };

  it('the ClusterRole grants exactly nodes get, nodes/status patch, events create/patch, pods list/watch, services list', () => {
    expect(grants(role.rules)).toEqual(ALLOWED);
    expect(new Set(grants(role.rules)).size).toBe(grants(role.rules).length);
    expect(role.aggregationRule).toBeUndefined();
    for (const r of role.rules) {
      expect(r.resourceNames).toBeUndefined();
      expect(r.nonResourceURLs).toBeUndefined();
    }
  });

  it('nothing grants secrets, deletes, wildcards or writes to pods', () => {
    const all = grants(role.rules);
    expect(all.filter((g) => g.includes('*'))).toEqual([]);
    expect(all.filter((g) => g.split('|')[1]!.startsWith('secrets'))).toEqual([]);
    expect(all.filter((g) => /\|(delete|deletecollection|escalate|bind|impersonate)$/.test(g))).toEqual([]);
    expect(all.filter((g) => /\|pods(\/[a-z]+)?\|(create|update|patch|delete|deletecollection)$/.test(g))).toEqual([]);
  });

  it('the expansion would catch an extra grant', () => {
    const widened: PolicyRule[] = [...role.rules, { apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];
    expect(grants(widened)).not.toEqual(ALLOWED);
    const wildcard: PolicyRule[] = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }];
    expect(grants(wildcard)).toEqual(['*|*|*']);
  });

  it('the only RBAC objects are this ClusterRole and its one binding', () => {
    const rbac = [...base, ...extras].filter((d) => d.object.apiVersion.startsWith('rbac.authorization.k8s.io/'));
    expect(rbac.map((d) => d.object.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding']);
  });
});
