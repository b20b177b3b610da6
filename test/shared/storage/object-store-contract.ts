import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectStore } from '../../../shared/storage/object-store.js';
import { StorageError } from '../../../shared/storage/storage-error.js';

/** What the contract needs from an implementation under test. */
export interface ContractSubject {
  /** A fresh, empty store (its own prefix or directory). */
  store: ObjectStore;
  /** Part size the store was built with, to size multipart bodies. */
  partSize: number;
  /** Extra check after a failed put: nothing may be left behind (S3: no multipart upload). */
  assertNothingLeftBehind?: () => Promise<void>;
  /**
   * The server lists keys in an order other than S3's UTF-8 byte order (s3rver walks its
   * directory tree, so `a/x` comes before `a-b`). Listing order is then checked as a set only;
   * the implementation itself adds no ordering of its own.
   */
  listOrderIsServers?: boolean;
}

/** What an implementation under test has, known when the tests are defined (tests it lacks are not defined). */
export interface ContractTraits {
  /** Object versions are listed (not s3rver: its own test says what it answers instead). @default true */
  versions?: boolean;
  /**
   * The ETag `head` returns for a multipart upload: S3's `<md5 of the parts' MD5s>-<parts>`, or
   * the MD5 of the whole object (s3rver). Undefined: `head` has no ETag (the file store).
   */
  multipartEtag?: 'parts' | 'whole-object-md5';
}

/** Compares keys as S3 does: by their UTF-8 bytes. */
export function utf8Order(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export const MIB = 1024 * 1024;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** S3's ETag of a multipart upload: the MD5 of the parts' binary MD5s, a dash, the part count. */
export function multipartEtag(body: Uint8Array, partSize: number): string {
  const digests: Buffer[] = [];
  for (let at = 0; at < body.length; at += partSize)
    digests.push(
      createHash('md5')
        .update(body.subarray(at, at + partSize))
        .digest(),
    );
  return `${md5Hex(Buffer.concat(digests))}-${digests.length}`;
}

/** Deterministic pseudo-random bytes (xorshift), so big bodies need no storage. */
export function patternBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Streams `total` bytes of {@link patternBytes} in `chunk`-sized pieces, computing nothing in advance. */
export function patternStream(total: number, chunk = 64 * 1024, seed = 7): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  async function* gen() {
    let sent = 0;
    let n = seed;
    while (sent < total) {
      const size = Math.min(chunk, total - sent);
      const piece = patternBytes(size, n++);
      hash.update(piece);
      sent += size;
      yield piece;
    }
  }
  return { stream: Readable.from(gen()), sha256: () => hash.digest('hex') };
}

/** A body that yields `good` bytes and then fails. */
export function failingStream(good: number, chunk = 256 * 1024): Readable {
  async function* gen() {
    for (let sent = 0; sent < good; sent += chunk) yield patternBytes(Math.min(chunk, good - sent), sent + 3);
    throw new Error('producer failed midway (test)');
  }
  return Readable.from(gen());
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function readStream(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWithKind(p: Promise<unknown>, kind: StorageError['kind']): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StorageError, `expected a StorageError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`expected a StorageError of kind ${kind}`);
}

/**
 * The behaviour every ObjectStore must have, run against each implementation so that code
 * tested on the file store behaves the same on S3.
 */
export function objectStoreContract(makeSubject: () => Promise<ContractSubject>, traits: ContractTraits = {}): void {
  let subject: ContractSubject;
  let store: ObjectStore;

  beforeEach(async () => {
    subject = await makeSubject();
    store = subject.store;
  });

  describe('round trip', () => {
    const nonUtf8 = Buffer.concat([
      Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc]),
      patternBytes(4096, 99),
    ]);
    const cases: Array<{ name: string; bytes: Buffer; asStream: boolean }> = [
      { name: 'a small text object from a Buffer', bytes: Buffer.from('{"kind":"manifest","secrets":3}\n'), asStream: false },
      { name: 'a small text object from a stream', bytes: Buffer.from('line one\nline two\n'), asStream: true },
      { name: 'an empty object from a Buffer', bytes: Buffer.alloc(0), asStream: false },
      { name: 'an empty object from a stream', bytes: Buffer.alloc(0), asStream: true },
      { name: 'binary, non-UTF-8 bytes from a stream', bytes: nonUtf8, asStream: true },
      { name: 'all 256 byte values from a Buffer', bytes: Buffer.from(Array.from({ length: 256 }, (_, i) => i)), asStream: false },
    ];
    for (const c of cases) {
      it(`stores ${c.name} byte for byte`, async () => {
        const body = c.asStream ? Readable.from(c.bytes.length ? [c.bytes.subarray(0, 7), c.bytes.subarray(7)] : []) : c.bytes;

        const put = await store.put('objects/one.bin', body);

        assert.deepEqual(put, { key: 'objects/one.bin', size: c.bytes.length, sha256: sha256(c.bytes) });
        assert.deepEqual(await readStream(await store.get('objects/one.bin')), c.bytes);
        assert.deepEqual(await store.getBytes('objects/one.bin'), c.bytes);
        assert.deepEqual(await store.digest('objects/one.bin'), { size: c.bytes.length, sha256: sha256(c.bytes) });
      });
    }

    it('streams a multi-part body (8 parts) from a generator and reads back the same bytes', async function () {
      this.timeout(120_000);
      const total = 8 * subject.partSize - 12345;
      const body = patternStream(total, 256 * 1024);

      const put = await store.put('big/object.bin', body.stream);

      const expected = body.sha256();
      assert.deepEqual(put, { key: 'big/object.bin', size: total, sha256: expected });
      assert.deepEqual(await store.digest('big/object.bin'), { size: total, sha256: expected });
      assert.equal((await store.head('big/object.bin'))?.size, total);
    });

    it('replaces an object and its metadata on a second put', async () => {
      await store.put('k', Buffer.from('first version'), { metadata: { 'backup-id': 'one', old: 'yes' } });

      await store.put('k', Buffer.from('second'), { metadata: { 'backup-id': 'two' } });

      assert.equal((await store.getBytes('k')).toString(), 'second');
      assert.deepEqual((await store.head('k'))?.metadata, { 'backup-id': 'two' });
    });
  });

  describe('head', () => {
    it('returns size, lastModified and metadata', async () => {
      const before = Date.now();
      await store.put('meta/x.json', Buffer.from('12345'), {
        metadata: { 'secret-count': '42', 'format-version': '1', note: 'plain ASCII: a-z 0-9 ~!' },
        contentType: 'application/json',
      });

      const info = await store.head('meta/x.json');

      assert.ok(info);
      assert.equal(info.key, 'meta/x.json');
      assert.equal(info.size, 5);
      assert.deepEqual(info.metadata, { 'secret-count': '42', 'format-version': '1', note: 'plain ASCII: a-z 0-9 ~!' });
      // Second precision (HTTP dates), and clocks of server and client may differ a little.
      assert.ok(Math.abs(info.lastModified.getTime() - before) < 60_000, `lastModified ${info.lastModified.toISOString()}`);
    });

    it('returns undefined for a missing object, and for a prefix that is not an object', async () => {
      await store.put('dir/file', Buffer.from('x'));

      assert.equal(await store.head('missing'), undefined);
      assert.equal(await store.head('dir'), undefined);
    });
  });

  describe('missing objects', () => {
    for (const [name, op] of [
      ['get', (s: ObjectStore) => s.get('nope/missing.bin')],
      ['getBytes', (s: ObjectStore) => s.getBytes('nope/missing.bin')],
      ['digest', (s: ObjectStore) => s.digest('nope/missing.bin')],
    ] as const) {
      it(`${name} rejects with kind not-found naming the key`, async () => {
        const e = await rejectsWithKind(op(store), 'not-found');

        assert.ok(e.message.includes(`${store.location}/nope/missing.bin`), e.message);
        assert.equal(e.exitCode, 1);
      });
    }
  });

  describe('getBytes limit', () => {
    it('returns an object of exactly maxBytes and refuses one byte more', async () => {
      await store.put('limit/a', patternBytes(100));

      assert.equal((await store.getBytes('limit/a', 100)).length, 100);
      const e = await rejectsWithKind(store.getBytes('limit/a', 99), 'too-large');
      assert.match(e.message, /99 bytes/);
    });
  });

  describe('list and listPrefixes', () => {
    // Chosen so that naive orderings differ: '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0' (0x30),
    // and UTF-8 byte order puts 'é' after 'z'.
    const keys = ['a/x', 'a-b', 'a.b', 'a0', 'a/y/z', 'b/é', 'b/z', 'top'];

    beforeEach(async () => {
      for (const k of [...keys].reverse()) await store.put(k, Buffer.from(k));
    });

    /** The listed keys, in S3 order when the server cannot be relied on for it. */
    const ordered = (keys: string[]) => (subject.listOrderIsServers ? [...keys].sort(utf8Order) : keys);

    it('lists every key under a prefix in UTF-8 byte order, relative to the store root', async () => {
      const listed = await collect(store.list(''));
      const byKey = new Map(listed.map((o) => [o.key, o]));
      const all = ordered(listed.map((o) => o.key)).map((k) => byKey.get(k)!);

      assert.deepEqual(
        all.map((o) => o.key),
        ['a-b', 'a.b', 'a/x', 'a/y/z', 'a0', 'b/z', 'b/é', 'top'],
      );
      assert.deepEqual(
        all.map((o) => o.size),
        ['a-b', 'a.b', 'a/x', 'a/y/z', 'a0', 'b/z', 'b/é', 'top'].map((k) => Buffer.byteLength(k)),
      );
      assert.ok(all.every((o) => o.lastModified instanceof Date));
    });

    const listCases: Array<[string, string[]]> = [
      ['a/', ['a/x', 'a/y/z']],
      ['a', ['a-b', 'a.b', 'a/x', 'a/y/z', 'a0']],
      ['a/y', ['a/y/z']],
      ['b/', ['b/z', 'b/é']],
      ['nothing/', []],
      ['to', ['top']],
    ];
    for (const [prefix, expected] of listCases) {
      it(`list(${JSON.stringify(prefix)}) -> ${expected.length} keys`, async () => {
        assert.deepEqual(ordered((await collect(store.list(prefix))).map((o) => o.key)), expected);
      });
    }

    const prefixCases: Array<[string, string[]]> = [
      ['', ['a/', 'b/']],
      ['a/', ['a/y/']],
      ['a', ['a/']],
      ['b/', []],
      ['nothing/', []],
    ];
    for (const [prefix, expected] of prefixCases) {
      it(`listPrefixes(${JSON.stringify(prefix)}) -> ${JSON.stringify(expected)}`, async () => {
        assert.deepEqual(await collect(store.listPrefixes(prefix)), expected);
      });
    }
  });

  describe('delete', () => {
    it('deletes keys, ignores missing and repeated ones, and the emptied prefix disappears', async () => {
      await store.put('d/1', Buffer.from('1'));
      await store.put('d/2', Buffer.from('2'));
      await store.put('keep', Buffer.from('k'));

      await store.delete(['d/1', 'd/2', 'd/1', 'never/existed']);

      assert.deepEqual(
        (await collect(store.list(''))).map((o) => o.key),
        ['keep'],
      );
      assert.deepEqual(await collect(store.listPrefixes('')), []);
    });

    it('accepts an empty list', async () => {
      await store.delete([]);
    });
  });

  describe('versions, deletes with outcomes and Object Lock status (without versioning or locks)', () => {
    if (traits.versions !== false)
      it('listVersions shows each object once, as its latest version, id null', async () => {
        await store.put('v/a', Buffer.from('aa'));
        await store.put('v/b/c', Buffer.from('ccc'));
        await store.put('w', Buffer.from('w'));

        const versions = await collect(store.listVersions('v/'));

        assert.deepEqual(
          versions.map(({ key, versionId, isLatest, deleteMarker, size }) => ({ key, versionId, isLatest, deleteMarker, size })),
          [
            { key: 'v/a', versionId: 'null', isLatest: true, deleteMarker: false, size: 2 },
            { key: 'v/b/c', versionId: 'null', isLatest: true, deleteMarker: false, size: 3 },
          ],
        );
        assert.ok(versions.every((v) => v.lastModified instanceof Date));
      });

    it('deleteObjects reports every target, missing and repeated ones included, and the keys are gone', async () => {
      await store.put('d/1', Buffer.from('1'));
      await store.put('d/2', Buffer.from('2'));

      const outcomes = await store.deleteObjects([
        { key: 'd/1' },
        { key: 'd/2', versionId: 'null' },
        { key: 'd/1' },
        { key: 'never/existed' },
      ]);

      assert.deepEqual(
        outcomes.map((o) => [o.key, o.versionId, o.status]),
        [
          ['d/1', undefined, 'deleted'],
          ['d/2', 'null', 'deleted'],
          ['never/existed', undefined, 'deleted'],
        ],
      );
      assert.deepEqual(await collect(store.list('')), []);
      assert.deepEqual(await store.deleteObjects([]), []);
    });

    it('lockStatus is {} for an unlocked object and undefined for a missing one', async () => {
      await store.put('l/x', Buffer.from('x'));

      assert.deepEqual(await store.lockStatus('l/x'), {});
      assert.equal(await store.lockStatus('l/missing'), undefined);
    });

    it('has no warnings when no setting asked for anything', async () => {
      await store.put('plain', Buffer.from('x'));

      assert.deepEqual(store.warnings(), []);
    });

    it('rejects a bad key in deleteObjects, lockStatus and a bad listVersions prefix before sending anything', async () => {
      await rejectsWithKind(store.deleteObjects([{ key: 'fine' }, { key: '../escape' }]), 'other');
      await rejectsWithKind(store.lockStatus('a//b'), 'other');
      await rejectsWithKind(collect(store.listVersions('../')), 'other');
    });
  });

  if (traits.multipartEtag !== undefined)
    describe('ETag (S3 stores)', () => {
      it(`head returns the store's ETag without quotes: the MD5 of a simple upload, ${traits.multipartEtag === 'parts' ? 'the multipart form' : 'the MD5 of the whole object'} for parts`, async function () {
        this.timeout(60_000);
        const small = Buffer.from('small object');
        const big = patternBytes(2 * subject.partSize + 1000, 11);

        await store.put('etag/small', small);
        await store.put('etag/big', big);

        assert.equal((await store.head('etag/small'))?.etag, md5Hex(small));
        assert.equal(
          (await store.head('etag/big'))?.etag,
          traits.multipartEtag === 'parts' ? multipartEtag(big, subject.partSize) : md5Hex(big),
        );
      });
    });

  describe('more than 1000 keys (one S3 listing page)', () => {
    it('lists, lists prefixes and deletes 1050 keys across pages', async function () {
      this.timeout(120_000);
      const keys = Array.from({ length: 1050 }, (_, i) => `many/${String(i).padStart(4, '0')}/obj`);
      for (let at = 0; at < keys.length; at += 25) {
        await Promise.all(keys.slice(at, at + 25).map((k) => store.put(k, Buffer.from(k))));
      }

      const listed = await collect(store.list('many/'));
      const prefixes = await collect(store.listPrefixes('many/'));
      await store.delete(keys);
      const after = await collect(store.list(''));

      assert.deepEqual(
        listed.map((o) => o.key),
        keys,
      );
      assert.deepEqual(
        prefixes,
        keys.map((k) => k.slice(0, -'obj'.length)),
      );
      assert.deepEqual(after, []);
    });
  });

  describe('failed puts', () => {
    it('rejects with the body stream error and leaves nothing at the key (single part)', async () => {
      await assert.rejects(store.put('fail/small', failingStream(1000)), /producer failed midway/);

      assert.equal(await store.head('fail/small'), undefined);
      assert.deepEqual(await collect(store.list('')), []);
      await subject.assertNothingLeftBehind?.();
    });

    it('rejects with the body stream error and leaves nothing at the key (midway through a multipart upload)', async function () {
      this.timeout(60_000);
      await assert.rejects(store.put('fail/big', failingStream(2 * subject.partSize + 1000)), /producer failed midway/);

      assert.equal(await store.head('fail/big'), undefined);
      assert.deepEqual(await collect(store.list('')), []);
      await subject.assertNothingLeftBehind?.();
    });

    it('keeps the previous object intact when replacing it fails', async () => {
      await store.put('fail/existing', Buffer.from('previous version'));

      await assert.rejects(store.put('fail/existing', failingStream(5000)), /producer failed midway/);

      assert.equal((await store.getBytes('fail/existing')).toString(), 'previous version');
    });
  });

  describe('invalid keys and metadata', () => {
    const badKeys: Array<[string, string]> = [
      ['', 'empty'],
      ['../escape', 'parent segment'],
      ['a/../../escape', 'parent segment inside'],
      ['./a', 'dot segment'],
      ['/absolute', 'leading slash'],
      ['trailing/', 'trailing slash'],
      ['a//b', 'empty segment'],
      ['a\\..\\b', 'backslash'],
      ['nul\u0000byte', 'control character'],
      ['.~meta.x.json', 'reserved segment'],
      ['x'.repeat(1025), 'longer than 1024 bytes'],
    ];
    for (const [key, why] of badKeys) {
      it(`rejects key with ${why} in put, get, head and delete`, async () => {
        const body = Readable.from([Buffer.from('x')]);

        await rejectsWithKind(store.put(key, body), 'other');
        await rejectsWithKind(store.get(key), 'other');
        await rejectsWithKind(store.head(key), 'other');
        await rejectsWithKind(store.delete(['fine', key]), 'other');
        assert.ok(body.destroyed, 'the body stream is destroyed so its producer stops');
      });
    }

    for (const prefix of ['../', '/abs/', 'a/../']) {
      it(`rejects list prefix ${JSON.stringify(prefix)}`, async () => {
        await rejectsWithKind(collect(store.list(prefix)), 'other');
        await rejectsWithKind(collect(store.listPrefixes(prefix)), 'other');
      });
    }

    const badMetadata: Array<[Record<string, string>, string]> = [
      [{ 'Upper-Case': 'x' }, 'uppercase name'],
      [{ 'with space': 'x' }, 'space in name'],
      [{ name: 'caf\u00e9' }, 'non-ASCII value'],
      [{ name: 'line\nbreak' }, 'control character in value'],
      [{ big: 'x'.repeat(2100) }, 'more than 2 KiB'],
    ];
    for (const [metadata, why] of badMetadata) {
      it(`rejects metadata with ${why}`, async () => {
        const e = await rejectsWithKind(store.put('m', Buffer.from('x'), { metadata }), 'other');

        assert.equal(await store.head('m'), undefined);
        assert.ok(!e.message.includes('caf\u00e9') && !e.message.includes('xxxxxxxx'), 'metadata values are not echoed');
      });
    }
  });
}
