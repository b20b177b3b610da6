import assert from 'node:assert/strict';
import { checkCommand } from '../../jobs/check.js';
import type { CheckReport } from '../../shared/check/check-job.js';
import { JOB_PERMISSIONS } from '../../shared/check/job-permissions.js';
import { permissionsOf, rbacObjectsFor, withoutPermission } from '../manifests/rbac.js';
import { RbacE2E } from '../manifests/rbac-e2e.js';
import { freePort } from '../support/free-port.js';
import { writeTestKeyPair } from '../support/job-harness.js';

/**
 * `check --for backup` against the emulator with RBAC on, as the backup job's ServiceAccount
 * with the rules of manifests/base, and a real S3 server (s3rver).
 */
describe('jobs/check', function () {
  this.timeout(120_000);
  let e: RbacE2E;
  const objects = rbacObjectsFor('backup');
  before(async () => {
    e = await RbacE2E.start('backup');
  });
  after(async () => e?.stop());
  beforeEach(async () => e.reset(objects));

  const keys = () => [
    '--recipient-key',
    e.h.recipient.publicKey,
    '--signing-key',
    e.h.signer.privateKey,
    '--signing-key-passphrase-file',
    e.h.signer.passphraseFile,
  ];

  async function check(args: string[]): Promise<{ code: number; report: CheckReport; text: string }> {
    const r = await e.run(checkCommand, ['--for', 'backup', ...args, '--output', 'json']);
    return { code: r.code, report: JSON.parse(r.stdout) as CheckReport, text: r.text };
  }

  const failed = (r: CheckReport) => r.checks.filter((c) => c.verdict === 'failed');

  it('passes a correct installation: every permission, the keys and the store, and writes nothing', async () => {
    const r = await check([...e.args(), ...keys()]);

    assert.equal(r.code, 0, r.text);
    assert.equal(r.report.format, 'secret-steward.io/check/v1');
    assert.equal(r.report.ok, true);
    assert.deepEqual(failed(r.report), []);
    assert.equal(r.report.checks.filter((c) => c.check === 'permission' && c.verdict === 'ok').length, JOB_PERMISSIONS.backup.length);
    assert.ok(r.report.checks.some((c) => c.check === 'store' && c.verdict === 'ok'));
    assert.deepEqual(
      r.report.checks.filter((c) => c.check === 'key').map((c) => [c.subject.split(' ')[0], c.verdict]),
      [
        ['--recipient-key', 'ok'],
        ['--signing-key', 'ok'],
      ],
    );
    const requests = e.h.emulator.requests.entries.map((x) => `${x.verb} ${x.resource}`);
    assert.deepEqual([...new Set(requests)], ['create selfsubjectaccessreviews'], 'nothing but access reviews');
  });

  it('fails (exit 1) on a missing permission, naming it, and passes the others', async () => {
    const listSecrets = permissionsOf(objects).find((p) => p.verb === 'list' && p.resource === 'secrets');
    assert.ok(listSecrets);
    await e.reset(withoutPermission(objects, listSecrets));

    const r = await check(e.args());
    const text = await e.run(checkCommand, ['--for', 'backup', ...e.args()]);

    assert.equal(r.code, 1, r.text);
    assert.deepEqual(
      failed(r.report).map((c) => [c.check, c.subject]),
      [['permission', 'list secrets (all namespaces)']],
    );
    assert.match(failed(r.report)[0].message, /not allowed: backup lists the Secrets to back up/);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^FAILED +permission +list secrets \(all namespaces\) +not allowed/m);
    assert.match(text.stdout, /^OK +permission +get namespaces kube-system +reads the cluster's identity/m);
    assert.match(text.stdout, /backup: 9 checks, 1 failed, 0 warnings/);
  });

  it('fails an expired recipient key and a private key given as recipient, naming the setting and the file', async () => {
    const expired = await writeTestKeyPair(e.h.dir, 'expired', { now: new Date(Date.now() - 10 * 86_400_000), expiresInSeconds: 86_400 });

    const r = await check([...e.args(), '--recipient-key', expired.publicKey, '--recipient-key', e.h.recipient.privateKey]);

    assert.equal(r.code, 1, r.text);
    const keyFailures = failed(r.report).filter((c) => c.check === 'key');
    assert.equal(keyFailures.length, 2, JSON.stringify(keyFailures));
    assert.ok(keyFailures.every((c) => c.subject.startsWith('--recipient-key')));
    assert.ok(keyFailures.some((c) => c.message.includes(expired.publicKey) && /expired/.test(c.message)));
    assert.ok(keyFailures.some((c) => c.message.includes(e.h.recipient.privateKey) && /PRIVATE key/.test(c.message)));
    assert.ok(!r.text.includes(e.h.recipient.passphrase));
  });

  it('warns about a signing key that expires within --key-expiry-warning, without failing', async () => {
    const soon = await writeTestKeyPair(e.h.dir, 'soon', { expiresInSeconds: 5 * 86_400 });

    const r = await check([...e.args(), '--signing-key', soon.privateKey, '--signing-key-passphrase-file', soon.passphraseFile]);

    assert.equal(r.code, 0, r.text);
    const signing = r.report.checks.filter((c) => c.subject.startsWith('--signing-key'));
    assert.deepEqual(
      signing.map((c) => c.verdict),
      ['ok', 'warning'],
    );
  });

  it('shows the window each trusted signer key is believed in', async () => {
    const r = await check([
      ...e.args(),
      ...keys(),
      '--trusted-signer-key',
      `${e.h.signer.publicKey},notBefore=2026-01-01T00:00:00Z,notAfter=2027-01-01T00:00:00Z`,
      '--trusted-signer-key',
      e.h.preRestoreSigner.publicKey,
    ]);

    assert.equal(r.code, 0, r.text);
    assert.deepEqual(
      r.report.checks.filter((c) => c.subject.startsWith('--trusted-signer-key')).map((c) => [c.verdict, c.message]),
      [
        [
          'ok',
          `public key ${e.h.signer.fingerprint}: its signatures are believed when made from 2026-01-01T00:00:00.000Z until 2027-01-01T00:00:00.000Z`,
        ],
        ['ok', `public key ${e.h.preRestoreSigner.fingerprint}: its signatures are believed`],
      ],
    );
  });

  it('fails (exit 1) on an unreachable store, naming it', async () => {
    const port = await freePort();

    const r = await check([
      ...e.kubeArgs(),
      '--store',
      e.h.s3.storeUrl('bk'),
      '--s3-endpoint',
      `http://127.0.0.1:${port}`,
      '--s3-force-path-style',
      '--s3-max-attempts',
      '1',
      '--cluster-name',
      'test-cluster',
    ]);

    assert.equal(r.code, 1, r.text);
    assert.deepEqual(
      failed(r.report).map((c) => [c.check, c.subject]),
      [['store', `${e.h.s3.storeUrl('bk')}/test-cluster/backups/`]],
    );
    assert.match(failed(r.report)[0].message, /cannot list the store \(--store\): .*ECONNREFUSED/);
  });

  it('refuses bad settings with exit 2: an unknown job, a store without a cluster name', async () => {
    const unknown = await e.run(checkCommand, ['--for', 'nope', ...e.kubeArgs()]);
    const noCluster = await e.run(checkCommand, ['--for', 'backup', ...e.kubeArgs(), ...e.h.s3.args('bk')]);

    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--for/);
    assert.equal(noCluster.code, 2);
    assert.match(noCluster.stderr, /--cluster-name/);
  });
});

describe('jobs/check --for verify-restore', function () {
  this.timeout(120_000);
  let e: RbacE2E;
  const objects = rbacObjectsFor('verify-restore');
  before(async () => {
    e = await RbacE2E.start('verify-restore');
  });
  after(async () => e?.stop());

  it('asks for the drill permissions in --drill-namespace, and fails them in another namespace', async () => {
    await e.reset(objects);

    const right = await e.run(checkCommand, ['--for', 'verify-restore', ...e.args(), '--output', 'json']);
    const wrong = await e.run(checkCommand, ['--for', 'verify-restore', ...e.args(), '--drill-namespace', 'elsewhere', '--output', 'json']);

    assert.equal(right.code, 0, right.text);
    const drill = (JSON.parse(right.stdout) as CheckReport).checks.filter((c) => c.subject.endsWith('(namespace secret-steward-drill)'));
    assert.deepEqual(
      drill.map((c) => [c.subject, c.verdict]),
      [
        ['create secrets (namespace secret-steward-drill)', 'ok'],
        ['list secrets (namespace secret-steward-drill)', 'ok'],
        ['deletecollection secrets (namespace secret-steward-drill)', 'ok'],
      ],
    );
    assert.equal(wrong.code, 1, wrong.text);
    assert.deepEqual(
      (JSON.parse(wrong.stdout) as CheckReport).checks.filter((c) => c.verdict === 'failed').map((c) => c.subject),
      ['create secrets (namespace elsewhere)', 'list secrets (namespace elsewhere)', 'deletecollection secrets (namespace elsewhere)'],
    );
  });
});
