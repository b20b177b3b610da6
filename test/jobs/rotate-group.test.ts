import assert from 'node:assert/strict';
import type { RotationReport } from '../../shared/rotate/report.js';
import { RotateCluster, type RunResult } from '../shared/rotate/support/cluster.js';
import { forEachStep, is, nth, runAndCrash, type Step } from '../shared/rotate/support/crash.js';

/**
 * Rotation groups (docs/rotation-groups.md): Secrets rotated together, all or nothing, with one
 * restart per consumer, against the emulator; crash injection reuses the helpers of
 * rotate-crash.test.ts (the real job as a child process, SIGKILL right after a step's request).
 */

const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const RECENT = (now = new Date()) => ({ 'secret-steward.io/last-rotated': now.toISOString() });
const USER = { username: 'app-user-0001' };
const PASSWORD = { password: 'original-password-0001' };

const inPlacePolicy = (key: string, generator: string, extra = '') =>
  `maxAge: 30d\nkeys: { ${key}: ${generator} }\nrollout: { waitReady: 20s }\ngroup: { name: db-creds, members: [db-user, db-password] }${extra}`;

/** Two in-place members (`db-user` due, `db-password` not due on its own), `api` consuming both, `web` one. */
async function inPlaceGroup(c: RotateCluster, userPolicy = inPlacePolicy('username', 'token')): Promise<void> {
  await c.secret('shop', 'db-user', USER, userPolicy, { annotations: LONG_AGO });
  await c.secret('shop', 'db-password', PASSWORD, inPlacePolicy('password', 'password'), { annotations: RECENT() });
  await c.deployment('shop', 'api', { envFrom: ['db-user', 'db-password'] });
  await c.deployment('shop', 'web', { env: [['db-password', 'password']] });
  await c.emulator.workloads.idle();
}

/** Two versioned members, lineages `client` (due) and `ca` (not due on its own), both read by `api`. */
async function versionedGroup(c: RotateCluster): Promise<void> {
  const policy = (key: string) =>
    `maxAge: 30d\nstrategy: versioned\nkeys: { ${key}: token }\nrollout: { waitReady: 20s }\ngroup: { name: pair, members: [client, ca] }`;
  await c.secret('shop', 'client-v1', { CLIENT: 'client-1' }, policy('CLIENT'), {
    immutable: true,
    annotations: { ...LONG_AGO, 'secret-steward.io/lineage': 'client', 'secret-steward.io/version': '1' },
  });
  await c.secret('shop', 'ca-v1', { CA: 'ca-1' }, policy('CA'), {
    immutable: true,
    annotations: { ...RECENT(), 'secret-steward.io/lineage': 'ca', 'secret-steward.io/version': '1' },
  });
  await c.deployment('shop', 'api', { envFrom: ['client-v1', 'ca-v1'] });
  await c.emulator.workloads.idle();
}

/** Both lineages promoted a new version by one rotation, `api` repointed to both with one restart. */
function assertVersionedTogether(c: RotateCluster): void {
  assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'api'), ['ca-v2', 'client-v2']);
  const rotation = JSON.parse(c.annotations('shop', 'client-v2')['secret-steward.io/last-outcome']).rotation;
  assert.equal(JSON.parse(c.annotations('shop', 'ca-v2')['secret-steward.io/last-outcome']).rotation, rotation);
  for (const n of ['client-v2', 'ca-v2']) assert.equal(c.getSecret('shop', n)!.metadata!.labels?.['secret-steward.io/role'], undefined);
  assert.equal(c.annotations('shop', 'client-v1')['secret-steward.io/superseded-by'], 'client-v2');
  assert.equal(c.annotations('shop', 'ca-v1')['secret-steward.io/superseded-by'], 'ca-v2');
  assert.equal(restartsFor(c, 'api', rotation).length, 1, 'restarted once for both repoints');
  assert.notEqual(c.data('shop', 'client-v2')!.CLIENT, 'client-1');
  assert.notEqual(c.data('shop', 'ca-v2')!.CA, 'ca-1');
}

const report = (r: RunResult) => JSON.parse(r.stdout) as RotationReport;
const entry = (r: RunResult, name: string) => {
  const e = report(r).secrets.find((s) => s.name === name);
  assert.ok(e, `no report entry for ${name}:\n${r.stdout}`);
  return e;
};
const outcomeOf = (c: RotateCluster, name: string) => JSON.parse(c.annotations('shop', name)['secret-steward.io/last-outcome'] ?? '{}');
const restartsFor = (c: RotateCluster, name: string, rotation: string) =>
  c.rollouts('Deployment', 'shop', name).filter((r) => r.templateAnnotations['secret-steward.io/restartedAt']?.includes(rotation));

/** The group ended as one: both members rotated with one rotation id, each consumer restarted once for it. */
function assertRotatedTogether(c: RotateCluster): string {
  const user = outcomeOf(c, 'db-user');
  const password = outcomeOf(c, 'db-password');
  assert.equal(user.result, 'succeeded');
  assert.equal(password.result, 'succeeded');
  assert.equal(user.rotation, password.rotation, 'one rotation for the group');
  assert.notDeepEqual(c.data('shop', 'db-user'), USER);
  assert.notDeepEqual(c.data('shop', 'db-password'), PASSWORD);
  assert.deepEqual(c.data('shop', 'db-user-previous'), USER);
  assert.deepEqual(c.data('shop', 'db-password-previous'), PASSWORD);
  for (const n of ['db-user-pending', 'db-password-pending']) assert.equal(c.getSecret('shop', n), undefined, `${n} deleted`);
  for (const n of ['db-user', 'db-password']) assert.equal(c.annotations('shop', n)['secret-steward.io/rotation-step'], undefined);
  assert.equal(restartsFor(c, 'api', user.rotation).length, 1, 'api (consuming both members) restarted once');
  assert.equal(restartsFor(c, 'web', user.rotation).length, 1, 'web restarted once');
  return user.rotation;
}

/** Nothing of the group's rotation is left: both members hold their original values, and no consumer runs a restart for it. */
function assertRolledBackTogether(c: RotateCluster, results: { user: string; password: string }): void {
  assert.deepEqual(c.data('shop', 'db-user'), USER);
  assert.deepEqual(c.data('shop', 'db-password'), PASSWORD);
  assert.equal(outcomeOf(c, 'db-user').result, results.user);
  assert.equal(outcomeOf(c, 'db-password').result, results.password);
  assert.equal(outcomeOf(c, 'db-user').rotation, outcomeOf(c, 'db-password').rotation);
  for (const n of ['db-user-pending', 'db-password-pending']) assert.equal(c.getSecret('shop', n), undefined, `${n} deleted`);
  for (const n of ['db-user', 'db-password']) assert.equal(c.annotations('shop', n)['secret-steward.io/rotation-step'], undefined);
  for (const w of ['api', 'web'])
    assert.equal(
      c.workload('Deployment', 'shop', w).spec.template.metadata?.annotations?.['secret-steward.io/restartedAt'],
      undefined,
      `${w}'s template as before`,
    );
}

describe('jobs/rotate rotation groups', function () {
  this.timeout(120_000);
  let c: RotateCluster;
  beforeEach(async () => {
    c = await RotateCluster.start();
  });
  afterEach(async () => {
    await c.stop();
  });

  it('in place: a member due rotates the whole group in one run, one restart per consumer', async () => {
    await inPlaceGroup(c);

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '50ms']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(entry(r, 'db-user').action, 'rotated');
    assert.equal(entry(r, 'db-password').action, 'rotated');
    assertRotatedTogether(c);
    const again = await c.run(['--output', 'json']);
    assert.equal(again.code, 0);
    assert.deepEqual(
      report(again).secrets.map((s) => s.action),
      ['not-due', 'not-due'],
    );
  });

  it('versioned: both lineages get a new version, consumers are repointed to both in one restart', async () => {
    await versionedGroup(c);

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '50ms']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertVersionedTogether(c);
  });

  it('mixed strategies: an in-place member and a versioned one rotate by one rotation, api restarted once', async () => {
    await c.secret('shop', 'db-user', USER, 'maxAge: 30d\nkeys: { username: token }\ngroup: { name: mixed, members: [db-user, ca] }', {
      annotations: LONG_AGO,
    });
    await c.secret(
      'shop',
      'ca-v1',
      { CA: 'ca-1' },
      'maxAge: 30d\nstrategy: versioned\nkeys: { CA: token }\ngroup: { name: mixed, members: [db-user, ca] }',
      { immutable: true, annotations: { ...RECENT(), 'secret-steward.io/lineage': 'ca', 'secret-steward.io/version': '1' } },
    );
    await c.deployment('shop', 'api', { envFrom: ['db-user', 'ca-v1'] });
    await c.emulator.workloads.idle();

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '50ms']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rotation = outcomeOf(c, 'db-user').rotation;
    assert.equal(JSON.parse(c.annotations('shop', 'ca-v2')['secret-steward.io/last-outcome']).rotation, rotation);
    assert.notDeepEqual(c.data('shop', 'db-user'), USER);
    assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'api'), ['ca-v2', 'db-user']);
    assert.equal(restartsFor(c, 'api', rotation).length, 1);
  });

  it('a member that cannot store its new values fails the whole group: nothing changes', async () => {
    await inPlaceGroup(c);
    await c.secret('shop', 'db-user-pending', { other: 'not ours' });

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '50ms']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(entry(r, 'db-user').detail, /db-user-pending: a Secret of that name exists and is not ours/);
    assert.match(entry(r, 'db-password').detail, /rotation group db-creds: member shop\/db-user failed/);
    assert.deepEqual(c.data('shop', 'db-user'), USER);
    assert.deepEqual(c.data('shop', 'db-password'), PASSWORD);
    assert.equal(c.getSecret('shop', 'db-password-pending'), undefined);
    assert.equal(outcomeOf(c, 'db-user').rotation, outcomeOf(c, 'db-password').rotation);
    assert.equal(c.rollouts('Deployment', 'shop', 'api').length, 1, 'no restart (only the initial rollout)');
  });

  it('a member whose Secret cannot be written rolls back the member already written', async () => {
    await inPlaceGroup(c);
    // db-password is finished first (member order); the write of db-user's new values is refused.
    c.emulator.faults.inject({ method: 'PUT', path: '/api/v1/namespaces/shop/secrets/db-user', status: 403, times: Infinity });

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '50ms']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(entry(r, 'db-password').detail, /rotation group db-creds: member shop\/db-user failed/);
    assertRolledBackTogether(c, { user: 'failed', password: 'rolled-back' });
  });

  it('a consumer of one member not ready rolls back both members and restores each consumer once', async () => {
    await inPlaceGroup(c);
    c.emulator.workloads.progressDeadlineMs = 200;
    c.emulator.workloads.setFailing('Deployment', 'shop', 'web', true);
    await c.emulator.workloads.idle();

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '50ms']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(entry(r, 'db-user').detail, /rotation group db-creds: consumers of member db-password not ready/);
    assertRolledBackTogether(c, { user: 'rolled-back', password: 'rolled-back' });
    const rotation = outcomeOf(c, 'db-user').rotation;
    assert.equal(restartsFor(c, 'api', rotation).length, 1, 'api (both members) restarted once forward');
  });

  it('refuses a group whose members disagree or is missing a member, naming each member and the setting', async () => {
    await c.secret('shop', 'db-user', USER, inPlacePolicy('username', 'token'), { annotations: LONG_AGO });
    await c.secret(
      'shop',
      'db-password',
      PASSWORD,
      'maxAge: 30d\nkeys: { password: password }\ngroup: { name: db-creds, members: [db-user, db-password, db-host] }',
      { annotations: LONG_AGO },
    );

    const r = await c.run(['--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    for (const name of ['db-user', 'db-password']) {
      const e = entry(r, name);
      assert.equal(e.action, 'invalid');
      assert.match(
        e.detail,
        /group: rotation group shop\/db-creds refused: the members disagree on group.members: shop\/db-password: \[db-host, db-password, db-user\]; shop\/db-user: \[db-password, db-user\]; member db-host is not found in namespace shop/,
      );
    }
    assert.deepEqual(c.data('shop', 'db-user'), USER);
    assert.deepEqual(c.data('shop', 'db-password'), PASSWORD);
  });

  it('refuses, in the policy itself, a member in another namespace and rollbackOnFailure false', async () => {
    await c.secret(
      'shop',
      'db-user',
      USER,
      'maxAge: 30d\nkeys: { username: token }\nrollout: { rollbackOnFailure: false }\ngroup: { name: db-creds, members: [db-user, other/db-password] }',
      { annotations: LONG_AGO },
    );

    const r = await c.run(['--output', 'json']);

    assert.equal(entry(r, 'db-user').action, 'invalid');
    assert.match(entry(r, 'db-user').detail, /group.members\[1\]: "other\/db-password": members live in the group's namespace/);
    assert.match(entry(r, 'db-user').detail, /rollout.rollbackOnFailure: a rotation group is all or nothing/);
  });
});

describe('jobs/rotate rotation groups: crash injection', function () {
  this.timeout(600_000);

  // Members in order: db-password, then db-user. Secret creates: both pending companions, then each -previous.
  const FORWARD_STEPS: Step[] = [
    { name: 'create db-password-pending', marker: () => nth(1, is('create', 'secrets')) },
    { name: 'create db-user-pending', marker: () => nth(2, is('create', 'secrets')) },
    { name: 'db-password-previous kept', marker: () => nth(3, is('create', 'secrets')) },
    { name: 'finish db-password', marker: () => is('update', 'secrets', 'db-password') },
    { name: 'db-user-previous kept', marker: () => nth(4, is('create', 'secrets')) },
    { name: 'finish db-user', marker: () => is('update', 'secrets', 'db-user') },
    { name: 'rollout (first restart)', marker: () => nth(1, is('patch', 'deployments')) },
    { name: 'rollout (second restart)', marker: () => nth(2, is('patch', 'deployments')) },
    { name: 'verify (watching)', marker: () => nth(1, is('watch', 'deployments')) },
    { name: 'outcome db-password', marker: () => is('patch', 'secrets', 'db-password') },
    { name: 'db-password-pending deleted', marker: () => is('delete', 'secrets', 'db-password-pending') },
    { name: 'outcome db-user', marker: () => is('patch', 'secrets', 'db-user') },
    { name: 'db-user-pending deleted', marker: () => is('delete', 'secrets', 'db-user-pending') },
  ];

  it('SIGKILL after every step of every member, then a rerun rotates the whole group once', async () => {
    await forEachStep(FORWARD_STEPS, async (step) => {
      const c = await RotateCluster.start();
      try {
        await inPlaceGroup(c);
        const crash = await runAndCrash(c, step.marker(), 'SIGKILL', 'crashing-pod');
        assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
        const pending = { user: c.data('shop', 'db-user-pending'), password: c.data('shop', 'db-password-pending') };

        const rerun = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms'], { env: { POD_NAME: 'crashing-pod' } });

        assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
        assertRotatedTogether(c);
        if (pending.user) assert.equal(c.data('shop', 'db-user')!.username, pending.user.username, 'no second value set');
        if (pending.password) assert.equal(c.data('shop', 'db-password')!.password, pending.password.password, 'no second value set');
      } finally {
        await c.stop();
      }
    });
  });

  // Members in order: ca, then client (by Secret name).
  const VERSIONED_STEPS: Step[] = [
    { name: 'create ca-v2', marker: () => nth(1, is('create', 'secrets')) },
    { name: 'create client-v2', marker: () => nth(2, is('create', 'secrets')) },
    { name: 'repoint api (both)', marker: () => is('patch', 'deployments', 'api') },
    { name: 'verify (watching)', marker: () => nth(1, is('watch', 'deployments')) },
    { name: 'promote ca-v2', marker: () => is('patch', 'secrets', 'ca-v2') },
    { name: 'supersede ca-v1', marker: () => is('patch', 'secrets', 'ca-v1') },
    { name: 'promote client-v2', marker: () => is('patch', 'secrets', 'client-v2') },
    { name: 'supersede client-v1', marker: () => is('patch', 'secrets', 'client-v1') },
  ];

  it('versioned: SIGKILL after every step of every member, then a rerun promotes both versions once', async () => {
    await forEachStep(VERSIONED_STEPS, async (step) => {
      const c = await RotateCluster.start();
      try {
        await versionedGroup(c);
        const crash = await runAndCrash(c, step.marker(), 'SIGKILL', 'crashing-pod');
        assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);
        const made = { ca: c.data('shop', 'ca-v2'), client: c.data('shop', 'client-v2') };

        const rerun = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms'], { env: { POD_NAME: 'crashing-pod' } });

        assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
        assertVersionedTogether(c);
        if (made.ca) assert.deepEqual(c.data('shop', 'ca-v2'), made.ca, 'the version made before the crash was promoted');
        if (made.client) assert.deepEqual(c.data('shop', 'client-v2'), made.client, 'the version made before the crash was promoted');
      } finally {
        await c.stop();
      }
    });
  });

  const ROLLBACK_STEPS: Step[] = [
    { name: 'rollout (first restart)', marker: () => nth(1, is('patch', 'deployments')) },
    { name: 'rollout (second restart)', marker: () => nth(2, is('patch', 'deployments')) },
    { name: 'db-password values restored', marker: () => nth(2, is('update', 'secrets', 'db-password')) },
    { name: 'db-user values restored', marker: () => nth(2, is('update', 'secrets', 'db-user')) },
    { name: 'first template restored', marker: () => nth(3, is('patch', 'deployments')) },
    { name: 'outcome db-password', marker: () => is('patch', 'secrets', 'db-password') },
    { name: 'outcome db-user', marker: () => is('patch', 'secrets', 'db-user') },
  ];

  it('SIGKILL after every step of a group rollback, then a rerun rolls both members back', async () => {
    await forEachStep(ROLLBACK_STEPS, async (step) => {
      const c = await RotateCluster.start();
      try {
        await inPlaceGroup(c);
        c.emulator.workloads.progressDeadlineMs = 200;
        c.emulator.workloads.setFailing('Deployment', 'shop', 'web', true);
        await c.emulator.workloads.idle();
        const crash = await runAndCrash(c, step.marker(), 'SIGKILL', 'crashing-pod');
        assert.ok(crash.hit, `the step's request was never made: ${crash.stderr.slice(-2000)}`);

        const rerun = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms'], { env: { POD_NAME: 'crashing-pod' } });

        assert.ok(rerun.code === 1 || rerun.code === 0, `rerun exit ${rerun.code}: ${rerun.stdout}`);
        assertRolledBackTogether(c, { user: 'rolled-back', password: 'rolled-back' });
      } finally {
        await c.stop();
      }
    });
  });
});
