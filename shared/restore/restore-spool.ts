/**
 * The selected Secrets of a verified backup, kept on local disk between the restore's verify
 * pass and its write pass, so that the backup is downloaded and OpenPGP-decrypted once.
 *
 * Nothing on disk is plaintext or can be believed without the process: the spool is a sequence
 * of chunks, each AES-256-GCM encrypted under a key drawn when the spool is created and held
 * only in this object's memory (never written, logged or passed on), with its own random nonce
 * and authentication tag. Each chunk's number and whether it is the last are authenticated with
 * it, so a chunk changed, swapped, replayed, dropped or cut short, or bytes after the last, fail
 * {@link RestoreSpool.read} with {@link SpoolError} before any Secret of that chunk is handed
 * out: a spool whose size differs from what was written before the first Secret, a changed
 * chunk when it is reached (the restore stops there, having written only authenticated Secrets).
 *
 * The file lives in a private directory (mode 0700, from `mkdtemp`, named
 * `secret-steward-restore-<pid>-XXXXXX`) under the pod's emptyDir (`os.tmpdir()`, i.e.
 * TMPDIR), is created with mode 0600, and is removed by {@link remove} (the restore calls it in
 * a `finally`) or, should the process exit first (a second SIGTERM), by an `exit` handler. A
 * process killed outright (SIGKILL, OOM) runs neither: the next restore in the same TMPDIR (the
 * emptyDir outlives a container restart) removes such leftovers with {@link removeStale}.
 *
 * Chunk layout: `last` (1 byte, 0 or 1), ciphertext length (4 bytes, big-endian), nonce
 * (12 bytes), ciphertext, tag (16 bytes); additional authenticated data: the chunk number
 * (8 bytes, big-endian) and `last`. Plaintext: per Secret, the SHA-256 of its data (64 hex
 * digits), its namespace in the backup, a tab, its name, a tab, the body of the request that
 * writes it (one JSON document, never a raw newline) and `\n`. The body is kept as the bytes
 * that are sent, so the write pass neither parses nor serialises it again.
 *
 * Budget: a spool created with a byte limit never grows its file beyond it: {@link append}
 * refuses (returns false) a Secret that would take the finished file beyond the limit, and
 * {@link rollBack} forgets the Secrets appended since the last {@link mark}, cutting the file
 * back, so that a caller can keep whole segments of the backup or none of one.
 *
 * Memory: a buffer of {@link BUFFER_BYTES} (larger while one Secret needs it) and one chunk's
 * ciphertext while writing, one chunk while reading (and those whose bodies are still being
 * written: a body read back is a view of its chunk).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type FileHandle, lstat, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StewardError } from '../errors/index.js';

/** Plaintext gathered before a chunk is encrypted and written. */
const CHUNK_BYTES = 1024 * 1024;
/** The buffer chunks are gathered in: room for a chunk and a Secret of the usual size after it. */
const BUFFER_BYTES = 2 * CHUNK_BYTES;
/** No chunk this spool writes is larger (a Secret's data is at most 1 MiB, 1.4 MiB in base64, plus metadata). */
const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 1 + 4 + 12;
const TAG_BYTES = 16;

/** The spool directories of this tool: our prefix, the creating process's pid, mkdtemp's six characters. */
const PREFIX = 'secret-steward-restore-';
const SPOOL_DIR_NAME = /^secret-steward-restore-([1-9][0-9]{0,9})-[A-Za-z0-9]{6}$/;

/** The spool directories this process has made and not yet removed (a pid alone cannot tell them from a dead process's). */
const ownDirs = new Set<string>();

/** A Secret in the spool: which it is, the SHA-256 of its data that the index records, and the JSON body that writes it. */
export interface SpooledSecret<Body extends string | Buffer = Buffer> {
  /** Its namespace in the backup (the body names the namespace it is written to). */
  namespace: string;
  name: string;
  dataSha256: string;
  /** The JSON body of the request that writes it: a string when appended, its UTF-8 bytes when read back. */
  body: Body;
}

/** The spool could not be written, or what was read back is not what was written (tampered, truncated). */
export class SpoolError extends StewardError {}

export class RestoreSpool {
  private readonly key = randomBytes(32);
  /** The plaintext of the chunk being gathered: `used` bytes of `buffer`. */
  private buffer: Buffer = Buffer.alloc(BUFFER_BYTES);
  private used = 0;
  private chunks = 0;
  /** Bytes written to the file. */
  private bytes = 0;
  private finished = false;
  private removed = false;
  /** Secrets appended. */
  count = 0;
  /** Where {@link rollBack} returns to: the file's bytes, chunks and Secrets at the last {@link mark}. */
  private marked = { bytes: 0, chunks: 0, count: 0 };
  private readonly onExit = () => rmSync(this.dir, { recursive: true, force: true });

  /**
   * Removes the spools under `parent` (@default os.tmpdir()) left by processes of this tool that
   * are gone, and returns their names. Only a directory (never a symlink: `lstat`, and `rm`
   * unlinks links inside rather than following them) with this tool's name and the creating
   * process's pid in it, owned by our uid, whose process no longer exists
   * (`process.kill(pid, 0)` fails with ESRCH; EPERM means it exists), or whose pid is ours but
   * which this process did not make (an earlier container of the pod had the same pid). Anything
   * else is left alone; a directory that cannot be read or removed is skipped.
   */
  static async removeStale(parent: string = tmpdir()): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      const m = SPOOL_DIR_NAME.exec(name);
      if (m === null) continue;
      const dir = join(parent, name);
      if (ownDirs.has(dir) || isAlive(Number(m[1]))) continue;
      try {
        const st = await lstat(dir);
        if (!st.isDirectory() || st.uid !== process.getuid?.()) continue;
        await rm(dir, { recursive: true, force: true });
        removed.push(name);
      } catch {
        // Gone meanwhile, or not ours to remove: the next restore looks again.
      }
    }
    return removed;
  }

  private constructor(
    /** The private directory holding the spool file. */
    readonly dir: string,
    readonly path: string,
    private out: FileHandle | undefined,
    /** Most bytes the finished file may hold. */
    readonly limit: number,
  ) {
    process.once('exit', this.onExit);
    ownDirs.add(dir);
  }

  /**
   * Creates an empty spool in a new private directory under `parent` (@default os.tmpdir()),
   * whose file never holds more than `limit` bytes (@default no limit).
   */
  static async create(parent: string = tmpdir(), limit = Number.POSITIVE_INFINITY): Promise<RestoreSpool> {
    let dir: string | undefined;
    try {
      dir = await mkdtemp(join(parent, `${PREFIX}${process.pid}-`));
      const path = join(dir, 'spool');
      return new RestoreSpool(dir, path, await open(path, 'wx', 0o600), limit);
    } catch (e) {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      throw spoolWriteError(parent, e);
    }
  }

  /**
   * Adds a Secret, the SHA-256 of its data as the index records it and its request body
   * (encrypted and written once a chunk is full). Returns false, having added nothing, when the
   * finished file would then hold more than {@link limit} bytes.
   */
  async append({ namespace, name, dataSha256, body }: SpooledSecret<string>): Promise<boolean> {
    if (this.finished) throw new Error('restore spool: append after finish');
    if (!/^[0-9a-f]{64}$/.test(dataSha256)) throw new Error('restore spool: dataSha256 is not a SHA-256 in hex');
    // Never met by a Secret the restore writes (DNS names; JSON.stringify escapes control characters): the framing would break.
    if (/[\t\n]/.test(namespace) || /[\t\n]/.test(name) || body.includes('\n'))
      throw new Error('restore spool: a namespace or name with a tab or newline, or a body with a newline');
    const header = `${namespace}\t${name}\t`;
    // At most 3 bytes per UTF-16 code unit; the exact length is only known once written.
    const room = 64 + 3 * (header.length + body.length) + 1;
    if (this.used > 0 && this.used + room > this.buffer.length) await this.flush(false);
    // A Secret larger than the buffer (near the API's 1 MiB): a buffer of its own size, once.
    const into = room > this.buffer.length ? Buffer.alloc(room) : this.buffer;
    if (into !== this.buffer) {
      this.buffer.fill(0);
      this.buffer = into;
    }
    const start = this.used;
    this.used += into.write(dataSha256, this.used, 'latin1');
    this.used += into.write(header, this.used, 'utf8');
    this.used += into.write(body, this.used, 'utf8');
    into[this.used++] = 0x0a;
    // This chunk's header and tag, and those of an empty last chunk should finish() write one.
    if (this.bytes + this.used + 2 * (HEADER_BYTES + TAG_BYTES) > this.limit) {
      into.fill(0, start, this.used);
      this.used = start;
      return false;
    }
    this.count++;
    if (this.used >= CHUNK_BYTES) await this.flush(false);
    return true;
  }

  /** Writes what is gathered as a chunk and marks the place {@link rollBack} returns to. */
  async mark(): Promise<void> {
    if (this.finished) throw new Error('restore spool: mark after finish');
    if (this.used > 0) await this.flush(false);
    this.marked = { bytes: this.bytes, chunks: this.chunks, count: this.count };
  }

  /** Forgets every Secret appended since the last {@link mark} (or since the start): the file is cut back to it. */
  async rollBack(): Promise<void> {
    if (this.finished) throw new Error('restore spool: roll back after finish');
    this.buffer.fill(0, 0, this.used);
    this.used = 0;
    try {
      await this.out!.truncate(this.marked.bytes);
    } catch (e) {
      throw spoolWriteError(this.dir, e);
    }
    ({ bytes: this.bytes, chunks: this.chunks, count: this.count } = this.marked);
  }

  /** Writes the last chunk and closes the file; {@link read} may then be called (more than once). */
  async finish(): Promise<void> {
    if (this.finished) return;
    await this.flush(true);
    this.finished = true;
    await this.out?.close();
    this.out = undefined;
  }

  /**
   * The Secrets in the order they were appended, checked chunk by chunk: throws
   * {@link SpoolError} on the first chunk that does not authenticate, or when the spool ends
   * before its last chunk or goes on after it. Each body is a view of its decrypted chunk.
   */
  async *read(): AsyncGenerator<SpooledSecret<Buffer>> {
    if (!this.finished) throw new Error('restore spool: read before finish');
    const fh = await open(this.path, 'r');
    try {
      // Cut short or added to: refused before the first Secret is handed out.
      const { size } = await fh.stat();
      if (size !== this.bytes) throw this.damaged(`it holds ${size} bytes, but ${this.bytes} were written (truncated or appended to)`);
      let at = 0;
      for (let n = 0; ; n++) {
        const header = await readExactly(fh, at, HEADER_BYTES);
        if (header === undefined) throw this.damaged(`it ends after ${n} of ${this.chunks} chunks (truncated)`);
        const last = header[0];
        const length = header.readUInt32BE(1);
        if (last > 1 || length > MAX_CHUNK_BYTES) throw this.damaged(`chunk ${n + 1} has a malformed header`);
        const body = await readExactly(fh, at + HEADER_BYTES, length + TAG_BYTES);
        if (body === undefined) throw this.damaged(`chunk ${n + 1} is cut short (truncated)`);
        at += HEADER_BYTES + length + TAG_BYTES;
        const plaintext = this.open(n, last === 1, header.subarray(5, HEADER_BYTES), body, length);
        let start = 0;
        for (let end = plaintext.indexOf(10); end !== -1; end = plaintext.indexOf(10, start)) {
          const tab = plaintext.indexOf(9, start + 64);
          const tab2 = tab === -1 ? -1 : plaintext.indexOf(9, tab + 1);
          if (tab2 === -1 || tab2 > end) throw this.damaged(`chunk ${n + 1} holds a malformed entry`);
          yield {
            namespace: plaintext.toString('utf8', start + 64, tab),
            name: plaintext.toString('utf8', tab + 1, tab2),
            dataSha256: plaintext.toString('latin1', start, start + 64),
            body: plaintext.subarray(tab2 + 1, end),
          };
          start = end + 1;
        }
        if (start !== plaintext.length) throw this.damaged(`chunk ${n + 1} ends inside a Secret`);
        if (last === 1) {
          if (n + 1 !== this.chunks) throw this.damaged(`its last chunk is chunk ${n + 1}, but ${this.chunks} were written`);
          if ((await readExactly(fh, at, 1)) !== undefined) throw this.damaged('it goes on after its last chunk');
          return;
        }
      }
    } finally {
      await fh.close();
    }
  }

  /** Deletes the file and its directory and forgets the key. Safe to call more than once. */
  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.onExit);
    this.key.fill(0);
    this.buffer.fill(0);
    this.used = 0;
    try {
      await this.out?.close();
    } finally {
      this.out = undefined;
      await rm(this.dir, { recursive: true, force: true });
      ownDirs.delete(this.dir);
    }
  }

  private async flush(last: boolean): Promise<void> {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad(this.chunks, last));
    // GCM is a stream mode: update() returns the whole ciphertext, final() nothing more.
    const ciphertext = cipher.update(this.buffer.subarray(0, this.used));
    cipher.final();
    this.buffer.fill(0, 0, this.used);
    this.used = 0;
    if (this.buffer.length > BUFFER_BYTES) this.buffer = Buffer.alloc(BUFFER_BYTES);
    const header = Buffer.alloc(HEADER_BYTES);
    header[0] = last ? 1 : 0;
    header.writeUInt32BE(ciphertext.length, 1);
    nonce.copy(header, 5);
    try {
      // At its place: after a rollBack() the file is shorter than the handle's position.
      await this.out!.writev([header, ciphertext, cipher.getAuthTag()], this.bytes);
    } catch (e) {
      throw spoolWriteError(this.dir, e);
    }
    this.chunks++;
    this.bytes += header.length + ciphertext.length + TAG_BYTES;
  }

  private open(n: number, last: boolean, nonce: Buffer, body: Buffer, length: number): Buffer {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, nonce);
      decipher.setAAD(aad(n, last));
      decipher.setAuthTag(body.subarray(length));
      const plaintext = decipher.update(body.subarray(0, length));
      // Throws unless the tag authenticates: nothing of the chunk is used before.
      decipher.final();
      return plaintext;
    } catch (e) {
      throw this.damaged(`chunk ${n + 1} does not authenticate (changed, swapped or out of place)`, e);
    }
  }

  private damaged(why: string, cause?: unknown): SpoolError {
    return new SpoolError(
      `restore: the local spool of verified Secrets ${this.path} is not what this restore wrote: ${why}; nothing more is written from it`,
      { cause },
    );
  }
}

/** True unless no process has this pid (signal 0 checks without sending; EPERM: it exists, as another user's). */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function aad(n: number, last: boolean): Buffer {
  const b = Buffer.alloc(9);
  b.writeBigUInt64BE(BigInt(n));
  b[8] = last ? 1 : 0;
  return b;
}

/** `length` bytes at `position`, or undefined when the file ends first. */
async function readExactly(fh: FileHandle, position: number, length: number): Promise<Buffer | undefined> {
  const b = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(b, got, length - got, position + got);
    if (bytesRead === 0) return undefined;
    got += bytesRead;
  }
  return b;
}

function spoolWriteError(where: string, e: unknown): SpoolError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new SpoolError(
    `restore: cannot write the local spool of verified Secrets under ${where} (TMPDIR, the pod's emptyDir /tmp)${code ? `: ${code}` : ''}; ` +
      'it needs about the size of the selected Secrets, up to --restore-spool-limit: give the emptyDir a larger sizeLimit, or lower --restore-spool-limit (0 spools nothing). Nothing was written to the cluster',
    { cause: e },
  );
}
