/**
 * ts-jest transpiles each file on its own (isolatedModules: no type check here, `npm run typecheck`
 * does that), which keeps the suite fast. ts-jest rather than a native transpiler because native
 * binaries for other platforms cannot be recorded in the lockfile from this registry, and `npm ci`
 * refuses a lockfile that lacks them.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 30000,
  maxWorkers: 2,
};
