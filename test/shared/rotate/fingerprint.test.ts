import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { digestKey, Fingerprinter, keyedDigests } from '../../../shared/rotate/fingerprint.js';

describe('shared/rotate/fingerprint', () => {
  it('gives a short keyed digest, the same for the same value under one key, never the value', () => {
    const f = Fingerprinter.forRun();

    const fp = f.fingerprint(Buffer.from('correct horse battery staple'));

    assert.match(fp, /^hmac:[0-9a-f]{12}$/);
    assert.equal(fp, f.fingerprint(Buffer.from('correct horse battery staple')));
    assert.notEqual(fp, f.fingerprint(Buffer.from('correct horse battery stapler')));
  });

  it('gives the same value different fingerprints under different keys (each run has its own)', () => {
    const value = Buffer.from('hunter2');

    const a = Fingerprinter.forRun().fingerprint(value);
    const b = Fingerprinter.forRun().fingerprint(value);
    const c = Fingerprinter.withKey(randomBytes(32)).fingerprint(value);

    assert.equal(new Set([a, b, c]).size, 3);
  });

  it('gives the same fingerprint across runs that share a configured key', () => {
    const key = randomBytes(32);

    assert.equal(
      Fingerprinter.withKey(key).fingerprint(Buffer.from('v')),
      Fingerprinter.withKey(Buffer.from(key)).fingerprint(Buffer.from('v')),
    );
    assert.equal(Fingerprinter.withKey(key).keyedBy, 'configured');
    assert.equal(Fingerprinter.forRun().keyedBy, 'run');
    assert.throws(() => Fingerprinter.withKey(randomBytes(16)), /at least 32 bytes/);
  });

  it('does not let a guessed value be confirmed without the key', () => {
    // A hand-chosen previous password, logged after a rollback; the reader of the log guesses it
    // right and hashes the guess every unkeyed way a fingerprint could have been made.
    const logged = Fingerprinter.forRun().fingerprint(Buffer.from('Summer2024!'));
    const guess = Buffer.from('Summer2024!');
    const hex = logged.slice(logged.indexOf(':') + 1);

    const unkeyed = ['sha256', 'sha1', 'sha512', 'md5'].map((alg) => createHash(alg).update(guess).digest('hex').slice(0, hex.length));
    const otherKey = Fingerprinter.forRun().fingerprint(guess);

    assert.ok(!unkeyed.includes(hex), 'an unkeyed digest of the guess matches the logged fingerprint');
    assert.notEqual(otherKey, logged);
  });

  it('lists fingerprints per key, sorted', () => {
    const list = Fingerprinter.forRun().fingerprints(
      new Map([
        ['b', Buffer.from('2')],
        ['a', Buffer.from('1')],
      ]),
    );

    assert.deepEqual(
      list.map((l) => l.split('=')[0]),
      ['a', 'b'],
    );
  });

  it('keys digests with the pending values, so equal data under another key differs', () => {
    const data = new Map([['username', Buffer.from('admin')]]);
    const k1 = digestKey(new Map([['password', Buffer.from('one-secret-value')]]));
    const k2 = digestKey(new Map([['password', Buffer.from('another-secret-value')]]));

    assert.equal(keyedDigests(k1, data).username, keyedDigests(k1, data).username);
    assert.notEqual(keyedDigests(k1, data).username, keyedDigests(k2, data).username);
  });
});
