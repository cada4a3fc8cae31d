// worst-case-bench.ts: CPU time of the inputs built to be slow, measured here rather than in the
// tests (tests never assert time): 100k junk lines through the text guard, 1,000 16 KiB
// "IN=IN=…" lines through the packet-log scan (quadratic once), NPD's kernel monitor through the
// rule loader, and a ~16 MB multi-line message capped by the condition state. CPU ms
// (process.cpuUsage) per run. Run alone with `npx tsx bench/worst-case-bench.ts`; bench/run.ts
// calls runWorstCaseBench().
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../agent/runtime/clock';
import { loadRuleFiles } from '../agent/config/rule-files';
import { parseDropPrefixes, PrefixMatcher } from '../agent/engine/drop-prefixes';
import { parsePacketLog } from '../agent/engine/packet-log';
import { guardText } from '../agent/sources/text-guard';
import { ConditionState } from '../agent/state/conditions';
import { newSourceStats } from '../agent/types';

export interface WorstCaseBenchResult {
  /** 100,000 lines: binary, invalid UTF-8, empty, blank, 1 MiB, good. */
  textGuardJunkMs: number;
  /** 1,000 lines of 16 KiB that look like the start of a packet log again and again. */
  packetLogWorstMs: number;
  /** One load of rules/kernel-monitor.json (NPD's), averaged over 20. */
  ruleLoadMs: number;
  /** One permanent problem whose message is ~16 MB (1,000 lines of 8,000 'é'). */
  hugeConditionMessageMs: number;
}

const here = dirname(fileURLToPath(import.meta.url));

async function cpuMs(f: () => unknown): Promise<number> {
  const a = process.cpuUsage();
  await f();
  const d = process.cpuUsage(a);
  return Math.round((d.user + d.system) / 100) / 10;
}

export async function runWorstCaseBench(): Promise<WorstCaseBenchResult> {
  const mib = Buffer.alloc(1 << 20, 0x41);
  const samples = [
    Buffer.from([0, 1, 2, 3, 0xff]),
    Buffer.from([0xc3, 0x28]),
    Buffer.alloc(0),
    Buffer.from('   '),
    mib,
    Buffer.from('ok line'),
  ];
  const stats = newSourceStats();
  const textGuardJunkMs = await cpuMs(() => {
    for (let i = 0; i < 100_000; i++) {
      const s = samples[i % samples.length]!;
      guardText(s, 0, s.length, 16_384, stats);
    }
  });

  const matcher = new PrefixMatcher(
    parseDropPrefixes(['calico-packet:=audit', 'calico-drop:=drop', 'IN:=drop']).prefixes,
  );
  const rep = 'IN='.repeat(Math.ceil(16384 / 3)).slice(0, 16384);
  const lines = [rep, `calico-drop: ${rep}`, `${rep} SRC=1.2.3.4`, `calico-drop: ${rep.slice(0, 16000)} OUT`];
  const t = new Date();
  const packetLogWorstMs = await cpuMs(() => {
    for (let k = 0; k < 1000; k++) parsePacketLog(lines[k % lines.length]!, matcher, t);
  });

  const rules = join(here, '../rules/kernel-monitor.json');
  await loadRuleFiles([rules]);
  const n = 20;
  const ruleLoadMs =
    Math.round(
      ((await cpuMs(async () => {
        for (let i = 0; i < n; i++) await loadRuleFiles([rules]);
      })) /
        n) *
        10,
    ) / 10;

  const st = new ConditionState(
    [{ type: 'KernelDeadlock', reason: 'KernelHasNoDeadlock', message: 'ok', component: 's' }],
    systemClock,
  );
  const line = `task blocked ${'é'.repeat(8000)}`;
  const huge = Array.from({ length: 1000 }, () => line).join('\n');
  const hugeConditionMessageMs = await cpuMs(() =>
    st.apply({
      kind: 'permanent',
      component: 's',
      condition: 'KernelDeadlock',
      reason: 'DockerHung',
      message: huge,
      time: new Date(),
    }),
  );

  return { textGuardJunkMs, packetLogWorstMs, ruleLoadMs, hugeConditionMessageMs };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runWorstCaseBench().then((r) => console.log(JSON.stringify(r)));
}
