import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { createObjectStore } from '../../shared/storage/index.js';
import type { StoredKubeObject } from '../emulator/index.js';
import { seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server } from '../support/s3-server.js';
import { assertFleetJob, backUpFleet, failure, installDrSiteFor, podRecords, runFleetJob } from './fleet-drill.js';

const PREFIX = 'fleet-discovered';
const ALLOWED = ['prod-eu-west-1', 'prod-us-east-1', 'staging-eu-west-1'];
/** Backed up like the others, but not allowed by --fleet-allow: never drilled. */
const NOT_ALLOWED = 'dev-eu-west-1';
const ALLOW = ['prod-*', 'staging-*'];

/**
 * The fleet drill with DISCOVERY through the DR-site overlay (issue 21): four source clusters back
 * up into one store, and the overlay is installed patched to discover the fleet
 * (SECRET_STEWARD_FLEET_DISCOVER, SECRET_STEWARD_FLEET_ALLOW prod-*,staging-*). What an operator
 * runs to fit the overlay to the fleet, `verify-restore --fleet-plan -o manifests`, is applied
 * after it instead of the overlay's own drill namespaces (test/sandbox/install.ts says how,
 * without server-side apply); then `secret-steward run verify-restore` starts the CronJob as one
 * Indexed Job, run by the emulator's Job controller stand-in as in verify-restore-fleet.test.ts.
 * Against Ceph RGW, a real S3 server.
 */
describe('jobs/verify-restore: a discovered fleet drilled through the DR-site overlay', function () {
  this.timeout(600_000);
  let h: Harness;
  let backups: Map<string, string>;
  let plan: RunResult;
  let run: RunResult;
  let job: StoredKubeObject;

  before(async function () {
    requireS3Server(this, 'rgw');
    h = await startHarness({ s3: 'rgw' });
    await seedDrillSecrets(h, ['payments', 'web']);
    backups = await backUpFleet(h, PREFIX, [...ALLOWED, NOT_ALLOWED]);

    plan = await h.run(verifyRestoreCommand, [
      ...h.s3.args(PREFIX),
      '--drill-namespace',
      'secret-steward-drill',
      '--fleet-discover',
      ...ALLOW.flatMap((a) => ['--fleet-allow', a]),
      '--fleet-plan',
      '--output',
      'manifests',
    ]);
    assert.equal(plan.code, 0, failure(plan));
    await installDrSiteFor(h, PREFIX, { discover: { allow: ALLOW }, fleetPlan: plan.stdout });
    ({ run, job } = await runFleetJob(h));
  });
  after(async () => h?.stop());

  it('the plan: three drill namespaces and completions 3, from what discovery found; the prefix not allowed is only logged', () => {
    const objects = parseAllDocuments(plan.stdout).map((d) => d.toJS()) as Array<{ kind: string; metadata: { name: string }; spec?: any }>;

    assert.deepEqual(
      objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
      ['secret-steward-drill-0', 'secret-steward-drill-1', 'secret-steward-drill-2'],
    );
    assert.deepEqual(objects.find((o) => o.kind === 'CronJob')?.spec, { jobTemplate: { spec: { completions: 3, parallelism: 2 } } });
    assert.doesNotMatch(plan.stdout, new RegExp(NOT_ALLOWED));
    const warn = plan.records.find(
      (x) => x.level === 'warn' && typeof x.msg === 'string' && x.msg.includes('not allowed by --fleet-allow'),
    );
    assert.deepEqual([warn?.ignored, warn?.names], [1, [`"${NOT_ALLOWED}"`]]);
  });

  it('the overlay patched to discover, with the plan applied: the Job has three completions and ran all three', () => {
    const config = h.emulator.get('v1', 'ConfigMap', 'secret-steward', 'secret-steward-verify-restore')?.data as Record<string, string>;
    const spec = job.spec as { completionMode: string; completions: number; parallelism: number };

    assert.deepEqual(
      [config.SECRET_STEWARD_FLEET_DISCOVER, config.SECRET_STEWARD_FLEET_ALLOW, config.SECRET_STEWARD_FLEET_CLUSTER],
      ['true', 'prod-*,staging-*', undefined],
    );
    assert.deepEqual([spec.completionMode, spec.completions, spec.parallelism], ['Indexed', 3, 2]);
    assertFleetJob(run, job, { completed: '0-2', failed: '', ended: 'Complete', code: 0 });
  });

  it('index i drilled the i-th allowed cluster by name into the drill namespace the plan made; all passed', () => {
    const fleetLines = podRecords(run, 'fleet drill: this index drills one cluster');
    const drills = podRecords(run, 'DR drill ');

    assert.deepEqual(
      fleetLines.map((x) => [x.fleetIndex, x.cluster, x.drillNamespace]).sort(),
      ALLOWED.map((c, i) => [i, c, `secret-steward-drill-${i}`]),
    );
    assert.deepEqual(
      drills.map((d) => [d.fleetIndex, d.cluster, d.backupId, d.msg]).sort(),
      ALLOWED.map((c, i) => [i, c, backups.get(c), 'DR drill pass']),
    );
  });

  it('the cluster not allowed is never drilled: no pod names it as its cluster, no report under its prefix', async () => {
    const store = createObjectStore(h.s3.settings(PREFIX));
    const reports: string[] = [];
    for await (const o of store.list(`${NOT_ALLOWED}/reports/`)) reports.push(o.key);

    assert.doesNotMatch(run.stdout, new RegExp(`of cluster ${NOT_ALLOWED}`));
    assert.ok(!podRecords(run, '').some((x) => x.cluster === NOT_ALLOWED));
    assert.deepEqual(reports, []);
  });

  it('status --fleet-discover shows the three allowed clusters drilled and passed, and not the other', async () => {
    const args = [
      '--kubeconfig',
      h.kubeconfig,
      ...h.s3.args(PREFIX),
      '--fleet-discover',
      ...ALLOW.flatMap((a) => ['--fleet-allow', a]),
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

    assert.equal(text.code, 0, failure(text));
    const rows = text.stdout.split('\n').filter((l) => /^[a-z]+-[a-z]+-[a-z]+-\d /.test(l));
    assert.deepEqual(
      rows.map((l) => {
        const cells = l.split(/ {2,}/);
        return [cells[0], cells[2], cells[4], cells[5]];
      }),
      ALLOWED.map((c) => [c, 'ok', 'pass', 'ok']),
    );
    const report = JSON.parse(json.stdout) as StatusReport;
    assert.deepEqual(
      report.fleet?.map((b) => [b.cluster, b.newestScheduled?.id, b.drills.latest?.result, b.drills.latest?.verified, b.drills.ok]),
      ALLOWED.map((c) => [c, backups.get(c), 'pass', true, true]),
    );
    assert.deepEqual(report.problems, []);
  });
});
