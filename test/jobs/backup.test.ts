import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { backupCommand } from '../../jobs/backup.js';
import { pruneCommand } from '../../jobs/prune.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { secretDataDigest } from '../../shared/backup/secret-digest.js';
import { OWNER_REFERENCES_ANNOTATION } from '../../shared/backup/secret-export.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { readBackup } from '../support/backup-reader.js';
import { requireDependency } from '../support/dependencies.js';
import { type Harness, startHarness, writeTestKeyPair } from '../support/job-harness.js';
import { hasPushgateway, PUSHGATEWAY_INSTALL, startPushgateway } from '../support/pushgateway.js';
import { seedCommonSecrets } from '../support/seed-secrets.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('jobs/backup', function () {
  this.timeout(120_000);
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => h?.stop());

  const keyArgs = () => [
    '--recipient-key',
    h.recipient.publicKey,
    '--signing-key',
    h.signer.privateKey,
    '--signing-key-passphrase-file',
    h.signer.passphraseFile,
  ];

  it('backs up Secrets of every common type and they decrypt byte-identical', async () => {
    const expected = seedCommonSecrets(h);

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);

    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.records.filter((x) => x.level !== 'info')));
    const summary = JSON.parse(r.stdout) as { backupId: string; secrets: number };
    assert.equal(summary.secrets, expected.size);
    const store = createObjectStore(h.s3.settings('bk'));
    const back = await readBackup(store, 'test-cluster', summary.backupId, h.recipient, h.signer);
    assert.equal(back.signature, 'valid');
    assert.equal(back.secrets.length, expected.size);
    for (const s of back.secrets) {
      const want = expected.get(`${s.metadata.namespace}/${s.metadata.name}`);
      assert.ok(want, `unexpected ${s.metadata.namespace}/${s.metadata.name}`);
      assert.deepEqual(s.data ?? {}, want, `${s.metadata.namespace}/${s.metadata.name}`);
      const entry = back.index.secrets.find((e) => e.namespace === s.metadata.namespace && e.name === s.metadata.name);
      assert.equal(entry?.dataSha256, secretDataDigest(want));
    }
    assert.ok(!back.secrets.some((s) => s.type === 'kubernetes.io/service-account-token'));
  });

  it('retention after a backup that took time counts its own new seal as authenticated', async () => {
    seedCommonSecrets(h);
    // Every reading of the clock is 1.5 s later than the one before, as in a real run that
    // takes minutes: the seal is signed at completion, well after the run started.
    let t = Date.now();
    const ticking = {
      now: () => new Date((t += 1500)),
      sleep: async (ms: number) => {
        t += ms;
      },
    };

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--keep-daily', '1', '--output', 'json'], { clock: ticking });

    assert.equal(r.code, 0, r.stderr);
    const retention = (JSON.parse(r.stdout) as { retention: { kept: number; unauthenticated: number } }).retention;
    assert.deepEqual([retention.kept, retention.unauthenticated], [1, 0]);
    assert.equal(r.records.filter((x) => x.msg === 'backup not authenticated: kept and reported, never deleted by retention').length, 0);
  });

  it('stores Secrets without server-populated fields and keeps ownerReferences only in an annotation', async () => {
    seedCommonSecrets(h, ['apps']);

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);

    assert.equal(r.code, 0, r.stderr);
    const back = await readBackup(createObjectStore(h.s3.settings('bk')), 'test-cluster', JSON.parse(r.stdout).backupId, h.recipient);
    const text = back.segmentTexts.join('\n');
    for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'selfLink', 'ownerReferences', 'generation']) {
      assert.ok(!text.includes(`"${field}"`), field);
    }
    const owned = back.secrets.find((s) => s.metadata.name === 'owned');
    const owner = h.emulator.get('v1', 'ConfigMap', 'apps', 'owner')!;
    assert.deepEqual(JSON.parse(owned!.metadata.annotations![OWNER_REFERENCES_ANNOTATION]), [
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, controller: false },
    ]);
    assert.equal(back.secrets.find((s) => s.metadata.name === 'immutable')?.immutable, true);
  });

  it('splits the payload into bounded segments, each a complete v1 List', async () => {
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'many' } } as never);
    for (let i = 0; i < 12; i++) {
      h.emulator.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `s${i}`, namespace: 'many' },
        data: { v: randomBytes(300 * 1024).toString('base64') },
      } as never);
    }

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--segment-size', '1', '--output', 'json', '--page-size', '10']);

    assert.equal(r.code, 0, r.stderr);
    const back = await readBackup(createObjectStore(h.s3.settings('bk')), 'test-cluster', JSON.parse(r.stdout).backupId, h.recipient);
    assert.ok(back.index.segments.length >= 4, `segments: ${back.index.segments.length}`);
    assert.equal(back.secrets.length, 12);
    for (const seg of back.index.segments) assert.ok(seg.plaintextBytes <= 1024 * 1024 + 450 * 1024, String(seg.plaintextBytes));
    assert.deepEqual(
      back.index.segments.map((s) => s.items).reduce((a, b) => a + b, 0),
      12,
    );
  });

  it('selects by namespace, excluded namespace, label selector and excluded type', async () => {
    seedCommonSecrets(h, ['a', 'b', 'c']);
    const cases: Array<{ args: string[]; expect: string[] }> = [
      { args: ['--namespace', 'a', '--namespace', 'b', '--selector', 'app=x'], expect: ['a/opaque', 'b/opaque'] },
      {
        args: ['--exclude-namespace', 'a', '--exclude-namespace', 'b', '--exclude-type', 'Opaque'],
        expect: ['c/basic', 'c/registry', 'c/tls'],
      },
    ];
    for (const c of cases) {
      const r = await h.run(backupCommand, [...h.baseArgs(`sel-${cases.indexOf(c)}`), ...keyArgs(), ...c.args, '--output', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const back = await readBackup(
        createObjectStore(h.s3.settings(`sel-${cases.indexOf(c)}`)),
        'test-cluster',
        JSON.parse(r.stdout).backupId,
        h.recipient,
      );
      assert.deepEqual(back.index.secrets.map((s) => `${s.namespace}/${s.name}`).sort(), c.expect, c.args.join(' '));
    }
  });

  it('--dry-run prints counts per namespace and type and writes nothing (no object, no Lease, no Event)', async () => {
    seedCommonSecrets(h, ['a']);
    h.emulator.requests.clear();

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--dry-run']);

    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Dry run: nothing written\. Would back up 8 Secrets/);
    assert.match(r.stdout, /a +kubernetes\.io\/tls +1/);
    const writes = h.emulator.requests.entries.filter((e) => !['get', 'list', 'watch'].includes(e.verb ?? ''));
    assert.deepEqual(writes, []);
    const objects: string[] = [];
    for await (const o of createObjectStore(h.s3.settings('')).list('')) objects.push(o.key);
    assert.deepEqual(objects, []);
  });

  it('fails (exit 1) on an empty selection unless --allow-empty', async () => {
    const refused = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--namespace', 'nothing-here']);
    const allowed = await h.run(backupCommand, [
      ...h.baseArgs(),
      ...keyArgs(),
      '--namespace',
      'nothing-here',
      '--allow-empty',
      '--output',
      'json',
    ]);

    assert.equal(refused.code, 1);
    assert.match(JSON.stringify(refused.records), /no Secrets matched the selection/);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(JSON.parse(allowed.stdout).secrets, 0);
  });

  it('fails when the count shrank by more than the threshold, and leaves nothing behind', async () => {
    seedCommonSecrets(h, ['a', 'b']);
    const first = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs()]);
    assert.equal(first.code, 0, first.stderr);
    h.emulator.delete('v1', 'Namespace', undefined, 'b');
    h.emulator.delete('v1', 'Namespace', undefined, 'a');
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } } as never);
    h.emulator.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'only', namespace: 'a' }, data: { k: b64('v') } } as never);

    const shrunk = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs()]);
    const allowed = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--allow-shrink']);

    assert.equal(shrunk.code, 1);
    assert.match(JSON.stringify(shrunk.records), /Secret count dropped from 15 .* to 1, more than 50%/);
    assert.equal(allowed.code, 0, allowed.stderr);
    const ids = new Set<string>();
    for await (const o of createObjectStore(h.s3.settings('bk')).list('test-cluster/backups/')) ids.add(o.key.split('/')[2]);
    assert.equal(ids.size, 2, 'the refused run left no objects');
  });

  it('fails before anything is uploaded when a recipient key has expired, with a clear error', async () => {
    seedCommonSecrets(h, ['a']);
    const expired = await writeTestKeyPair(h.dir, 'expired', { now: new Date(Date.now() - 10 * 86_400_000), expiresInSeconds: 86_400 });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...h.signingArgs(), '--recipient-key', expired.publicKey]);

    assert.equal(r.code, 2);
    assert.match(r.stderr, /expired/);
    assert.match(r.stderr, /--recipient-key/);
    const objects: string[] = [];
    for await (const o of createObjectStore(h.s3.settings('')).list('')) objects.push(o.key);
    assert.deepEqual(objects, []);
  });

  it('warns (log and Event) about a recipient key expiring within the window', async () => {
    seedCommonSecrets(h, ['a']);
    const soon = await writeTestKeyPair(h.dir, 'soon', { expiresInSeconds: 5 * 86_400 });

    const r = await h.run(backupCommand, [...h.baseArgs(), ...h.signingArgs(), '--recipient-key', soon.publicKey]);

    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.records.some((x) => x.level === 'warn' && /expires/.test(String(x.msg))));
    const events = h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; type?: string }>;
    assert.ok(events.some((e) => e.reason === 'KeyExpiringSoon' && e.type === 'Warning'));
    assert.ok(events.some((e) => e.reason === 'BackupCompleted'));
  });

  it('pushes its metrics, and prune its own, to a real Pushgateway under the cluster', async function () {
    requireDependency(this, 'prometheus-pushgateway', hasPushgateway(), PUSHGATEWAY_INSTALL);
    const gw = await startPushgateway();
    try {
      seedCommonSecrets(h, ['a']);
      const soon = await writeTestKeyPair(h.dir, 'soon', { expiresInSeconds: 5 * 86_400 });
      const backupArgs = [
        ...h.baseArgs(),
        ...h.signingArgs(),
        '--recipient-key',
        soon.publicKey,
        '--pushgateway',
        gw.url,
        '--keep-last',
        '5',
      ];

      const first = await h.run(backupCommand, backupArgs);
      const second = await h.run(backupCommand, backupArgs);
      const pruned = await h.run(pruneCommand, [
        ...h.baseArgs(),
        '--trusted-signer-key',
        h.signer.publicKey,
        '--keep-last',
        '1',
        '--pushgateway',
        gw.url,
      ]);

      assert.equal(first.code, 0, first.stderr);
      assert.equal(second.code, 0, second.stderr);
      // Its own retention pass, after the backup, must believe the seal it just wrote.
      assert.doesNotMatch(first.stdout + second.stdout, /not authenticated/);
      assert.equal(pruned.code, 0, pruned.stderr);
      const text = await gw.metrics();
      const value = (name: string, labels = '') =>
        Number(new RegExp(`^${name}\\{cluster="test-cluster",${labels}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
      assert.equal(value('secret_steward_backup_success'), 1);
      assert.ok(value('secret_steward_backup_last_run_timestamp_seconds') > 1_700_000_000);
      assert.equal(
        value('secret_steward_backup_last_success_timestamp_seconds'),
        value('secret_steward_backup_last_run_timestamp_seconds'),
      );
      assert.ok(value('secret_steward_backup_secrets') > 0);
      assert.ok(value('secret_steward_backup_size_bytes') > 0);
      const expiry = value('secret_steward_key_expiry_timestamp_seconds', `fingerprint="${soon.fingerprint}",[^}]*role="recipient"`);
      assert.ok(Math.abs(expiry - (Date.now() / 1000 + 5 * 86_400)) < 3600, `recipient key expiry ${expiry}`);
      assert.doesNotMatch(text, /role="signing"/, "the harness's signing key never expires: no sample");
      assert.equal(value('secret_steward_unauthenticated_backups', 'instance="",job="secret-steward-backup"'), 0);
      assert.equal(value('secret_steward_prune_success'), 1);
      assert.equal(value('secret_steward_prune_backups', 'decision="deleted"'), 1);
      assert.equal(value('secret_steward_prune_backups', 'decision="kept"'), 1);
      assert.ok(value('secret_steward_prune_deleted_bytes') > 0);
      assert.equal(value('secret_steward_unauthenticated_backups', 'instance="",job="secret-steward-prune"'), 0);
    } finally {
      await gw.stop();
    }
  });

  it('records the layout: segments, an index and a seal under <cluster>/backups/<id>/, with nothing sensitive in the clear', async () => {
    seedCommonSecrets(h, ['a']);

    const r = await h.run(backupCommand, [...h.baseArgs(), ...keyArgs(), '--output', 'json']);

    const id = JSON.parse(r.stdout).backupId as string;
    const layout = new BackupLayout('test-cluster');
    const store = createObjectStore(h.s3.settings('bk'));
    const keys: string[] = [];
    for await (const o of store.list(layout.backupPrefix(id))) keys.push(o.key);
    assert.deepEqual(keys, [layout.indexKey(id), layout.sealKey(id), layout.segmentKey(id, 1, 'gzip')]);
    const meta = (await store.head(layout.indexKey(id)))?.metadata ?? {};
    assert.equal(meta['ss-secrets'], '8');
    assert.equal(meta['ss-signer'], h.signer.fingerprint);
    assert.ok(!JSON.stringify(meta).includes('payments') && !JSON.stringify(meta).includes('opaque'));
    const seal = (await store.getBytes(layout.sealKey(id))).toString();
    assert.match(seal, /^-----BEGIN PGP SIGNED MESSAGE-----\n/);
    assert.match(seal, new RegExp(`"backupId":"${id}","cluster":"test-cluster","clusterUid":"${h.clusterUid}","kind":"scheduled"`));
    assert.match(seal, /"totals":\{"secrets":8,"segments":1,/);
    assert.ok(!seal.includes('payments') && !seal.includes('opaque'), 'names no namespace or Secret');
  });
});
