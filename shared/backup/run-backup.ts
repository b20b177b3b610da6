import { Readable } from 'node:stream';
import { encryptStream } from '../crypto/encrypt.js';
import type { RecipientKey, SigningKey } from '../crypto/keys.js';
import { InterruptedError, StewardError } from '../errors/index.js';
import type { SecretStore } from '../kube/secrets.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Shutdown } from '../runtime/shutdown.js';
import { TOOL_VERSION } from '../runtime/version.js';
import { type ObjectStore, StorageError } from '../storage/index.js';
import { latestCompleteBackup } from './backup-catalog.js';
import {
  type BackupIndex,
  type BackupKind,
  INDEX_FORMAT,
  indexJsonChunks,
  type SecretEntry,
  type SegmentEntry,
  toObjectMetadata,
} from './backup-index.js';
import { type BackupLayout, type Compression, isBackupId, newBackupId, segmentName } from './backup-layout.js';
import { secretDataDigest } from './secret-digest.js';
import { exportSecret } from './secret-export.js';
import { listSelectedSecrets, type SecretPage, type SecretSelection } from './secret-source.js';
import { SegmentWriter } from './segment-writer.js';

/** Everything a backup run needs, built once by the job entrypoint. */
export interface BackupDeps {
  /** Where the selected Secrets are listed from (unless {@link BackupOptions.source} is given). */
  secrets: Pick<SecretStore, 'list'>;
  store: ObjectStore;
  layout: BackupLayout;
  recipients: readonly RecipientKey[];
  signingKey?: SigningKey;
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
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
  /** Skip the previous-backup lookup (pre-restore backups have no shrink guard). */
  skipShrinkGuard?: boolean;
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
 * unless its index was written (then it completed and is kept), deletes its segments. Best
 * effort: a failure is logged and left to prune (an incomplete backup) and to the bucket's
 * lifecycle rule (uploads), never fails this run.
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
    const complete = keys.includes(layout.indexKey(backupId));
    if (!complete && keys.length > 0) await store.delete(keys);
    log.warn(
      { backupId, abortedUploads: aborted, deletedObjects: complete ? 0 : keys.length, complete },
      'cleaned up after an earlier run that was killed while writing this backup',
    );
  } catch (e) {
    log.warn(
      { backupId, err: e },
      'could not clean up after an earlier run that was killed while writing this backup; prune removes it once incomplete-grace has passed',
    );
  }
}

/**
 * Takes one backup: lists the selected Secrets page by page, streams them into bounded
 * segments (each one OpenPGP message of a gzip'd `v1 List`), reads every segment back to check
 * size and SHA-256, and finally writes the encrypted, signed index that makes the backup
 * complete. On any failure or interruption the index (if its upload started) and then the
 * segments written so far are deleted (and an in-flight multipart upload aborted), so a failed
 * run leaves nothing behind; if even that cleanup fails, the leftovers have no index and are
 * never a restore point (prune removes them), or, when the index could not be deleted, they are
 * all kept. A run killed before it could clean up leaves its in-flight note for the next one.
 */
export async function runBackup(deps: BackupDeps, o: BackupOptions): Promise<BackupResult> {
  const { store, layout, log, clock, shutdown } = deps;
  const started = clock.now();
  const backupId = newBackupId(started);
  const kind = o.kind ?? 'scheduled';
  const blog = log.child({ backupId });
  const previous = o.skipShrinkGuard ? undefined : await latestCompleteBackup(store, layout);

  const segments: SegmentEntry[] = [];
  const uploadedKeys: string[] = [];
  let secrets: SecretEntry[] = [];
  let perNamespace: Record<string, number> = {};
  let current: SegmentWriter | undefined;
  let listRv = '';
  let lastProgress = started.getTime();
  let plaintextTotal = 0;

  const clearInFlight = async () => {
    try {
      await deps.inFlight?.record(undefined);
    } catch (e) {
      blog.warn({ err: e }, 'could not clear the in-flight note on the Lease; the next run checks this backup again');
    }
  };
  const closeSegment = async () => {
    if (current === undefined) return;
    const w = current;
    current = undefined;
    const r = await w.finish();
    segments.push({
      name: segmentName(segments.length + 1, o.compression),
      size: r.size,
      sha256: r.sha256,
      items: r.items,
      plaintextBytes: r.plaintextBytes,
    });
    plaintextTotal += r.plaintextBytes;
    blog.info({ segment: segments.length, items: r.items, bytes: r.size }, 'segment stored');
  };
  // The index, once its upload started (it may be stored even when the put failed): removed
  // first on failure, and the segments only after it, so that no index ever names missing segments.
  let indexKey: string | undefined;
  /** Deletes what this backup stored; `final`: the run gives up (the in-flight note is cleared once nothing is left). */
  const discardAll = async (why: string, final = true) => {
    if (current !== undefined) await current.abort(new Error(why));
    current = undefined;
    let cleaned = true;
    try {
      if (indexKey !== undefined) await store.delete([indexKey]);
      indexKey = undefined;
      if (uploadedKeys.length > 0) await store.delete(uploadedKeys);
    } catch (e) {
      cleaned = false;
      blog.warn(
        { err: e, objects: uploadedKeys.length, index: indexKey !== undefined },
        indexKey !== undefined
          ? 'could not delete the index of the abandoned backup, so its segments are kept too (it may be complete: verify-restore tells)'
          : 'could not delete the segments of the abandoned backup; prune removes them later',
      );
    }
    if (cleaned && final) await clearInFlight();
    uploadedKeys.length = 0;
    segments.length = 0;
    secrets = [];
    perNamespace = {};
    plaintextTotal = 0;
  };

  await noteInFlight(deps, blog, backupId);
  try {
    const source = o.source ?? listSelectedSecrets(deps.secrets, o.selection, { pageSize: o.pageSize, log: blog });
    for await (const page of source) {
      shutdown.checkpoint();
      if (page.restarted) {
        await discardAll('list restarted', false);
        blog.warn('discarded the partial backup; starting over from a fresh list');
      }
      if (listRv === '' || page.restarted) listRv = page.resourceVersion;
      for (const s of page.items) {
        const exported = exportSecret(s);
        const text = JSON.stringify(exported);
        if (current !== undefined && current.itemCount > 0 && current.plaintextBytes + text.length > o.segmentBytes) {
          await closeSegment();
          shutdown.checkpoint();
        }
        if (current === undefined) {
          const n = segments.length + 1;
          const key = layout.segmentKey(backupId, n, o.compression);
          uploadedKeys.push(key);
          current = new SegmentWriter(store, key, {
            recipients: deps.recipients,
            compression: o.compression,
            label: `segment ${n} of backup ${backupId}`,
            now: started,
          });
        }
        await current.add(text);
        const ns = exported.metadata.namespace;
        secrets.push({
          namespace: ns,
          name: exported.metadata.name,
          type: exported.type,
          dataSha256: secretDataDigest(s.data),
          segment: segments.length + 1,
          ...(exported.immutable ? { immutable: true } : {}),
        });
        perNamespace[ns] = (perNamespace[ns] ?? 0) + 1;
      }
      const now = clock.now().getTime();
      if (now - lastProgress >= 10_000) {
        lastProgress = now;
        blog.info(
          { items: secrets.length, bytes: plaintextTotal + (current?.plaintextBytes ?? 0), elapsedMs: now - started.getTime() },
          'backup progress',
        );
      }
    }
    await closeSegment();
    shutdown.checkpoint();

    if (secrets.length === 0 && !o.allowEmpty) {
      throw new BackupRefusedError(
        'no Secrets matched the selection; refusing to record an empty backup (use --allow-empty if this is intended)',
      );
    }
    if (previous?.meta && previous.meta.secrets > 0 && !o.allowShrink) {
      const dropped = (previous.meta.secrets - secrets.length) / previous.meta.secrets;
      if (dropped > o.shrinkThreshold) {
        throw new BackupRefusedError(
          `Secret count dropped from ${previous.meta.secrets} (backup ${previous.id}) to ${secrets.length}, ` +
            `more than ${Math.round(o.shrinkThreshold * 100)}%; refusing (use --allow-shrink if this is intended)`,
        );
      }
    }

    // Read back every segment: what the store kept must be what we sent.
    for (const [i, seg] of segments.entries()) {
      shutdown.checkpoint();
      const got = await store.digest(uploadedKeys[i]);
      if (got.size !== seg.size || got.sha256 !== seg.sha256) {
        throw new StorageError({
          kind: 'integrity',
          operation: 'verify (read back)',
          location: `${store.location}/${uploadedKeys[i]}`,
          detail: `stored object differs from what was uploaded (size ${got.size}, expected ${seg.size}; SHA-256 ${got.sha256 === seg.sha256 ? 'equal' : 'differs'}): the store altered it (see --s3-checksum)`,
        });
      }
    }

    const completed = clock.now();
    const storedBytes = segments.reduce((n, s) => n + s.size, 0);
    const index: BackupIndex = {
      format: INDEX_FORMAT,
      backupId,
      cluster: layout.cluster,
      kind,
      createdAt: started.toISOString(),
      completedAt: completed.toISOString(),
      toolVersion: TOOL_VERSION,
      listResourceVersion: listRv,
      selection: {
        namespaces: [...o.selection.namespaces],
        excludeNamespaces: [...o.selection.excludeNamespaces],
        ...(o.selection.selector ? { selector: o.selection.selector } : {}),
        excludeTypes: [...o.selection.excludeTypes],
      },
      compression: o.compression,
      recipients: deps.recipients.map((r) => r.fingerprint),
      ...(deps.signingKey ? { signer: deps.signingKey.fingerprint } : {}),
      segments,
      secrets,
      totals: { secrets: secrets.length, segments: segments.length, storedBytes, plaintextBytes: plaintextTotal },
    };
    // Streamed, so that the index's text, a copy of it and its encrypted message are never
    // in memory at once (they grow with the number of Secrets).
    const encryptedIndex = encryptStream(Readable.from(indexJsonChunks(index), { objectMode: false }), {
      recipients: deps.recipients,
      signingKey: deps.signingKey,
      label: `index of backup ${backupId}`,
      now: completed,
    });
    shutdown.checkpoint();
    // A guarded Lease write right before the index: if the lock was lost (a run that took the
    // expired Lease may be cleaning up this backup's segments), no index must name them. Other
    // failures (no update permission, API down) are only logged, as for the first note; a lock
    // that could not be renewed for long stops itself, which the checkpoint sees.
    await noteInFlight(deps, blog, backupId);
    shutdown.checkpoint();
    indexKey = layout.indexKey(backupId);
    const put = await store.put(indexKey, encryptedIndex, {
      contentType: 'application/pgp-encrypted',
      metadata: toObjectMetadata({
        format: INDEX_FORMAT,
        kind,
        createdAt: index.createdAt,
        completedAt: index.completedAt,
        secrets: secrets.length,
        segments: segments.length,
        storedBytes,
        recipients: index.recipients,
        signer: index.signer,
        toolVersion: TOOL_VERSION,
        compression: o.compression,
      }),
    });
    const back = await store.digest(indexKey);
    if (back.sha256 !== put.sha256) {
      throw new StorageError({
        kind: 'integrity',
        operation: 'verify (read back)',
        location: `${store.location}/${indexKey}`,
        detail: 'stored index differs from what was uploaded: the store altered it (see --s3-checksum)',
      });
    }
    indexKey = undefined;
    await clearInFlight();
    return {
      backupId,
      location: `${store.location}/${layout.backupPrefix(backupId)}`,
      secrets: secrets.length,
      segments: segments.length,
      storedBytes: storedBytes + put.size,
      plaintextBytes: plaintextTotal,
      durationMs: clock.now().getTime() - started.getTime(),
      listResourceVersion: listRv,
      perNamespace,
      previous: previous?.meta ? { id: previous.id, secrets: previous.meta.secrets } : undefined,
    };
  } catch (e) {
    await discardAll(e instanceof Error ? e.message : 'failed');
    throw e;
  }
}
