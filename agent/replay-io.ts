// replay-io.ts: the I/O both replay commands share. Reading a capture line by line, with line
// numbers: as raw /dev/kmsg records (a `PRI,SEQ,USEC,FLAGS;message` header line, then dictionary
// lines starting with a space, joined into one record) or as plain lines. Writing one JSON object
// per line with backpressure: when the output is full, reading waits for it to drain, so memory
// stays flat however large the capture and however slow the pipe.

/** One unit of a capture: a kmsg record (header plus dictionary lines) or one text line. */
export interface CaptureItem {
  /** 1-based line number of the record's header line, or of the line. */
  readonly line: number;
  readonly text: string;
}

/**
 * Yields the capture's records (`kmsg`: a header line with its dictionary lines) or lines.
 * Empty lines are skipped. The text is untrusted.
 */
export async function* readCapture(input: NodeJS.ReadableStream, kmsg: boolean): AsyncGenerator<CaptureItem> {
  // node:readline is loaded on first use, not at start (README, Memory cuts: built-ins): only `replay` reads captures.
  const rl = process.getBuiltinModule('node:readline').createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let record: CaptureItem | undefined;
  for await (const raw of rl) {
    n++;
    if (kmsg && raw.startsWith(' ') && record !== undefined) {
      record = { line: record.line, text: `${record.text}\n${raw}` };
      continue;
    }
    if (record !== undefined) yield record;
    record = undefined;
    if (raw === '') continue;
    if (kmsg) record = { line: n, text: raw };
    else yield { line: n, text: raw };
  }
  if (record !== undefined) yield record;
}

/**
 * Writes JSON lines; `drained()` resolves when the output can take more. When the reader goes
 * away (EPIPE from `| head`), `closed` turns true and writes stop: the replay ends quietly.
 */
export class JsonLines {
  private pending: Promise<void> | undefined;
  private release: (() => void) | undefined;
  closed = false;

  constructor(private readonly out: NodeJS.WritableStream) {
    out.on('error', () => {
      this.closed = true;
      this.release?.();
    });
  }

  write(o: object): void {
    if (this.closed) return;
    if (this.out.write(JSON.stringify(o) + '\n') || this.pending) return;
    this.pending = new Promise<void>((resolve) => {
      this.release = () => {
        this.pending = undefined;
        this.release = undefined;
        resolve();
      };
      this.out.once('drain', this.release);
    });
  }

  /** Resolves at once unless the output is full. */
  drained(): Promise<void> {
    return this.pending ?? Promise.resolve();
  }

  /** Waits until everything written so far has been taken by the output. */
  async end(): Promise<void> {
    await this.drained();
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      if (!this.out.write('')) this.out.once('drain', () => resolve());
      else resolve();
    });
  }
}
