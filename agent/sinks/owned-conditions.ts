// owned-conditions.ts: remembers which node condition types nodewarden has written, in the
// state directory, so that a type the rules no longer declare can be removed from the node
// after a restart, and so that nothing else (the kubelet's types, other agents' types) ever is.
import { KUBELET_CONDITION_TYPES } from '../kube/types';

/** The part of agent/sources/checkpoint.ts's CheckpointStore this needs. */
export interface JsonStore {
  load<T>(name: string): T | undefined;
  save(name: string, value: unknown): boolean;
}

export const OWNED_CONDITIONS_NAME = 'owned-conditions';

interface OwnedFile {
  readonly node: string;
  readonly types: readonly string[];
}

export function loadOwnedTypes(store: JsonStore | undefined, node: string): string[] {
  const v = store?.load<OwnedFile>(OWNED_CONDITIONS_NAME);
  // A state dir carried over from another node says nothing about this one.
  if (!v || v.node !== node || !Array.isArray(v.types)) return [];
  return v.types.filter((t): t is string => typeof t === 'string' && !KUBELET_CONDITION_TYPES.has(t));
}

export function saveOwnedTypes(store: JsonStore | undefined, node: string, types: Iterable<string>): boolean {
  if (!store) return true;
  const list = [...new Set(types)].filter((t) => !KUBELET_CONDITION_TYPES.has(t)).sort();
  return store.save(OWNED_CONDITIONS_NAME, { node, types: list } satisfies OwnedFile);
}
