function b(name: string, f: (i: number) => unknown, N = 200000) { for (let i = 0; i < 20000; i++) f(i); const t = process.hrtime.bigint(); for (let i = 0; i < N; i++) f(i); console.log(name, (Number(process.hrtime.bigint() - t) / N).toFixed(0), 'ns'); }
const base = Date.now();
b('getFullYear', (i) => new Date(base + i * 1000).getFullYear());
b('local ctor', (i) => new Date(2025, 1, 1 + (i % 28), i % 24, i % 60, 0, 0).getTime());
b('utc ctor', (i) => Date.UTC(2025, 1, 1 + (i % 28), i % 24, i % 60, 0, 0));
b('slice lower', (i) => 'Nov 22 03:42:14'.slice(0, 3 + (i & 0)).toLowerCase());
