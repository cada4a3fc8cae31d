// global-setup.ts: builds dist/nodewarden.cjs once before the tests, so tests that run the agent
// as a child process run exactly the bundle that ships.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [resolve(__dirname, '../../scripts/build.mjs')], { cwd: resolve(__dirname, '../..'), stdio: 'inherit' });
}
