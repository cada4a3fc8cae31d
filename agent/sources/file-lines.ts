// file-lines.ts: the file follower's partial-line holder. Bytes of a line whose newline has not
// arrived yet are kept here (copied, because the read buffer is reused), but never more than
// `keepBytes`: past that the rest of the line is only counted, so a 1 GiB line costs at most
// keepBytes of memory. The caller (file.ts) scans chunks for "\n" and asks for whole lines.

/** Bytes [start, end) of buf are the line to examine (without "\n" and a trailing "\r"). */
export interface RawLine {
  buf: Buffer;
  start: number;
  end: number;
  /** buf holds the line's parts joined (a copy), not the chunk finish() was given. */
  joined: boolean;
}

export class LineAssembler {
  private parts: Buffer[] = [];
  /** Bytes held in parts (≤ keepBytes). */
  private kept = 0;
  /** Bytes of the unfinished line seen so far, held or discarded. */
  private seen = 0;
  private readonly out: RawLine = { buf: Buffer.alloc(0), start: 0, end: 0, joined: false };

  /** keepBytes: the most bytes of one line worth keeping (the length cap plus a few). */
  constructor(private readonly keepBytes: number) {}

  /** Bytes of the unfinished line actually held in memory (never more than keepBytes). */
  get heldBytes(): number {
    return this.kept;
  }

  /** Bytes of the unfinished line seen so far (0: none pending). */
  get pendingBytes(): number {
    return this.seen;
  }

  /** Holds chunk[start, end), the beginning or middle of a line whose newline is not here yet. */
  append(chunk: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.seen += end - start;
    const room = this.keepBytes - this.kept;
    if (room <= 0) return;
    const n = Math.min(room, end - start);
    this.parts.push(Buffer.from(chunk.subarray(start, start + n)));
    this.kept += n;
  }

  /**
   * The whole line ending at chunk[end] (the newline), joined with what was held. The result
   * is valid until the next call and until the chunk buffer is reused.
   */
  finish(chunk: Buffer, start: number, end: number): RawLine {
    const out = this.out;
    if (this.seen === 0) {
      const whole = end - start;
      out.buf = chunk;
      out.joined = false;
      out.start = start;
      out.end = whole > this.keepBytes ? start + this.keepBytes : stripCR(chunk, start, end);
      return out;
    }
    this.append(chunk, start, end);
    return this.take();
  }

  /** The held bytes as a final line (an unterminated last line when a file is left); undefined if none. */
  flush(): RawLine | undefined {
    if (this.seen === 0) return undefined;
    return this.take();
  }

  /** Forgets the held bytes; returns how many bytes of line were dropped. */
  reset(): number {
    const n = this.seen;
    this.parts = [];
    this.kept = 0;
    this.seen = 0;
    return n;
  }

  private take(): RawLine {
    const out = this.out;
    const buf = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.kept);
    const whole = this.seen <= this.keepBytes;
    out.buf = buf;
    out.joined = true;
    out.start = 0;
    out.end = whole ? stripCR(buf, 0, buf.length) : buf.length;
    this.parts = [];
    this.kept = 0;
    this.seen = 0;
    return out;
  }
}

function stripCR(buf: Buffer, start: number, end: number): number {
  return end > start && buf[end - 1] === 0x0d ? end - 1 : end;
}
