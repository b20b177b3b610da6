import assert from 'node:assert/strict';
import { restartAtValue } from '../../../shared/rotate/rollout.js';
import { RotateCluster } from './support/cluster.js';

/**
 * Regressions found by the fault matrix (test/faults): one transient API failure while the
 * rollout patches a consumer must not roll the rotation back (a rolled-back Secret is held
 * until its next slot, so one 503 postponed a rotation by a whole maxAge).
 */
describe('shared/rotate/rollout (transient failures patching consumers)', function () {
  this.timeout(60_000);
  let c: RotateCluster;
  beforeEach(async () => {
    c = await RotateCluster.start();
  });
  afterEach(async () => c?.stop());

  const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };

  for (const [what, fault] of [
    ['a 503', { status: 503 }],
    ['a lost answer (the patch was applied)', { loseResponse: true }],
    ['a dropped connection', { drop: true }],
  ] as const) {
    it(`in-place: ${what} on a consumer's restart patch is retried; the rotation succeeds and the consumer restarts once`, async () => {
      await c.secret(
        'shop',
        'db',
        { password: 'original-password-1' },
        'maxAge: 30d\nkeys: { password: password }\nrollout: { waitReady: 20s }',
        { annotations: LONG_AGO },
      );
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      await c.emulator.workloads.idle();
      const fired = c.emulator.faults.inject({ method: 'PATCH', path: '/apis/apps/v1/namespaces/shop/deployments/api', ...fault });

      const r = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms']);

      assert.equal(fired.hits, 1);
      assert.equal(r.code, 0, r.stdout);
      assert.equal(JSON.parse(c.annotations('shop', 'db')['secret-steward.io/last-outcome']).result, 'succeeded');
      assert.notEqual(c.data('shop', 'db')!.password, 'original-password-1');
      const restarts = c
        .rollouts('Deployment', 'shop', 'api')
        .filter((x) => x.templateAnnotations['secret-steward.io/restartedAt'] !== undefined);
      assert.equal(restarts.length, 1);
    });
  }

  it("versioned: a 503 on a CronJob's repoint patch is retried; the consumers end on the new version", async () => {
    const policy = 'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: token }\nrollout: { waitReady: 20s }';
    await c.secret('shop', 'keys-v1', { API_KEY: 'first-key-value' }, policy, { immutable: true, annotations: LONG_AGO });
    await c.deployment('shop', 'web', { envFrom: ['keys-v1'] });
    await c.cronJob('shop', 'report', { env: [['keys-v1', 'API_KEY']] });
    await c.emulator.workloads.idle();
    c.emulator.faults.inject({ method: 'PATCH', path: '/apis/batch/v1/namespaces/shop/cronjobs/report', status: 503 });

    const r = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms']);

    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(c.referencedSecrets('Deployment', 'shop', 'web'), ['keys-v2']);
    assert.deepEqual(c.referencedSecrets('CronJob', 'shop', 'report'), ['keys-v2']);
  });
});

describe('shared/rotate/versioned (a retry after a failed attempt)', function () {
  this.timeout(60_000);
  let c: RotateCluster;
  beforeEach(async () => {
    c = await RotateCluster.start();
  });
  afterEach(async () => c?.stop());

  it('the superseded version does not keep the failed outcome of the attempt before: it ends as after a clean rotation', async () => {
    const policy = 'maxAge: 30d\nstrategy: versioned\nkeepVersions: 2\nkeys: { API_KEY: token }\nrollout: { waitReady: 20s }';
    await c.secret('shop', 'keys-v1', { API_KEY: 'first-key-value' }, policy, {
      immutable: true,
      annotations: { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' },
    });
    await c.deployment('shop', 'web', { envFrom: ['keys-v1'] });
    await c.emulator.workloads.idle();
    // The new version's create fails (a 500 on a create is not retried: it may have happened).
    c.emulator.faults.inject({ method: 'POST', path: '/api/v1/namespaces/shop/secrets', status: 500 });
    const failed = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms']);
    const outcomeAfterFailure = JSON.parse(c.annotations('shop', 'keys-v1')['secret-steward.io/last-outcome']).result;

    const retried = await c.run(['--output', 'json', '--rollout-poll-interval', '100ms']);

    assert.equal(failed.code, 4, 'the API server failed (exit 4)');
    assert.equal(outcomeAfterFailure, 'failed');
    assert.equal(retried.code, 0, retried.stdout);
    assert.equal(c.annotations('shop', 'keys-v1')['secret-steward.io/last-outcome'], undefined);
    assert.equal(c.annotations('shop', 'keys-v1')['secret-steward.io/superseded-by'], 'keys-v2');
    assert.equal(JSON.parse(c.annotations('shop', 'keys-v2')['secret-steward.io/last-outcome']).result, 'succeeded');
  });
});

describe('shared/rotate/rollout restartAtValue (the next spec.restartAt of an Argo Rollout)', () => {
  const now = new Date('2026-06-01T03:00:12.345Z');
  const rows: Array<[string, string | undefined, string]> = [
    ['never restarted: now, in whole seconds', undefined, '2026-06-01T03:00:12Z'],
    ['restarted earlier: now', '2026-05-01T00:00:00Z', '2026-06-01T03:00:12Z'],
    [
      'restarted in this very second: one second later (the same value would restart nothing)',
      '2026-06-01T03:00:12Z',
      '2026-06-01T03:00:13Z',
    ],
    ['a restart asked for the future: one second after it', '2026-06-01T03:05:00Z', '2026-06-01T03:05:01Z'],
    ['an unreadable value: now', 'soon', '2026-06-01T03:00:12Z'],
  ];
  for (const [what, previous, expected] of rows)
    it(what, () => {
      assert.equal(restartAtValue({ restartAt: previous }, now), expected);
    });
});
