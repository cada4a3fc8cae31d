// drop-prefixes.ts: the LOG prefixes nodewarden treats as packet drops, as configuration.
// Each prefix maps to a verdict: `drop` (the packet was dropped) or `audit` (logged by a rule that
// does not terminate, so the packet may have been allowed: Calico's `Log` action, or Felix's
// LogAndAccept drop override). Prefixes may carry Calico's policy placeholders.
//
// Spec syntax (flag --drop-prefix / env, one spec per prefix): `TEMPLATE[=VERDICT]`, split at
// the last '='; VERDICT is drop | audit | auto (default drop; auto needs an <action>
// placeholder: an action ending in ACCEPT is audit, anything else drop). Placeholders, in
// either nodewarden's or Felix's LogPrefix spelling:
//   <tier> %t   tier name            <kind> %k   policy kind (short: gnp, np, ...)
//   <name> %n   policy name          <policy> <namespace/name> %p   namespace/name or name
//   <action>    Felix ActionOnDrop (as in `calico-drop LOG-and-DROP: `)
// Facts behind the defaults (Calico Felix source and docs):
//   - `calico-packet` is Felix's LogPrefix default, used by the `Log` rule action. Log does not
//     terminate, so the packet goes on to later rules: audit.
//   - `calico-drop` is what Felix logs when DropActionOverride is LogAndDrop (dropped) or
//     LogAndAccept (let through). LogAndDrop is the normal setting: drop.
//   - With IncludeDropActionInPrefix Felix logs `calico-drop <ActionOnDrop>` (LOG-and-DROP,
//     LOG-and-ACCEPT): auto.
//   - iptables keeps at most 29 characters of a prefix (nftables 127); a longer Calico prefix
//     arrives cut. A cut line still matches its template, with the last placeholder partial.
import type { Verdict } from '../types';

export type PrefixVerdict = Verdict | 'auto';

type Placeholder = 'tier' | 'kind' | 'name' | 'policy' | 'action';

export interface DropPrefix {
  /** The template as configured, e.g. "calico-packet <tier> <kind> <policy>:". */
  readonly template: string;
  readonly verdict: PrefixVerdict;
}

export const DEFAULT_DROP_PREFIX_SPECS: readonly string[] = [
  'calico-packet:=audit',
  'calico-drop:=drop',
  'calico-drop <action>:=auto',
];

/** Longest prefix the kernel logs (nftables; iptables keeps 29). */
export const MAX_PREFIX_LENGTH = 127;
/** Prefix lengths at which the kernel cuts: iptables LOG (29) and nftables log (127). */
const CUT_LENGTHS = new Set([29, 127]);

const PLACEHOLDERS: Record<string, Placeholder> = {
  '<tier>': 'tier',
  '%t': 'tier',
  '<kind>': 'kind',
  '%k': 'kind',
  '<name>': 'name',
  '%n': 'name',
  '<policy>': 'policy',
  '<namespace/name>': 'policy',
  '%p': 'policy',
  '<action>': 'action',
  '<ACTION>': 'action',
};

interface Segment {
  readonly literal: string;
  readonly placeholder?: Placeholder;
}

function splitTemplate(template: string): { segments: Segment[]; error?: string } {
  const segments: Segment[] = [];
  let lit = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === '<') {
      const close = template.indexOf('>', i);
      if (close < 0) return { segments, error: `unclosed "<" at ${i}` };
      const tok = template.slice(i, close + 1);
      const ph = PLACEHOLDERS[tok];
      if (ph === undefined) return { segments, error: `unknown placeholder ${tok}` };
      segments.push({ literal: lit, placeholder: ph });
      lit = '';
      i = close + 1;
      continue;
    }
    if (c === '%' && i + 1 < template.length) {
      const tok = template.slice(i, i + 2);
      const ph = PLACEHOLDERS[tok];
      if (ph === undefined) return { segments, error: `unknown placeholder ${tok}` };
      segments.push({ literal: lit, placeholder: ph });
      lit = '';
      i += 2;
      continue;
    }
    lit += c;
    i++;
  }
  segments.push({ literal: lit });
  for (let k = 0; k + 1 < segments.length; k++) {
    if (segments[k]?.placeholder !== undefined && k > 0 && segments[k]?.literal === '') {
      return { segments, error: 'two placeholders need a separator between them' };
    }
  }
  return { segments };
}

/** Parses prefix specs; every problem is reported, valid specs are kept. */
export function parseDropPrefixes(specs: readonly string[]): { prefixes: DropPrefix[]; errors: string[] } {
  const prefixes: DropPrefix[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    let template = spec;
    let verdict: PrefixVerdict = 'drop';
    if (eq >= 0) {
      template = spec.slice(0, eq);
      const v = spec.slice(eq + 1).trim();
      if (v !== 'drop' && v !== 'audit' && v !== 'auto') {
        errors.push(
          `drop prefix ${JSON.stringify(spec)}: verdict must be drop, audit or auto, not ${JSON.stringify(v)}`,
        );
        continue;
      }
      verdict = v;
    }
    template = template.trim();
    if (template === '') {
      errors.push(`drop prefix ${JSON.stringify(spec)}: empty prefix`);
      continue;
    }
    if (template.length > MAX_PREFIX_LENGTH) {
      errors.push(`drop prefix ${JSON.stringify(spec)}: longer than ${MAX_PREFIX_LENGTH} characters`);
      continue;
    }
    if (template.includes('IN=')) {
      errors.push(`drop prefix ${JSON.stringify(spec)}: must not contain "IN="`);
      continue;
    }
    const { segments, error } = splitTemplate(template);
    if (error !== undefined) {
      errors.push(`drop prefix ${JSON.stringify(spec)}: ${error}`);
      continue;
    }
    if (verdict === 'auto' && !segments.some((s) => s.placeholder === 'action')) {
      errors.push(`drop prefix ${JSON.stringify(spec)}: verdict auto needs an <action> placeholder`);
      continue;
    }
    if (seen.has(template)) {
      errors.push(`drop prefix ${JSON.stringify(spec)}: configured twice`);
      continue;
    }
    seen.add(template);
    prefixes.push({ template, verdict });
  }
  return { prefixes, errors };
}

export const DEFAULT_DROP_PREFIXES: readonly DropPrefix[] = parseDropPrefixes(DEFAULT_DROP_PREFIX_SPECS).prefixes;

/** The configured prefix a line carries, and what its placeholders captured. */
export interface PrefixMatch {
  readonly prefix: DropPrefix;
  readonly verdict: Verdict;
  /** Policy named by the placeholders ("<tier> <kind> <namespace/name>" as captured), if any. */
  readonly policy?: string;
  /** The kernel cut the prefix at its length cap; the last captured value may be partial. */
  readonly truncated?: boolean;
}

interface CompiledTemplate {
  readonly prefix: DropPrefix;
  readonly segments: readonly Segment[];
}

/** Where s[from, to) ends once its trailing spaces are left out. */
function endBeforeSpaces(s: string, from: number, to: number): number {
  let e = to;
  while (e > from && s.charCodeAt(e - 1) === 32) e--;
  return e;
}

function trimEndSpaces(s: string): string {
  const e = endBeforeSpaces(s, 0, s.length);
  return e === s.length ? s : s.slice(0, e);
}

function verdictOf(p: DropPrefix, action: string | undefined): Verdict {
  if (p.verdict !== 'auto') return p.verdict;
  return action !== undefined && action.toUpperCase().endsWith('ACCEPT') ? 'audit' : 'drop';
}

/**
 * Compiled once at setup: plain prefixes in a Map (one lookup), templated ones tried in order.
 * `match(raw)` takes the text the kernel printed before "IN=".
 */
export class PrefixMatcher {
  private readonly literal = new Map<string, PrefixMatch>();
  private readonly templates: CompiledTemplate[] = [];
  /** The literal text each prefix starts with (before any placeholder), for carries(). */
  private readonly heads: string[] = [];
  /** The plain prefix matchAt found last, and its match. */
  private lastLiteral: string | undefined;
  private lastHit: PrefixMatch | undefined;

  constructor(prefixes: readonly DropPrefix[]) {
    for (const p of prefixes) {
      const { segments } = splitTemplate(p.template);
      const head = trimEndSpaces(segments[0]?.literal ?? '');
      if (head !== '' && !this.heads.includes(head)) this.heads.push(head);
      const only = segments[0];
      if (segments.length === 1 && only !== undefined) {
        const key = trimEndSpaces(only.literal);
        if (!this.literal.has(key)) this.literal.set(key, { prefix: p, verdict: verdictOf(p, undefined) });
      } else {
        this.templates.push({ prefix: p, segments });
      }
    }
  }

  get size(): number {
    return this.literal.size + this.templates.length;
  }

  /**
   * Whether a message starts like one of the configured prefixes (or, with `anywhere`, contains
   * one), whatever follows: tells a drop line that does not parse from a line that is not a drop
   * line at all. Only for reporting, never on the agent's per-line path.
   */
  carries(message: string, anywhere = false): boolean {
    for (const h of this.heads) if (anywhere ? message.includes(h) : message.startsWith(h)) return true;
    return false;
  }

  /**
   * match(text.slice(from, to)), without the slice when the line carries the same plain prefix
   * as the last line that carried one (a burst of drops mostly does): compared in place.
   */
  matchAt(text: string, from: number, to: number): PrefixMatch | undefined {
    const end = endBeforeSpaces(text, from, to);
    const last = this.lastLiteral;
    if (last !== undefined && end - from === last.length && text.startsWith(last, from)) return this.lastHit;
    const key = text.slice(from, end);
    const hit = this.literal.get(key);
    if (hit === undefined) return this.matchTemplates(key, to - from);
    this.lastLiteral = key;
    this.lastHit = hit;
    return hit;
  }

  match(raw: string): PrefixMatch | undefined {
    const text = trimEndSpaces(raw);
    const hit = this.literal.get(text);
    if (hit !== undefined) return hit;
    return this.matchTemplates(text, raw.length);
  }

  /** The templated prefixes, in order, on text (trimmed); rawLength: before trimming (the kernel's cut). */
  private matchTemplates(text: string, rawLength: number): PrefixMatch | undefined {
    const cut = CUT_LENGTHS.has(rawLength);
    for (const t of this.templates) {
      const m = matchTemplate(t, text, cut);
      if (m !== undefined) return m;
    }
    return undefined;
  }
}

function matchTemplate(t: CompiledTemplate, text: string, cut: boolean): PrefixMatch | undefined {
  const segs = t.segments;
  const first = segs[0];
  if (first === undefined || !text.startsWith(first.literal)) return undefined;
  let pos = first.literal.length;
  const values: { ph: Placeholder; value: string }[] = [];
  let truncated = false;
  for (let k = 0; k + 1 < segs.length; k++) {
    const ph = segs[k]?.placeholder;
    const next = segs[k + 1]?.literal ?? '';
    if (ph === undefined) return undefined;
    let end: number;
    if (next === '') {
      end = text.length;
    } else {
      end = text.indexOf(next, pos);
      if (end < 0) {
        if (!cut) return undefined;
        end = text.length;
        truncated = true;
      }
    }
    const value = text.slice(pos, end);
    if (value === '' && !truncated) return undefined;
    if (value.indexOf(' ') >= 0) return undefined;
    values.push({ ph, value });
    if (truncated) break;
    pos = end + next.length;
  }
  if (!truncated && pos !== text.length) return undefined;
  let action: string | undefined;
  const policyParts: string[] = [];
  for (const v of values) {
    if (v.ph === 'action') action = v.value;
    else if (v.value !== '') policyParts.push(v.value);
  }
  const out: { prefix: DropPrefix; verdict: Verdict; policy?: string; truncated?: boolean } = {
    prefix: t.prefix,
    verdict: verdictOf(t.prefix, action),
  };
  if (policyParts.length > 0) out.policy = policyParts.join(' ');
  if (truncated) out.truncated = true;
  return out;
}
