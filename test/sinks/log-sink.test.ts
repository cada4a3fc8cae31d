// log-sink.test.ts: problems are logged with kernel text in a field, and a flood of one reason is
// summarised instead of logged line by line.
import { describe, expect, it } from 'vitest';
import { LogSink } from '../../agent/sinks/log-sink';
import type { Logger } from '../../agent/types';
import { FakeClock } from '../helpers/fake-clock';

function capture(): { logger: Logger; lines: { obj: Record<string, unknown>; msg: string | undefined }[] } {
  const lines: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const rec = (obj: object, msg?: string): void => void lines.push({ obj: obj as Record<string, unknown>, msg });
  const logger: Logger = { debug: rec, info: rec, warn: rec, error: rec, child: () => logger };
  return { logger, lines };
}

describe('LogSink', () => {
  it('logs a problem with its text in a field and the log time as logTime', () => {
    const { logger, lines } = capture();
    const sink = new LogSink(logger, new FakeClock());
    const time = new Date('2026-01-01T00:00:00Z');
    sink.onProblem({
      kind: 'temporary',
      component: 'kernel-monitor',
      reason: 'OOMKilling',
      message: '%s%n Killed process',
      time,
    });
    expect(lines).toEqual([
      {
        obj: {
          kind: 'temporary',
          source: 'kernel-monitor',
          reason: 'OOMKilling',
          message: '%s%n Killed process',
          logTime: time.toISOString(),
        },
        msg: 'problem',
      },
    ]);
  });

  it('logs 10 problems per reason per 10 s, then says how many it held back', () => {
    const { logger, lines } = capture();
    const clock = new FakeClock();
    const sink = new LogSink(logger, clock);
    const p = (reason: string) => ({
      kind: 'temporary' as const,
      component: 's',
      reason,
      message: 'm',
      time: new Date(clock.now()),
    });
    for (let i = 0; i < 500; i++) sink.onProblem(p('Flood'));
    sink.onProblem(p('Other'));
    expect(lines.filter((l) => l.obj.reason === 'Flood')).toHaveLength(10);
    expect(lines.filter((l) => l.obj.reason === 'Other')).toHaveLength(1);
    clock.advance(10_000);
    sink.onProblem(p('Flood'));
    expect(lines.find((l) => l.msg === 'more problems not logged')?.obj).toMatchObject({
      reason: 'Flood',
      suppressed: 490,
    });
    expect(lines.at(-1)?.msg).toBe('problem');
  });

  it('logs each packet drop at debug, and builds nothing when debug is off', () => {
    const drop = {
      time: new Date('2026-01-01T00:00:00Z'),
      prefix: 'calico-drop:',
      verdict: 'drop' as const,
      inIf: 'eth0',
      outIf: 'cali1',
      family: 4 as const,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      proto: 'tcp',
      dstPort: 80,
    };
    for (const level of ['debug', 'info'] as const) {
      const { logger, lines } = capture();
      let asked = 0;
      const sink = new LogSink(
        {
          ...logger,
          isLevelEnabled: (l) => (asked++, l === 'error' || l === 'warn' || l === 'info' || level === 'debug'),
        },
        new FakeClock(),
      );
      sink.onPacketDrop(drop);
      expect(asked).toBe(1);
      expect(lines).toEqual(
        level === 'debug'
          ? [
              {
                obj: {
                  verdict: 'drop',
                  src: '10.0.0.1',
                  dst: '10.0.0.2',
                  proto: 'tcp',
                  dport: 80,
                  in: 'eth0',
                  out: 'cali1',
                  logTime: drop.time.toISOString(),
                },
                msg: 'packet dropped',
              },
            ]
          : [],
      );
    }
    // A logger that cannot say (no isLevelEnabled) gets every call, as before.
    const { logger, lines } = capture();
    new LogSink(logger, new FakeClock()).onPacketDrop(drop);
    expect(lines).toHaveLength(1);
  });
});
