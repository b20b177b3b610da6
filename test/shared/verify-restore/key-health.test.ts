import assert from 'node:assert/strict';
import type { DecryptionKey, TrustedSignerKey } from '../../../shared/crypto/index.js';
import { assessKeyHealth } from '../../../shared/verify-restore/key-health.js';

const NOW = new Date('2026-11-27T00:00:00Z');
const DAY = 86_400_000;

function key(fingerprint: string, expiresInDays?: number): DecryptionKey & TrustedSignerKey {
  return {
    fingerprint,
    userIds: [`k ${fingerprint.slice(0, 4)}`],
    file: `/keys/${fingerprint.slice(0, 4)}.asc`,
    ...(expiresInDays === undefined ? {} : { expiresAt: new Date(NOW.getTime() + expiresInDays * DAY) }),
    key: undefined as never,
  };
}

describe('shared/verify-restore/key-health', () => {
  it('warns about decryption and trusted signer keys expiring within the window or expired, not about the others', () => {
    const h = assessKeyHealth({
      now: NOW,
      warnWithinMs: 30 * DAY,
      recipientWarnings: [],
      recipientProblems: ['/keys/r.asc: key R expired on 2026-11-01T00:00:00.000Z'],
      signingWarnings: [],
      decryptionKeys: [key('AAAA1111', 10), key('BBBB2222', -3), key('CCCC3333', 90), key('DDDD4444')],
      trustedSigners: [key('EEEE5555', 29)],
      backupRecipients: ['AAAA1111', 'FFFF6666'],
      expectedRecipients: ['FFFF6666'],
    });

    assert.deepEqual(
      h.warnings.map((w) => w.replace(/ from \S+/, '')),
      [
        'recipient key problem: /keys/r.asc: key R expired on 2026-11-01T00:00:00.000Z',
        'decryption key AAAA1111 (k AAAA) expires on 2026-12-07T00:00:00.000Z (in 10 days); extend it (gpg --quick-set-expire) or add a new key before then',
        'decryption key BBBB2222 (k BBBB) expired on 2026-11-24T00:00:00.000Z; it still decrypts backups made with it, but new backups should be encrypted to a current key',
        'trusted signer key EEEE5555 (k EEEE) expires on 2026-12-26T00:00:00.000Z (in 29 days); extend it (gpg --quick-set-expire) or add a new key before then',
      ],
    );
    assert.deepEqual(h.details.backupRecipientsWithoutKey, ['FFFF6666']);
    assert.equal(h.details.decryptionKeys.find((k) => k.fingerprint === 'AAAA1111')?.recipientOfBackup, true);
    assert.deepEqual(h.details.unexpectedBackupRecipients, []);
    assert.equal(h.unexpectedRecipients, undefined);
  });

  const recipients: Array<[string, string[], string[]]> = [
    ['only the decryption key', ['AAAA1111'], []],
    ['an escrow key given with --recipient-key', ['AAAA1111', 'FFFF6666'], []],
    ['a key nobody listed', ['AAAA1111', '9999EEEE'], ['9999EEEE']],
    ['two keys nobody listed, and no decryption key', ['7777CCCC', '9999EEEE'], ['7777CCCC', '9999EEEE']],
  ];
  for (const [label, backupRecipients, unexpected] of recipients) {
    it(`names the recipients it did not expect: ${label}`, () => {
      const h = assessKeyHealth({
        now: NOW,
        warnWithinMs: 30 * DAY,
        recipientWarnings: [],
        recipientProblems: [],
        signingWarnings: [],
        decryptionKeys: [key('AAAA1111')],
        trustedSigners: [],
        backupRecipients,
        expectedRecipients: ['FFFF6666'],
      });

      assert.deepEqual(h.details.unexpectedBackupRecipients, unexpected);
      if (unexpected.length === 0) assert.equal(h.unexpectedRecipients, undefined);
      else {
        assert.match(h.unexpectedRecipients ?? '', new RegExp(`did not expect \\(${unexpected.join(', ')}\\): whoever holds`));
        assert.match(h.unexpectedRecipients ?? '', /--recipient-key/);
      }
      assert.deepEqual(h.warnings, [], 'expiry warnings only');
    });
  }
});
