// conditions.ts: the node's condition state for the declared condition types. Conditions start
// at their defaults (False, default reason and message) or at what the Node already says (adopt),
// permanent problems set them True (a repeat with the same reason changes nothing, as in NPD), and
// the nodewarden extension `recoverAfter` takes a condition back to its default after that long
// without a matching line. A problem's message is untrusted kernel text (a multi-line match can
// be megabytes): it is capped at 1 KiB with a marker here, once, so /conditions, the logs and
// the Node all carry the same text. Custom plugin results set conditions directly with set()
// (True, False or Unknown). Pure: time comes from the injected clock or the caller.
import { MESSAGE_LIMIT_BYTES, capMessage } from '../cap-message';
import { conditionChangeMessage } from '../engine/go-quote';
import type { Clock, Condition, ConditionChange, ConditionSpec, NodeEvent, Problem } from '../types';

/** Condition messages are capped at this many UTF-8 bytes (with the truncation marker). */
export const CONDITION_MESSAGE_LIMIT_BYTES = MESSAGE_LIMIT_BYTES;

/** A declared condition type and the Event component (rule file `source`) that declared it. */
export interface DeclaredCondition extends ConditionSpec {
  readonly component: string;
}

interface Entry {
  spec: DeclaredCondition;
  cond: Condition;
  /** Epoch ms of the last matching problem while True (for recoverAfter). */
  lastMatchAt: number;
}

export class ConditionState {
  private entries = new Map<string, Entry>();

  constructor(
    specs: readonly DeclaredCondition[],
    private readonly clock: Clock,
  ) {
    const now = new Date(clock.now());
    for (const spec of specs) {
      if (this.entries.has(spec.type)) continue; // first declaration wins
      this.entries.set(spec.type, { spec, cond: defaultCondition(spec, now), lastMatchAt: clock.now() });
    }
    for (const t of this.entries.keys()) this.untouched.add(t);
  }

  /** Conditions read from the Node replace the defaults of the same (declared) types. */
  adopt(existing: readonly Condition[]): void {
    const now = this.clock.now();
    for (const c of existing) {
      const e = this.entries.get(c.type);
      if (e === undefined) continue;
      e.cond = {
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastTransitionTime: c.lastTransitionTime,
      };
      // We do not know when the last matching line was; count recoverAfter from now.
      e.lastMatchAt = now;
    }
  }

  /**
   * Late adoption (the Node could not be read at start): a condition nothing has changed since
   * start (still its default) takes the Node's value; conditions the logs already changed keep
   * theirs. Returns the sources whose conditions were adopted.
   */
  adoptWhereUntouched(existing: readonly Condition[]): Set<string> {
    const sources = new Set<string>();
    for (const c of existing) {
      const e = this.entries.get(c.type);
      if (e === undefined || !this.untouched.has(c.type)) continue;
      this.adopt([c]);
      sources.add(e.spec.component);
    }
    this.untouched.clear();
    return sources;
  }

  /** Types still at the value they started with (no problem or recovery changed them). */
  private readonly untouched = new Set<string>();

  /** Applies a problem; returns the change for a permanent problem that changes its condition. */
  apply(problem: Problem): ConditionChange | undefined {
    if (problem.kind !== 'permanent' || problem.condition === undefined) return undefined;
    const e = this.entries.get(problem.condition);
    if (e === undefined) return undefined;
    e.lastMatchAt = this.clock.now();
    const prev = e.cond;
    if (prev.status === 'True' && prev.reason === problem.reason) return undefined;
    this.untouched.delete(prev.type);
    const message = capMessage(problem.message, CONDITION_MESSAGE_LIMIT_BYTES).text;
    e.cond = { type: prev.type, status: 'True', reason: problem.reason, message, lastTransitionTime: problem.time };
    return { component: problem.component, condition: e.cond, previous: prev };
  }

  /** The current condition of a declared type. */
  get(type: string): Condition | undefined {
    return this.entries.get(type)?.cond;
  }

  /**
   * Sets a declared condition to a status, reason and message decided elsewhere (custom plugin
   * results, which can also be Unknown); returns the change. The caller decides whether it is one.
   */
  set(type: string, next: Pick<Condition, 'status' | 'reason' | 'message'>, at: Date): ConditionChange | undefined {
    const e = this.entries.get(type);
    if (e === undefined) return undefined;
    const prev = e.cond;
    this.untouched.delete(type);
    const message = capMessage(next.message, CONDITION_MESSAGE_LIMIT_BYTES).text;
    e.cond = { type, status: next.status, reason: next.reason, message, lastTransitionTime: at };
    return { component: e.spec.component, condition: e.cond, previous: prev };
  }

  /** Recovers conditions whose recoverAfter has passed; returns the changes. */
  tick(nowMs: number = this.clock.now()): ConditionChange[] {
    const out: ConditionChange[] = [];
    for (const e of this.entries.values()) {
      const after = e.spec.recoverAfterMs;
      if (after === undefined || e.cond.status !== 'True') continue;
      const due = e.lastMatchAt + after;
      if (nowMs < due) continue;
      const prev = e.cond;
      e.cond = defaultCondition(e.spec, new Date(due));
      out.push({ component: e.spec.component, condition: e.cond, previous: prev });
    }
    return out;
  }

  /** Epoch ms at which tick() has work, or undefined. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const e of this.entries.values()) {
      const after = e.spec.recoverAfterMs;
      if (after === undefined || e.cond.status !== 'True') continue;
      const due = e.lastMatchAt + after;
      if (next === undefined || due < next) next = due;
    }
    return next;
  }

  current(): Condition[] {
    return [...this.entries.values()].map((e) => e.cond);
  }

  /** Conditions declared by one source. */
  currentFor(source: string): Condition[] {
    return [...this.entries.values()].filter((e) => e.spec.component === source).map((e) => e.cond);
  }

  /** Hot reload: keep the state of types still declared, add new ones at default, drop others. */
  replaceSpecs(specs: readonly DeclaredCondition[]): void {
    const now = this.clock.now();
    const next = new Map<string, Entry>();
    for (const spec of specs) {
      if (next.has(spec.type)) continue;
      const old = this.entries.get(spec.type);
      if (old !== undefined) {
        // A False condition still at its old default takes the new default text.
        const atDefault =
          old.cond.status === 'False' && old.cond.reason === old.spec.reason && old.cond.message === old.spec.message;
        const cond = atDefault ? { ...old.cond, reason: spec.reason, message: spec.message } : old.cond;
        next.set(spec.type, { spec, cond, lastMatchAt: old.lastMatchAt });
      } else {
        next.set(spec.type, { spec, cond: defaultCondition(spec, new Date(now)), lastMatchAt: now });
      }
    }
    this.entries = next;
  }
}

function defaultCondition(spec: ConditionSpec, at: Date): Condition {
  return { type: spec.type, status: 'False', reason: spec.reason, message: spec.message, lastTransitionTime: at };
}

/** The condition types files declare, each with its file's component. */
export function declaredIn(
  files: readonly { readonly component: string; readonly conditions: readonly ConditionSpec[] }[],
): DeclaredCondition[] {
  return files.flatMap((f) => f.conditions.map((c) => ({ ...c, component: f.component })));
}

/** NPD's util.GenerateConditionChangeEvent: Warning when True, Normal otherwise. */
export function conditionChangeEvent(change: ConditionChange, involved: NodeEvent['involved']): NodeEvent {
  const c = change.condition;
  return {
    involved,
    type: c.status === 'True' ? 'Warning' : 'Normal',
    reason: c.reason,
    message: conditionChangeMessage(c.type, c.status, c.reason, c.message),
    component: change.component,
    time: c.lastTransitionTime,
  };
}
