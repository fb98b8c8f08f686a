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
};
