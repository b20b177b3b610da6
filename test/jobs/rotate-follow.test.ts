import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statusCommand } from '../../jobs/status.js';
import { ExitCode } from '../../shared/errors/exit-codes.js';
import { rolloutState, toWorkload } from '../../shared/kube/workloads.js';
import { MemorySink } from '../../shared/log/index.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { rotationMetrics } from '../../shared/rotate/rotate-job.js';
import { runCommand } from '../../shared/runtime/command.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { LOCK_NAMESPACE, RotateCluster, type RunResult } from '../shared/rotate/support/cluster.js';
import { is, nth, runAndCrash } from '../shared/rotate/support/crash.js';

/**
 * Follow mode end to end (shared/rotate/follow.ts, docs/follow.md): the rotate job against the
 * emulator, whose workload controller rolls out a changed pod template (or fails to, when told).
 */

/** What External Secrets puts on the Secrets it writes, plus the opt-in through its template. */
const ESO = { labels: { 'reconcile.external-secrets.io/managed': 'true' } };
const FOLLOW = (value = 'auto') => ({ ...ESO, annotations: { 'secret-steward.io/follow': value } });

function report(r: RunResult): RotationReport {
  return JSON.parse(r.stdout) as RotationReport;
}

/** State of each consumer of one followed Secret, as `deployment/api=restarted`. */
function states(r: RunResult, ns: string, name: string): string[] {
  const f = report(r).followed?.find((x) => x.namespace === ns && x.name === name);
  assert.ok(f, `no follow entry for ${ns}/${name}:\n${r.stdout}`);
  return f.consumers.map((c) => `${c.workload}=${c.state}`).sort();
}

/** Rollouts of a Deployment that carried a followed digest. */
function followRollouts(c: RotateCluster, ns: string, name: string) {
  return c.rollouts('Deployment', ns, name).filter((x) => x.templateAnnotations['secret-steward.io/followed'] !== undefined);
}

/** Every write (not read) to one Secret. */
function writesTo(c: RotateCluster, ns: string, name: string): string[] {
  return c
    .requests()
    .filter((e) => e.resource === 'secrets' && e.namespace === ns && e.name === name && !['get', 'list', 'watch'].includes(e.verb))
    .map((e) => `${e.verb} ${e.namespace}/${e.name}`);
}

/** Where a Deployment's rollout stands, judged by rotation's own `rolloutState`. */
function rolloutStateOf(obj: object): string {
  const w = toWorkload('Deployment', obj as never);
  return rolloutState(w, w.generation).state;
}

function events(c: RotateCluster, ns: string, kind: string, name: string) {
  return (
    c.emulator.list('v1', 'Event', ns) as unknown as Array<{
      involvedObject: { kind: string; name: string };
      reason: string;
      message: string;
    }>
  ).filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name);
}

/** The data change the owning controller makes (External Secrets syncing a new value). */
function ownerRewrites(c: RotateCluster, ns: string, name: string, password: string): void {
  c.editSecret(ns, name, (s) => {
    s.data = { ...s.data, password: Buffer.from(password).toString('base64') };
  });
}

/** `secret-steward status -o json` against the cluster: the followed Secrets, as `secret consumer=state`. */
async function followStatus(c: RotateCluster): Promise<{ rows: string[]; report: StatusReport; code: number; text: string }> {
  const text = await runStatus(c, []);
  const json = await runStatus(c, ['--output', 'json']);
  const report = JSON.parse(json.out) as StatusReport;
  const rows = (report.rotation.followed ?? []).flatMap((f) => f.consumers.map((x) => `${f.name} ${x.workload}=${x.state}`)).sort();
  return { rows, report, code: json.code, text: text.out };
}

async function runStatus(c: RotateCluster, args: string[]): Promise<{ out: string; code: number }> {
  const out: string[] = [];
  const code = await runCommand(statusCommand, ['--kubeconfig', c.kubeconfig, ...args], {
    env: { PATH: process.env.PATH, HOME: c.dir },
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: () => {} },
    logSink: new MemorySink(),
    handleSignals: false,
  });
  return { out: out.join(''), code };
}

describe('jobs/rotate follow mode', function () {
  this.timeout(60_000);
  let c: RotateCluster;
  beforeEach(async () => {
    c = await RotateCluster.start();
    c.emulator.workloads.progressDeadlineMs = 300;
  });
  afterEach(async () => {
    await c.stop();
  });

  it('restarts each consumer once when the data changes, verifies it, and never writes the followed Secret', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    await c.deployment('shop', 'web', { env: [['db', 'password']] });
    await c.deployment('shop', 'unrelated', { envFrom: ['other'] });
    await c.cronJob('shop', 'nightly', { envFrom: ['db'] });

    const first = await c.run(['--output', 'json']);
    const steady = await c.run(['--output', 'json']);
    ownerRewrites(c, 'shop', 'db', 'synced-2');
    const changed = await c.run(['--output', 'json']);

    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.deepEqual(states(first, 'shop', 'db'), ['deployment/api=restarted', 'deployment/web=restarted'], 'first sight: no record yet');
    assert.equal(steady.code, 0, steady.stdout + steady.stderr);
    assert.deepEqual(states(steady, 'shop', 'db'), ['deployment/api=current', 'deployment/web=current']);
    assert.equal(changed.code, 0, changed.stdout + changed.stderr);
    assert.deepEqual(states(changed, 'shop', 'db'), ['deployment/api=restarted', 'deployment/web=restarted']);
    assert.equal(followRollouts(c, 'shop', 'api').length, 2, 'one restart per data version');
    assert.equal(followRollouts(c, 'shop', 'web').length, 2);
    assert.equal(c.rollouts('Deployment', 'shop', 'unrelated').length, 1, 'only its creation');
    assert.equal(c.workload('CronJob', 'shop', 'nightly').metadata?.generation, 1, 'CronJobs read the Secret per Job');
    assert.deepEqual(writesTo(c, 'shop', 'db'), [], 'the followed Secret is never written');
    assert.deepEqual(Object.keys(c.annotations('shop', 'db')), ['secret-steward.io/follow']);
    const recorded = JSON.parse(c.workload('Deployment', 'shop', 'api').spec.template.metadata.annotations['secret-steward.io/followed']);
    assert.deepEqual(Object.keys(recorded), ['db']);
    assert.doesNotMatch(JSON.stringify(recorded), /synced/);
    assert.equal(events(c, 'shop', 'Deployment', 'api').filter((e) => e.reason === 'Restarted').length, 2);
    assert.ok(c.getSecret(LOCK_NAMESPACE, 'secret-steward-follow-key'), 'the digest key was made on first use');
  });

  it('restarts a workload that uses two changed followed Secrets once, and follows only the listed consumers', async () => {
    await c.secret('shop', 'db', { password: 'a' }, undefined, FOLLOW());
    await c.secret('shop', 'tls', { 'tls.crt': 'c1' }, undefined, FOLLOW('deployment/api'));
    await c.deployment('shop', 'api', { envFrom: ['db'], volumes: ['tls'] });
    await c.deployment('shop', 'web', { volumes: ['tls'] });
    await c.run(['--output', 'json']);
    ownerRewrites(c, 'shop', 'db', 'b');
    c.editSecret('shop', 'tls', (s) => {
      s.data = { 'tls.crt': Buffer.from('c2').toString('base64') };
    });

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(states(r, 'shop', 'tls'), ['deployment/api=restarted']);
    assert.equal(followRollouts(c, 'shop', 'api').length, 2, 'first sight, then one restart for both changes');
    assert.equal(followRollouts(c, 'shop', 'web').length, 0, 'not listed');
  });

  it('reports a failed rollout (exit 1, Event, report), does not restart it again for the same data, and does once the data changes', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    await c.run(['--output', 'json']);
    c.emulator.workloads.setFailing('Deployment', 'shop', 'api', true);
    ownerRewrites(c, 'shop', 'db', 'synced-2');

    const failed = await c.run(['--output', 'json']);
    const again = await c.run(['--output', 'json']);
    ownerRewrites(c, 'shop', 'db', 'synced-3');
    c.emulator.workloads.setFailing('Deployment', 'shop', 'api', false);
    const fixed = await c.run(['--output', 'json']);

    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.deepEqual(states(failed, 'shop', 'db'), ['deployment/api=failed']);
    assert.match(report(failed).followed![0].consumers[0].message, /progress deadline exceeded/);
    const warnings = events(c, 'shop', 'Deployment', 'api').filter((e) => e.reason === 'RolloutFailed');
    assert.equal(warnings.length, 1, 'one Event: the run that saw it fail');
    assert.match(warnings[0].message, /followed Secret db changed did not complete \(not undone\)/);
    assert.equal(again.code, 1, 'still not running the current data');
    assert.match(report(again).followed![0].consumers[0].message, /not restarted again until it changes/);
    assert.equal(report(again).followed![0].consumers[0].restarted, false);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.deepEqual(states(fixed, 'shop', 'db'), ['deployment/api=restarted']);
    assert.equal(followRollouts(c, 'shop', 'api').length, 3, 'first sight, synced-2 (failed), synced-3: never twice for one data');
    assert.deepEqual(writesTo(c, 'shop', 'db'), []);
  });

  it('status lists followed Secrets, their consumers and whether each runs the current data', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    await c.deployment('shop', 'web', { envFrom: ['db'] });

    const beforeAnyRun = await followStatus(c);
    await c.run(['--output', 'json']);
    const afterRun = await followStatus(c);
    ownerRewrites(c, 'shop', 'db', 'synced-2');
    const afterChange = await followStatus(c);
    c.emulator.workloads.setFailing('Deployment', 'shop', 'web', true);
    await c.run(['--output', 'json']);
    const afterFailure = await followStatus(c);

    assert.deepEqual(beforeAnyRun.rows, ['db deployment/api=unknown', 'db deployment/web=unknown'], 'no key yet: status never makes one');
    assert.equal(c.getSecret(LOCK_NAMESPACE, 'secret-steward-follow-key') !== undefined, true);
    assert.deepEqual(afterRun.rows, ['db deployment/api=current', 'db deployment/web=current']);
    assert.deepEqual(afterChange.rows, ['db deployment/api=stale', 'db deployment/web=stale']);
    assert.deepEqual(afterFailure.rows, ['db deployment/api=current', 'db deployment/web=failed']);
    assert.deepEqual(
      afterFailure.report.warnings.map((w) => `${w.kind} ${w.subject}`),
      ['follow-failed shop/db'],
    );
    assert.equal(afterFailure.code, 0, 'a warning, like a failed rotation: the rotate run itself exited 1');
    assert.match(
      afterFailure.text,
      /FOLLOWED: 1 Secret .*\nSECRET +CONSUMER +DATA +DETAIL\nshop\/db +deployment\/api +current .*\nshop\/db +deployment\/web +FAILED +progress deadline exceeded/,
    );
    assert.match(afterFailure.text, /follow-failed shop\/db: deployment\/web was restarted for the current data and its rollout failed/);
  });

  it('restarts a workload once per run: one a rotation restarted waits for the next run', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.secret('shop', 'token', { token: 'old-token-0001' }, 'maxAge: 7d\nkeys: { token: token }\nrollout: { waitReady: 20s }', {
      annotations: { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' },
    });
    await c.deployment('shop', 'api', { envFrom: ['db', 'token'] });

    const first = await c.run(['--output', 'json']);
    const afterFirst = c.rollouts('Deployment', 'shop', 'api').map((x) => Object.keys(x.templateAnnotations).sort().join(','));
    const second = await c.run(['--output', 'json']);

    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(report(first).secrets.find((x) => x.name === 'token')?.action, 'rotated');
    assert.deepEqual(states(first, 'shop', 'db'), ['deployment/api=deferred']);
    assert.deepEqual(afterFirst, ['', 'secret-steward.io/restartedAt'], 'its creation, then one restart in the run: the rotation');
    assert.deepEqual(states(second, 'shop', 'db'), ['deployment/api=restarted']);
    assert.equal(c.rollouts('Deployment', 'shop', 'api').length, 3);
  });

  it('restarts at most --max-concurrent-rollouts workloads at a time', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    for (const n of ['a', 'b', 'c', 'd']) await c.deployment('shop', n, { envFrom: ['db'] });
    await c.run(['--output', 'json']);
    ownerRewrites(c, 'shop', 'db', 'synced-2');
    const unsettledAtPatch: string[][] = [];
    const log = c.emulator.requests;
    const add = log.add.bind(log);
    log.add = (e) => {
      add(e);
      // When a consumer's restart arrives, no other may still be rolling out.
      if (e.verb === 'patch' && e.resource === 'deployments')
        unsettledAtPatch.push(
          ['a', 'b', 'c', 'd'].filter((n) => n !== e.name && rolloutStateOf(c.workload('Deployment', 'shop', n)) !== 'done'),
        );
    };

    const r = await c.run(['--output', 'json', '--max-concurrent-rollouts', '1']);

    log.add = add;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(states(r, 'shop', 'db'), [
      'deployment/a=restarted',
      'deployment/b=restarted',
      'deployment/c=restarted',
      'deployment/d=restarted',
    ]);
    assert.equal(unsettledAtPatch.length, 4);
    assert.deepEqual(unsettledAtPatch.flat(), [], 'a restart began while another consumer was still rolling out');
  });

  it('does not restart twice when two runs act at once (the patch is guarded by the value it replaces)', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    // Two lock namespaces, so both runs act (as after a lost Lease), sharing one digest key.
    const key = { key: randomBytes(32).toString('base64') };
    await c.namespace('other-lock');
    for (const ns of [LOCK_NAMESPACE, 'other-lock'])
      c.emulator.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'secret-steward-follow-key', namespace: ns }, data: key });

    const [a, b] = await Promise.all([
      c.run(['--output', 'json'], { env: { POD_NAME: 'run-a' } }),
      c.run(['--output', 'json'], { env: { POD_NAME: 'run-b' }, lockNamespace: 'other-lock' }),
    ]);

    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.equal(followRollouts(c, 'shop', 'api').length, 1);
    assert.deepEqual([...states(a, 'shop', 'db'), ...states(b, 'shop', 'db')].sort(), [
      'deployment/api=current',
      'deployment/api=restarted',
    ]);
  });

  it('converges after a SIGKILL right after the restart: verified, not restarted again', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    await c.deployment('shop', 'web', { envFrom: ['db'] });
    await c.emulator.workloads.idle();

    const crash = await runAndCrash(c, nth(1, is('patch', 'deployments')), 'SIGKILL', 'crashing-pod');
    const rerun = await c.run(['--output', 'json'], { env: { POD_NAME: 'crashing-pod' } });

    assert.ok(crash.hit, crash.stderr.slice(-2000));
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.equal(followRollouts(c, 'shop', 'api').length + followRollouts(c, 'shop', 'web').length, 2, 'each restarted exactly once');
    assert.deepEqual(
      states(rerun, 'shop', 'db').map((s) => s.replace(/=.*/, '')),
      ['deployment/api', 'deployment/web'],
    );
    assert.ok(
      states(rerun, 'shop', 'db').some((s) => s.endsWith('=current')),
      'the one restarted before the kill is only verified',
    );
  });

  it('ignores a Secret that rotation owns and reports an invalid opt-in (exit 1)', async () => {
    await c.secret('shop', 'mine', { t: 'x' }, 'maxAge: 30d\nkeys: { t: token }', {
      annotations: { 'secret-steward.io/follow': 'auto', 'secret-steward.io/last-rotated': new Date().toISOString() },
    });
    await c.secret('shop', 'typo', { t: 'x' }, undefined, FOLLOW('deployment/api, cronjob/nightly'));

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 1);
    const byName = Object.fromEntries(report(r).followed!.map((f) => [f.name, f]));
    assert.equal(byName.mine.state, 'ignored');
    assert.equal(byName.typo.state, 'invalid');
    assert.match(byName.typo.detail, /"cronjob\/nightly" is not a consumer/);
    assert.ok(events(c, 'shop', 'Secret', 'typo').some((e) => e.reason === 'FollowInvalid'));
  });

  it('plans in a dry run without writing anything', async () => {
    await c.secret('shop', 'db', { password: 'synced-1' }, undefined, FOLLOW());
    await c.deployment('shop', 'api', { envFrom: ['db'] });
    const from = c.requests().length;

    const r = await c.run(['--output', 'json', '--dry-run']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(states(r, 'shop', 'db'), ['deployment/api=would-restart']);
    const text = await c.run(['--dry-run']);
    assert.match(
      text.stdout,
      /Followed Secrets \(follow mode\):\nSECRET +CONSUMER +STATE +DETAIL\nshop\/db +deployment\/api +would-restart/,
    );
    assert.deepEqual(
      c.requests(from).filter((e) => !['get', 'list', 'watch'].includes(e.verb)),
      [],
    );
  });
});

describe('rotate follow mode: metrics', () => {
  it('counts each consumer once, by result, in secret_steward_rotate_followed_consumers', () => {
    const consumer = (workload: string, state: 'restarted' | 'current' | 'failed' | 'timeout' | 'deferred') => ({
      workload,
      state,
      message: '',
      restarted: state === 'restarted',
    });
    const r: RotationReport = {
      dryRun: false,
      now: new Date(0).toISOString(),
      durationMs: 0,
      secrets: [],
      workloads: [],
      cleanups: [],
      followed: [
        {
          namespace: 'shop',
          name: 'db',
          state: 'ok',
          detail: '',
          consumers: [consumer('deployment/api', 'restarted'), consumer('deployment/web', 'timeout')],
        },
        {
          namespace: 'shop',
          name: 'tls',
          state: 'ok',
          detail: '',
          consumers: [consumer('deployment/api', 'restarted'), consumer('statefulset/db', 'current')],
        },
      ],
    };

    const samples = rotationMetrics(r, ExitCode.Failed, new Date());

    const followed = Object.fromEntries(
      samples.filter((s) => s.metric.name === 'secret_steward_rotate_followed_consumers').map((s) => [s.labels!.result, s.value]),
    );
    assert.deepEqual(followed, { restarted: 1, current: 1, failed: 1, deferred: 0 });
  });
});
