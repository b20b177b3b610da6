import assert from 'node:assert/strict';
import { RotateCluster } from '../shared/rotate/support/cluster.js';
import { forEachStep, is, nth, runAndCrash, type Step } from '../shared/rotate/support/crash.js';

/**
 * Crash injection: the real job runs as a child process (`node --import tsx jobs/rotate.ts`)
 * against an emulator in this process. When the request that completes a protocol step
 * arrives, every later request is stalled; as soon as the step's write has been answered the
 * child gets SIGKILL (stalled requests are then dropped, never applied) or SIGTERM (they are
 * served, and the job stops at its next checkpoint). Then the job runs again: each time exactly
 * one new value set must be promoted and the consumers must be consistent with it.
 */

const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };

const restartsFor = (c: RotateCluster, kind: 'Deployment' | 'StatefulSet', name: string, rotation: string) =>
  c.rollouts(kind, 'shop', name).filter((r) => r.templateAnnotations['secret-steward.io/restartedAt']?.includes(rotation));

describe('jobs/rotate crash injection', function () {
  this.timeout(300_000);

  const IN_PLACE_STEPS: Step[] = [
    { name: 'create (pending companion)', marker: () => nth(1, is('create', 'secrets')) },
    { name: 'previous values kept', marker: () => nth(2, is('create', 'secrets')) },
    { name: 'finish (Secret written)', marker: () => is('update', 'secrets', 'db') },
    { name: 'rollout (first restart)', marker: () => nth(1, is('patch', 'deployments')) },
    { name: 'rollout (second restart)', marker: () => nth(2, is('patch', 'deployments')) },
    { name: 'verify (watching)', marker: () => nth(1, is('watch', 'deployments')) },
    { name: 'outcome recorded', marker: () => is('patch', 'secrets', 'db') },
    { name: 'pending companion deleted', marker: () => is('delete', 'secrets', 'db-pending') },
    // The Secret's Event is the last of the namespace's three (two Restarted, one Rotated).
    { name: 'Event recorded', marker: () => nth(3, is('create', 'events')) },
  ];

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`in-place: ${signal} after every step, then a rerun promotes exactly one value set`, async () => {
      await forEachStep(IN_PLACE_STEPS, async (step) => {
        const c = await RotateCluster.start();
        try {
          const original = { username: 'app', password: 'original-password-1', DATABASE_URL: 'postgres://app:original-password-1@db/app' };
          await c.secret(
            'shop',
            'db',
            original,
            'maxAge: 30d\nkeys:\n  password: { generator: password, length: 20 }\n  DATABASE_URL: { generator: template, template: "postgres://{{ username }}:{{ password | urlencode }}@db/app" }\nrollout: { waitReady: 20s }',
            { annotations: LONG_AGO },
          );
          await c.deployment('shop', 'api', { envFrom: ['db'] });
          await c.deployment('shop', 'web', { env: [['db', 'password']] });
          await c.emulator.workloads.idle();

          const t0 = Date.now();
          const crash = await runAndCrash(c, step.marker(), signal, 'crashing-pod');
          if (process.env.CRASH_DEBUG) console.log(step.name, signal, 'crash took', Date.now() - t0, crash.code);
          assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
          if (signal === 'SIGTERM')
            assert.ok(crash.code === 143 || crash.code === 0, `SIGTERM exit ${crash.code}: ${crash.stderr.slice(-1500)}`);
          const pending = c.data('shop', 'db-pending');

          const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

          assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
          const data = c.data('shop', 'db')!;
          assert.notEqual(data.password, original.password, 'rotated');
          if (pending !== undefined)
            assert.equal(data.password, pending.password, 'the values generated before the crash were promoted, no second set');
          assert.equal(data.DATABASE_URL, `postgres://app:${urlencode(data.password)}@db/app`, 'the template embeds the promoted password');
          assert.deepEqual(c.data('shop', 'db-previous'), original);
          assert.equal(c.getSecret('shop', 'db-pending'), undefined);
          const a = c.annotations('shop', 'db');
          const outcome = JSON.parse(a['secret-steward.io/last-outcome']);
          assert.equal(outcome.result, 'succeeded');
          assert.equal(a['secret-steward.io/rotation-step'], undefined);
          const finishAt = c
            .requests()
            .find((e) => e.verb === 'update' && e.name === 'db' && e.status === 200)!
            .time.getTime();
          for (const name of ['api', 'web']) {
            const ours = restartsFor(c, 'Deployment', name, outcome.rotation);
            assert.equal(ours.length, 1, `${name} restarted exactly once for the rotation`);
            assert.ok(ours[0].time.getTime() >= finishAt, `${name} restarted after the new values were written`);
            const w = c.workload('Deployment', 'shop', name);
            assert.equal(w.status.observedGeneration, w.metadata!.generation);
            assert.equal(w.status.updatedReplicas, 2);
            assert.equal(w.status.availableReplicas, 2);
          }
          const again = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });
          assert.equal(again.code, 0);
          assert.equal(JSON.parse(again.stdout).secrets[0].action, 'not-due', 'nothing left to do');
        } finally {
          await c.stop();
        }
      });
    });
  }

  const VERSIONED_STEPS: Step[] = [
    { name: 'create (new version)', marker: () => is('create', 'secrets') },
    { name: 'repoint (Deployment)', marker: () => is('patch', 'deployments', 'web') },
    { name: 'repoint (CronJob)', marker: () => is('patch', 'cronjobs', 'report') },
    { name: 'verify (watching)', marker: () => is('watch', 'deployments') },
    { name: 'promote (new version)', marker: () => is('patch', 'secrets', 'keys-v3') },
    { name: 'supersede (old version)', marker: () => is('patch', 'secrets', 'keys-v2') },
    { name: 'collect (oldest version)', marker: () => is('delete', 'secrets', 'keys-v1') },
  ];

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`versioned: ${signal} after every step, then a rerun promotes exactly one version`, async () => {
      await forEachStep(VERSIONED_STEPS, async (step) => {
        const c = await RotateCluster.start();
        try {
          const policy = 'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: token }\nrollout: { waitReady: 20s }';
          await c.secret('shop', 'keys-v1', { API_KEY: 'first-key-value' }, undefined, {
            immutable: true,
            annotations: {
              'secret-steward.io/lineage': 'keys',
              'secret-steward.io/version': '1',
              'secret-steward.io/superseded-by': 'keys-v2',
            },
          });
          await c.secret('shop', 'keys-v2', { API_KEY: 'second-key-value' }, policy, {
            immutable: true,
            annotations: { ...LONG_AGO, 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '2' },
          });
          await c.deployment('shop', 'web', { envFrom: ['keys-v2'] });
          await c.cronJob('shop', 'report', { env: [['keys-v2', 'API_KEY']] });
          await c.emulator.workloads.idle();

          const crash = await runAndCrash(c, step.marker(), signal, 'crashing-pod');
          assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
          const made = c.data('shop', 'keys-v3');

          const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

          assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
          const names = c.emulator
            .list('v1', 'Secret', 'shop')
            .map((s) => s.metadata!.name)
            .filter((n) => n.startsWith('keys'))
            .sort();
          assert.deepEqual(names, ['keys-v2', 'keys-v3'], 'one new version, the oldest collected');
          if (made !== undefined) assert.deepEqual(c.data('shop', 'keys-v3'), made, 'the version made before the crash was promoted');
          assert.equal(c.getSecret('shop', 'keys-v3')!.metadata!.labels?.['secret-steward.io/role'], undefined);
          assert.ok(c.annotations('shop', 'keys-v3')['secret-steward.io/rotation']);
          assert.equal(c.annotations('shop', 'keys-v2')['secret-steward.io/superseded-by'], 'keys-v3');
          assert.equal(c.annotations('shop', 'keys-v2')['secret-steward.io/rotation'], undefined);
          assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'web'), ['keys-v3']);
          assert.deepEqual(c.referencedSecrets('CronJob', 'shop', 'report'), ['keys-v3']);
          const rotation = JSON.parse(c.annotations('shop', 'keys-v3')['secret-steward.io/last-outcome']).rotation;
          assert.equal(restartsFor(c, 'Deployment', 'web', rotation).length, 1, 'restarted exactly once');
          const w = c.workload('Deployment', 'shop', 'web');
          assert.equal(w.status.observedGeneration, w.metadata!.generation);
          assert.equal(w.status.availableReplicas, 2);
        } finally {
          await c.stop();
        }
      });
    });
  }

  const ROLLBACK_STEPS: Step[] = [
    { name: 'rollout (restart)', marker: () => is('patch', 'deployments', 'api') },
    { name: 'rollback (previous values restored)', marker: () => nth(2, is('update', 'secrets', 'db')) },
    { name: 'rollback (template restored)', marker: () => nth(2, is('patch', 'deployments', 'api')) },
    { name: 'outcome recorded', marker: () => is('patch', 'secrets', 'db') },
    { name: 'pending companion deleted', marker: () => is('delete', 'secrets', 'db-pending') },
  ];

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`rollback: ${signal} after every step, then a rerun ends with the Secret and workload as before`, async () => {
      await forEachStep(ROLLBACK_STEPS, async (step) => {
        const c = await RotateCluster.start();
        try {
          const original = { password: 'original-password-1' };
          await c.secret('shop', 'db', original, 'maxAge: 30d\nkeys: { password: password }\nrollout: { waitReady: 20s }', {
            annotations: LONG_AGO,
          });
          await c.deployment('shop', 'api', { envFrom: ['db'] });
          await c.emulator.workloads.idle();
          c.emulator.workloads.progressDeadlineMs = 200;
          c.emulator.workloads.setFailing('Deployment', 'shop', 'api', true);
          await c.emulator.workloads.idle();
          const before = c.workload('Deployment', 'shop', 'api');

          const crash = await runAndCrash(c, step.marker(), signal, 'crashing-pod');
          assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
          const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

          const outcome = JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome'] ?? '{}');
          assert.equal(outcome.result, 'rolled-back', rerun.stdout);
          assert.ok(rerun.code === 1 || rerun.code === 0, `rerun exit ${rerun.code}`);
          assert.deepEqual(c.data('shop', 'db'), original);
          assert.equal(c.getSecret('shop', 'db-pending'), undefined);
          assert.equal(c.annotations('shop', 'db')['secret-steward.io/rotation-step'], undefined);
          const w = c.workload('Deployment', 'shop', 'api');
          assert.deepEqual(w.spec.template, before.spec.template);
          assert.equal(w.status.availableReplicas, 2);
          assert.equal(w.status.updatedReplicas, 2);
        } finally {
          await c.stop();
        }
      });
    });
  }
});
