// monitor.ts: one compiled rule file (NPD's log monitor, without I/O). Every rule is tested on
// every line against NPD's buffer of the last `bufferSize` lines; a rule must match at the end of
// the newest line. Rules that can only match inside the newest line run behind a single
// prefilter pass over the line's bytes; the rest (multi-line or start-anchored) run on the joined
// buffer for every line, as NPD does. Nothing is compiled or validated per line.
import type { LogLine, Problem, RuleFile, RuleSpec } from '../types';
import { compiledRules, type CompiledRule } from './compiled-rules';
import { LogRing, type RingLine } from './log-ring';
import type { Prefilter, PrefilterKind } from './prefilter';
import { Utf8Scratch } from './utf8-scratch';

const NO_PROBLEMS: readonly Problem[] = Object.freeze([]);

export interface MonitorOptions {
  /** Scratch buffer to encode lines into (shared by a caller that already encoded the line). */
  readonly scratch?: Utf8Scratch;
  readonly prefilter?: PrefilterKind;
}

export class Monitor {
  readonly file: RuleFile;
  private readonly rules: readonly CompiledRule[];
  private readonly prefilter: Prefilter;
  private readonly hasSlow: boolean;
  private readonly ring: LogRing;
  private readonly scratch: Utf8Scratch;
  private readonly skip: readonly string[];

  constructor(file: RuleFile, opts: MonitorOptions = {}) {
    this.file = file;
    // Compiled (and validated) once by the loader; compiled here only for files built in code.
    const compiled = compiledRules(file, opts.prefilter);
    this.rules = compiled.rules;
    this.prefilter = compiled.prefilter;
    this.hasSlow = this.rules.some((r) => r.slow);
    this.ring = new LogRing(Math.max(1, file.bufferSize));
    this.scratch = opts.scratch ?? new Utf8Scratch();
    this.skip = file.skipList.filter((s) => s !== '');
  }

  /** Rules that run on the joined buffer for every line (for diagnostics and tests). */
  slowRules(): readonly RuleSpec[] {
    return this.rules.filter((r) => r.slow).map((r) => r.spec);
  }

  /** NPD's skipList: the text contains one of the configured substrings. */
  skips(text: string): boolean {
    const skip = this.skip; // indexed, as every per-line loop: Maglev runs for-of through the iterator
    for (let i = 0; i < skip.length; i++) if (text.includes(skip[i]!)) return true;
    return false;
  }

  match(line: LogLine): readonly Problem[] {
    return this.matchText(line.text, line.time);
  }

  /**
   * Pushes one message into the buffer and returns the problems it completes, in rule order.
   * `bytes`, when given, must be the UTF-8 encoding of `text` (saves re-encoding).
   */
  matchText(text: string, time: Date, bytes?: Buffer): readonly Problem[] {
    // The ring's line exists only for multi-line rules; a single-line hit makes its own.
    const line: RingLine | undefined = this.hasSlow ? { text, time } : undefined;
    if (line !== undefined) this.ring.push(line);
    const b = bytes ?? this.scratch.encode(text);
    const hit = this.prefilter.test(b);
    if (!hit && line === undefined) return NO_PROBLEMS;
    let out: Problem[] | undefined;
    const rules = this.rules; // indexed: see skips()
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      let lines: RingLine[] | undefined;
      if (r.slow) lines = this.ring.match(r.re);
      else if (hit && r.re.test(b)) lines = [line ?? { text, time }];
      if (lines === undefined) continue;
      (out ??= []).push(this.problem(r.spec, lines));
    }
    return out ?? NO_PROBLEMS;
  }

  private problem(spec: RuleSpec, lines: readonly RingLine[]): Problem {
    let message = lines.length === 1 ? lines[0]!.text : lines.map((l) => l.text).join('\n');
    if (spec.patternGeneratedMessageSuffix) message = `${message}; ${spec.patternGeneratedMessageSuffix}`;
    // NPD stamps the status with the first (oldest) matched line.
    const time = lines[0]!.time;
    // One shape for both kinds (condition undefined on temporary ones): the detector's optimized
    // code stays valid when the first problem of the other kind comes.
    const condition = spec.type === 'permanent' ? spec.condition : undefined;
    return { kind: spec.type, component: this.file.component, reason: spec.reason, condition, message, time };
  }
}
