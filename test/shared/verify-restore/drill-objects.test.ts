import assert from 'node:assert/strict';
import { isDnsSubdomain } from '../../../shared/kube/object-names.js';
import {
  compareRestored,
  DRILL_BATCH_LABEL,
  DRILL_LABEL,
  drillCopy,
  drillDataBytes,
  drillIdFrom,
  drillObjectName,
  drillSelector,
} from '../../../shared/verify-restore/drill-objects.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('shared/verify-restore/drill-objects', () => {
  it('names a copy drill-<id>.<namespace>.<name> when that fits', () => {
    assert.equal(drillObjectName('ab12cd34', 'payments', 'db-creds'), 'drill-ab12cd34.payments.db-creds');
  });

  it('hashes names that would be too long or invalid, always valid and at most 253 characters', () => {
    const cases: Array<[string, string]> = [
      ['n'.repeat(63), 's'.repeat(253)],
      ['payments', `${'a.'.repeat(120)}b`],
      ['BAD', 'x'],
      ['', 'x'],
    ];
    for (const [ns, name] of cases) {
      const n = drillObjectName('ab12cd34', ns, name);
      assert.ok(isDnsSubdomain(n), n);
      assert.match(n, /^drill-ab12cd34\.[0-9a-f]{64}$/);
    }
  });

  it('never gives two Secrets the same name (dots in names, long names, hashed vs readable)', () => {
    const pairs: Array<[string, string]> = [
      ['a', 'b.c'],
      ['a-b', 'c'],
      ['a', 'b-c'],
      ['ab', 'c'],
      ['a', 'bc'],
      ['n'.repeat(63), 's'.repeat(200)],
      ['n'.repeat(63), `${'s'.repeat(199)}t`],
    ];
    const names = pairs.map(([ns, name]) => drillObjectName('id', ns, name));
    assert.equal(new Set(names).size, names.length, names.join('\n'));
  });

  it('makes a drill id usable in names and labels from a run id', () => {
    assert.equal(drillIdFrom('1A2B-3c4d'), '1a2b3c4d');
    assert.equal(drillIdFrom('---'), 'x');
  });

  it('copies type, immutability and data, labels it with the drill and its batch, and leaves the source labels and annotations out', () => {
    const copy = drillCopy(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'db',
          namespace: 'apps',
          labels: { 'reconcile.external-secrets.io/managed': 'true' },
          annotations: { 'cert-manager.io/certificate-name': 'x' },
        },
        type: 'kubernetes.io/basic-auth',
        immutable: true,
        data: { username: b64('u') },
      },
      { drillId: 'ab12', drillNamespace: 'drill', backupId: '20261127T031500Z-3f9a1c', batch: 7 },
    );

    assert.deepEqual(copy, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'drill-ab12.apps.db',
        namespace: 'drill',
        labels: { [DRILL_LABEL]: 'ab12', [DRILL_BATCH_LABEL]: '7', 'app.kubernetes.io/managed-by': 'secret-steward' },
        annotations: { 'secret-steward.io/drill-source': 'apps/db', 'secret-steward.io/drill-backup': '20261127T031500Z-3f9a1c' },
      },
      type: 'kubernetes.io/basic-auth',
      immutable: true,
      data: { username: b64('u') },
    });
  });

  it('compares what was read back byte for byte on the decoded data, naming keys only', () => {
    const expected = {
      apiVersion: 'v1' as const,
      kind: 'Secret' as const,
      metadata: { name: 'db', namespace: 'apps' },
      type: 'Opaque',
      data: { a: b64('one'), b: b64('two') },
    };

    assert.deepEqual(compareRestored(expected, { type: 'Opaque', data: { a: b64('one'), b: b64('two') } }), []);
    assert.deepEqual(compareRestored(expected, { type: 'Opaque', data: { a: b64('onE'), c: b64('x') }, immutable: true }), [
      'immutable is true, expected false',
      'data key "a" differs',
      'data key "b" is missing',
      'data key "c" is extra',
    ]);
    assert.deepEqual(compareRestored(expected, { data: expected.data, type: 'kubernetes.io/tls' }), [
      'type is kubernetes.io/tls, expected Opaque',
    ]);
    // Other base64 text for the same bytes is the same data; the same text is never a difference.
    assert.deepEqual(compareRestored({ ...expected, data: { a: 'QR==' } }, { type: 'Opaque', data: { a: 'QQ==' } }), []);
    assert.deepEqual(compareRestored({ ...expected, data: { a: 'QQ==' } }, { type: 'Opaque', data: { a: 'Qg==' } }), [
      'data key "a" differs',
    ]);
  });

  it('selects drill objects by label: of any drill, of one drill, of one batch', () => {
    const cases: Array<[Parameters<typeof drillSelector>[0], string]> = [
      [{ all: true }, 'secret-steward.io/drill'],
      [{ drillId: 'ab12' }, 'secret-steward.io/drill=ab12'],
      [{ drillId: 'ab12', batch: 3 }, 'secret-steward.io/drill=ab12,secret-steward.io/drill-batch=3'],
    ];

    for (const [which, selector] of cases) assert.equal(drillSelector(which), selector);
  });

  it('sizes a Secret for batching as its keys and base64 values', () => {
    assert.equal(drillDataBytes({ data: { ab: b64('12345') } }), 2 + 8);
    assert.equal(drillDataBytes({}), 0);
  });
});
