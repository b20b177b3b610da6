import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { rekeyCommand } from '../../jobs/rekey.js';
import { IN_FLIGHT_ANNOTATION } from '../../shared/kube/lease-lock.js';
import { backupKeyArgs, readKeyArgs } from '../shared/verify-restore/drill-fixtures.js';
import { type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';
import { seedCommonSecrets } from '../support/seed-secrets.js';
import { permissionsOf, rbacObjectsFor, TOOL_NAMESPACE } from './rbac.js';
import { assertEachRuleUsed, forbidden, itShowsEachMissingPermission, type JobRun, RbacE2E, type Signal, usageTable } from './rbac-e2e.js';

/**
 * rekey's RBAC (manifests/jobs/rekey) is exactly sufficient. Each run starts from one backup in a
 * store prefix of its own, taken as admin to the OLD recipient key, with no backup Lease yet (so
 * rekey creates it, through the secret-steward-leases policy of manifests/base); rekey, as its
 * ServiceAccount with exactly the rendered rules, re-encrypts it to the new key. Without any single
 * permission the run fails or visibly degrades. Both installations install the same
 * manifests/jobs/rekey: rekey needs nothing in the workload namespaces (no Secret, no Namespace),
 * so one run covers both.
 */

const BACKUP_LEASE = 'secret-steward-backup';

interface RekeyReport {
  outcomes: Array<{ id: string; action: string }>;
}

const report = (r: JobRun): RekeyReport => JSON.parse(r.stdout) as RekeyReport;

/** The backup Lease as the emulator stores it. */
function backupLease(e: RbacE2E): { metadata: { annotations?: Record<string, string> }; spec?: { holderIdentity?: string } } | undefined {
  return e.h.emulator.get('coordination.k8s.io/v1', 'Lease', TOOL_NAMESPACE, BACKUP_LEASE) as never;
}

/** A `then` check: the backup was left as it was (nothing rekeyed). */
const nothingRekeyed = (_e: RbacE2E, r: JobRun): void =>
  assert.ok(!r.stdout.includes('"rekeyed"') && !/\brekeyed\b/.test(r.stdout), `nothing may be rekeyed:\n${r.stdout}`);

const SIGNALS: Record<string, Signal> = {
  'create coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('create', `Lease ${TOOL_NAMESPACE}/${BACKUP_LEASE}`),
    says: 'it cannot create the backup Lease (no backup has run yet) and re-encrypts nothing',
    then: nothingRekeyed,
  },
  'get coordination.k8s.io/leases [secret-steward-backup]': {
    code: 1,
    evidence: forbidden('get', `Lease ${TOOL_NAMESPACE}/${BACKUP_LEASE}`),
    says: 'it cannot read the backup Lease and re-encrypts nothing',
    then: nothingRekeyed,
  },
  'update coordination.k8s.io/leases': {
    code: 0,
    evidence: new RegExp(
      `could not release the lock; it expires on its own \\(err: failed to replace Lease ${TOOL_NAMESPACE}/${BACKUP_LEASE}: 403 Forbidden`,
    ),
    says: 'the backup is re-encrypted, but the backup Lease stays held until it expires (a backup started before then exits 3)',
    then: (e, r) => {
      assert.deepEqual(
        report(r).outcomes.map((o) => o.action),
        ['rekeyed'],
      );
      assert.equal(backupLease(e)?.spec?.holderIdentity, 'test-pod', 'the Lease is still held');
    },
  },
  'get coordination.k8s.io/leases [secret-steward-restore,secret-steward-verify-restore]': {
    code: 1,
    evidence: forbidden('get', `Lease ${TOOL_NAMESPACE}/secret-steward-restore`),
    says: 'it cannot see whether a restore or a drill is reading a backup, and re-encrypts nothing',
    then: nothingRekeyed,
  },
  'create events': {
    code: 0,
    evidence: /could not record Event \(err: failed to create Event[^)]*: 403 Forbidden/,
    says: 'the backup is re-encrypted without its RekeyCompleted Event (a warning says so)',
    then: (e, r) => {
      assert.deepEqual(
        report(r).outcomes.map((o) => o.action),
        ['rekeyed'],
      );
      const reasons = (e.h.emulator.list('v1', 'Event', TOOL_NAMESPACE) as Array<{ reason?: string }>).map((ev) => ev.reason);
      assert.ok(!reasons.some((x) => x?.startsWith('Rekey')), reasons.join(', '));
    },
  },
};

describe('manifests: RBAC end to end: rekey (manifests/jobs/rekey, both installations)', function () {
  this.timeout(180_000);
  const objects = rbacObjectsFor('rekey', { dir: 'manifests/jobs/rekey' });
  const permissions = permissionsOf(objects);
  let e: RbacE2E;
  let next: TestKeyFiles;
  let rekeyKey: TestKeyFiles;
  let runs = 0;

  before(async () => {
    e = await RbacE2E.start('rekey');
    next = await writeTestKeyPair(e.h.dir, 'next-recipient');
    rekeyKey = await writeTestKeyPair(e.h.dir, 'rekey');
  });
  after(async () => e?.stop());

  const rekeyArgs = (prefix: string) => [
    ...e.args(prefix),
    ...readKeyArgs(e.h),
    '--recipient-key',
    next.publicKey,
    '--rekey-signing-key',
    rekeyKey.privateKey,
    '--rekey-signing-key-passphrase-file',
    rekeyKey.passphraseFile,
    '--output',
    'json',
  ];

  /**
   * A backup to the old key, as admin, in a prefix of its own, then rekey. `keepLease`: leave the
   * backup Lease the admin's backup wrote (with `note` as its in-flight note).
   */
  async function scenario(o: { keepLease?: boolean; note?: string } = {}): Promise<JobRun> {
    const prefix = `rk${runs++}`;
    if (!e.h.emulator.get('v1', 'Namespace', undefined, 'payments')) seedCommonSecrets(e.h, ['payments']);
    await e.runAsAdmin(backupCommand, [...backupKeyArgs(e.h)], prefix);
    if (!o.keepLease) e.h.emulator.delete('coordination.k8s.io/v1', 'Lease', TOOL_NAMESPACE, BACKUP_LEASE);
    else if (o.note !== undefined) {
      const lease = backupLease(e)!;
      e.h.emulator.update({ ...lease, metadata: { ...lease.metadata, annotations: { [IN_FLIGHT_ANNOTATION]: o.note } } } as never);
    }
    e.h.emulator.requests.clear();
    e.h.emulator.clearRbacDecisions();
    return e.run(rekeyCommand, rekeyArgs(prefix));
  }

  it('re-encrypts the backup, creating the backup Lease, with exactly the rendered rules; each rule alone allowed some request', async () => {
    await e.reset(objects);

    const r = await scenario();

    assert.equal(r.code, 0, r.text);
    assert.deepEqual(
      report(r).outcomes.map((o) => o.action),
      ['rekeyed'],
    );
    const usage = e.usage(permissions);
    console.log(usageTable(permissions, usage));
    assert.deepEqual(usage.denied, [], 'no request was denied');
    assert.deepEqual(usage.foreign, []);
    assertEachRuleUsed(permissions, usage);
    const events = e.h.emulator.list('v1', 'Event', TOOL_NAMESPACE) as Array<{ reason?: string }>;
    assert.ok(events.some((ev) => ev.reason === 'RekeyCompleted'));
    assert.equal(backupLease(e)?.spec?.holderIdentity, undefined, 'released');
  });

  it('takes over the backup Lease a backup left, keeping the in-flight note there, under the lease policy', async () => {
    await e.reset(objects);
    // A killed backup's note (an id no backup has: finishing it deletes nothing).
    const note = 'backup 20200101T000000Z-000000';

    const r = await scenario({ keepLease: true, note });

    assert.equal(r.code, 0, r.text);
    assert.deepEqual(
      report(r).outcomes.map((o) => o.action),
      ['rekeyed'],
    );
    assert.equal(backupLease(e)?.metadata.annotations?.[IN_FLIGHT_ANNOTATION], note, 'rekey leaves the note as it was');
    assert.deepEqual(e.usage(permissions).denied, []);
  });

  it('its token cannot plant an in-flight note on the backup Lease, nor create another job’s Lease (lease policy)', async () => {
    await e.reset(objects);
    await scenario();
    const token = e.h.emulator.serviceAccountToken(TOOL_NAMESPACE, 'secret-steward-rekey');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const leases = `${e.h.emulator.url}/apis/coordination.k8s.io/v1/namespaces/${TOOL_NAMESPACE}/leases`;
    const lease = backupLease(e)!;
    const planted = { ...lease, metadata: { ...lease.metadata, annotations: { [IN_FLIGHT_ANNOTATION]: 'prune 20200101T000000Z-000000' } } };

    const put = await fetch(`${leases}/${BACKUP_LEASE}`, { method: 'PUT', headers, body: JSON.stringify(planted) });
    const post = await fetch(leases, {
      method: 'POST',
      headers,
      body: JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'secret-steward-restore' }, spec: {} }),
    });

    assert.equal(put.status, 403);
    assert.match(await put.text(), /rekey may not write the in-flight note of the backup Lease/);
    assert.equal(post.status, 403);
    assert.match(await post.text(), /may create only its own Lease/);
    assert.equal(backupLease(e)?.metadata.annotations?.[IN_FLIGHT_ANNOTATION], undefined);
  });

  itShowsEachMissingPermission({ objects, permissions, signals: SIGNALS, e: () => e, scenario: () => scenario() });
});
