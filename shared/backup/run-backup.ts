import { Readable } from 'node:stream';
import type { V1Secret } from '@kubernetes/client-node';
import { encryptStream } from '../crypto/encrypt.js';
import type { RecipientKey, SigningKey } from '../crypto/keys.js';
import { InterruptedError, StewardError } from '../errors/index.js';
import type { SecretStore } from '../kube/secrets.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { type PhaseTotal, Progress } from '../runtime/progress.js';
import type { Shutdown } from '../runtime/shutdown.js';
import { TOOL_VERSION } from '../runtime/version.js';
import { type ObjectStore, StorageError } from '../storage/index.js';
import {
  type BackupKind,
  INDEX_FORMAT,
  indexJsonChunks,
  type LoadedIndex,
  SecretTableBuilder,
  type SegmentEntry,
  toObjectMetadata,
} from './backup-index.js';
import { type BackupLayout, type Compression, isBackupId, newBackupId, segmentName } from './backup-layout.js';
import { sealOf, writeSeal } from './backup-seal.js';
import { secretDataDigest } from './secret-digest.js';
import { exportSecret } from './secret-export.js';
import { countSecretsAtMost, listSelectedSecrets, type SecretPage, type SecretSelection } from './secret-source.js';
import { SegmentWriter } from './segment-writer.js';

/** Everything a backup run needs, built once by the job entrypoint. */
export interface BackupDeps {
  /**
   * Where the selected Secrets are listed from (unless {@link BackupOptions.source} is given);
   * with `listMetadata`, they are counted first for progress ({@link countSecretsAtMost}).
   */
  secrets: Pick<SecretStore, 'list'> & Partial<Pick<SecretStore, 'listMetadata'>>;
  store: ObjectStore;
  layout: BackupLayout;
  recipients: readonly RecipientKey[];
  /** Signs the index and the seal: the backup job's key for scheduled backups, the restore job's own for pre-restore ones. */
  signingKey: SigningKey;
  /** The UID of this cluster's kube-system namespace, recorded in the seal. */
  clusterUid: string;
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
  /** Progress lines while Secrets are listed and written. @default every 10 s, in the log only */
  progress?: Progress;
  /**
   * Where the run notes which backup it is writing (the job's Lease, see `LeaseLock.record`):
   * set before the first upload, cleared once the backup is complete or cleaned up, so that a
   * run killed in between leaves the next run a note to clean up after it ({@link cleanUpAbandonedBackup}).
   */
  inFlight?: { record(note: string | undefined): Promise<void> };
}

export interface BackupOptions {
  selection: SecretSelection;
  compression: Compression;
  /** Plaintext bytes per segment. */
  segmentBytes: number;
  pageSize: number;
  allowEmpty: boolean;
  allowShrink: boolean;
  /** Fraction of Secrets that may disappear since the previous complete backup. */
  shrinkThreshold: number;
  kind?: BackupKind;
  /** Test seam: a different source of Secret pages (e.g. the live Secrets a restore will overwrite). */
  source?: AsyncIterable<SecretPage>;
  /** How many Secrets `source` yields, for progress. */
  sourceTotal?: number;
  /**
   * The newest authenticated backup of this kind and its sealed Secret count, for the shrink
   * guard (the caller reads the catalogue); none: no guard (a first backup, pre-restore backups).
   */
  previous?: { id: string; secrets: number };
}

export interface BackupResult {
  backupId: string;
  location: string;
  secrets: number;
  segments: number;
  storedBytes: number;
  plaintextBytes: number;
  durationMs: number;
  listResourceVersion: string;
  /** Secrets per namespace. */
  perNamespace: Record<string, number>;
  previous?: { id: string; secrets: number };
}

/** A safety rail stopped the backup (empty selection, shrink): exit 1, nothing kept. */
export class BackupRefusedError extends StewardError {}

const NOTE_PREFIX = 'backup ';

/** The in-flight note of a backup being written: `backup <id>`. */
export function inFlightNote(backupId: string): string {
  return `${NOTE_PREFIX}${backupId}`;
}

/**
 * Notes the backup on the Lease before its first upload. Best effort: without the note (no
 * update permission on the Lease, the API server failing) the backup is still taken; only a
 * run killed mid-upload would then leave its uploads to the bucket's lifecycle rule. A lost
 * lock still stops the run.
 */
async function noteInFlight(deps: BackupDeps, log: Logger, backupId: string): Promise<void> {
  try {
    await deps.inFlight?.record(inFlightNote(backupId));
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    log.warn({ err: e }, 'could not note the backup on the Lease; if this run is killed mid-upload, the next run cannot clean up after it');
  }
}

/**
 * Cleans up after a run that was killed while writing the backup its in-flight note names
 * (`LeaseLock.inherited` of the job that holds the Lease now, so nobody else writes it): aborts
 * the backup's open multipart uploads (their parts are invisible in listings but stored) and,
 * unless its seal was written (then it completed and is kept), deletes what it stored. Best
 * effort: a failure is logged, the leftovers are reported as unsealed (never deleted without
 * `prune --delete-unauthenticated`), and uploads are left to the bucket's lifecycle rule; it
 * never fails this run.
 */
export async function cleanUpAbandonedBackup(
  note: string | undefined,
  store: ObjectStore,
  layout: BackupLayout,
  log: Logger,
): Promise<void> {
  const backupId = note?.startsWith(NOTE_PREFIX) ? note.slice(NOTE_PREFIX.length) : undefined;
  if (backupId === undefined || !isBackupId(backupId)) return;
  const prefix = layout.backupPrefix(backupId);
  try {
    const aborted = await store.abortUploads(prefix);
    const keys: string[] = [];
    for await (const o of store.list(prefix)) keys.push(o.key);
    const complete = keys.includes(layout.sealKey(backupId));
    if (!complete && keys.length > 0) await store.delete(keys);
    log.warn(
      { backupId, abortedUploads: aborted, deletedObjects: complete ? 0 : keys.length, complete },
      'cleaned up after an earlier run that was killed while writing this backup',
    );
  } catch (e) {
    log.warn(
      { backupId, err: e },
      'could not clean up after an earlier run that was killed while writing this backup; it stays unsealed and is reported (prune --delete-unauthenticated removes it)',
    );
  }
}

/**
 * Takes one backup, in the order docs/backup-and-restore.md gives: lists the selected Secrets page by page and
 * streams them into bounded segments (each one OpenPGP message of a gzip'd `v1 List`), refuses
 * an empty or shrunken selection, reads every segment back to check size and SHA-256, writes
 * the encrypted, signed index, and finally the signed seal that makes the backup complete
 * (backup-seal.ts). On any failure or interruption the seal and index (if their uploads
 * started) and then the segments written so far are deleted (and an in-flight multipart upload
 * aborted), so a failed run leaves nothing behind; if even that cleanup fails, the leftovers
 * have no seal and are never a restore point. A run killed before it could clean up leaves its
 * in-flight note for the next one.
 */
export async function runBackup(deps: BackupDeps, o: BackupOptions): Promise<BackupResult> {
  const run = new BackupRun(deps, o);
  await noteInFlight(deps, run.log, run.backupId);
  try {
    await run.listAndWriteSegments();
    run.refuseEmptyOrShrunk(o.previous);
    await run.readBackSegments();
    const index = await run.writeIndex();
    await run.writeSeal(index);
    await run.clearInFlight();
    return run.result(index.stored.size, o.previous);
  } catch (e) {
    await run.discardAll(e instanceof Error ? e.message : 'failed');
    throw e;
  }
}

/** A backup being written: what it has stored so far, and each phase of {@link runBackup}. */
class BackupRun {
  readonly started: Date;
  readonly backupId: string;
  readonly log: Logger;
  private readonly kind: BackupKind;
  private readonly segments: SegmentEntry[] = [];
  /** Keys of the segments whose upload started, in order. */
  private readonly uploadedKeys: string[] = [];
  /** What the index records of each Secret, compact (about 70 bytes each). */
  private secrets = new SecretTableBuilder();
  private perNamespace: Record<string, number> = {};
  /** The segment being filled and uploaded. */
  private current: SegmentWriter | undefined;
  private listRv = '';
  private plaintextTotal = 0;
  /**
   * The seal and the index, once their upload started (either may be stored even when the put
   * failed): removed first on failure (seal, then index), and the segments only after them, so
   * that no seal or index ever names missing objects.
   */
  private sealKey: string | undefined;
  private indexKey: string | undefined;

  constructor(
    private readonly deps: BackupDeps,
    private readonly o: BackupOptions,
  ) {
    this.started = deps.clock.now();
    this.backupId = newBackupId(this.started);
    this.kind = o.kind ?? 'scheduled';
    this.log = deps.log.child({ backupId: this.backupId });
  }

  /**
   * Lists the selected Secrets page by page (or takes `BackupOptions.source`) and streams them,
   * exported, into segments of at most `segmentBytes` of plaintext, each uploaded while it
   * fills. A list that restarted (410 Gone) discards what was written and starts over.
   */
  async listAndWriteSegments(): Promise<void> {
    const { clock, shutdown, secrets } = this.deps;
    const { o } = this;
    let total: PhaseTotal | undefined = o.sourceTotal !== undefined ? { total: o.sourceTotal } : undefined;
    if (o.source === undefined && secrets.listMetadata !== undefined) {
      const atMost = await countSecretsAtMost({ listMetadata: secrets.listMetadata.bind(secrets) }, o.selection, this.log);
      if (atMost !== undefined) total = { total: atMost, estimated: true };
    }
    const source = o.source ?? listSelectedSecrets(secrets, o.selection, { pageSize: o.pageSize, log: this.log });
    const progress = (this.deps.progress ?? new Progress({ log: this.log, clock })).phase('backup', total);
    try {
      for await (const page of source) {
        shutdown.checkpoint();
        if (page.restarted) {
          await this.discardAll('list restarted', false);
          this.log.warn('discarded the partial backup; starting over from a fresh list');
          progress.restart();
        }
        if (this.listRv === '' || page.restarted) this.listRv = page.resourceVersion;
        for (const s of page.items) {
          await this.addSecret(s);
          progress.add();
        }
      }
      await this.closeSegment();
    } finally {
      progress.end();
    }
    shutdown.checkpoint();
  }

  /** The safety rails: no empty backup (unless allowed), no drop beyond the threshold since `previous`. */
  refuseEmptyOrShrunk(previous: BackupResult['previous']): void {
    const { o } = this;
    const count = this.secrets.length;
    if (count === 0 && !o.allowEmpty) {
      throw new BackupRefusedError(
        'no Secrets matched the selection; refusing to record an empty backup (use --allow-empty if this is intended)',
      );
    }
    if (previous !== undefined && previous.secrets > 0 && !o.allowShrink) {
      const dropped = (previous.secrets - count) / previous.secrets;
      if (dropped > o.shrinkThreshold) {
        throw new BackupRefusedError(
          `Secret count dropped from ${previous.secrets} (backup ${previous.id}) to ${count}, ` +
            `more than ${Math.round(o.shrinkThreshold * 100)}%; refusing (use --allow-shrink if this is intended)`,
        );
      }
    }
  }

  /** Reads back every segment: what the store kept must be what was sent. */
  async readBackSegments(): Promise<void> {
    const { store, shutdown } = this.deps;
    for (const [i, seg] of this.segments.entries()) {
      shutdown.checkpoint();
      const got = await store.digest(this.uploadedKeys[i]);
      if (got.size !== seg.size || got.sha256 !== seg.sha256) {
        throw new StorageError({
          kind: 'integrity',
          operation: 'verify (read back)',
          location: `${store.location}/${this.uploadedKeys[i]}`,
          detail: `stored object differs from what was uploaded (size ${got.size}, expected ${seg.size}; SHA-256 ${got.sha256 === seg.sha256 ? 'equal' : 'differs'}): the store altered it (see --s3-checksum)`,
        });
      }
    }
  }

  /** Writes the index, encrypted and signed, and reads it back. Returns it and how it was stored. */
  async writeIndex(): Promise<{ index: LoadedIndex; stored: { size: number; sha256: string } }> {
    const { store, layout, clock, shutdown, recipients, signingKey } = this.deps;
    const { o, backupId, kind } = this;
    const completed = clock.now();
    const index = this.index(completed);
    const { storedBytes } = index.totals;
    // Streamed, so that the index's text, a copy of it and its encrypted message are never
    // in memory at once (they grow with the number of Secrets).
    const encryptedIndex = encryptStream(Readable.from(indexJsonChunks(index), { objectMode: false }), {
      recipients,
      signingKey,
      label: `index of backup ${backupId}`,
      now: completed,
    });
    shutdown.checkpoint();
    // A guarded Lease write right before the index: if the lock was lost (a run that took the
    // expired Lease may be cleaning up this backup's segments), no index must name them. Other
    // failures (no update permission, API down) are only logged, as for the first note; a lock
    // that could not be renewed for long stops itself, which the checkpoint sees.
    await noteInFlight(this.deps, this.log, backupId);
    shutdown.checkpoint();
    this.indexKey = layout.indexKey(backupId);
    const put = await store.put(this.indexKey, encryptedIndex, {
      contentType: 'application/pgp-encrypted',
      metadata: toObjectMetadata({
        format: INDEX_FORMAT,
        kind,
        createdAt: index.createdAt,
        completedAt: index.completedAt,
        secrets: this.secrets.length,
        segments: this.segments.length,
        storedBytes,
        recipients: index.recipients,
        signer: index.signer,
        toolVersion: TOOL_VERSION,
        compression: o.compression,
      }),
    });
    const back = await store.digest(this.indexKey);
    if (back.sha256 !== put.sha256) {
      throw new StorageError({
        kind: 'integrity',
        operation: 'verify (read back)',
        location: `${store.location}/${this.indexKey}`,
        detail: 'stored index differs from what was uploaded: the store altered it (see --s3-checksum)',
      });
    }
    return { index, stored: { size: put.size, sha256: put.sha256 } };
  }

  /**
   * Writes the seal last, signed with the key of the backup's kind, and reads it back: once it
   * is stored the backup is complete and authenticated. A guarded Lease write comes right
   * before it, as before the index.
   */
  async writeSeal(written: { index: LoadedIndex; stored: { size: number; sha256: string } }): Promise<void> {
    const { store, layout, shutdown, signingKey, clusterUid } = this.deps;
    shutdown.checkpoint();
    await noteInFlight(this.deps, this.log, this.backupId);
    shutdown.checkpoint();
    this.sealKey = layout.sealKey(this.backupId);
    await writeSeal(
      store,
      layout,
      sealOf(written.index, written.stored, clusterUid, TOOL_VERSION),
      signingKey,
      new Date(written.index.completedAt),
    );
    this.sealKey = undefined;
    this.indexKey = undefined;
  }

  /** The index of the backup as written so far: every segment and Secret, and the totals. */
  private index(completed: Date): LoadedIndex {
    const { o } = this;
    const storedBytes = this.segments.reduce((n, s) => n + s.size, 0);
    return {
      format: INDEX_FORMAT,
      backupId: this.backupId,
      cluster: this.deps.layout.cluster,
      kind: this.kind,
      createdAt: this.started.toISOString(),
      completedAt: completed.toISOString(),
      toolVersion: TOOL_VERSION,
      listResourceVersion: this.listRv,
      selection: {
        namespaces: [...o.selection.namespaces],
        excludeNamespaces: [...o.selection.excludeNamespaces],
        ...(o.selection.selector ? { selector: o.selection.selector } : {}),
        excludeTypes: [...o.selection.excludeTypes],
      },
      compression: o.compression,
      recipients: this.deps.recipients.map((r) => r.fingerprint),
      signer: this.deps.signingKey.fingerprint,
      segments: this.segments,
      secrets: this.secrets.build(),
      totals: { secrets: this.secrets.length, segments: this.segments.length, storedBytes, plaintextBytes: this.plaintextTotal },
    };
  }

  /** What the job reports about the complete backup. */
  result(indexBytes: number, previous: BackupResult['previous']): BackupResult {
    const { store, layout, clock } = this.deps;
    return {
      backupId: this.backupId,
      location: `${store.location}/${layout.backupPrefix(this.backupId)}`,
      secrets: this.secrets.length,
      segments: this.segments.length,
      storedBytes: this.segments.reduce((n, s) => n + s.size, 0) + indexBytes,
      plaintextBytes: this.plaintextTotal,
      durationMs: clock.now().getTime() - this.started.getTime(),
      listResourceVersion: this.listRv,
      perNamespace: this.perNamespace,
      previous,
    };
  }

  async clearInFlight(): Promise<void> {
    try {
      await this.deps.inFlight?.record(undefined);
    } catch (e) {
      this.log.warn({ err: e }, 'could not clear the in-flight note on the Lease; the next run checks this backup again');
    }
  }

  /** Deletes what this backup stored; `final`: the run gives up (the in-flight note is cleared once nothing is left). */
  async discardAll(why: string, final = true): Promise<void> {
    const { store } = this.deps;
    if (this.current !== undefined) await this.current.abort(new Error(why));
    this.current = undefined;
    let cleaned = true;
    try {
      if (this.sealKey !== undefined) await store.delete([this.sealKey]);
      this.sealKey = undefined;
      if (this.indexKey !== undefined) await store.delete([this.indexKey]);
      this.indexKey = undefined;
      if (this.uploadedKeys.length > 0) await store.delete(this.uploadedKeys);
    } catch (e) {
      cleaned = false;
      this.log.warn(
        { err: e, objects: this.uploadedKeys.length, index: this.indexKey !== undefined, seal: this.sealKey !== undefined },
        this.sealKey !== undefined
          ? 'could not delete the seal of the abandoned backup, so everything it names is kept too (it may be complete: verify-restore tells)'
          : 'could not delete what the abandoned backup stored; it stays unsealed, is reported, and the next run retries from the Lease note',
      );
    }
    if (cleaned && final) await this.clearInFlight();
    this.uploadedKeys.length = 0;
    this.segments.length = 0;
    this.secrets = new SecretTableBuilder();
    this.perNamespace = {};
    this.plaintextTotal = 0;
  }

  /** Adds one Secret to the segment being filled, closing it first when the Secret would not fit. */
  private async addSecret(s: V1Secret): Promise<void> {
    const { o } = this;
    const exported = exportSecret(s);
    const text = JSON.stringify(exported);
    if (this.current !== undefined && this.current.itemCount > 0 && this.current.plaintextBytes + text.length > o.segmentBytes) {
      await this.closeSegment();
      this.deps.shutdown.checkpoint();
    }
    if (this.current === undefined) {
      const n = this.segments.length + 1;
      const key = this.deps.layout.segmentKey(this.backupId, n, o.compression);
      this.uploadedKeys.push(key);
      this.current = new SegmentWriter(this.deps.store, key, {
        recipients: this.deps.recipients,
        compression: o.compression,
        label: `segment ${n} of backup ${this.backupId}`,
        now: this.started,
      });
    }
    await this.current.add(text);
    const ns = exported.metadata.namespace;
    this.secrets.add({
      namespace: ns,
      name: exported.metadata.name,
      type: exported.type,
      dataSha256: secretDataDigest(s.data),
      segment: this.segments.length + 1,
      ...(exported.immutable ? { immutable: true } : {}),
    });
    this.perNamespace[ns] = (this.perNamespace[ns] ?? 0) + 1;
  }

  /** Finishes the segment being filled (its upload completes) and records it. */
  private async closeSegment(): Promise<void> {
    if (this.current === undefined) return;
    const w = this.current;
    this.current = undefined;
    const r = await w.finish();
    this.segments.push({
      name: segmentName(this.segments.length + 1, this.o.compression),
      size: r.size,
      sha256: r.sha256,
      items: r.items,
      plaintextBytes: r.plaintextBytes,
    });
    this.plaintextTotal += r.plaintextBytes;
    this.log.info({ segment: this.segments.length, items: r.items, bytes: r.size }, 'segment stored');
  }
}
