import { it } from 'vitest';
import { parseDropPrefixes, PrefixMatcher } from '/work/main/agent/engine/drop-prefixes';
import { parsePacketLog } from '/work/main/agent/engine/packet-log';
const matcher = new PrefixMatcher(parseDropPrefixes(['calico-drop:=drop']).prefixes);
it('b', () => {
  const rep = 'IN='.repeat(Math.ceil(16384 / 3)).slice(0, 16384);
  const lines = [rep, `calico-drop: ${rep}`, `${rep} SRC=1.2.3.4`, `calico-drop: ${rep.slice(0, 16000)} OUT`];
  for (const l of lines) { const t0 = performance.now(); for (let k = 0; k < 250; k++) parsePacketLog(l, matcher, new Date()); console.log((performance.now() - t0)/250); }
});
