/** Shared jest settings: TypeScript through swc, tests under test/, a JSON report per package. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  // `--randomize` shuffles files too, not only the tests inside each
  testSequencer: require.resolve('./jest.sequencer.js'),
};
