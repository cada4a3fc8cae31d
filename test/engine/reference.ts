// reference.ts: the plain NPD algorithm, for the equivalence test: keep the last bufferSize
// messages (empty strings before they fill), join them with "\n", run every rule anchored as
// `(?:pattern)\z` on the whole joined text, and walk back from the newest line to find the lines
// the match covers. No prefilter, no last-line shortcut.
import RE2 from 're2';
import type { Problem, RuleFile } from '../../agent/types';

export class ReferenceMonitor {
  private msgs: string[];
  private lines: ({ text: string; time: Date } | null)[];
  private n = 0;
  private res: RE2[];
  constructor(private file: RuleFile) {
    this.msgs = Array.from({ length: file.bufferSize }, () => '');
    this.lines = Array.from({ length: file.bufferSize }, () => null);
    this.res = file.rules.map((r) => new RE2(`(?:${r.pattern})\\z`, 'u'));
  }
  match(text: string, time: Date): Problem[] {
    const max = this.file.bufferSize;
    this.msgs[this.n % max] = text;
    this.lines[this.n % max] = { text, time };
    this.n++;
    const ordered: string[] = [];
    for (let k = 0; k < max; k++) ordered.push(this.msgs[(this.n + k) % max]!);
    const log = ordered.join('\n');
    const out: Problem[] = [];
    this.file.rules.forEach((rule, i) => {
      const m = this.res[i]!.exec(log);
      if (!m) return;
      const s = log.length - m.index - 1;
      let total = 0;
      const got: { text: string; time: Date }[] = [];
      for (let j = this.n + max - 1; j >= this.n; j--) {
        const l = this.lines[j % max];
        if (!l) break;
        got.unshift(l);
        total += l.text.length + 1;
        if (total > s) break;
      }
      let message = got.map((g) => g.text).join('\n');
      if (rule.patternGeneratedMessageSuffix) message += '; ' + rule.patternGeneratedMessageSuffix;
      const p: Problem = {
        kind: rule.type,
        component: this.file.component,
        reason: rule.reason,
        message,
        time: got[0]!.time,
      };
      out.push(rule.type === 'permanent' && rule.condition !== undefined ? { ...p, condition: rule.condition } : p);
    });
    return out;
  }
}
