// prometheusrule.test.ts: the alerts in manifests/extras/prometheusrule.yaml. The PrometheusRule
// is valid for the prometheus-operator CRD (schema, plus a strict unknown-field check the model
// lacks); its spec.groups pass `promtool check rules`; `promtool test rules` runs the unit tests
// in test/fixtures/prometheus/ (every alert must fire in one case and stay quiet in another); a
// rule broken on purpose fails them; every expression reads only metrics the agent exports.
// Needs Debian's prometheus package (promtool); skipped with the reason when it is missing.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { exportedMetricNames, metricNames } from '../helpers/prometheus';
import { needsParts } from '../helpers/system-parts';
import { schemaErrors } from './k8s-schema';
import { findOne, loadAll, repoRoot } from './load-manifests';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

const rule = findOne(loadAll().extras, 'PrometheusRule') as unknown as { spec: { groups: Group[] } };
const groups = rule.spec.groups;
const alerts = groups.flatMap((g) => g.rules);
const UNIT_TESTS = join(repoRoot, 'test/fixtures/prometheus/prometheusrule.test.yaml');
/** Made by Prometheus for every target, not by the agent. */
const SCRAPE_METRICS = new Set(['up']);

const work = mkdtempSync(join(tmpdir(), 'nw-promrule-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Writes the groups where the unit tests expect them; runs promtool; returns [exit code, output]. */
function promtool(args: readonly string[], groupsToWrite: readonly Group[] = groups): [number, string] {
  writeFileSync(join(work, 'prometheusrule.rules.yaml'), stringify({ groups: groupsToWrite }));
  copyFileSync(UNIT_TESTS, join(work, 'prometheusrule.test.yaml'));
  try {
    const out = execFileSync('promtool', [...args], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    return [0, out];
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return [err.status ?? 1, `${err.stdout ?? ''}${err.stderr ?? ''}`];
  }
}

describe('PrometheusRule: valid for prometheus-operator', () => {
  it('passes the CRD schema', async () => {
    expect(await schemaErrors(rule as unknown as { apiVersion: string; kind: string })).toEqual([]);
  });

  it('uses only the CRD\'s group and rule fields (the model does not reject unknown ones)', () => {
    const groupKeys = new Set(['name', 'interval', 'rules', 'partial_response_strategy', 'limit']);
    const ruleKeys = new Set(['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);
    const unknown: string[] = [];
    groups.forEach((g, i) => {
      for (const k of Object.keys(g)) if (!groupKeys.has(k)) unknown.push(`groups[${i}].${k}`);
      g.rules.forEach((r, j) => {
        for (const k of Object.keys(r)) if (!ruleKeys.has(k)) unknown.push(`groups[${i}].rules[${j}].${k}`);
      });
    });
    expect(unknown).toEqual([]);
  });

  it('has the alerts an operator needs, each with a severity, summary and description', () => {
    const names = alerts.map((r) => r.alert);
    for (const needed of [
      'NodewardenConditionTrue', // a node condition of ours True for more than N minutes
      'NodewardenKmsgRecordsLost', // /dev/kmsg records lost
      'NodewardenRuleReloadFailed',
      'NodewardenSourceUnhealthy', // a source dead or stalled
      'NodewardenEventsDropped', // the event queue dropping
      'NodewardenPacketDropBurst', // PacketDrop bursts per namespace
    ]) {
      expect(names).toContain(needed);
    }
    expect(new Set(names).size).toBe(names.length);
    for (const r of alerts) {
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  it('reads only metrics the agent exports (or that the scrape itself makes)', async () => {
    const exported = await exportedMetricNames();
    const foreign: string[] = [];
    for (const r of alerts) {
      const names = metricNames(r.expr);
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) if (!exported.has(n) && !SCRAPE_METRICS.has(n)) foreign.push(`${r.alert}: ${n}`);
    }
    expect(foreign).toEqual([]);
  });
});

describe.skipIf(needsParts(['promtool'], 'promtool').skip)('promtool', () => {
  it('check rules passes on spec.groups', () => {
    const [code, out] = promtool(['check', 'rules', 'prometheusrule.rules.yaml']);
    expect(out).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(code).toBe(0);
  });

  it('test rules: every alert has a case where it fires and one where it does not', () => {
    const tests = (parse(readFileSync(UNIT_TESTS, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of alerts) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${r.alert} fires somewhere`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${r.alert} stays quiet somewhere`).toBe(true);
    }
    const [code, out] = promtool(['test', 'rules', 'prometheusrule.test.yaml']);
    expect(out).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('test rules fails when an alert is broken (the unit tests bite)', () => {
    const broken = structuredClone(groups);
    const cond = broken.flatMap((g) => g.rules).find((r) => r.alert === 'NodewardenConditionTrue')!;
    cond.for = '20m';
    const burst = broken.flatMap((g) => g.rules).find((r) => r.alert === 'NodewardenPacketDropBurst')!;
    burst.expr = burst.expr.replace('verdict="drop"', 'verdict=~"drop|audit"');
    const [code, out] = promtool(['test', 'rules', 'prometheusrule.test.yaml'], broken);
    expect(code).not.toBe(0);
    expect(out).toContain('NodewardenConditionTrue');
    expect(out).toContain('NodewardenPacketDropBurst');
  });
});
