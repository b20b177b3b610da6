import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { seedCommonSecrets } from '../support/seed-secrets.js';
import { INSTALLATIONS, type Installation } from './installations.js';
import { permissionsOf } from './rbac.js';
import { assertEachRuleUsed, forbidden, itShowsEachMissingPermission, type JobRun, RbacE2E, type Signal, usageTable } from './rbac-e2e.js';

/**
 * The backup job's RBAC is exactly sufficient, in both installations: it backs up every Secret
 * of its namespaces as its ServiceAccount with the rendered rules, and without any single one of
 * them it fails or visibly degrades.
 */

/** Where the Secrets are. */
const NAMESPACES = ['payments', 'web'];

/** What the run shows without each permission (key: `verb group/resource`). */
const SIGNALS: Record<string, Signal> = {
  'list secrets': { code: 1, evidence: forbidden('list', 'Secrets in all namespaces'), says: 'the backup cannot list Secrets and fails' },
  // The namespaced installation's only ClusterRole rule (keyed by its name there).
  'get namespaces [kube-system]': {
    code: 1,
    evidence: /failed to get Namespace kube-system \(its UID binds backups to this cluster\): 403 Forbidden/,
    says: 'it cannot read the cluster identity it seals into the backup, and fails before writing anything',
  },
  'create coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('create', 'Lease secret-steward/secret-steward-backup'),
    says: 'the first run cannot create its Lease and fails',
  },
  'get coordination.k8s.io/leases [secret-steward-backup]': {
    code: 1,
    evidence: forbidden('get', 'Lease secret-steward/secret-steward-backup'),
    says: 'it cannot read its Lease and fails',
  },
  'get coordination.k8s.io/leases [secret-steward-restore,secret-steward-verify-restore]': {
    code: 1,
    evidence:
      /retention failed after a successful backup \(err: failed to get Lease secret-steward\/secret-steward-restore[^)]*: 403 Forbidden/,
    says: 'the backup completes, but retention deletes nothing: it cannot see whether a restore or a drill reads an old backup',
    then: (_e, r) => assert.equal(JSON.parse(r.stdout).secrets, 15, 'the backup itself is complete'),
  },
  'get namespaces': {
    code: 1,
    evidence: /failed to get Namespace kube-system \(its UID binds backups to this cluster\): 403 Forbidden/,
    says: 'it cannot read the cluster identity it seals into the backup, and fails before writing anything',
  },
  'update coordination.k8s.io/leases': {
    code: 0,
    evidence:
      /could not release the lock; it expires on its own \(err: failed to replace Lease secret-steward\/secret-steward-backup: 403 Forbidden/,
    says: 'the backup completes but its Lease stays held until it expires (a run started before then exits 3)',
    then: (e) => {
      const lease = e.h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-backup') as
        | { spec?: { holderIdentity?: string } }
        | undefined;
      assert.equal(lease?.spec?.holderIdentity, 'test-pod', 'the Lease is still held');
    },
  },
  'create events': {
    code: 0,
    evidence: /could not record Event \(err: failed to create Event[^)]*: 403 Forbidden/,
    says: 'the backup completes without its BackupCompleted Event (a warning says so)',
    then: (e, r) => {
      assert.equal(JSON.parse(r.stdout).secrets, 15, 'the backup itself is complete');
      assert.deepEqual(e.h.emulator.list('v1', 'Event', 'secret-steward'), []);
    },
  },
};

/** The signals in `inst`: namespaced, Secrets are listed one namespace at a time. */
function signalsFor(inst: Installation): Record<string, Signal> {
  const { 'get namespaces [kube-system]': identity, ...cluster } = SIGNALS;
  if (inst.name === 'cluster-wide') return cluster;
  const { 'get namespaces': _, ...rest } = cluster;
  return {
    ...rest,
    'get namespaces [kube-system]': identity,
    'list secrets': { ...rest['list secrets'], evidence: forbidden('list', `Secrets in namespace ${NAMESPACES[0]}`) },
  };
}

for (const inst of INSTALLATIONS)
  describe(`manifests: RBAC end to end: backup (${inst.name})`, function () {
    this.timeout(120_000);
    const objects = inst.rbacObjectsFor('backup', NAMESPACES);
    const permissions = permissionsOf(objects);
    let e: RbacE2E;
    let keyArgs: string[];
    let runs = 0;

    before(async () => {
      e = await RbacE2E.start('backup');
      keyArgs = ['--recipient-key', e.h.recipient.publicKey, ...e.h.signingArgs()];
    });
    after(async () => e?.stop());

    /** Seeds Secrets of every common type in two namespaces and takes a backup as the ServiceAccount. */
    async function scenario(): Promise<JobRun> {
      seedCommonSecrets(e.h, NAMESPACES);
      // With retention (it reads the Leases of the jobs that read backups), in a store prefix of its own per run.
      return e.run(backupCommand, [
        ...e.args(`bk${runs++}`),
        ...inst.args(NAMESPACES),
        ...keyArgs,
        '--keep-daily',
        '7',
        '--output',
        'json',
      ]);
    }

    it('backs up every Secret with exactly the rendered rules; each permission alone allowed some request', async () => {
      await e.reset(objects);

      const r = await scenario();

      assert.equal(r.code, 0, r.text);
      assert.equal(JSON.parse(r.stdout).secrets, 15);
      const usage = e.usage(permissions);
      console.log(usageTable(permissions, usage));
      assert.deepEqual(usage.denied, [], 'no request was denied');
      assert.deepEqual(usage.foreign, []);
      assertEachRuleUsed(permissions, usage);
      const events = e.h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string }>;
      assert.ok(events.some((ev) => ev.reason === 'BackupCompleted'));
    });

    itShowsEachMissingPermission({ objects, permissions, signals: signalsFor(inst), e: () => e, scenario });
  });
