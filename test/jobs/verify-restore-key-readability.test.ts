import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { rekeyCommand } from '../../jobs/rekey.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { METRICS } from '../../shared/metrics/catalogue.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import { drillMetrics } from '../../shared/verify-restore/verify-restore-job.js';
import {
  createDrillNamespace,
  DRILL_NS,
  drillSigningArgs,
  type RolloverKeys,
  rekeyKeyArgs,
  seedMany,
  trustArgs,
  writeRolloverKeys,
} from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness, type TestKeyFiles } from '../support/job-harness.js';
import { requireS3Server, S3_SERVERS } from '../support/s3-server.js';

const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error'));

/**
 * After a key rollover: two backups encrypted to the old key, one to the new. The drill judges
 * every retained backup by the recipients its seal (or rekey seal) names, and warns (report,
 * Event, metric) about those only a key it does not hold can read; with both keys, or once
 * `rekey` re-encrypted the old backups to the new key, it does not.
 */
for (const server of S3_SERVERS) {
  describe(`jobs/verify-restore (key readability, ${server})`, function () {
    this.timeout(300_000);
    let h: Harness;
    let rollover: RolloverKeys;
    let oldIds: string[];
    let newId: string;

    /** A drill holding the given private keys (one passphrase file: both keys share it). */
    const drill = async (keys: TestKeyFiles[], extra: string[] = []) => {
      const r = await h.run(verifyRestoreCommand, [
        ...h.baseArgs(),
        ...keys.flatMap((k) => ['--decryption-key', k.privateKey]),
        '--decryption-key-passphrase-file',
        keys[0].passphraseFile,
        ...trustArgs(h),
        '--rekey-signer-key',
        rollover.rekey.publicKey,
        '--drill-namespace',
        DRILL_NS,
        ...drillSigningArgs(h),
        '--output',
        'json',
        ...extra,
      ]);
      return { r, report: JSON.parse(r.stdout) as DrillReport };
    };
    /** `status` from the newest signed drill report: its `backup-unreadable` warnings and its text line. */
    const status = async () => {
      const args = [
        '--kubeconfig',
        h.kubeconfig,
        ...h.s3.args('bk'),
        '--cluster-name',
        'test-cluster',
        '--namespace',
        'team-a',
        ...trustArgs(h),
        '--rekey-signer-key',
        rollover.rekey.publicKey,
        '--drill-signer-key',
        h.drillSigner.publicKey,
      ];
      const json = await h.run(statusCommand, [...args, '--output', 'json']);
      const text = await h.run(statusCommand, args);
      const report = JSON.parse(json.stdout) as StatusReport;
      return {
        unreadable: report.warnings.filter((w) => w.kind === 'backup-unreadable'),
        line: text.stdout.split('\n').find((l) => l.startsWith('Key readability')),
      };
    };
    const events = (reason: string) =>
      (h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; message?: string }>).filter((e) => e.reason === reason);
    const unreadableMetric = (report: DrillReport) =>
      drillMetrics(report, new Date()).find((m) => m.metric.name === METRICS.drill.unreadableBackups.name)?.value;
    const backup = async (recipient: TestKeyFiles) => {
      const r = await h.run(backupCommand, [
        ...h.baseArgs(),
        '--recipient-key',
        recipient.publicKey,
        ...h.signingArgs(),
        '--output',
        'json',
      ]);
      assert.equal(r.code, 0, failure(r));
      return JSON.parse(r.stdout).backupId as string;
    };

    before(async function () {
      requireS3Server(this, server);
      h = await startHarness({ s3: server });
      rollover = await writeRolloverKeys(h, { passphrase: h.recipient.passphrase });
      createDrillNamespace(h);
      seedMany(h, 4, 'team-a');
      oldIds = [];
      for (let i = 0; i < 2; i++) {
        oldIds.push(await backup(h.recipient));
        await new Promise((resolve) => setTimeout(resolve, 1100)); // distinct, ordered ids
      }
      newId = await backup(rollover.next);
    });
    after(async () => h?.stop());

    it('with only the new key: warns naming exactly the two old backups (report, Event, metric); the drill still passes', async () => {
      const before = events('BackupUnreadableByCurrentKeys').length;

      const { r, report } = await drill([rollover.next]);

      assert.equal(r.code, 0, failure(r));
      assert.equal(report.backup?.id, newId);
      assert.deepEqual(report.keyReadability?.unreadable, oldIds);
      assert.deepEqual(
        report.keyReadability?.backups.map((b) => [b.id, b.recipients, b.readable, b.readableBy]),
        [
          [oldIds[0], [h.recipient.fingerprint], false, []],
          [oldIds[1], [h.recipient.fingerprint], false, []],
          [newId, [rollover.next.fingerprint], true, [rollover.next.fingerprint]],
        ],
      );
      const health = report.checks.find((c) => c.name === 'key-health')!;
      assert.equal(health.status, 'pass');
      assert.match(health.summary, /1 of 3 retained backup\(s\) readable with the decryption key\(s\)/);
      const warning = report.warnings.find((w) => /can be read only by key/.test(w));
      assert.equal(
        warning,
        `2 retained backup(s) can be read only by key(s) this drill does not hold (${h.recipient.fingerprint}): ${oldIds.join(', ')}. ` +
          'Keep the old private key configured (--decryption-key, repeatable) wherever backups are restored, ' +
          'or re-encrypt these backups to the current key with secret-steward rekey (docs/rekey.md)',
      );
      const added = events('BackupUnreadableByCurrentKeys').slice(before);
      assert.equal(added.length, 1);
      assert.equal(added[0].message, warning);
      assert.equal(unreadableMetric(report), 2);
      const text = await h.run(verifyRestoreCommand, [
        ...h.baseArgs(),
        '--decryption-key',
        rollover.next.privateKey,
        '--decryption-key-passphrase-file',
        rollover.next.passphraseFile,
        ...trustArgs(h),
        '--drill-namespace',
        DRILL_NS,
        // Signed too: a report stored within the same second replaces the one before it.
        ...drillSigningArgs(h),
      ]);
      assert.match(text.stdout, /Key readability: 2 of 3 retained backup\(s\) can be read by NONE of this drill's decryption keys/);
      for (const id of oldIds) assert.match(text.stdout, new RegExp(`${id}\\s+scheduled\\s+${h.recipient.fingerprint}`));
      assert.doesNotMatch(text.stdout, new RegExp(`${newId}\\s+scheduled\\s+${rollover.next.fingerprint}`));
      const st = await status();
      assert.deepEqual(
        st.unreadable.map((w) => w.subject),
        oldIds,
      );
      assert.match(
        st.unreadable[0].message,
        new RegExp(`^backup ${oldIds[0]} is encrypted only to ${h.recipient.fingerprint}, which the drill of `),
      );
      assert.match(
        st.line ?? '',
        new RegExp(`: 2 backup\\(s\\) readable by none of the drill's decryption keys .*: ${oldIds.join(', ')}$`),
      );
    });

    it('with only the new key and --strict-recipients: key health fails (exit 1) naming the two old backups', async () => {
      const { r, report } = await drill([rollover.next], ['--strict-recipients']);

      assert.equal(r.code, 1, failure(r));
      const health = report.checks.find((c) => c.name === 'key-health')!;
      assert.equal(health.status, 'fail');
      assert.equal(health.findings.length, 1);
      assert.match(health.findings[0].message, new RegExp(`: ${oldIds.join(', ')}\\. Keep .*\\(--strict-recipients\\)$`));
    });

    it('with the old and the new key: every backup readable, no warning, no Event, the metric 0', async () => {
      const before = events('BackupUnreadableByCurrentKeys').length;

      const { r, report } = await drill([rollover.next, h.recipient]);

      assert.equal(r.code, 0, failure(r));
      assert.deepEqual(report.keyReadability?.unreadable, []);
      assert.deepEqual(
        report.keyReadability?.backups.map((b) => b.readableBy),
        [[h.recipient.fingerprint], [h.recipient.fingerprint], [rollover.next.fingerprint]],
      );
      assert.deepEqual(
        report.warnings.filter((w) => /can be read only by key/.test(w)),
        [],
      );
      assert.equal(events('BackupUnreadableByCurrentKeys').length, before);
      assert.equal(unreadableMetric(report), 0);
      const st = await status();
      assert.deepEqual(st.unreadable, []);
      assert.match(st.line ?? '', /every retained backup readable with the drill's decryption keys$/);
    });

    it('after rekey of the old backups to the new key: the new key alone reads every one, by the rekey seals', async () => {
      assert.deepEqual((await drill([rollover.next])).report.keyReadability?.unreadable, oldIds);
      const rk = await h.run(rekeyCommand, [...h.baseArgs(), ...rekeyKeyArgs(h, rollover)]);
      assert.equal(rk.code, 0, failure(rk));
      // Before the next drill, status leaves out what the newest report called unreadable but rekey has re-encrypted since.
      const stale = await status();
      const before = events('BackupUnreadableByCurrentKeys').length;

      const { r, report } = await drill([rollover.next]);
      // The drill of a rekeyed backup: its recipients are the rekey seal's, not those its index was first written with.
      const old = await drill([rollover.next], ['--backup', oldIds[0], '--strict-recipients']);

      assert.equal(r.code, 0, failure(r));
      assert.deepEqual(report.keyReadability?.unreadable, []);
      assert.deepEqual(
        report.keyReadability?.backups.map((b) => [b.id, b.recipients]),
        [...oldIds, newId].map((id) => [id, [rollover.next.fingerprint]]),
      );
      assert.equal(events('BackupUnreadableByCurrentKeys').length, before);
      assert.equal(unreadableMetric(report), 0);
      assert.deepEqual(stale.unreadable, []);
      assert.equal(old.r.code, 0, failure(old.r));
      assert.equal(old.report.backup?.id, oldIds[0]);
      assert.deepEqual(old.report.backup?.recipients, [rollover.next.fingerprint]);
      assert.deepEqual(
        old.report.warnings.filter((w) => /did not expect|can be read only/.test(w)),
        [],
      );
    });
  });
}
