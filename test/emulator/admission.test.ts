import assert from 'node:assert/strict';
import { api, deployment, secret } from './helpers.js';
import { KubeApiError, KubeEmulator } from './index.js';

/**
 * ValidatingAdmissionPolicies as kube-apiserver enforces them (admission.ts). The denial's Status
 * follows k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go: the first
 * denying validation of a Deny binding wins; its `reason` picks the code (`reasonToCode`:
 * Forbidden 403, no reason 422 Invalid, which test/e2e/apimachinery/validatingadmissionpolicy.go
 * checks with apierrors.IsInvalid); the message is admission.NewForbidden's
 * `<resource> "<name>" is forbidden: ` followed by `ValidatingAdmissionPolicy '<policy>' with
 * binding '<binding>' denied request: <message>`, which is also appended as a cause.
 */

const RBAC = `
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: writer}
rules:
- apiGroups: ["", apps]
  resources: [secrets, deployments, deployments/scale]
  verbs: [get, list, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: writer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: writer}
subjects:
- {kind: ServiceAccount, name: bot, namespace: app}
- {kind: ServiceAccount, name: other, namespace: app}
`;

/** Deployments of app:bot keep their image; DELETE of Secrets needs a label. */
const POLICIES = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: keep-image}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], resources: [deployments], operations: [UPDATE]}
  matchConditions:
  - {name: bot, expression: "request.userInfo.username == 'system:serviceaccount:app:bot'"}
  variables:
  - {name: images, expression: "object.spec.template.spec.containers.map(c, c.image)"}
  validations:
  - expression: "variables.images == oldObject.spec.template.spec.containers.map(c, c.image)"
    message: the bot may not change an image
    reason: Forbidden
  - expression: "object.spec.template.spec.dnsPolicy == 'ClusterFirst'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: keep-image-binding}
spec: {policyName: keep-image, validationActions: [Deny]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: labelled-deletes}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], resources: [secrets], operations: [DELETE, CREATE]}
  validations:
  - expression: "request.operation != 'DELETE' || (object == null && has(oldObject.metadata.labels))"
    messageExpression: "'Secret ' + oldObject.metadata.name + ' has no labels'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: labelled-deletes}
spec: {policyName: labelled-deletes, validationActions: [Deny]}
`;

const denied = (resource: string, name: string, policy: string, binding: string, message: string) =>
  `${resource} "${name}" is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: ${message}`;

describe('test/emulator/admission', () => {
  let emu: KubeEmulator;
  let bot: string;
  let other: string;

  beforeEach(async () => {
    emu = await KubeEmulator.start({ rolloutDelayMs: 5 });
    await emu.applyObjects(RBAC);
    bot = emu.serviceAccountToken('app', 'bot');
    other = emu.serviceAccountToken('app', 'other');
    emu.create({ ...deployment('web'), metadata: { name: 'web', namespace: 'app' } });
    await emu.applyObjects(POLICIES);
  });
  afterEach(async () => emu.stop());

  const imagePatch = [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'evil/app:1' }];
  const jsonPatch = { contentType: 'application/json-patch+json' };

  it('denies a PATCH (admitted as UPDATE) with the Status the real server sends: 403 for reason Forbidden', async () => {
    const r = await api(emu, 'PATCH', '/apis/apps/v1/namespaces/app/deployments/web', imagePatch, { token: bot, ...jsonPatch });

    assert.equal(r.status, 403);
    const message =
      "ValidatingAdmissionPolicy 'keep-image' with binding 'keep-image-binding' denied request: the bot may not change an image";
    assert.deepEqual(r.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `deployments.apps "web" is forbidden: ${message}`,
      reason: 'Forbidden',
      details: { name: 'web', group: 'apps', kind: 'deployments', causes: [{ message }] },
      code: 403,
    });
    const stored = emu.get('apps/v1', 'Deployment', 'app', 'web') as unknown as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    assert.equal(stored.spec.template.spec.containers[0].image, 'example/app:1', 'nothing was stored');
  });

  it('admits the same change from an identity the match conditions leave out, and other changes from the bot', async () => {
    const byOther = await api(emu, 'PATCH', '/apis/apps/v1/namespaces/app/deployments/web', imagePatch, { token: other, ...jsonPatch });
    const annotate = [{ op: 'add', path: '/spec/template/metadata/annotations', value: { restarted: 'now' } }];
    const byBot = await api(emu, 'PATCH', '/apis/apps/v1/namespaces/app/deployments/web', annotate, { token: bot, ...jsonPatch });

    assert.equal(byOther.status, 200, byOther.text);
    assert.equal(byBot.status, 200, byBot.text);
  });

  it('evaluates the object after the patch and the defaults, and answers 422 Invalid without a reason', async () => {
    const merge = { token: bot, contentType: 'application/merge-patch+json' };
    const path = '/apis/apps/v1/namespaces/app/deployments/web';

    const changed = await api(emu, 'PATCH', path, { spec: { template: { spec: { dnsPolicy: 'Default' } } } }, merge);
    const removed = await api(emu, 'PATCH', path, { spec: { template: { spec: { dnsPolicy: null } } } }, merge);

    assert.equal(changed.status, 422);
    assert.equal(changed.body.reason, 'Invalid');
    assert.equal(
      changed.body.message,
      denied(
        'deployments.apps',
        'web',
        'keep-image',
        'keep-image-binding',
        "failed expression: object.spec.template.spec.dnsPolicy == 'ClusterFirst'",
      ),
    );
    assert.equal(removed.status, 200, `dnsPolicy removed is defaulted back before admission: ${removed.text}`);
  });

  it('applies to system:masters as well (the real plugin exempts no user): DELETE sees oldObject, messageExpression', async () => {
    emu.create({ ...secret('plain'), metadata: { name: 'plain', namespace: 'app' } });

    assert.throws(
      () => emu.delete('v1', 'Secret', 'app', 'plain'),
      (e: unknown) =>
        e instanceof KubeApiError &&
        e.code === 422 &&
        e.status.message === denied('secrets', 'plain', 'labelled-deletes', 'labelled-deletes', 'Secret plain has no labels'),
    );
    const http = await api(emu, 'DELETE', '/api/v1/namespaces/app/secrets/plain?dryRun=All', undefined, { token: bot });
    assert.equal(http.status, 422, 'dry runs are admitted too');
    emu.create({ ...secret('tagged'), metadata: { name: 'tagged', namespace: 'app', labels: { a: 'b' } } });
    assert.equal(emu.delete('v1', 'Secret', 'app', 'tagged'), true);
  });

  it('judges a create before the name is found taken, as Store.Create does (admission, then storage: 409)', async () => {
    // kube-apiserver staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go, Create:
    // rest.BeforeCreate, then createValidation (the validating admission chain), then
    // Storage.Create, which refuses an existing key with AlreadyExists.
    emu.create({ ...secret('taken'), metadata: { name: 'taken', namespace: 'app' } });
    emu.create({ ...secret('spare'), metadata: { name: 'spare', namespace: 'app' } });
    await emu.applyObjects(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: not-taken}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], resources: [secrets], operations: [CREATE]}
  validations:
  - expression: "object.metadata.name != 'taken'"
    message: not that name
    reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: not-taken}
spec: {policyName: not-taken, validationActions: [Deny]}
`);

    const refused = await api(
      emu,
      'POST',
      '/api/v1/namespaces/app/secrets',
      { ...secret('taken'), metadata: { name: 'taken' } },
      { token: bot },
    );
    const existing = await api(
      emu,
      'POST',
      '/api/v1/namespaces/app/secrets',
      { ...secret('spare'), metadata: { name: 'spare' } },
      { token: bot },
    );

    const refusedDry = await api(
      emu,
      'POST',
      '/api/v1/namespaces/app/secrets?dryRun=All',
      { ...secret('taken'), metadata: { name: 'taken' } },
      { token: bot },
    );
    const existingDry = await api(
      emu,
      'POST',
      '/api/v1/namespaces/app/secrets?dryRun=All',
      { ...secret('spare'), metadata: { name: 'spare' } },
      { token: bot },
    );

    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.message, denied('secrets', 'taken', 'not-taken', 'not-taken', 'not that name'));
    assert.equal(existing.status, 409, existing.text);
    assert.equal(existing.body.reason, 'AlreadyExists');
    // A dry run goes through the same steps (admission sees dryRun: true) and stops at the same point.
    assert.equal(refusedDry.status, 403, refusedDry.text);
    assert.equal(existingDry.status, 409, existingDry.text);
  });

  it('denies under failurePolicy Fail when an expression errs, and skips it under Ignore', async () => {
    await emu.applyObjects(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: keep-image}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], resources: [deployments], operations: [UPDATE]}
  validations:
  - expression: "object.spec.nothing == 1"
`);

    const failed = await api(emu, 'PATCH', '/apis/apps/v1/namespaces/app/deployments/web', imagePatch, { token: other, ...jsonPatch });
    assert.equal(failed.status, 422);
    assert.match(failed.body.message, /denied request: expression 'object\.spec\.nothing == 1' resulted in error: /);

    const policy = emu.get('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', undefined, 'keep-image') as unknown as {
      spec: { failurePolicy: string };
    };
    policy.spec.failurePolicy = 'Ignore';
    emu.update(policy as never);
    const ignored = await api(emu, 'PATCH', '/apis/apps/v1/namespaces/app/deployments/web', imagePatch, { token: other, ...jsonPatch });
    assert.equal(ignored.status, 200, ignored.text);
  });

  it('denies only through bindings with the Deny action, and matches subresources only when named', async () => {
    const binding = emu.get(
      'admissionregistration.k8s.io/v1',
      'ValidatingAdmissionPolicyBinding',
      undefined,
      'keep-image-binding',
    ) as unknown as {
      spec: { validationActions: string[] };
    };
    const scale = await api(
      emu,
      'PATCH',
      '/apis/apps/v1/namespaces/app/deployments/web/scale',
      { spec: { replicas: 3 } },
      {
        token: bot,
        contentType: 'application/merge-patch+json',
      },
    );
    binding.spec.validationActions = ['Audit'];
    emu.update(binding as never);
    const audited = await api(emu, 'PATCH', '/apis/apps/v1/namespaces/app/deployments/web', imagePatch, { token: bot, ...jsonPatch });

    assert.equal(scale.status, 200, `resources: [deployments] does not match deployments/scale: ${scale.text}`);
    assert.equal(audited.status, 200, audited.text);
  });

  it('refuses a policy whose CEL does not compile (422), and never applies policies to policies', async () => {
    const bad = await api(emu, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'bad' },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], operations: ['*'] }] },
        validations: [{ expression: 'object..x' }],
      },
    });
    await emu.applyObjects(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: deny-all}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: ["*"], apiVersions: ["*"], resources: ["*"], operations: ["*"]}
  validations:
  - {expression: "false", message: nothing passes}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: deny-all}
spec: {policyName: deny-all, validationActions: [Deny]}
`);

    assert.equal(bad.status, 422);
    assert.equal(bad.body.details.causes[0].field, 'spec.validations[0].expression');
    assert.throws(() => emu.create({ ...secret('x'), metadata: { name: 'x', namespace: 'app' } }), /nothing passes/);
    assert.equal(emu.delete('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding', undefined, 'deny-all'), true);
  });
});
