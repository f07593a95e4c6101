/**
 * Lets a plain `node` child process run the project's TypeScript sources (no build step), the way
 * jest does with @swc/jest: `node -r ./test/support/ts-register.js test/support/standalone-child.ts`.
 */
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS require hook, loaded with `node -r` */
const { readFileSync } = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  });
  module._compile(code, filename);
};
