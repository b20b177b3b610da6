import assert from 'node:assert/strict';
import { createHash, createHmac, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rotateCommand } from '../../jobs/rotate.js';
import type { BackendStepContext, RotationBackend } from '../../shared/rotate/backend.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { runRotateJob } from '../../shared/rotate/rotate-job.js';
import { defineCommand } from '../../shared/runtime/command.js';
import { eventually } from '../emulator/helpers.js';
import { podReady } from '../emulator/index.js';
import { selfSignedCa } from '../shared/rotate/generators/context.js';
import { RotateCluster, type RunResult } from '../shared/rotate/support/cluster.js';
import { requireDependency } from '../support/dependencies.js';
import { hasPushgateway, PUSHGATEWAY_INSTALL, startPushgateway } from '../support/pushgateway.js';

const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const ROTATE_NOW = { 'secret-steward.io/rotate-now': 'please' };

const DB_POLICY = `
maxAge: 30d
keys:
  password: { generator: password, length: 24 }
  DATABASE_URL: { generator: template, template: "postgres://{{ username }}:{{ password | urlencode }}@db:5432/app" }
rollout: { waitReady: 20s }
`;
const DB_DATA = { username: 'app', password: 'old-password-0001', DATABASE_URL: 'postgres://app:old-password-0001@db:5432/app' };

const ALLOW = 'secret-steward.io/allow-references';
const TLS_POLICY =
  'maxAge: 60d\nkeys:\n  tls.crt: { generator: tls, dnsNames: [shop.example.com], validity: 90d, issuer: { secret: shop-ca }, caCertificate: ca.crt }';
const SUB_CA_POLICY =
  'maxAge: 60d\nkeys:\n  tls.crt: { generator: tls, commonName: Mesh CA, ca: true, validity: 90d, issuer: { secret: shop-ca }, caCertificate: ca.crt }\nrollout: { restart: false }';

/** The CA Secret `shop/shop-ca` (a self-signed CA made by the tls generator), with these annotations. */
async function caSecret(c: RotateCluster, annotations: Record<string, string> = {}, extra: { labels?: Record<string, string> } = {}) {
  const ca = await selfSignedCa('Shop CA');
  await c.secret('shop', 'shop-ca', { 'tls.crt': ca.get('tls.crt')!.toString(), 'tls.key': ca.get('tls.key')!.toString() }, undefined, {
    annotations,
    ...extra,
  });
}

/** Requests for one Secret (any verb), as `VERB path`. */
function requestsFor(c: RotateCluster, ns: string, name: string): string[] {
  return c
    .requests()
    .filter((e) => e.path === `/api/v1/namespaces/${ns}/secrets/${name}`)
    .map((e) => `${e.method} ${e.path}`);
}

/** The rotate command with these backends instead of the shipped ones. */
const rotateCommandWith = (backends: readonly RotationBackend[]) =>
  defineCommand({ ...rotateCommand, run: (settings, ctx) => runRotateJob(settings, ctx, { backends }) });

const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function report(r: RunResult): RotationReport {
  return JSON.parse(r.stdout) as RotationReport;
}

function entry(r: RunResult, ns: string, name: string) {
  const e = report(r).secrets.find((s) => s.namespace === ns && s.name === name);
  assert.ok(e, `no report entry for ${ns}/${name}:\n${r.stdout}`);
  return e;
}

/** Events recorded for one object. */
function eventsFor(c: RotateCluster, ns: string, kind: string, name: string): Array<{ reason: string; type: string; message: string }> {
  return (
    c.emulator.list('v1', 'Event', ns) as unknown as Array<{
      involvedObject: { kind: string; name: string };
      reason: string;
      type: string;
      message: string;
    }>
  )
    .filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name)
    .map((e) => ({ reason: e.reason, type: e.type, message: e.message }));
}

/** Writes (not reads) the job made, as `VERB resource ns/name`. */
function writes(c: RotateCluster, from: number): string[] {
  return c
    .requests(from)
    .filter((e) => !['get', 'list', 'watch'].includes(e.verb) && e.resource !== 'leases')
    .map((e) => `${e.verb} ${e.resource} ${e.namespace}/${e.name}`);
}

function restartedAt(w: { spec?: any }, cron = false): string | undefined {
  const tpl = cron ? w.spec.jobTemplate.spec.template : w.spec.template;
  return tpl.metadata?.annotations?.['secret-steward.io/restartedAt'];
}

/** A backend whose test is refused and whose second set (setting the values back) fails too. */
function testFailsThenSetBackFails(): RotationBackend {
  let sets = 0;
  return {
    name: 'fake-db',
    parseConfig: () => ({ config: {} }),
    set: async () => {
      if (++sets === 2) throw new Error('database went away');
    },
    test: async () => {
      throw new Error('login refused');
    },
  };
}

describe('jobs/rotate', function () {
  this.timeout(60_000);
  let c: RotateCluster;
  beforeEach(async () => {
    c = await RotateCluster.start();
  });
  afterEach(async () => {
    await c.stop();
  });

  describe('in-place', () => {
    it('changes every key in one write, restarts each consumer once, and ends healthy on the new values', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.statefulSet('shop', 'ledger', { env: [['db', 'password']] });
      await c.daemonSet('shop', 'agent', { volumes: ['db'] });
      await c.cronJob('shop', 'nightly', { envFrom: ['db'] });
      await c.deployment('shop', 'unrelated', { envFrom: ['other'] });
      const cronBefore = c.workload('CronJob', 'shop', 'nightly');
      const from = c.requests().length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout + r.stderr);
      const data = c.data('shop', 'db')!;
      assert.notEqual(data.password, DB_DATA.password);
      assert.equal(data.password.length, 24);
      assert.equal(data.username, 'app');
      assert.equal(data.DATABASE_URL, `postgres://app:${urlencode(data.password)}@db:5432/app`);
      assert.deepEqual(c.data('shop', 'db-previous'), DB_DATA, 'previous values kept');
      assert.equal(c.getSecret('shop', 'db-pending'), undefined, 'pending companion removed');
      const w = writes(c, from);
      assert.equal(w.filter((x) => x === 'update secrets shop/db').length, 1, `one data write: ${w.join(', ')}`);
      const a = c.annotations('shop', 'db');
      const e = entry(r, 'shop', 'db');
      assert.equal(e.action, 'rotated');
      assert.equal(JSON.parse(a['secret-steward.io/last-outcome']).result, 'succeeded');
      assert.ok(a['secret-steward.io/last-rotated'] > '2026');
      assert.equal(a['secret-steward.io/rotation-id'], undefined);
      assert.equal(a['secret-steward.io/rotation-step'], undefined);
      assert.deepEqual(e.consumers?.sort(), ['daemonset/agent', 'deployment/api', 'statefulset/ledger']);
      for (const [kind, name] of [
        ['Deployment', 'api'],
        ['StatefulSet', 'ledger'],
        ['DaemonSet', 'agent'],
      ] as const) {
        const ours = c
          .rollouts(kind, 'shop', name)
          .filter((x) => x.templateAnnotations['secret-steward.io/restartedAt']?.includes(e.rotation!));
        assert.equal(ours.length, 1, `${kind} ${name} restarted once`);
        assert.equal(ours[0].outcome, 'complete');
        const obj = c.workload(kind, 'shop', name);
        assert.equal(obj.status.observedGeneration, obj.metadata!.generation, `${kind} ${name} observed`);
        assert.ok(
          eventsFor(c, 'shop', kind, name).some(
            (ev) => ev.reason === 'Restarted' && ev.message.includes('shop') === false && ev.message.includes('db'),
          ),
        );
      }
      assert.deepEqual(c.workload('CronJob', 'shop', 'nightly').spec, cronBefore.spec, 'CronJobs are not restarted');
      assert.equal(c.rollouts('Deployment', 'shop', 'unrelated').length, 1, 'only its creation rollout');
      assert.ok(eventsFor(c, 'shop', 'Secret', 'db').some((ev) => ev.reason === 'Rotated' && ev.type === 'Normal'));
      assert.equal(r.records.filter((l) => l.level === 'error').length, 0);

      const again = c.requests().length;
      const second = await c.run(['--output', 'json']);

      assert.equal(second.code, 0);
      assert.equal(entry(second, 'shop', 'db').action, 'not-due');
      assert.deepEqual(writes(c, again), [], 'a second run for the same slot writes nothing');
    });

    it('restarts a workload that uses two rotated Secrets once', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.secret('shop', 'api-token', { token: 'old-token-value' }, 'maxAge: 7d\nkeys: { token: token }', { annotations: ROTATE_NOW });
      await c.deployment('shop', 'api', { envFrom: ['db'], env: [['api-token', 'token']] });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      const ids = [entry(r, 'shop', 'db').rotation!, entry(r, 'shop', 'api-token').rotation!];
      const restarts = c
        .rollouts('Deployment', 'shop', 'api')
        .filter((x) => x.templateAnnotations['secret-steward.io/restartedAt'] !== undefined);
      assert.equal(restarts.length, 1);
      for (const id of ids) assert.ok(restarts[0].templateAnnotations['secret-steward.io/restartedAt'].includes(id));
      assert.equal(c.annotations('shop', 'api-token')['secret-steward.io/rotate-now'], undefined, 'rotate-now cleared');
    });

    it('reports a paused Deployment and leaves it untouched', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] }, { paused: true });
      await c.deployment('shop', 'web', { envFrom: ['db'] });
      const before = c.workload('Deployment', 'shop', 'api');

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(c.workload('Deployment', 'shop', 'api').spec, before.spec);
      assert.equal(c.workload('Deployment', 'shop', 'api').metadata!.generation, before.metadata!.generation);
      assert.ok(entry(r, 'shop', 'db').warnings?.some((w) => w.includes('Deployment api is paused')));
      assert.ok(eventsFor(c, 'shop', 'Deployment', 'api').some((e) => e.reason === 'RestartSkipped' && e.type === 'Warning'));
      assert.ok(restartedAt(c.workload('Deployment', 'shop', 'web')));
    });

    it('changes the values without restarting anything when rollout.restart is false', async () => {
      await c.secret('shop', 'cfg', { key: 'old-key-value' }, 'maxAge: 1d\nkeys: { key: uuid }\nrollout: { restart: false }', {
        annotations: LONG_AGO,
      });
      await c.deployment('shop', 'api', { volumes: ['cfg'] });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0);
      assert.match(c.data('shop', 'cfg')!.key, /^[0-9a-f-]{36}$/);
      assert.equal(restartedAt(c.workload('Deployment', 'shop', 'api')), undefined);
    });

    it('a rollback the API server caused (a consumer could not be patched: 503s) is transient: exit 4, not held, the next run rotates', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.emulator.workloads.idle();
      const outage = c.emulator.faults.inject({
        method: 'PATCH',
        path: '/apis/apps/v1/namespaces/shop/deployments/api',
        status: 503,
        times: Infinity,
      });

      const r = await c.run(['--output', 'json', '--api-retry-budget', '2']);

      assert.equal(r.code, 4, r.stdout);
      const e = entry(r, 'shop', 'db');
      assert.equal(e.action, 'rolled-back', e.detail);
      assert.match(e.detail, /the API server caused it, so the Secret is not held: the next run tries again/);
      assert.deepEqual(c.data('shop', 'db'), DB_DATA);
      assert.equal(JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']).transient, true);
      outage.remove();

      const next = await c.run(['--output', 'json']);

      assert.equal(next.code, 0, next.stdout);
      assert.equal(entry(next, 'shop', 'db').action, 'rotated');
      assert.notEqual(c.data('shop', 'db')!.password, DB_DATA.password);
    });

    it('rolls back when a consumer never becomes ready: Secret and workloads end as they were', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.deployment('shop', 'web', { env: [['db', 'password']] });
      c.emulator.workloads.progressDeadlineMs = 300;
      await c.emulator.workloads.idle();
      c.emulator.workloads.setFailing('Deployment', 'shop', 'api', true);
      await c.emulator.workloads.idle();
      const before = { api: c.workload('Deployment', 'shop', 'api'), web: c.workload('Deployment', 'shop', 'web') };

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      const e = entry(r, 'shop', 'db');
      assert.equal(e.action, 'rolled-back', e.detail);
      assert.match(e.detail, /deployment\/api: progress deadline exceeded/);
      assert.deepEqual(c.data('shop', 'db'), DB_DATA, 'the Secret holds its values from before');
      assert.equal(c.getSecret('shop', 'db-pending'), undefined);
      for (const name of ['api', 'web'] as const) {
        const now = c.workload('Deployment', 'shop', name);
        assert.deepEqual(now.spec.template, before[name].spec.template, `${name}: pod template as before`);
        assert.equal(now.metadata!.annotations?.['secret-steward.io/restart-previous'], undefined);
        assert.equal(now.status.updatedReplicas, 2, `${name} healthy again`);
        assert.equal(now.status.availableReplicas, 2);
      }
      const a = c.annotations('shop', 'db');
      assert.equal(JSON.parse(a['secret-steward.io/last-outcome']).result, 'rolled-back');
      assert.equal(a['secret-steward.io/last-rotated'], LONG_AGO['secret-steward.io/last-rotated']);
      assert.equal(a['secret-steward.io/rotation-step'], undefined);
      assert.ok(eventsFor(c, 'shop', 'Secret', 'db').some((ev) => ev.reason === 'RotationRolledBack' && ev.type === 'Warning'));
      assert.ok(eventsFor(c, 'shop', 'Deployment', 'api').some((ev) => ev.reason === 'RolloutFailed'));
      assert.ok(eventsFor(c, 'shop', 'Deployment', 'api').some((ev) => ev.reason === 'RolledBack'));

      const held = await c.run(['--output', 'json']);

      assert.equal(held.code, 0);
      assert.equal(entry(held, 'shop', 'db').action, 'not-due', 'held after a rollback: no restart storm');
    });

    it('rolls back a StatefulSet that does not become ready within waitReady', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY.replace('waitReady: 20s', 'waitReady: 1s'), { annotations: LONG_AGO });
      await c.statefulSet('shop', 'ledger', { env: [['db', 'password']] });
      await c.emulator.workloads.idle();
      c.emulator.workloads.setFailing('StatefulSet', 'shop', 'ledger', true);
      await c.emulator.workloads.idle();
      const before = c.workload('StatefulSet', 'shop', 'ledger');

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      assert.match(entry(r, 'shop', 'db').detail, /statefulset\/ledger: not ready after 1s/);
      assert.deepEqual(c.data('shop', 'db'), DB_DATA);
      assert.deepEqual(c.workload('StatefulSet', 'shop', 'ledger').spec.template, before.spec.template);
    });

    /** Pods of StatefulSet shop/ledger as `name:revision:ready`, revisions named old/new against `old`. */
    function ledgerPods(old: string): string[] {
      return (c.emulator.list('v1', 'Pod', 'shop') as unknown as Array<{ metadata: { name: string; labels: Record<string, string> } }>)
        .filter((p) => p.metadata.name.startsWith('ledger-'))
        .map((p) => {
          const rev = p.metadata.labels['controller-revision-hash'] === old ? 'old' : 'new';
          return `${p.metadata.name}:${rev}:${podReady(p as never) ? 'ready' : 'not-ready'}`;
        })
        .sort();
    }

    // Upstream "forced rollback" (kubernetes/kubernetes#67250): an OrderedReady StatefulSet never
    // replaces a pod that is not Running and Ready, so restoring the template leaves the broken pod
    // of the failed revision in place until someone deletes it (test/emulator/statefulsets.test.ts).
    for (const allowed of [true, false]) {
      it(`after rolling back a StatefulSet whose new pod never became ready, ${allowed ? 'deletes that pod (forceRollback) and ends healthy on the old values' : 'names the pod the operator must delete (no forceRollback)'}`, async () => {
        const policy = DB_POLICY.replace('waitReady: 20s', `waitReady: 1s${allowed ? ', forceRollback: true' : ''}`);
        await c.secret('shop', 'db', DB_DATA, policy, { annotations: LONG_AGO });
        await c.statefulSet('shop', 'ledger', { env: [['db', 'password']] });
        await c.emulator.workloads.idle();
        c.emulator.workloads.setFailing('StatefulSet', 'shop', 'ledger', true);
        const before = c.workload('StatefulSet', 'shop', 'ledger');
        const old = (before.status as { updateRevision: string }).updateRevision;
        const from = c.requests().length;

        const r = await c.run(['--output', 'json']);

        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.deepEqual(c.data('shop', 'db'), DB_DATA, 'old values back');
        assert.deepEqual(c.workload('StatefulSet', 'shop', 'ledger').spec.template, before.spec.template);
        const e = entry(r, 'shop', 'db');
        const outcome = JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']) as { result: string; message: string };
        const deletes = writes(c, from).filter((w) => w.startsWith('delete pods'));
        const ledger = report(r).workloads.find((w) => w.key === 'StatefulSet/shop/ledger');
        // Where the rollout stood when waitReady ran out (it used to name the state before the watch).
        assert.match(e.detail, /^consumers not ready: statefulset\/ledger: not ready after 1s: 1 of 2 replicas updated;/);
        if (allowed) {
          assert.equal(e.action, 'rolled-back', e.detail);
          assert.deepEqual(deletes, ['delete pods shop/ledger-1'], 'exactly the pod of the failed revision');
          assert.deepEqual(ledgerPods(old), ['ledger-0:old:ready', 'ledger-1:old:ready']);
          const st = c.workload('StatefulSet', 'shop', 'ledger').status as Record<string, unknown>;
          assert.deepEqual([st.currentRevision, st.updateRevision, st.readyReplicas, st.updatedReplicas], [old, old, 2, 2]);
          assert.match(ledger?.message ?? '', /forced rollback deleted pod shop\/ledger-1/);
          assert.ok(
            eventsFor(c, 'shop', 'StatefulSet', 'ledger').some((ev) => ev.reason === 'ForcedRollback' && /ledger-1/.test(ev.message)),
          );
        } else {
          assert.equal(e.action, 'rollback-failed', e.detail);
          assert.deepEqual(deletes, [], 'no pod deleted without forceRollback');
          assert.deepEqual(ledgerPods(old), ['ledger-0:old:ready', 'ledger-1:new:not-ready'], 'stuck on the broken pod, as upstream');
          const advice =
            /delete pod shop\/ledger-1 \(revision ledger-[0-9a-f]+, Running: ContainersNotReady: marked failing by the test\): an OrderedReady StatefulSet never replaces a pod that is not ready, so ledger cannot return to revision ledger-[0-9a-f]+; or set rollout.forceRollback: true \(shop\/db\)/;
          assert.match(e.detail, advice);
          assert.equal(outcome.result, 'rollback-failed');
          assert.match(outcome.message, advice);
          assert.deepEqual(ledger?.blockingPods, ['ledger-1']);
          assert.ok(
            eventsFor(c, 'shop', 'StatefulSet', 'ledger').some((ev) => ev.type === 'Warning' && ev.reason === 'ForcedRollbackNeeded'),
          );
          assert.match(r.stderr + r.stdout, /delete pod shop\/ledger-1 .*never replaces a pod that is not ready/);

          c.emulator.delete('v1', 'Pod', 'shop', 'ledger-1');
          await c.emulator.workloads.idle();

          assert.deepEqual(
            ledgerPods(old),
            ['ledger-0:old:ready', 'ledger-1:old:ready'],
            'healthy on the old values once the operator deleted it',
          );
        }
      });
    }

    it('verifies a partitioned StatefulSet only in part: the pods above the partition roll, the rotation succeeds, reported not-verified', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.statefulSet('shop', 'ledger', { env: [['db', 'password']] });
      c.emulator.patch('apps/v1', 'StatefulSet', 'shop', 'ledger', 'application/merge-patch+json', {
        spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } },
      });
      await c.emulator.workloads.idle();
      const old = (c.workload('StatefulSet', 'shop', 'ledger').status as { updateRevision: string }).updateRevision;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(entry(r, 'shop', 'db').action, 'rotated');
      const ledger = report(r).workloads.find((w) => w.key === 'StatefulSet/shop/ledger');
      assert.equal(ledger?.state, 'not-verified');
      assert.match(ledger?.message ?? '', /^rollingUpdate.partition 1: 1 of 2 pods updated and ready \(ordinals 1 and up\)/);
      assert.deepEqual(ledgerPods(old), ['ledger-0:old:ready', 'ledger-1:new:ready'], 'the controller kept ordinal 0 on the old revision');
      const st = c.workload('StatefulSet', 'shop', 'ledger').status as Record<string, unknown>;
      assert.equal(st.currentRevision, old, 'currentRevision stays while a partition holds pods back');
    });

    // The kubelet stand-in (test/emulator/statefulsets.test.ts cites the kubelet's behaviour):
    // Secret volumes follow the Secret, env vars keep what the container started with.
    it('without a restart, running pods see the new values in their mounted files only, not in env vars', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY.replace('waitReady: 20s', 'restart: false'), { annotations: LONG_AGO });
      await c.statefulSet('shop', 'ledger', { env: [['db', 'password']], volumes: ['db'] });
      await c.emulator.workloads.idle();
      const before = c.emulator.workloads.podView('shop', 'ledger-0');

      const r = await c.run(['--output', 'json']);
      const rotated = c.data('shop', 'db')!.password;
      const after = await eventually(() => {
        const v = c.emulator.workloads.podView('shop', 'ledger-0');
        return v?.files['/etc/secret-0/password'] === rotated ? v : undefined;
      });

      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(entry(r, 'shop', 'db').action, 'rotated');
      assert.notEqual(rotated, DB_DATA.password);
      assert.deepEqual([before?.env.VAR_0, before?.files['/etc/secret-0/password']], [DB_DATA.password, DB_DATA.password]);
      assert.equal(after?.env.VAR_0, DB_DATA.password, 'env vars change only with a restart');
      assert.equal(after?.files['/etc/secret-0/DATABASE_URL'], c.data('shop', 'db')!.DATABASE_URL);
      assert.equal(c.rollouts('StatefulSet', 'shop', 'ledger').length, 1, 'not restarted: only its first rollout');
    });

    it('keeps the new values when rollbackOnFailure is false, and fails the run', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY.replace('waitReady: 20s', 'waitReady: 1s, rollbackOnFailure: false'), {
        annotations: LONG_AGO,
      });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.emulator.workloads.idle();
      c.emulator.workloads.setFailing('Deployment', 'shop', 'api', true);
      await c.emulator.workloads.idle();

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      assert.equal(entry(r, 'shop', 'db').action, 'failed');
      assert.notEqual(c.data('shop', 'db')!.password, DB_DATA.password);
      assert.equal(JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']).result, 'failed');
    });
  });

  describe('versioned', () => {
    const VERSIONED =
      'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: { generator: token, prefix: "ak_" } }\nrollout: { waitReady: 20s }';

    async function rotateNow(name: string): Promise<RunResult> {
      c.editSecret('shop', name, (s) => Object.assign(s.metadata!.annotations!, ROTATE_NOW));
      return c.run(['--output', 'json']);
    }

    it('makes a new immutable version, repoints every kind of reference, and collects versions beyond keepVersions', async () => {
      await c.secret('shop', 'api-keys-v1', { API_KEY: 'ak_first', REGION: 'eu' }, VERSIONED, {
        immutable: true,
        labels: { team: 'payments' },
      });
      await c.deployment('shop', 'web', { envFrom: ['api-keys-v1'] });
      await c.deployment('shop', 'worker', {
        env: [['api-keys-v1', 'API_KEY']],
        volumes: ['api-keys-v1'],
        projected: ['api-keys-v1'],
        imagePullSecrets: [],
      });
      await c.cronJob('shop', 'report', { envFrom: ['api-keys-v1'] });

      const first = await rotateNow('api-keys-v1');

      assert.equal(first.code, 0, first.stdout);
      const v2 = c.getSecret('shop', 'api-keys-v2')!;
      assert.equal(v2.immutable, true);
      assert.equal(v2.metadata!.labels!.team, 'payments');
      assert.equal(v2.metadata!.labels!['secret-steward.io/role'], undefined);
      assert.match(c.data('shop', 'api-keys-v2')!.API_KEY, /^ak_[A-Za-z0-9_-]{43}$/);
      assert.equal(c.data('shop', 'api-keys-v2')!.REGION, 'eu');
      assert.ok(c.annotations('shop', 'api-keys-v2')['secret-steward.io/rotation']);
      assert.equal(c.annotations('shop', 'api-keys-v1')['secret-steward.io/superseded-by'], 'api-keys-v2');
      assert.equal(
        c.annotations('shop', 'api-keys-v1')['secret-steward.io/rotation'],
        undefined,
        'the old version no longer carries the policy',
      );
      assert.deepEqual(c.data('shop', 'api-keys-v1'), { API_KEY: 'ak_first', REGION: 'eu' }, 'previous version kept unchanged');
      for (const [kind, name] of [
        ['Deployment', 'web'],
        ['Deployment', 'worker'],
        ['CronJob', 'report'],
      ] as const) {
        assert.deepEqual(c.referencedSecrets(kind, 'shop', name), ['api-keys-v2'], `${kind} ${name} repointed`);
      }
      assert.equal(
        c.rollouts('Deployment', 'shop', 'worker').filter((x) => x.templateAnnotations['secret-steward.io/restartedAt']).length,
        1,
      );

      const second = await rotateNow('api-keys-v2');

      assert.equal(second.code, 0, second.stdout);
      assert.ok(c.getSecret('shop', 'api-keys-v3'));
      assert.ok(c.getSecret('shop', 'api-keys-v2'), 'kept (keepVersions: 2)');
      assert.equal(c.getSecret('shop', 'api-keys-v1'), undefined, 'collected');
      assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'web'), ['api-keys-v3']);
      assert.match(entry(second, 'shop', 'api-keys-v2').detail, /old versions deleted: api-keys-v1/);
    });

    it('keeps an old version a paused Deployment still references', async () => {
      await c.secret('shop', 'keys', { API_KEY: 'ak_first' }, VERSIONED, { immutable: true });
      await c.deployment('shop', 'web', { envFrom: ['keys'] });
      await c.deployment('shop', 'frozen', { envFrom: ['keys'] }, { paused: true });

      assert.equal((await rotateNow('keys')).code, 0);
      assert.equal((await rotateNow('keys-v2')).code, 0);

      assert.ok(c.getSecret('shop', 'keys'), 'still referenced by the paused Deployment');
      assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'frozen'), ['keys']);
      assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'web'), ['keys-v3']);
    });

    it('rolls back by repointing consumers to the old version and deleting the new one', async () => {
      await c.secret('shop', 'api-keys-v1', { API_KEY: 'ak_first' }, VERSIONED.replace('waitReady: 20s', 'waitReady: 1s'), {
        immutable: true,
      });
      await c.deployment('shop', 'web', { envFrom: ['api-keys-v1'] });
      await c.deployment('shop', 'worker', { env: [['api-keys-v1', 'API_KEY']] });
      await c.cronJob('shop', 'report', { envFrom: ['api-keys-v1'] });
      await c.emulator.workloads.idle();
      c.emulator.workloads.setFailing('Deployment', 'shop', 'worker', true);
      await c.emulator.workloads.idle();
      const before = {
        web: c.workload('Deployment', 'shop', 'web'),
        worker: c.workload('Deployment', 'shop', 'worker'),
        report: c.workload('CronJob', 'shop', 'report'),
      };

      const r = await rotateNow('api-keys-v1');

      assert.equal(r.code, 1);
      assert.equal(entry(r, 'shop', 'api-keys-v1').action, 'rolled-back');
      assert.equal(c.getSecret('shop', 'api-keys-v2'), undefined, 'the unpromoted version is deleted');
      assert.ok(c.annotations('shop', 'api-keys-v1')['secret-steward.io/rotation'], 'the old version stays the head');
      assert.deepEqual(c.workload('Deployment', 'shop', 'web').spec.template, before.web.spec.template);
      assert.deepEqual(c.workload('Deployment', 'shop', 'worker').spec.template, before.worker.spec.template);
      assert.deepEqual(c.workload('CronJob', 'shop', 'report').spec.jobTemplate, before.report.spec.jobTemplate);
      assert.equal(c.workload('Deployment', 'shop', 'worker').status.availableReplicas, 2);
    });
  });

  describe('safety', () => {
    it('skips Secrets managed by other controllers, each with its reason and an Event', async () => {
      const policy = 'maxAge: 1d\nkeys: { token: token }';
      const due = { ...LONG_AGO };
      const managed: Array<[string, Parameters<RotateCluster['secret']>[4], string]> = [
        [
          'sa-token',
          { type: 'kubernetes.io/service-account-token', annotations: { ...due, 'kubernetes.io/service-account.name': 'default' } },
          'service-account token',
        ],
        ['bootstrap-token-abcdef', { type: 'bootstrap.kubernetes.io/token', annotations: due }, 'bootstrap token'],
        ['sh.helm.release.v1.app.v1', { type: 'helm.sh/release.v1', annotations: due }, 'Helm'],
        ['helm-labelled', { labels: { owner: 'helm' }, annotations: due }, 'Helm'],
        ['eso', { labels: { 'reconcile.external-secrets.io/managed': 'true' }, annotations: due }, 'External Secrets'],
        ['eso-hash', { annotations: { ...due, 'reconcile.external-secrets.io/data-hash': 'x' } }, 'External Secrets'],
        ['vso', { labels: { 'app.kubernetes.io/managed-by': 'hashicorp-vso' }, annotations: due }, 'Vault Secrets Operator'],
        [
          'sealed',
          {
            ownerReferences: [
              {
                apiVersion: 'bitnami.com/v1alpha1',
                kind: 'SealedSecret',
                name: 'sealed',
                uid: '7d0e2f61-0b3c-4c39-9b0e-2f2a3f0f4c11',
                controller: true,
              },
            ],
            annotations: due,
          },
          'sealed-secrets',
        ],
        ['sealing-key', { labels: { 'sealedsecrets.bitnami.com/sealed-secrets-key': 'active' }, annotations: due }, 'sealed-secrets'],
        ['cert', { annotations: { ...due, 'cert-manager.io/certificate-name': 'web' } }, 'cert-manager'],
        ['mittwald', { annotations: { ...due, 'secret-generator.v1.mittwald.de/autogenerate': 'token' } }, 'mittwald'],
        [
          'owned',
          {
            ownerReferences: [
              { apiVersion: 'example.com/v1', kind: 'Database', name: 'pg', uid: '1d6e3c1a-6a44-4b1f-9f55-0a9a1c8b2f10', controller: true },
            ],
            annotations: due,
          },
          'a controller',
        ],
        ['reloader-ignored', { annotations: { ...due, 'reloader.stakater.com/ignore': 'true' } }, 'Reloader'],
      ];
      for (const [name, extra] of managed) await c.secret('infra', name, { token: 'original-value' }, policy, extra);

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      for (const [name, , manager] of managed) {
        const e = entry(r, 'infra', name);
        assert.equal(e.action, 'skipped', name);
        assert.ok(e.detail.includes(manager), `${name}: ${e.detail}`);
        assert.equal(c.data('infra', name)!.token, 'original-value');
        assert.ok(
          eventsFor(c, 'infra', 'Secret', name).some((ev) => ev.reason === 'RotationSkipped' && ev.message.includes(manager)),
          name,
        );
      }
    });

    it('reports each bad policy with an Event and a log line naming the field, rotates the rest, and exits 1', async () => {
      await c.secret('apps', 'typo', { p: 'x' }, 'maxAge: 1d\nkeys: { p: { generator: password, lenght: 12 } }');
      await c.secret('apps', 'no-trigger', { p: 'x' }, 'keys: { p: password }');
      // Problems with the Secret's body (its keys, immutability) show once it is due and read.
      await c.secret(
        'apps',
        'bad-template',
        { p: 'x' },
        'maxAge: 1d\nkeys: { url: { generator: template, template: "{{ user }}:{{ p }}" }, p: password }',
        { annotations: LONG_AGO },
      );
      await c.secret('apps', 'frozen', { p: 'x' }, 'maxAge: 1d\nkeys: { p: password }', { immutable: true, annotations: LONG_AGO });
      await c.secret('apps', 'good', { p: 'old-value-1' }, 'maxAge: 1d\nkeys: { p: password }', { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      const expected: Array<[string, RegExp]> = [
        ['typo', /keys\.p\.lenght: unknown field/],
        ['no-trigger', /schedule: is required/],
        ['bad-template', /keys\.url\.template: refers to user/],
        ['frozen', /strategy: the Secret is immutable.*use strategy: versioned/],
      ];
      for (const [name, field] of expected) {
        assert.equal(entry(r, 'apps', name).action, 'invalid');
        assert.match(entry(r, 'apps', name).detail, field);
        assert.ok(
          eventsFor(c, 'apps', 'Secret', name).some(
            (ev) => ev.type === 'Warning' && ev.reason === 'RotationPolicyInvalid' && field.test(ev.message),
          ),
          name,
        );
        assert.ok(
          r.records.some((l) => l.level === 'error' && l.secret === `apps/${name}` && field.test(String(l.msg))),
          `log line for ${name}`,
        );
      }
      assert.equal(entry(r, 'apps', 'good').action, 'rotated');
      assert.notEqual(c.data('apps', 'good')!.p, 'old-value-1');
    });

    it('merges a concurrent write to another key: both writes survive', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      const fault = c.emulator.faults.inject({ method: 'PUT', path: '/api/v1/namespaces/shop/secrets/db', delayMs: 300 });
      const concurrent = (async () => {
        while (fault.matched === 0) await new Promise((r) => setTimeout(r, 5));
        c.editSecret('shop', 'db', (s) => {
          s.data!.username = Buffer.from('app_v2').toString('base64');
          s.metadata!.labels = { edited: 'by-someone-else' };
        });
      })();

      const r = await c.run(['--output', 'json']);
      await concurrent;

      assert.equal(r.code, 0, r.stdout);
      const data = c.data('shop', 'db')!;
      assert.equal(data.username, 'app_v2', 'their write survived');
      assert.equal(c.getSecret('shop', 'db')!.metadata!.labels!.edited, 'by-someone-else');
      assert.notEqual(data.password, DB_DATA.password, 'our write too');
      assert.equal(data.DATABASE_URL, `postgres://app_v2:${urlencode(data.password)}@db:5432/app`, 'the template follows their username');
      assert.ok(
        c.requests().some((e) => e.verb === 'update' && e.name === 'db' && e.status === 409),
        'a 409 happened',
      );
    });

    it('stops when a concurrent writer changed a key it rotates, and keeps their value', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      const fault = c.emulator.faults.inject({ method: 'PUT', path: '/api/v1/namespaces/shop/secrets/db', delayMs: 300 });
      const concurrent = (async () => {
        while (fault.matched === 0) await new Promise((r) => setTimeout(r, 5));
        c.editSecret('shop', 'db', (s) => {
          s.data!.password = Buffer.from('set-by-hand-0002').toString('base64');
        });
      })();

      const r = await c.run(['--output', 'json']);
      await concurrent;

      assert.equal(r.code, 1);
      const e = entry(r, 'shop', 'db');
      assert.equal(e.action, 'failed');
      assert.match(e.detail, /key password changed by another writer.*nothing was overwritten/);
      assert.equal(c.data('shop', 'db')!.password, 'set-by-hand-0002');
      assert.equal(c.getSecret('shop', 'db-pending'), undefined);
      assert.equal(restartedAt(c.workload('Deployment', 'shop', 'api')), undefined, 'nothing restarted');
      assert.ok(eventsFor(c, 'shop', 'Secret', 'db').some((ev) => ev.reason === 'RotationConflict'));
    });

    it('lets one of two runs started together act; the other exits 3', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });

      const [a, b] = await Promise.all([
        c.run(['--output', 'json'], { env: { POD_NAME: 'run-a' } }),
        c.run(['--output', 'json'], { env: { POD_NAME: 'run-b' } }),
      ]);

      assert.deepEqual([a.code, b.code].sort(), [0, 3]);
      const loser = a.code === 3 ? a : b;
      assert.match(loser.records.map((l) => String(l.msg)).join('\n'), /another run holds lock secret-steward\/secret-steward-rotate/);
      assert.equal(c.rollouts('Deployment', 'shop', 'api').filter((x) => x.templateAnnotations['secret-steward.io/restartedAt']).length, 1);
    });

    it('plans a dry run without writing anything, judging due-ness at --now', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: { 'secret-steward.io/last-rotated': new Date().toISOString() } });
      await c.secret('shop', 'managed', { t: 'x' }, 'maxAge: 1d\nkeys: { t: token }', { labels: { owner: 'helm' } });
      await c.secret('shop', 'broken', { t: 'x' }, 'maxAge: soon\nkeys: { t: token }');
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      const from = c.requests().length;

      const today = await c.run(['--dry-run', '--output', 'json']);
      const later = await c.run(['--dry-run', '--now', new Date(Date.now() + 31 * 86_400_000).toISOString()]);

      assert.equal(today.code, 1, 'invalid policies still fail a dry run');
      assert.equal(entry(today, 'shop', 'db').action, 'not-due');
      assert.match(later.stdout, /Dry run at .*: nothing written/);
      assert.match(later.stdout, /shop\/db\s+would-rotate\s+in-place\s+DATABASE_URL,password\s+deployment\/api/);
      assert.match(later.stdout, /shop\/managed\s+skipped/);
      assert.match(later.stdout, /shop\/broken\s+invalid.*maxAge: expected a duration/);
      const verbs = new Set(c.requests(from).map((e) => e.verb));
      assert.deepEqual(
        [...verbs].filter((v) => !['get', 'list', 'watch'].includes(v)),
        [],
        'no write of any kind',
      );
      assert.equal(c.requests(from).filter((e) => e.resource === 'leases').length, 0, 'no lock taken');
      assert.deepEqual(c.data('shop', 'db'), DB_DATA);
    });

    it('refuses --now without --dry-run', async () => {
      const r = await c.run(['--now', '2026-01-01T00:00:00Z']);

      assert.equal(r.code, 2);
      assert.match(r.stderr, /--now .*only with --dry-run/);
    });

    it('refuses --pushgateway without --cluster-name, naming both, before touching the cluster', async () => {
      const from = c.requests().length;

      const r = await c.run(['--pushgateway', 'http://127.0.0.1:1']);

      assert.equal(r.code, 2);
      assert.match(r.stderr, /--cluster-name \/ SECRET_STEWARD_CLUSTER_NAME: is required with --pushgateway \/ SECRET_STEWARD_PUSHGATEWAY/);
      assert.equal(c.requests(from).length, 0);
    });

    it('limits the run to --namespace and --selector, and defers beyond --max-rotations', async () => {
      for (const ns of ['a', 'b']) {
        for (const name of ['s1', 's2', 's3']) {
          await c.secret(ns, name, { v: 'old-value-123' }, 'maxAge: 1d\nkeys: { v: uuid }', {
            annotations: LONG_AGO,
            labels: { tier: name === 's3' ? 'dev' : 'prod' },
          });
        }
      }

      const r = await c.run(['--namespace', 'a', '--selector', 'tier=prod', '--max-rotations', '1', '--output', 'json']);

      assert.equal(r.code, 0);
      const rep = report(r);
      assert.deepEqual(rep.secrets.map((s) => `${s.namespace}/${s.name}:${s.action}`).sort(), ['a/s1:rotated', 'a/s2:deferred']);
      assert.equal(c.data('b', 's1')!.v, 'old-value-123');
      assert.equal(c.data('a', 's3')!.v, 'old-value-123');
    });

    it('never writes a value to a log line, an Event, the report or an annotation', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.secret(
        'shop',
        'signing',
        { placeholder: 'x' },
        'maxAge: 1d\nkeys: { id: { generator: keypair, publicKey: id.pub, sshPublicKey: id.ssh } }',
        { annotations: LONG_AGO },
      );
      await c.deployment('shop', 'api', { envFrom: ['db', 'signing'] });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      const secretValues = [
        ...Object.values(c.data('shop', 'db')!).filter((v) => v !== 'app'),
        ...Object.values(DB_DATA).filter((v) => v !== 'app'),
        c.data('shop', 'signing')!.id,
        ...c
          .data('shop', 'signing')!
          .id.split('\n')
          .filter((l) => l.length > 20),
      ];
      const events = (c.emulator.list('v1', 'Event', 'shop') as unknown as Array<{ message: string }>).map((e) => e.message);
      const annotations = c.emulator.list('v1', 'Secret', 'shop').map((s) => JSON.stringify(s.metadata?.annotations ?? {}));
      const workloads = c.emulator.list('apps/v1', 'Deployment', 'shop').map((w) => JSON.stringify(w));
      const haystacks = [...r.logs.lines, r.stdout, r.stderr, ...events, ...annotations, ...workloads];
      for (const value of secretValues) {
        // The value, its base64, and an unkeyed digest of it (which would confirm a guess).
        const unkeyed = createHash('sha256').update(value).digest('hex').slice(0, 12);
        for (const form of [value, Buffer.from(value).toString('base64'), unkeyed]) {
          assert.ok(!haystacks.some((h) => h.includes(form)), 'a secret value or its unkeyed digest leaked');
        }
      }
      assert.ok(
        r.records.some((l) => Array.isArray(l.fingerprints) && String(l.fingerprints[0]).match(/=hmac:[0-9a-f]{12}$/)),
        'fingerprints are logged',
      );
    });

    it('keys fingerprints with --fingerprint-key-file, and refuses a short key', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      const key = randomBytes(32);
      const file = join(c.dir, 'fingerprint.key');
      await writeFile(file, key);
      await writeFile(`${file}.short`, key.subarray(0, 16));

      const r = await c.run(['--output', 'json', '--fingerprint-key-file', file]);
      const short = await c.run(['--output', 'json', '--fingerprint-key-file', `${file}.short`]);

      assert.equal(r.code, 0, r.stdout);
      const password = c.data('shop', 'db')!.password;
      const expected = `password=hmac:${createHmac('sha256', key).update(password).digest('hex').slice(0, 12)}`;
      assert.ok(
        report(r)
          .secrets.find((x) => x.name === 'db')
          ?.fingerprints?.includes(expected),
        'the report fingerprint is keyed by the file',
      );
      assert.equal(short.code, 2, short.stderr);
      assert.match(short.stderr, /fingerprint-key-file.*holds 16 bytes; a fingerprint key needs at least 32/);
    });

    it('gives Secrets with names near the 253-character limit valid, stable companion names', async () => {
      const name = `${'a'.repeat(120)}.${'b'.repeat(120)}-creds`;
      await c.secret('shop', name, DB_DATA, DB_POLICY, { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      const previous = c.emulator.list('v1', 'Secret', 'shop').find((s) => s.metadata?.labels?.['secret-steward.io/role'] === 'previous')!;
      assert.ok(previous.metadata!.name.length <= 253);
      assert.match(previous.metadata!.name, /-[0-9a-f]{10}-previous$/);
      assert.equal(previous.metadata!.annotations!['secret-steward.io/companion-of'], name);
      assert.deepEqual(c.data('shop', previous.metadata!.name), DB_DATA);
    });

    it('exits 4 when the API server stays unavailable', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      c.emulator.faults.inject({ method: 'GET', path: /\/secrets$/, status: 503, times: Infinity });

      const r = await c.run(['--api-retry-budget', '2']);

      assert.equal(r.code, 4);
      assert.deepEqual(c.data('shop', 'db'), DB_DATA);
    });
  });

  describe('reading Secrets', () => {
    /** `ns/name` of every Secret the run read in full (GET), in order. */
    const secretGets = (from: number) =>
      c
        .requests(from)
        .filter((e) => e.resource === 'secrets' && e.verb === 'get')
        .map((e) => `${e.namespace}/${e.name}`);
    const FUTURE = () => new Date(Date.now() + 31 * 86_400_000).toISOString();

    it('finds due Secrets from metadata-only lists and reads only the Secrets it acts on', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.secret('shop', 'fresh', { t: 'not-due-value' }, 'maxAge: 30d\nkeys: { t: token }');
      await c.secret('shop', 'helm-managed', { t: 'helm-value' }, 'maxAge: 1d\nkeys: { t: token }', {
        labels: { owner: 'helm' },
        annotations: LONG_AGO,
      });
      for (let i = 0; i < 20; i++) await c.secret('other', `plain-${i}`, { v: 'unrelated-value' });
      const from = c.requests().length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      const lists = c.requests(from).filter((e) => e.resource === 'secrets' && e.verb === 'list');
      assert.ok(
        lists.length > 0 && lists.every((e) => e.accept.startsWith('application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1')),
        'every Secret list is metadata-only',
      );
      assert.deepEqual(secretGets(from), ['shop/db'], 'only the Secret it rotates is read');
      assert.equal(entry(r, 'shop', 'db').action, 'rotated');
      assert.equal(entry(r, 'shop', 'fresh').action, 'not-due');
      assert.equal(
        entry(r, 'shop', 'helm-managed').action,
        'skipped',
        'ownership markers in labels and annotations are judged from metadata',
      );
    });

    it('checks what needs the Secret itself (type, immutability, data keys) when it is due and read, in dry runs too', async () => {
      await c.secret('infra', 'sa-token', { token: 'x' }, 'maxAge: 30d\nkeys: { token: token }', {
        type: 'kubernetes.io/service-account-token',
        annotations: { 'kubernetes.io/service-account.name': 'default' },
      });
      await c.secret('apps', 'frozen', { p: 'x' }, 'maxAge: 30d\nkeys: { p: password }', { immutable: true });
      await c.secret(
        'apps',
        'bad-template',
        { p: 'x' },
        'maxAge: 30d\nkeys: { url: { generator: template, template: "{{ user }}:{{ p }}" }, p: password }',
      );
      const from = c.requests().length;

      const today = await c.run(['--dry-run', '--output', 'json']);
      const readToday = secretGets(from);
      const later = await c.run(['--dry-run', '--output', 'json', '--now', FUTURE()]);

      assert.equal(today.code, 0, today.stdout);
      assert.deepEqual(readToday, [], 'nothing due: nothing read');
      assert.deepEqual(
        report(today).secrets.map((e) => e.action),
        ['not-due', 'not-due', 'not-due'],
      );
      assert.equal(later.code, 1, later.stdout);
      assert.equal(entry(later, 'infra', 'sa-token').action, 'skipped');
      assert.match(entry(later, 'infra', 'sa-token').detail, /service-account token\) \(type kubernetes.io\/service-account-token\)/);
      assert.equal(entry(later, 'apps', 'frozen').action, 'invalid');
      assert.match(entry(later, 'apps', 'frozen').detail, /the Secret is immutable/);
      assert.match(entry(later, 'apps', 'bad-template').detail, /keys\.url\.template: refers to user/);
      assert.deepEqual(secretGets(from).sort(), ['apps/bad-template', 'apps/frozen', 'infra/sa-token']);
      assert.deepEqual(writes(c, from), [], 'dry runs write nothing');
    });

    it('counts --max-rotations in Secrets that turn out rotatable when read, and does not read the deferred ones', async () => {
      await c.secret('a', 's1', { p: 'old-value-1' }, 'maxAge: 1d\nkeys: { p: password }', { immutable: true, annotations: LONG_AGO });
      await c.secret('a', 's2', { p: 'old-value-2' }, 'maxAge: 1d\nkeys: { p: password }', { annotations: LONG_AGO });
      await c.secret('a', 's3', { p: 'old-value-3' }, 'maxAge: 1d\nkeys: { p: password }', { annotations: LONG_AGO });
      const from = c.requests().length;

      const r = await c.run(['--max-rotations', '1', '--output', 'json']);

      assert.equal(r.code, 1, 'the invalid policy fails the run');
      assert.deepEqual(
        report(r)
          .secrets.map((e) => `${e.name}:${e.action}`)
          .sort(),
        ['s1:invalid', 's2:rotated', 's3:deferred'],
      );
      assert.deepEqual(secretGets(from), ['a/s1', 'a/s2']);
      assert.equal(c.data('a', 's3')!.p, 'old-value-3');
    });

    it('judges a Secret again on what it is when read: deleted, policy removed or rotated since the scan', async () => {
      const policy = 'maxAge: 1d\nkeys: { p: password }';
      for (const name of ['deleted', 'unpolicied', 'just-rotated'])
        await c.secret('shop', name, { p: `old-${name}` }, policy, { annotations: LONG_AGO });
      const faults = ['deleted', 'unpolicied', 'just-rotated'].map((name) =>
        c.emulator.faults.inject({ method: 'GET', path: `/api/v1/namespaces/shop/secrets/${name}`, delayMs: 200 }),
      );
      const meanwhile = (async () => {
        while (faults.some((f) => f.matched === 0)) await new Promise((r) => setTimeout(r, 5));
        c.emulator.delete('v1', 'Secret', 'shop', 'deleted');
        c.editSecret('shop', 'unpolicied', (s) => delete s.metadata!.annotations!['secret-steward.io/rotation']);
        c.editSecret(
          'shop',
          'just-rotated',
          (s) => (s.metadata!.annotations!['secret-steward.io/last-rotated'] = new Date().toISOString()),
        );
      })();

      const r = await c.run(['--output', 'json']);
      await meanwhile;

      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(
        report(r).secrets.map((e) => `${e.name}:${e.action}`),
        ['just-rotated:not-due'],
      );
      assert.equal(c.data('shop', 'unpolicied')!.p, 'old-unpolicied');
      assert.equal(c.data('shop', 'just-rotated')!.p, 'old-just-rotated');
      assert.deepEqual(
        c.emulator.list('v1', 'Secret', 'shop').map((s) => s.metadata!.name),
        ['just-rotated', 'unpolicied'],
        'no companion was created',
      );
    });

    it('reports a Secret it cannot read as failed, changes nothing on it, and rotates the others', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.secret('shop', 'other', { p: 'old-value-9' }, 'maxAge: 1d\nkeys: { p: password }', { annotations: LONG_AGO });
      c.emulator.faults.inject({ method: 'GET', path: '/api/v1/namespaces/shop/secrets/db', status: 403 });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1);
      const e = entry(r, 'shop', 'db');
      assert.equal(e.action, 'failed');
      assert.match(
        e.detail,
        /could not read the Secret, so it was not rotated \(nothing was changed\): failed to get Secret shop\/db: 403 Forbidden/,
      );
      assert.deepEqual(c.data('shop', 'db'), DB_DATA);
      assert.equal(c.getSecret('shop', 'db-pending'), undefined);
      assert.ok(eventsFor(c, 'shop', 'Secret', 'db').some((ev) => ev.type === 'Warning' && ev.reason === 'RotationFailed'));
      assert.equal(entry(r, 'shop', 'other').action, 'rotated');
    });
  });

  describe('generators end to end', () => {
    it('rotates a TLS certificate signed by a CA kept in another Secret', async () => {
      await caSecret(c, { [ALLOW]: 'web-tls:issuer' });
      await c.secret('shop', 'web-tls', { 'tls.crt': 'old', 'tls.key': 'old' }, TLS_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'ingress', { volumes: ['web-tls'] });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      const data = c.data('shop', 'web-tls')!;
      const leaf = new X509Certificate(data['tls.crt']);
      const caCert = new X509Certificate(data['ca.crt']);
      assert.ok(leaf.checkIssued(caCert) && leaf.verify(caCert.publicKey));
      assert.equal(leaf.checkHost('shop.example.com'), 'shop.example.com');
      assert.ok(leaf.checkPrivateKey(createPrivateKey(data['tls.key'])));
      assert.deepEqual(entry(r, 'shop', 'web-tls').keys, ['ca.crt', 'tls.crt', 'tls.key']);
    });

    it('runs set and test through a backend plug-in; a failed test sets the backend back, and the next run retries the same values', async () => {
      const calls: Array<{ step: string; password: string }> = [];
      let failTest = true;
      const backend: RotationBackend<{ role: string }> = {
        name: 'fake-db',
        parseConfig: (raw) =>
          typeof raw.role === 'string' ? { config: { role: raw.role } } : { problems: [{ path: ['role'], message: 'is required' }] },
        set: async (ctx: BackendStepContext<{ role: string }>) => {
          calls.push({ step: `set:${ctx.config.role}`, password: ctx.pending.get('password')!.toString() });
        },
        test: async (ctx) => {
          calls.push({ step: 'test', password: ctx.pending.get('password')!.toString() });
          if (failTest) throw new Error('login with the new password refused');
        },
      };
      const command = rotateCommandWith([backend as RotationBackend]);
      await c.secret('shop', 'db', DB_DATA, `${DB_POLICY}backend: { name: fake-db, role: app }\n`, { annotations: LONG_AGO });

      const failed = await c.run(['--output', 'json'], { command });

      assert.equal(failed.code, 1);
      assert.match(
        entry(failed, 'shop', 'db').detail,
        /step test \(backend fake-db\) failed: login with the new password refused; the backend was set back to the current values/,
      );
      assert.deepEqual(c.data('shop', 'db'), DB_DATA, 'nothing promoted');
      assert.deepEqual(
        calls.map((x) => x.step),
        ['set:app', 'test', 'set:app'],
      );
      assert.equal(calls[2].password, DB_DATA.password, 'set back to the current password');
      assert.equal(
        c.annotations('shop', 'db-pending')['secret-steward.io/rotation-step'],
        'created',
        'the pending values stay, to be set and tested again',
      );
      failTest = false;

      const resumed = await c.run(['--output', 'json'], { command });

      assert.equal(resumed.code, 0, resumed.stdout);
      assert.deepEqual(
        calls.map((x) => x.step),
        ['set:app', 'test', 'set:app', 'set:app', 'test'],
      );
      const forward = [calls[0], calls[1], calls[3], calls[4]];
      assert.equal(new Set(forward.map((x) => x.password)).size, 1, 'one value set, never a second');
      assert.equal(c.data('shop', 'db')!.password, calls[0].password);
    });

    it('keeps the pending values at step set when setting the backend back fails too', async () => {
      const backend = testFailsThenSetBackFails();
      await c.secret('shop', 'db', DB_DATA, `${DB_POLICY}backend: { name: fake-db }\n`, { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json'], { command: rotateCommandWith([backend]) });

      assert.equal(r.code, 1);
      assert.match(
        entry(r, 'shop', 'db').detail,
        /failed: login refused; setting it back to the current values failed too: database went away/,
      );
      assert.equal(
        c.annotations('shop', 'db-pending')['secret-steward.io/rotation-step'],
        'set',
        'the backend may hold the pending values: the next run continues from them',
      );
      assert.deepEqual(c.data('shop', 'db'), DB_DATA);
    });
  });

  describe('under the garbage collector', () => {
    // A real cluster's garbage collector deletes a dependent whose owner is deleted, or deleted and
    // created again under the same name (uid mismatch): test/emulator/garbage-collector.test.ts.

    it('keeps <name>-previous when the Secret is deleted and created again during the finish', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      const original = c.getSecret('shop', 'db')!;
      let recreated: string | undefined;
      c.emulator.faults.inject({
        method: 'PUT',
        path: '/api/v1/namespaces/shop/secrets/db',
        onFire: () => {
          // Someone restores it (delete, create the same content) just before the finish's write arrives.
          c.emulator.delete('v1', 'Secret', 'shop', 'db');
          const { uid: _u, resourceVersion: _rv, creationTimestamp: _ct, ...meta } = original.metadata!;
          recreated = c.emulator.create({ ...original, metadata: meta }).metadata.uid;
        },
      });

      const r = await c.run(['--output', 'json']);
      await c.emulator.gc?.idle();

      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(recreated);
      assert.notEqual(c.data('shop', 'db')!.password, DB_DATA.password, 'rotated on the Secret as it is now');
      assert.deepEqual(c.data('shop', 'db-previous'), DB_DATA, 'the undo copy outlives the Secret it was first written for');
      assert.deepEqual(
        c.getSecret('shop', 'db-previous')!.metadata!.ownerReferences!.map((o) => o.uid),
        [recreated],
      );
    });

    it('keeps a pending companion whose values a backend may hold when the Secret is deleted', async () => {
      const backend = testFailsThenSetBackFails();
      await c.secret('shop', 'db', DB_DATA, `${DB_POLICY}backend: { name: fake-db }\n`, { annotations: LONG_AGO });
      const r = await c.run(['--output', 'json'], { command: rotateCommandWith([backend]) });
      assert.equal(r.code, 1);
      const pendingBefore = c.getSecret('shop', 'db-pending')!;

      c.emulator.delete('v1', 'Secret', 'shop', 'db');
      await c.emulator.gc?.idle();

      const pending = c.getSecret('shop', 'db-pending');
      assert.ok(pending, 'not garbage-collected: the database may already use these values');
      assert.equal(pending.metadata!.annotations!['secret-steward.io/rotation-step'], 'set');
      assert.equal(pending.metadata!.ownerReferences, undefined);
      assert.deepEqual(pending.data, pendingBefore.data);
      const rerun = await c.run(['--output', 'json'], { command: rotateCommandWith([backend]) });
      assert.ok(c.getSecret('shop', 'db-pending'), 'the next run leaves it for an operator');
      assert.ok(
        rerun.records.some((l) => /left in place for an operator/.test(JSON.stringify(l))),
        'and says so',
      );
    });

    it('frees a pending companion an earlier release made owned by the Secret before a backend gets its values', async () => {
      let sets = 0;
      const backend: RotationBackend = {
        name: 'fake-db',
        parseConfig: () => ({ config: {} }),
        set: async () => {
          sets++;
          if (sets === 1 || sets === 3) throw new Error('database went away');
        },
        test: async () => {
          throw new Error('login refused');
        },
      };
      await c.secret('shop', 'db', DB_DATA, `${DB_POLICY}backend: { name: fake-db }\n`, { annotations: LONG_AGO });
      assert.equal((await c.run(['--output', 'json'], { command: rotateCommandWith([backend]) })).code, 1);
      const head = c.getSecret('shop', 'db')!;
      c.editSecret('shop', 'db-pending', (p) => {
        p.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'Secret', name: 'db', uid: head.metadata!.uid! }];
      });

      const r = await c.run(['--output', 'json'], { command: rotateCommandWith([backend]) });

      assert.equal(r.code, 1);
      const pending = c.getSecret('shop', 'db-pending')!;
      assert.equal(pending.metadata!.annotations!['secret-steward.io/rotation-step'], 'set');
      assert.equal(pending.metadata!.ownerReferences, undefined, 'no owner once a backend may hold its values');
    });

    it('still deletes <name>-previous with its Secret when the Secret is deleted for good', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      assert.equal((await c.run(['--output', 'json'])).code, 0);
      assert.ok(c.getSecret('shop', 'db-previous'));

      c.emulator.delete('v1', 'Secret', 'shop', 'db');
      await c.emulator.gc?.idle();

      assert.equal(c.getSecret('shop', 'db-previous'), undefined, 'old values do not outlive the Secret for good');
    });
  });

  describe('referenced Secrets opt in', () => {
    const OLD_TLS = { 'tls.crt': 'old', 'tls.key': 'old' };

    it('refuses a policy whose CA Secret does not allow it: invalid, the CA never read, the Secret unchanged', async () => {
      await caSecret(c);
      await c.secret('shop', 'web-tls', OLD_TLS, TLS_POLICY, { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, r.stdout);
      const e = entry(r, 'shop', 'web-tls');
      assert.equal(e.action, 'invalid');
      assert.equal(
        e.detail,
        'keys["tls.crt"].issuer.secret: Secret shop/shop-ca does not allow Secret shop/web-tls to use it as issuer (sign certificates with its CA): add the annotation secret-steward.io/allow-references: "web-tls:issuer" to Secret shop/shop-ca',
      );
      assert.deepEqual(requestsFor(c, 'shop', 'shop-ca'), [], 'the CA Secret is never read');
      assert.deepEqual(c.data('shop', 'web-tls'), OLD_TLS);
      assert.equal(c.getSecret('shop', 'web-tls-pending'), undefined);
      assert.ok(eventsFor(c, 'shop', 'Secret', 'web-tls').some((ev) => ev.reason === 'RotationPolicyInvalid'));
    });

    it('refuses a use the CA Secret does not allow: allowed as admin is not allowed as issuer', async () => {
      await caSecret(c, { [ALLOW]: 'web-tls:admin, other:issuer' });
      await c.secret('shop', 'web-tls', OLD_TLS, TLS_POLICY, { annotations: LONG_AGO });

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, r.stdout);
      assert.equal(entry(r, 'shop', 'web-tls').action, 'invalid');
      assert.match(
        entry(r, 'shop', 'web-tls').detail,
        /add web-tls:issuer to its secret-steward\.io\/allow-references annotation \(now "web-tls:admin, other:issuer"\)/,
      );
      assert.deepEqual(requestsFor(c, 'shop', 'shop-ca'), []);
      assert.deepEqual(c.data('shop', 'web-tls'), OLD_TLS);
    });

    it('checks the opt-in on the read itself when the scan did not see the CA: refused from the same GET, nothing written', async () => {
      await caSecret(c);
      await c.secret('shop', 'web-tls', OLD_TLS, TLS_POLICY, { annotations: LONG_AGO, labels: { app: 'web' } });

      const r = await c.run(['--selector', 'app=web', '--output', 'json']);

      assert.equal(r.code, 1, r.stdout);
      const e = entry(r, 'shop', 'web-tls');
      assert.equal(e.action, 'failed');
      assert.match(e.detail, /add the annotation secret-steward\.io\/allow-references: "web-tls:issuer" to Secret shop\/shop-ca/);
      assert.deepEqual(requestsFor(c, 'shop', 'shop-ca'), ['GET /api/v1/namespaces/shop/secrets/shop-ca'], 'one GET, for the annotation');
      assert.deepEqual(c.data('shop', 'web-tls'), OLD_TLS);
      assert.equal(c.getSecret('shop', 'web-tls-pending'), undefined);
    });

    it('signs a sub-CA only when the CA Secret allows issuer-ca, and limits its path length to 0', async () => {
      await caSecret(c, { [ALLOW]: 'mesh-ca:issuer' });
      await c.secret('shop', 'mesh-ca', OLD_TLS, SUB_CA_POLICY, { annotations: LONG_AGO });

      const refused = await c.run(['--output', 'json']);
      c.editSecret('shop', 'shop-ca', (s) => Object.assign(s.metadata!.annotations!, { [ALLOW]: 'mesh-ca:issuer-ca' }));
      const allowed = await c.run(['--output', 'json']);

      assert.equal(refused.code, 1, refused.stdout);
      assert.match(
        entry(refused, 'shop', 'mesh-ca').detail,
        /Secret shop\/shop-ca does not allow Secret shop\/mesh-ca to use it as issuer-ca .*: add mesh-ca:issuer-ca to its/,
      );
      assert.equal(allowed.code, 0, allowed.stdout);
      const data = c.data('shop', 'mesh-ca')!;
      await import('reflect-metadata');
      const x509 = await import('@peculiar/x509');
      const bc = new x509.X509Certificate(data['tls.crt']).getExtension(x509.BasicConstraintsExtension);
      assert.equal(bc?.ca, true);
      assert.equal(bc?.pathLength, 0, 'the sub-CA signs leaves only');
      assert.ok(new X509Certificate(data['tls.crt']).checkIssued(new X509Certificate(data['ca.crt'])));
    });

    it('refuses a postgresql admin Secret that does not allow the policy, without reading it or connecting', async () => {
      await c.secret('shop', 'db-admin', { username: 'rotator_admin', password: 'admin-password-canary' });
      await c.secret(
        'shop',
        'db',
        { username: 'app', password: 'old-password-0001' },
        'maxAge: 30d\nkeys: { password: { generator: password, length: 24, classes: [lower, upper, digits] } }\nbackend: { name: postgresql, strategy: alternating-users, adminSecretRef: { name: db-admin }, host: db.invalid, sslmode: disable }',
        { annotations: LONG_AGO },
      );

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 1, r.stdout);
      assert.equal(entry(r, 'shop', 'db').action, 'invalid');
      assert.match(
        entry(r, 'shop', 'db').detail,
        /^backend\.adminSecretRef\.name: Secret shop\/db-admin does not allow Secret shop\/db to use it as admin \(log in to a backend with its credential\): add the annotation secret-steward\.io\/allow-references: "db:admin" to Secret shop\/db-admin$/,
      );
      assert.deepEqual(requestsFor(c, 'shop', 'db-admin'), []);
      assert.deepEqual(c.data('shop', 'db'), { username: 'app', password: 'old-password-0001' });
      assert.doesNotMatch(r.stdout + r.stderr, /admin-password-canary/);
    });
  });

  describe('operations', () => {
    it('pushes run metrics to a Pushgateway', async function () {
      requireDependency(this, 'prometheus-pushgateway', hasPushgateway(), PUSHGATEWAY_INSTALL);
      const gw = await startPushgateway();
      try {
        await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
        await c.secret('shop', 'helm', { t: 'x' }, 'maxAge: 1d\nkeys: { t: token }', { labels: { owner: 'helm' } });

        const r = await c.run(['--pushgateway', gw.url, '--cluster-name', 'test-cluster']);

        assert.equal(r.code, 0);
        const text = await gw.metrics();
        assert.match(
          text,
          /secret_steward_rotate_secrets\{cluster="test-cluster",instance="",job="secret-steward-rotate",result="rotated"\} 1/,
        );
        assert.match(text, /secret_steward_rotate_secrets\{[^}]*result="skipped"\} 1/);
        assert.match(text, /secret_steward_rotate_secrets\{[^}]*result="rolled_back"\} 0/);
        assert.match(text, /secret_steward_rotate_last_run_timestamp_seconds\{.*\} \d/);
        assert.match(text, /secret_steward_rotate_duration_seconds\{.*\} \d/);
        assert.match(text, /secret_steward_rotate_last_success_timestamp_seconds\{.*\} \d/);
      } finally {
        await gw.stop();
      }
    });

    it('stays within 10 API requests per rotated Secret plus 3 per restarted workload', async () => {
      const inPlace = 6;
      const versioned = 2;
      for (let i = 0; i < inPlace; i++) {
        await c.secret('shop', `db-${i}`, DB_DATA, DB_POLICY, { annotations: LONG_AGO });
        await c.deployment('shop', `app-${i}`, { envFrom: [`db-${i}`] });
      }
      for (let i = 0; i < versioned; i++) {
        await c.secret('shop', `keys-${i}-v1`, { API_KEY: 'old' }, 'maxAge: 1d\nstrategy: versioned\nkeys: { API_KEY: token }', {
          immutable: true,
          annotations: LONG_AGO,
        });
        await c.deployment('shop', `vapp-${i}`, { env: [[`keys-${i}-v1`, 'API_KEY']] });
      }
      await c.emulator.workloads.idle();
      const from = c.requests().length;

      const r = await c.run(['--output', 'json']);

      assert.equal(r.code, 0, r.stdout);
      const entries = c.requests(from);
      const rotated = inPlace + versioned;
      const restarted = rotated;
      assert.ok(entries.length <= 10 * rotated + 3 * restarted, `${entries.length} requests`);
      const isShared = (e: (typeof entries)[number]) => e.verb === 'list' || e.resource === 'leases';
      const workloadEvents = restarted;
      const events = entries.filter((e) => e.resource === 'events').length;
      const perWorkload = (entries.filter((e) => ['deployments'].includes(e.resource) && !isShared(e)).length + workloadEvents) / restarted;
      const perSecret = (entries.filter((e) => e.resource === 'secrets' && !isShared(e)).length + (events - workloadEvents)) / rotated;
      const shared = entries.filter(isShared).length;
      assert.ok(perSecret <= 10, `per Secret ${perSecret}`);
      assert.ok(perWorkload <= 3, `per workload ${perWorkload}`);
      if (process.env.ROTATE_REQUEST_REPORT) {
        console.log(
          `      API requests: ${entries.length} for ${rotated} rotated Secrets (${inPlace} in-place, ${versioned} versioned) and ${restarted} restarted Deployments: ${perSecret.toFixed(2)} per Secret, ${perWorkload.toFixed(2)} per workload, ${shared} shared (lists, Lease)`,
        );
      }
    });

    it('works with a least-privilege service account, polling rollouts when it may not watch', async () => {
      await c.secret('shop', 'db', DB_DATA, DB_POLICY, { annotations: LONG_AGO });
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      const rules = [
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get', 'list', 'patch'] },
        { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['get', 'list', 'patch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      ];
      await c.emulator.applyObjects([
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'rotate' }, rules },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'rotate' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'rotate' },
          subjects: [{ kind: 'ServiceAccount', name: 'rotator', namespace: 'secret-steward' }],
        },
      ]);
      const { writeFile } = await import('node:fs/promises');
      const kubeconfig = `${c.dir}/rotator.kubeconfig`;
      await writeFile(kubeconfig, c.emulator.kubeconfigYaml({ token: c.emulator.serviceAccountToken('secret-steward', 'rotator') }));

      const r = await c.run(['--rollout-poll-interval', '50ms', '--output', 'json'], { kubeconfig });

      assert.equal(r.code, 0, r.stdout + r.logs.lines.join(''));
      assert.equal(entry(r, 'shop', 'db').action, 'rotated');
      assert.equal(r.records.filter((l) => String(l.msg).includes('cannot watch Deployments (403 Forbidden)')).length, 1, 'warned once');
      assert.equal(c.requests().filter((e) => e.verb === 'watch' && e.status === 403).length, 1, 'asked to watch once, then polled');
    });

    it('explains itself with --help', async () => {
      const r = await c.run(['--help']);

      assert.equal(r.code, 0);
      for (const flag of [
        '--dry-run',
        '--now',
        '--namespace',
        '--selector',
        '--max-rotations',
        '--max-concurrent-rollouts',
        '--pushgateway',
        '--lock-namespace',
      ]) {
        assert.ok(r.stdout.includes(flag), flag);
      }
    });
  });
});
