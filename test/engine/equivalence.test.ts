// The fast path (prefilter + last-line shortcut) must give exactly the Problems of the plain NPD
// algorithm (reference.ts), on a generated corpus plus lines built to attack the shortcut.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../agent/engine/monitor';
import type { RuleFile, RuleSpec } from '../../agent/types';
import { generateCorpus, rng } from '../../bench/corpus';
import { ReferenceMonitor } from './reference';
import { ruleFile, temp } from './rule-file';

const RULES_DIR = join(__dirname, '../../rules');

/** Maps an NPD-format JSON file to a RuleFile as types.ts documents (no validation). */
function loadRulesJson(path: string): RuleFile {
  const j = JSON.parse(readFileSync(path, 'utf8')) as {
    plugin: 'kmsg' | 'filelog';
    logPath: string;
    bufferSize?: number;
    source: string;
    skipList?: string[];
    conditions?: { type: string; reason: string; message: string }[];
    rules: {
      type: 'temporary' | 'permanent';
      condition?: string;
      reason: string;
      pattern: string;
      patternGeneratedMessageSuffix?: string;
    }[];
  };
  return ruleFile({
    path,
    plugin: j.plugin,
    logPath: j.logPath,
    bufferSize: j.bufferSize ?? 10,
    component: j.source,
    skipList: j.skipList ?? [],
    conditions: j.conditions ?? [],
    rules: j.rules.map((r): RuleSpec => ({ ...r })),
  });
}

const ADVERSARIAL: RuleSpec[] = [
  temp('A1', '(?s)first.*second'),
  temp('A2', '^only line'),
  temp('A3', '(?m)^line \\w+$'),
  temp('A4', 'alpha\\nbeta'),
  temp('A5', 'alpha[\\s\\S]*beta'),
  temp('A6', 'alpha[\\x00-\\x7f]+beta'),
  temp('A7', '\\Aalpha'),
  temp('A8', 'alpha|beta'),
  temp('A9', 'abort|abandon'),
  temp('A10', 'alpha|'),
  temp('A11', '\\balpha\\b'),
  temp('A12', 'alpha$'),
  temp('A13', 'a*'),
  temp('A14', ''),
  temp('A15', '(alpha|beta) gamma', 'suffix'),
  temp('A16', '[^x]+'),
  temp('A17', 'EXT4-fs (error|warning) .*'),
  temp('A18', 'ünïcode \\w+'),
];
const ADVERSARIAL_LINES = [
  'alpha gamma',
  'beta gamma',
  'abort now',
  'only line',
  'first',
  'second',
  'line one',
  'line two',
  'alpha',
  'beta',
  '',
  'trailing\nembedded newline',
  'ünïcode word',
  'x',
  'EXT4-fs error (device sda1): boom',
];

function compare(file: RuleFile, lines: readonly string[]): number {
  const fast = new Monitor(file);
  const ref = new ReferenceMonitor(file);
  let problems = 0;
  lines.forEach((text, i) => {
    const time = new Date(1_700_000_000_000 + i);
    const want = ref.match(text, time);
    const got = fast.matchText(text, time);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      expect({ line: i, text, got }).toEqual({ line: i, text, got: want });
    }
    problems += want.length;
  });
  return problems;
}

describe('fast path ≡ reference', () => {
  const corpus = generateCorpus({ lines: 20_000, form: 'kmsg', seed: 7, matchRate: 0.05 });

  it('shipped rules/*.json on the generated corpus', () => {
    const files = readdirSync(RULES_DIR).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    let total = 0;
    for (const f of files) total += compare(loadRulesJson(join(RULES_DIR, f)), corpus);
    expect(total).toBeGreaterThan(500); // the corpus really exercises the rules
  });

  it.each([1, 2, 3, 5, 10])('adversarial rules, bufferSize %i, random line mix', (bufferSize) => {
    const r = rng(bufferSize);
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      lines.push(
        r() < 0.7
          ? ADVERSARIAL_LINES[Math.floor(r() * ADVERSARIAL_LINES.length)]!
          : corpus[Math.floor(r() * corpus.length)]!,
      );
    }
    const file = ruleFile({ bufferSize, rules: ADVERSARIAL });
    expect(
      new Monitor(file)
        .slowRules()
        .map((s) => s.reason)
        .sort(),
    ).toEqual(['A1', 'A16', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7'].sort());
    expect(compare(file, lines)).toBeGreaterThan(1000);
  });
});
