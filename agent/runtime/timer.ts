// timer.ts: one re-armable timer on the injected Clock, for everything that wakes itself at a
// due time (recoverAfter checks, the condition exporter's sync and retry). At most one timer is
// pending; it runs `fire` once when due and is then unarmed until armed again.
import type { Clock } from '../types';

export class DueTimer {
  private cancelPending: (() => void) | undefined;
  private dueAt = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** Epoch ms it fires at; Infinity when unarmed. */
  get at(): number {
    return this.dueAt;
  }

  get armed(): boolean {
    return this.cancelPending !== undefined;
  }

  /** Fires at epoch ms `at`, unless already armed to fire no later (the earliest wins). */
  armBy(at: number): void {
    this.armWithin(at - this.clock.now());
  }

  /** Fires in `delayMs`, unless already armed to fire no later (the earliest wins). */
  armWithin(delayMs: number): void {
    if (this.cancelPending !== undefined && this.dueAt <= this.clock.now() + delayMs) return;
    this.armIn(delayMs);
  }

  /** Fires in `delayMs`, replacing any pending arming. */
  armIn(delayMs: number): void {
    this.cancelPending?.();
    this.dueAt = this.clock.now() + delayMs;
    this.cancelPending = this.clock.setTimer(
      () => {
        this.cancelPending = undefined;
        this.dueAt = Infinity;
        this.fire();
      },
      Math.max(0, delayMs),
    );
  }

  cancel(): void {
    this.cancelPending?.();
    this.cancelPending = undefined;
    this.dueAt = Infinity;
  }
}
