import assert from 'node:assert/strict';
import { Annotations, Labels, MANAGED_BY } from '../../shared/rotate/metadata.js';
import { type AdmissionRequest, admit, compile, expressionsOf } from './admission-policy.js';
import { serviceAccountName, TOOL_NAMESPACE } from './rbac.js';
import { type ManifestObject, renderManifests } from './render.js';

/**
 * rotate's ValidatingAdmissionPolicy (manifests/base/rotate/admission-policy.yaml), evaluated
 * with a CEL interpreter against requests shaped like those the rotation job sends (labels and
 * annotations from shared/rotate/metadata.ts, so a change there that the policy does not
 * follow fails here). The API emulator enforces it in the end-to-end rotate test, which also
 * evaluates it on every Secret rotate really created and deleted.
 */

const ROTATE = `system:serviceaccount:${TOOL_NAMESPACE}:${serviceAccountName('rotate')}`;
const RESTORE = `system:serviceaccount:${TOOL_NAMESPACE}:${serviceAccountName('restore')}`;
const SECRETS = { group: '', version: 'v1', resource: 'secrets' };

const secret = (name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; type?: string } = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name,
    namespace: 'shop',
    ...(extra.labels ? { labels: extra.labels } : {}),
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
  },
  ...(extra.type ? { type: extra.type } : {}),
  data: { k: 'dg==' },
});

/** The object moved to secret-steward's own namespace. */
const inToolNamespace = (o: ReturnType<typeof secret>) => ({ ...o, metadata: { ...o.metadata, namespace: 'secret-steward' } });

const create = (object: Record<string, unknown>, username = ROTATE): AdmissionRequest => ({
  operation: 'CREATE',
  username,
  resource: SECRETS,
  object,
  oldObject: null,
});
const del = (oldObject: Record<string, unknown>, username = ROTATE): AdmissionRequest => ({
  operation: 'DELETE',
  username,
  resource: SECRETS,
  object: null,
  oldObject,
});

/** Labels of what rotate creates (shared/rotate/protocol.ts, in-place.ts). */
const pending = { [Labels.managedBy]: MANAGED_BY, [Labels.role]: 'pending', [Labels.rotationId]: 'r-1' };
const previous = { [Labels.managedBy]: MANAGED_BY, [Labels.role]: 'previous', [Labels.rotationId]: 'r-1' };
/** A new version carries the head's own labels plus the role (no managed-by). */
const version = { team: 'payments', [Labels.role]: 'pending', [Labels.rotationId]: 'r-1' };

const CASES: Array<[what: string, req: AdmissionRequest, expected: 'allowed' | 'denied' | 'not evaluated']> = [
  ['rotate creates a pending companion', create(secret('db-pending', { labels: pending })), 'allowed'],
  [
    'rotate creates a previous-values companion of a tls Secret',
    create(secret('db-previous', { labels: previous, type: 'kubernetes.io/tls' })),
    'allowed',
  ],
  [
    'rotate creates a new version of a dockerconfigjson Secret',
    create(secret('keys-v3', { labels: version, type: 'kubernetes.io/dockerconfigjson', annotations: { [Annotations.lineage]: 'keys' } })),
    'allowed',
  ],
  ['rotate creates a Secret without the role label', create(secret('anything', { labels: { [Labels.managedBy]: MANAGED_BY } })), 'denied'],
  ['rotate creates a Secret with another role value', create(secret('x', { labels: { [Labels.role]: 'head' } })), 'denied'],
  [
    'rotate creates a service-account token Secret, even labelled',
    create(
      secret('db-pending', {
        labels: pending,
        type: 'kubernetes.io/service-account-token',
        annotations: { 'kubernetes.io/service-account.name': 'admin' },
      }),
    ),
    'denied',
  ],
  [
    'rotate creates a bootstrap token Secret, even labelled',
    create(secret('bootstrap-token-abcdef', { labels: pending, type: 'bootstrap.kubernetes.io/token' })),
    'denied',
  ],
  [
    "rotate creates follow mode's key in its own namespace (shared/rotate/follow.ts)",
    create(inToolNamespace(secret('secret-steward-follow-key', { labels: { [Labels.managedBy]: MANAGED_BY } }))),
    'allowed',
  ],
  ["rotate creates a Secret of the key's name in another namespace", create(secret('secret-steward-follow-key')), 'denied'],
  ['rotate creates another Secret in its own namespace', create(inToolNamespace(secret('secret-steward-restore-keys'))), 'denied'],
  [
    "rotate creates a service-account token under the key's name",
    create(inToolNamespace(secret('secret-steward-follow-key', { type: 'kubernetes.io/service-account-token' }))),
    'denied',
  ],
  ["rotate deletes follow mode's key", del(inToolNamespace(secret('secret-steward-follow-key'))), 'denied'],
  ['rotate deletes a pending companion', del(secret('db-pending', { labels: pending })), 'allowed'],
  [
    'rotate deletes an old version (lineage annotation, no role)',
    del(secret('keys-v1', { annotations: { [Annotations.lineage]: 'keys', [Annotations.supersededBy]: 'keys-v2' } })),
    'allowed',
  ],
  ['rotate deletes a Secret that is not its own', del(secret('payments-db', { labels: { app: 'payments' } })), 'denied'],
  ['rotate deletes a Secret with no metadata maps at all', del(secret('bare')), 'denied'],
  ['restore creates any Secret (the policy is rotate-only)', create(secret('anything'), RESTORE), 'not evaluated'],
  [
    'rotate updates a Secret (UPDATE is left to RBAC)',
    { operation: 'UPDATE', username: ROTATE, resource: SECRETS, object: secret('db'), oldObject: secret('db') },
    'not evaluated',
  ],
  [
    'rotate creates a ConfigMap (other resources are not matched)',
    { ...create(secret('x')), resource: { group: '', version: 'v1', resource: 'configmaps' } },
    'not evaluated',
  ],
];

describe('manifests: rotate admission policy', () => {
  let policy: ManifestObject;
  let binding: ManifestObject;

  before(async () => {
    const objects = await renderManifests('manifests/base');
    const named = (kind: string) => objects.find((o) => o.kind === kind && o.metadata.name === 'secret-steward-rotate-companions')!;
    policy = named('ValidatingAdmissionPolicy');
    binding = named('ValidatingAdmissionPolicyBinding');
  });

  it("is bound with Deny, and applies to rotate's ServiceAccount only", () => {
    assert.equal(policy.metadata.name, 'secret-steward-rotate-companions');
    assert.deepEqual(binding.spec, { policyName: policy.metadata.name, validationActions: ['Deny'] });
    assert.equal((policy.spec as { failurePolicy?: string }).failurePolicy, 'Fail');
    assert.deepEqual((policy.spec as { matchConditions: unknown[] }).matchConditions, [
      { name: 'rotate-service-account', expression: `request.userInfo.username == '${ROTATE}'` },
    ]);
  });

  it('every expression is valid CEL', () => {
    for (const expression of expressionsOf(policy)) assert.doesNotThrow(() => compile(expression), expression);
  });

  for (const [what, req, expected] of CASES) {
    it(`${what}: ${expected}`, () => {
      const decision = admit(policy, req);

      const got = !decision.applies ? 'not evaluated' : decision.allowed ? 'allowed' : 'denied';
      assert.equal(got, expected, decision.applies ? decision.messages.join('; ') : 'not evaluated');
    });
  }

  it('names what was refused in its message', () => {
    const decision = admit(policy, create(secret('db-pending', { labels: pending, type: 'kubernetes.io/service-account-token' })));

    assert.deepEqual(decision, {
      applies: true,
      allowed: false,
      messages: ['secret-steward-rotate may not create service-account or bootstrap token Secrets'],
    });
  });
});
