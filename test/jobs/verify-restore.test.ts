import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { loadTrustedSignerKeys, verifyDetached } from '../../shared/crypto/index.js';
import { createObjectStore } from '../../shared/storage/index.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import {
  backupKeyArgs,
  createDrillNamespace,
  DRILL_NS,
  drillArgs,
  drillObjects,
  seedDrillSecrets,
} from '../shared/verify-restore/drill-fixtures.js';
import { requireDependency } from '../support/dependencies.js';
import { type Harness, startHarness, writeTestKeyPair } from '../support/job-harness.js';
import { hasPushgateway, PUSHGATEWAY_INSTALL, type PushgatewayHandle, startPushgateway } from '../support/pushgateway.js';
import { seedCommonSecrets } from '../support/seed-secrets.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('jobs/verify-restore', function () {
  this.timeout(180_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    createDrillNamespace(h);
  });
  afterEach(async () => h?.stop());

  async function backup(extra: string[] = []): Promise<string> {
    const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--output', 'json', ...extra]);
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    return JSON.parse(r.stdout).backupId as string;
  }

  async function storedReports(): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of createObjectStore(h.s3.settings('bk')).list('test-cluster/reports/')) keys.push(o.key);
    return keys;
  }

  it('passes every check, stores a signed report, records an Event, leaves no drill object, and list-backups shows the result', async () => {
    await seedDrillSecrets(h, ['payments', 'web']);
    const id = await backup();
    const drillKey = await writeTestKeyPair(h.dir, 'drill');

    const r = await h.run(verifyRestoreCommand, [
      ...drillArgs(h),
      '--backup-schedule',
      '0 3 * * *',
      '--report-signing-key',
      drillKey.privateKey,
      '--report-signing-key-passphrase-file',
      drillKey.passphraseFile,
    ]);

    assert.equal(r.code, 0, r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    assert.match(r.stdout, new RegExp(`DR drill PASSED for backup ${id}`));
    for (const check of ['freshness', 'integrity', 'validity', 'restorability', 'key-health', 'catalogue'])
      assert.match(r.stdout, new RegExp(`${check} +PASS`));
    assert.match(r.stdout, /drift +SKIPPED .*--compare-live not given/);
    assert.match(r.stdout, /15 Secrets created in namespace secret-steward-drill, read back byte-identical and deleted/);
    assert.deepEqual(drillObjects(h), []);
    const keys = await storedReports();
    assert.equal(keys.length, 2);
    const reportKey = keys.find((k) => k.endsWith('_pass.json'))!;
    assert.ok(new BackupLayout('test-cluster').parseReportKey(reportKey)?.backupId === id);
    const store = createObjectStore(h.s3.settings('bk'));
    const bytes = await store.getBytes(reportKey);
    const signature = (await store.getBytes(`${reportKey}.asc`)).toString();
    const check = await verifyDetached(bytes, signature, await loadTrustedSignerKeys([drillKey.publicKey]));
    assert.equal(check.status, 'valid');
    const tampered = Buffer.from(bytes.toString().replace('"pass"', '"fail"'));
    assert.equal((await verifyDetached(tampered, signature, await loadTrustedSignerKeys([drillKey.publicKey]))).status, 'invalid');
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{
      reason?: string;
      message?: string;
      involvedObject?: { name?: string };
    }>;
    const passed = events.find((e) => e.reason === 'DrillPassed');
    assert.ok(passed, JSON.stringify(events));
    assert.equal(passed.involvedObject?.name, 'secret-steward-verify-restore');
    assert.match(passed.message!, /15 Secrets verified, 15 restored into secret-steward-drill/);
    const listed = await h.run(listBackupsCommand, [...h.s3.args('bk'), '--cluster-name', 'test-cluster']);
    assert.match(listed.stdout, new RegExp(`${id} .* pass \\S+ ago`));
  });

  it('--output json prints the full report: every check with status and duration, counts, per-namespace results; no value anywhere', async () => {
    const canary = 'CANARY-drill-7f3e9a1b2c';
    await seedDrillSecrets(h, ['payments']);
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'canary', namespace: 'payments' },
      data: { pw: b64(canary) },
    } as never);
    const id = await backup();

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--output', 'json', '--log-level', 'debug']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    assert.equal(report.format, 'secret-steward.io/drill-report/v1');
    assert.equal(report.result, 'pass');
    assert.equal(report.backup?.id, id);
    assert.equal(report.backup?.signature, 'valid');
    assert.equal(report.backup?.signer, h.signer.fingerprint);
    assert.ok(report.backup!.ageSeconds >= 0);
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ['freshness', 'integrity', 'validity', 'restorability', 'drift', 'key-health', 'catalogue', 'deep-check'],
    );
    assert.deepEqual(
      report.checks.map((c) => c.status),
      ['skipped', 'pass', 'pass', 'pass', 'skipped', 'pass', 'pass', 'pass'],
    );
    for (const c of report.checks) assert.equal(typeof c.durationMs, 'number');
    assert.deepEqual(report.counts, {
      secretsInBackup: 9,
      secretsVerified: 9,
      secretsValid: 9,
      secretsRestored: 9,
      secretsSkipped: 0,
      segments: 1,
      segmentsVerified: 1,
    });
    assert.deepEqual(report.namespaces.payments, { secrets: 9, verified: 9, valid: 9, restored: 9, skipped: 0, problems: 0 });
    assert.deepEqual(
      { ...report.rto!, measuredMs: 0, projectedFullRestoreMs: 0, byNamespace: report.rto!.byNamespace.map((n) => n.namespace) },
      {
        measuredMs: 0,
        secretsRestored: 9,
        secretsRead: 9,
        secretsInBackup: 9,
        projectedFullRestoreMs: 0,
        namespaces: 1,
        byNamespace: ['payments'],
      },
    );
    assert.equal(report.rto!.projectedFullRestoreMs, report.rto!.measuredMs, 'every Secret was read: nothing to project');
    const stored = (
      await createObjectStore(h.s3.settings('bk')).getBytes((await storedReports()).find((k) => k.endsWith('.json'))!)
    ).toString();
    const everything = [r.stdout, r.stderr, r.logs.lines.join(''), JSON.stringify(h.emulator.list('v1', 'Event')), stored].join('\n');
    for (const form of [canary, b64(canary)]) assert.ok(!everything.includes(form), `${form} leaked`);
  });

  it('fails validity (exit 1) for a tls Secret whose PEM does not parse, naming the Secret and key; the API still accepts the copy', async () => {
    seedCommonSecrets(h, ['legacy']);
    await backup();

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    const validity = report.checks.find((c) => c.name === 'validity')!;
    assert.equal(validity.status, 'fail');
    assert.deepEqual(
      validity.findings.map((f) => f.message),
      [
        'Secret legacy/tls: tls.crt: PEM certificate 1 of 1 does not parse as X.509',
        'Secret legacy/tls: tls.key does not parse as a PEM private key',
      ],
    );
    assert.equal(report.checks.find((c) => c.name === 'restorability')!.status, 'pass');
    assert.equal(report.namespaces.legacy.problems, 1);
    assert.ok((await storedReports()).some((k) => k.endsWith('_fail.json')));
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; message?: string }>;
    assert.match(events.find((e) => e.reason === 'DrillFailed')!.message!, /validity fail: Secret legacy\/tls: tls\.crt/);
  });

  it('--compare-live reports drift by hashes (changed, deleted, created since) without failing', async () => {
    await seedDrillSecrets(h, ['payments']);
    await backup();
    h.emulator.patch('v1', 'Secret', 'payments', 'opaque', 'application/merge-patch+json', { data: { password: b64('rotated-since') } });
    h.emulator.delete('v1', 'Secret', 'payments', 'basic');
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'new-one', namespace: 'payments' },
      data: { k: b64('v') },
    } as never);

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--compare-live', '--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const drift = (JSON.parse(r.stdout) as DrillReport).checks.find((c) => c.name === 'drift')!;
    assert.equal(drift.status, 'pass');
    assert.deepEqual(drift.details, {
      missingFromBackup: 1,
      deletedSince: 1,
      changedSince: 1,
      unchanged: 6,
      examples: { missingFromBackup: ['payments/new-one'], deletedSince: ['payments/basic'], changedSince: ['payments/opaque'] },
    });
    assert.match(drift.summary, /1 changed, 1 deleted, 1 created/);
  });

  it('still signs the report with the key in SECRET_STEWARD_SIGNING_KEY, its former name, warning that it is deprecated', async () => {
    await seedDrillSecrets(h, ['payments']);
    await backup();
    const drillKey = await writeTestKeyPair(h.dir, 'drill-old-env');

    const r = await h.run(verifyRestoreCommand, drillArgs(h), {
      env: { SECRET_STEWARD_SIGNING_KEY: drillKey.privateKey, SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE: drillKey.passphraseFile },
    });

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const reportKey = (await storedReports()).find((k) => k.endsWith('_pass.json'))!;
    const store = createObjectStore(h.s3.settings('bk'));
    const signature = (await store.getBytes(`${reportKey}.asc`)).toString();
    const check = await verifyDetached(await store.getBytes(reportKey), signature, await loadTrustedSignerKeys([drillKey.publicKey]));
    assert.equal(check.status, 'valid');
    assert.deepEqual(
      r.records.filter((x) => x.deprecated !== undefined).map((x) => [x.level, x.deprecated, x.setting]),
      [
        ['warn', 'SECRET_STEWARD_SIGNING_KEY', 'SECRET_STEWARD_REPORT_SIGNING_KEY'],
        ['warn', 'SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE', 'SECRET_STEWARD_REPORT_SIGNING_KEY_PASSPHRASE_FILE'],
      ],
    );
  });

  it('warns (report, log, Event) about keys expiring within the window, without failing', async () => {
    const soon = await writeTestKeyPair(h.dir, 'soon', { expiresInSeconds: 5 * 86_400 });
    seedMany(h);
    const r1 = await h.run(backupCommand, [
      ...h.baseArgs(),
      '--recipient-key',
      soon.publicKey,
      '--recipient-key',
      h.recipient.publicKey,
      '--signing-key',
      h.signer.privateKey,
      '--signing-key-passphrase-file',
      h.signer.passphraseFile,
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    const expiringEvents = () =>
      (h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string }>).filter((e) => e.reason === 'KeyExpiringSoon').length;
    const before = expiringEvents();

    const r = await h.run(verifyRestoreCommand, [
      ...drillArgs(h),
      '--recipient-key',
      soon.publicKey,
      '--report-signing-key',
      soon.privateKey,
      '--report-signing-key-passphrase-file',
      soon.passphraseFile,
      '--output',
      'json',
    ]);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    const health = report.checks.find((c) => c.name === 'key-health')!;
    assert.equal(health.status, 'pass');
    assert.match(health.summary, /2 key warning\(s\)/);
    assert.ok(report.warnings.some((w) => /^recipient key .* expires on /.test(w)));
    assert.ok(report.warnings.some((w) => /^signing key .* expires on /.test(w)));
    assert.equal(expiringEvents() - before, 2);
  });

  describe('a backup encrypted to a recipient the drill did not expect', () => {
    let intruder: Awaited<ReturnType<typeof writeTestKeyPair>>;
    beforeEach(async () => {
      intruder = await writeTestKeyPair(h.dir, 'intruder');
      seedMany(h);
      // As if someone added a second public key to the backup keys Secret.
      await backup(['--recipient-key', intruder.publicKey]);
    });
    const recipientEvents = () =>
      (h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; message?: string }>).filter(
        (e) => e.reason === 'UnexpectedBackupRecipient',
      );
    const intruderFingerprint = async () => (await loadTrustedSignerKeys([intruder.publicKey]))[0].fingerprint;

    it('warns in the report, the log and an Event, and passes by default', async () => {
      const fpr = await intruderFingerprint();

      const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--output', 'json']);

      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as DrillReport;
      const health = report.checks.find((c) => c.name === 'key-health')!;
      assert.equal(health.status, 'pass');
      assert.deepEqual(health.details?.unexpectedBackupRecipients, [fpr]);
      assert.ok(report.warnings.some((w) => w.includes(`did not expect (${fpr})`)));
      assert.ok(r.records.some((l) => l.level === 'warn' && String(l.msg).includes(fpr)));
      assert.equal(recipientEvents().length, 1);
      assert.match(
        recipientEvents()[0].message ?? '',
        new RegExp(`^backup \\S+: the backup is encrypted to 1 key\\(s\\) this drill did not expect \\(${fpr}\\)`),
      );
    });

    it('fails the drill (exit 1) with --strict-recipients', async () => {
      const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--strict-recipients', '--output', 'json']);

      assert.equal(r.code, 1, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as DrillReport;
      assert.equal(report.result, 'fail');
      const health = report.checks.find((c) => c.name === 'key-health')!;
      assert.equal(health.status, 'fail');
      assert.match(health.findings[0].message, /did not expect .*\(--strict-recipients\)$/);
      assert.equal(recipientEvents().length, 1);
    });

    it('passes with --strict-recipients once the recipient is expected (--recipient-key)', async () => {
      const r = await h.run(verifyRestoreCommand, [
        ...drillArgs(h),
        '--strict-recipients',
        '--recipient-key',
        intruder.publicKey,
        '--recipient-key',
        h.recipient.publicKey,
      ]);

      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(recipientEvents().length, 0);
    });
  });

  it('--stored-report-detail summary keeps namespace and Secret names out of the bucket', async () => {
    await seedDrillSecrets(h, ['payments']);
    await backup();

    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--stored-report-detail', 'summary']);

    assert.equal(r.code, 0, r.stdout + r.stderr);
    const key = (await storedReports()).find((k) => k.endsWith('.json'))!;
    const stored = (await createObjectStore(h.s3.settings('bk')).getBytes(key)).toString();
    assert.ok(!stored.includes('payments'), stored);
    assert.equal((JSON.parse(stored) as DrillReport).counts.secretsRestored, 8);
  });

  it('fails (exit 1) when there is no backup at all, and says so', async () => {
    const r = await h.run(verifyRestoreCommand, [...drillArgs(h), '--backup-schedule', '@daily']);

    assert.equal(r.code, 1);
    assert.match(r.stdout, /freshness +FAIL +\S+ +backup stale: expected one after .*, newest is none/);
    assert.match(r.stdout, /there is no authenticated scheduled backup under s3:\/\/steward-test\/bk\/test-cluster\/backups\/ to verify/);
  });

  it('pushes drill metrics to a real Pushgateway; a later failure keeps the last success timestamp', async function () {
    requireDependency(this, 'prometheus-pushgateway', hasPushgateway(), PUSHGATEWAY_INSTALL);
    const gw: PushgatewayHandle = await startPushgateway();
    try {
      await seedDrillSecrets(h, ['payments']);
      const id = await backup();

      const ok = await h.run(verifyRestoreCommand, [...drillArgs(h), '--pushgateway', gw.url]);
      const afterOk = await gw.metrics();
      const bad = await h.run(verifyRestoreCommand, [
        ...drillArgs(h),
        '--pushgateway',
        gw.url,
        '--backup',
        id.replace(/-[0-9a-f]{6}$/, '-000000'),
      ]);
      const afterBad = await gw.metrics();

      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(bad.code, 1);
      const value = (text: string, name: string, label = '') =>
        Number(new RegExp(`^${name}\\{[^}]*cluster="test-cluster"[^}]*${label}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
      assert.equal(value(afterOk, 'secret_steward_drill_success'), 1);
      assert.equal(value(afterOk, 'secret_steward_drill_secrets', 'result="verified"'), 8);
      assert.equal(value(afterOk, 'secret_steward_drill_secrets', 'result="restored"'), 8);
      assert.equal(value(afterOk, 'secret_steward_unauthenticated_backups'), 0);
      assert.ok(value(afterOk, 'secret_steward_drill_last_run_timestamp_seconds') > 1_700_000_000);
      assert.ok(value(afterOk, 'secret_steward_drill_backup_age_seconds') >= 0);
      const lastSuccess = value(afterOk, 'secret_steward_drill_last_success_timestamp_seconds');
      assert.ok(lastSuccess > 1_700_000_000);
      assert.equal(value(afterBad, 'secret_steward_drill_success'), 0);
      assert.equal(value(afterBad, 'secret_steward_drill_last_success_timestamp_seconds'), lastSuccess);
      assert.match(afterBad, /job="secret-steward-verify-restore"/);
    } finally {
      await gw.stop();
    }
  });

  function seedMany(hh: Harness): void {
    hh.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } } as never);
    for (let i = 0; i < 3; i++)
      hh.emulator.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `s${i}`, namespace: 'apps' },
        data: { v: b64(`value-${i}`) },
      } as never);
  }

  void DRILL_NS;
});
