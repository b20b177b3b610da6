import assert from 'node:assert/strict';
import { secretDataDigest } from '../../../shared/backup/secret-digest.js';
import type { ExportedSecret } from '../../../shared/backup/secret-export.js';
import { contentDigest, decideAction, type LiveFacts, liveFacts } from '../../../shared/restore/restore-plan.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const NEVER = ['kubernetes.io/service-account-token', 'bootstrap.kubernetes.io/token'];

const backed: ExportedSecret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db', namespace: 'apps', labels: { app: 'x' } },
  type: 'Opaque',
  data: { pw: b64('one') },
};
const planned = { type: 'Opaque', contentSha256: contentDigest(backed) };
const live = (over: Partial<LiveFacts> = {}): LiveFacts => ({
  resourceVersion: '7',
  uid: 'u',
  type: 'Opaque',
  immutable: false,
  contentSha256: 'other',
  ...over,
});

describe('shared/restore/restore-plan', () => {
  const table: Array<[string, Parameters<typeof decideAction>, string, RegExp?]> = [
    ['missing: create', [planned, undefined, { mode: 'create-missing', recreateImmutable: false, neverRestoredTypes: NEVER }], 'create'],
    [
      'identical: unchanged, in either mode',
      [planned, live({ contentSha256: planned.contentSha256 }), { mode: 'overwrite', recreateImmutable: false, neverRestoredTypes: NEVER }],
      'unchanged',
    ],
    [
      'different, create-missing: skip',
      [planned, live(), { mode: 'create-missing', recreateImmutable: false, neverRestoredTypes: NEVER }],
      'skip',
      /create-missing never touches/,
    ],
    [
      'different, overwrite: overwrite',
      [planned, live(), { mode: 'overwrite', recreateImmutable: false, neverRestoredTypes: NEVER }],
      'overwrite',
    ],
    [
      'immutable live: skip without --recreate-immutable',
      [planned, live({ immutable: true }), { mode: 'overwrite', recreateImmutable: false, neverRestoredTypes: NEVER }],
      'skip',
      /immutable; give --recreate-immutable/,
    ],
    [
      'immutable live: recreate with it',
      [planned, live({ immutable: true }), { mode: 'overwrite', recreateImmutable: true, neverRestoredTypes: NEVER }],
      'recreate',
    ],
    [
      'type changed: recreate with --recreate-immutable',
      [planned, live({ type: 'kubernetes.io/tls' }), { mode: 'overwrite', recreateImmutable: true, neverRestoredTypes: NEVER }],
      'recreate',
      /type cannot change in place/,
    ],
    [
      'service-account token: never',
      [{ ...planned, type: NEVER[0] }, undefined, { mode: 'overwrite', recreateImmutable: true, neverRestoredTypes: NEVER }],
      'skip',
      /never restored/,
    ],
    [
      'invalid for the API: skip',
      [
        { ...planned, invalid: ['name "X" is not valid'] },
        undefined,
        { mode: 'overwrite', recreateImmutable: true, neverRestoredTypes: NEVER },
      ],
      'skip',
      /the API server would reject it: name "X" is not valid/,
    ],
  ];
  for (const [what, args, action, reason] of table) {
    it(what, () => {
      const d = decideAction(...args);
      assert.equal(d.action, action);
      if (reason) assert.match(d.reason ?? '', reason);
    });
  }

  it('compares content, not names, server fields or base64 formatting', () => {
    const asLive = {
      metadata: {
        name: 'db',
        namespace: 'elsewhere',
        labels: { app: 'x' },
        uid: 'u1',
        resourceVersion: '9',
        creationTimestamp: new Date(),
      },
      type: 'Opaque',
      data: { pw: b64('one') },
    };
    assert.equal(liveFacts(asLive).contentSha256, contentDigest(backed));
    assert.equal(contentDigest(backed, secretDataDigest(backed.data)), contentDigest(backed), 'with the data digest given');
    assert.notEqual(contentDigest(backed, secretDataDigest({ pw: b64('two') })), contentDigest(backed));
    assert.notEqual(liveFacts({ ...asLive, metadata: { ...asLive.metadata, labels: { app: 'y' } } }).contentSha256, contentDigest(backed));
    assert.notEqual(liveFacts({ ...asLive, data: { pw: b64('two') } }).contentSha256, contentDigest(backed));
    assert.notEqual(liveFacts({ ...asLive, immutable: true }).contentSha256, contentDigest(backed));
    assert.deepEqual({ rv: liveFacts(asLive).resourceVersion, uid: liveFacts(asLive).uid }, { rv: '9', uid: 'u1' });
  });
});
