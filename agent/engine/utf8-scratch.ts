// utf8-scratch.ts: one reusable UTF-8 buffer per consumer, so a line costs a single encode and
// no Buffer allocation. Views of the common lengths are cached, because creating a typed-array
// view costs about as much as the RE2 pass we hand it to.

const MAX_CACHED_VIEW = 4096;

export class Utf8Scratch {
  private buf: Buffer;
  private views: (Buffer | undefined)[] = [];

  constructor(initialBytes = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Encodes `text` and returns a view of exactly its bytes, valid until the next call. */
  encode(text: string): Buffer {
    // 3 bytes per UTF-16 unit is the worst case; grow only when a line could overflow.
    if (text.length * 3 > this.buf.length) this.grow(text.length * 3);
    const k = this.buf.write(text, 0);
    return this.view(k);
  }

  /** Bytes written by the last encode() (use with the returned view). */
  view(k: number): Buffer {
    if (k > MAX_CACHED_VIEW) return this.buf.subarray(0, k);
    let v = this.views[k];
    if (v === undefined) {
      v = this.buf.subarray(0, k);
      this.views[k] = v;
    }
    return v;
  }

  /** The whole backing buffer (for sub-views at an offset). */
  get raw(): Buffer {
    return this.buf;
  }

  private grow(min: number): void {
    let size = this.buf.length * 2;
    while (size < min) size *= 2;
    this.buf = Buffer.allocUnsafe(size);
    this.views = [];
  }
}
