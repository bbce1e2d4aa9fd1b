#!/usr/bin/env node
// Sums the jest JSON reports that `pnpm test` leaves in */*/reports/jest.json and prints one
// line "N passed, N failed". Exits non-zero when a test failed or a suite could not run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
let passed = 0;
let failed = 0;
const broken = [];
for (const group of ['apps', 'packages', 'tests']) {
  const dir = path.join(root, group);
  if (!fs.existsSync(dir)) continue;
  for (const name of fs.readdirSync(dir)) {
    const report = path.join(dir, name, 'reports', 'jest.json');
    if (!fs.existsSync(report)) continue;
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    if (r.numRuntimeErrorTestSuites > 0 || (r.numFailedTestSuites > 0 && r.numFailedTests === 0)) {
      broken.push(`${group}/${name}`);
      failed += Math.max(1, r.numRuntimeErrorTestSuites);
    }
  }
}
if (process.argv.includes('--runner-failed') && failed === 0) {
  // the test run failed before any jest report said so (e.g. a build step): count it
  console.error('the test command failed outside the jest reports');
  failed = 1;
}
if (broken.length > 0) console.error(`suites that could not run: ${broken.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
