// plugin-monitor.ts: runs one custom plugin file's rules, as NPD's plugin runner does: a round
// of every rule at start, then one every invoke_interval, at most `concurrency` plugins at once,
// each killed at its timeout. Rounds never overlap: a round that overruns its interval is
// followed at once by the next, and missed ticks are dropped (Go's ticker). All timing is on the
// injected clock and all processes go through the PluginPort, so this runs on the fake clock in
// tests. Results go to `onResult` in the order runs finish; nothing is reported after stop().
import { errText } from '../runtime/err-text';
import { DueTimer } from '../runtime/timer';
import type { Clock, Logger, PluginFile, PluginRuleSpec } from '../types';
import type { PluginPort, PluginRun } from './plugin-port';
import { verdictOf, type PluginVerdict } from './plugin-result';

/** Counters per plugin file, read by the metrics module at scrape time. */
export interface PluginStats {
  /** Rounds started. */
  rounds: number;
  /** Plugin runs finished (every outcome below counts once here). */
  runs: number;
  ok: number;
  nonOk: number;
  unknown: number;
  /** Programs that could not be started (missing, not executable). */
  startFailures: number;
  /** Runs killed at their timeout. */
  timeouts: number;
  /** Runs whose output passed the kept bytes (the rest was discarded). */
  outputTruncated: number;
  /** Runs whose output passed the drain limit (the pipe was closed on them). */
  outputFlooded: number;
  /** Plugins running now (a gauge). */
  running: number;
}

export function newPluginStats(): PluginStats {
  return {
    rounds: 0,
    runs: 0,
    ok: 0,
    nonOk: 0,
    unknown: 0,
    startFailures: 0,
    timeouts: 0,
    outputTruncated: 0,
    outputFlooded: 0,
    running: 0,
  };
}

export interface PluginMonitorOptions {
  readonly clock: Clock;
  readonly port: PluginPort;
  readonly logger: Logger;
  readonly onResult: (rule: PluginRuleSpec, verdict: PluginVerdict) => void;
}

export class PluginMonitor {
  readonly stats = newPluginStats();
  private readonly timer: DueTimer;
  private readonly running = new Set<AbortController>();
  private startedAt = 0;
  private stopped = false;
  /** The round in flight, for tests and stop. */
  private current: Promise<void> | undefined;

  constructor(
    readonly file: PluginFile,
    private readonly opts: PluginMonitorOptions,
  ) {
    this.timer = new DueTimer(opts.clock, () => this.startRound());
  }

  /** Runs the first round now; the next ones follow on the clock. */
  start(): void {
    this.startedAt = this.opts.clock.now();
    this.startRound();
  }

  /** Cancels the schedule and kills running plugins; their results are not reported. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer.cancel();
    for (const ac of this.running) ac.abort();
  }

  /** Resolves when the round in flight (if any) has finished. */
  idle(): Promise<void> {
    return this.current ?? Promise.resolve();
  }

  private startRound(): void {
    if (this.stopped) return;
    const round = this.round(this.opts.clock.now());
    this.current = round;
    void round.finally(() => {
      if (this.current === round) this.current = undefined;
    });
  }

  private async round(roundStart: number): Promise<void> {
    this.stats.rounds++;
    const queue = [...this.file.rules];
    const worker = async (): Promise<void> => {
      for (let rule = queue.shift(); rule !== undefined && !this.stopped; rule = queue.shift()) {
        await this.runOne(rule);
      }
    };
    const width = Math.min(this.file.concurrency, queue.length);
    await Promise.all(Array.from({ length: width }, worker));
    if (this.stopped) return;
    // Ticks fall at start + k * interval; the next round takes the first tick after this round
    // started (Go's ticker holds one), so an overrun is followed at once and the rest dropped.
    const interval = this.file.invokeIntervalMs;
    const next = this.startedAt + (Math.floor((roundStart - this.startedAt) / interval) + 1) * interval;
    this.timer.armBy(next);
  }

  private async runOne(rule: PluginRuleSpec): Promise<void> {
    const { clock, port } = this.opts;
    const ac = new AbortController();
    let timedOut = false;
    const cancelTimeout = clock.setTimer(() => {
      timedOut = true;
      ac.abort();
    }, rule.timeoutMs);
    this.running.add(ac);
    this.stats.running++;
    let run: PluginRun;
    try {
      run = await port.run({ path: rule.path, args: rule.args, signal: ac.signal });
    } catch (e) {
      run = { kind: 'failed', error: errText(e) };
    } finally {
      cancelTimeout();
      this.running.delete(ac);
      this.stats.running--;
    }
    if (this.stopped) return;
    const verdict = verdictOf(run, { path: rule.path, timedOut, maxOutputLength: this.file.maxOutputLength });
    this.count(run, timedOut, verdict);
    if (run.kind === 'failed') {
      this.opts.logger.warn({ path: rule.path, reason: rule.reason, err: run.error }, 'plugin could not start');
    } else if (timedOut) {
      this.opts.logger.warn({ path: rule.path, reason: rule.reason, timeoutMs: rule.timeoutMs }, 'plugin timed out');
    } else if (verdict.status !== 'ok' && run.stderr !== '') {
      // NPD logs a failing plugin's stderr; it is the plugin's own diagnosis.
      this.opts.logger.info({ path: rule.path, reason: rule.reason, stderr: run.stderr }, 'plugin stderr');
    }
    this.opts.onResult(rule, verdict);
  }

  private count(run: PluginRun, timedOut: boolean, verdict: PluginVerdict): void {
    const s = this.stats;
    s.runs++;
    if (verdict.status === 'ok') s.ok++;
    else if (verdict.status === 'nonok') s.nonOk++;
    else s.unknown++;
    if (run.kind === 'failed') {
      s.startFailures++;
      return;
    }
    if (timedOut) s.timeouts++;
    if (run.truncated) s.outputTruncated++;
    if (run.flooded) s.outputFlooded++;
  }
}
