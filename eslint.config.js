// Lint: typescript-eslint's recommended rules plus the dependency direction of
// docs/ARCHITECTURE.md — shared/ and metadata/ never import an application, and
// no application imports another.
import tseslint from 'typescript-eslint';

const apps = ['gateway', 'workers', 'ai-proxy'];
const appImport = (name) => [`**/${name}/**`, `../${name}/*`, `../../${name}/*`];

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.tmp/**', 'import-ui/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['shared/**/*.ts', 'metadata/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: apps.flatMap(appImport) }],
    },
  },
  ...apps.map((app) => ({
    files: [`${app}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: apps.filter((a) => a !== app).flatMap(appImport) }],
    },
  })),
);
