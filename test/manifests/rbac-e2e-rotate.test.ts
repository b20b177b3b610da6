import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rotateCommand } from '../../jobs/rotate.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { selfSignedCa } from '../shared/rotate/generators/context.js';
import { admit } from './admission-policy.js';
import { INSTALLATIONS, type Installation } from './installations.js';
import { permissionsOf, serviceAccountName, TOOL_NAMESPACE } from './rbac.js';
import { assertEachRuleUsed, forbidden, itShowsEachMissingPermission, type JobRun, RbacE2E, type Signal, usageTable } from './rbac-e2e.js';
import { renderManifestsSync } from './render.js';

/**
 * The rotate job's RBAC is exactly sufficient: one run rotates, as rotate's ServiceAccount with
 * the rendered rules, an in-place Secret used by a Deployment, a StatefulSet and a DaemonSet, a
 * versioned Secret used by a Deployment and a CronJob (with an old version to collect), and a
 * TLS certificate whose CA lives in another Secret. Every workload's first patch meets a 409,
 * as when a controller or an HPA writes it between rotate's list and its patch, so the re-read
 * path runs too. Without any single permission that run fails or visibly degrades. A second
 * test rolls a rotation back under the same rules. All of it in both installations: cluster-wide,
 * and namespaced with namespace shop in its scope, where rotate is also shown to be refused
 * secret-steward's own Secrets and to fail, naming the namespace, when its scope lists one it
 * is not bound in. The emulator enforces the admission policies of manifests/base all along
 * (rbac-e2e.ts): the companions policy on each Secret create and delete, the workload policies on
 * each restart, repoint and rollback of a consumer.
 */

/** The one namespace of the scenario (and of the namespaced installation's scope). */
const NAMESPACES = ['shop'];

const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const DB_POLICY = 'maxAge: 30d\nkeys:\n  password: { generator: password, length: 24 }\nrollout: { waitReady: 20s }';
const KEYS_POLICY =
  'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: { generator: token, prefix: "ak_" } }\nrollout: { waitReady: 20s }';
const TLS_POLICY =
  'maxAge: 60d\nkeys:\n  tls.crt: { generator: tls, dnsNames: [shop.example.com], validity: 90d, issuer: { secret: shop-ca }, caCertificate: ca.crt }\nrollout: { restart: false }';

/** The workloads whose first patch gets a 409 (each kind once), by API path. */
const CONFLICTED = [
  '/apis/apps/v1/namespaces/shop/deployments/api',
  '/apis/apps/v1/namespaces/shop/statefulsets/ledger',
  '/apis/apps/v1/namespaces/shop/daemonsets/agent',
  '/apis/batch/v1/namespaces/shop/cronjobs/report',
];

/** A pod template labelled `app` with one container (`container` fields) and `pod` fields. */
const podTemplate = (app: string, container: Record<string, unknown>, pod: Record<string, unknown> = {}) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0', ...container }], ...pod },
});

function report(r: JobRun): RotationReport {
  return JSON.parse(r.stdout) as RotationReport;
}

/** The followed Secrets' consumers as `<secret> <workload> <state>`. */
function followed(r: JobRun): string[] {
  return (report(r).followed ?? []).flatMap((f) => f.consumers.map((c) => `${f.name} ${c.workload} ${c.state}`));
}

function actions(r: JobRun): Record<string, string> {
  return Object.fromEntries(report(r).secrets.map((s) => [`${s.namespace}/${s.name}`, s.action]));
}

const rotatedAll = { 'shop/db': 'rotated', 'shop/keys-v2': 'rotated', 'shop/web-tls': 'rotated' };

/** A `then` check: the report names these outcomes per Secret (the others rotated). */
const outcomes =
  (changed: Record<string, string>) =>
  (_e: RbacE2E, r: JobRun): void =>
    assert.deepEqual(actions(r), { ...rotatedAll, ...changed });

/** What the run shows without each permission (key: `verb group/resource`). */
const SIGNALS: Record<string, Signal> = {
  'list secrets': { code: 1, evidence: forbidden('list', 'Secrets in all namespaces'), says: 'it cannot find due Secrets and fails' },
  'get secrets': {
    code: 1,
    evidence: forbidden('get', 'Secret shop/'),
    says: 'the due Secrets (found by a metadata-only list) cannot be read before acting: every rotation fails before changing anything',
    then: outcomes({ 'shop/db': 'failed', 'shop/keys-v2': 'failed', 'shop/web-tls': 'failed' }),
  },
  'create secrets': {
    code: 1,
    evidence: forbidden('create', 'Secret shop/db-pending'),
    says: 'no pending companion can be created: every rotation fails before changing anything',
    then: outcomes({ 'shop/db': 'failed', 'shop/keys-v2': 'failed', 'shop/web-tls': 'failed' }),
  },
  'update secrets': {
    code: 1,
    evidence: forbidden('replace', 'Secret shop/db'),
    says: 'in-place rotations cannot write their new values and fail; the versioned one succeeds',
    then: outcomes({ 'shop/db': 'failed', 'shop/web-tls': 'failed' }),
  },
  'patch secrets': {
    code: 1,
    evidence: forbidden('patch', 'Secret shop/'),
    says: 'the new values are written and consumers restarted, but no outcome can be recorded on the Secrets: every rotation is reported failed',
    then: outcomes({ 'shop/db': 'failed', 'shop/keys-v2': 'failed', 'shop/web-tls': 'failed' }),
  },
  'delete secrets': {
    code: 1,
    evidence: forbidden('delete', 'Secret shop/'),
    says: 'pending companions and the old version cannot be removed: every rotation is reported failed (the next run completes the bookkeeping)',
    then: outcomes({ 'shop/db': 'failed', 'shop/keys-v2': 'failed', 'shop/web-tls': 'failed' }),
  },
  'create events': {
    code: 0,
    evidence: /could not record Event \(err: failed to create Event[^)]*: 403 Forbidden/,
    says: 'everything rotates, without Events (a warning per Event says so)',
    then: (e, r) => {
      outcomes({})(e, r);
      assert.deepEqual(e.h.emulator.list('v1', 'Event', 'shop'), []);
    },
  },
  'create coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('create', 'Lease secret-steward/secret-steward-rotate'),
    says: 'the first run cannot create its Lease and fails',
  },
  'get coordination.k8s.io/leases': {
    code: 1,
    evidence: forbidden('get', 'Lease secret-steward/secret-steward-rotate'),
    says: 'it cannot read its Lease and fails',
  },
  'update coordination.k8s.io/leases': {
    code: 0,
    evidence:
      /could not release the lock; it expires on its own \(err: failed to replace Lease secret-steward\/secret-steward-rotate: 403 Forbidden/,
    says: 'everything rotates but the Lease stays held until it expires',
    then: (e, r) => {
      outcomes({})(e, r);
      const lease = e.h.emulator.get('coordination.k8s.io/v1', 'Lease', 'secret-steward', 'secret-steward-rotate') as
        | { spec?: { holderIdentity?: string } }
        | undefined;
      assert.equal(lease?.spec?.holderIdentity, 'test-pod');
    },
  },
};
for (const [kind, plural, consumer] of [
  ['Deployment', 'deployments', 'api'],
  ['StatefulSet', 'statefulsets', 'ledger'],
  ['DaemonSet', 'daemonsets', 'agent'],
] as const) {
  // db is used by one workload of each kind; keys-v2 also by the Deployment web.
  const usersOfKind: Record<string, string> =
    kind === 'Deployment' ? { 'shop/db': 'rolled-back', 'shop/keys-v2': 'rolled-back' } : { 'shop/db': 'rolled-back' };
  SIGNALS[`list apps/${plural}`] = {
    code: 1,
    evidence: forbidden('list', `${kind}s in namespace shop`),
    says: `the consumers of a Secret cannot be found among the ${kind}s: the run stops`,
  };
  SIGNALS[`get apps/${plural}`] = {
    code: 1,
    evidence: forbidden('get', `${kind} shop/${consumer}`),
    says: `a ${kind} that changed since it was listed cannot be re-read and restarted: the rotation of db is rolled back`,
    then: outcomes({ 'shop/db': 'rolled-back' }),
  };
  SIGNALS[`patch apps/${plural}`] = {
    code: 1,
    evidence: forbidden('patch', `${kind} shop/${consumer}`),
    says: `${kind}s cannot be restarted: the rotations they consume are rolled back`,
    then: outcomes(usersOfKind),
  };
  SIGNALS[`watch apps/${plural}`] = {
    code: 0,
    evidence: new RegExp(`cannot watch ${kind}s \\(403 Forbidden\\): polling rollouts every 50ms instead`),
    says: `everything rotates; ${kind} rollouts are polled instead of watched (a warning says so)`,
    then: (e, r) => {
      outcomes({})(e, r);
      assert.equal(
        e.h.emulator.requests.count((x) => x.verb === 'watch' && x.resource === plural && x.status === 403),
        1,
        'asked once, then polled',
      );
    },
  };
}
/**
 * The signals in `inst`: namespaced, the scan lists the Secrets of its namespace, and the
 * scenario also follows a Secret, whose digest key (made at install) rotate may read by name.
 */
function signalsFor(inst: Installation): Record<string, Signal> {
  if (inst.name === 'cluster-wide') return SIGNALS;
  return {
    ...SIGNALS,
    'list secrets': { ...SIGNALS['list secrets'], evidence: forbidden('list', 'Secrets in namespace shop') },
    'get secrets [secret-steward-follow-key]': {
      code: 1,
      evidence:
        /could not read or create the digest key Secret secret-steward\/secret-steward-follow-key: failed to get Secret secret-steward\/secret-steward-follow-key[^"]*: 403 Forbidden/,
      says: 'every rotation succeeds, but follow mode cannot read its key: the followed consumer is not restarted and the run fails naming the key',
      then: (e, r) => {
        outcomes({})(e, r);
        assert.deepEqual(
          report(r).followed?.map((f) => `${f.name} ${f.state}`),
          ['vendor-api error'],
        );
        assert.equal(
          e.h.emulator.requests.count((x) => x.method === 'PATCH' && x.path === '/apis/apps/v1/namespaces/shop/deployments/vendor'),
          0,
          'the followed consumer is not restarted',
        );
      },
    },
  };
}

for (const verb of ['list', 'get', 'patch'] as const) {
  SIGNALS[`${verb} batch/cronjobs`] =
    verb === 'list'
      ? {
          code: 1,
          evidence: forbidden('list', 'CronJobs in namespace shop'),
          says: 'the consumers of a Secret cannot be found among the CronJobs: the run stops',
        }
      : {
          code: 1,
          evidence: forbidden(verb, 'CronJob shop/report'),
          says: `the CronJob cannot be ${verb === 'get' ? 're-read after a conflict' : 'repointed'}: the versioned rotation is rolled back`,
          then: outcomes({ 'shop/keys-v2': 'rolled-back' }),
        };
}

for (const inst of INSTALLATIONS)
  describe(`manifests: RBAC end to end: rotate (${inst.name})`, function () {
    this.timeout(120_000);
    const objects = inst.rbacObjectsFor('rotate', NAMESPACES);
    const permissions = permissionsOf(objects);
    const rotateArgs = () => [...e.kubeArgs(), ...inst.args(NAMESPACES), '--rollout-poll-interval', '50ms', '--output', 'json'];
    let e: RbacE2E;
    let ca: Map<string, Buffer>;

    before(async () => {
      e = await RbacE2E.start('rotate');
      ca = await selfSignedCa('Shop CA');
    });
    after(async () => e?.stop());

    function create(obj: Record<string, unknown>): void {
      e.h.emulator.create(obj as never);
    }

    function secret(
      ns: string,
      name: string,
      data: Record<string, string>,
      extra: { policy?: string; annotations?: Record<string, string>; immutable?: boolean } = {},
    ): void {
      const annotations = { ...(extra.policy ? { 'secret-steward.io/rotation': extra.policy } : {}), ...extra.annotations };
      create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns, annotations },
        immutable: extra.immutable,
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
      });
    }

    /** Seeds namespace shop (see the file comment) and arms one 409 per workload kind. */
    async function seed(): Promise<void> {
      e.ensureNamespace('shop');
      secret('shop', 'db', { username: 'app', password: 'old-password-0001' }, { policy: DB_POLICY, annotations: LONG_AGO });
      secret(
        'shop',
        'keys-v1',
        { API_KEY: 'ak_first' },
        {
          immutable: true,
          annotations: {
            'secret-steward.io/lineage': 'keys',
            'secret-steward.io/version': '1',
            'secret-steward.io/superseded-by': 'keys-v2',
          },
        },
      );
      secret(
        'shop',
        'keys-v2',
        { API_KEY: 'ak_second' },
        {
          policy: KEYS_POLICY,
          immutable: true,
          annotations: { ...LONG_AGO, 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '2' },
        },
      );
      secret(
        'shop',
        'shop-ca',
        { 'tls.crt': ca.get('tls.crt')!.toString(), 'tls.key': ca.get('tls.key')!.toString() },
        { annotations: { 'secret-steward.io/allow-references': 'web-tls:issuer' } },
      );
      secret('shop', 'web-tls', { 'tls.crt': 'old', 'tls.key': 'old' }, { policy: TLS_POLICY, annotations: LONG_AGO });
      const selector = (app: string) => ({ matchLabels: { app } });
      create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api', namespace: 'shop' },
        spec: { replicas: 2, selector: selector('api'), template: podTemplate('api', { envFrom: [{ secretRef: { name: 'db' } }] }) },
      });
      create({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'ledger', namespace: 'shop' },
        spec: {
          replicas: 2,
          serviceName: 'ledger',
          selector: selector('ledger'),
          template: podTemplate('ledger', { env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }),
        },
      });
      create({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: 'shop' },
        spec: {
          selector: selector('agent'),
          template: podTemplate(
            'agent',
            { volumeMounts: [{ name: 'db', mountPath: '/etc/db' }] },
            { volumes: [{ name: 'db', secret: { secretName: 'db' } }] },
          ),
        },
      });
      create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { replicas: 2, selector: selector('web'), template: podTemplate('web', { envFrom: [{ secretRef: { name: 'keys-v2' } }] }) },
      });
      create({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'report', namespace: 'shop' },
        spec: {
          schedule: '0 * * * *',
          jobTemplate: {
            spec: { template: podTemplate('report', { envFrom: [{ secretRef: { name: 'keys-v2' } }] }, { restartPolicy: 'Never' }) },
          },
        },
      });
      await e.h.emulator.workloads.idle();
      for (const path of CONFLICTED) e.h.emulator.faults.inject({ method: 'PATCH', path, status: 409, times: 1 });
    }

    /** Namespaced: the scenario also follows a Secret, with its key made at install (follow-key.yaml). */
    async function scenario(): Promise<JobRun> {
      await seed();
      if (inst.name === 'namespaced') {
        await seedFollow();
        installFollowKey();
      }
      return e.run(rotateCommand, rotateArgs());
    }

    it('rotates in place and versioned, collects an old version and retries after conflicts, with exactly the rendered rules', async () => {
      await e.reset(objects);

      const r = await scenario();

      assert.equal(r.code, 0, r.text);
      assert.deepEqual(actions(r), rotatedAll);
      const emu = e.h.emulator;
      assert.deepEqual(
        emu
          .list('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding')
          .map((b) => b.metadata.name)
          .sort(),
        [
          'secret-steward-leases',
          'secret-steward-rotate-companions',
          'secret-steward-rotate-cronjobs',
          'secret-steward-rotate-daemonsets',
          'secret-steward-rotate-deployments',
          'secret-steward-rotate-statefulsets',
        ],
        'the admission policies were enforced during the run',
      );
      assert.equal(
        emu.requests.count((x) => x.method === 'PATCH' && x.resource !== 'secrets' && x.status === 200),
        inst.name === 'namespaced' ? 6 : 5,
        'each consumer restarted or repointed through the workload policies (namespaced: the followed one too)',
      );
      if (inst.name === 'namespaced') assert.deepEqual(followed(r), ['vendor-api deployment/vendor restarted']);
      assert.equal(emu.get('v1', 'Secret', 'shop', 'keys-v1'), undefined, 'version 1 collected (keepVersions: 2)');
      assert.ok(emu.get('v1', 'Secret', 'shop', 'keys-v3'));
      assert.ok(emu.get('v1', 'Secret', 'shop', 'db-previous'));
      assert.equal(emu.get('v1', 'Secret', 'shop', 'db-pending'), undefined);
      assert.ok(
        JSON.stringify((emu.get('batch/v1', 'CronJob', 'shop', 'report') as unknown as { spec: unknown }).spec).includes('"keys-v3"'),
        'the CronJob is repointed',
      );
      for (const path of CONFLICTED)
        assert.equal(
          emu.requests.count((x) => x.method === 'PATCH' && x.path === path && x.status === 409),
          1,
          `${path}: one conflict`,
        );
      const usage = e.usage(permissions);
      console.log(usageTable(permissions, usage));
      assert.deepEqual(usage.denied, [], 'no request was denied');
      assert.deepEqual(usage.foreign, []);
      assertEachRuleUsed(permissions, usage);
    });

    it('creates and deletes only Secrets its admission policy admits (the policy evaluated on what the run did)', async () => {
      const policy = renderManifestsSync('manifests/base').find(
        (o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === 'secret-steward-rotate-companions',
      )!;
      await e.reset(objects);
      await seed();
      const watch = await e.watchSecrets();

      const r = await e.run(rotateCommand, rotateArgs());
      const events = await watch.stop();

      assert.equal(r.code, 0, r.text);
      const username = `system:serviceaccount:${TOOL_NAMESPACE}:${serviceAccountName('rotate')}`;
      const resource = { group: '', version: 'v1', resource: 'secrets' };
      const judged = events
        .filter((ev) => ev.type === 'ADDED' || ev.type === 'DELETED')
        .map((ev) => {
          const created = ev.type === 'ADDED';
          const decision = admit(policy, {
            operation: created ? 'CREATE' : 'DELETE',
            username,
            resource,
            object: created ? ev.object : null,
            oldObject: created ? null : ev.object,
          });
          return `${created ? 'create' : 'delete'} ${(ev.object.metadata as { name: string }).name}: ${decision.applies && decision.allowed ? 'admitted' : `REFUSED ${decision.applies ? decision.messages.join('; ') : '(not evaluated)'}`}`;
        });
      assert.deepEqual(
        judged.sort(),
        [
          'create db-pending',
          'create db-previous',
          'create keys-v3',
          'create web-tls-pending',
          'create web-tls-previous',
          'delete db-pending',
          'delete keys-v1',
          'delete web-tls-pending',
        ].map((x) => `${x}: admitted`),
      );
    });

    it('rolls a rotation back (Secret and Deployment restored) with exactly the rendered rules', async () => {
      await e.reset(objects);
      e.ensureNamespace('shop');
      secret(
        'shop',
        'token',
        { token: 'old-token-0001' },
        { policy: 'maxAge: 7d\nkeys: { token: token }\nrollout: { waitReady: 20s }', annotations: LONG_AGO },
      );
      create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'broken', namespace: 'shop' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'broken' } },
          template: podTemplate('broken', { envFrom: [{ secretRef: { name: 'token' } }] }),
        },
      });
      const emu = e.h.emulator;
      await emu.workloads.idle();
      emu.workloads.progressDeadlineMs = 200;
      emu.workloads.setFailing('Deployment', 'shop', 'broken', true);
      try {
        await emu.workloads.idle();
        const before = emu.get('apps/v1', 'Deployment', 'shop', 'broken') as unknown as { spec: { template: unknown } };

        const r = await e.run(rotateCommand, rotateArgs());

        assert.equal(r.code, 1, r.text);
        assert.deepEqual(actions(r), { 'shop/token': 'rolled-back' });
        assert.equal(
          Buffer.from(
            (emu.get('v1', 'Secret', 'shop', 'token') as unknown as { data: Record<string, string> }).data.token,
            'base64',
          ).toString(),
          'old-token-0001',
        );
        assert.deepEqual(
          (emu.get('apps/v1', 'Deployment', 'shop', 'broken') as unknown as { spec: { template: unknown } }).spec.template,
          before.spec.template,
        );
        assert.deepEqual(e.usage(permissions).denied, [], 'no request was denied');
      } finally {
        emu.workloads.setFailing('Deployment', 'shop', 'broken', false);
        emu.workloads.progressDeadlineMs = undefined;
      }
    });

    /** Follow mode (shared/rotate/follow.ts): an External Secrets Secret that opts in, used by one Deployment. */
    async function seedFollow(): Promise<void> {
      e.ensureNamespace('shop');
      create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'vendor-api',
          namespace: 'shop',
          labels: { 'reconcile.external-secrets.io/managed': 'true' },
          annotations: { 'secret-steward.io/follow': 'auto' },
        },
        data: { token: b64('synced-by-eso') },
      });
      create({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'vendor', namespace: 'shop' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'vendor' } },
          template: podTemplate('vendor', { envFrom: [{ secretRef: { name: 'vendor-api' } }] }),
        },
      });
      await e.h.emulator.workloads.idle();
    }

    const FOLLOW_KEY = 'secret-steward-follow-key';

    /** A client acting as rotate's ServiceAccount. */
    async function rotateClient() {
      const kc = await import('@kubernetes/client-node');
      const config = new kc.KubeConfig();
      config.loadFromFile(e.kubeconfig);
      return config.makeApiClient(kc.CoreV1Api);
    }

    /** The namespaced installation's install step (follow-key.yaml): the key made by an admin. */
    function installFollowKey(): void {
      create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: FOLLOW_KEY, namespace: TOOL_NAMESPACE },
        data: { key: randomBytes(32).toString('base64') },
      });
    }

    if (inst.name === 'cluster-wide') {
      it('follow mode: makes its key and restarts the consumer with exactly the rendered rules, never writing the followed Secret', async () => {
        await e.reset(objects);
        await seedFollow();

        const r = await e.run(rotateCommand, rotateArgs());

        assert.equal(r.code, 0, r.text);
        assert.deepEqual(
          report(r).followed?.flatMap((f) => f.consumers.map((c) => `${f.name} ${c.workload} ${c.state}`)),
          ['vendor-api deployment/vendor restarted'],
        );
        const emu = e.h.emulator;
        assert.ok(emu.get('v1', 'Secret', TOOL_NAMESPACE, FOLLOW_KEY), 'the key was created through the companions policy');
        assert.equal(
          emu.requests.count((x) => x.path === '/api/v1/namespaces/shop/secrets/vendor-api' && x.method !== 'GET'),
          0,
        );
        assert.deepEqual(e.usage(permissions).denied, [], 'no request was denied');
      });

      it("follow mode: without the companions policy's rule for the key, the key cannot be made and the run fails naming it", async () => {
        await e.reset(objects);
        const emu = e.h.emulator;
        const policy = emu.get(
          'admissionregistration.k8s.io/v1',
          'ValidatingAdmissionPolicy',
          undefined,
          'secret-steward-rotate-companions',
        ) as unknown as {
          spec: { validations: Array<{ expression: string }> };
        };
        const rule = / \|\|\s*\(request\.namespace == 'secret-steward' && object\.metadata\.name == 'secret-steward-follow-key'\)/;
        assert.match(policy.spec.validations[0].expression, rule);
        policy.spec.validations[0].expression = policy.spec.validations[0].expression.replace(rule, '');
        emu.update(policy as never);
        await seedFollow();

        const r = await e.run(rotateCommand, rotateArgs());

        assert.equal(r.code, 1, r.text);
        assert.match(r.text, /could not read or create the digest key Secret secret-steward\/secret-steward-follow-key: .*403/);
        assert.equal(emu.get('v1', 'Secret', TOOL_NAMESPACE, FOLLOW_KEY), undefined);
        assert.equal(
          emu.requests.count((x) => x.method === 'PATCH' && x.resource === 'deployments'),
          0,
          'nothing restarted without a key',
        );
      });
    }

    if (inst.name === 'namespaced') {
      it('follow mode: reads the key made at install and restarts the consumer; it may create no Secret in secret-steward', async () => {
        await e.reset(objects);
        await seedFollow();
        installFollowKey();
        const key = e.h.emulator.get('v1', 'Secret', TOOL_NAMESPACE, FOLLOW_KEY);

        const r = await e.run(rotateCommand, rotateArgs());

        assert.equal(r.code, 0, r.text);
        assert.deepEqual(followed(r), ['vendor-api deployment/vendor restarted']);
        assert.deepEqual(e.h.emulator.get('v1', 'Secret', TOOL_NAMESPACE, FOLLOW_KEY), key, 'the key is read, never written');
        assert.deepEqual(e.usage(permissions).denied, [], 'no request was denied');
        const core = await rotateClient();
        await assert.rejects(
          core.createNamespacedSecret({
            namespace: TOOL_NAMESPACE,
            body: { metadata: { name: 'planted', labels: { 'secret-steward.io/role': 'pending' } }, data: {} },
          }),
          (err: { code?: number }) => err.code === 403,
        );
      });

      it('follow mode without the key made at install: rotate cannot make it (403), restarts nothing, and fails naming the key', async () => {
        await e.reset(objects);
        await seedFollow();

        const r = await e.run(rotateCommand, rotateArgs());

        assert.equal(r.code, 1, r.text);
        assert.match(
          r.text,
          /could not read or create the digest key Secret secret-steward\/secret-steward-follow-key: failed to create Secret secret-steward\/secret-steward-follow-key[^"]*: 403 Forbidden/,
        );
        assert.equal(e.h.emulator.get('v1', 'Secret', TOOL_NAMESPACE, FOLLOW_KEY), undefined);
        assert.equal(
          e.h.emulator.requests.count((x) => x.method === 'PATCH' && x.resource === 'deployments'),
          0,
          'nothing restarted without a key',
        );
      });

      it("cannot read secret-steward's own Secrets: the API server refuses (403)", async () => {
        await e.reset(objects);
        e.h.emulator.create({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'secret-steward-restore-keys', namespace: TOOL_NAMESPACE },
          data: { 'private.asc': b64('the backup decryption key') },
        } as never);
        const core = await rotateClient();

        const read = core.readNamespacedSecret({ namespace: TOOL_NAMESPACE, name: 'secret-steward-restore-keys' });
        const list = core.listNamespacedSecret({ namespace: TOOL_NAMESPACE });

        await assert.rejects(read, (err: { code?: number }) => err.code === 403);
        await assert.rejects(list, (err: { code?: number }) => err.code === 403);
        const denied = e.decisions().filter((d) => !d.allowed && d.resource === 'secrets' && d.namespace === TOOL_NAMESPACE);
        assert.deepEqual(denied.map((d) => d.verb).sort(), ['get', 'list']);
      });

      it('fails, naming the namespace and the permission, when its scope lists a namespace it is not bound in', async () => {
        await e.reset(objects);
        await seed();
        e.ensureNamespace('unbound');

        const r = await e.run(rotateCommand, [
          ...e.kubeArgs(),
          '--scope-namespaces',
          'shop,unbound',
          '--rollout-poll-interval',
          '50ms',
          '--output',
          'json',
        ]);

        assert.notEqual(r.code, 0, r.text);
        // The operation, the resource and the namespace: what the missing RoleBinding must grant.
        assert.match(
          r.text,
          /error: failed to list Secrets in namespace unbound: 403 Forbidden \(check the RBAC rules of this job's ServiceAccount\)/,
        );
        assert.equal(
          e.h.emulator.requests.count((x) => x.method !== 'GET' && x.resource === 'secrets'),
          0,
          'nothing was rotated: the scan stopped before any write',
        );
      });
    }

    itShowsEachMissingPermission({ objects, permissions, signals: signalsFor(inst), e: () => e, scenario });
  });
