// node-adoption.ts: the one reader of this agent's Node. It owns reading the Node's conditions
// and uid; nothing downstream reads the Node itself.
// - At start, read() reads the Node (retrying with backoff until a deadline) so the detector
//   starts from the conditions of our types the Node already shows (NPD #304 resets them).
// - When the API server was down past that deadline, readLater() keeps trying on the injected
//   clock (CONDITION_BACKOFF: capped at 10 s, full jitter; Retry-After wins up to 1 min; every
//   failure is retried, since RBAC or node registration can be fixed while we run). On the first
//   successful read it hands the conditions to its `onRead` callback once. The composition root
//   wires that to the detector, then to the condition exporter's release, so the defaults the
//   detector set meanwhile never overwrite what the Node shows.
// - nodeUid() gives the event exporter the Node's uid (kubectl describe node lists Events by
//   it): known → at once; otherwise one read now (shared with any read in flight). A read that
//   also completes a pending late adoption. A 403/404 for a uid read is not asked again unless a
//   late adoption is pending.
// Control flows one way: this is upstream of the detector and the exporters, and calls only
// the callback it was given.
import { backoffDelay, CONDITION_BACKOFF, type BackoffPolicy } from '../runtime/backoff';
import { errText } from '../runtime/err-text';
import { DueTimer } from '../runtime/timer';
import type { Clock, Condition, Logger } from '../types';
import type { ApiResult, NodeSnapshot, NodeStatusApi, WireCondition } from './types';
import { KUBELET_CONDITION_TYPES } from './types';

export interface NodeAdoptionOptions {
  readonly api: NodeStatusApi;
  readonly nodeName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default CONDITION_BACKOFF. */
  readonly backoff?: BackoffPolicy;
  /** [0, 1) source for jitter (default Math.random). */
  readonly random?: () => number;
}

interface Late {
  readonly types: () => readonly string[];
  readonly onRead: (conditions: Condition[]) => void;
}

export class NodeAdoption {
  /** The Node's uid once read. */
  uid: string | undefined;
  private late: Late | undefined;
  private attempt = 0;
  private inFlight: Promise<ApiResult<NodeSnapshot>> | undefined;
  private uidGivenUp = false;
  private stopped = false;
  private readonly timer: DueTimer;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: NodeAdoptionOptions) {
    this.backoff = opts.backoff ?? CONDITION_BACKOFF;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger.child({ component: 'node-adoption' });
    this.timer = new DueTimer(opts.clock, () => void this.tryNow());
  }

  /**
   * Reads the Node's conditions of `types` (kubelet types never count), retrying retryable
   * failures with backoff while the next try starts before `deadline` (epoch ms). Undefined when
   * it gave up; then readLater() takes over.
   */
  async read(types: readonly string[], deadline: number): Promise<Condition[] | undefined> {
    for (let attempt = 1; !this.stopped; attempt++) {
      const r = await this.get();
      if (r.ok) return ours(r.value.conditions, types, this.opts.clock.now());
      const wait = backoffDelay(attempt, this.backoff, this.random, r.retryAfterMs);
      if (!r.retryable || this.opts.clock.now() + wait >= deadline) {
        this.log.warn(
          { error: r.error },
          'cannot read the Node to adopt its conditions yet; retrying in the background, and nothing is written to it before',
        );
        return undefined;
      }
      await new Promise<void>((resolve) => this.opts.clock.setTimer(resolve, wait));
    }
    return undefined;
  }

  /** Keeps reading until it succeeds, then calls onRead once with the conditions of types(). */
  readLater(types: () => readonly string[], onRead: (conditions: Condition[]) => void): void {
    if (this.stopped || this.late) return;
    this.late = { types, onRead };
    this.attempt = 0;
    this.timer.armIn(0);
  }

  /** Whether a late adoption is still waiting for the Node. */
  get pending(): boolean {
    return this.late !== undefined;
  }

  /** One read now, if a late adoption is pending (a stop's flush, or the retry timer). */
  async tryNow(): Promise<void> {
    if (this.late === undefined || this.stopped) return;
    const r = await this.get();
    if (this.late === undefined || this.stopped || r.ok) return;
    this.attempt++;
    this.timer.armWithin(backoffDelay(this.attempt, this.backoff, this.random, r.retryAfterMs));
  }

  /** The Node's uid, reading the Node once now if it is not known yet. */
  async nodeUid(): Promise<string | undefined> {
    if (this.uid !== undefined || (this.uidGivenUp && this.late === undefined) || this.stopped) return this.uid;
    const r = await this.get();
    if (!r.ok && !r.retryable) this.uidGivenUp = true;
    return this.uid;
  }

  stop(): void {
    this.stopped = true;
    this.late = undefined;
    this.timer.cancel();
  }

  /** One GET of the Node, shared by concurrent callers; a success completes a late adoption. */
  private get(): Promise<ApiResult<NodeSnapshot>> {
    this.inFlight ??= this.opts.api
      .getNode(this.opts.nodeName)
      .catch((err: unknown): ApiResult<NodeSnapshot> => ({ ok: false, retryable: true, error: errText(err) }))
      .then((r) => {
        this.inFlight = undefined;
        if (r.ok) this.got(r.value);
        return r;
      });
    return this.inFlight;
  }

  private got(node: NodeSnapshot): void {
    this.uid = node.uid;
    const late = this.late;
    if (late === undefined || this.stopped) return;
    this.late = undefined;
    this.timer.cancel();
    const found = ours(node.conditions, late.types(), this.opts.clock.now());
    this.log.info(
      { conditions: found.map((c) => `${c.type}=${c.status}`) },
      'read the Node late; adopting its conditions',
    );
    late.onRead(found);
  }
}

/** The Node's conditions of `types` (kubelet types excluded), as Conditions. */
function ours(conditions: readonly WireCondition[], types: readonly string[], nowMs: number): Condition[] {
  const wanted = new Set(types.filter((t) => !KUBELET_CONDITION_TYPES.has(t)));
  const now = new Date(nowMs);
  return conditions
    .filter((c) => wanted.has(c.type))
    .map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: c.lastTransitionTime ?? now,
    }));
}
