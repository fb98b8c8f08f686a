// Native ESM mode (NODE_OPTIONS=--experimental-vm-modules, set by `npm test`):
// openid-client, oidc-provider and jose ship ESM only, and CommonJS mode fails on them.
// @swc/jest strips types only; `npm test` runs tsc first for the type-check.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    }],
  },
  // Sources import siblings as './x.js' (NodeNext); point jest at the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testTimeout: 30000,
  // The secret ledger: every token the test authorization servers issue is
  // checked against every captured output when the run ends (test/helpers/secret-ledger.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
};
