/**
 * A bucket of sealed backups for the catalogue, retention and prune tests: backups whose
 * segments and index are random bytes (the catalogue never decrypts) under real seals signed by
 * throwaway keys, one per kind, plus the ways an attacker or an accident adds objects.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupLayout, compactTime } from '../../../shared/backup/backup-layout.js';
import { type BackupSeal, SEAL_FORMAT, type SealTrust, writeSeal } from '../../../shared/backup/backup-seal.js';
import { loadSigningKey, loadTrustedSignerKeys, type SigningKey, type TrustedSignerKey } from '../../../shared/crypto/index.js';
import { FileObjectStore } from '../../../shared/storage/file-object-store.js';
import { makeTestKey, TempDir } from '../crypto/support.js';

export const CLUSTER = 'prod';
export const CLUSTER_UID = '6f1d2c3a-0000-4000-8000-00000000c1a5';

export interface SealedBucket {
  store: FileObjectStore;
  layout: BackupLayout;
  keys: { scheduled: SigningKey; preRestore: SigningKey; stranger: SigningKey };
  trusted: { scheduled: TrustedSignerKey[]; preRestore: TrustedSignerKey[]; stranger: TrustedSignerKey[] };
  /** Trust as the backup job of CLUSTER_UID has it. */
  trust(now: Date, o?: Partial<SealTrust>): SealTrust;
  /** Writes a sealed backup: two segments and an index of random bytes, sealed by `by` (default: the key of its kind). */
  backup(
    at: string,
    o?: { kind?: BackupSeal['kind']; by?: SigningKey; clusterUid?: string; secrets?: number; suffix?: string; signedAt?: Date },
  ): Promise<string>;
  /** Puts raw bytes at a key under the store root. */
  put(key: string, body: Buffer | string): Promise<void>;
  /** Every key in the store, sorted. */
  keys_(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Signing keys for seals (one per kind and a stranger's), made once per test file: see {@link sealedBucket}. */
export interface SealKeys {
  scheduled: { signing: SigningKey; trusted: TrustedSignerKey[] };
  preRestore: { signing: SigningKey; trusted: TrustedSignerKey[] };
  stranger: { signing: SigningKey; trusted: TrustedSignerKey[] };
  cleanup(): void;
}

export async function makeSealKeys(): Promise<SealKeys> {
  const keyDir = new TempDir();
  const load = async (name: string) => {
    // Made in the past: seals are signed at the backups' own (test) times.
    const k = await makeTestKey(keyDir, name, { date: new Date('2020-01-01T00:00:00Z') });
    return {
      signing: (await loadSigningKey(k.privateFile, k.passphraseFile, { now: new Date() })).key,
      trusted: await loadTrustedSignerKeys([k.publicFile]),
    };
  };
  const [scheduled, preRestore, stranger] = await Promise.all([load('backup-signer'), load('pre-restore-signer'), load('stranger')]);
  return { scheduled, preRestore, stranger, cleanup: () => keyDir.cleanup() };
}

/** An empty bucket (a file:// store in a temp dir) and the seal keys to fill it with. */
export async function sealedBucket(k: SealKeys): Promise<SealedBucket> {
  const dir = await mkdtemp(join(tmpdir(), 'ss-catalogue-'));
  const store = new FileObjectStore(join(dir, 'store'));
  const layout = new BackupLayout(CLUSTER);
  const { scheduled, preRestore, stranger } = k;
  const put = async (key: string, body: Buffer | string) => {
    await store.put(key, Buffer.from(body));
  };
  let n = 0;
  return {
    store,
    layout,
    keys: { scheduled: scheduled.signing, preRestore: preRestore.signing, stranger: stranger.signing },
    trusted: { scheduled: scheduled.trusted, preRestore: preRestore.trusted, stranger: stranger.trusted },
    trust: (now, o = {}) => ({
      signers: { scheduled: scheduled.trusted, 'pre-restore': preRestore.trusted },
      clusterUid: CLUSTER_UID,
      now,
      ...o,
    }),
    async backup(at, o = {}) {
      const created = new Date(at);
      const id = `${compactTime(created)}-${o.suffix ?? (n++).toString(16).padStart(6, '0')}`;
      const kind = o.kind ?? 'scheduled';
      const segments: BackupSeal['segments'] = [];
      for (const name of ['segment-00001.json.gz.pgp', 'segment-00002.json.gz.pgp']) {
        const body = randomBytes(200 + segments.length);
        await put(layout.backupPrefix(id) + name, body);
        segments.push({ name, size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      }
      const index = randomBytes(300);
      await put(layout.indexKey(id), index);
      const seal: BackupSeal = {
        format: SEAL_FORMAT,
        backupId: id,
        cluster: CLUSTER,
        clusterUid: o.clusterUid ?? CLUSTER_UID,
        kind,
        createdAt: created.toISOString(),
        completedAt: new Date(created.getTime() + 60_000).toISOString(),
        toolVersion: 'test',
        index: { size: index.length, sha256: createHash('sha256').update(index).digest('hex') },
        segments,
        totals: { secrets: o.secrets ?? 10, segments: 2, storedBytes: segments.reduce((s, x) => s + x.size, 0), plaintextBytes: 1000 },
        recipients: ['ABCD'],
      };
      const by = o.by ?? (kind === 'scheduled' ? scheduled.signing : preRestore.signing);
      await writeSeal(store, layout, seal, by, o.signedAt ?? new Date(created.getTime() + 60_000));
      return id;
    },
    put,
    async keys_() {
      const out: string[] = [];
      for await (const o of store.list('')) out.push(o.key);
      return out.sort();
    },
    async stop() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The hooks of a suite on sealed buckets: the seal keys made once for the file (key generation
 * is the slow part), an empty bucket before each test, stopped after it. `onBucket` hands each
 * test's bucket (and through it the keys) to the suite.
 */
export function useSealedBuckets(onBucket: (b: SealedBucket) => void): void {
  let keys: SealKeys;
  let b: SealedBucket;
  before(async () => {
    keys = await makeSealKeys();
  });
  after(() => keys.cleanup());
  beforeEach(async () => {
    b = await sealedBucket(keys);
    onBucket(b);
  });
  afterEach(async () => b.stop());
}
