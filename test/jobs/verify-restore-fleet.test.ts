import assert from 'node:assert/strict';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import type { StoredKubeObject } from '../emulator/index.js';
import { createDrillNamespace, readKeyArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server } from '../support/s3-server.js';
import { assertFleetJob, backUpFleet, failure, installDrSiteFor, podRecords, runFleetJob } from './fleet-drill.js';

const PREFIX = 'fleet';
const FLEET = ['prod-eu-west-1', 'prod-us-east-1', 'staging-eu-west-1'];
const MIB = 1024 * 1024;

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
}

/** The fleet arguments of verify-restore run in-process (the CronJob gets them from its ConfigMap). */
const fleetArgs = (h: Harness) => [
  '--kubeconfig',
  h.kubeconfig,
  ...h.s3.args(PREFIX),
  '--lock-namespace',
  'secret-steward',
  ...readKeyArgs(h),
  '--drill-namespace',
  'secret-steward-drill',
  ...FLEET.flatMap((c) => ['--fleet-cluster', c]),
];

/**
 * The fleet drill of a DR site (issue 21): three source clusters back up into one store, one of
 * them with a damaged segment; the DR site's overlay (manifests/overlays/dr-site-verify-only)
 * is installed into the emulator, and `secret-steward run verify-restore` starts its CronJob as
 * one Indexed Job, which the emulator's Job controller runs as the real one would
 * (test/emulator/job-controller.ts: parallelism, JOB_COMPLETION_INDEX, backoffLimitPerIndex,
 * FailIndex; cited in test/emulator/job-controller.test.ts). Against Ceph RGW, a real S3 server.
 */
describe('jobs/verify-restore: a fleet of clusters drilled as one Indexed Job', function () {
  this.timeout(600_000);
  let h: Harness;
  let backups: Map<string, string>;
  let store: ObjectStore;

  before(async function () {
    requireS3Server(this, 'rgw');
    h = await startHarness({ s3: 'rgw' });
    await seedDrillSecrets(h, ['payments', 'web']);
    backups = await backUpFleet(h, PREFIX, FLEET);
    // Bit rot in the backup of the second cluster.
    store = createObjectStore(h.s3.settings(PREFIX));
    const damaged = new BackupLayout(FLEET[1]).segmentKey(backups.get(FLEET[1]) as string, 1, 'gzip');
    const bytes = await store.getBytes(damaged, 64 * MIB);
    bytes[Math.floor(bytes.length / 3)] ^= 0x10;
    await store.put(damaged, bytes);
  });
  after(async () => h?.stop());

  describe('as an Indexed Job from the DR-site overlay', () => {
    let run: RunResult;
    let job: StoredKubeObject;

    before(async () => {
      await installDrSiteFor(h, PREFIX, { fleet: FLEET });

      ({ run, job } = await runFleetJob(h));
    });

    it('two clusters pass, the damaged one fails its index only: the Job names index 1', () => {
      const failed = run.records.find((x) => x.msg === 'Job failed');

      assertFleetJob(run, job, { completed: '0,2', failed: '1', ended: 'Failed', reason: 'FailedIndexes', code: 1 });
      assert.deepEqual(
        [failed?.reason, failed?.completedIndexes, failed?.failedIndexes, failed?.exitCode],
        ['FailedIndexes', '0,2', '1', 1],
      );
    });

    it('each pod drilled its own cluster into its own drill namespace; the failure names the cluster and the reason', () => {
      const drills = podRecords(run, 'DR drill ');
      const fleetLines = podRecords(run, 'fleet drill: this index drills one cluster');

      assert.deepEqual(
        fleetLines.map((x) => [x.fleetIndex, x.cluster, x.drillNamespace]).sort(),
        FLEET.map((c, i) => [i, c, `secret-steward-drill-${i}`]),
      );
      assert.deepEqual(
        drills.map((d) => [d.fleetIndex, d.cluster, d.backupId, d.msg]).sort(),
        FLEET.map((c, i) => [i, c, backups.get(c), i === 1 ? 'DR drill fail' : 'DR drill pass']),
      );
      const b = backups.get(FLEET[1]);
      assert.match(run.stdout, new RegExp(`DR drill FAILED for backup ${b} .* of cluster ${FLEET[1]} \\(fleet index 1 of 3\\)`));
      assert.match(
        run.stdout,
        new RegExp(`\\[integrity\\] segment-00001\\.json\\.gz\\.pgp of backup ${b} is damaged: .*SHA-256 differs from the index`),
      );
      for (const i of [0, 2])
        assert.match(
          run.stdout,
          new RegExp(`DR drill PASSED for backup ${backups.get(FLEET[i])} .* of cluster ${FLEET[i]} \\(fleet index ${i} of 3\\)`),
        );
    });

    it("each cluster's report is stored under its own prefix, signed", async () => {
      const reports = await Promise.all(FLEET.map((c) => keysUnder(store, `${c}/reports/`)));

      assert.deepEqual(
        reports.map((keys) => keys.map((k) => k.replace(/^.*_(pass|fail)\.json(\.asc)?$/, '$1$2')).sort()),
        [
          ['pass', 'pass.asc'],
          ['fail', 'fail.asc'],
          ['pass', 'pass.asc'],
        ],
      );
    });
  });

  describe('status at the DR site', () => {
    it('one table across the fleet: last backup, freshness, last drill and result per cluster; the failed one overdue', async () => {
      const args = [
        '--kubeconfig',
        h.kubeconfig,
        ...h.s3.args(PREFIX),
        ...FLEET.flatMap((c) => ['--fleet-cluster', c]),
        '--namespace',
        'payments',
        '--trusted-signer-key',
        h.signer.publicKey,
        '--pre-restore-signer-key',
        h.preRestoreSigner.publicKey,
        '--drill-signer-key',
        h.drillSigner.publicKey,
        '--backup-schedule',
        '0 3 * * *',
      ];

      const text = await h.run(statusCommand, [...args, '--color', 'never']);
      const json = await h.run(statusCommand, [...args, '--output', 'json']);

      assert.equal(text.code, 1, failure(text));
      const rows = text.stdout.split('\n').filter((l) => FLEET.some((c) => l.startsWith(`${c} `)));
      assert.deepEqual(
        rows.map((l) => l.split(/ {2,}/).filter((x) => x !== '')),
        FLEET.map((c, i) => [
          c,
          `${backups.get(c)} (${rows[i].match(/\((\S+ ago)\)/)?.[1]})`,
          'ok',
          rows[i].split(/ {2,}/)[3],
          i === 1 ? 'FAIL' : 'pass',
          i === 1 ? 'OVERDUE' : 'ok',
          rows[i].split(/ {2,}/)[6],
        ]),
      );
      for (const l of rows) assert.match(l.split(/ {2,}/)[3], /^\S+ ago$/);
      assert.match(text.stdout, /^CLUSTER +LAST BACKUP +FRESHNESS +LAST DRILL +RESULT +DRILLS +PROJECTED RTO$/m);
      const report = JSON.parse(json.stdout) as StatusReport;
      // PROJECTED RTO: the newest drill's projection, from its signed report; the passing drills measured one.
      rows.forEach((l, i) => {
        const rto = report.fleet?.[i].rto;
        assert.equal(l.split(/ {2,}/)[6], rto ? `${(rto.projectedFullRestoreMs / 1000).toFixed(1)}s` : '-', FLEET[i]);
        if (i !== 1) assert.ok(rto && rto.secretsRestored > 0, `${FLEET[i]}: a passing drill carries its measured restore time`);
      });
      assert.deepEqual(
        report.fleet?.map((b) => [b.cluster, b.newestScheduled?.id, b.drills.latest?.result, b.drills.latest?.verified, b.drills.ok]),
        FLEET.map((c, i) => [c, backups.get(c), i === 1 ? 'fail' : 'pass', true, i !== 1]),
      );
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.subject]),
        [['drill-overdue', `${FLEET[1]}/drills`]],
      );
      assert.deepEqual(
        report.warnings.map((w) => [w.kind, w.subject]),
        [['drill-failed', `${FLEET[1]}/${backups.get(FLEET[1])}`]],
      );
    });
  });

  describe('list-backups at the DR site', () => {
    it("one table across the fleet: each cluster's backups with a CLUSTER column and their last drill", async () => {
      const args = [
        ...h.s3.args(PREFIX),
        ...FLEET.flatMap((c) => ['--fleet-cluster', c]),
        '--trusted-signer-key',
        h.signer.publicKey,
        '--drill-signer-key',
        h.drillSigner.publicKey,
      ];

      const text = await h.run(listBackupsCommand, args);
      const json = await h.run(listBackupsCommand, [...args, '--output', 'json']);

      assert.equal(text.code, 0, failure(text));
      assert.match(text.stdout, /^CLUSTER +BACKUP +KIND +CREATED/);
      const rows = text.stdout.split('\n').filter((l) => FLEET.some((c) => l.startsWith(`${c} `)));
      assert.deepEqual(
        rows.map((l) => {
          const cells = l.split(/ {2,}/);
          return [cells[0], cells[1], cells[5], cells.at(-1)?.replace(/ \S+ ago$/, '')];
        }),
        FLEET.map((c, i) => [c, backups.get(c), 'sealed', i === 1 ? 'fail' : 'pass']),
      );
      const doc = JSON.parse(json.stdout) as {
        location: string;
        backups: Array<{ cluster: string; id: string; lastDrill?: { result: string } }>;
      };
      assert.deepEqual(
        doc.backups.map((b) => [b.cluster, b.id, b.lastDrill?.result]),
        FLEET.map((c, i) => [c, backups.get(c), i === 1 ? 'fail' : 'pass']),
      );
      assert.equal(doc.location, h.s3.storeUrl(PREFIX));
    });
  });

  describe('settings', () => {
    it('a fleet without a completion index, or an index outside it, is a configuration error naming the settings', async () => {
      createDrillNamespace(h, 'secret-steward-drill-5');
      const noIndex = await h.run(verifyRestoreCommand, fleetArgs(h));
      const outside = await h.run(verifyRestoreCommand, fleetArgs(h), { env: { JOB_COMPLETION_INDEX: '5' } });
      const both = await h.run(verifyRestoreCommand, [...fleetArgs(h), '--cluster-name', 'prod-eu-west-1', '--fleet-index', '0']);

      assert.deepEqual([noIndex.code, outside.code, both.code], [2, 2, 2]);
      assert.match(
        noIndex.stderr,
        /--fleet-index \/ SECRET_STEWARD_FLEET_INDEX \/ JOB_COMPLETION_INDEX: is required with --fleet-cluster: run as an Indexed Job/,
      );
      assert.match(
        outside.stderr,
        /--fleet-index \/ SECRET_STEWARD_FLEET_INDEX \/ JOB_COMPLETION_INDEX: is 5, but --fleet-cluster lists 3 cluster\(s\)/,
      );
      assert.match(both.stderr, /--cluster-name \/ SECRET_STEWARD_CLUSTER_NAME: cannot be given with --fleet-cluster/);
    });

    it('--fleet-index drills one member by hand, into <drill-namespace>-<index>', async () => {
      createDrillNamespace(h, 'secret-steward-drill-2');

      const r = await h.run(verifyRestoreCommand, [...fleetArgs(h), '--fleet-index', '2', '--no-store-report', '--output', 'json']);

      assert.equal(r.code, 0, failure(r));
      const report = JSON.parse(r.stdout);
      assert.deepEqual(
        [report.cluster, report.fleet, report.drillNamespace, report.backup.id],
        [FLEET[2], { index: 2, size: 3 }, 'secret-steward-drill-2', backups.get(FLEET[2])],
      );
    });
  });
});
