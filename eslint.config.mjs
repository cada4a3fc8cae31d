// eslint.config.mjs: the minimal lint every change passes (npm test runs it). Formatting is
// Prettier's job (.prettierrc.json); this catches mistakes tsc does not: unused code, `any`,
// constant conditions, control characters in patterns.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // A `let` a closure reads before its one assignment cannot be a `const`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The agent's memory cuts (README, Memory cuts): Date's UTC text methods load ICU's time
    // zones on first use (agent/runtime/utc-time.ts has the replacements), and node:fs/promises
    // loads readline and fs.watch (agent/runtime/fs-async.ts; the build checks the bundle too).
    files: ['agent/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(toISOString|toUTCString|toJSON)$/]',
          message: 'Use isoString/isoSeconds/httpDate from agent/runtime/utc-time.ts (no ICU time zones).',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:fs/promises', message: 'Use agent/runtime/fs-async.ts.' },
            { name: 'fs/promises', message: 'Use agent/runtime/fs-async.ts.' },
          ],
        },
      ],
    },
  },
  {
    // Manifest tests walk parsed YAML documents of many kinds; `any` is the honest type there.
    files: ['test/manifests/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
