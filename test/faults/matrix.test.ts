import assert from 'node:assert/strict';
import { requireS3Server } from '../support/s3-server.js';
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

/**
 * The same matrix with Ceph RGW behind the fault proxy instead of s3rver, sampled smaller: the
 * jobs that use the store, one case of each S3 fault kind that reaches the store differently
 * than s3rver would: a dropped upload or a failing part (half a body, then an abort, in a real
 * store), a cut or truncated download. 500 and SlowDown are answered by the proxy itself and
 * retried; a sampled SIGKILL lands on a random request, rarely an upload. Both run, with every
 * other kind and every case, in `npm run faults -- --server rgw`.
 */
describe('test/faults/matrix against Ceph RGW (sampled: the store jobs, faults that reach the store)', function () {
  this.timeout(600_000);
  const PROXY_ANSWERS = new Set(['s3-500', 's3-slowdown']);
  const kinds = KINDS.filter((k) => k.layer === 's3' && !PROXY_ANSWERS.has(k.id)).map((k) => k.id);
  let report: MatrixReport;

  before(async function () {
    requireS3Server(this, 'rgw');
    report = await runMatrix({ server: 'rgw', kinds, sample: 1, seed: 9 });
    process.stdout.write(
      `\n${renderTable(report)}      ${report.results.length} cases against RGW in ${(report.wallMs / 1000).toFixed(0)}s\n`,
    );
  });

  it('finds no invariant violation', () => {
    assert.deepEqual(violationsOf(report), []);
  });

  it('ran every job that uses the store with every sampled kind that can happen to one of its requests', () => {
    assert.deepEqual(
      report.baselines.map((b) => b.job),
      SCENARIOS.filter((s) => s.usesStore).map((s) => s.job),
    );
    for (const b of report.baselines) {
      const ran = new Set(report.results.filter((r) => r.job === b.job).map((r) => r.kind));
      assert.deepEqual([...ran].sort(), [...b.kinds].sort(), b.job);
    }
  });

  it('reached the request of every case', () => {
    assert.deepEqual(
      report.results.filter((r) => r.outcome === 'not-reached').map((r) => r.id),
      [],
    );
  });
});
