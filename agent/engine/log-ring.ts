// log-ring.ts: NPD's log buffer (pkg/systemlogmonitor/log_buffer.go): the last `size` messages,
// joined with "\n" (never-filled slots are empty strings, exactly as in NPD), and the mapping
// from a match position in the joined text back to the lines the match covers.
import type RE2 from 're2';

export interface RingLine {
  readonly text: string;
  readonly time: Date;
}

export class LogRing {
  private readonly lines: (RingLine | undefined)[];
  private readonly msgs: string[];
  private current = 0;
  private joined: string | undefined;

  constructor(readonly size: number) {
    this.lines = new Array<RingLine | undefined>(size).fill(undefined);
    this.msgs = new Array<string>(size).fill('');
  }

  push(line: RingLine): void {
    const i = this.current % this.size;
    this.lines[i] = line;
    this.msgs[i] = line.text;
    this.current++;
    this.joined = undefined;
  }

  /** Oldest-first messages joined with "\n" (cached until the next push). */
  text(): string {
    if (this.joined !== undefined) return this.joined;
    const head = this.current % this.size;
    let s = '';
    for (let k = 0; k < this.size; k++) {
      if (k > 0) s += '\n';
      s += this.msgs[(head + k) % this.size]!;
    }
    this.joined = s;
    return s;
  }

  /**
   * Runs an end-anchored pattern on the joined text; returns the covered lines oldest first, or
   * undefined. The walk back from the newest line is NPD's: lines are taken until their lengths
   * (each plus one for the "\n") exceed the distance from the match start to the end.
   */
  match(re: RE2): RingLine[] | undefined {
    const log = this.text();
    const m = re.exec(log);
    if (m === null) return undefined;
    const s = log.length - m.index - 1;
    let total = 0;
    const out: RingLine[] = [];
    for (let i = this.current + this.size - 1; i >= this.current; i--) {
      const line = this.lines[i % this.size];
      if (line === undefined) break;
      out.push(line);
      total += this.msgs[i % this.size]!.length + 1;
      if (total > s) break;
    }
    return out.reverse();
  }
}
