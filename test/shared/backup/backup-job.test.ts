import assert from 'node:assert/strict';
import { selectionOf } from '../../../shared/backup/backup-job.js';

describe('shared/backup/backup-job', () => {
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
