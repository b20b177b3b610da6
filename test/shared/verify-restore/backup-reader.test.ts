import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { readCatalogue } from '../../../shared/backup/backup-catalog.js';
import type { BackupIndex } from '../../../shared/backup/backup-index.js';
import { BackupLayout, type Compression } from '../../../shared/backup/backup-layout.js';
import { loadSealTrust } from '../../../shared/backup/catalogue-settings.js';
import { createLogger, MemorySink, REDACTED, redactor } from '../../../shared/log/index.js';
import { FileObjectStore } from '../../../shared/storage/index.js';
import { type BackupItem, openResolved, resolveBackup, VerifiedBackup } from '../../../shared/verify-restore/backup-reader.js';
import { BackupVerificationError } from '../../../shared/verify-restore/verification-error.js';
import { loadVerificationKeys, type VerificationKeys } from '../../../shared/verify-restore/verification-keys.js';
import { type TestKeyFiles, writeTestKeyPair } from '../../support/job-harness.js';
import { rewriteIndex as rewriteLegacyIndex, writeBackup } from '../../support/write-backup.js';

const layout = new BackupLayout('unit');
const log = createLogger({ sink: new MemorySink() });
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function secrets(n: number, valueBytes = 64, ns = 'apps'): V1Secret[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `s-${String(i).padStart(3, '0')}`, namespace: ns, uid: `u${i}`, resourceVersion: String(i) },
    type: 'Opaque',
    data: { v: b64(`reader-value-${i}-`.padEnd(valueBytes, 'x')) },
  }));
}

describe('shared/verify-restore/backup-reader', function () {
  this.timeout(60_000);
  let dir: string;
  let store: FileObjectStore;
  let recipient: TestKeyFiles;
  let signer: TestKeyFiles;
  let keys: VerificationKeys;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reader-'));
    recipient = await writeTestKeyPair(dir, 'r');
    signer = await writeTestKeyPair(dir, 's');
    keys = await loadVerificationKeys({
      decryptionKey: [recipient.privateKey],
      decryptionKeyPassphraseFile: recipient.passphraseFile,
      trustedSignerKey: [signer.publicKey],
      preRestoreSignerKey: [],
      incompleteGrace: 0,
      allowUnsigned: [],
    });
  });
  after(async () => rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    store = new FileObjectStore(await mkdtemp(join(dir, 'store-')));
  });

  function backup(
    items: V1Secret[],
    o: { segmentBytes?: number; compression?: Compression; kind?: 'scheduled' | 'pre-restore' } = {},
  ): Promise<string> {
    return writeBackup(items, { store, layout, recipient, signer, log }, o);
  }

  async function readAll(b: VerifiedBackup): Promise<BackupItem[]> {
    const out: BackupItem[] = [];
    for (let n = 1; n <= b.segmentCount; n++) for await (const item of b.readSegment(n)) out.push(item);
    return out;
  }

  /** Rewrites the index as a backup made before seals (no seal: the index checks alone decide). */
  const rewriteIndex = (id: string, edit: (i: BackupIndex) => void) => rewriteLegacyIndex({ store, layout, recipient, signer }, id, edit);

  /** Opens backup `id` as verify-restore and restore do: judged on the catalogue (sealed, or made before seals). */
  const open = async (id: string, k: VerificationKeys = keys) => {
    const r = resolveBackup(await catalogue(), 'unit', id, new Date());
    return (await openResolved({ store, layout, keys: k, now: new Date() }, r!)).backup;
  };

  async function rejects(p: Promise<unknown>, kind: string, message: RegExp): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof BackupVerificationError, String(e));
      assert.equal(e.kind, kind);
      assert.match(e.message, message);
      return true;
    });
  }

  it('reads a multi-segment backup Secret by Secret, in index order, and registers every value with the redactor', async () => {
    const items = secrets(30, 60_000);
    const id = await backup(items);

    const b = await open(id);
    const read = await readAll(b);

    assert.ok(b.segmentCount >= 2, `segments: ${b.segmentCount}`);
    assert.equal(b.signature.status, 'valid');
    assert.deepEqual(
      read.map((i) => i.secret.metadata.name),
      items.map((s) => s.metadata!.name),
    );
    assert.ok(read.every((i) => i.mismatch === undefined && i.entry.name === i.secret.metadata.name));
    assert.deepEqual(
      read.map((i) => i.secret.data),
      items.map((s) => s.data),
    );
    const value = Buffer.from(items[7].data!.v, 'base64').toString();
    assert.equal(redactor.sanitize(`x ${value} y`), `x ${REDACTED} y`);
  });

  it('reads uncompressed backups too', async () => {
    const id = await backup(secrets(5), { compression: 'none' });

    assert.equal((await readAll(await open(id))).length, 5);
  });

  it('flags a Secret whose data does not match its (signed) index entry, and goes on with the rest', async () => {
    const id = await backup(secrets(5));
    await rewriteIndex(id, (i) => {
      i.secrets[2].dataSha256 = '0'.repeat(64);
    });

    const read = await readAll(await open(id));

    assert.deepEqual(
      read.map((i) => i.mismatch),
      [undefined, undefined, 'Secret apps/s-002: the SHA-256 of its data differs from the one recorded in the index', undefined, undefined],
    );
  });

  it('flags Secrets stored in another order than the index lists them', async () => {
    const id = await backup(secrets(3));
    await rewriteIndex(id, (i) => {
      [i.secrets[0], i.secrets[1]] = [i.secrets[1], i.secrets[0]];
    });

    const read = await readAll(await open(id));

    assert.match(
      read[0].mismatch ?? '',
      /^item 1 of segment-00001\.json\.gz\.pgp is Secret apps\/s-000, but the index lists apps\/s-001 at that position$/,
    );
  });

  const inconsistent: Array<[string, (i: BackupIndex) => void, RegExp]> = [
    ['a wrong total', (i) => void (i.totals.secrets += 1), /totals\.secrets is 4, but 3 Secrets are listed/],
    [
      'a renamed segment',
      (i) => void (i.segments[0].name = 'segment-00002.json.gz.pgp'),
      /segment 1 is named segment-00002\.json\.gz\.pgp, expected segment-00001\.json\.gz\.pgp/,
    ],
    ['a duplicate Secret', (i) => void (i.secrets[1] = { ...i.secrets[0] }), /Secret apps\/s-000 is listed twice/],
    ['a reference to a missing segment', (i) => void (i.secrets[2].segment = 9), /refers to segment 9, which does not exist/],
    [
      'a segment larger than any can be',
      (i) => void (i.segments[0].plaintextBytes = 2 ** 32),
      /segment-00001\.json\.gz\.pgp records 4294967296 bytes of plaintext, more than a segment can hold/,
    ],
  ];
  for (const [what, edit, message] of inconsistent) {
    it(`refuses an index with ${what}`, async () => {
      const id = await backup(secrets(3));
      await rewriteIndex(id, edit);

      await rejects(open(id), 'index-inconsistent', message);
    });
  }

  it('refuses an index that names another signer than the one that signed it', async () => {
    const id = await backup(secrets(2));
    await rewriteIndex(id, (i) => void (i.signer = 'F'.repeat(40)));

    await rejects(open(id), 'bad-signature', new RegExp(`names F{40} as its signer but was signed by ${signer.fingerprint}`));
  });

  it('says a backup without an index is incomplete', async () => {
    await rejects(
      open('20261127T031500Z-3f9a1c'),
      'no-index',
      /backup 20261127T031500Z-3f9a1c has no index \(.*index\.json\.pgp is missing\): it is incomplete/,
    );
  });

  it('explains a segment with bytes appended, and one holding another segment of the same backup', async () => {
    const id = await backup(secrets(30, 60_000));
    const seg1 = layout.segmentKey(id, 1, 'gzip');
    const seg2 = layout.segmentKey(id, 2, 'gzip');
    const original1 = await store.getBytes(seg1, 64 << 20);
    await store.put(seg1, Buffer.concat([original1, Buffer.from('appended')]));

    const b = await open(id);
    await rejects(
      readAll(b),
      'segment-extended',
      /segment-00001\.json\.gz\.pgp of backup .* is longer than recorded: \d+ bytes stored, the index records \d+ \(8 bytes too many\)/,
    );

    await store.put(seg1, await store.getBytes(seg2, 64 << 20));
    await rejects(
      readAll(await open(id)),
      'segment-swapped',
      /segment-00001\.json\.gz\.pgp of backup .* holds the bytes of segment-00002\.json\.gz\.pgp of the same backup/,
    );
  });

  it('warns about objects in the backup that its index does not name', async () => {
    const id = await backup(secrets(2));
    await store.put(`${layout.backupPrefix(id)}segment-00009.json.gz.pgp`, Buffer.from('stray'));

    const b = await open(id);

    assert.match(b.warnings.join('\n'), /holds objects its index does not name \(ignored\): segment-00009\.json\.gz\.pgp/);
  });

  /** The catalogue as verify-restore and restore read it: the signer trusted for both kinds here. */
  async function catalogue() {
    const trust = await loadSealTrust(
      { trustedSignerKey: [signer.publicKey], preRestoreSignerKey: [signer.publicKey] },
      { now: new Date() },
    );
    return readCatalogue(store, layout, trust);
  }

  it('resolves latest to the newest authenticated scheduled backup, never a pre-restore one or an unsealed one', async () => {
    const scheduled = await backup(secrets(1));
    await new Promise((r) => setTimeout(r, 1100));
    await backup(secrets(1), { kind: 'pre-restore' });
    await store.put(layout.indexKey('20991231T000000Z-ffffff'), Buffer.from('a forged index, far in the future'));

    const c = await catalogue();

    assert.equal(resolveBackup(c, 'unit', 'latest', new Date())?.id, scheduled);
    assert.deepEqual(resolveBackup(c, 'unit', '20261127T031500Z-3f9a1c', new Date()), {
      id: '20261127T031500Z-3f9a1c',
      auth: { legacy: true },
    });
  });

  it('before any backup is sealed, latest is the newest unsealed one with an index and no future id (made before seals)', async () => {
    const old = await writeBackup(secrets(1), { store, layout, recipient, signer, log }, { unsealed: true });
    await store.put(layout.indexKey('20991231T000000Z-ffffff'), Buffer.from('a forged index, far in the future'));

    const r = resolveBackup(await catalogue(), 'unit', 'latest', new Date());
    const { backup: b, skipped } = await openResolved({ store, layout, keys, now: new Date() }, r!);

    assert.deepEqual(r, { id: old, auth: { legacy: true }, candidates: [old] });
    assert.deepEqual(skipped, []);
    assert.equal(b.signature.status, 'valid', 'a backup made before seals is authenticated by its index signature');
  });

  it('refuses to resolve an id whose seal is forged', async () => {
    const id = await backup(secrets(1));
    await store.put(layout.sealKey(id), Buffer.from('not a seal'));

    const c = await catalogue();
    assert.throws(
      () => resolveBackup(c, 'unit', id, new Date()),
      (e) => e instanceof BackupVerificationError && e.kind === 'not-authenticated' && /is not authenticated: forged/.test(e.message),
    );
  });

  it('opening a sealed backup checks the stored index against the seal before decrypting it', async () => {
    const id = await backup(secrets(2));
    const c = await catalogue();
    const r = resolveBackup(c, 'unit', 'latest', new Date())!;
    await rewriteIndex(id, (i) => {
      i.secrets[0].name = 'renamed';
    });

    const e = await VerifiedBackup.open({ store, layout, keys, now: new Date() }, id, r.auth).catch((x) => x);

    assert.ok(e instanceof BackupVerificationError && e.kind === 'index-unreadable', String(e));
    assert.match(e.message, /index of backup .* (differs from its seal|is larger than its seal records)/);
  });

  it('a wrong passphrase is a verification failure (key-locked), other key problems stay configuration errors', async () => {
    const wrong = join(dir, 'wrong-pass');
    await (await import('node:fs/promises')).writeFile(wrong, 'nope\n');

    await rejects(
      loadVerificationKeys({
        decryptionKey: [recipient.privateKey],
        decryptionKeyPassphraseFile: wrong,
        trustedSignerKey: [],
        preRestoreSignerKey: [],
        incompleteGrace: 0,
        allowUnsigned: [],
      }),
      'key-locked',
      /cannot unlock decryption key [0-9A-F]{40} from .*r\.private\.asc: wrong passphrase/,
    );
    await assert.rejects(
      loadVerificationKeys({
        decryptionKey: [join(dir, 'missing.asc')],
        trustedSignerKey: [],
        preRestoreSignerKey: [],
        incompleteGrace: 0,
        allowUnsigned: [],
      }),
      /cannot read .*missing\.asc: no such file/,
    );
  });
});
