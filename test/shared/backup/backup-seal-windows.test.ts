import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { authenticatedBackups, problemOf, readCatalogue } from '../../../shared/backup/backup-catalog.js';
import type { WindowedSigner } from '../../../shared/backup/backup-seal.js';
import { loadSigningKey, loadTrustedSignerKeys } from '../../../shared/crypto/index.js';
import { makeTestKey, TempDir } from '../crypto/support.js';
import { makeSealKeys, type SealedBucket, type SealKeys, sealedBucket } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');
/** The old key's end in the rollover below; the new key's window opens two days earlier. */
const RETIRED = new Date('2026-12-05T00:00:00Z');

/**
 * Signer windows (`--trusted-signer-key FILE,notBefore=,notAfter=`): a seal is believed only when
 * its signature was made inside its signer's window, and was written to the store (the store's
 * own time, LastModified) no later than the window's end plus the clock skew.
 */
describe('shared/backup/backup-seal (signer windows)', function () {
  this.timeout(60_000);
  let keys: SealKeys;
  let b: SealedBucket;
  let old: WindowedSigner;
  let next: WindowedSigner;
  before(async () => {
    keys = await makeSealKeys();
    old = { ...keys.scheduled.trusted[0], notAfter: RETIRED };
    // The stranger's key plays the new signing key of the rollover.
    next = { ...keys.stranger.trusted[0], notBefore: new Date('2026-12-03T00:00:00Z') };
  });
  after(() => keys.cleanup());
  beforeEach(async () => {
    b = await sealedBucket(keys);
  });
  afterEach(async () => b.stop());

  const trust = (...scheduled: WindowedSigner[]) => b.trust(NOW, { signers: { scheduled, 'pre-restore': [] } });
  /** Sets the seal's store time (a file store's LastModified is the file's mtime). */
  const storedAt = (id: string, at: Date) => utimes(join(b.store.dir, b.layout.sealKey(id)), at, at);
  const judged = async (t = trust(old, next)) => {
    const c = await readCatalogue(b.store, b.layout, t);
    return {
      sealed: authenticatedBackups(c).map((a) => a.id),
      problems: c.entries.flatMap((e) => (problemOf(e) ? [[e.id, problemOf(e)]] : [])),
    };
  };

  it('overlapping windows during a rollover: backups by the old key before its end and by the new key after its start are both sealed', async () => {
    const byOld = await b.backup('2026-12-04T03:00:00Z');
    const byNext = await b.backup('2026-12-04T04:00:00Z', { by: keys.stranger.signing });
    await storedAt(byOld, new Date('2026-12-04T03:01:00Z'));
    await storedAt(byNext, new Date('2026-12-04T04:01:00Z'));

    const r = await judged();

    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.sealed, [byNext, byOld]);
  });

  it('a seal signed by the retired key after its notAfter is forged (reported, never a restore point); one signed before it stays sealed', async () => {
    const before_ = await b.backup('2026-12-01T03:00:00Z');
    const after_ = await b.backup('2026-12-06T03:00:00Z');
    await storedAt(before_, new Date('2026-12-01T03:01:00Z'));
    await storedAt(after_, new Date('2026-12-06T03:01:00Z'));

    const r = await judged();

    assert.deepEqual(r.sealed, [before_]);
    assert.deepEqual(r.problems, [
      [
        after_,
        `forged: its seal is signed at 2026-12-06T03:01:00.000Z by ${old.fingerprint}, after it was retired (notAfter=2026-12-05T00:00:00.000Z)`,
      ],
    ]);
  });

  it('a seal signed by the new key before its notBefore is forged', async () => {
    const early = await b.backup('2026-12-02T03:00:00Z', { by: keys.stranger.signing });
    await storedAt(early, new Date('2026-12-02T03:01:00Z'));

    const r = await judged();

    assert.deepEqual(r.problems, [
      [
        early,
        `forged: its seal is signed at 2026-12-02T03:01:00.000Z by ${next.fingerprint}, before that key's window opens (notBefore=2026-12-03T00:00:00.000Z)`,
      ],
    ]);
  });

  it('backdating: a seal dated inside the window but written by the store after its end (beyond the clock skew) is forged; within the skew, sealed', async () => {
    // Both are signed (and their ids dated) a day before the old key's end; what differs is when
    // the store wrote them, which the signer does not choose.
    const backdated = await b.backup('2026-12-04T00:00:00Z');
    const late = await b.backup('2026-12-04T00:00:00Z');
    await storedAt(backdated, new Date('2026-12-05T00:10:01Z'));
    await storedAt(late, new Date('2026-12-05T00:10:00Z'));

    const r = await judged();

    assert.deepEqual(r.sealed, [late]);
    assert.deepEqual(r.problems, [
      [
        backdated,
        `forged: its seal says it was signed at 2026-12-04T00:01:00.000Z by ${old.fingerprint}, but the store wrote it at 2026-12-05T00:10:01.000Z, after it was retired (notAfter=2026-12-05T00:00:00.000Z): a backdated signature`,
      ],
    ]);
  });

  it('backdating: a seal signed before the backup it seals was created (beyond the clock skew) is forged', async () => {
    const id = await b.backup('2026-12-04T00:00:00Z', { signedAt: new Date('2026-12-03T23:49:59Z') });
    const within = await b.backup('2026-12-04T01:00:00Z', { signedAt: new Date('2026-12-04T00:50:00Z') });
    await storedAt(id, new Date('2026-12-04T00:01:00Z'));
    await storedAt(within, new Date('2026-12-04T01:01:00Z'));

    const r = await judged();

    assert.deepEqual(r.sealed, [within]);
    assert.deepEqual(r.problems, [
      [id, 'forged: its seal is signed at 2026-12-03T23:49:59.000Z, before the backup it seals was created (2026-12-04T00:00:00.000Z)'],
    ]);
  });

  it("a key's own retired-revocation signature acts as its notAfter, for the signature's date and the store's", async () => {
    const dir = new TempDir();
    try {
      const k = await makeTestKey(dir, 'revoked-signer', { date: new Date('2020-01-01T00:00:00Z'), retiredAt: RETIRED });
      const signing = (await loadSigningKey(k.privateFile, k.passphraseFile, { now: new Date('2026-12-01T00:00:00Z') })).key;
      const [revoked] = await loadTrustedSignerKeys([k.publicFile]);
      const inside = await b.backup('2026-12-04T03:00:00Z', { by: signing });
      const backdated = await b.backup('2026-12-04T04:00:00Z', { by: signing });
      await storedAt(inside, new Date('2026-12-04T03:01:00Z'));
      await storedAt(backdated, new Date('2026-12-06T00:00:00Z'));

      const r = await judged(trust(revoked));

      assert.deepEqual(r.sealed, [inside]);
      assert.deepEqual(r.problems, [
        [
          backdated,
          `forged: its seal says it was signed at 2026-12-04T04:01:00.000Z by ${revoked.fingerprint}, but the store wrote it at 2026-12-06T00:00:00.000Z, after it was revoked (its revocation signature is dated 2026-12-05T00:00:00.000Z): a backdated signature`,
        ],
      ]);
    } finally {
      dir.cleanup();
    }
  });
});
