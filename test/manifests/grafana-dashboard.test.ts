// grafana-dashboard.test.ts: manifests/extras/grafana-dashboard.json is a well-formed Grafana
// dashboard: a templated Prometheus datasource, a `node` variable, panels laid out on the grid
// without overlaps, and queries that read only metrics the agent exports, filtered by node, and
// cover what an operator needs. test/prometheus-real.test.ts runs every query against a real
// Prometheus scraping the real agent.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardTargets, exportedMetricNames, metricNames, substituteVariables } from '../helpers/prometheus';
import { manifestsDir } from './load-manifests';

type Json = Record<string, any>;  
const dashboard = JSON.parse(readFileSync(join(manifestsDir, 'extras', 'grafana-dashboard.json'), 'utf8')) as Json;
const panels = (dashboard.panels as Json[]).flatMap((p) => [p, ...((p.panels as Json[] | undefined) ?? [])]);
const queryPanels = panels.filter((p) => p.type !== 'row');
const targets = dashboardTargets(dashboard as { panels: [] });

describe('Grafana dashboard', () => {
  it('is a dashboard with a stable uid, a schema version and panels', () => {
    expect(dashboard.uid).toBe('nodewarden');
    expect(dashboard.title).toBe('nodewarden');
    expect(typeof dashboard.schemaVersion).toBe('number');
    expect(dashboard.id).toBeNull(); // importable into any Grafana
    expect(queryPanels.length).toBeGreaterThanOrEqual(8);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  });

  it('uses a templated Prometheus datasource everywhere', () => {
    const vars = dashboard.templating.list as Json[];
    const ds = vars.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets as Json[]) expect(t.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('has a multi-value `node` variable with "All" as a regex, from a metric the agent always exports', async () => {
    const node = (dashboard.templating.list as Json[]).find((v) => v.name === 'node');
    expect(node).toMatchObject({ type: 'query', includeAll: true, multi: true, allValue: '.*' });
    expect(node?.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    const m = /^label_values\((\w+), node\)$/.exec(node?.definition as string);
    expect(m).not.toBeNull();
    expect(node?.query.query).toBe(node?.definition);
    expect((await exportedMetricNames()).has(m![1]!)).toBe(true);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const boxes = panels.map((p) => ({ title: p.title as string, ...(p.gridPos as { x: number; y: number; w: number; h: number }) }));
    for (const b of boxes) {
      expect(b.x + b.w, b.title).toBeLessThanOrEqual(24);
      expect(b.w * b.h, b.title).toBeGreaterThan(0);
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} / ${b.title}`).toBe(false);
      }
    }
  });

  it('every panel has queries with unique refIds, each filtered by $node', () => {
    for (const p of queryPanels) {
      const ts = p.targets as Json[];
      expect(ts.length, p.title).toBeGreaterThan(0);
      expect(new Set(ts.map((t) => t.refId)).size, p.title).toBe(ts.length);
    }
    for (const t of targets) {
      expect(t.expr, `${t.panel} ${t.refId}`).toBeTruthy();
      // Every selector in the query carries the node filter.
      const selectors = t.expr.match(/[a-z_:]+\{[^}]*\}/g) ?? [];
      expect(selectors.length, t.panel).toBeGreaterThan(0);
      for (const s of selectors) expect(s, t.panel).toContain('node=~"$node"');
    }
  });

  it('reads only metrics the agent exports', async () => {
    const exported = await exportedMetricNames();
    const foreign = targets.flatMap((t) =>
      metricNames(substituteVariables(t.expr, { node: '.*' })).filter((n) => !exported.has(n)).map((n) => `${t.panel}: ${n}`),
    );
    expect(foreign).toEqual([]);
  });

  it('covers problems, conditions, drops, lines per source, API writes and retries, memory and CPU', () => {
    const used = new Set(targets.flatMap((t) => metricNames(substituteVariables(t.expr, { node: '.*' }))));
    for (const m of [
      'problem_counter',
      'problem_gauge',
      'nodewarden_rule_matches_total',
      'packet_drops_total',
      'nodewarden_component_received_total',
      'nodewarden_component_dropped_total',
      'nodewarden_component_lost_total',
      'nodewarden_component_sent_total',
      'nodewarden_component_events_total',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
    ]) {
      expect(used, m).toContain(m);
    }
    const all = targets.map((t) => t.expr).join('\n');
    expect(all).toMatch(/sum by \(node, reason\) \(increase\(problem_counter/);
    expect(all).toMatch(/sum by \(namespace, proto, verdict\) \(rate\(packet_drops_total/);
    expect(all).toContain('counter=~"retries|failures"');
  });

  it('the metric-name lexer finds selectors and skips functions, labels, keywords and strings', () => {
    expect(metricNames('sum by (node, reason) (increase(problem_counter{node=~"a|b"}[5m]))')).toEqual(['problem_counter']);
    expect(metricNames('a_total > 0 unless on (job, instance) rate(b{x="c d"}[1m:10s]) offset 5m and bool c')).toEqual(['a_total', 'b', 'c']);
    expect(metricNames('label_replace(x, "namespace", "(no pod)", "namespace", "")')).toEqual(['x']);
    expect(substituteVariables('rate(x{node=~"$node"}[$__rate_interval])', { node: 'n1' })).toBe('rate(x{node=~"n1"}[1m])');
  });
});
