import assert from 'node:assert/strict';
import { jobEventSubject, selectionOf } from '../../../shared/backup/backup-job.js';

describe('shared/backup/backup-job', () => {
  it("records scheduled jobs' Events on their CronJob, one-off jobs' on their Job or else their Lease", () => {
    assert.deepEqual(jobEventSubject('backup', 'ss'), {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      namespace: 'ss',
      name: 'secret-steward-backup',
    });
    assert.deepEqual(jobEventSubject('restore', 'ss', { JOB_NAME: 'restore-now' }, true), {
      apiVersion: 'batch/v1',
      kind: 'Job',
      namespace: 'ss',
      name: 'restore-now',
    });
    assert.deepEqual(jobEventSubject('restore', 'ss', {}, true), {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: 'ss',
      name: 'secret-steward-restore',
    });
  });

  it('always excludes service-account and bootstrap tokens, plus the types asked for', () => {
    const sel = selectionOf({
      namespace: ['a'],
      excludeNamespace: [],
      selector: undefined,
      excludeType: ['helm.sh/release.v1', 'kubernetes.io/service-account-token'],
    });

    assert.deepEqual(sel.excludeTypes, ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token', 'helm.sh/release.v1']);
  });
});
