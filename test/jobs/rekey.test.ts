import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { pruneCommand } from '../../jobs/prune.js';
import { rekeyCommand } from '../../jobs/rekey.js';
import { restoreCommand } from '../../jobs/restore.js';
import { secretAgeCommand } from '../../jobs/secret-age.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import {
  backupKeyArgs,
  newKeyReadArgs,
  type RolloverKeys,
  rekeyKeyArgs,
  seedDrillSecrets,
  trustArgs,
  writeRolloverKeys,
} from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, startHarness, writeTestKeyPair } from '../support/job-harness.js';

interface SecretView {
  data?: Record<string, string>;
  metadata: { labels?: Record<string, string> };
}

/**
 * End to end against the emulator and s3rver: backups encrypted to an old key are re-encrypted
 * to a new one by `rekey`, which holds only the old decryption key and its own signing key.
 */
describe('jobs/rekey', function () {
  this.timeout(180_000);
  let h: Harness;
  let keys: RolloverKeys;
  let store: ObjectStore;
  beforeEach(async () => {
    h = await startHarness();
    keys = await writeRolloverKeys(h);
    store = createObjectStore(h.s3.settings('bk'));
  });
  afterEach(async () => h?.stop());

  const rekeyArgs = () => [...h.baseArgs(), ...rekeyKeyArgs(h, keys)];
  /** What a reader holding only the NEW private key passes. */
  const newReaderArgs = () => [...h.baseArgs(), ...newKeyReadArgs(h, keys)];

  async function backup(): Promise<string> {
    const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--segment-size', '1', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    return JSON.parse(r.stdout).backupId as string;
  }

  async function keysOf(id: string): Promise<string[]> {
    const out: string[] = [];
    for await (const o of store.list(`test-cluster/backups/${id}/`)) out.push(o.key.slice(`test-cluster/backups/${id}/`.length));
    return out.sort();
  }

  it('re-encrypts every retained backup to the new key: the new key alone restores them byte-identical, the old objects are gone', async () => {
    const expected = await seedDrillSecrets(h, ['payments']);
    const first = await backup();
    const second = await backup();
    const before = await keysOf(first);

    const r = await h.run(rekeyCommand, [...rekeyArgs(), '--output', 'json']);

    assert.equal(r.code, 0, r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
    const report = JSON.parse(r.stdout);
    assert.equal(report.format, 'secret-steward.io/rekey/v1');
    // By id: two backups made within one second have ids of the same second, in no fixed order.
    assert.deepEqual(
      report.outcomes
        .map((o: { id: string; action: string; generation: number }) => [o.id, o.action, o.generation])
        .sort((a: string[], b: string[]) => a[0].localeCompare(b[0])),
      [
        [first, 'rekeyed', 1],
        [second, 'rekeyed', 1],
      ].sort((a, b) => (a[0] as string).localeCompare(b[0] as string)),
    );
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; type?: string; message?: string }>;
    assert.deepEqual(
      events.filter((ev) => ev.reason?.startsWith('Rekey')).map((ev) => [ev.type, ev.reason, ev.message]),
      [['Normal', 'RekeyCompleted', `re-encrypted 2 backup(s) to ${keys.next.fingerprint}; 0 failed`]],
    );
    const after = await keysOf(first);
    assert.deepEqual(after, before.map((k) => (k === 'seal.json.asc' ? k : k.replace(/^(segment-\d{5}|index)\./, '$1.r1.'))).sort());
    // The new key alone (the old one no longer configured) restores the rekeyed backup.
    for (const [key] of expected) {
      const [ns, name] = key.split('/');
      h.emulator.delete('v1', 'Secret', ns, name);
    }
    const restored = await h.run(restoreCommand, [...newReaderArgs(), '--backup', first, '--output', 'json']);
    assert.equal(restored.code, 0, restored.stdout + restored.stderr);
    for (const [key, data] of expected) {
      const [ns, name] = key.split('/');
      const got = h.emulator.get('v1', 'Secret', ns, name) as unknown as SecretView | undefined;
      assert.deepEqual(got?.data ?? {}, data, key);
    }
  });

  it('is idempotent: a second run finds every backup current and writes nothing', async () => {
    await seedDrillSecrets(h, ['payments']);
    const id = await backup();
    assert.equal((await h.run(rekeyCommand, rekeyArgs())).code, 0);
    const keys = await keysOf(id);

    const r = await h.run(rekeyCommand, [...rekeyArgs(), '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).outcomes.map((o: { action: string; generation: number }) => [o.action, o.generation]),
      [['current', 1]],
    );
    assert.deepEqual(await keysOf(id), keys);
  });

  it('--dry-run lists what it would re-encrypt and to whom it is encrypted now, and writes nothing', async () => {
    await seedDrillSecrets(h, ['payments']);
    const id = await backup();
    const keys = await keysOf(id);

    const r = await h.run(rekeyCommand, [...rekeyArgs(), '--dry-run']);

    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${id}\\s+scheduled\\s+rekey \\(dry run\\)\\s+0\\s+${h.recipient.fingerprint}`));
    assert.match(r.stdout, /Dry run: nothing written\. 1 backup\(s\) would be re-encrypted/);
    assert.deepEqual(await keysOf(id), keys);
  });

  it('a rekeyed backup is authenticated only where the rekey key is trusted; elsewhere it is reported and never pruned', async () => {
    const seeded = await seedDrillSecrets(h, ['payments']);
    const id = await backup();
    assert.equal((await h.run(rekeyCommand, rekeyArgs())).code, 0);

    const listArgs = [...h.s3.args('bk'), '--cluster-name', 'test-cluster', ...trustArgs(h), '-o', 'json'];
    const trusted = await h.run(listBackupsCommand, [...listArgs, '--rekey-signer-key', keys.rekey.publicKey]);
    const untrusted = await h.run(listBackupsCommand, listArgs);
    const prune = await h.run(pruneCommand, [...h.baseArgs(), ...trustArgs(h), '--keep-last', '1', '--offline']);
    const age = await h.run(secretAgeCommand, [
      ...h.s3.args('bk'),
      '--cluster-name',
      'test-cluster',
      ...newReaderArgs().slice(h.baseArgs().length),
      '-o',
      'json',
    ]);

    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, new RegExp(`"id":\\s*"${id}"[^}]*"authenticated":\\s*true`));
    assert.match(
      untrusted.stdout,
      new RegExp(
        `"authenticated": false,\\s*"status": "forged: its seal is signed by ${keys.rekey.fingerprint}, which is not a trusted signer"`,
      ),
    );
    assert.match(prune.stdout, /keep \(not authenticated\)/);
    // secret-age reads the rekeyed index with the new key alone.
    assert.equal(age.code, 0, age.stdout + age.stderr);
    assert.deepEqual(JSON.parse(age.stdout).skipped, []);
    assert.equal(JSON.parse(age.stdout).secrets.length, seeded.size);
    assert.ok((await keysOf(id)).includes('seal.json.asc'));
  });

  it('a backup it cannot re-encrypt fails the run (exit 1) with a RekeyFailed Event; an expiring rekey key gets KeyExpiringSoon', async () => {
    await seedDrillSecrets(h, ['payments']);
    const id = await backup();
    // The first segment's bytes replaced at the same size: sealed, but not what the seal hashed.
    const key = `test-cluster/backups/${id}/segment-00001.json.gz.pgp`;
    const chunks: Buffer[] = [];
    for await (const c of await store.get(key)) chunks.push(c as Buffer);
    await store.put(key, Buffer.alloc(Buffer.concat(chunks).length, 7));
    const expiring = await writeTestKeyPair(h.dir, 'rekey-expiring', { expiresInSeconds: 5 * 86_400 });
    const args = rekeyArgs();
    args[args.indexOf(keys.rekey.privateKey)] = expiring.privateKey;
    args[args.indexOf(keys.rekey.passphraseFile)] = expiring.passphraseFile;

    const r = await h.run(rekeyCommand, [...args, '--output', 'json']);

    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).outcomes.map((o: { action: string }) => o.action),
      ['failed'],
    );
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; type?: string }>;
    assert.deepEqual(
      events
        .filter((ev) => ev.reason === 'RekeyFailed' || ev.reason === 'KeyExpiringSoon')
        .map((ev) => [ev.type, ev.reason])
        .sort(),
      [
        ['Warning', 'KeyExpiringSoon'],
        ['Warning', 'RekeyFailed'],
      ],
    );
  });

  it('refuses a --rekey-signing-key that is a backup signer (exit 2), naming the setting', async () => {
    const args = rekeyArgs();
    args[args.indexOf(keys.rekey.privateKey)] = h.signer.privateKey;
    args[args.indexOf(keys.rekey.passphraseFile)] = h.signer.passphraseFile;

    const r = await h.run(rekeyCommand, args);

    assert.equal(r.code, 2);
    assert.match(r.stderr + JSON.stringify(r.records), /--rekey-signing-key[^"]*is [0-9A-F]{40}, a key trusted to seal backups/);
  });

  it('refuses a signing key the --rekey-signer-key it is given does not list (exit 2), before writing anything; given none, it runs', async () => {
    await seedDrillSecrets(h, ['payments']);
    const id = await backup();
    const stored = await keysOf(id);
    const leases = () => h.emulator.list('coordination.k8s.io/v1', 'Lease').map((l) => JSON.stringify(l));
    const leasesBefore = leases();

    const refused = await h.run(rekeyCommand, [...rekeyArgs(), '--rekey-signer-key', keys.next.publicKey]);
    const refusedLeft = [await keysOf(id), leases()];
    const unlisted = await h.run(rekeyCommand, [...rekeyArgs(), '--dry-run']);

    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `--rekey-signer-key / SECRET_STEWARD_REKEY_SIGNER_KEY: this run's own signing key ${keys.rekey.fingerprint} is not listed: every reader checks rekey seals against this list`,
      ),
    );
    assert.deepEqual(refusedLeft, [stored, leasesBefore], 'the backup untouched, no Lease taken');
    assert.equal(unlisted.code, 0, unlisted.stderr);
    const warnings = unlisted.records.filter(
      (x) => x.level === 'warn' && x.setting === '--rekey-signer-key / SECRET_STEWARD_REKEY_SIGNER_KEY',
    );
    assert.deepEqual(warnings, [], 'given no list, rekey trusts its own key as the shipped manifests configure it');
  });
});
