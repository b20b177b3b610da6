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
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
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
  type ObjectDigest,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './object-store.js';
import { type S3OpContext, toStorageError } from './s3-error-mapping.js';
import { StorageError } from './storage-error.js';
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
  /** Object Lock retention applied to every object written. */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
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
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly bucket: string;
  readonly partSize: number;
  private readonly root: string;
  private readonly client: S3Client;
  private readonly clock: Clock;
  private readonly pageSize: number;

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
    const parts: CompletedPart[] = [];
    try {
      let partNumber = 0;
      for await (const part of bodyParts(body, this.partSize)) {
        partNumber++;
        sha256.update(part.data);
        size += part.data.length;
        const contentMd5 = createHash('md5').update(part.data).digest('base64');
        if (partNumber === 1 && part.last) {
          await this.call({ operation: 'put', location, step: 'PutObject' }, () =>
            this.client.send(new PutObjectCommand({ ...params, Body: part.data, ContentLength: part.data.length, ContentMD5: contentMd5 })),
          );
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
        await this.call({ operation: 'put', location, step: 'CompleteMultipartUpload' }, () =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
        );
      }
    } catch (e) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      if (uploadId === undefined) throw e;
      throw await this.abort(Key, uploadId, location, e);
    }
    return { key, size, sha256: sha256.digest('hex') };
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
      return { key, size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0), metadata: r.Metadata ?? {} };
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
    for (const key of keys) {
      const problem = keyProblem(key);
      if (problem !== undefined) throw new StorageError({ kind: 'other', operation: 'delete', location: this.where(key), detail: problem });
    }
    const unique = [...new Set(keys)];
    for (let at = 0; at < unique.length; at += DELETE_BATCH) {
      const batch = unique.slice(at, at + DELETE_BATCH);
      const location = batch.length === 1 ? this.where(batch[0]) : `${this.location} (${batch.length} keys from ${batch[0]})`;
      const r = await this.call({ operation: 'delete', location, step: 'DeleteObjects' }, () =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.root + k })), Quiet: true },
          }),
        ),
      );
      const errors = r.Errors ?? [];
      if (errors.length > 0) {
        const first = errors[0];
        const code = first.Code ?? 'Error';
        throw new StorageError({
          kind: code === 'AccessDenied' ? 'access-denied' : code === 'NoSuchKey' ? 'not-found' : 'other',
          operation: 'delete',
          location,
          code,
          detail: `DeleteObjects: ${errors.length} of ${batch.length} keys not deleted, e.g. ${(first.Key ?? '?').slice(this.root.length)}: ${code}`,
        });
      }
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
            ObjectLockRetainUntilDate: new Date(this.clock.now().getTime() + lock.days * 86_400_000),
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
