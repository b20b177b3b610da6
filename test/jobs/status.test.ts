import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { fixedClock } from '../../shared/runtime/clock.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { backupKeyArgs, createDrillNamespace, drillArgs, drillSigningArgs, seedMany } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness, writeTestKeyPair } from '../support/job-harness.js';

const DAY = 86_400_000;
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * `secret-steward status` against the emulator and s3rver: the all-good case, then one test per
 * overdue condition, each with everything else in order so that exactly that one is reported.
 */
describe('jobs/status', function () {
  this.timeout(120_000);
  let h: Harness;
  let backedUpAt: Date;

  /** A Secret with a policy (rotated `rotatedDaysAgo` ago) and a Deployment using it via envFrom. */
  function policySecret(ns: string, name: string, policy: string, rotatedDaysAgo: number): void {
    if (!h.emulator.get('v1', 'Namespace', undefined, ns))
      h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never);
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: ns,
        annotations: {
          'secret-steward.io/rotation': policy,
          'secret-steward.io/last-rotated': new Date(Date.now() - rotatedDaysAgo * DAY).toISOString(),
        },
      },
      data: { password: b64('initial-value') },
    } as never);
    h.emulator.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${name}-app`, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: 'app:1', envFrom: [{ secretRef: { name } }] }] },
        },
      },
    } as never);
  }

  /** Status args: cluster, store `prefix`, the harness keys, and rotation scope `ns`. */
  function statusArgs(prefix: string, ns: string, extra: string[] = []): string[] {
    return [
      '--kubeconfig',
      h.kubeconfig,
      ...h.s3.args(prefix),
      '--cluster-name',
      'test-cluster',
      '--namespace',
      ns,
      '--recipient-key',
      h.recipient.publicKey,
      '--trusted-signer-key',
      h.signer.publicKey,
      '--drill-signer-key',
      h.drillSigner.publicKey,
      '--output',
      'json',
      ...extra,
    ];
  }

  const report = (r: RunResult) => JSON.parse(r.stdout) as StatusReport;
  const problems = (r: RunResult) => report(r).problems.map((p) => p.kind);
  const at = (ms: number) => ({ clock: fixedClock(new Date(backedUpAt.getTime() + ms)) });

  before(async () => {
    h = await startHarness();
    createDrillNamespace(h);
    seedMany(h, 3, 'apps');
    policySecret('good', 'db', 'maxAge: 30d\nkeys:\n  password: { generator: password }', 1);
    backedUpAt = new Date();
    const backup = await h.run(backupCommand, [...h.baseArgs('good'), ...backupKeyArgs(h)]);
    assert.equal(backup.code, 0, backup.stderr);
    const drill = await h.run(verifyRestoreCommand, [...drillArgs(h, 'good'), ...drillSigningArgs(h)]);
    assert.equal(drill.code, 0, drill.stdout);
  });
  after(async () => h?.stop());

  it('all good: exit 0, every section filled, consumers resolved', async () => {
    const r = await h.run(statusCommand, statusArgs('good', 'good', ['--backup-schedule', '0 3 * * *']));

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = report(r);
    assert.deepEqual(s.problems, []);
    assert.deepEqual(
      s.rotation.secrets.map((x) => [`${x.namespace}/${x.name}`, x.state, x.schedule, x.strategy, x.consumers]),
      [['good/db', 'ok', 'maxAge 30d', 'in-place', ['deployment/db-app']]],
    );
    assert.equal(s.backups?.backups.length, 1);
    assert.equal(s.backups?.backups[0].secrets, 4);
    assert.equal(s.backups?.backups[0].lastDrill?.result, 'pass');
    assert.equal(s.backups?.freshness?.fresh, true);
    assert.equal(s.backups?.drills.ok, true);
    assert.deepEqual(
      s.keys.map((k) => [k.role, k.state]),
      [
        ['recipient', 'ok'],
        ['signer', 'ok'],
      ],
    );
  });

  it('all good as a table: nothing overdue', async () => {
    const r = await h.run(
      statusCommand,
      statusArgs('good', 'good').filter((a) => a !== '--output' && a !== 'json'),
    );

    assert.equal(r.code, 0);
    assert.match(r.stdout, /good\/db +ok +maxAge 30d +in-place +1d ago +in 28d\d*h? +deployment\/db-app +-/);
    assert.match(r.stdout, /\nNothing overdue\.\n$/);
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
  });

  it('overdue: a rotation past due (exit 1)', async () => {
    policySecret('late', 'api-token', 'maxAge: 30d\nkeys:\n  password: { generator: token }', 40);

    const r = await h.run(statusCommand, statusArgs('good', 'late'));

    assert.equal(r.code, 1);
    assert.deepEqual(problems(r), ['rotation-overdue']);
    assert.equal(report(r).rotation.secrets[0].state, 'overdue');
    assert.match(
      report(r).problems[0].message,
      /^rotation overdue since .*older than maxAge 30d; due for longer than the grace period 1h$/,
    );
  });

  it('overdue: a policy that cannot be used (exit 1)', async () => {
    policySecret('broken', 'db', 'maxAge: 30d\nkeys:\n  password: { generator: pasword }', 1);

    const r = await h.run(statusCommand, statusArgs('good', 'broken'));

    assert.equal(r.code, 1);
    assert.deepEqual(problems(r), ['rotation-invalid']);
    assert.match(report(r).problems[0].message, /keys\.password\.generator: unknown generator "pasword"/);
  });

  it('overdue: the newest backup is older than its schedule allows (exit 1)', async () => {
    const r = await h.run(
      statusCommand,
      statusArgs('good', 'good', ['--backup-schedule', '0 * * * *', '--freshness-grace', '30m']),
      at(3 * 3_600_000),
    );

    assert.equal(r.code, 1);
    assert.deepEqual(problems(r), ['backup-stale']);
    assert.match(report(r).problems[0].message, /^backup stale: expected one after .* \(schedule "0 \* \* \* \*" in UTC, grace 30m\)$/);
  });

  it('overdue: no complete backup at all (exit 1)', async () => {
    const r = await h.run(statusCommand, statusArgs('empty', 'good', ['--drill-max-age', '0s']));

    assert.equal(r.code, 1);
    assert.deepEqual(problems(r), ['no-backup']);
  });

  it('overdue: no drill passed within --drill-max-age (exit 1)', async () => {
    const r = await h.run(statusCommand, statusArgs('good', 'good'), at(9 * DAY));

    assert.equal(r.code, 1);
    // Without drills the backup is not verified within the drill's deep-check cycle (7d) either.
    assert.deepEqual(problems(r), ['drill-overdue', 'backup-unverified']);
    assert.match(report(r).problems[0].message, /^no DR drill passed within 8d; the last one that passed ran at .*: run verify-restore$/);
  });

  it('overdue: an expired recipient key (exit 1)', async () => {
    const old = await writeTestKeyPair(h.dir, 'expired', { now: new Date(Date.now() - 10 * DAY), expiresInSeconds: 86_400 });

    const r = await h.run(
      statusCommand,
      statusArgs('good', 'good').map((a) => (a === h.recipient.publicKey ? old.publicKey : a)),
    );

    assert.equal(r.code, 1);
    assert.deepEqual(problems(r), ['key-unusable']);
    assert.deepEqual(
      report(r).keys.map((k) => [k.role, k.state]),
      [
        ['recipient', 'expired'],
        ['signer', 'ok'],
      ],
    );
  });

  it('a key expiring soon is a warning, not overdue (exit 0)', async () => {
    const soon = await writeTestKeyPair(h.dir, 'soon', { expiresInSeconds: 5 * 86_400 });

    const r = await h.run(
      statusCommand,
      statusArgs('good', 'good').map((a) => (a === h.recipient.publicKey ? soon.publicKey : a)),
    );

    assert.equal(r.code, 0);
    assert.deepEqual(
      report(r).warnings.map((w) => w.kind),
      ['key-expiring'],
    );
  });

  it('without --store: rotation and keys only', async () => {
    const r = await h.run(statusCommand, ['--kubeconfig', h.kubeconfig, '--namespace', 'good', '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    assert.equal(report(r).backups, undefined);
    assert.equal(report(r).rotation.secrets.length, 1);
  });

  it('takes kubectl-style -n, -l and -o', async () => {
    const scoped = await h.run(statusCommand, ['--kubeconfig', h.kubeconfig, '-n', 'good', '-o', 'json']);
    const noMatch = await h.run(statusCommand, ['--kubeconfig', h.kubeconfig, '-n=good', '-l=team=nobody', '-o=json']);

    assert.equal(scoped.code, 0, scoped.stderr);
    assert.deepEqual(
      report(scoped).rotation.secrets.map((x) => `${x.namespace}/${x.name}`),
      ['good/db'],
    );
    assert.equal(noMatch.code, 0, noMatch.stderr);
    assert.deepEqual(report(noMatch).rotation.secrets, []);
  });

  it('bad settings: every problem at once (exit 2)', async () => {
    const r = await h.run(statusCommand, ['--kubeconfig', h.kubeconfig, ...h.s3.args('good'), '--backup-timezone', 'Mars/Olympus']);

    assert.equal(r.code, 2);
    assert.match(r.stderr, /--cluster-name \/ SECRET_STEWARD_CLUSTER_NAME: is required with --store/);
    assert.match(r.stderr, /--backup-timezone \/ SECRET_STEWARD_BACKUP_TIMEZONE: unknown time zone "Mars\/Olympus"/);
  });

  it('the API server unreachable: exit 4', async () => {
    const fault = h.emulator.faults.inject({ path: /\/secrets$/, status: 503, times: 50 });

    const r = await h.run(statusCommand, statusArgs('good', 'good', ['--api-retry-budget', '1']));

    fault.remove();
    assert.equal(r.code, 4, r.stdout + r.stderr);
  });
});
