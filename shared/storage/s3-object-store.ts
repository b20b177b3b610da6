import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
  type StorageClass,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Logger } from '../log/index.js';
import { type Clock, systemClock } from '../runtime/clock.js';
import { bodyParts } from './body-parts.js';
import { checkedLocation, keyProblem, metadataProblem, prefixProblem } from './object-rules.js';
import {
  DEFAULT_GET_BYTES_LIMIT,
  type DeleteOptions,
  type DeleteOutcome,
  type DeleteTarget,
  type ObjectDigest,
  type ObjectInfo,
  type ObjectStore,
  type ObjectVersion,
  type PutOptions,
  type PutResult,
} from './object-store.js';
import { type S3OpContext, toStorageError } from './s3-error-mapping.js';
import { type LockDetails, StorageError } from './storage-error.js';
import { readAll, sha256Of } from './stream-helpers.js';

/** S3's limits. */
export const S3_MIN_PART_SIZE = 5 * 1024 * 1024;
export const S3_MAX_PARTS = 10_000;
const DELETE_BATCH = 1000;

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of the store root, without leading or trailing `/`; `''` for the bucket root. */
  prefix: string;
  /** Bytes per multipart part (>= 5 MiB, S3's minimum). @default 16 MiB */
  partSize?: number;
  sse?: 'AES256' | 'aws:kms';
  sseKmsKeyId?: string;
  storageClass?: string;
  /**
   * Object Lock retention applied to every object written: retain-until = the clock's now +
   * `retentionMs` (the bucket must have Object Lock enabled).
   */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; retentionMs: number };
  /** Source of "now" for Object Lock retain-until dates. @default systemClock */
  clock?: Clock;
  /** Where aborted uploads are reported. */
  log?: Logger;
  /** Keys per ListObjectsV2 page (S3's maximum is 1000). @default 1000 */
  listPageSize?: number;
}

/**
 * {@link ObjectStore} on S3 or an S3-compatible store.
 *
 * Uploads are our own loop rather than lib-storage's `Upload`, to control exactly what goes on
 * the wire: the body is cut into parts of `partSize` in ONE reused buffer, each part is sent as
 * a Buffer with Content-Length and Content-MD5 (never aws-chunked, which some stores store
 * verbatim; Content-MD5 also satisfies Object Lock's "MD5 or checksum" requirement), parts go
 * one at a time, and any failure aborts the multipart upload.
 *
 * What a store accepts is not always what it does (Ceph RGW 16 takes `x-amz-server-side-encryption:
 * AES256` and stores the object unencrypted, and drops the retention of multipart uploads;
 * s3rver ignores Object Lock headers): after each write that asked for server-side encryption or
 * a retention, the store's answer (or a HeadObject when the answer does not tell) must confirm
 * it, or a warning names the store and the setting ({@link warnings}). Neither the upload's ETag nor CompleteMultipartUpload's is relied on (RGW
 * answers the latter with an empty one); {@link head} returns the stored object's.
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly bucket: string;
  readonly partSize: number;
  private readonly root: string;
  private readonly client: S3Client;
  private readonly clock: Clock;
  private readonly pageSize: number;
  /** Warnings so far, by the setting they are about. */
  private readonly unconfirmed = new Map<string, string>();

  constructor(private readonly o: S3ObjectStoreOptions) {
    this.client = o.client;
    this.bucket = o.bucket;
    this.root = o.prefix === '' ? '' : `${o.prefix}/`;
    this.location = `s3://${o.bucket}${o.prefix === '' ? '' : `/${o.prefix}`}`;
    this.partSize = o.partSize ?? 16 * 1024 * 1024;
    if (this.partSize < S3_MIN_PART_SIZE) throw new RangeError(`part size must be at least ${S3_MIN_PART_SIZE} bytes`);
    this.clock = o.clock ?? systemClock;
    this.pageSize = o.listPageSize ?? 1000;
  }

  async put(key: string, body: Readable | Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    const location = this.where(key);
    const problem = keyProblem(key) ?? metadataProblem(opts.metadata);
    if (problem !== undefined) {
      if (body instanceof Readable) body.destroy();
      throw new StorageError({ kind: 'other', operation: 'put', location, detail: problem });
    }
    const Key = this.root + key;
    const params = this.writeParams(Key, opts);
    const sha256 = createHash('sha256');
    let size = 0;
    let uploadId: string | undefined;
    /** `x-amz-server-side-encryption` of the store's answers to this upload. */
    let encryption: string | undefined;
    const parts: CompletedPart[] = [];
    try {
      let partNumber = 0;
      for await (const part of bodyParts(body, this.partSize)) {
        partNumber++;
        sha256.update(part.data);
        size += part.data.length;
        const contentMd5 = createHash('md5').update(part.data).digest('base64');
        if (partNumber === 1 && part.last) {
          const r = await this.call({ operation: 'put', location, step: 'PutObject' }, () =>
            this.client.send(new PutObjectCommand({ ...params, Body: part.data, ContentLength: part.data.length, ContentMD5: contentMd5 })),
          );
          encryption = r.ServerSideEncryption;
          break;
        }
        if (partNumber > S3_MAX_PARTS) {
          throw new StorageError({
            kind: 'too-large',
            operation: 'put',
            location,
            detail: `the object needs more than ${S3_MAX_PARTS} parts of ${this.partSize / 1048576} MiB; raise --s3-part-size`,
          });
        }
        if (uploadId === undefined) {
          const created = await this.call({ operation: 'put', location, step: 'CreateMultipartUpload' }, () =>
            this.client.send(new CreateMultipartUploadCommand(params)),
          );
          uploadId = created.UploadId;
          encryption = created.ServerSideEncryption;
          if (uploadId === undefined) {
            throw new StorageError({ kind: 'other', operation: 'put', location, detail: 'CreateMultipartUpload returned no UploadId' });
          }
        }
        const UploadId = uploadId;
        const PartNumber = partNumber;
        const r = await this.call({ operation: 'put', location, step: `UploadPart ${PartNumber}` }, () =>
          this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key,
              UploadId,
              PartNumber,
              Body: part.data,
              ContentLength: part.data.length,
              ContentMD5: contentMd5,
            }),
          ),
        );
        parts.push({
          PartNumber,
          ETag: r.ETag,
          ChecksumCRC32: r.ChecksumCRC32,
          ChecksumCRC32C: r.ChecksumCRC32C,
          ChecksumCRC64NVME: r.ChecksumCRC64NVME,
          ChecksumSHA1: r.ChecksumSHA1,
          ChecksumSHA256: r.ChecksumSHA256,
        });
      }
      if (uploadId !== undefined) {
        const UploadId = uploadId;
        const done = await this.call({ operation: 'put', location, step: 'CompleteMultipartUpload' }, () =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
        );
        encryption ??= done.ServerSideEncryption;
      }
    } catch (e) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      if (uploadId === undefined) throw e;
      throw await this.abort(Key, uploadId, location, e);
    }
    await this.confirmWrite(Key, location, encryption, uploadId !== undefined, params.ObjectLockRetainUntilDate);
    return { key, size, sha256: sha256.digest('hex') };
  }

  /**
   * Checks that the store did what the settings asked of a write it accepted: server-side
   * encryption (its answer to the upload says so, else HeadObject must) and Object Lock
   * retention (HeadObject must show the mode). Ceph RGW 16 drops the retention given with
   * CreateMultipartUpload: a multipart object without it gets it with PutObjectRetention (the
   * same date), then is checked again. A setting the store did not confirm is warned about once
   * (logged, and kept for {@link warnings}) and not checked again. A failing HeadObject is a
   * warning too: the object is stored, only the confirmation is missing.
   */
  private async confirmWrite(
    Key: string,
    location: string,
    encryption: string | undefined,
    multipart: boolean,
    retainUntil: Date | undefined,
  ): Promise<void> {
    const sse = this.o.sse;
    const lock = this.o.objectLock;
    const checkSse = sse !== undefined && encryption !== sse && !this.unconfirmed.has('--s3-sse');
    const checkLock = lock !== undefined && retainUntil !== undefined && !this.unconfirmed.has('--s3-object-lock-mode');
    if (!checkSse && !checkLock) return;
    const headObject = () =>
      this.call({ operation: 'put', location, step: 'HeadObject (confirming the write)' }, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key })),
      );
    let head: HeadObjectCommandOutput;
    try {
      head = await headObject();
    } catch (e) {
      const why = e instanceof StorageError ? e.detail : String(e);
      if (checkSse) this.warn('--s3-sse', `could not confirm that the store applied --s3-sse ${sse}: ${why}`);
      if (checkLock)
        this.warn('--s3-object-lock-mode', `could not confirm that the store applied --s3-object-lock-mode ${lock?.mode}: ${why}`);
      return;
    }
    if (checkSse && head.ServerSideEncryption !== sse) {
      this.warn(
        '--s3-sse',
        `the store accepted --s3-sse ${sse} but neither its answer to the upload nor HeadObject confirms server-side encryption (x-amz-server-side-encryption: ${head.ServerSideEncryption ?? 'absent'}): objects may be stored without it; backups are still OpenPGP-encrypted by secret-steward`,
      );
    }
    if (!checkLock || lock === undefined || retainUntil === undefined || head.ObjectLockMode === lock.mode) return;
    let repair = '';
    if (multipart && head.ObjectLockMode === undefined) {
      try {
        const VersionId = head.VersionId;
        await this.call({ operation: 'put', location, step: 'PutObjectRetention (the multipart upload lost its retention)' }, () =>
          this.client.send(
            new PutObjectRetentionCommand({
              Bucket: this.bucket,
              Key,
              VersionId,
              Retention: { Mode: lock.mode, RetainUntilDate: retainUntil },
            }),
          ),
        );
        head = await headObject();
        if (head.ObjectLockMode === lock.mode) return;
      } catch (e) {
        repair = `; setting it afterwards with PutObjectRetention failed too (${e instanceof StorageError ? e.detail : String(e)})`;
      }
    }
    const until = head.ObjectLockRetainUntilDate;
    this.warn(
      '--s3-object-lock-mode',
      `the store accepted --s3-object-lock-mode ${lock.mode} but HeadObject shows ${head.ObjectLockMode === undefined ? 'no retention' : `retention ${head.ObjectLockMode}`}${until === undefined ? '' : ` until ${until.toISOString()}`}${repair}: objects may not be protected against deletion`,
    );
  }

  private warn(setting: string, message: string): void {
    if (this.unconfirmed.has(setting)) return;
    const text = `${this.location}: ${message}`;
    this.unconfirmed.set(setting, text);
    this.o.log?.warn({ store: this.location, setting }, text);
  }

  warnings(): readonly string[] {
    return [...this.unconfirmed.values()];
  }

  /**
   * Aborts a multipart upload after `cause` and returns the error to throw. When the abort
   * itself fails, the returned error says so: parts then remain billable until a bucket
   * lifecycle rule (AbortIncompleteMultipartUpload) removes them.
   */
  private async abort(Key: string, UploadId: string, location: string, cause: unknown): Promise<unknown> {
    try {
      await this.call({ operation: 'put', location, step: 'AbortMultipartUpload' }, () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })),
      );
      this.o.log?.warn({ store: this.location, key: Key, uploadId: UploadId }, 'upload failed; multipart upload aborted');
      return cause;
    } catch (abortError) {
      const why = abortError instanceof StorageError ? abortError.message : String(abortError);
      this.o.log?.error(
        { store: this.location, key: Key, uploadId: UploadId, abortError: why },
        'upload failed and aborting the multipart upload failed too; its parts remain until a lifecycle rule removes them',
      );
      if (cause instanceof StorageError) {
        return new StorageError({
          kind: cause.kind,
          operation: cause.operation,
          location: cause.location,
          status: cause.status,
          code: cause.code,
          detail: `${cause.detail}; aborting the multipart upload ${UploadId} failed too (${why}): its parts remain until a lifecycle rule (AbortIncompleteMultipartUpload) removes them`,
        });
      }
      return cause;
    }
  }

  async get(key: string): Promise<Readable> {
    const ctx = this.context('get', key);
    const r = await this.call(ctx, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
    return translateStreamErrors(r.Body as Readable, ctx);
  }

  async getBytes(key: string, maxBytes: number = DEFAULT_GET_BYTES_LIMIT): Promise<Buffer> {
    const ctx = this.context('getBytes', key);
    const r = await this.call(ctx, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
    const body = r.Body as Readable;
    if (r.ContentLength !== undefined && r.ContentLength > maxBytes) {
      body.destroy();
      throw StorageError.tooLarge(ctx.operation, ctx.location, maxBytes, r.ContentLength);
    }
    return readAll(translateStreamErrors(body, ctx), maxBytes, () => StorageError.tooLarge(ctx.operation, ctx.location, maxBytes));
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const ctx = this.context('head', key);
    try {
      const r = await this.call(ctx, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key })));
      const etag = normalizeEtag(r.ETag);
      return {
        key,
        size: r.ContentLength ?? 0,
        lastModified: r.LastModified ?? new Date(0),
        metadata: r.Metadata ?? {},
        ...(etag !== undefined ? { etag } : {}),
        ...(r.VersionId !== undefined ? { versionId: r.VersionId } : {}),
      };
    } catch (e) {
      if (e instanceof StorageError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of this.pages('list', prefix, false)) {
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield { key: o.Key.slice(this.root.length), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
    }
  }

  async *listPrefixes(prefix: string): AsyncIterable<string> {
    for await (const page of this.pages('listPrefixes', prefix, true)) {
      for (const p of page.CommonPrefixes ?? []) {
        if (p.Prefix !== undefined) yield p.Prefix.slice(this.root.length);
      }
    }
  }

  private async *pages(operation: string, prefix: string, delimited: boolean) {
    const location = `${this.location}/${prefix}`;
    const problem = prefixProblem(prefix);
    if (problem !== undefined) throw new StorageError({ kind: 'other', operation, location, detail: problem });
    let token: string | undefined;
    for (let page = 1; ; page++) {
      const ContinuationToken = token;
      const r = await this.call({ operation, location, step: `ListObjectsV2 page ${page}` }, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.root + prefix,
            MaxKeys: this.pageSize,
            ContinuationToken,
            ...(delimited ? { Delimiter: '/' } : {}),
          }),
        ),
      );
      yield r;
      if (!r.IsTruncated) return;
      if (!r.NextContinuationToken) {
        throw new StorageError({
          kind: 'other',
          operation,
          location,
          detail: 'the store said the listing continues but sent no continuation token',
        });
      }
      token = r.NextContinuationToken;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const targets = this.checkedTargets(
      'delete',
      keys.map((key) => ({ key })),
    );
    for (let at = 0; at < targets.length; at += DELETE_BATCH) {
      const batch = targets.slice(at, at + DELETE_BATCH);
      const location = this.batchLocation(batch);
      const kept = (await this.deleteBatch('delete', location, batch, true, false)).filter((o) => o.status === 'kept');
      if (kept.length > 0) {
        const first = kept[0].error;
        throw new StorageError({
          kind: first.kind,
          operation: 'delete',
          location,
          code: first.code,
          lockMode: first.lockMode,
          retainUntil: first.retainUntil,
          legalHold: first.legalHold,
          detail: `DeleteObjects: ${kept.length} of ${batch.length} keys not deleted, e.g. ${kept[0].key}: ${first.detail}`,
        });
      }
    }
  }

  async deleteObjects(targets: readonly DeleteTarget[], opts: DeleteOptions = {}): Promise<DeleteOutcome[]> {
    const unique = this.checkedTargets('deleteObjects', targets);
    const out: DeleteOutcome[] = [];
    for (let at = 0; at < unique.length; at += DELETE_BATCH) {
      const batch = unique.slice(at, at + DELETE_BATCH);
      out.push(
        ...(await this.deleteBatch('deleteObjects', this.batchLocation(batch), batch, false, opts.bypassGovernanceRetention ?? false)),
      );
    }
    return out;
  }

  /** Validates keys (all before anything is sent) and drops repeated targets, keeping the first. */
  private checkedTargets(operation: string, targets: readonly DeleteTarget[]): DeleteTarget[] {
    for (const t of targets) {
      const problem = keyProblem(t.key);
      if (problem !== undefined) throw new StorageError({ kind: 'other', operation, location: this.where(t.key), detail: problem });
    }
    const seen = new Set<string>();
    return targets.filter((t) => {
      const id = `${t.key}\0${t.versionId ?? ''}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  private batchLocation(batch: readonly DeleteTarget[]): string {
    return batch.length === 1 ? this.where(batch[0].key) : `${this.location} (${batch.length} keys from ${batch[0].key})`;
  }

  /**
   * One DeleteObjects request and what became of each target. `quiet`: the store lists only
   * failures (every other target was deleted). A refusal whose code is AccessDenied is looked
   * into: when the version is under an Object Lock (HeadObject shows a retention that has not
   * expired, or a legal hold), or the store's message says so, it is kind `locked`.
   */
  private async deleteBatch(
    operation: string,
    location: string,
    batch: readonly DeleteTarget[],
    quiet: boolean,
    bypass: boolean,
  ): Promise<DeleteOutcome[]> {
    const r = await this.call({ operation, location, step: 'DeleteObjects' }, () =>
      this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: {
            Objects: batch.map((t) => ({ Key: this.root + t.key, ...(t.versionId !== undefined ? { VersionId: t.versionId } : {}) })),
            Quiet: quiet,
          },
          ...(bypass ? { BypassGovernanceRetention: true } : {}),
        }),
      ),
    );
    const id = (key: string | undefined, versionId: string | undefined) => `${(key ?? '').slice(this.root.length)}\0${versionId ?? ''}`;
    const errors = new Map((r.Errors ?? []).map((e) => [id(e.Key, e.VersionId), e]));
    const deleted = new Map((r.Deleted ?? []).map((d) => [id(d.Key, d.VersionId), d]));
    const out: DeleteOutcome[] = [];
    for (const t of batch) {
      const target = { key: t.key, ...(t.versionId !== undefined ? { versionId: t.versionId } : {}) };
      const failed = errors.get(id(this.root + t.key, t.versionId)) ?? errors.get(id(this.root + t.key, undefined));
      if (failed === undefined) {
        const d = deleted.get(id(this.root + t.key, t.versionId)) ?? deleted.get(id(this.root + t.key, undefined));
        out.push({
          ...target,
          status: 'deleted',
          ...(d?.DeleteMarker ? { deleteMarker: true } : {}),
          ...(d?.DeleteMarkerVersionId !== undefined ? { deleteMarkerVersionId: d.DeleteMarkerVersionId } : {}),
        });
        continue;
      }
      out.push({ ...target, status: 'kept', error: await this.refusal(operation, t, failed.Code ?? 'Error', failed.Message) });
    }
    return out;
  }

  /** The StorageError for one key DeleteObjects refused (`code` and `message` as the store sent them). */
  private async refusal(operation: string, t: DeleteTarget, code: string, message: string | undefined): Promise<StorageError> {
    const location = `${this.where(t.key)}${t.versionId !== undefined ? ` (version ${t.versionId})` : ''}`;
    let lock: LockDetails | undefined;
    if (code === 'AccessDenied' && t.versionId !== undefined) {
      lock = await this.lockStatus(t.key, t.versionId).catch(() => undefined);
      const now = this.clock.now().getTime();
      const held = lock !== undefined && (lock.legalHold === true || (lock.retainUntil !== undefined && lock.retainUntil.getTime() > now));
      if (!held && !/object lock/i.test(message ?? '')) lock = undefined;
    }
    if (lock !== undefined) {
      const why = [
        lock.lockMode !== undefined && lock.retainUntil !== undefined
          ? `${lock.lockMode} retention until ${lock.retainUntil.toISOString()}`
          : undefined,
        lock.legalHold ? 'a legal hold' : undefined,
      ].filter((x) => x !== undefined);
      return new StorageError({
        kind: 'locked',
        operation,
        location,
        code,
        ...lock,
        detail: `${code}: protected by Object Lock${why.length > 0 ? ` (${why.join(' and ')})` : ''}`,
      });
    }
    return new StorageError({
      kind: code === 'AccessDenied' ? 'access-denied' : code === 'NoSuchKey' || code === 'NoSuchVersion' ? 'not-found' : 'other',
      operation,
      location,
      code,
      detail: code,
    });
  }

  async lockStatus(key: string, versionId?: string): Promise<LockDetails | undefined> {
    const ctx = this.context('lockStatus', key);
    try {
      const r = await this.call(ctx, () =>
        this.client.send(
          new HeadObjectCommand({
            Bucket: this.bucket,
            Key: this.root + key,
            ...(versionId !== undefined ? { VersionId: versionId } : {}),
          }),
        ),
      );
      return {
        ...(r.ObjectLockMode !== undefined ? { lockMode: r.ObjectLockMode } : {}),
        ...(r.ObjectLockRetainUntilDate !== undefined ? { retainUntil: r.ObjectLockRetainUntilDate } : {}),
        ...(r.ObjectLockLegalHoldStatus === 'ON' ? { legalHold: true } : {}),
      };
    } catch (e) {
      if (e instanceof StorageError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  async *listVersions(prefix: string): AsyncIterable<ObjectVersion> {
    const location = `${this.location}/${prefix}`;
    const problem = prefixProblem(prefix);
    if (problem !== undefined) throw new StorageError({ kind: 'other', operation: 'listVersions', location, detail: problem });
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (let page = 1; ; page++) {
      const keyMarker = KeyMarker;
      const versionIdMarker = VersionIdMarker;
      const r = await this.call({ operation: 'listVersions', location, step: `ListObjectVersions page ${page}` }, () =>
        this.client.send(
          new ListObjectVersionsCommand({
            Bucket: this.bucket,
            Prefix: this.root + prefix,
            MaxKeys: this.pageSize,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        ),
      );
      const entries: ObjectVersion[] = [
        ...(r.Versions ?? []).map((v) => ({ v, deleteMarker: false, size: v.Size ?? 0 })),
        ...(r.DeleteMarkers ?? []).map((v) => ({ v, deleteMarker: true, size: 0 })),
      ]
        .filter(({ v }) => v.Key !== undefined)
        .map(({ v, deleteMarker, size }) => ({
          key: v.Key!.slice(this.root.length),
          versionId: v.VersionId ?? 'null',
          isLatest: v.IsLatest ?? false,
          deleteMarker,
          size,
          lastModified: v.LastModified ?? new Date(0),
        }));
      // The store interleaves versions and delete markers; the SDK returns them apart: restore S3's order.
      entries.sort(
        (a, b) =>
          Buffer.compare(Buffer.from(a.key, 'utf8'), Buffer.from(b.key, 'utf8')) ||
          Number(b.isLatest) - Number(a.isLatest) ||
          b.lastModified.getTime() - a.lastModified.getTime(),
      );
      yield* entries;
      if (!r.IsTruncated) return;
      if (r.NextKeyMarker === undefined) {
        throw new StorageError({
          kind: 'other',
          operation: 'listVersions',
          location,
          detail: 'the store said the listing continues but sent no key marker',
        });
      }
      KeyMarker = r.NextKeyMarker;
      VersionIdMarker = r.NextVersionIdMarker;
    }
  }

  async digest(key: string): Promise<ObjectDigest> {
    return sha256Of(await this.get(key));
  }

  async abortUploads(prefix: string): Promise<number> {
    const location = `${this.location}/${prefix}`;
    const problem = prefixProblem(prefix);
    if (problem !== undefined) throw new StorageError({ kind: 'other', operation: 'abortUploads', location, detail: problem });
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (let page = 1; ; page++) {
      const r = await this.call({ operation: 'abortUploads', location, step: `ListMultipartUploads page ${page}` }, () =>
        this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.root + prefix, KeyMarker, UploadIdMarker })),
      );
      for (const u of r.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        const Key = u.Key;
        const UploadId = u.UploadId;
        try {
          await this.call(
            { operation: 'abortUploads', location: `${this.location}/${Key.slice(this.root.length)}`, step: 'AbortMultipartUpload' },
            () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })),
          );
          aborted++;
        } catch (e) {
          // Completed or aborted meanwhile: nothing left to remove.
          if (!(e instanceof StorageError && e.kind === 'not-found')) throw e;
        }
      }
      if (!r.IsTruncated) return aborted;
      KeyMarker = r.NextKeyMarker;
      UploadIdMarker = r.NextUploadIdMarker;
    }
  }

  /** Releases the client's sockets (the store is unusable afterwards). */
  destroy(): void {
    this.client.destroy();
  }

  private writeParams(Key: string, opts: PutOptions) {
    const lock = this.o.objectLock;
    return {
      Bucket: this.bucket,
      Key,
      ContentType: opts.contentType ?? 'application/octet-stream',
      ...(opts.metadata !== undefined ? { Metadata: opts.metadata } : {}),
      ...(this.o.sse !== undefined ? { ServerSideEncryption: this.o.sse } : {}),
      ...(this.o.sseKmsKeyId !== undefined ? { SSEKMSKeyId: this.o.sseKmsKeyId } : {}),
      ...(this.o.storageClass !== undefined ? { StorageClass: this.o.storageClass as StorageClass } : {}),
      ...(lock !== undefined
        ? {
            ObjectLockMode: lock.mode,
            ObjectLockRetainUntilDate: new Date(this.clock.now().getTime() + lock.retentionMs),
          }
        : {}),
    };
  }

  private where(key: string): string {
    return `${this.location}/${key}`;
  }

  /** Validates `key` and names the operation on it. */
  private context(operation: string, key: string): S3OpContext {
    return { operation, location: checkedLocation(this.location, operation, key) };
  }

  private async call<T>(ctx: S3OpContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toStorageError(e, ctx);
    }
  }
}

/**
 * Passes a response body through, turning a failure while reading (connection reset,
 * checksum validation) into a {@link StorageError} naming the object.
 */
function translateStreamErrors(body: Readable, ctx: S3OpContext): Readable {
  const out = new PassThrough();
  body.on('error', (e) => {
    const mapped = toStorageError(e, { ...ctx, step: 'reading the response' });
    out.destroy(
      mapped instanceof StorageError
        ? mapped
        : new StorageError({ kind: 'other', operation: ctx.operation, location: ctx.location, detail: 'reading the response failed' }),
    );
  });
  out.on('close', () => {
    if (!body.destroyed) body.destroy();
  });
  body.pipe(out);
  return out;
}

/**
 * An ETag as the store's entity tag without the quotes HTTP puts around it (HeadObject and
 * PutObject answer `"<hex>"`, Ceph RGW's CopyObject answers `<hex>`), lower-case; undefined
 * when the store sent none or an empty one (RGW's CompleteMultipartUpload).
 */
export function normalizeEtag(raw: string | undefined): string | undefined {
  const tag = raw
    ?.trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  return tag === undefined || tag === '' ? undefined : tag;
}
