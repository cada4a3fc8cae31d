// condition-exporter.ts: the Sink that keeps nodewarden's NodeConditions on the Node.
// - Latest-wins per condition type (a Map; it cannot grow past the declared types).
// - Syncs shortly after a change (syncDelayMs, default 100 ms, coalescing bursts), and sends a
//   heartbeat every heartbeatPeriodMs ±10 %. lastHeartbeatTime is set on every sync;
//   lastTransitionTime is the Condition's own (it changes only when the status does).
// - A failed sync is retried with exponential backoff and full jitter, capped at 10 s (NPD's
//   resync period), so the Node converges within about 10 s of the API server answering again;
//   Retry-After wins when longer (up to 1 min); success resets the backoff. While backing off,
//   changes wait for the retry (they are merged into it).
// - declare() takes the condition types the rules own and schedules the removal
//   (`$patch: delete`) of types nodewarden owned on an earlier run but the rules no longer
//   declare (NPD #423). Kubelet types are never written or removed.
// - It never reads the Node: NodeAdoption (kube/node-adoption.ts) does, upstream of the detector.
//   While the Node has not been read (API down at start), the composition root holds this
//   exporter: changes accumulate, nothing is written, so the defaults never overwrite what the
//   Node shows; release() lets the next sync carry everything.
import type { NodeStatusApi, WireCondition } from '../kube/types';
import { KUBELET_CONDITION_TYPES } from '../kube/types';
import type { Clock, ComponentCounters, Condition, ConditionChange, Logger, Sink } from '../types';
import { newCounters } from '../types';
import { raceDeadline } from '../runtime/deadline';
import { DueTimer } from '../runtime/timer';
import { CONDITION_BACKOFF, backoffDelay, jitterPeriod } from '../runtime/backoff';
import type { BackoffPolicy } from '../runtime/backoff';
import { loadOwnedTypes, saveOwnedTypes } from './owned-conditions';
import type { JsonStore } from './owned-conditions';

export interface ConditionExporterOptions {
  readonly api: NodeStatusApi;
  readonly nodeName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default 5 min; each beat is jittered ±10 %. */
  readonly heartbeatPeriodMs?: number;
  /** Delay between a change and its sync, to coalesce bursts (default 100 ms; keep < 1 s). */
  readonly syncDelayMs?: number;
  /** Default CONDITION_BACKOFF (1 s doubling, capped at 10 s, full jitter). */
  readonly backoff?: BackoffPolicy;
  /** Where owned condition types are remembered (a CheckpointStore); without it nothing is removed. */
  readonly store?: JsonStore;
  /** [0, 1) source for jitter (default Math.random). */
  readonly random?: () => number;
}

export interface ConditionExporterCounters extends ComponentCounters {
  /** Successful patches. */
  syncs: number;
  /** Failed patch attempts. */
  failures: number;
  /** Condition types removed from the node. */
  removed: number;
}

export class ConditionExporter implements Sink {
  readonly name = 'kube-conditions';
  readonly counters: ConditionExporterCounters = { ...newCounters(), syncs: 0, failures: 0, removed: 0 };
  private readonly desired = new Map<string, Condition>();
  private readonly declared = new Set<string>();
  private pendingRemove = new Set<string>();
  /** Bumped on every change; a sync that started at an older version leaves the state dirty. */
  private version = 0;
  private syncedVersion = -1;
  private attempt = 0;
  private readonly timer: DueTimer;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private lastError: string | undefined;
  /** Held: nothing is written until release() (the Node has not been read yet). */
  private held = false;
  private readonly heartbeatMs: number;
  private readonly syncDelayMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: ConditionExporterOptions) {
    this.heartbeatMs = opts.heartbeatPeriodMs ?? 300_000;
    this.syncDelayMs = opts.syncDelayMs ?? 100;
    this.backoff = opts.backoff ?? CONDITION_BACKOFF;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger.child({ component: this.name });
    this.timer = new DueTimer(opts.clock, () => void this.sync());
  }

  /**
   * Declares the condition types the rules own at start, and schedules removal of types owned
   * before but no longer declared.
   */
  declare(declaredTypes: readonly string[]): void {
    for (const t of declaredTypes) {
      if (KUBELET_CONDITION_TYPES.has(t))
        this.log.warn({ type: t }, 'rules declare a kubelet condition type; it will not be written');
      else this.declared.add(t);
    }
    const owned = loadOwnedTypes(this.opts.store, this.opts.nodeName);
    this.pendingRemove = new Set(owned.filter((t) => !this.declared.has(t)));
    // Record ownership before anything is written to the node.
    saveOwnedTypes(this.opts.store, this.opts.nodeName, [...this.declared, ...this.pendingRemove]);
    if (this.pendingRemove.size > 0) {
      this.log.info({ types: [...this.pendingRemove] }, 'removing condition types the rules no longer declare');
      this.bump();
    }
  }

  /** Writes nothing until release(). */
  hold(): void {
    this.held = true;
    this.timer.cancel();
  }

  /** Ends a hold: what accumulated is synced soon. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.attempt = 0;
    if (!this.inSync()) this.schedule(this.syncDelayMs, true);
  }

  /**
   * The rules changed while running (rule reload): types no longer declared are forgotten and
   * removed from the node; new ones are owned from now on. Kubelet types are ignored.
   */
  redeclare(declaredTypes: readonly string[]): void {
    if (this.stopped) return;
    const next = new Set(declaredTypes.filter((t) => !KUBELET_CONDITION_TYPES.has(t)));
    for (const t of this.declared) {
      if (!next.has(t)) {
        this.pendingRemove.add(t);
        this.desired.delete(t);
      }
    }
    for (const t of next) this.pendingRemove.delete(t);
    this.declared.clear();
    for (const t of next) this.declared.add(t);
    saveOwnedTypes(this.opts.store, this.opts.nodeName, [...this.declared, ...this.pendingRemove]);
    if (this.pendingRemove.size > 0) this.bump();
  }

  onConditions(_source: string, conditions: readonly Condition[]): void {
    for (const c of conditions) this.set(c);
  }

  onConditionChange(change: ConditionChange): void {
    this.set(change.condition);
  }

  /** What the exporter will (or did) put on the node, for /conditions and tests. */
  conditions(): Condition[] {
    return [...this.desired.values()];
  }

  /** Whether the node reflects every change so far. */
  inSync(): boolean {
    return this.syncedVersion === this.version;
  }

  async flush(deadline: number): Promise<void> {
    if (this.stopped || this.held) return;
    if (this.inFlight) await raceDeadline(this.opts.clock, this.inFlight, deadline);
    if (!this.inSync() && this.opts.clock.now() < deadline) await raceDeadline(this.opts.clock, this.sync(), deadline);
  }

  /** Cancels timers; later calls do nothing. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer.cancel();
  }

  private set(c: Condition): void {
    this.counters.received++;
    if (this.stopped) return;
    if (KUBELET_CONDITION_TYPES.has(c.type)) {
      this.counters.dropped++;
      return;
    }
    this.declared.add(c.type);
    this.pendingRemove.delete(c.type);
    this.desired.set(c.type, c);
    this.bump();
  }

  private bump(): void {
    this.version++;
    if (this.held) return;
    // While backing off, the retry carries the change; otherwise sync soon.
    if (this.attempt === 0) this.schedule(this.syncDelayMs);
  }

  private schedule(delayMs: number, force = false): void {
    if (this.stopped) return;
    if (force) this.timer.armIn(delayMs);
    else this.timer.armWithin(delayMs);
  }

  private sync(): Promise<void> {
    if (this.inFlight) {
      // One patch at a time; the running one reschedules if it missed changes.
      return this.inFlight;
    }
    this.inFlight = this.doSync().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async doSync(): Promise<void> {
    if (this.stopped || this.held) return;
    const version = this.version;
    const now = new Date(this.opts.clock.now());
    const conditions: WireCondition[] = [...this.desired.values()].map((c) => ({ ...c, lastHeartbeatTime: now }));
    const remove = [...this.pendingRemove];
    const r = await this.opts.api.patchNodeConditions(this.opts.nodeName, conditions, remove);
    if (this.stopped) return;
    if (r.ok) {
      this.counters.sent += conditions.length;
      this.counters.syncs++;
      if (this.lastError !== undefined) this.log.info({ failures: this.attempt }, 'node conditions synced again');
      this.lastError = undefined;
      this.attempt = 0;
      if (remove.length > 0) {
        for (const t of remove) this.pendingRemove.delete(t);
        this.counters.removed += remove.length;
        saveOwnedTypes(this.opts.store, this.opts.nodeName, [...this.declared, ...this.pendingRemove]);
      }
      this.syncedVersion = version;
      if (this.version !== version) this.schedule(this.syncDelayMs, true);
      else this.schedule(jitterPeriod(this.heartbeatMs, this.random), true);
      return;
    }
    this.failed(r);
  }

  private failed(r: { readonly error: string; readonly retryable: boolean; readonly retryAfterMs?: number }): void {
    if (this.held) return;
    this.counters.failures++;
    this.counters.errors++;
    this.attempt++;
    if (this.lastError === undefined)
      this.log.warn({ error: r.error, retryable: r.retryable }, 'node condition sync failed; retrying with backoff');
    else this.log.debug({ error: r.error, attempt: this.attempt }, 'node condition sync failed again');
    this.lastError = r.error;
    // Every failure is retried: 403/404 can be fixed (RBAC, node registration) while we run.
    this.schedule(backoffDelay(this.attempt, this.backoff, this.random, r.retryAfterMs), true);
  }
}
