import assert from 'node:assert/strict';
import {
  MAX_NAME_LENGTH,
  newRotationId,
  parseVersionedName,
  pendingName,
  previousName,
  versionName,
  withSuffix,
} from '../../../shared/rotate/names.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('shared/rotate/names', () => {
  it('appends the companion suffixes to ordinary names', () => {
    assert.equal(pendingName('db-creds'), 'db-creds-pending');
    assert.equal(previousName('db-creds'), 'db-creds-previous');
    assert.equal(versionName('api-keys', 2), 'api-keys-v2');
  });

  const long = (n: number, filler = 'a') => filler.repeat(n);
  const rows: Array<[string, string]> = [
    ['exactly at the limit', long(MAX_NAME_LENGTH - '-previous'.length)],
    ['one over the limit', long(MAX_NAME_LENGTH - '-previous'.length + 1)],
    ['the longest name', long(MAX_NAME_LENGTH)],
    ['a cut landing on a dot', `${long(230)}.${long(22, 'b')}`],
    ['a cut landing on a dash', `${long(232)}-${long(20, 'c')}`],
  ];
  for (const [label, name] of rows) {
    it(`keeps companion names valid for ${label}`, () => {
      const made = previousName(name);

      assert.ok(made.length <= MAX_NAME_LENGTH, `${made.length} chars`);
      assert.match(made, DNS_SUBDOMAIN);
      assert.ok(made.endsWith('-previous'));
      assert.equal(previousName(name), made, 'deterministic');
    });
  }

  it('gives different long names different companions', () => {
    const a = `${long(250)}x`;
    const b = `${long(250)}y`;

    assert.notEqual(withSuffix(a, '-pending'), withSuffix(b, '-pending'));
  });

  const versions: Array<[string, string, number]> = [
    ['api-keys', 'api-keys', 1],
    ['api-keys-v1', 'api-keys', 1],
    ['api-keys-v12', 'api-keys', 12],
    ['v2', 'v2', 1],
    ['api-keys-v', 'api-keys-v', 1],
  ];
  for (const [name, base, version] of versions) {
    it(`reads ${name} as version ${version} of ${base}`, () => {
      assert.deepEqual(parseVersionedName(name), { base, version });
    });
  }

  it('makes rotation ids that sort by time and are valid label values', () => {
    const a = newRotationId(new Date('2025-03-01T03:00:00.123Z'));
    const b = newRotationId(new Date('2025-03-01T03:00:01Z'));

    assert.match(a, /^20250301t030000-[0-9a-f]{6}$/);
    assert.ok(a < b);
    assert.match(a, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(a.length <= 63);
  });
});
