// event-exporter.ts: the Sink that writes core/v1 Events. Each NodeEvent has its message capped
// (1 KiB, with a marker), goes through the EventAggregator (counting, combining, spam filter),
// and lands in a bounded queue keyed by Event name: a newer occurrence of a queued Event
// replaces it (so the count sent is the latest), and a new Event when the queue is full is
// dropped and counted (drop-newest). One delivery at a time: create when the Event is not known
// to exist, else patch count/lastTimestamp; 409 on create → patch; 404 on patch (expired or
// deleted) → create. Retryable failures back off (full jitter, 1 s .. 2 min; Retry-After wins
// when longer, up to 1 min) and keep the item; other failures drop it and count it.
import type { EventApi, EventRecord } from '../kube/types';
import type { AggregatedEvent, EventAggregatorStats } from '../state/event-aggregator';
import { EventAggregator } from '../state/event-aggregator';
import type { Clock, ComponentCounters, Logger, NodeEvent, Sink } from '../types';
import { newCounters } from '../types';
import { capMessage } from '../cap-message';
import { raceDeadline } from '../runtime/deadline';
import { Lru } from '../runtime/lru';
import { EVENT_BACKOFF, backoffDelay } from '../runtime/backoff';
import type { BackoffPolicy } from '../runtime/backoff';

export { MESSAGE_LIMIT_BYTES, TRUNCATION_MARKER, capMessage } from '../cap-message';

export interface EventExporterOptions {
  readonly api: EventApi;
  readonly nodeName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Namespace of Node events (default "default"; the API only accepts "default" for them). */
  readonly namespace?: string;
  /**
   * The Node's uid for involvedObject.uid (kubectl describe node lists Events by it), asked
   * before each delivery until known: NodeAdoption.nodeUid, which reads the Node; this exporter
   * never reads it itself.
   */
  readonly nodeUid?: () => Promise<string | undefined>;
  /** Queued Events at most (default 1000). */
  readonly queueSize?: number;
  readonly backoff?: BackoffPolicy;
  readonly aggregator?: EventAggregator;
  readonly reportingComponent?: string;
  readonly random?: () => number;
}

export interface EventExporterCounters extends ComponentCounters {
  /** Held back by the spam filter (counted in the next Event for the key). */
  suppressed: number;
  /** Dropped because the queue was full. */
  queueFull: number;
  /** Dropped after a non-retryable error. */
  rejected: number;
  /** Failed attempts that will be retried. */
  retries: number;
  /** Messages cut at the size limit. */
  truncated: number;
}

interface Pending {
  event: AggregatedEvent;
  namespace: string;
}

export class EventExporter implements Sink {
  readonly name = 'kube-events';
  readonly counters: EventExporterCounters = {
    ...newCounters(),
    suppressed: 0,
    queueFull: 0,
    rejected: 0,
    retries: 0,
    truncated: 0,
  };
  readonly aggregator: EventAggregator;
  private readonly queue = new Map<string, Pending>();
  /** Names known to exist on the server (bounded: oldest forgotten first). */
  private readonly known = new Lru<string, true>(4096);
  private nodeUid: string | undefined;
  private attempt = 0;
  private notBefore = 0;
  private pumping: Promise<void> | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private readonly namespace: string;
  private readonly queueSize: number;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: EventExporterOptions) {
    this.namespace = opts.namespace ?? 'default';
    this.queueSize = opts.queueSize ?? 1000;
    this.backoff = opts.backoff ?? EVENT_BACKOFF;
    this.random = opts.random ?? Math.random;
    this.aggregator = opts.aggregator ?? new EventAggregator(opts.clock, { host: opts.nodeName });
    this.log = opts.logger.child({ component: this.name });
    if (this.namespace !== 'default') {
      this.log.warn(
        { namespace: this.namespace },
        'the API server accepts Node events only in "default"; Node events may be rejected',
      );
    }
  }

  get aggregatorStats(): EventAggregatorStats {
    return this.aggregator.stats;
  }

  /** Events waiting to be written. */
  queued(): number {
    return this.queue.size;
  }

  onEvent(ev: NodeEvent): void {
    this.counters.received++;
    if (this.stopped) {
      this.counters.dropped++;
      return;
    }
    const capped = capMessage(ev.message);
    if (capped.truncated) this.counters.truncated++;
    const c = this.aggregator.correlate(capped.truncated ? { ...ev, message: capped.text } : ev);
    if (c.action === 'suppressed') {
      this.counters.suppressed++;
      return;
    }
    const namespace = c.event.involved.kind === 'Pod' ? c.event.involved.namespace : this.namespace;
    const key = `${namespace}/${c.event.name}`;
    if (this.queue.has(key)) {
      // Latest wins for the same Event: the newer count and timestamps replace the queued ones.
      this.queue.set(key, { event: c.event, namespace });
    } else if (this.queue.size >= this.queueSize) {
      this.counters.dropped++;
      this.counters.queueFull++;
      return;
    } else {
      this.queue.set(key, { event: c.event, namespace });
    }
    this.kick();
  }

  /** Delivers what it can until the deadline (epoch ms); the first attempt ignores the backoff. */
  async flush(deadline: number): Promise<void> {
    this.notBefore = 0;
    while (this.queue.size > 0 && this.opts.clock.now() < deadline && !this.stopped) {
      this.kick();
      if (this.pumping) {
        if (!(await raceDeadline(this.opts.clock, this.pumping, deadline))) break;
        continue;
      }
      // Backing off: wait for the retry if it comes before the deadline.
      if (this.notBefore >= deadline) break;
      await raceDeadline(this.opts.clock, new Promise<void>(() => {}), this.notBefore);
    }
  }

  /** Stops delivering; queued events stay unsent. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private kick(): void {
    if (this.pumping || this.stopped) return;
    const wait = this.notBefore - this.opts.clock.now();
    if (wait > 0) {
      if (!this.cancelTimer) {
        this.cancelTimer = this.opts.clock.setTimer(() => {
          this.cancelTimer = undefined;
          this.kick();
        }, wait);
      }
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // Backing off with work left: arm the retry timer.
      if (this.queue.size > 0) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (!this.stopped && this.queue.size > 0 && this.opts.clock.now() >= this.notBefore) {
      const [key, item] = this.queue.entries().next().value as [string, Pending];
      const r = await this.deliver(item);
      if (this.stopped) return;
      const current = this.queue.get(key);
      if (r.ok || !r.retryable) {
        // Keep a newer occurrence queued meanwhile; it will be a patch now.
        if (current === item) this.queue.delete(key);
        if (r.ok) {
          this.counters.sent++;
          this.attempt = 0;
        } else {
          this.counters.dropped++;
          this.counters.rejected++;
          this.counters.errors++;
          this.log.warn(
            { error: r.error, event: item.event.name, reason: item.event.reason },
            'event rejected by the API server; dropped',
          );
        }
        continue;
      }
      this.counters.retries++;
      this.counters.errors++;
      this.attempt++;
      const delay = backoffDelay(this.attempt, this.backoff, this.random, r.retryAfterMs);
      if (this.attempt === 1)
        this.log.warn({ error: r.error, retryInMs: Math.round(delay) }, 'event delivery failed; retrying with backoff');
      this.notBefore = this.opts.clock.now() + delay;
    }
  }

  private async deliver(
    item: Pending,
  ): Promise<{ ok: true } | { ok: false; retryable: boolean; error: string; retryAfterMs?: number }> {
    await this.lookupUid();
    const e = item.event;
    const record: EventRecord = {
      namespace: item.namespace,
      name: e.name,
      involved:
        e.involved.kind === 'Node' && this.nodeUid !== undefined && e.involved.uid === undefined
          ? { ...e.involved, uid: this.nodeUid }
          : e.involved,
      type: e.type,
      reason: e.reason,
      message: e.message,
      component: e.component,
      host: e.host,
      count: e.count,
      firstTimestamp: e.firstTimestamp,
      lastTimestamp: e.lastTimestamp,
      reportingComponent: this.opts.reportingComponent ?? 'nodewarden',
      reportingInstance: this.opts.nodeName,
    };
    const id = `${item.namespace}/${e.name}`;
    const patch = { count: e.count, lastTimestamp: e.lastTimestamp, message: e.message };
    if (this.known.has(id)) {
      const p = await this.opts.api.patchEvent(item.namespace, e.name, patch);
      if (p.ok || p.status !== 404) return p.ok ? { ok: true } : p;
      this.known.delete(id); // expired or deleted: write it anew
    }
    const c = await this.opts.api.createEvent(record);
    if (c.ok) {
      this.known.set(id, true);
      return { ok: true };
    }
    if (c.status === 409) {
      // It exists already (our earlier create whose answer was lost): bring its count up to date.
      const p = await this.opts.api.patchEvent(item.namespace, e.name, patch);
      if (p.ok) this.known.set(id, true);
      return p.ok ? { ok: true } : p;
    }
    return c;
  }

  private async lookupUid(): Promise<void> {
    if (this.nodeUid !== undefined || !this.opts.nodeUid) return;
    this.nodeUid = await this.opts.nodeUid();
  }
}
