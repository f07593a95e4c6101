import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '*.js', '*.mjs', 'test/support/ts-register.js', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['functions/**/*.ts', 'shared/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // The dashboard's browser modules: plain ES modules served as they are, no TypeScript project.
    files: ['dashboard/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'module',
      parserOptions: { projectService: false, project: false, program: null },
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'sessionStorage',
          'fetch',
          'URL',
          'URLSearchParams',
          'Blob',
          'console',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'location',
          'history',
          'HTMLElement',
          'Event',
          'AbortController',
          'navigator',
          'Node',
          'uPlot',
          'requestAnimationFrame',
          'getComputedStyle',
          'Intl',
          'FormData',
          'KeyboardEvent',
        ].map((name) => [name, 'readonly']),
      ),
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-console': 'error' },
  },
  {
    // Plain Node scripts the tests run unchanged in child processes (test/emulator/connect-*.test.ts): CommonJS, no TypeScript project.
    files: ['test/fixtures/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'commonjs',
      parserOptions: { projectService: false, project: false, program: null },
      globals: Object.fromEntries(
        ['require', 'module', 'process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', '__dirname'].map((name) => [name, 'readonly']),
      ),
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Nothing in the product's core may depend on the tools built around it.
    files: ['shared/**/*.ts', 'functions/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/emulator/**', '**/emulator', '**/host/**', '**/host', '**/bench/**', '**/test/**', '**/testing/**'],
              message: 'shared/ and functions/ sit below emulator/, host/, bench/, testing/ and test/.',
            },
          ],
        },
      ],
    },
  },
);
