import { generateCorpus } from './corpus';
import { compileSyslogParser } from '../agent/engine/syslog-line';
const L = generateCorpus({ lines: 300000, form: 'syslog', seed: 1 });
const parse = compileSyslogParser({ timestamp: '^.{15}', message: 'kernel: \\[.*\\] (.*)', timestampFormat: 'Jan _2 15:04:05' }, { now: () => Date.now(), setTimer: () => () => {} });
let n = 0; const t = process.hrtime.bigint();
for (let r = 0; r < 3; r++) for (const l of L) if (parse(l)) n++;
console.log(Number(process.hrtime.bigint() - t) / (3 * L.length), n);
