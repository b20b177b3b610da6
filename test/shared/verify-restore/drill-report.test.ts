import assert from 'node:assert/strict';
import {
  CheckRecorder,
  type CheckResult,
  type DrillReport,
  overallResult,
  renderDrillReport,
  storedCopy,
} from '../../../shared/verify-restore/drill-report.js';

function check(name: CheckResult['name'], status: CheckResult['status']): CheckResult {
  return { name, status, summary: `${name} ${status}`, durationMs: 5, findings: [], findingsTotal: 0 };
}

function report(over: Partial<DrillReport> = {}): DrillReport {
  return {
    format: 'secret-steward.io/drill-report/v1',
    drillId: 'ab12',
    result: 'fail',
    cluster: 'prod',
    store: 's3://b/p',
    drillNamespace: 'drill',
    startedAt: '2026-11-27T12:00:00.000Z',
    finishedAt: '2026-11-27T12:00:02.000Z',
    durationMs: 2000,
    backup: { id: '20261127T031500Z-3f9a1c', createdAt: '2026-11-27T03:15:00.000Z', ageSeconds: 31_500, secrets: 2 },
    checks: [
      check('freshness', 'pass'),
      { ...check('drift', 'pass'), details: { changedSince: 1, examples: { changedSince: ['payments/db'] } } },
      {
        ...check('validity', 'fail'),
        findings: [{ namespace: 'payments', name: 'tls', message: 'Secret payments/tls: tls.key does not parse' }],
        findingsTotal: 1,
      },
    ],
    counts: {
      secretsInBackup: 2,
      secretsVerified: 2,
      secretsValid: 1,
      secretsRestored: 2,
      secretsSkipped: 0,
      segments: 1,
      segmentsVerified: 1,
    },
    namespaces: { payments: { secrets: 2, verified: 2, valid: 1, restored: 2, skipped: 0, problems: 1 } },
    warnings: ['Secret payments/web-tls: its certificate (tls.crt) expired on 2026-01-01T00:00:00.000Z'],
    tool: { version: '0.1.0', runner: 'pod' },
    ...over,
  };
}

describe('shared/verify-restore/drill-report', () => {
  it('is fail when any check failed, else error when any could not complete, else pass (skipped checks do not count)', () => {
    const table: Array<[CheckResult['status'][], DrillReport['result']]> = [
      [['pass', 'skipped', 'pass'], 'pass'],
      [['pass', 'error', 'skipped'], 'error'],
      [['error', 'fail', 'pass'], 'fail'],
      [['skipped'], 'pass'],
    ];
    for (const [statuses, result] of table)
      assert.equal(overallResult(statuses.map((s) => check('integrity', s))), result, statuses.join());
  });

  it('records findings up to a cap, counting them all; error never overrides fail', () => {
    const c = new CheckRecorder('integrity');
    for (let i = 0; i < 250; i++) c.fail({ message: `problem ${i}` });
    c.error({ message: 'later infrastructure trouble' });

    const r = c.result();
    assert.equal(r.status, 'fail');
    assert.equal(r.findings.length, 200);
    assert.equal(r.findingsTotal, 251);
  });

  it('the summary copy keeps checks and counts but no namespace or Secret names', () => {
    const copy = storedCopy(report(), 'summary');

    const text = JSON.stringify(copy);
    assert.ok(!text.includes('payments'), text);
    assert.equal(copy.counts.secretsRestored, 2);
    assert.equal(copy.checks[2].findingsTotal, 1);
    assert.deepEqual(copy.checks[1].details, { changedSince: 1 });
    assert.deepEqual(storedCopy(report(), 'full'), report());
  });

  it('renders a readable summary with the verdict, each check, namespaces, findings and warnings', () => {
    const text = renderDrillReport(report(), {
      key: 'prod/reports/x.json',
      location: 's3://b/p/prod/reports/x.json',
      signatureKey: 'prod/reports/x.json.asc',
    });

    assert.match(
      text,
      /^DR drill FAILED for backup 20261127T031500Z-3f9a1c \(8h45m old, 2 Secrets\) of cluster prod in 2\.0s \(drill ab12\)\./,
    );
    assert.match(text, /validity +FAIL +0\.0s +validity fail/);
    assert.match(text, /payments +2 +2 +1 +2 +0 +1/);
    assert.match(text, /\[validity\] Secret payments\/tls: tls\.key does not parse/);
    assert.match(text, /Warnings:\n {2}Secret payments\/web-tls/);
    assert.match(text, /Report: s3:\/\/b\/p\/prod\/reports\/x\.json \(signed: \.asc beside it\)/);
  });
});
