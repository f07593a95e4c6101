/**
 * Two projects, so the fast loop stays fast:
 * - `unit`: pure logic and handler tests with in-memory adapters (test/unit, test/handlers). No Azurite, no
 *   emulator, no sockets, no child processes: `npm run test:unit` finishes in seconds.
 * - `integration`: real protocols (test/integration, test/emulator): in-process Azurite, the IoT Hub emulator over
 *   HTTP and AMQP, the standalone host in a child process. `npm run test:integration`.
 * `npm test` (what CI runs) runs both.
 *
 * ts-jest transpiles each file on its own (isolatedModules: no type check here, `npm run typecheck`
 * does that), which keeps the suite fast. ts-jest rather than a native transpiler because native
 * binaries for other platforms cannot be recorded in the lockfile from this registry, and `npm ci`
 * refuses a lockfile that lacks them.
 */
const shared = {
  testEnvironment: 'node',
  rootDir: __dirname,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/handlers/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      // test/integration and test/emulator, and any other test folder (so `npm test` never skips a new one).
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/', '<rootDir>/test/handlers/'],
    },
  ],
  testTimeout: 30000,
  maxWorkers: 2,
};
