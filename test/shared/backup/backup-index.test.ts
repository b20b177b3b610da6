import assert from 'node:assert/strict';
import { type BackupIndex, INDEX_FORMAT, indexJsonChunks, type SecretEntry } from '../../../shared/backup/backup-index.js';
import { parseBackupIndex } from '../../../shared/backup/backup-index-schema.js';

function makeIndex(n: number, extra: Partial<BackupIndex> = {}): BackupIndex {
  const secrets: SecretEntry[] = [];
  for (let i = 0; i < n; i++) {
    secrets.push({
      namespace: `team-${i % 7}`,
      name: `app-${i}`,
      type: i % 3 === 0 ? 'kubernetes.io/tls' : 'Opaque',
      dataSha256: i.toString(16).padStart(64, '0'),
      segment: 1 + Math.floor(i / 1000),
      ...(i % 5 === 0 ? { immutable: true } : {}),
    });
  }
  return {
    format: INDEX_FORMAT,
    backupId: '20261127T020000Z',
    cluster: 'prod-eu',
    kind: 'scheduled',
    createdAt: '2026-11-27T02:00:00.000Z',
    completedAt: '2026-11-27T02:00:09.000Z',
    toolVersion: '0.1.0',
    listResourceVersion: '123',
    selection: { namespaces: [], excludeNamespaces: ['kube-system'], excludeTypes: ['kubernetes.io/service-account-token'] },
    compression: 'gzip',
    recipients: ['A'.repeat(40)],
    segments: [{ name: 'segment-00001.json.gz.pgp', size: 10, sha256: 'f'.repeat(64), items: n, plaintextBytes: 100 }],
    secrets,
    totals: { secrets: n, segments: 1, storedBytes: 10, plaintextBytes: 100 },
    ...extra,
  };
}

describe('shared/backup/backup-index', () => {
  describe('indexJsonChunks', () => {
    it('yields exactly JSON.stringify(index), the Secrets in several chunks', () => {
      const index = makeIndex(5000, { signer: 'B'.repeat(40) });

      const chunks = [...indexJsonChunks(index, 16 * 1024)];

      assert.equal(chunks.join(''), JSON.stringify(index));
      assert.ok(chunks.length > 10, `expected the Secrets in many chunks, got ${chunks.length}`);
      assert.ok(
        chunks.every((c) => c.length < 16 * 1024 + 1024),
        'no chunk much over the requested size',
      );
    });

    it('leaves out keys whose value is undefined, as JSON.stringify does, and the result parses as an index', () => {
      const index = makeIndex(3, { signer: undefined });

      const text = [...indexJsonChunks(index)].join('');

      assert.equal(text, JSON.stringify(index));
      assert.ok(!text.includes('"signer"'));
      const parsed = parseBackupIndex(text);
      assert.ok('index' in parsed, JSON.stringify(parsed));
      assert.equal(parsed.index.secrets.length, 3);
    });

    it('writes an index with no Secrets as an empty array', () => {
      const index = makeIndex(0);

      assert.equal([...indexJsonChunks(index)].join(''), JSON.stringify(index));
    });
  });
});
