import assert from 'node:assert/strict';
import { countActions, exitCodeOf, type RotationReport, renderReport, type SecretReport } from '../../../shared/rotate/report.js';
import { rotationMetrics } from '../../../shared/rotate/rotate-job.js';

const base = (secrets: Array<Partial<SecretReport>>, dryRun = false): RotationReport => ({
  dryRun,
  now: '2026-03-01T03:00:00.000Z',
  durationMs: 1500,
  secrets: secrets.map((s, i) => ({ namespace: 'ns', name: `s${i}`, action: 'rotated', detail: 'd', ...s })),
  workloads: [],
  cleanups: [],
});

describe('shared/rotate/report', () => {
  const rows: Array<[string, Array<Partial<SecretReport>>, number]> = [
    ['nothing to do', [], 0],
    [
      'rotated, skipped, deferred and not due',
      [{ action: 'rotated' }, { action: 'skipped' }, { action: 'deferred' }, { action: 'not-due' }],
      0,
    ],
    ['a rollback', [{ action: 'rotated' }, { action: 'rolled-back' }], 1],
    ['a failed rollback', [{ action: 'rollback-failed' }], 1],
    ['an invalid policy', [{ action: 'invalid' }], 1],
    ['a permanent failure beside a transient one', [{ action: 'failed', transient: true }, { action: 'failed' }], 1],
    ['only transient failures', [{ action: 'failed', transient: true }, { action: 'rotated' }], 4],
  ];
  for (const [label, secrets, code] of rows) {
    it(`exits ${code} for ${label}`, () => {
      assert.equal(exitCodeOf(base(secrets)), code);
    });
  }

  it('renders a plan that says nothing was written', () => {
    const text = renderReport(
      base([{ action: 'would-rotate', strategy: 'versioned', keys: ['API_KEY'], consumers: ['deployment/web'], version: 'keys-v2' }], true),
    );

    assert.match(text, /^Dry run at 2026-03-01T03:00:00.000Z: nothing written\./);
    assert.match(text, /ns\/s0\s+would-rotate\s+versioned\s+API_KEY\s+deployment\/web\s+-> keys-v2; d/);
  });

  it('turns a run into metrics', () => {
    const r = base([
      { action: 'rotated' },
      { action: 'rolled-back' },
      { action: 'rollback-failed' },
      { action: 'invalid' },
      { action: 'skipped' },
    ]);

    const m = Object.fromEntries(
      rotationMetrics(r, exitCodeOf(r), new Date('2026-03-01T03:00:02Z')).map((s) => [
        `${s.metric.name}${s.labels?.result ? `{${s.labels.result}}` : ''}`,
        s.value,
      ]),
    );

    assert.deepEqual(countActions(r).rotated, 1);
    assert.equal(m['secret_steward_rotate_secrets{rotated}'], 1);
    assert.equal(m['secret_steward_rotate_secrets{rolled_back}'], 2);
    assert.equal(m['secret_steward_rotate_secrets{failed}'], 1);
    assert.equal(m['secret_steward_rotate_secrets{skipped}'], 1);
    assert.equal(m['secret_steward_rotate_secrets{deferred}'], 0);
    assert.equal(m.secret_steward_rotate_success, 0);
    assert.equal(m.secret_steward_rotate_duration_seconds, 1.5);
    assert.equal(m.secret_steward_rotate_last_run_timestamp_seconds, Date.parse('2026-03-01T03:00:02Z') / 1000);
    assert.equal(m.secret_steward_rotate_last_success_timestamp_seconds, undefined, 'only after a fully successful run');
  });
});
