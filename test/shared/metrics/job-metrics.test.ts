import assert from 'node:assert/strict';
import { backupMetrics } from '../../../shared/backup/backup-job.js';
import { ExitCode } from '../../../shared/errors/exit-codes.js';
import type { MetricSample } from '../../../shared/metrics/catalogue.js';
import { restoreMetrics } from '../../../shared/restore/restore-job.js';
import { emptyRestoreReport } from '../../../shared/restore/run-restore.js';
import type { DrillReport } from '../../../shared/verify-restore/drill-report.js';
import { drillMetrics } from '../../../shared/verify-restore/verify-restore-job.js';

const NOW = new Date('2026-12-07T02:10:00Z');
const FPR = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
const byName = (samples: MetricSample[]) =>
  Object.fromEntries(
    samples.map((s) => [`${s.metric.name}${Object.keys(s.labels ?? {}).length ? JSON.stringify(s.labels) : ''}`, s.value]),
  );

describe('shared/metrics: what each job pushes', () => {
  it('backup: a failed run pushes success 0 and its last run, keeps last success, and the keys it loaded', () => {
    const m = byName(backupMetrics(NOW, { keys: [{ role: 'signing', fingerprint: FPR, expiresAt: new Date('2027-01-01T00:00:00Z') }] }));

    assert.deepEqual(m, {
      secret_steward_backup_success: 0,
      secret_steward_backup_last_run_timestamp_seconds: NOW.getTime() / 1000,
      [`secret_steward_key_expiry_timestamp_seconds${JSON.stringify({ role: 'signing', fingerprint: FPR })}`]: 1798761600,
    });
  });

  it('drill: counts by result, unauthenticated objects from the catalogue check, key expiry from key-health', () => {
    const report = {
      result: 'fail',
      durationMs: 2500,
      backup: { ageSeconds: 600 },
      counts: { secretsVerified: 8, secretsRestored: 7 },
      checks: [
        { name: 'catalogue', status: 'fail', findingsTotal: 2 },
        {
          name: 'key-health',
          status: 'pass',
          findingsTotal: 0,
          details: {
            decryptionKeys: [{ fingerprint: FPR, expiresAt: '2027-01-01T00:00:00.000Z' }],
            trustedSigners: [{ fingerprint: FPR }],
          },
        },
      ],
    } as unknown as DrillReport;

    const m = byName(drillMetrics(report, NOW));

    assert.equal(m.secret_steward_drill_success, 0);
    assert.equal(m.secret_steward_drill_last_success_timestamp_seconds, undefined);
    assert.equal(m['secret_steward_drill_secrets{"result":"verified"}'], 8);
    assert.equal(m['secret_steward_drill_secrets{"result":"restored"}'], 7);
    assert.equal(m.secret_steward_unauthenticated_backups, 2);
    assert.equal(m.secret_steward_drill_backup_age_seconds, 600);
    assert.equal(m[`secret_steward_key_expiry_timestamp_seconds${JSON.stringify({ role: 'decryption', fingerprint: FPR })}`], 1798761600);
    assert.equal(Object.keys(m).filter((k) => k.includes('trusted_signer')).length, 0, 'a key that never expires has no sample');
  });

  it('drill: no unauthenticated count when the catalogue check did not run', () => {
    const report = {
      result: 'error',
      durationMs: 1,
      counts: { secretsVerified: 0, secretsRestored: 0 },
      checks: [{ name: 'catalogue', status: 'skipped', findingsTotal: 0 }],
    } as unknown as DrillReport;

    const m = byName(drillMetrics(report, NOW));

    assert.equal(m.secret_steward_unauthenticated_backups, undefined);
  });

  it('restore: Secrets by result; a restore that stopped with an error has no last success', () => {
    const report = emptyRestoreReport({ dryRun: false, mode: 'overwrite' });
    report.durationMs = 4000;
    report.items = [
      { action: 'create', outcome: 'done' },
      { action: 'overwrite', outcome: 'done' },
      { action: 'recreate', outcome: 'done' },
      { action: 'unchanged', outcome: 'skipped' },
      { action: 'skip', outcome: 'skipped' },
      { action: 'overwrite', outcome: 'failed' },
      { action: 'create', outcome: 'pending' },
    ] as unknown as typeof report.items;

    const failed = byName(restoreMetrics(report, undefined, NOW));
    const ok = byName(restoreMetrics(report, ExitCode.Success, NOW));

    assert.deepEqual(failed, {
      secret_steward_restore_success: 0,
      secret_steward_restore_last_run_timestamp_seconds: NOW.getTime() / 1000,
      secret_steward_restore_duration_seconds: 4,
      'secret_steward_restore_secrets{"result":"created"}': 1,
      'secret_steward_restore_secrets{"result":"overwritten"}': 2,
      'secret_steward_restore_secrets{"result":"unchanged"}': 1,
      'secret_steward_restore_secrets{"result":"skipped"}': 1,
      'secret_steward_restore_secrets{"result":"failed"}': 1,
    });
    assert.equal(ok.secret_steward_restore_success, 1);
    assert.equal(ok.secret_steward_restore_last_success_timestamp_seconds, NOW.getTime() / 1000);
  });
});
