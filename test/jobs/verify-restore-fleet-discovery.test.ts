import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { backupKeyArgs, createDrillNamespace, readKeyArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server } from '../support/s3-server.js';

const PREFIX = 'discover';
const FLEET = ['prod-eu-west-1', 'prod-us-east-1', 'staging-eu-west-1'];
/** Allowed by --fleet-allow staging-*, but planted: a seal no trusted key made. */
const PLANTED_ALLOWED = 'staging-zz-planted';
/** Not allowed by --fleet-allow. */
const PLANTED_OUTSIDE = 'attacker-x';
const ALLOW = ['--fleet-allow', 'prod-*', '--fleet-allow', 'staging-*'];

const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error' || x.level === 'warn'));

/**
 * Fleet discovery at a DR site (issue 21): three source clusters back up into one store, and a
 * bucket writer plants two prefixes, one outside the allow-list and one inside it with a forged
 * seal. Each completion index of the drill runs `verify-restore --fleet-discover` in-process
 * against the Kubernetes emulator, as the pods of the Indexed Job would (JOB_COMPLETION_INDEX);
 * the store is Ceph RGW, a real S3 server (s3rver's delimited listing misses nested prefixes:
 * test/shared/backup/fleet-discovery.test.ts).
 */
describe('jobs/verify-restore: a fleet discovered under the store prefix', function () {
  this.timeout(600_000);
  let h: Harness;
  const backups = new Map<string, string>();
  const drills: RunResult[] = [];

  const discoverArgs = () => [
    '--kubeconfig',
    h.kubeconfig,
    ...h.s3.args(PREFIX),
    '--lock-namespace',
    'secret-steward',
    ...readKeyArgs(h),
    '--drill-namespace',
    'secret-steward-drill',
    '--fleet-discover',
    ...ALLOW,
    '--deep-check-cycle',
    '0s',
  ];

  before(async function () {
    requireS3Server(this, 'rgw');
    h = await startHarness({ s3: 'rgw' });
    await seedDrillSecrets(h, ['payments', 'web']);
    for (const cluster of FLEET) {
      const base = h.baseArgs(PREFIX).map((a) => (a === 'test-cluster' ? cluster : a));
      const r = await h.run(backupCommand, [...base, ...backupKeyArgs(h), '--output', 'json']);
      assert.equal(r.code, 0, failure(r));
      backups.set(cluster, JSON.parse(r.stdout).backupId as string);
    }
    const store = createObjectStore(h.s3.settings(PREFIX));
    const forged = Buffer.from('-----BEGIN PGP SIGNED MESSAGE-----\nnot ours\n');
    await store.put(`${PLANTED_ALLOWED}/backups/20261201T030000Z-eeeeee/seal.json.asc`, forged);
    await store.put(`${PLANTED_OUTSIDE}/backups/20261201T030000Z-dddddd/seal.json.asc`, forged);

    // Index 0..3 drill the four allowed prefixes (sorted by name); index 4 is one completion too many.
    for (let i = 0; i < 5; i++) {
      if (i < 4) createDrillNamespace(h, `secret-steward-drill-${i}`);
      drills.push(await h.run(verifyRestoreCommand, discoverArgs(), { env: { JOB_COMPLETION_INDEX: String(i) } }));
    }
  });
  after(async () => h?.stop());

  it('the three clusters are discovered in name order and each passes its index', () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(drills[i].code, 0, failure(drills[i]));
      assert.match(
        drills[i].stdout,
        new RegExp(`DR drill PASSED for backup ${backups.get(FLEET[i])} .* of cluster ${FLEET[i]} \\(fleet index ${i} of 4\\)`),
      );
    }
    const discovered = drills[0].records.find((x) => x.msg === 'fleet discovered under the store');
    assert.deepEqual(discovered?.clusters, [...FLEET, PLANTED_ALLOWED]);
  });

  it('the planted allowed prefix has no authenticated backup: its index fails', () => {
    assert.equal(drills[3].code, 1, failure(drills[3]));
    assert.match(drills[3].stdout, new RegExp(`^DR drill FAILED of cluster ${PLANTED_ALLOWED} \\(fleet index 3 of 4\\)`, 'm'));
    assert.match(drills[3].stdout, /\[integrity\] there is no authenticated scheduled backup under \S+\/staging-zz-planted\/backups\//);
  });

  it('the prefix outside the allow-list is never drilled, and every index reports it', () => {
    for (const d of drills) {
      assert.doesNotMatch(d.stdout, new RegExp(`of cluster ${PLANTED_OUTSIDE}`));
      const warn = d.records.find((x) => x.level === 'warn' && typeof x.msg === 'string' && x.msg.includes('not allowed by --fleet-allow'));
      assert.deepEqual([warn?.ignored, warn?.names], [1, [`"${PLANTED_OUTSIDE}"`]]);
    }
  });

  it('an index beyond the clusters found has nothing to drill: exit 0, naming the completions to set', () => {
    assert.equal(drills[4].code, 0, failure(drills[4]));
    assert.match(
      drills[4].stdout,
      /^nothing to drill at index 4: discovery found 4 cluster\(s\) under s3:\/\/\S+; set the Job's completions to 4$/m,
    );
    assert.doesNotMatch(drills[4].stdout, /DR drill/);
  });

  it('an allow-list that matches no prefix fails the index: an empty fleet is never a passed drill', async () => {
    const args = discoverArgs().map((a) => (a === 'prod-*' ? 'nomatch-*' : a === 'staging-*' ? 'none-*' : a));

    const r = await h.run(verifyRestoreCommand, args, { env: { JOB_COMPLETION_INDEX: '0' } });

    assert.equal(r.code, 1, failure(r));
    assert.match(r.stdout, /^no cluster under s3:\/\/\S+ matches --fleet-allow nomatch-\*,none-\*: nothing can be drilled$/m);
    assert.doesNotMatch(r.stdout, /DR drill/);
  });

  it('--fleet-plan prints the index -> cluster -> drill namespace mapping and the completions to set, without a completion index', async () => {
    const text = await h.run(verifyRestoreCommand, [...discoverArgs(), '--fleet-plan']);
    const json = await h.run(verifyRestoreCommand, [...discoverArgs(), '--fleet-plan', '--output', 'json']);

    assert.equal(text.code, 0, failure(text));
    assert.match(
      text.stdout,
      /^Fleet of 4 cluster\(s\) discovered under s3:\/\/\S+ \(--fleet-allow prod-\*,staging-\*\): set the Job's completions to 4\.$/m,
    );
    const rows = text.stdout.split('\n').filter((l) => /^\d+ {2,}/.test(l));
    assert.deepEqual(
      rows.map((l) => l.split(/ {2,}/)),
      [...FLEET, PLANTED_ALLOWED].map((c, i) => [String(i), c, `secret-steward-drill-${i}`]),
    );
    assert.match(text.stdout, new RegExp(`^1 prefix\\(es\\) under \\S+ not allowed by --fleet-allow .*"${PLANTED_OUTSIDE}"\\.$`, 'm'));
    assert.match(
      text.stdout,
      /^The objects this fleet needs besides the overlay: -o manifests \(docs\/dr-site\.md, "Growing the fleet"\)\.$/m,
    );
    const doc = JSON.parse(json.stdout) as { format: string; completions: number; plan: Array<{ cluster: string }> };
    assert.deepEqual(
      [doc.format, doc.completions, doc.plan.map((p) => p.cluster)],
      ['secret-steward.io/fleet-plan/v1', 4, [...FLEET, PLANTED_ALLOWED]],
    );
  });

  it('--fleet-plan -o manifests: the objects for the clusters found, YAML only on stdout, and no key needed to print them', async () => {
    const args = [...h.s3.args(PREFIX), '--drill-namespace', 'secret-steward-drill', '--fleet-discover', ...ALLOW, '--fleet-plan'];

    const r = await h.run(verifyRestoreCommand, [...args, '--output', 'manifests']);

    assert.equal(r.code, 0, failure(r));
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS()) as Array<{ kind: string; metadata: { name: string }; spec?: any }>;
    assert.deepEqual(
      objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
      [0, 1, 2, 3].map((i) => `secret-steward-drill-${i}`),
    );
    assert.deepEqual(objects.find((o) => o.kind === 'CronJob')?.spec.jobTemplate.spec, { completions: 4, parallelism: 2 });
    assert.ok(!r.stdout.includes(PLANTED_OUTSIDE) && !r.stdout.includes(h.s3.credentials.secretAccessKey), r.stdout);
    assert.ok(r.records.some((x) => x.level === 'warn' && String(x.msg).includes('not allowed by --fleet-allow')));
  });

  it('--fleet-plan -o manifests of a listed fleet: one index per cluster listed, whatever the store holds', async () => {
    const listed = ['a-1', 'b-1', 'c-1', 'd-1', 'e-1'].flatMap((c) => ['--fleet-cluster', c]);

    const r = await h.run(verifyRestoreCommand, [
      ...h.s3.args(PREFIX),
      '--drill-namespace',
      'dr',
      ...listed,
      '--fleet-plan',
      '-o',
      'manifests',
    ]);

    assert.equal(r.code, 0, failure(r));
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS()) as Array<{ kind: string; metadata: { name: string }; spec?: any }>;
    assert.deepEqual(
      objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
      ['dr-0', 'dr-1', 'dr-2', 'dr-3', 'dr-4'],
    );
    assert.deepEqual(objects.find((o) => o.kind === 'CronJob')?.spec.jobTemplate.spec, { completions: 5, parallelism: 2 });
  });

  it('-o manifests: an empty fleet prints none (exit 1); without --fleet-plan, or a drill namespace too long for the indexes, exit 2', async () => {
    const base = [...h.s3.args(PREFIX), '--fleet-discover', '--output', 'manifests'];

    const empty = await h.run(verifyRestoreCommand, [
      ...base,
      '--drill-namespace',
      'secret-steward-drill',
      '--fleet-allow',
      'none-*',
      '--fleet-plan',
    ]);
    const noPlan = await h.run(verifyRestoreCommand, [...base, ...readKeyArgs(h), '--drill-namespace', 'd', ...ALLOW], {
      env: { JOB_COMPLETION_INDEX: '0' },
    });
    const long = await h.run(verifyRestoreCommand, [...base, '--drill-namespace', 'd'.repeat(62), ...ALLOW, '--fleet-plan']);

    assert.deepEqual([empty.code, noPlan.code, long.code], [1, 2, 2]);
    assert.equal(empty.stdout, '');
    assert.ok(empty.records.some((x) => x.level === 'error' && String(x.msg).includes('no manifests for an empty fleet')));
    assert.match(noPlan.stderr, /--output \/ SECRET_STEWARD_OUTPUT: manifests needs --fleet-plan/);
    assert.match(
      long.stderr,
      /--drill-namespace \/ SECRET_STEWARD_DRILL_NAMESPACE: with the index appended \(d{62}-3\) is not a namespace name/,
    );
  });

  it('status: one row per discovered cluster, the planted one overdue, the ignored prefix a warning, the completions to set', async () => {
    const args = [
      '--kubeconfig',
      h.kubeconfig,
      ...h.s3.args(PREFIX),
      '--fleet-discover',
      ...ALLOW,
      '--namespace',
      'payments',
      '--trusted-signer-key',
      h.signer.publicKey,
      '--pre-restore-signer-key',
      h.preRestoreSigner.publicKey,
      '--drill-max-age',
      '0s',
      '--deep-check-cycle',
      '0s',
    ];

    const text = await h.run(statusCommand, [...args, '--color', 'never']);
    const json = await h.run(statusCommand, [...args, '--output', 'json']);

    assert.equal(text.code, 1, failure(text));
    assert.match(
      text.stdout,
      /^FLEET: 4 clusters in s3:\/\/\S+ \(discovered, --fleet-allow prod-\*,staging-\*: the verify-restore Job needs completions: 4, index i drills row i\)$/m,
    );
    const report = JSON.parse(json.stdout) as StatusReport;
    assert.deepEqual(
      report.fleet?.map((b) => [b.cluster, b.newestScheduled?.id]),
      [...FLEET.map((c) => [c, backups.get(c)]), [PLANTED_ALLOWED, undefined]],
    );
    assert.deepEqual(
      report.problems.filter((p) => p.kind === 'no-backup').map((p) => p.subject.split('/')[0]),
      [PLANTED_ALLOWED],
    );
    assert.ok(
      report.problems.every((p) => p.subject.startsWith(`${PLANTED_ALLOWED}/`)),
      failure(json),
    );
    assert.deepEqual(
      report.warnings.filter((w) => w.kind === 'fleet-prefix-ignored').map((w) => w.message),
      [`1 prefix(es) not allowed by --fleet-allow (or not a cluster name), ignored: "${PLANTED_OUTSIDE}"`],
    );
    assert.deepEqual(report.fleetDiscovery?.ignored, { count: 1, first: [`"${PLANTED_OUTSIDE}"`] });
  });

  it('list-backups: the discovered clusters in one table; the planted one named as having no authenticated backup', async () => {
    const args = [...h.s3.args(PREFIX), '--fleet-discover', ...ALLOW, '--trusted-signer-key', h.signer.publicKey];

    const text = await h.run(listBackupsCommand, args);
    const json = await h.run(listBackupsCommand, [...args, '--output', 'json']);

    assert.equal(text.code, 0, failure(text));
    const rows = text.stdout.split('\n').filter((l) => /^[a-z]/.test(l));
    assert.deepEqual(
      rows.filter((l) => !l.startsWith('No ')).map((l) => l.split(/ {2,}/).slice(0, 2)),
      [...FLEET.map((c) => [c, backups.get(c)]), [PLANTED_ALLOWED, '20261201T030000Z-eeeeee']],
    );
    assert.match(text.stdout, new RegExp(`^No authenticated backup of ${PLANTED_ALLOWED}\\.$`, 'm'));
    assert.match(
      text.stdout,
      new RegExp(`^1 prefix\\(es\\) under s3://\\S+ not allowed by --fleet-allow .*ignored: "${PLANTED_OUTSIDE}"\\.$`, 'm'),
    );
    const doc = JSON.parse(json.stdout) as { unbacked: string[]; discovery: { clusters: string[]; ignored: { count: number } } };
    assert.deepEqual(
      [doc.discovery.clusters, doc.discovery.ignored.count, doc.unbacked],
      [[...FLEET, PLANTED_ALLOWED], 1, [PLANTED_ALLOWED]],
    );
  });

  it('settings: discovery without an allow-list is a configuration error naming --fleet-allow, in all three commands; the allow-list alone, a plan of no fleet and a drill without its key too', async () => {
    const noAllow = (args: string[]) => args.filter((a, i) => a !== '--fleet-allow' && args[i - 1] !== '--fleet-allow');

    const verify = await h.run(verifyRestoreCommand, noAllow(discoverArgs()), { env: { JOB_COMPLETION_INDEX: '0' } });
    const status = await h.run(statusCommand, [...h.s3.args(PREFIX), '--fleet-discover', '--trusted-signer-key', h.signer.publicKey]);
    const list = await h.run(listBackupsCommand, [...h.s3.args(PREFIX), '--fleet-discover']);
    const both = await h.run(verifyRestoreCommand, [...discoverArgs(), '--fleet-cluster', FLEET[0]], {
      env: { JOB_COMPLETION_INDEX: '0' },
    });
    const allowAlone = await h.run(listBackupsCommand, [...h.s3.args(PREFIX), '--cluster-name', FLEET[0], '--fleet-allow', 'prod-*']);
    const planNothing = await h.run(verifyRestoreCommand, [
      ...h.s3.args(PREFIX),
      ...readKeyArgs(h),
      '--drill-namespace',
      'secret-steward-drill',
      '--fleet-plan',
    ]);

    // A drill needs the decryption key; only --fleet-plan, which reads no backup, does not.
    const noKey = await h.run(
      verifyRestoreCommand,
      [...h.s3.args(PREFIX), '--drill-namespace', 'secret-steward-drill', '--fleet-discover', ...ALLOW],
      {
        env: { JOB_COMPLETION_INDEX: '0' },
      },
    );

    assert.deepEqual(
      [verify.code, status.code, list.code, both.code, allowAlone.code, planNothing.code, noKey.code],
      [2, 2, 2, 2, 2, 2, 2],
    );
    assert.match(noKey.stderr, /--decryption-key \/ SECRET_STEWARD_DECRYPTION_KEY: is required \(FILE\): Armored OpenPGP PRIVATE key/);
    assert.match(allowAlone.stderr, /--fleet-allow \/ SECRET_STEWARD_FLEET_ALLOW: needs --fleet-discover/);
    assert.match(planNothing.stderr, /--fleet-plan \/ SECRET_STEWARD_FLEET_PLAN: needs --fleet-cluster or --fleet-discover/);
    for (const r of [verify, status, list])
      assert.match(r.stderr, /--fleet-allow \/ SECRET_STEWARD_FLEET_ALLOW: is required with --fleet-discover/);
    assert.match(both.stderr, /--fleet-cluster \/ SECRET_STEWARD_FLEET_CLUSTER: cannot be given with --fleet-discover/);
  });
});
