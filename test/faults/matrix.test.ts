import assert from 'node:assert/strict';
import { KINDS } from './kinds.js';
import { type MatrixReport, renderTable, runMatrix, violationsOf } from './matrix.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * The CI share of the fault matrix (issue 9): one case per job and fault kind, picked with a
 * fixed seed, so every job meets every kind that can happen to it on each run. The whole matrix
 * runs with `npm run faults` (see README.md in this folder).
 */
describe('test/faults/matrix (sampled: one case per job and fault kind)', function () {
  // A hang detector for the whole sample, not a speed limit: a busy machine takes several times as long.
  this.timeout(1_800_000);
  let report: MatrixReport;

  before(async () => {
    report = await runMatrix({ sample: 1, seed: 9 });
    process.stdout.write(`\n${renderTable(report)}      ${report.results.length} cases in ${(report.wallMs / 1000).toFixed(0)}s\n`);
  });

  it('finds no invariant violation', () => {
    assert.deepEqual(violationsOf(report), []);
  });

  it('ran every job with every fault kind that can happen to one of its requests', () => {
    assert.deepEqual(
      report.baselines.map((b) => b.job),
      SCENARIOS.map((s) => s.job),
    );
    for (const b of report.baselines) {
      const ran = new Set(report.results.filter((r) => r.job === b.job).map((r) => r.kind));
      assert.deepEqual([...ran].sort(), [...b.kinds].sort(), b.job);
    }
    assert.deepEqual(new Set(report.results.map((r) => r.kind)), new Set(KINDS.map((k) => k.id)), 'every kind ran somewhere');
  });

  it('reached the request of every case (the runs are deterministic enough to find it again)', () => {
    assert.deepEqual(
      report.results.filter((r) => r.outcome === 'not-reached').map((r) => r.id),
      [],
    );
  });
});
