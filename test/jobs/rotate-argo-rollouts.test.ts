import assert from 'node:assert/strict';
import { statusCommand } from '../../jobs/status.js';
import { MemorySink } from '../../shared/log/index.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { runCommand } from '../../shared/runtime/command.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { RotateCluster, type RunResult } from '../shared/rotate/support/cluster.js';
import { is, runAndCrash } from '../shared/rotate/support/crash.js';

/**
 * Argo Rollouts as rotation consumers, end to end: the real rotate job against the emulator
 * serving the Rollout CRD with its controller stand-in (test/emulator/argo-rollouts.test.ts cites
 * what the Argo controller does). In place, a Rollout restarts through `spec.restartAt` (no new
 * revision); versioned, its template is repointed; a Rollout that does not become Healthy is
 * rolled back with the Secret.
 */

const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const CRD = { crds: ['rollouts.argoproj.io'] as const };
const DB = { password: 'original-password-1' };
const policy = (waitReady = '20s') =>
  `maxAge: 30d\nkeys: { password: { generator: password, length: 20 } }\nrollout: { waitReady: ${waitReady} }`;
const VERSIONED = 'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: token }\nrollout: { waitReady: 20s }';

function entry(r: RunResult, ns: string, name: string) {
  const e = (JSON.parse(r.stdout) as RotationReport).secrets.find((s) => s.namespace === ns && s.name === name);
  assert.ok(e, `no report entry for ${ns}/${name}:\n${r.stdout}\n${r.stderr}`);
  return e;
}

const restartRecord = (c: RotateCluster, name: string) =>
  JSON.parse(c.workload('Rollout', 'shop', name).metadata!.annotations?.['secret-steward.io/restart-previous'] ?? 'null');

/** Events recorded for one object, as `reason apiVersion`. */
const eventsFor = (c: RotateCluster, kind: string, name: string) =>
  (
    c.emulator.list('v1', 'Event', 'shop') as unknown as Array<{
      involvedObject: { kind: string; name: string; apiVersion: string };
      reason: string;
    }>
  )
    .filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name)
    .map((e) => `${e.reason} ${e.involvedObject.apiVersion}`);

describe('jobs/rotate with Argo Rollouts consumers', function () {
  this.timeout(120_000);
  let c: RotateCluster;

  afterEach(async () => {
    await c?.stop();
  });

  it('in place: restarts a Rollout once through spec.restartAt, without a new revision, and verifies it Healthy', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'db', DB, policy(), { annotations: LONG_AGO });
    await c.rollout('shop', 'web', { envFrom: ['db'] });
    await c.deployment('shop', 'api', { env: [['db', 'password']] });
    await c.emulator.workloads.idle();
    const before = c.workload('Rollout', 'shop', 'web');

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const e = entry(r, 'shop', 'db');
    assert.equal(e.action, 'rotated', e.detail);
    assert.deepEqual(e.consumers?.sort(), ['deployment/api', 'rollout/web']);
    assert.notEqual(c.data('shop', 'db')!.password, DB.password);
    const after = c.workload('Rollout', 'shop', 'web');
    assert.deepEqual(after.spec.template, before.spec.template, 'the pod template is not changed');
    assert.ok(after.spec.restartAt, 'spec.restartAt set');
    assert.equal(after.status.restartedAt, after.spec.restartAt, 'the controller finished the restart');
    assert.equal(after.status.phase, 'Healthy');
    assert.equal(after.status.observedGeneration, String(after.metadata!.generation));
    assert.deepEqual(
      c.emulator.workloads.restarts.map((x) => [x.name, x.restartAt]),
      [['web', after.spec.restartAt]],
    );
    assert.equal(c.rollouts('Rollout', 'shop', 'web').length, 1, 'no new revision');
    assert.deepEqual(restartRecord(c, 'web').rotations, [e.rotation]);
    assert.ok(eventsFor(c, 'Rollout', 'web').includes('Restarted argoproj.io/v1alpha1'));
    const workloads = (JSON.parse(r.stdout) as RotationReport).workloads;
    assert.equal(workloads.find((w) => w.key === 'Rollout/shop/web')?.state, 'ready');

    const again = await c.run(['--output', 'json']);

    assert.equal(again.code, 0);
    assert.equal(entry(again, 'shop', 'db').action, 'not-due');
    assert.equal(c.emulator.workloads.restarts.length, 1, 'not restarted again');
  });

  it('in place: a Rollout restarted moments ago is restarted once more, at a later restartAt', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'db', DB, policy(), { annotations: LONG_AGO });
    await c.rollout('shop', 'web', { envFrom: ['db'] });
    await c.emulator.workloads.idle();
    const thisSecond = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    c.emulator.patch('argoproj.io/v1alpha1', 'Rollout', 'shop', 'web', 'application/merge-patch+json', { spec: { restartAt: thisSecond } });
    await c.emulator.workloads.idle();

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const w = c.workload('Rollout', 'shop', 'web');
    assert.ok(Date.parse(w.spec.restartAt) >= Date.parse(thisSecond) + 1000, `${w.spec.restartAt} after ${thisSecond}`);
    assert.equal(w.status.restartedAt, w.spec.restartAt);
    assert.deepEqual(
      c.emulator.workloads.restarts.map((x) => x.restartAt),
      [thisSecond, w.spec.restartAt],
    );
  });

  it('versioned: repoints a Rollout to the new version (a new revision, no restartAt)', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'keys-v1', { API_KEY: 'first-key-value' }, VERSIONED, {
      immutable: true,
      annotations: { ...LONG_AGO, 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '1' },
    });
    await c.rollout('shop', 'web', { envFrom: ['keys-v1'] });
    await c.emulator.workloads.idle();

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(entry(r, 'shop', 'keys-v1').action, 'rotated');
    assert.deepEqual(c.referencedSecrets('Rollout', 'shop', 'web'), ['keys-v2']);
    const w = c.workload('Rollout', 'shop', 'web');
    assert.equal(w.spec.restartAt, undefined, 'the new template restarts the pods; no restart asked');
    assert.equal(w.status.phase, 'Healthy');
    assert.equal(w.status.stableRS, w.status.currentPodHash);
    assert.deepEqual(
      c.rollouts('Rollout', 'shop', 'web').map((x) => [x.revision, x.outcome]),
      [
        [1, 'complete'],
        [2, 'complete'],
      ],
    );
  });

  it('in place: a Rollout that never becomes Healthy on the new values is rolled back and restarted on the old ones', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'db', DB, policy('1s'), { annotations: LONG_AGO });
    await c.rollout('shop', 'web', { envFrom: ['db'] });
    await c.emulator.workloads.idle();
    // The application cannot use the new password: its pods never become ready while the Secret holds it.
    c.emulator.workloads.setFailurePredicate((w) => w.metadata?.name === 'web' && c.data('shop', 'db')?.password !== DB.password);

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    const e = entry(r, 'shop', 'db');
    assert.equal(e.action, 'rolled-back', e.detail);
    assert.match(e.detail, /rollout\/web: not ready after 1s: restarting the pods created before/);
    assert.deepEqual(c.data('shop', 'db'), DB);
    const w = c.workload('Rollout', 'shop', 'web');
    assert.equal(w.status.phase, 'Healthy', 'restarted again on the restored values');
    assert.equal(w.status.restartedAt, w.spec.restartAt);
    assert.equal(c.emulator.workloads.restarts.length, 1, 'the forward restart never completed; the rollback restart did');
    assert.equal(w.metadata!.annotations?.['secret-steward.io/restart-previous'], undefined, 'record removed');
    assert.ok(eventsFor(c, 'Rollout', 'web').includes('RolledBack argoproj.io/v1alpha1'));

    const held = await c.run(['--output', 'json']);

    assert.equal(held.code, 0);
    assert.equal(entry(held, 'shop', 'db').action, 'not-due', 'held after a rollback');
  });

  it('versioned: a Degraded Rollout (progress deadline exceeded) is pointed back to the old version', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'keys-v1', { API_KEY: 'first-key-value' }, VERSIONED, {
      immutable: true,
      annotations: { ...LONG_AGO, 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '1' },
    });
    await c.rollout('shop', 'web', { envFrom: ['keys-v1'] });
    await c.emulator.workloads.idle();
    const before = c.workload('Rollout', 'shop', 'web');
    c.emulator.workloads.progressDeadlineMs = 200;
    c.emulator.workloads.setFailing('Rollout', 'shop', 'web', true);
    await c.emulator.workloads.idle();

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    const e = entry(r, 'shop', 'keys-v1');
    assert.equal(e.action, 'rolled-back', e.detail);
    assert.match(e.detail, /rollout\/web: Rollout Degraded: ProgressDeadlineExceeded/);
    const w = c.workload('Rollout', 'shop', 'web');
    assert.deepEqual(w.spec.template, before.spec.template, 'the template is back on keys-v1');
    assert.equal(w.status.phase, 'Healthy');
    assert.equal(w.status.currentPodHash, before.status.currentPodHash, 'back on the stable ReplicaSet');
    assert.equal(c.getSecret('shop', 'keys-v2'), undefined, 'the new version deleted');
  });

  it('a cluster without the CRD: Rollouts are not looked for, silently', async () => {
    c = await RotateCluster.start();
    await c.secret('shop', 'db', DB, policy(), { annotations: LONG_AGO });
    await c.deployment('shop', 'api', { envFrom: ['db'] });

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(entry(r, 'shop', 'db').consumers, ['deployment/api']);
    assert.deepEqual(
      c
        .requests()
        .filter((x) => x.path.includes('argoproj.io'))
        .map((x) => `${x.method} ${x.path} ${x.status}`),
      ['GET /apis/argoproj.io/v1alpha1 404'],
      'discovery asked once; no Rollout listed',
    );
    assert.deepEqual(
      r.records.filter((x) => x.level === 'warn' || x.level === 'error'),
      [],
    );
  });

  it('a job not allowed to list Rollouts notes it on one line and rotates the rest', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'db', DB, policy(), { annotations: LONG_AGO });
    await c.secret('other', 'db', DB, policy(), { annotations: LONG_AGO });
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    await c.rollout('shop', 'web', { envFrom: ['db'] });
    c.emulator.faults.inject({ method: 'GET', path: /\/rollouts$/, status: 403, times: Infinity });

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(entry(r, 'shop', 'db').consumers, ['deployment/api']);
    const notes = r.records.filter((x) => String(x.msg).includes('rollouts.argoproj.io'));
    assert.equal(notes.length, 1, JSON.stringify(r.records));
    assert.equal(notes[0].level, 'warn');
    assert.match(
      String(notes[0].msg),
      /^Argo Rollouts not checked as consumers: listing rollouts.argoproj.io is forbidden \(add the argo-rollouts component/,
    );
    assert.equal(c.requests().filter((x) => x.resource === 'rollouts').length, 1, 'not asked again for the second namespace');
  });

  it('status lists a Rollout consumer like other workloads', async () => {
    c = await RotateCluster.start(CRD);
    await c.secret('shop', 'db', DB, policy(), { annotations: LONG_AGO });
    await c.rollout('shop', 'web', { envFrom: ['db'] });
    await c.deployment('shop', 'api', { envFrom: ['db'] });

    const out: string[] = [];
    const err: string[] = [];

    await runCommand(statusCommand, ['--kubeconfig', c.kubeconfig, '--namespace', 'shop', '--output', 'json'], {
      env: { PATH: process.env.PATH, HOME: c.dir },
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
      logSink: new MemorySink(),
      handleSignals: false,
    });

    assert.ok(out.length > 0, err.join(''));
    const report = JSON.parse(out.join('')) as StatusReport;
    const db = report.rotation?.secrets.find((s) => s.name === 'db');
    assert.deepEqual(db?.consumers.sort(), ['deployment/api', 'rollout/web']);
  });

  describe('crash injection', () => {
    const steps = [
      { name: 'restart (spec.restartAt)', marker: () => is('patch', 'rollouts', 'web') },
      { name: 'verify (watching)', marker: () => is('watch', 'rollouts') },
      { name: 'outcome recorded', marker: () => is('patch', 'secrets', 'db') },
    ];
    for (const step of steps) {
      it(`in place: SIGKILL after ${step.name}, then a rerun restarts the Rollout exactly once`, async () => {
        c = await RotateCluster.start(CRD);
        await c.secret('shop', 'db', DB, policy(), { annotations: LONG_AGO });
        await c.rollout('shop', 'web', { envFrom: ['db'] });
        await c.emulator.workloads.idle();

        const crash = await runAndCrash(c, step.marker(), 'SIGKILL', 'crashing-pod');
        assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
        const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

        assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
        const outcome = JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']);
        assert.equal(outcome.result, 'succeeded');
        assert.notEqual(c.data('shop', 'db')!.password, DB.password);
        const w = c.workload('Rollout', 'shop', 'web');
        assert.deepEqual(restartRecord(c, 'web').rotations, [outcome.rotation]);
        assert.equal(w.status.restartedAt, w.spec.restartAt);
        assert.equal(w.status.phase, 'Healthy');
        assert.equal(c.emulator.workloads.restarts.length, 1, 'restarted exactly once');
      });
    }

    for (const step of [
      { name: 'repoint', marker: () => is('patch', 'rollouts', 'web') },
      { name: 'promote (new version)', marker: () => is('patch', 'secrets', 'keys-v2') },
    ])
      it(`versioned: SIGKILL after ${step.name}, then a rerun promotes one version with the Rollout on it`, async () => {
        c = await RotateCluster.start(CRD);
        await c.secret('shop', 'keys-v1', { API_KEY: 'first-key-value' }, VERSIONED, {
          immutable: true,
          annotations: { ...LONG_AGO, 'secret-steward.io/lineage': 'keys', 'secret-steward.io/version': '1' },
        });
        await c.rollout('shop', 'web', { envFrom: ['keys-v1'] });
        await c.emulator.workloads.idle();

        const crash = await runAndCrash(c, step.marker(), 'SIGKILL', 'crashing-pod');
        assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
        const made = c.data('shop', 'keys-v2');
        const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

        assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
        assert.deepEqual(c.data('shop', 'keys-v2'), made, 'the version made before the crash was promoted');
        assert.equal(JSON.parse(c.annotations('shop', 'keys-v2')['secret-steward.io/last-outcome']).result, 'succeeded');
        assert.deepEqual(c.referencedSecrets('Rollout', 'shop', 'web'), ['keys-v2']);
        const w = c.workload('Rollout', 'shop', 'web');
        assert.equal(w.status.phase, 'Healthy');
        assert.equal(c.rollouts('Rollout', 'shop', 'web').length, 2, 'one new revision');
      });

    it('rollback: SIGKILL after the rollback restart, then a rerun ends rolled back with the Rollout Healthy', async () => {
      c = await RotateCluster.start(CRD);
      await c.secret('shop', 'db', DB, policy('1s'), { annotations: LONG_AGO });
      await c.rollout('shop', 'web', { envFrom: ['db'] });
      await c.emulator.workloads.idle();
      c.emulator.workloads.setFailurePredicate((w) => w.metadata?.name === 'web' && c.data('shop', 'db')?.password !== DB.password);
      let patches = 0;
      const marker = () => {
        const m = is('patch', 'rollouts', 'web');
        return (e: Parameters<typeof m>[0]) => m(e) && ++patches === 2;
      };

      const crash = await runAndCrash(c, marker(), 'SIGKILL', 'crashing-pod');
      assert.ok(crash.hit, `the rollback's patch was never made: ${crash.stderr.slice(-2000)}`);
      const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

      assert.ok(rerun.code === 0 || rerun.code === 1, `rerun exit ${rerun.code}: ${rerun.stderr}`);
      assert.equal(JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']).result, 'rolled-back', rerun.stdout);
      assert.deepEqual(c.data('shop', 'db'), DB);
      const w = c.workload('Rollout', 'shop', 'web');
      assert.equal(w.status.phase, 'Healthy');
      assert.equal(w.status.restartedAt, w.spec.restartAt);
      assert.equal(w.metadata!.annotations?.['secret-steward.io/restart-previous'], undefined);
    });
  });
});
