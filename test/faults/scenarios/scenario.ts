/**
 * What a scenario of the fault matrix is (one job on a small fixed world), and helpers that
 * read what the store holds for the invariant checks.
 */

import { parseBackupIndex } from '../../../shared/backup/backup-index-schema.js';
import { BackupLayout } from '../../../shared/backup/backup-layout.js';
import { decryptAndVerify } from '../../../shared/crypto/decrypt.js';
import { loadDecryptionKeys, loadTrustedSignerKeys } from '../../../shared/crypto/keys.js';
import type { Command } from '../../../shared/runtime/command.js';
import type { ObjectStore } from '../../../shared/storage/index.js';
import type { BackupContent } from '../invariants.js';
import { type CaseWorld, CLUSTER, type FaultLab, type JobRun } from '../lab.js';

/** When a scenario's checks run: right after the faulted run, or after the clean rerun that followed it. */
export type Phase = 'after-fault' | 'after-rerun';

/**
 * One job on a small fixed world. The matrix seeds a fresh world per case, runs the job clean
 * once to record its requests and end state, then for each request and fault kind runs it
 * with the fault, runs it again without, and asks the scenario's checks.
 *
 * `T` is what `seed` returns for the checks (e.g. the values as seeded).
 */
export interface Scenario<T = unknown> {
  /** The job column of the table: `backup`, `rotate-in-place`, ... */
  job: string;
  /** The job reads or writes the backup store: a matrix against another S3 server (`--server rgw`) runs these. */
  usesStore: boolean;
  description: string;
  /** Entrypoint of the job for child-process runs (SIGTERM/SIGKILL), relative to the repository. */
  script: string;
  /** The command for in-process runs. */
  command(): Promise<Command<any>>;
  /**
   * Runs once per matrix run, before any case, e.g. to take the backup a drill reads. Returns a
   * copy of the bucket (FaultLab.saveBucket) every case starts from; undefined: an empty bucket.
   */
  prepare?(lab: FaultLab): Promise<string | undefined>;
  /** Stops what `prepare` started (a database server, ...), after the last case. */
  teardown?(): Promise<void>;
  /** Creates the Kubernetes objects of a case (and resets any other state it starts from). */
  seed(world: CaseWorld): Promise<T>;
  /** The job's flags (the same for the clean run, the faulted run and the rerun). */
  args(world: CaseWorld): string[];
  /** Secret values no log line, Event, error, object key, metadata, temporary file or clear stored byte may hold. */
  secretValues(world: CaseWorld, seeded: T): Array<string | Buffer>;
  /** The state a rerun must converge to, with run-specific detail (ids, times, counts of reports) left out. */
  endState(world: CaseWorld, seeded: T): Promise<unknown>;
  /** Violations of the job's invariants in `phase`; `run` is how the faulted run (after-fault) or the rerun ended. */
  check(world: CaseWorld, seeded: T, phase: Phase, run: JobRun): Promise<string[]>;
}

const readBack = new WeakMap<CaseWorld, Map<string, BackupContent>>();

/**
 * Every complete backup (index present) of the matrix's cluster, oldest first: its index
 * decrypted and its signature checked with the lab's keys, and the size and SHA-256 of every
 * segment object stored. A backup is read again only when its objects changed.
 */
export async function completeBackups(world: CaseWorld): Promise<BackupContent[]> {
  const store = world.directStore();
  const layout = new BackupLayout(CLUSTER);
  const objects = new Map<string, Array<{ key: string; size: number; at: number }>>();
  for await (const o of store.list(layout.backupsPrefix())) {
    const id = layout.backupIdOf(o.key);
    if (id !== undefined) objects.set(id, [...(objects.get(id) ?? []), { key: o.key, size: o.size, at: o.lastModified.getTime() }]);
  }
  let cache = readBack.get(world);
  if (cache === undefined) readBack.set(world, (cache = new Map()));
  const out: BackupContent[] = [];
  for (const [id, keys] of [...objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Complete means sealed: the seal is written last (an index without one is a backup still being written).
    if (!keys.some((k) => k.key === layout.sealKey(id))) continue;
    const version = `${id} ${keys
      .map((k) => `${k.key}:${k.size}:${k.at}`)
      .sort()
      .join(',')}`;
    let content = cache.get(version);
    if (content === undefined) {
      content = await readComplete(
        world,
        store,
        layout,
        id,
        keys.map((k) => k.key),
      );
      cache.set(version, content);
    }
    out.push(content);
  }
  return out;
}

const labKeys = new WeakMap<FaultLab, ReturnType<typeof loadKeys>>();

async function loadKeys(lab: FaultLab) {
  const [decryptionKeys, trustedSigners] = await Promise.all([
    loadDecryptionKeys([lab.recipient.privateKey], lab.recipient.passphraseFile),
    loadTrustedSignerKeys([lab.signer.publicKey, lab.preRestoreSigner.publicKey]),
  ]);
  return { decryptionKeys, trustedSigners };
}

function keysOf(lab: FaultLab): ReturnType<typeof loadKeys> {
  let keys = labKeys.get(lab);
  if (keys === undefined) labKeys.set(lab, (keys = loadKeys(lab)));
  return keys;
}

async function readComplete(
  world: CaseWorld,
  store: ObjectStore,
  layout: BackupLayout,
  id: string,
  keys: readonly string[],
): Promise<BackupContent> {
  const stored = new Map<string, { size: number; sha256: string }>();
  for (const k of keys) {
    if (k === layout.indexKey(id)) continue;
    stored.set(k.slice(layout.backupPrefix(id).length), await store.digest(k));
  }
  try {
    const { decryptionKeys, trustedSigners } = await keysOf(world.lab);
    const { plaintext, signature } = await decryptAndVerify(await store.getBytes(layout.indexKey(id)), { decryptionKeys, trustedSigners });
    if (signature.status !== 'valid') throw new Error(`signature ${signature.status}`);
    const parsed = parseBackupIndex(Buffer.from(plaintext).toString('utf8'));
    if ('problems' in parsed) throw new Error(parsed.problems.join('; '));
    const index = parsed.index;
    return {
      id,
      kind: index.kind,
      indexed: new Map(index.secrets.map((s) => [`${s.namespace}/${s.name}`, s.dataSha256])),
      segments: index.segments.map((s) => ({ name: s.name, size: s.size, sha256: s.sha256 })),
      stored,
    };
  } catch (e) {
    return { id, kind: 'unknown', indexed: new Map(), segments: [], stored, problem: (e as Error).message.slice(0, 200) };
  }
}

/** Keys of every object in the store (relative to the store root). */
export async function storedKeys(world: CaseWorld): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of world.directStore().list('')) keys.push(o.key);
  return keys;
}

/** Multipart uploads in the S3 server's bucket and those the proxy saw created and never closed. */
export async function openUploads(world: CaseWorld): Promise<{ inStore: Array<{ key: string }>; onTheWire: Array<{ key: string }> }> {
  return { inStore: await world.lab.s3.listMultipartUploads(), onTheWire: world.proxy.openUploads() };
}

/** The run's exit in words, for messages. */
export function exitText(run: JobRun): string {
  return run.code === null ? `killed (${run.signal ?? 'timeout'})` : `exit ${run.code}`;
}
