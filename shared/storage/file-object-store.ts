import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, opendir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { checkedLocation, keyProblem, metadataProblem, prefixProblem, RESERVED_SEGMENT_PREFIX } from './object-rules.js';
import {
  DEFAULT_GET_BYTES_LIMIT,
  type DeleteOutcome,
  type DeleteTarget,
  type ObjectDigest,
  type ObjectInfo,
  type ObjectStore,
  type ObjectVersion,
  type PutOptions,
  type PutResult,
} from './object-store.js';
import { type LockDetails, StorageError, type StorageErrorKind } from './storage-error.js';
import { readAll, sha256Of } from './stream-helpers.js';

const TEMP_PREFIX = `${RESERVED_SEGMENT_PREFIX}tmp.`;
const META_PREFIX = `${RESERVED_SEGMENT_PREFIX}meta.`;
/** S3's version id of an object written without versioning: the only version a file has. */
const NULL_VERSION = 'null';

interface Sidecar {
  contentType: string;
  metadata: Record<string, string>;
}

/**
 * {@link ObjectStore} on a filesystem (a mounted volume, small clusters, the sandbox), with
 * the bucket's layout as directories: key `backups/x/secrets.pgp` is the file
 * `<dir>/backups/x/secrets.pgp`.
 *
 * - Writes are atomic: the body goes to a temp file in the same directory, is fsynced and
 *   renamed over the key (then the directory is fsynced), so a reader sees the old object or
 *   the complete new one, and a failed put leaves nothing new at the key.
 * - Content type and user metadata live in a sidecar `.~meta.<name>.json` written just before
 *   the rename (the pair is not atomic: after a crash between the two, metadata may be the
 *   new object's while the bytes are the old one's; the bytes are what backups verify).
 * - Temp files and sidecars are named `.~...`, a segment prefix keys may not use, and
 *   listings hide them.
 * - Files are created 0600 and directories 0700: backups are for this job's user only.
 * - Unlike S3, a key cannot be both an object and a prefix (`a` and `a/b`): the second put
 *   fails with a StorageError of kind `other`.
 * - Like an S3 bucket without versioning or Object Lock: each object is one version, id
 *   `'null'`; nothing is ever locked; no warnings (no setting asks it for anything it ignores).
 */
export class FileObjectStore implements ObjectStore {
  readonly location: string;

  /** @param dir absolute directory of the store root; created (0700) on first write. */
  constructor(readonly dir: string) {
    this.location = `file://${dir}`;
  }

  async put(key: string, body: Readable | Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    const location = this.where(key);
    const problem = keyProblem(key) ?? metadataProblem(opts.metadata);
    if (problem !== undefined) {
      if (body instanceof Readable) body.destroy();
      throw new StorageError({ kind: 'other', operation: 'put', location, detail: problem });
    }
    const target = this.pathOf(key);
    const parent = dirname(target);
    const name = basename(target);
    const temp = join(parent, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.${name}`);
    const hash = createHash('sha256');
    let size = 0;
    let fh: FileHandle | undefined;
    let step = 'creating the directory';
    try {
      await mkdir(parent, { recursive: true, mode: 0o700 });
      step = 'writing a temp file';
      fh = await open(temp, 'wx', 0o600);
      const chunks: AsyncIterable<unknown> | Iterable<Uint8Array> = body instanceof Readable ? body : [body];
      for await (const chunk of chunks) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Uint8Array);
        hash.update(bytes);
        size += bytes.length;
        await writeFully(fh, bytes);
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      step = 'writing the metadata sidecar';
      const sidecar: Sidecar = { contentType: opts.contentType ?? 'application/octet-stream', metadata: opts.metadata ?? {} };
      await writeAtomically(join(parent, `${META_PREFIX}${name}.json`), JSON.stringify(sidecar));
      step = 'renaming the temp file over the key';
      await rename(temp, target);
      await syncDirectory(parent);
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      if (body instanceof Readable && !body.destroyed) body.destroy();
      throw fsError(e, 'put', location, step);
    }
    return { key, size, sha256: hash.digest('hex') };
  }

  async get(key: string): Promise<Readable> {
    const location = this.checkedWhere('get', key);
    const fh = await this.openObject('get', key, location);
    return fh.createReadStream();
  }

  async getBytes(key: string, maxBytes: number = DEFAULT_GET_BYTES_LIMIT): Promise<Buffer> {
    const location = this.checkedWhere('getBytes', key);
    const fh = await this.openObject('getBytes', key, location);
    const tooLarge = (size?: number) => StorageError.tooLarge('getBytes', location, maxBytes, size);
    const { size } = await fh.stat();
    if (size > maxBytes) {
      await fh.close();
      throw tooLarge(size);
    }
    return readAll(fh.createReadStream(), maxBytes, () => tooLarge());
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const location = this.checkedWhere('head', key);
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      if (!s.isFile()) return undefined;
      const sidecar = await readSidecar(path);
      return { key, size: s.size, lastModified: s.mtime, metadata: sidecar?.metadata ?? {} };
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return undefined;
      throw fsError(e, 'head', location);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const { dir, rest } = this.splitPrefix('list', prefix);
    yield* this.walk(dir, rest);
  }

  async *listPrefixes(prefix: string): AsyncIterable<string> {
    const { dir, rest } = this.splitPrefix('listPrefixes', prefix);
    for (const entry of await this.entries(dir, 'listPrefixes')) {
      if (!entry.isDirectory || !entry.name.startsWith(rest)) continue;
      const sub = joinKey(dir, entry.name);
      // S3 has no empty "directories": show a prefix only when an object lives under it.
      for await (const _ of this.walk(sub, '')) {
        yield `${sub}/`;
        break;
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.checkedWhere('delete', key);
    for (const key of new Set(keys)) {
      const path = this.pathOf(key);
      try {
        const s = await stat(path).catch((e: unknown) => (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR') ? undefined : Promise.reject(e)));
        if (s === undefined || !s.isFile()) continue;
        await rm(path, { force: true });
        await rm(join(dirname(path), `${META_PREFIX}${basename(path)}.json`), { force: true });
        await this.pruneEmptyParents(dirname(path));
      } catch (e) {
        throw fsError(e, 'delete', this.where(key));
      }
    }
  }

  async *listVersions(prefix: string): AsyncIterable<ObjectVersion> {
    for await (const o of this.list(prefix)) {
      yield { key: o.key, versionId: NULL_VERSION, isLatest: true, deleteMarker: false, size: o.size, lastModified: o.lastModified };
    }
  }

  /**
   * Deletes keys, and version `'null'` (the only one there is); any other version id is kept
   * with an error of kind `not-found` (the file store keeps no versions), and so is a key the
   * filesystem refused to delete (with that error).
   */
  async deleteObjects(targets: readonly DeleteTarget[]): Promise<DeleteOutcome[]> {
    for (const t of targets) this.checkedWhere('deleteObjects', t.key);
    const seen = new Set<string>();
    const out: DeleteOutcome[] = [];
    for (const t of targets) {
      const id = `${t.key}\0${t.versionId ?? ''}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (t.versionId !== undefined && t.versionId !== NULL_VERSION) {
        const error = new StorageError({
          kind: 'not-found',
          operation: 'deleteObjects',
          location: `${this.where(t.key)} (version ${t.versionId})`,
          code: 'NoSuchVersion',
          detail: `NoSuchVersion: a file store keeps one version per key, '${NULL_VERSION}'`,
        });
        out.push({ key: t.key, versionId: t.versionId, status: 'kept', error });
        continue;
      }
      try {
        await this.delete([t.key]);
        out.push({ ...t, status: 'deleted' });
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        out.push({ ...t, status: 'kept', error: e });
      }
    }
    return out;
  }

  /** `{}` (a file is never locked) when the key exists, undefined otherwise (and for any version but `'null'`). */
  async lockStatus(key: string, versionId?: string): Promise<LockDetails | undefined> {
    this.checkedWhere('lockStatus', key);
    if (versionId !== undefined && versionId !== NULL_VERSION) return undefined;
    return (await this.head(key)) === undefined ? undefined : {};
  }

  warnings(): readonly string[] {
    return [];
  }

  async digest(key: string): Promise<ObjectDigest> {
    return sha256Of(await this.get(key));
  }

  async abortUploads(prefix: string): Promise<number> {
    const { dir, rest } = this.splitPrefix('abortUploads', prefix);
    let removed = 0;
    const sweep = async (path: string, namePrefix: string, top: boolean): Promise<void> => {
      const names: Array<{ name: string; isDirectory: boolean }> = [];
      try {
        for await (const d of await opendir(path)) names.push({ name: d.name, isDirectory: d.isDirectory() });
      } catch (e) {
        if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return;
        throw fsError(e, 'abortUploads', `${this.location}/${prefix}`);
      }
      for (const { name, isDirectory } of names) {
        if (isDirectory && !name.startsWith(RESERVED_SEGMENT_PREFIX) && (!top || name.startsWith(namePrefix))) {
          await sweep(join(path, name), '', false);
        } else if (name.startsWith(TEMP_PREFIX) && (!top || name.slice(name.indexOf('.', TEMP_PREFIX.length) + 1).startsWith(namePrefix))) {
          await rm(join(path, name), { force: true });
          removed++;
        }
      }
    };
    await sweep(dir === '' ? this.dir : this.pathOf(dir), rest, true);
    return removed;
  }

  /** Objects under directory `dir` (a key prefix without trailing `/`) whose names start with `namePrefix`, sorted. */
  private async *walk(dir: string, namePrefix: string): AsyncGenerator<ObjectInfo> {
    for (const entry of await this.entries(dir, 'list')) {
      if (!entry.name.startsWith(namePrefix)) continue;
      const key = joinKey(dir, entry.name);
      if (entry.isDirectory) {
        yield* this.walk(key, '');
      } else {
        const s = await stat(this.pathOf(key)).catch(() => undefined);
        // Deleted between readdir and stat: skip, as a listing taken a moment later would.
        if (s?.isFile()) yield { key, size: s.size, lastModified: s.mtime };
      }
    }
  }

  /**
   * One directory's visible entries in S3 order. Sorting a directory as `name/` against
   * files' `name` gives the keys' UTF-8 byte order across the whole tree (`a-b` < `a/x`).
   */
  private async entries(dir: string, operation: string): Promise<Array<{ name: string; isDirectory: boolean }>> {
    const out: Array<{ name: string; isDirectory: boolean; sortKey: Buffer }> = [];
    try {
      for await (const d of await opendir(dir === '' ? this.dir : this.pathOf(dir))) {
        if (d.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
        if (!d.isDirectory() && !d.isFile()) continue;
        const isDirectory = d.isDirectory();
        out.push({ name: d.name, isDirectory, sortKey: Buffer.from(isDirectory ? `${d.name}/` : d.name, 'utf8') });
      }
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return [];
      throw fsError(e, operation, `${this.location}/${dir}`);
    }
    return out.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  }

  private async pruneEmptyParents(dir: string): Promise<void> {
    for (let d = dir; d.length > this.dir.length && d.startsWith(`${this.dir}/`); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop
      }
    }
  }

  private async openObject(operation: string, key: string, location: string): Promise<FileHandle> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.pathOf(key), 'r');
      if (!(await fh.stat()).isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT', syscall: 'open' });
      return fh;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw fsError(e, operation, location);
    }
  }

  private splitPrefix(operation: string, prefix: string): { dir: string; rest: string } {
    const problem = prefixProblem(prefix);
    if (problem !== undefined)
      throw new StorageError({ kind: 'other', operation, location: `${this.location}/${prefix}`, detail: problem });
    const slash = prefix.lastIndexOf('/');
    return { dir: slash === -1 ? '' : prefix.slice(0, slash), rest: prefix.slice(slash + 1) };
  }

  private pathOf(key: string): string {
    return join(this.dir, ...key.split('/'));
  }

  private where(key: string): string {
    return `${this.location}/${key}`;
  }

  private checkedWhere(operation: string, key: string): string {
    return checkedLocation(this.location, operation, key);
  }
}

function joinKey(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

async function writeFully(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
    at += bytesWritten;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.${basename(path)}`);
  try {
    const fh = await open(temp, 'wx', 0o600);
    try {
      await writeFully(fh, Buffer.from(text, 'utf8'));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readSidecar(objectPath: string): Promise<Sidecar | undefined> {
  try {
    return JSON.parse(await readFile(join(dirname(objectPath), `${META_PREFIX}${basename(objectPath)}.json`), 'utf8')) as Sidecar;
  } catch {
    return undefined;
  }
}

function isCode(e: unknown, code: string): boolean {
  return e !== null && typeof e === 'object' && (e as { code?: unknown }).code === code;
}

/**
 * A filesystem error as a {@link StorageError} (kind and errno code; the path is already in
 * `location`). Errors that are not from the filesystem, such as the caller's body stream
 * failing, are returned unchanged.
 */
function fsError(e: unknown, operation: string, location: string, step?: string): unknown {
  if (e instanceof StorageError) return e;
  const err = e as { code?: unknown; syscall?: unknown };
  if (e === null || typeof e !== 'object' || typeof err.code !== 'string' || typeof err.syscall !== 'string') return e;
  const code = err.code;
  const kinds: Record<string, StorageErrorKind> = {
    ENOENT: 'not-found',
    EACCES: 'access-denied',
    EPERM: 'access-denied',
    EROFS: 'access-denied',
    EFBIG: 'too-large',
    EIO: 'integrity',
  };
  const hints: Record<string, string> = {
    ENOTDIR: ' (a leading part of the key is an object: on a file store a key cannot be both an object and a prefix)',
    EISDIR: ' (the key is a prefix of other objects: on a file store a key cannot be both an object and a prefix)',
    ENOTEMPTY: ' (the key is a prefix of other objects: on a file store a key cannot be both an object and a prefix)',
    ENOSPC: ' (no space left on the volume)',
    EDQUOT: ' (disk quota exceeded)',
  };
  return new StorageError({
    kind: kinds[code] ?? 'other',
    operation,
    location,
    code,
    detail: `${step ? `${step}: ` : ''}${code}${hints[code] ?? ''}`,
  });
}
