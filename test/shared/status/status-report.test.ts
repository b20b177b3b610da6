import assert from 'node:assert/strict';
import type { BackupOverview } from '../../../shared/status/backup-status.js';
import type { KeyStatus } from '../../../shared/status/key-status.js';
import type { RotationStatus } from '../../../shared/status/rotation-status.js';
import { buildStatusReport, relative, renderStatus, type StatusParts } from '../../../shared/status/status-report.js';

const NOW = new Date('2026-03-11T12:00:00Z');
const DAY = 86_400_000;

function rot(name: string, over: Partial<RotationStatus> = {}): RotationStatus {
  return {
    namespace: 'shop',
    name,
    state: 'ok',
    schedule: 'maxAge 30d',
    strategy: 'in-place',
    consumers: ['deployment/api'],
    detail: 'fine',
    nextDue: '2026-03-20T00:00:00.000Z',
    ...over,
  };
}

function backups(over: Partial<BackupOverview> = {}): BackupOverview & { cluster: string } {
  return {
    cluster: 'prod',
    location: 's3://b/prod/backups/',
    backups: [
      {
        id: '20260311T030000Z-aaaaaa',
        createdAt: '2026-03-11T03:00:00.000Z',
        kind: 'scheduled',
        secrets: 12,
        segments: 1,
        storedBytes: 4096,
        lastDrill: {
          backupId: '20260311T030000Z-aaaaaa',
          at: '2026-03-11T04:00:00.000Z',
          result: 'pass',
          report: 'prod/reports/x',
          verified: true,
        },
      },
    ],
    authenticatedBackups: 1,
    unauthenticated: [],
    newestScheduled: { id: '20260311T030000Z-aaaaaa', createdAt: '2026-03-11T03:00:00.000Z' },
    drills: {
      latest: {
        backupId: '20260311T030000Z-aaaaaa',
        at: '2026-03-11T04:00:00.000Z',
        result: 'pass',
        report: 'prod/reports/x',
        verified: true,
      },
      latestPass: {
        backupId: '20260311T030000Z-aaaaaa',
        at: '2026-03-11T04:00:00.000Z',
        result: 'pass',
        report: 'prod/reports/x',
        verified: true,
      },
      maxAgeMs: 8 * DAY,
      ok: true,
    },
    ...over,
  };
}

function key(state: KeyStatus['state']): KeyStatus {
  return {
    role: 'recipient',
    fingerprint: 'ABCD',
    userId: 'Backups <b@x>',
    file: '/keys/r.asc',
    state,
    detail: state,
    ...(state === 'ok' ? {} : { expiresAt: '2026-03-20T00:00:00.000Z' }),
  };
}

function parts(over: Partial<StatusParts> = {}): StatusParts {
  return {
    now: NOW,
    rotation: { graceMs: 3_600_000, namespaces: [], secrets: [rot('db')] },
    backups: backups(),
    keys: [key('ok')],
    ...over,
  };
}

describe('shared/status/status-report', () => {
  describe('buildStatusReport: what is overdue and what is a warning', () => {
    const cases: Array<{ name: string; parts: StatusParts; problems: string[]; warnings: string[] }> = [
      { name: 'all good', parts: parts(), problems: [], warnings: [] },
      {
        name: 'a rotation past due',
        parts: parts({
          rotation: { graceMs: 0, namespaces: [], secrets: [rot('db', { state: 'overdue', dueSince: '2026-03-10T00:00:00.000Z' })] },
        }),
        problems: ['rotation-overdue shop/db'],
        warnings: [],
      },
      {
        name: 'a rotation due within the grace is not overdue',
        parts: parts({ rotation: { graceMs: 0, namespaces: [], secrets: [rot('db', { state: 'due' })] } }),
        problems: [],
        warnings: [],
      },
      {
        name: 'an invalid policy',
        parts: parts({ rotation: { graceMs: 0, namespaces: [], secrets: [rot('db', { state: 'invalid', detail: 'keys: x' })] } }),
        problems: ['rotation-invalid shop/db'],
        warnings: [],
      },
      {
        name: 'a rolled-back last rotation is a warning',
        parts: parts({
          rotation: {
            graceMs: 0,
            namespaces: [],
            secrets: [rot('db', { state: 'held', lastOutcome: { result: 'rolled-back', rotation: 'r1', at: '2026-03-11T03:00:00Z' } })],
          },
        }),
        problems: [],
        warnings: ['rotation-failed shop/db'],
      },
      {
        name: 'a backup not verified within the deep-check cycle',
        parts: parts({
          backups: backups({
            deepCheck: { cycleMs: 7 * DAY, notVerifiedInCycle: ['20260301T030000Z-bbbbbb'], history: 'signed drill reports' },
          }),
        }),
        problems: ['backup-unverified 20260301T030000Z-bbbbbb'],
        warnings: [],
      },
      {
        name: 'every backup verified within the cycle',
        parts: parts({ backups: backups({ deepCheck: { cycleMs: 7 * DAY, notVerifiedInCycle: [], history: 'signed drill reports' } }) }),
        problems: [],
        warnings: [],
      },
      {
        name: 'no complete backup',
        parts: parts({ backups: backups({ backups: [], newestScheduled: undefined }) }),
        problems: ['no-backup s3://b/prod/backups/'],
        warnings: [],
      },
      {
        name: 'a stale backup',
        parts: parts({
          backups: backups({
            freshness: { schedule: '0 3 * * *', timeZone: 'UTC', graceMs: 0, fresh: false, message: 'backup stale: ...' },
          }),
        }),
        problems: ['backup-stale 20260311T030000Z-aaaaaa'],
        warnings: [],
      },
      {
        name: 'no drill passed within the window',
        parts: parts({ backups: backups({ drills: { maxAgeMs: DAY, ok: false } }) }),
        problems: ['drill-overdue drills'],
        warnings: [],
      },
      {
        name: 'the latest drill failed',
        parts: parts({
          backups: backups({
            drills: {
              ...backups().drills,
              latest: { backupId: 'b2', at: '2026-03-11T05:00:00.000Z', result: 'fail', report: 'r', verified: true },
            },
          }),
        }),
        problems: [],
        warnings: ['drill-failed b2'],
      },
      {
        name: 'a backup that is not authenticated (an in-progress one is not yet a problem)',
        parts: parts({
          backups: backups({
            unauthenticated: [
              { id: 'b9', problem: 'forged: its seal is not signed' },
              { id: 'b10', problem: 'unsealed: no index and no seal', inProgress: true },
            ],
          }),
        }),
        problems: ['backup-unauthenticated b9'],
        warnings: [],
      },
      {
        name: 'seals of two clusters under one name',
        parts: parts({ backups: backups({ ambiguous: 'backups of 2 clusters ...', newestScheduled: undefined }) }),
        problems: ['catalogue-ambiguous s3://b/prod/backups/'],
        warnings: [],
      },
      { name: 'an expired key', parts: parts({ keys: [key('expired')] }), problems: ['key-unusable recipient key ABCD'], warnings: [] },
      { name: 'a revoked key', parts: parts({ keys: [key('revoked')] }), problems: ['key-unusable recipient key ABCD'], warnings: [] },
      {
        name: 'a key expiring soon',
        parts: parts({ keys: [key('expiring')] }),
        problems: [],
        warnings: ['key-expiring recipient key ABCD'],
      },
      { name: 'without a store, backups are not judged', parts: parts({ backups: undefined }), problems: [], warnings: [] },
      {
        name: 'a discovered fleet with no allowed cluster is overdue; ignored prefixes are a warning',
        parts: parts({
          backups: undefined,
          fleet: [],
          fleetDiscovery: { location: 's3://b', allow: ['prod-*'], ignored: { count: 2, first: ['"attacker"', '"x"'] } },
        }),
        problems: ['no-backup s3://b'],
        warnings: ['fleet-prefix-ignored s3://b'],
      },
      {
        name: 'a discovered fleet with a cluster and nothing ignored adds nothing',
        parts: parts({
          backups: undefined,
          fleet: [{ ...backups(), cluster: 'prod' }],
          fleetDiscovery: { location: 's3://b', allow: ['prod-*'], ignored: { count: 0, first: [] } },
        }),
        problems: [],
        warnings: [],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const r = buildStatusReport(c.parts);

        assert.deepEqual(
          r.problems.map((p) => `${p.kind} ${p.subject}`),
          c.problems,
        );
        assert.deepEqual(
          r.warnings.map((w) => `${w.kind} ${w.subject}`),
          c.warnings,
        );
        assert.equal(r.overdue, c.problems.length > 0);
      });
    }
  });

  describe('renderStatus', () => {
    it('prints one table per area and says when nothing is overdue', () => {
      const text = renderStatus(buildStatusReport(parts()), { color: false });

      assert.match(text, /^secret-steward status at 2026-03-11T12:00:00.000Z\nScope: cluster-wide\n/);
      assert.match(
        text,
        /ROTATION: 1 Secret with a policy \(1 ok\)\nSECRET +STATE +SCHEDULE +STRATEGY +LAST ROTATED +NEXT DUE +CONSUMERS +LAST OUTCOME\nshop\/db +ok +maxAge 30d +in-place +never +in 8d12h +deployment\/api +-\n/,
      );
      assert.match(
        text,
        /BACKUPS of cluster prod in s3:\/\/b\/prod\/backups\/: 1 authenticated, 0 not authenticated\nBACKUP +KIND +AGE +SECRETS +SIZE +LAST DRILL\n20260311T030000Z-aaaaaa +scheduled +9h +12 +4\.0 KiB +pass 8h ago\n/,
      );
      assert.match(text, /Freshness: not checked \(give --backup-schedule\)/);
      assert.match(text, /Drills: last passed 8h ago \(backup 20260311T030000Z-aaaaaa\): ok \(required within 8d\)/);
      assert.match(text, /KEYS\nROLE +FINGERPRINT +USER ID +EXPIRES +STATE\nrecipient +ABCD +Backups <b@x> +never +ok\n/);
      assert.match(text, /\nNothing overdue\.\n$/);
      assert.doesNotMatch(text, /\x1b\[/);
    });

    it('shows the scope of a namespaced installation, in the text and the JSON', () => {
      const report = buildStatusReport({ ...parts(), scope: { kind: 'namespaces', namespaces: ['payments', 'web'] } });

      const text = renderStatus(report, { color: false });

      assert.match(text, /^secret-steward status at .*\nScope: namespaces payments, web\n/);
      assert.deepEqual(JSON.parse(JSON.stringify(report)).scope, { kind: 'namespaces', namespaces: ['payments', 'web'] });
    });

    it('lists what is overdue, in capitals, and paints it red only with colour on', () => {
      const report = buildStatusReport(
        parts({
          rotation: {
            graceMs: 0,
            namespaces: [],
            secrets: [rot('db', { state: 'overdue', dueSince: '2026-03-10T12:00:00.000Z', nextDue: undefined })],
          },
        }),
      );

      const plain = renderStatus(report, { color: false });
      const painted = renderStatus(report, { color: true });

      assert.match(plain, /shop\/db +OVERDUE +maxAge 30d +in-place +never +now \(due 1d ago\)/);
      assert.match(plain, /OVERDUE \(1; exit 1\)\n {2}! rotation-overdue shop\/db: rotation overdue since 2026-03-10T12:00:00.000Z: fine/);
      assert.doesNotMatch(plain, /Nothing overdue/);
      assert.match(painted, /\x1b\[1;31mshop\/db +OVERDUE .*\x1b\[0m/);
      // Alignment is the same with and without colour.
      assert.equal(painted.replace(/\x1b\[[0-9;]*m/g, ''), plain);
    });
  });

  it('relative times', () => {
    assert.equal(relative('2026-03-11T09:30:00Z', NOW), '2h30m ago');
    assert.equal(relative('2026-03-13T13:00:00Z', NOW), 'in 2d1h');
    assert.equal(relative(undefined, NOW), '-');
  });
});
