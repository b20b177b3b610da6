import assert from 'node:assert/strict';
import type { EventInput } from '../../../shared/kube/events.js';
import { jobEventSubject, reportKeyWarnings } from '../../../shared/kube/job-events.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';

describe('shared/kube/job-events', () => {
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

  it('logs each expiring key and records a KeyExpiringSoon Warning on the subject', async () => {
    const sink = new MemorySink();
    const recorded: EventInput[] = [];
    const subject = jobEventSubject('backup', 'ss');

    await reportKeyWarnings(
      [
        {
          fingerprint: 'ABCD',
          expiresAt: new Date('2027-01-01T00:00:00Z'),
          file: '/keys/r.asc',
          message: 'recipient key ABCD expires on 2027-01-01',
        },
      ],
      { log: createLogger({ sink }) },
      { record: async (e) => void recorded.push(e) },
      subject,
    );

    assert.deepEqual(
      recorded.map((e) => [e.type, e.reason, e.message, e.subject.name]),
      [['Warning', 'KeyExpiringSoon', 'recipient key ABCD expires on 2027-01-01', 'secret-steward-backup']],
    );
    const line = sink.records().find((r) => r.msg === 'recipient key ABCD expires on 2027-01-01');
    assert.equal(line?.fingerprint, 'ABCD');
    assert.equal(line?.expiresAt, '2027-01-01T00:00:00.000Z');
  });
});
