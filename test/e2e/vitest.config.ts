// test/e2e/vitest.config.ts: the e2e suite (`npm run test:e2e`). It runs the built agent
// (dist/nodewarden.cjs) against the cluster KUBECONFIG names, or against the in-process fake
// API server with NODEWARDEN_E2E_FAKE=1. With neither it says so and exits 0.
import { defineConfig } from 'vitest/config';

const target =
  process.env.NODEWARDEN_E2E_FAKE === '1'
    ? 'fake API server'
    : process.env.KUBECONFIG
      ? `KUBECONFIG=${process.env.KUBECONFIG}`
      : undefined;
if (target === undefined) {
  console.log(
    'nodewarden e2e: SKIPPED: KUBECONFIG is not set. Set KUBECONFIG to a cluster (admin credentials; ' +
      'NODEWARDEN_E2E_AGENT_KUBECONFIG optionally gives the agent its own, RBAC-limited one), or ' +
      'NODEWARDEN_E2E_FAKE=1 to run against the in-process fake API server.',
  );
} else {
  console.log(`nodewarden e2e: running against ${target}`);
}

export default defineConfig({
  test: {
    include: target === undefined ? [] : ['test/e2e/**/*.e2e.test.ts'],
    passWithNoTests: true,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    // Builds the bundle and installs missing real parts (iptables, iproute2…) as `npm test` does.
    globalSetup: target === undefined ? [] : ['test/helpers/global-setup.ts'],
  },
});
