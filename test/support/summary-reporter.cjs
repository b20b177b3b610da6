'use strict';
/**
 * Mocha's spec reporter plus one closing line that CI reads: `N passed, M failed, K skipped`,
 * computed from mocha's own run statistics (a failing hook counts as a failure, as mocha counts
 * it). With MOCHA_SUMMARY_FILE set, the same figures are also written there as JSON, so that
 * `.ci/run` can repeat the line after npm's own output.
 */
const { writeFileSync } = require('node:fs');
const { reporters } = require('mocha');

class SummaryReporter extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const { passes = 0, failures = 0, pending = 0 } = runner.stats ?? {};
      const line = `${passes} passed, ${failures} failed, ${pending} skipped`;
      process.stdout.write(`\n${line}\n`);
      const file = process.env.MOCHA_SUMMARY_FILE;
      if (file) writeFileSync(file, `${JSON.stringify({ passed: passes, failed: failures, skipped: pending, line })}\n`);
    });
  }
}

module.exports = SummaryReporter;
