// Lint: ESLint's recommended rules plus typescript-eslint's (syntax-only, so it stays fast).
// Chosen over oxlint because the npm registry this project installs from serves oxlint's native
// binding only for linux-gnu, which leaves `npm ci` unable to install from the lockfile.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module' },
    rules: {
      // `_name` marks an intentionally unused binding (e.g. a `using _guard` or a callback parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Busy-wait loops with an empty body are deliberate in worker fixtures and benches.
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
);
