// prometheus.ts: what the Prometheus tests share: the metric names
// a PromQL expression reads (a lexer, no PromQL parser in JS here), and the metric families the
// agent exports (from the production Metrics registry).
import { Metrics } from '../../agent/sinks/metrics';

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
  'atan2',
  // Aggregation operators, which may be followed by `by (…)` rather than by their parenthesis.
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);

/**
 * Metric names an expression selects: identifiers that are neither function calls, keywords,
 * label names inside `{…}` or a grouping `(…)` after by/without/on/ignoring/group_*, nor inside
 * strings or durations. Grafana variables ($node, ${x}, $__rate_interval) must be substituted first.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let i = 0;
  let braces = 0;
  /** Parenthesis depths that open a label list (by (…), on (…), …). */
  const labelLists: number[] = [];
  let parens = 0;
  let lastWord = '';
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const end = expr.indexOf(c, i + 1);
      i = end < 0 ? expr.length : end + 1;
      lastWord = '';
      continue;
    }
    if (c === '#') {
      const nl = expr.indexOf('\n', i);
      i = nl < 0 ? expr.length : nl;
      continue;
    }
    if (c === '{') braces++;
    else if (c === '}') braces--;
    else if (c === '[') {
      // A range or subquery: [5m], [10m:1m]: no names inside.
      const end = expr.indexOf(']', i);
      i = end < 0 ? expr.length : end + 1;
      continue;
    } else if (c === '(') {
      parens++;
      if (['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(lastWord)) labelLists.push(parens);
    } else if (c === ')') {
      if (labelLists[labelLists.length - 1] === parens) labelLists.pop();
      parens--;
    }
    const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i));
    if (m) {
      const word = m[0];
      const after = expr.slice(i + word.length).trimStart();
      const isCall = after.startsWith('(');
      const inLabels = braces > 0 || labelLists.length > 0;
      const prev = expr.slice(0, i).trimEnd();
      const isNumberSuffix = /[0-9]$/.test(prev) && /^[smhdwy]+$/.test(word); // 5m outside brackets (offset 5m)
      if (!isCall && !inLabels && !KEYWORDS.has(word.toLowerCase()) && !isNumberSuffix) names.add(word);
      lastWord = word.toLowerCase();
      i += word.length;
      continue;
    }
    if (!/\s/.test(c)) lastWord = '';
    i++;
  }
  return [...names].sort();
}

/**
 * Every sample name the agent can export: the families of the production Metrics registry (the
 * same class main builds), with a histogram's or summary's _bucket/_sum/_count.
 */
export async function exportedMetricNames(): Promise<Set<string>> {
  const m = new Metrics();
  const out = new Set<string>();
  for (const f of await m.registry.getMetricsAsJSON()) {
    out.add(f.name);
    if (String(f.type) === 'histogram' || String(f.type) === 'summary') {
      for (const s of ['_bucket', '_sum', '_count']) out.add(f.name + s);
    }
  }
  return out;
}

export interface DashboardTarget {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly instant: boolean;
}

interface DashboardPanel {
  readonly type: string;
  readonly title: string;
  readonly panels?: readonly DashboardPanel[];
  readonly targets?: readonly { refId: string; expr: string; instant?: boolean; range?: boolean }[];
}

/** Every query of every panel (rows' nested panels too), in order. */
export function dashboardTargets(dashboard: { panels: readonly DashboardPanel[] }): DashboardTarget[] {
  const out: DashboardTarget[] = [];
  const walk = (panels: readonly DashboardPanel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? [])
        out.push({ panel: p.title, refId: t.refId, expr: t.expr, instant: t.instant === true && t.range !== true });
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/**
 * Grafana's variables in an expression, replaced as Grafana would for a query at one instant:
 * `$node` by a regex (`.*` is Grafana's "All" here), `$__rate_interval` and friends by a range.
 */
export function substituteVariables(expr: string, vars: { node: string; range?: string }): string {
  const range = vars.range ?? '1m';
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}|\$__range|\$\{__range\}/g, range)
    .replace(/\$\{node(?::[a-z]+)?\}|\$node\b/g, vars.node);
}
