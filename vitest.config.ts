// vitest.config.ts: test runner settings, as two projects. `unit`: unit and contract tests (in
// memory, the fake clock, the fake API server over loopback HTTP); they need neither root nor
// the bundle. `system`: the suites that use real parts of the machine (/dev/kmsg, iptables in
// network namespaces, rsyslogd, dnsmasq, Prometheus, promtool) or run the built bundle; only this
// project's global setup builds dist/nodewarden.cjs and installs missing parts
// (test/helpers/system-parts.ts). `npm test` runs both; `npm run test:unit` and
// `npm run test:system` one each. The e2e suite (test/e2e/) runs only through `npm run test:e2e`.
import { defineConfig } from 'vitest/config';

/** The suites that need real parts or the bundle. A new one is added here (a test checks that). */
export const SYSTEM_SUITES = [
  'test/agent.test.ts',
  'test/drops-real.test.ts',
  'test/log-counter-real.test.ts',
  'test/main.test.ts',
  'test/manifests/image.test.ts',
  'test/manifests/prometheusrule.test.ts',
  'test/manifests/third-party-licenses.test.ts',
  'test/prometheus-real.test.ts',
  'test/replay-drops.test.ts',
  'test/reverse-dns.test.ts',
  'test/sources/file-rsyslog.test.ts',
  'test/sources/journald-real.test.ts',
  'test/sources/kmsg.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'node_modules/**', ...SYSTEM_SUITES],
        },
      },
      {
        extends: true,
        test: { name: 'system', include: SYSTEM_SUITES, globalSetup: ['test/helpers/global-setup.ts'] },
      },
    ],
  },
});
