import assert from 'node:assert/strict';
import { digestKey, fingerprint, fingerprints, keyedDigests } from '../../../shared/rotate/fingerprint.js';

describe('shared/rotate/fingerprint', () => {
  it('gives a short SHA-256 prefix, never the value', () => {
    const fp = fingerprint(Buffer.from('correct horse battery staple'));

    assert.match(fp, /^sha256:[0-9a-f]{12}$/);
    assert.equal(fp, fingerprint(Buffer.from('correct horse battery staple')));
    assert.notEqual(fp, fingerprint(Buffer.from('correct horse battery stapler')));
  });

  it('lists fingerprints per key, sorted', () => {
    const list = fingerprints(
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
