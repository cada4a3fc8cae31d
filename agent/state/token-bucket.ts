// token-bucket.ts: a token bucket driven by caller-supplied time (epoch ms from the injected
// Clock), with continuous refill: `burst` tokens at most, `tokens` added every `everyMs`
// (fractions accrue in between). Starts full. Time going backwards adds nothing.

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly burst: number,
    /** Tokens added per `everyMs`. */
    private readonly perInterval: number,
    private readonly everyMs: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Adds the tokens accrued since the last refill, up to the burst. */
  refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.at) / this.everyMs) * this.perInterval);
    this.at = now;
  }

  /** At least one whole token. */
  has(): boolean {
    return this.tokens >= 1;
  }

  /** Spends one token; the caller checks has() first. */
  take(): void {
    this.tokens -= 1;
  }

  /** Back at the burst (nothing spent that has not been refilled). */
  full(): boolean {
    return this.tokens >= this.burst;
  }

  /** Refills, then spends one token if there is one; true when it did. */
  tryTake(now: number): boolean {
    this.refill(now);
    const ok = this.has();
    if (ok) this.take();
    return ok;
  }
}
