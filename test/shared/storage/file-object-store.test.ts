import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { FileObjectStore } from '../../../shared/storage/file-object-store.js';
import { StorageError } from '../../../shared/storage/storage-error.js';
import { canDropPrivileges, requireDependency } from '../../support/dependencies.js';
import { collect, failingStream, MIB, objectStoreContract, patternBytes } from './object-store-contract.js';

/** The uid and gid of `nobody` on Debian. */
const NOBODY = 65534;

/** Puts `key` into a FileObjectStore on `dir` in a child process (as `nobody` when asked); prints `stored` or the error kind. */
function putInChildProcess(dir: string, key: string, asNobody: boolean): string {
  const script = [
    `const { FileObjectStore } = await import(${JSON.stringify(pathToFileURL(join(process.cwd(), 'shared/storage/file-object-store.ts')).href)});`,
    `try { await new FileObjectStore(${JSON.stringify(dir)}).put(${JSON.stringify(key)}, Buffer.from('2')); console.log('stored'); }`,
    'catch (e) { console.log(e.kind ?? e.message); }',
  ].join('\n');
  const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
  const argv = asNobody ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...node] : node;
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** Every file and directory under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('shared/storage/file-object-store', () => {
  const dirs: string[] = [];
  const freshDir = async () => {
    const parent = await mkdtemp(join(tmpdir(), 'file-store-'));
    dirs.push(parent);
    return join(parent, 'store');
  };

  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  describe('contract', () => {
    objectStoreContract(async () => ({ store: new FileObjectStore(await freshDir()), partSize: 5 * MIB }));
  });

  it('has a file:// location', async () => {
    const dir = await freshDir();

    assert.equal(new FileObjectStore(dir).location, `file://${dir}`);
  });

  it('never shows a partial file at the key while the body is still being written, nor after it fails', async () => {
    const dir = await freshDir();
    const store = new FileObjectStore(dir);
    let seenWhileWriting: string[] | undefined;
    async function* body() {
      yield patternBytes(300_000);
      seenWhileWriting = await tree(dir);
      throw new Error('producer failed midway (test)');
    }

    await assert.rejects(store.put('backups/b1/secrets.pgp', Readable.from(body())), /producer failed midway/);

    assert.ok(seenWhileWriting);
    assert.ok(!seenWhileWriting.includes(join('backups', 'b1', 'secrets.pgp')), `visible while writing: ${seenWhileWriting}`);
    assert.ok(
      seenWhileWriting.some((p) => p.includes('.~tmp.')),
      'the body goes to a temp file first',
    );
    assert.deepEqual(
      (await tree(dir)).filter((p) => !p.endsWith('b1') && !p.endsWith('backups')),
      [],
      'temp file removed',
    );
    assert.deepEqual(await collect(store.list('')), []);
  });

  it('creates files 0600 and directories 0700', async () => {
    const dir = await freshDir();
    const store = new FileObjectStore(dir);

    await store.put('backups/b1/secrets.pgp', Buffer.from('ciphertext'), { metadata: { 'backup-id': 'b1' } });

    for (const d of [dir, join(dir, 'backups'), join(dir, 'backups', 'b1')]) {
      assert.equal((await stat(d)).mode & 0o777, 0o700, d);
    }
    for (const f of await readdir(join(dir, 'backups', 'b1'))) {
      assert.equal((await stat(join(dir, 'backups', 'b1', f))).mode & 0o777, 0o600, f);
    }
  });

  it('keeps metadata in a sidecar that listings hide', async () => {
    const dir = await freshDir();
    const store = new FileObjectStore(dir);

    await store.put('x/obj', Buffer.from('bytes'), { metadata: { a: '1' } });

    assert.deepEqual(await readdir(join(dir, 'x')), ['.~meta.obj.json', 'obj'].sort());
    assert.deepEqual(
      (await collect(store.list(''))).map((o) => o.key),
      ['x/obj'],
    );
    assert.equal((await store.getBytes('x/obj')).toString(), 'bytes');
  });

  it('hides leftover temp files (a crashed writer) from list and listPrefixes', async () => {
    const dir = await freshDir();
    const store = new FileObjectStore(dir);
    await store.put('b/real', Buffer.from('r'));
    await writeFile(join(dir, 'b', '.~tmp.abc.partial'), 'half');
    await (await import('node:fs/promises')).mkdir(join(dir, 'only-temp'), { mode: 0o700 });
    await writeFile(join(dir, 'only-temp', '.~tmp.def.x'), 'half');

    assert.deepEqual(
      (await collect(store.list(''))).map((o) => o.key),
      ['b/real'],
    );
    assert.deepEqual(await collect(store.listPrefixes('')), ['b/']);
  });

  it('abortUploads removes the temp files a killed writer left under a prefix, and nothing else', async () => {
    const dir = await freshDir();
    const store = new FileObjectStore(dir);
    await store.put('b/1/real', Buffer.from('r'));
    await writeFile(join(dir, 'b', '1', '.~tmp.abc.segment'), 'half');
    await (await import('node:fs/promises')).mkdir(join(dir, 'b', '2'), { mode: 0o700 });
    await writeFile(join(dir, 'b', '2', '.~tmp.def.other'), 'half');
    await writeFile(join(dir, 'b', '.~tmp.123.1x'), 'half');

    const removed = await store.abortUploads('b/1/');
    const none = await store.abortUploads('nothing/');

    assert.equal(removed, 1);
    assert.equal(none, 0);
    assert.deepEqual(await tree(join(dir, 'b')), ['.~tmp.123.1x', '1', '1/.~meta.real.json', '1/real', '2', '2/.~tmp.def.other']);
    assert.equal(await store.abortUploads('b/1'), 1, 'a prefix that is no directory matches names too (b/1x, b/1/...)');
  });

  it('writes nothing outside its directory for traversal keys', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'file-store-'));
    dirs.push(parent);
    const store = new FileObjectStore(join(parent, 'store'));

    for (const key of ['../outside', 'a/../../outside', '..', 'a/..']) {
      await assert.rejects(store.put(key, Buffer.from('x')), (e: unknown) => e instanceof StorageError && e.kind === 'other');
    }

    assert.deepEqual(await readdir(parent), []);
  });

  it('refuses a key that is also a prefix, as a directory cannot be a file', async () => {
    const store = new FileObjectStore(await freshDir());
    await store.put('a/b', Buffer.from('x'));

    await assert.rejects(
      store.put('a', Buffer.from('y')),
      (e: unknown) => e instanceof StorageError && e.kind === 'other' && /prefix/.test(e.message),
    );
    await assert.rejects(store.put('a/b/c', Buffer.from('y')), (e: unknown) => e instanceof StorageError && e.kind === 'other');
    assert.equal((await store.getBytes('a/b')).toString(), 'x');
  });

  it('reports an unwritable directory as access-denied', async function () {
    const dir = await freshDir();
    const store = new FileObjectStore(dir);
    await store.put('x', Buffer.from('1'));
    await chmod(dir, 0o500);

    if (process.getuid?.() !== 0) {
      await assert.rejects(store.put('y', Buffer.from('2')), (e: unknown) => e instanceof StorageError && e.kind === 'access-denied');
      return;
    }
    // Root ignores permission bits (CI runs as root), so the put runs as an unprivileged user.
    requireDependency(this, 'setpriv', canDropPrivileges(), 'apt-get install util-linux');
    await chown(dir, NOBODY, NOBODY);
    await chown(join(dir, 'x'), NOBODY, NOBODY);

    assert.equal(putInChildProcess(dir, 'y', true), 'access-denied');
    assert.equal(putInChildProcess(dir, 'z', false), 'stored', 'root may write there: the unprivileged user is what makes the check fail');
  });

  it('reads a body that fails after several parts the same way as one that fails at once', async () => {
    const store = new FileObjectStore(await freshDir());

    await assert.rejects(store.put('k', failingStream(3 * MIB)), /producer failed midway/);

    assert.equal(await store.head('k'), undefined);
  });
});
