import assert from 'node:assert/strict';
import { IN_FLIGHT_ANNOTATION } from '../../shared/kube/lease-lock.js';
import { type AdmissionRequest, admit, compile, expressionsOf } from './admission-policy.js';
import { TOOL_NAMESPACE } from './rbac.js';
import { type ManifestObject, renderManifests } from './render.js';

/**
 * The `secret-steward-leases` ValidatingAdmissionPolicy (manifests/base/common), evaluated with
 * the emulator's evaluator on Lease requests as the jobs send them (shared/kube/lease-lock.ts).
 * Each job's ServiceAccount may create only its own Lease; rekey's may create and take the backup
 * job's Lease (it holds it, as prune does) and no other, and never write its in-flight note: that
 * note is the cluster's word to the next holder (`prune <id>` makes it delete that backup), and
 * rekey writes none. UPDATE requests carry the stored Lease as `oldObject`, as a real API server
 * admits them ("oldObject - The existing object. The value is null for CREATE requests":
 * the doc of Validation.expression in kubernetes/kubernetes
 * staging/src/k8s.io/api/admissionregistration/v1/types.go). The end-to-end rekey RBAC test runs
 * rekey under the same policy in the emulator.
 */

const user = (sa: string) => `system:serviceaccount:${TOOL_NAMESPACE}:secret-steward-${sa}`;
const LEASES = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' };

const lease = (name: string, note?: string, holder = 'rekey-pod') => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: TOOL_NAMESPACE, ...(note === undefined ? {} : { annotations: { [IN_FLIGHT_ANNOTATION]: note } }) },
  spec: { holderIdentity: holder, leaseDurationSeconds: 60 },
});
const create = (sa: string, object: Record<string, unknown>): AdmissionRequest => ({
  operation: 'CREATE',
  username: user(sa),
  resource: LEASES,
  object,
  oldObject: null,
});
const update = (sa: string, oldObject: Record<string, unknown>, object: Record<string, unknown>): AdmissionRequest => ({
  operation: 'UPDATE',
  username: user(sa),
  resource: LEASES,
  object,
  oldObject,
});

const PRUNE_NOTE = 'prune 20260101T030000Z-abcdef';

const CASES: Array<[what: string, req: AdmissionRequest, expected: 'allowed' | 'denied' | 'not evaluated']> = [
  ['backup creates its own Lease', create('backup', lease('secret-steward-backup')), 'allowed'],
  [
    'backup records an in-flight note on its Lease',
    update('backup', lease('secret-steward-backup'), lease('secret-steward-backup', PRUNE_NOTE)),
    'allowed',
  ],
  ['restore creates its own Lease', create('restore', lease('secret-steward-restore')), 'allowed'],
  ['rotate creates the backup Lease', create('rotate', lease('secret-steward-backup')), 'denied'],
  ['rekey creates the backup Lease (no backup has run yet)', create('rekey', lease('secret-steward-backup')), 'allowed'],
  [
    'rekey takes over the backup Lease, keeping the note a killed prune left',
    update('rekey', lease('secret-steward-backup', PRUNE_NOTE, ''), lease('secret-steward-backup', PRUNE_NOTE)),
    'allowed',
  ],
  [
    'rekey renews and releases the backup Lease',
    update('rekey', lease('secret-steward-backup'), lease('secret-steward-backup', undefined, '')),
    'allowed',
  ],
  ['rekey creates a Lease named like its ServiceAccount', create('rekey', lease('secret-steward-rekey')), 'allowed'],
  ['rekey creates the restore Lease', create('rekey', lease('secret-steward-restore')), 'denied'],
  ['rekey creates the verify-restore Lease', create('rekey', lease('secret-steward-verify-restore')), 'denied'],
  ['rekey creates the rotate Lease', create('rekey', lease('secret-steward-rotate')), 'denied'],
  ['rekey creates the backup Lease with an in-flight note', create('rekey', lease('secret-steward-backup', PRUNE_NOTE)), 'denied'],
  [
    'rekey adds an in-flight note to the backup Lease',
    update('rekey', lease('secret-steward-backup'), lease('secret-steward-backup', PRUNE_NOTE)),
    'denied',
  ],
  [
    'rekey changes the in-flight note of the backup Lease',
    update('rekey', lease('secret-steward-backup', 'backup 20260101T030000Z-abcdef'), lease('secret-steward-backup', PRUNE_NOTE)),
    'denied',
  ],
  [
    'rekey removes the in-flight note of the backup Lease',
    update('rekey', lease('secret-steward-backup', PRUNE_NOTE), lease('secret-steward-backup')),
    'denied',
  ],
  [
    'the admin creates any Lease',
    { ...create('rekey', lease('secret-steward-restore', PRUNE_NOTE)), username: 'system:admin' },
    'not evaluated',
  ],
];

describe('manifests: the secret-steward-leases admission policy', () => {
  let policy: ManifestObject;
  before(async () => {
    const objects = await renderManifests('manifests/base');
    policy = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === 'secret-steward-leases')!;
    assert.ok(policy, 'the base renders the policy');
  });

  it('compiles', () => {
    for (const e of expressionsOf(policy)) assert.doesNotThrow(() => compile(e), e);
  });

  for (const [what, req, expected] of CASES) {
    it(`${what}: ${expected}`, () => {
      const d = admit(policy, req);

      const got = !d.applies ? 'not evaluated' : d.allowed ? 'allowed' : 'denied';
      assert.equal(got, expected, d.applies ? d.messages.join('; ') : '');
    });
  }
});
