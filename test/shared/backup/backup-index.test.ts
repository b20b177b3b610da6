import assert from 'node:assert/strict';
import {
  type BackupIndex,
  INDEX_FORMAT,
  indexJsonChunks,
  type SecretEntry,
  SecretTable,
  SecretTableBuilder,
} from '../../../shared/backup/backup-index.js';
import { loadBackupIndex, parseBackupIndex } from '../../../shared/backup/backup-index-schema.js';

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

  describe('SecretTable', () => {
    it('gives every entry back exactly, names that are not ASCII and the three states of immutable included', () => {
      const entries: SecretEntry[] = [
        ...makeIndex(3000).secrets,
        { namespace: 'ns', name: 'café-ü', type: 'Opaque', dataSha256: 'a'.repeat(64), segment: 3 },
        { namespace: 'ns', name: 'lone-\ud800-surrogate', type: 'Opaque', dataSha256: 'b'.repeat(64), segment: 3, immutable: false },
        { namespace: '', name: '', type: '', dataSha256: 'c'.repeat(64), segment: 3, immutable: true },
        { namespace: 'ns', name: 'after', type: 'x'.repeat(300), dataSha256: '0123456789abcdef'.repeat(4), segment: 4 },
      ];

      const table = SecretTable.of(entries, entries.length);

      assert.equal(table.length, entries.length);
      assert.deepEqual([...table], entries);
      assert.deepEqual(table.at(3001), entries[3001]);
      assert.equal(table.namespaceAt(6), 'team-6');
      assert.equal(table.segmentAt(entries.length - 1), 4);
      assert.throws(() => table.at(entries.length), /no Secret entry 3004 \(3004 entries\)/);
      assert.throws(() => table.at(-1), RangeError);
    });

    it('refuses a digest that is not 64 lowercase hex digits and a count that does not match', () => {
      const e: SecretEntry = { namespace: 'ns', name: 'a', type: 'Opaque', dataSha256: 'A'.repeat(64), segment: 1 };

      assert.throws(() => SecretTable.of([e], 1), /Secret entry 0: dataSha256 is not 64 lowercase hex digits/);
      assert.throws(() => SecretTable.of([{ ...e, dataSha256: 'a'.repeat(64) }], 2), /1 Secret entries, 2 announced/);
      assert.throws(() => SecretTable.of([{ ...e, dataSha256: 'a'.repeat(64) }], 0), /more than the 0 Secret entries announced/);
    });
  });

  describe('SecretTableBuilder', () => {
    it('takes entries beyond its first capacity, and its table gives them all back exactly', () => {
      const entries: SecretEntry[] = [
        ...makeIndex(2500).secrets,
        { namespace: 'ns', name: 'café-ü', type: 'Opaque', dataSha256: 'a'.repeat(64), segment: 3, immutable: false },
        { namespace: 'ns', name: 'n'.repeat(253), type: 'Opaque', dataSha256: 'b'.repeat(64), segment: 3 },
      ];
      const b = new SecretTableBuilder(4);

      for (const e of entries) b.add(e);
      const table = b.build();

      assert.equal(b.length, entries.length);
      assert.equal(table.length, entries.length);
      assert.deepEqual([...table], entries);
    });

    it('builds a table that later entries do not change, and refuses a bad digest without counting it', () => {
      const b = new SecretTableBuilder(1);
      const e: SecretEntry = { namespace: 'ns', name: 'a', type: 'Opaque', dataSha256: 'a'.repeat(64), segment: 1 };
      b.add(e);
      const first = b.build();

      b.add({ ...e, name: 'b', namespace: 'other' });
      assert.throws(
        () => b.add({ ...e, name: 'c', dataSha256: 'z'.repeat(64) }),
        /Secret entry 2: dataSha256 is not 64 lowercase hex digits/,
      );

      assert.deepEqual([...first], [e]);
      assert.equal(b.length, 2);
      assert.deepEqual(
        [...b.build()].map((x) => `${x.namespace}/${x.name}`),
        ['ns/a', 'other/b'],
      );
    });

    it('is written by indexJsonChunks exactly as the same index with an array', () => {
      const index = makeIndex(1200);
      const b = new SecretTableBuilder();
      for (const e of index.secrets) b.add(e);

      const text = [...indexJsonChunks({ ...index, secrets: b.build() }, 4096)].join('');

      assert.equal(text, JSON.stringify(index));
    });
  });

  describe('loadBackupIndex', () => {
    it('reads the same index as parseBackupIndex, its Secrets in a table', () => {
      const index = makeIndex(2500, { signer: 'B'.repeat(40) });
      const text = JSON.stringify({ ...index, unknownField: 1, secrets: index.secrets.map((e) => ({ ...e, extra: 'dropped' })) });

      const loaded = loadBackupIndex(text);
      const parsed = parseBackupIndex(text);

      assert.ok('index' in loaded && 'index' in parsed);
      assert.ok(loaded.index.secrets instanceof SecretTable);
      const { secrets, ...rest } = loaded.index;
      assert.deepEqual({ ...rest, secrets: [...secrets] }, parsed.index);
    });

    // Each document is broken in one or more places; the reader must refuse exactly what the
    // whole-document schema refuses, naming the same problems in the same order.
    const broken: [string, (doc: Record<string, unknown> & { secrets: unknown }) => unknown][] = [
      ['a digest in upper case', (d) => Object.assign((d.secrets as SecretEntry[])[1], { dataSha256: 'A'.repeat(64) })],
      ['segment 0 and a missing name', (d) => Object.assign((d.secrets as Record<string, unknown>[])[2], { segment: 0, name: undefined })],
      ['immutable as a string', (d) => Object.assign((d.secrets as Record<string, unknown>[])[0], { immutable: 'yes' })],
      ['an entry that is not an object', (d) => ((d.secrets as unknown[])[3] = 'x')],
      ['secrets not an array', (d) => (d.secrets = { 0: 'x' })],
      [
        'problems before, inside and after the Secrets',
        (d) => {
          d.kind = 'weekly';
          (d.secrets as Record<string, unknown>[])[4].type = 7;
          d.totals = { secrets: -1, segments: 1, storedBytes: 10, plaintextBytes: 100 };
        },
      ],
      ['totals missing', (d) => (d.totals = undefined)],
      ['not an object', (d) => Object.assign(d, { __replace: true })],
    ];
    for (const [what, breakIt] of broken) {
      it(`refuses an index with ${what} as parseBackupIndex does`, () => {
        const doc = JSON.parse(JSON.stringify(makeIndex(6))) as Record<string, unknown> & { secrets: unknown };
        breakIt(doc);
        const text = doc.__replace ? '[1, 2]' : JSON.stringify(doc);

        const loaded = loadBackupIndex(text);
        const parsed = parseBackupIndex(text);

        assert.ok('problems' in parsed, 'the whole-document schema refuses it');
        assert.deepEqual(loaded, parsed);
      });
    }

    it('refuses text that is not JSON', () => {
      assert.deepEqual(loadBackupIndex('{"format":'), { problems: ['index is not JSON'] });
    });
  });
});
