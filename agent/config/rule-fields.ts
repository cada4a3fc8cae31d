// rule-fields.ts: the typed field readers every rule-file format shares (log monitor files and
// custom plugin files): a validation context that collects ConfigErrors, keys matched
// case-insensitively as Go's encoding/json does with typo suggestions, typed readers that report
// their own errors, and the `conditions` list both formats declare. Pure: no I/O.
import type { ConditionSpec, ConfigError } from '../types';
import { parseNonNegativeDuration, parsePositiveDuration } from './duration';
import type { JsonObject, JsonValue } from './json-parse';

export interface Ctx {
  readonly file: string;
  readonly errors: ConfigError[];
  /** Duplicate JSON keys by object path, reported when that object is read (document order). */
  readonly duplicates: Map<string, string[]>;
}

export function report(ctx: Ctx, field: string, message: string): void {
  ctx.errors.push({ file: ctx.file, field, message });
}

export function typeName(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Keys: known, ignored, case-insensitive (as Go's encoding/json), typos with suggestions
// ---------------------------------------------------------------------------------------------

/**
 * Maps the keys of `obj` to their canonical spelling, reporting unknown and duplicate keys.
 * Values that are JSON null are dropped (Go's encoding/json leaves the field unset).
 */
export function readKeys(
  ctx: Ctx,
  field: string,
  obj: JsonObject,
  known: readonly string[],
  ignored: readonly string[],
  misplaced: Readonly<Record<string, string>> = {},
): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  for (const key of ctx.duplicates.get(field) ?? []) {
    report(ctx, field, `duplicate key ${JSON.stringify(key)} (JSON keeps only the last one)`);
  }
  ctx.duplicates.delete(field);
  const all = [...known, ...ignored];
  for (const raw of Object.keys(obj)) {
    const value = obj[raw] as JsonValue;
    const canonical = all.includes(raw) ? raw : all.find((k) => k.toLowerCase() === raw.toLowerCase());
    if (canonical === undefined) {
      report(ctx, field, `unknown key ${JSON.stringify(raw)}${suggestion(raw, known, misplaced)}`);
      continue;
    }
    if (out.has(canonical) || (canonical !== raw && Object.prototype.hasOwnProperty.call(obj, canonical))) {
      if (canonical !== raw) {
        report(
          ctx,
          field,
          `key ${JSON.stringify(raw)} duplicates ${JSON.stringify(canonical)} (keys match case-insensitively)`,
        );
      }
      continue;
    }
    if (ignored.includes(canonical) || value === null) continue;
    out.set(canonical, value);
  }
  return out;
}

function suggestion(raw: string, known: readonly string[], misplaced: Readonly<Record<string, string>>): string {
  const hint = misplaced[raw.toLowerCase()];
  if (hint !== undefined) return ` (${hint})`;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = editDistance(raw.toLowerCase(), k.toLowerCase());
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  const limit = Math.max(2, Math.floor(raw.length / 3));
  if (best !== undefined && bestDist <= limit) return ` (did you mean ${JSON.stringify(best)}?)`;
  return ` (known keys: ${known.join(', ')})`;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * cols + j] = v;
    }
  }
  return at(a.length, b.length);
}

// ---------------------------------------------------------------------------------------------
// Typed field readers. Each reports its own error and returns undefined on a bad value.
// ---------------------------------------------------------------------------------------------

export function str(
  ctx: Ctx,
  field: string,
  v: JsonValue | undefined,
  opts: { required?: boolean; nonEmpty?: boolean } = {},
): string | undefined {
  if (v === undefined) {
    if (opts.required) report(ctx, field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') {
    report(ctx, field, `expected a string, got ${typeName(v)}`);
    return undefined;
  }
  if (opts.nonEmpty && v.trim() === '') {
    report(ctx, field, 'must not be empty');
    return undefined;
  }
  return v;
}

export function duration(ctx: Ctx, field: string, v: JsonValue | undefined, positive: boolean): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    report(ctx, field, `expected a duration string such as "5m" or "30s", got ${typeName(v)}`);
    return undefined;
  }
  const r = positive ? parsePositiveDuration(v) : parseNonNegativeDuration(v);
  if (typeof r === 'string') {
    report(ctx, field, r);
    return undefined;
  }
  return r;
}

export function arrayOf(ctx: Ctx, field: string, v: JsonValue | undefined): [number, JsonValue][] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    report(ctx, field, `expected an array, got ${typeName(v)}`);
    return [];
  }
  return v.map((x, i) => [i, x]);
}

/** A condition type a file declares, and where (for the cross-file duplicate check). */
export interface DeclaredCondition {
  readonly type: string;
  readonly field: string;
}

/** The `conditions` list: `{type, reason, message?}` plus the format's extra keys. */
export function readConditions(
  ctx: Ctx,
  value: JsonValue | undefined,
  opts: {
    readonly keys: readonly string[];
    readonly ignored: readonly string[];
    readonly misplaced?: Readonly<Record<string, string>> | undefined;
  },
): { conditions: ConditionSpec[]; declared: DeclaredCondition[]; declaredByType: Map<string, string> } {
  const conditions: ConditionSpec[] = [];
  const declared: DeclaredCondition[] = [];
  const declaredByType = new Map<string, string>();
  for (const [i, c] of arrayOf(ctx, 'conditions', value)) {
    const field = `conditions[${i}]`;
    if (!isObject(c)) {
      report(ctx, field, `expected an object, got ${typeName(c)}`);
      continue;
    }
    const keys = readKeys(ctx, field, c, opts.keys, opts.ignored, opts.misplaced);
    const type = str(ctx, `${field}.type`, keys.get('type'), { required: true, nonEmpty: true });
    const reason = str(ctx, `${field}.reason`, keys.get('reason'), { required: true, nonEmpty: true });
    const message = str(ctx, `${field}.message`, keys.get('message')) ?? '';
    const recoverAfterMs = duration(ctx, `${field}.recoverAfter`, keys.get('recoverAfter'), true);
    if (type !== undefined) {
      const first = declaredByType.get(type);
      if (first !== undefined) {
        report(
          ctx,
          `${field}.type`,
          `duplicate condition type ${JSON.stringify(type)} (already declared at ${first}.type)`,
        );
      } else {
        declaredByType.set(type, field);
        declared.push({ type, field: `${field}.type` });
      }
    }
    if (type !== undefined && reason !== undefined) {
      conditions.push(
        recoverAfterMs === undefined ? { type, reason, message } : { type, reason, message, recoverAfterMs },
      );
    }
  }
  return { conditions, declared, declaredByType };
}

/** A permanent rule must name a condition its file declares. */
export function checkPermanentCondition(
  ctx: Ctx,
  field: string,
  given: boolean,
  condition: string | undefined,
  declaredByType: ReadonlyMap<string, string>,
): void {
  if (!given || condition?.trim() === '') {
    report(ctx, `${field}.condition`, 'is required for a permanent rule (the condition type it sets)');
  } else if (condition !== undefined && !declaredByType.has(condition)) {
    const known = [...declaredByType.keys()];
    report(
      ctx,
      `${field}.condition`,
      `condition ${JSON.stringify(condition)} is not declared in "conditions"` +
        (known.length > 0 ? ` (declared: ${known.join(', ')})` : ''),
    );
  }
}

/** Reports duplicate keys of objects that were never read (a key repeated in a bad subtree). */
export function reportUnreadDuplicates(ctx: Ctx): void {
  for (const [field, keys] of ctx.duplicates) {
    for (const key of keys) report(ctx, field, `duplicate key ${JSON.stringify(key)} (JSON keeps only the last one)`);
  }
}
