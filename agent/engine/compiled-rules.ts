// compiled-rules.ts: a rule file's patterns compiled exactly as the engine runs them: each
// anchored at the end of the newest line (pattern-shape.ts anchorAtEnd) in an RE2 with the `u`
// flag, and the single-line ones together in the prefilter (RE2.Set). The loader validates a file
// by compiling it with these functions and keeps the result with the RuleFile, which the Monitor
// then uses: each pattern is compiled once per load, and validation checks the very form that runs.
import RE2 from 're2';
import type { RuleFile, RuleSpec } from '../types';
import { anchorAtEnd, mayCrossLines } from './pattern-shape';
import { compilePrefilter, type Prefilter, type PrefilterKind } from './prefilter';

export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly re: RE2;
  /** True: may match across lines or uses a start anchor, so it runs on the joined buffer. */
  readonly slow: boolean;
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  readonly prefilter: Prefilter;
}

/** Compiles one rule's pattern as it runs; throws RE2's error for a bad pattern. */
export function compileRule(spec: RuleSpec): CompiledRule {
  return { spec, slow: mayCrossLines(spec.pattern), re: new RE2(anchorAtEnd(spec.pattern), 'u') };
}

/** The prefilter over the single-line rules; throws when RE2.Set refuses them together. */
export function compileRulePrefilter(rules: readonly CompiledRule[], kind: PrefilterKind = 'set'): Prefilter {
  return compilePrefilter(
    rules.filter((r) => !r.slow).map((r) => anchorAtEnd(r.spec.pattern)),
    kind,
  );
}

/** Compiled forms kept with the RuleFile they were validated for (dropped with it). */
const kept = new WeakMap<RuleFile, CompiledRules>();

/** The loader keeps what it compiled while validating `file`. */
export function keepCompiled(file: RuleFile, compiled: CompiledRules): void {
  kept.set(file, compiled);
}

/** What the loader kept for `file`, if it came through the loader. */
export function keptCompiled(file: RuleFile): CompiledRules | undefined {
  return kept.get(file);
}

/** The compiled rules of `file`: those kept at load, else compiled now (files built in code). */
export function compiledRules(file: RuleFile, kind: PrefilterKind = 'set'): CompiledRules {
  const k = kind === 'set' ? kept.get(file) : undefined;
  if (k) return k;
  const rules = file.rules.map(compileRule);
  return { rules, prefilter: compileRulePrefilter(rules, kind) };
}
