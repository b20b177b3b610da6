/**
 * Key rollover for existing backups (docs/rekey.md): re-encrypts each retained, authenticated
 * backup whose stored copy is not encrypted to exactly the current recipients. Per backup, in
 * an order that leaves one complete, verifiable copy whenever the run stops:
 *
 * 1. clean up what an interrupted run left: objects of a generation the seal does not name;
 * 2. verify the current copy as restore would (seal, signed index, every Secret);
 * 3. write the re-encrypted segments and index BESIDE it, under the next generation's names
 *    (`segment-00001.r2.json.gz.pgp`), each read back at the size and SHA-256 written;
 * 4. verify the new copy: the rekey seal must be judged `sealed` by the code every reader uses,
 *    with every object it names stored at its size; and when this job holds a key of the new
 *    recipients, the new copy is read whole like the old one;
 * 5. switch: ONE write replaces the seal with the rekey seal (read back);
 * 6. remove the old copy: every version of its objects (what an Object Lock keeps stays, and
 *    is reported).
 *
 * Before 5 the old seal names the old, untouched copy; from 5 the new seal names the new copy,
 * complete since 4. Leftovers of either side are never named by the seal and are removed by the
 * next run (step 1 or, for a backup already current, its cleanup).
 *
 * The index is re-encrypted with its original signature (reencrypt.ts), so readers still
 * verify it against the backup's own signer; segments are re-encrypted byte for byte (their
 * plaintext, gzip'd or not, is not touched). The rekey key signs only the rekey seal.
 */
import { createHash } from 'node:crypto';
import {
  AmbiguousCatalogueError,
  type Catalogue,
  damageOf,
  isAmbiguous,
  type ListedBackup,
  problemOf,
  readCatalogue,
} from '../backup/backup-catalog.js';
import { type BackupLayout, generationName, INDEX_NAME, isBackupObjectName, SEAL_NAME } from '../backup/backup-layout.js';
import {
  judgeSealText,
  MAX_SEAL_BYTES,
  REKEY_SEAL_FORMAT,
  type RekeySeal,
  recipientsOf,
  type SealTrust,
  signRekeySeal,
  storedObjectsOf,
  storeSeal,
} from '../backup/backup-seal.js';
import { type KeptByStore, keptByStore, versionsUnder } from '../backup/prune.js';
import { type RecipientKey, reencryptBytes, type SigningKey } from '../crypto/index.js';
import { errorText, InterruptedError, StewardError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { Progress } from '../runtime/progress.js';
import type { Shutdown } from '../runtime/shutdown.js';
import { TOOL_VERSION } from '../runtime/version.js';
import { type ObjectStore, StorageError } from '../storage/index.js';
import { VerifiedBackup } from '../verify-restore/backup-reader.js';
import { BackupVerificationError } from '../verify-restore/verification-error.js';
import type { VerificationKeys } from '../verify-restore/verification-keys.js';

export interface RekeyDeps {
  store: ObjectStore;
  layout: BackupLayout;
  /** Who may seal backups and rekey seals; includes this job's own rekey key. */
  trust: SealTrust;
  /** The decryption keys that read the current copies (the OLD key), and the signers their indexes must carry. */
  keys: VerificationKeys;
  /** The current recipient set: every backup ends encrypted to exactly these. */
  recipients: readonly RecipientKey[];
  /** The rekey job's own signing key: it signs rekey seals and nothing else. */
  signingKey: SigningKey;
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
  progress?: Progress;
  /** Backups a restore or drill is reading now (from their Leases), with why: left for a later run. */
  beingRead?: () => Promise<ReadonlyMap<string, string>>;
}

export interface RekeyOptions {
  dryRun: boolean;
  /** Only these backup ids; empty: every retained backup. */
  only: readonly string[];
}

/**
 * What happened to one backup:
 * - `rekeyed`: re-encrypted to the current recipients and switched;
 * - `current`: already encrypted to exactly them (leftovers of an interrupted run removed);
 * - `would-rekey`: the dry run's answer;
 * - `deferred`: a reader holds it; a later run does it;
 * - `skipped`: not authenticated (unsealed, forged, foreign, future, damaged): never touched;
 * - `failed`: the run could not rekey it; its current copy is untouched and still complete.
 */
export type RekeyAction = 'rekeyed' | 'current' | 'would-rekey' | 'deferred' | 'skipped' | 'failed';

export interface RekeyOutcome {
  id: string;
  kind?: string;
  action: RekeyAction;
  /** Fingerprints the stored copy was encrypted to. */
  from?: string[];
  /** Generation of the copy now named by the seal. */
  generation?: number;
  /** Segments re-encrypted. */
  segments?: number;
  /** Objects of an interrupted run, or of the old copy, deleted. */
  removed?: number;
  /** Old object versions the store keeps (an Object Lock or legal hold): they stay readable by the old key until it lets go. */
  keptByStore?: KeptByStore;
  reason?: string;
}

export interface RekeyReport {
  recipients: string[];
  outcomes: RekeyOutcome[];
  /** Set when old versions stay in the store (Object Lock): the operator must know the old key still opens them. */
  oldVersionsKept: number;
}

/** Why a backup could not be rekeyed; its current copy stays. */
export class RekeyError extends StewardError {}

/** Rekeys the retained backups of one cluster (see the module comment). */
export async function runRekey(deps: RekeyDeps, o: RekeyOptions): Promise<RekeyReport> {
  const { store, layout, trust, log } = deps;
  const catalogue: Catalogue = await readCatalogue(store, layout, trust);
  if (isAmbiguous(catalogue)) throw new AmbiguousCatalogueError(layout.cluster, catalogue.clusterUids);
  const target = deps.recipients.map((r) => r.fingerprint).sort();
  const entries = catalogue.entries.filter((e) => o.only.length === 0 || o.only.includes(e.id));
  for (const id of o.only) {
    if (!catalogue.entries.some((e) => e.id === id)) log.warn({ backupId: id }, 'no such backup in the store');
  }
  const report: RekeyReport = { recipients: target, outcomes: [], oldVersionsKept: 0 };
  const todo = entries.filter((e) => e.authenticated && !sameSet(recipientsOf(e.authenticated.seal, e.authenticated.rekey), target));
  const progress = (deps.progress ?? new Progress({ log, clock: deps.clock })).phase('rekey', { total: todo.length });
  try {
    for (const e of entries) {
      deps.shutdown.checkpoint();
      const a = e.authenticated;
      if (a === undefined) {
        report.outcomes.push({ id: e.id, action: 'skipped', reason: problemOf(e) ?? 'not authenticated' });
        continue;
      }
      const from = recipientsOf(a.seal, a.rekey);
      const base: RekeyOutcome = { id: e.id, kind: a.kind, action: 'current', from, generation: a.rekey?.generation ?? 0 };
      const named = namedObjects(a.seal, a.rekey);
      const leftovers = [...e.objects.keys()].filter((n) => isBackupObjectName(n) && !named.has(n));
      if (sameSet(from, target)) {
        if (leftovers.length > 0 && !o.dryRun) {
          const removed = await removeObjects(store, layout, e.id, leftovers, log);
          report.outcomes.push({ ...base, removed: removed.deleted, ...(removed.kept ? { keptByStore: removed.kept } : {}) });
          report.oldVersionsKept += removed.kept?.objects ?? 0;
        } else report.outcomes.push(base);
        continue;
      }
      if (o.dryRun) {
        report.outcomes.push({ ...base, action: 'would-rekey', segments: a.seal.segments.length });
        continue;
      }
      const reading = (await deps.beingRead?.())?.get(e.id);
      if (reading !== undefined) {
        report.outcomes.push({ ...base, action: 'deferred', reason: reading });
        progress.add();
        continue;
      }
      try {
        const done = await rekeyOne(deps, e.id, a, leftovers);
        report.outcomes.push({ ...base, ...done });
        report.oldVersionsKept += done.keptByStore?.objects ?? 0;
      } catch (err) {
        if (err instanceof InterruptedError) throw err;
        log.error({ backupId: e.id, err }, 'could not rekey the backup; its current copy is untouched');
        report.outcomes.push({ ...base, action: 'failed', reason: errorText(err) });
      }
      progress.add();
    }
  } finally {
    progress.end();
  }
  return report;
}

type Authenticated = NonNullable<Catalogue['entries'][number]['authenticated']>;

/** Steps 1 to 6 of the module comment for one backup. */
async function rekeyOne(deps: RekeyDeps, id: string, a: Authenticated, leftovers: string[]): Promise<Partial<RekeyOutcome>> {
  const { store, layout, shutdown, log } = deps;
  const blog = log.child({ backupId: id });
  const now = deps.clock.now();

  // 1. What an interrupted run left (never named by the seal), and its open uploads.
  await store.abortUploads(layout.backupPrefix(id));
  let removed = 0;
  if (leftovers.length > 0) removed += (await removeObjects(store, layout, id, leftovers, blog)).deleted;
  shutdown.checkpoint();

  // 2. Verify the current copy, as restore reads it.
  const auth = a.rekey ? { seal: a.seal, signer: a.signer, rekey: a.rekey } : { seal: a.seal, signer: a.signer };
  await readWhole(deps, id, auth);
  shutdown.checkpoint();

  // 3. The next generation, beside the current one.
  const generation = (a.rekey?.generation ?? 0) + 1;
  const current = storedObjectsOf(a.seal, a.rekey);
  const written: { name: string; size: number; sha256: string }[] = [];
  for (const [i, seg] of current.segments.entries()) {
    shutdown.checkpoint();
    written.push(
      await reencryptObject(deps, id, seg, generationName(a.seal.segments[i].name, generation), `segment ${i + 1} of backup ${id}`, now),
    );
  }
  shutdown.checkpoint();
  const index = await reencryptObject(deps, id, current.index, generationName(INDEX_NAME, generation), `index of backup ${id}`, now);

  // 4. The rekey seal, judged as every reader will judge it, over what is stored now.
  const original = a.rekey?.original ?? (await currentSealText(deps, id, a));
  const rekeySeal: RekeySeal = {
    format: REKEY_SEAL_FORMAT,
    backupId: id,
    cluster: layout.cluster,
    generation,
    rekeyedAt: now.toISOString(),
    toolVersion: TOOL_VERSION,
    original,
    index,
    segments: written,
    recipients: deps.recipients.map((r) => r.fingerprint),
  };
  const armored = await signRekeySeal(rekeySeal, deps.signingKey, now);
  const verdict = await judgeSealText(armored, layout.cluster, id, { ...deps.trust, now: deps.clock.now() });
  if (verdict.status !== 'sealed' || verdict.rekey?.generation !== generation) {
    const why = verdict.status === 'sealed' ? 'it does not name the new copy' : 'reason' in verdict ? verdict.reason : verdict.status;
    throw new RekeyError(`rekey of backup ${id}: the new rekey seal would not be believed by readers (${why}); nothing was switched`);
  }
  const listed: ListedBackup = { id, objects: new Map(), storedBytes: 0 };
  for await (const o of store.list(layout.backupPrefix(id))) listed.objects.set(o.key.slice(layout.backupPrefix(id).length), o.size);
  const damage = damageOf(listed, verdict.seal, verdict.rekey);
  if (damage.length > 0)
    throw new RekeyError(`rekey of backup ${id}: the new copy is not whole (${damage.join('; ')}); nothing was switched`);
  const ownKeys = new Set(deps.keys.decryptionKeys.map((k) => k.fingerprint));
  if (rekeySeal.recipients.some((f) => ownKeys.has(f))) await readWhole(deps, id, { seal: a.seal, signer: a.signer, rekey: verdict.rekey });
  shutdown.checkpoint();

  // 5. Switch: one write.
  await storeSeal(store, layout, id, armored);
  blog.info({ generation, segments: written.length }, 'backup re-encrypted to the current recipients; its seal now names the new copy');

  // 6. The old copy.
  const old = [current.index.name, ...current.segments.map((s) => s.name)];
  const gone = await removeObjects(store, layout, id, old, blog);
  removed += gone.deleted;
  return {
    action: 'rekeyed',
    generation,
    segments: written.length,
    removed,
    ...(gone.kept ? { keptByStore: gone.kept } : {}),
  };
}

/** Opens a copy and reads every Secret of it, failing on anything restore would refuse. */
async function readWhole(deps: RekeyDeps, id: string, auth: Parameters<typeof VerifiedBackup.open>[2]): Promise<void> {
  const backup = await VerifiedBackup.open({ store: deps.store, layout: deps.layout, keys: deps.keys, now: deps.clock.now() }, id, auth);
  for (let n = 1; n <= backup.segmentCount; n++) {
    deps.shutdown.checkpoint();
    for await (const item of backup.readSegment(n)) {
      if (item.mismatch !== undefined) throw new BackupVerificationError('segment-content', id, item.mismatch, { segment: n });
    }
  }
}

/** Reads one stored object (checked against its recorded size and SHA-256), re-encrypts it, stores it under `name`, reads it back. */
async function reencryptObject(
  deps: RekeyDeps,
  id: string,
  from: { name: string; size: number; sha256: string },
  name: string,
  label: string,
  now: Date,
): Promise<{ name: string; size: number; sha256: string }> {
  const { store, layout } = deps;
  const key = layout.objectKey(id, from.name);
  const bytes = await store.getBytes(key, from.size);
  if (bytes.length !== from.size || sha256Of(bytes) !== from.sha256) {
    throw new StorageError({
      kind: 'integrity',
      operation: 'get',
      location: `${store.location}/${key}`,
      detail: `${label} changed since it was verified (its size or SHA-256 differs from the seal's)`,
    });
  }
  const out = Buffer.from(
    await reencryptBytes(bytes, { decryptionKeys: deps.keys.decryptionKeys, recipients: deps.recipients, label, now }),
  );
  const newKey = layout.objectKey(id, name);
  const put = await store.put(newKey, out, { contentType: 'application/pgp-encrypted' });
  const back = await store.digest(newKey);
  if (back.size !== out.length || back.sha256 !== sha256Of(out) || put.sha256 !== back.sha256) {
    throw new StorageError({
      kind: 'integrity',
      operation: 'verify (read back)',
      location: `${store.location}/${newKey}`,
      detail: `stored ${label} differs from what was uploaded: the store altered it (see --s3-checksum)`,
    });
  }
  return { name, size: back.size, sha256: back.sha256 };
}

/** The armored seal stored now, which must still be the one the catalogue judged (nobody replaced it meanwhile). */
async function currentSealText(deps: RekeyDeps, id: string, a: Authenticated): Promise<string> {
  const text = (await deps.store.getBytes(deps.layout.sealKey(id), MAX_SEAL_BYTES)).toString('utf8');
  const v = await judgeSealText(text, deps.layout.cluster, id, { ...deps.trust, now: deps.clock.now() });
  if (v.status !== 'sealed' || v.rekey !== undefined || JSON.stringify(v.seal) !== JSON.stringify(a.seal)) {
    throw new RekeyError(`rekey of backup ${id}: its seal changed while the run read it; nothing was switched`);
  }
  return text;
}

/**
 * Deletes every version of the named objects of backup `id` (so that on a versioned bucket the
 * old ciphertext goes, not only out of sight). What the store keeps (Object Lock, legal hold,
 * no permission) is returned, never thrown.
 */
async function removeObjects(
  store: ObjectStore,
  layout: BackupLayout,
  id: string,
  names: readonly string[],
  log: Logger,
): Promise<{ deleted: number; kept?: KeptByStore }> {
  const keys = new Set(names.map((n) => layout.backupPrefix(id) + n));
  const targets = (await versionsUnder(store, layout.backupPrefix(id), log)).filter((t) => keys.has(t.key) && t.key !== layout.sealKey(id));
  if (targets.length === 0) return { deleted: 0 };
  const refused: StorageError[] = [];
  let deleted = 0;
  for (const outcome of await store.deleteObjects(targets)) {
    if (outcome.status === 'kept') refused.push(outcome.error);
    else deleted++;
  }
  if (refused.length === 0) return { deleted };
  const kept = keptByStore(id, refused, false);
  log.warn({ backupId: id, objects: kept.objects, reason: kept.reason }, 'the store keeps old object versions of the backup');
  return { deleted, kept };
}

/** Names of the objects a backup's seal (or rekey seal) names, and the seal itself. */
function namedObjects(seal: Authenticated['seal'], rekey: Authenticated['rekey']): Set<string> {
  const s = storedObjectsOf(seal, rekey);
  return new Set([SEAL_NAME, s.index.name, ...s.segments.map((x) => x.name)]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function sha256Of(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
