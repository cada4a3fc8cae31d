// prefilter.ts: one RE2 pass that says whether any of a set of end-anchored patterns matches a
// line. A line that matches nothing (nearly all of them) costs this single pass over its UTF-8
// bytes. Measured here (bench/engine-bench.ts), one RE2 holding the alternation of the anchored
// patterns beats RE2.Set on the same bytes (RE2.Set also collects match indices), so that is the
// default; RE2.Set is the fallback when the alternation cannot be compiled.
import RE2 from 're2';

export interface Prefilter {
  test(bytes: Buffer): boolean;
}

export type PrefilterKind = 'alternation' | 'set';

/** `anchored` are already end-anchored (pattern-shape.ts anchorAtEnd). */
export function compilePrefilter(anchored: readonly string[], kind: PrefilterKind = 'alternation'): Prefilter {
  if (anchored.length === 0) return { test: () => false };
  if (kind === 'alternation') {
    try {
      const re = new RE2(anchored.join('|'), 'u');
      return { test: (b) => re.test(b) };
    } catch {
      // fall through to the set
    }
  }
  const set = new RE2.Set(anchored as string[], 'u');
  return { test: (b) => set.test(b) };
}
