import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';
import { encryptStream } from '../crypto/encrypt.js';
import type { RecipientKey } from '../crypto/keys.js';
import type { ObjectStore, PutResult } from '../storage/index.js';
import type { Compression } from './backup-layout.js';

const LIST_HEAD = '{"apiVersion":"v1","kind":"List","metadata":{},"items":[\n';
const LIST_TAIL = '\n]}\n';

export interface SegmentResult extends PutResult {
  items: number;
  plaintextBytes: number;
}

/**
 * Streams one segment to the store: a Kubernetes `v1` `List` of Secrets as JSON, optionally
 * gzip-compressed, encrypted to the recipients as one OpenPGP message, uploaded while it is
 * produced (multipart for large segments). Memory holds only stream buffers, never the whole
 * segment. So that stock tools can restore it:
 *
 *   gpg --decrypt segment-00001.json.gz.pgp | gunzip | kubectl create -f -   (BREAK_GLASS_RESTORE)
 *
 * Compression runs in zlib's thread pool (level 1: most of the gain on base64 and JSON at a
 * fraction of the CPU), outside openpgp.js, whose own compression buffers whole messages.
 */
export class SegmentWriter {
  private readonly json = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly upload: Promise<PutResult>;
  private readonly compressing: Promise<void> | undefined;
  private failure: unknown;
  private items = 0;
  private bytes = 0;
  private closed = false;

  constructor(
    store: ObjectStore,
    readonly key: string,
    opts: { recipients: readonly RecipientKey[]; compression: Compression; label: string; now: Date },
  ) {
    let plaintext: Readable = this.json;
    if (opts.compression === 'gzip') {
      const gz = createGzip({ level: 1, strategy: zlib.Z_DEFAULT_STRATEGY, chunkSize: 256 * 1024 });
      this.compressing = pipeline(this.json, gz).catch((e) => this.fail(e));
      plaintext = gz;
    }
    const encrypted = encryptStream(plaintext, { recipients: opts.recipients, label: opts.label, now: opts.now });
    this.upload = store.put(key, encrypted, { contentType: 'application/pgp-encrypted' });
    this.upload.catch((e) => this.fail(e));
    this.write(LIST_HEAD);
  }

  /** Plaintext bytes written so far (the segment size limit applies to this). */
  get plaintextBytes(): number {
    return this.bytes;
  }

  get itemCount(): number {
    return this.items;
  }

  /** Appends one Secret (its JSON text). Waits while the pipeline is full (backpressure). */
  async add(secretJson: string): Promise<void> {
    this.write(this.items === 0 ? secretJson : `,\n${secretJson}`);
    this.items++;
    if (this.json.writableNeedDrain) await this.drained();
  }

  /** Closes the List, waits for the upload, and returns what was stored. */
  async finish(): Promise<SegmentResult> {
    this.write(LIST_TAIL);
    this.closed = true;
    this.json.end();
    await this.compressing;
    const result = await this.upload;
    if (this.failure !== undefined) throw this.failure;
    return { ...result, items: this.items, plaintextBytes: this.bytes };
  }

  /**
   * Stops the upload: the store aborts the multipart upload, so nothing is left at the key.
   * Resolves once the upload has settled. Never throws.
   */
  async abort(reason: Error): Promise<void> {
    this.closed = true;
    this.json.destroy(reason);
    await this.upload.catch(() => undefined);
    await this.compressing;
  }

  private write(text: string): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error(`segment ${this.key} is already closed`);
    this.bytes += Buffer.byteLength(text);
    this.json.write(text);
  }

  /** Resolves when the pipe drains; rejects when the upload fails meanwhile (fail() destroys the pipe). */
  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.json.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.json.off('drain', onDrain);
        reject(this.failure ?? new Error(`segment ${this.key}: upload stream closed`));
      };
      this.json.once('drain', onDrain);
      this.json.once('close', onClose);
    });
  }

  private fail(e: unknown): void {
    if (this.failure === undefined) this.failure = e;
    if (!this.json.destroyed) this.json.destroy();
  }
}
