import assert from 'node:assert/strict';
import { readCleartextMessage } from 'openpgp';
import { adoptCommand } from '../../jobs/adopt.js';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { pruneCommand } from '../../jobs/prune.js';
import { restoreCommand } from '../../jobs/restore.js';
import { BackupLayout, compactTime } from '../../shared/backup/backup-layout.js';
import { signCleartext } from '../../shared/crypto/index.js';
import { loadSigningKey } from '../../shared/crypto/keys.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import { preRestoreKeyArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness, type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';
import { requireS3Server, type S3ServerKind } from '../support/s3-server.js';

const HOUR = 3_600_000;
const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error' || x.level === 'warn'));
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** Rows by backup id: backups made in the same second list in no fixed order. */
const byId = (rows: Row[], f: (r: Row) => unknown) => Object.fromEntries(rows.map((r) => [r.id, f(r)]));

interface Row {
  id: string;
  authenticated: boolean;
  status: string;
  signer?: string;
}

/**
 * A signing key rollover end to end (the emulator, and s3rver or Ceph RGW for the store's own
 * LastModified): the retired key is trusted with `,notAfter=`, the new one with `,notBefore=`,
 * in every command that reads the catalogue through the one seal trust (loadSealTrust).
 */
function rolloverSuite(server: S3ServerKind, only?: 'backdating') {
  describe(`jobs: rolling over the backup signing key (${server})`, function () {
    this.timeout(240_000);
    let h: Harness;
    let old: TestKeyFiles;
    let next: TestKeyFiles;
    let store: ObjectStore;
    before(function () {
      requireS3Server(this, server);
    });
    beforeEach(async () => {
      h = await startHarness({ s3: server });
      // Made a day ago, so that a signature can be (back)dated hours before now.
      old = await writeTestKeyPair(h.dir, 'old-signer', { now: new Date(Date.now() - 24 * HOUR) });
      next = await writeTestKeyPair(h.dir, 'next-signer');
      store = createObjectStore(h.s3.settings('bk'));
      await seedDrillSecrets(h, ['payments']);
    });
    afterEach(async () => h?.stop());

    async function backupSignedBy(signer: TestKeyFiles): Promise<string> {
      const r = await h.run(backupCommand, [
        ...h.baseArgs(),
        '--recipient-key',
        h.recipient.publicKey,
        '--signing-key',
        signer.privateKey,
        '--signing-key-passphrase-file',
        signer.passphraseFile,
        '--output',
        'json',
      ]);
      assert.equal(r.code, 0, failure(r));
      return JSON.parse(r.stdout).backupId as string;
    }
    /** A backup signed by `signer` whose seal is then deleted: what adopt examines. */
    async function unsealedBackup(signer: TestKeyFiles): Promise<string> {
      const id = await backupSignedBy(signer);
      await store.delete([new BackupLayout('test-cluster').sealKey(id)]);
      return id;
    }
    /** adopt's sealing keys: `scheduled` as --signing-key, and with `preRestore` the harness's pre-restore key. */
    const sealingArgs = (scheduled: TestKeyFiles, o: { preRestore?: boolean } = {}) => [
      '--signing-key',
      scheduled.privateKey,
      '--signing-key-passphrase-file',
      scheduled.passphraseFile,
      ...(o.preRestore
        ? [
            '--pre-restore-signing-key',
            h.preRestoreSigner.privateKey,
            '--pre-restore-signing-key-passphrase-file',
            h.preRestoreSigner.passphraseFile,
          ]
        : []),
    ];
    const windowed = (oldEnd: number, nextStart: number) => [
      '--trusted-signer-key',
      `${old.publicKey},notAfter=${iso(oldEnd)}`,
      '--trusted-signer-key',
      `${next.publicKey},notBefore=${iso(nextStart)}`,
    ];
    async function list(trust: string[], env: Record<string, string> = {}): Promise<Row[]> {
      const r = await h.run(listBackupsCommand, [...h.s3.args('bk'), '--cluster-name', 'test-cluster', ...trust, '-o', 'json'], { env });
      assert.equal(r.code, 0, failure(r));
      return (JSON.parse(r.stdout) as { backups: Row[] }).backups;
    }
    const readArgs = (trust: string[]) => [
      ...h.baseArgs(),
      '--decryption-key',
      h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      h.recipient.passphraseFile,
      ...trust,
    ];

    if (only === undefined) {
      it('overlapping windows: backups by the old and the new key both verify, and one signed inside the old window restores', async () => {
        const byOld = await backupSignedBy(old);
        const byNext = await backupSignedBy(next);
        const trust = windowed(Date.now() + HOUR, Date.now() - HOUR);
        h.emulator.delete('v1', 'Secret', 'payments', 'opaque');

        const rows = await list(trust);
        // The same trust from the environment: a comma inside a value continues it.
        const fromEnv = await list([], { SECRET_STEWARD_TRUSTED_SIGNER_KEY: `${trust[1]},${trust[3]}` });
        const restored = await h.run(restoreCommand, [...readArgs(trust), '--backup', byOld, '--output', 'json']);

        assert.deepEqual(
          byId(rows, (r) => [r.status, r.signer]),
          {
            [byNext]: ['sealed', next.fingerprint],
            [byOld]: ['sealed', old.fingerprint],
          },
        );
        assert.deepEqual(fromEnv, rows);
        assert.equal(restored.code, 0, failure(restored));
        assert.ok(h.emulator.get('v1', 'Secret', 'payments', 'opaque'), 'payments/opaque restored from the backup signed by the old key');
      });

      it('a backup signed by the retired key after its notAfter is not authenticated: listed as such, never restored, never pruned', async () => {
        const late = await backupSignedBy(old);
        const current = await backupSignedBy(next);
        const trust = windowed(Date.now() - HOUR, Date.now() - 2 * HOUR);

        const rows = await list(trust);
        const restore = await h.run(restoreCommand, [...readArgs(trust), '--backup', late]);
        const prune = await h.run(pruneCommand, [...h.baseArgs(), ...trust, '--keep-last', '1', '--offline']);
        const after = await list(trust);

        assert.deepEqual(
          byId(rows, (r) => r.authenticated),
          { [current]: true, [late]: false },
        );
        assert.match(
          byId(rows, (r) => r.status)[late] as string,
          new RegExp(`^forged: its seal is signed at \\S+ by ${old.fingerprint}, after it was retired \\(notAfter=`),
        );
        assert.notEqual(restore.code, 0, failure(restore));
        assert.match(restore.stdout + restore.stderr + JSON.stringify(restore.records), new RegExp(`${late}.*after it was retired`));
        assert.equal(prune.code, 0, failure(prune));
        assert.deepEqual(
          after.map((r) => r.id).sort(),
          [current, late].sort(),
          'the retired key’s backup is kept: only authenticated backups are deleted',
        );
      });

      it('the backup job refuses to sign with a key its own trust lists as retired (exit 2), before writing anything', async () => {
        const r = await h.run(backupCommand, [
          ...h.baseArgs(),
          '--recipient-key',
          h.recipient.publicKey,
          '--signing-key',
          old.privateKey,
          '--signing-key-passphrase-file',
          old.passphraseFile,
          ...windowed(Date.now() - HOUR, Date.now() - 2 * HOUR),
        ]);

        assert.equal(r.code, 2, failure(r));
        assert.match(
          r.stderr,
          /--trusted-signer-key \/ SECRET_STEWARD_TRUSTED_SIGNER_KEY: this run's own signing key [0-9A-F]{40} is listed with a window that excludes now/,
        );
        assert.deepEqual(await list([]), []);
      });

      it('backup refuses a signing key the --trusted-signer-key it is given does not list (exit 2), before writing anything; given none, it runs', async () => {
        const backupArgs = (trust: string[]) => [
          ...h.baseArgs(),
          '--recipient-key',
          h.recipient.publicKey,
          '--signing-key',
          next.privateKey,
          '--signing-key-passphrase-file',
          next.passphraseFile,
          ...trust,
        ];
        const objects = async () => {
          const keys: string[] = [];
          for await (const o of store.list('')) keys.push(o.key);
          return keys;
        };
        const written = () => [h.emulator.list('v1', 'Event').length, h.emulator.list('coordination.k8s.io/v1', 'Lease').length];
        const before = written();

        const refused = await h.run(backupCommand, backupArgs(['--trusted-signer-key', old.publicKey]));
        const refusedWrote = [await objects(), written()];
        const unlisted = await h.run(backupCommand, backupArgs([]));

        assert.equal(refused.code, 2, failure(refused));
        assert.match(
          refused.stderr,
          new RegExp(
            `--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY: this run's own signing key ${next.fingerprint} is not listed: every reader checks scheduled seals against this list`,
          ),
        );
        assert.deepEqual(refusedWrote, [[], before], 'no object, no Event, no Lease');
        assert.equal(unlisted.code, 0, failure(unlisted));
        const warnings = unlisted.records.filter(
          (x) => x.level === 'warn' && x.setting === '--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY',
        );
        assert.deepEqual(warnings, [], 'given no list, backup trusts its own key as the shipped manifests configure it');
      });

      it('restore seals its pre-restore backup with a key --pre-restore-signer-key does not list: it restores, and warns in its log and its output', async () => {
        const id = await backupSignedBy(next);
        const live = h.emulator.get('v1', 'Secret', 'payments', 'opaque') as unknown as { data: Record<string, string> };
        h.emulator.update({ ...live, data: { ...live.data, extra: Buffer.from('changed since the backup').toString('base64') } } as never);

        const restore = (mode: string) =>
          h.run(restoreCommand, [
            ...readArgs(['--trusted-signer-key', next.publicKey, '--pre-restore-signer-key', old.publicKey]),
            '--backup',
            id,
            '--name',
            'payments/opaque',
            '--mode',
            mode,
            ...preRestoreKeyArgs(h),
            '-o',
            'json',
          ]);

        const sealsNothing = await restore('create-missing');
        const r = await restore('overwrite');

        assert.equal(sealsNothing.code, 0, failure(sealsNothing));
        assert.deepEqual(JSON.parse(sealsNothing.stdout).warnings, [], 'no pre-restore backup to seal: nothing to warn about');
        assert.equal(r.code, 0, failure(r));
        const doc = JSON.parse(r.stdout) as { preRestoreBackupId?: string; warnings: string[] };
        assert.ok(doc.preRestoreBackupId, 'the pre-restore backup was taken: the restore was not blocked');
        const expected = new RegExp(
          `^--pre-restore-signer-key / SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY does not list this run's own signing key ${h.preRestoreSigner.fingerprint}: every reader given this list calls the pre-restore seals it makes forged`,
        );
        assert.equal(doc.warnings.filter((w) => expected.test(w)).length, 1, doc.warnings.join('\n'));
        const logged = r.records.filter((x) => x.level === 'warn' && expected.test(String(x.msg)));
        assert.deepEqual(
          logged.map((x) => [x.setting, x.fingerprint]),
          [['--pre-restore-signer-key / SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY', h.preRestoreSigner.fingerprint]],
        );
      });

      it('adopt refuses a sealing key of either kind that its trust lists as retired (exit 2), before sealing anything', async () => {
        // A backup with an index and no seal: a candidate adopt examines (without the check it reaches it, exit 1).
        const unsealed = await unsealedBackup(next);
        const adopt = (sealing: string[], trust: string[]) => h.run(adoptCommand, [...readArgs(trust), ...sealing]);
        const scheduled = await adopt(sealingArgs(old), windowed(Date.now() - HOUR, Date.now() - 2 * HOUR));
        const preRestore = await adopt(sealingArgs(next, { preRestore: true }), [
          '--trusted-signer-key',
          next.publicKey,
          '--pre-restore-signer-key',
          `${h.preRestoreSigner.publicKey},notBefore=${iso(Date.now() + HOUR)}`,
        ]);

        assert.equal(scheduled.code, 2, failure(scheduled));
        assert.match(
          scheduled.stderr,
          new RegExp(
            `--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY: this run's own signing key ${old.fingerprint} is listed with a window that excludes now \\(signed at \\S+ by ${old.fingerprint}, after it was retired \\(notAfter=`,
          ),
        );
        assert.equal(preRestore.code, 2, failure(preRestore));
        assert.match(
          preRestore.stderr,
          new RegExp(
            `--pre-restore-signer-key / SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY: this run's own signing key ${h.preRestoreSigner.fingerprint} is listed with a window that excludes now \\(signed at \\S+ by ${h.preRestoreSigner.fingerprint}, before that key's window opens \\(notBefore=`,
          ),
        );
        assert.equal(await store.head(new BackupLayout('test-cluster').sealKey(unsealed)), undefined, 'nothing sealed');
      });

      it('adopt refuses sealing keys no trust list holds (exit 2), both kinds at once, before sealing anything', async () => {
        // A backup adopt would seal (its index verifies by the listed old key): without the check
        // it is sealed by the unlisted key, a seal every reader with these settings calls forged.
        const unsealed = await unsealedBackup(old);

        const r = await h.run(adoptCommand, [
          ...readArgs(['--trusted-signer-key', old.publicKey]),
          ...sealingArgs(next, { preRestore: true }),
        ]);

        assert.equal(r.code, 2, failure(r));
        assert.match(
          r.stderr,
          new RegExp(
            `--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY: this run's own signing key ${next.fingerprint} is not listed: every reader checks scheduled seals against this list`,
          ),
        );
        assert.match(
          r.stderr,
          new RegExp(
            `--pre-restore-signer-key / SECRET_STEWARD_PRE_RESTORE_SIGNER_KEY: this run's own signing key ${h.preRestoreSigner.fingerprint} is not listed: every reader checks pre-restore seals against this list`,
          ),
        );
        assert.equal(await store.head(new BackupLayout('test-cluster').sealKey(unsealed)), undefined, 'nothing sealed');
      });

      it('bad windows are configuration errors, every one reported at once with its setting (exit 2)', async () => {
        const r = await h.run(listBackupsCommand, [
          ...h.s3.args('bk'),
          '--cluster-name',
          'test-cluster',
          '--trusted-signer-key',
          `${old.publicKey},notAfter=soon`,
          '--pre-restore-signer-key',
          `${h.preRestoreSigner.publicKey},notBefore=2026-05-01T00:00:00Z,notAfter=2026-04-01T00:00:00Z`,
          '--rekey-signer-key',
          `${next.publicKey},notBefore=2026-05-01`,
        ]);

        assert.equal(r.code, 2, failure(r));
        assert.match(r.stderr, /--trusted-signer-key.*notAfter is not an RFC 3339 time/);
        assert.match(r.stderr, /--pre-restore-signer-key.*notBefore \(2026-05-01T00:00:00.000Z\) is not before notAfter/);
        assert.match(r.stderr, /--rekey-signer-key.*notBefore is not an RFC 3339 time/);
        assert.doesNotMatch(r.stderr, /BEGIN PGP/);
      });
    }

    it('a backdated seal (dated inside the old window, written by the store after its end) is refused', async () => {
      const honest = await backupSignedBy(old);
      // The holder of the retired key copies a backup under an id three hours old and seals it
      // with a signature dated then: every date it chooses is inside the window.
      const backdatedAt = Date.now() - 3 * HOUR;
      const forged = `${compactTime(new Date(backdatedAt))}-${honest.slice(17)}`;
      const layout = new BackupLayout('test-cluster');
      for await (const o of store.list(layout.backupPrefix(honest))) {
        if (!o.key.endsWith('seal.json.asc')) await store.put(o.key.replace(honest, forged), await store.getBytes(o.key, 64 * 1024 * 1024));
      }
      const text = (
        await readCleartextMessage({ cleartextMessage: (await store.getBytes(layout.sealKey(honest), 1024 * 1024)).toString('utf8') })
      ).getText();
      const when = new Date(backdatedAt).toISOString();
      const seal = { ...JSON.parse(text), backupId: forged, createdAt: when, completedAt: when };
      const key = (await loadSigningKey(old.privateKey, old.passphraseFile, { now: new Date(backdatedAt) })).key;
      const armored = await signCleartext(JSON.stringify(seal), key, { now: new Date(backdatedAt + 60_000) });
      await store.put(layout.sealKey(forged), Buffer.from(armored));
      const trust = windowed(Date.now() - 2 * HOUR, Date.now() - 2 * HOUR);

      const windowless = await list(['--trusted-signer-key', old.publicKey]);
      const rows = await list(trust);

      assert.deepEqual(
        windowless.map((r) => [r.id, r.status]),
        [
          [honest, 'sealed'],
          [forged, 'sealed'],
        ],
        'without a window the backdated copy is a valid seal: the window is what refuses it',
      );
      assert.deepEqual(
        rows.map((r) => r.id),
        [honest, forged],
      );
      assert.match(
        rows[1].status,
        new RegExp(
          `^forged: its seal says it was signed at \\S+ by ${old.fingerprint}, but the store wrote it at \\S+, after it was retired \\(notAfter=\\S+\\): a backdated signature$`,
        ),
      );
      assert.match(rows[0].status, /after it was retired/);
    });
  });
}

rolloverSuite('s3rver');
rolloverSuite('rgw', 'backdating');
