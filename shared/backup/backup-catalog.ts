import { StewardError } from '../errors/index.js';
import { mapLimit } from '../runtime/map-limit.js';
import type { ObjectStore } from '../storage/index.js';
import { type BackupLayout, backupIdTime, INDEX_NAME, SEAL_NAME } from './backup-layout.js';
import { type BackupSeal, judgeSeal, type RekeyedCopy, type SealTrust, type SealVerdict, storedObjectsOf } from './backup-seal.js';

/**
 * The catalogue of a cluster's backups: what the store lists under `<cluster>/backups/`, and
 * for each backup id what its seal says (backup-seal.ts). Object names and metadata are only
 * where to look; whether a backup is ours, complete, of which kind and how old is read from its
 * signed seal. Nothing here needs a private key.
 */

/** What one listing of `<cluster>/backups/` shows for one backup id. */
export interface ListedBackup {
  id: string;
  /** Object name (inside the backup's directory) -> size. */
  objects: Map<string, number>;
  storedBytes: number;
  /**
   * When the store wrote the seal object (the listing's `LastModified`): the store's word, not
   * the signer's, held to the signer's window (a backdated seal: `windowProblem`).
   */
  sealStoredAt?: Date;
}

/** One backup as the catalogue judges it. */
export interface CatalogueEntry extends ListedBackup {
  verdict: SealVerdict;
  /**
   * Set for backups the jobs may act on: sealed by a key trusted for its kind, of this cluster,
   * not in the future, and every object the seal names stored at its sealed size.
   */
  authenticated?: AuthenticatedBackup;
  /** Sealed backups whose stored objects differ from their seal: what is missing or resized. */
  damage: string[];
}

/** The facts of a backup that its seal vouches for. */
export interface AuthenticatedBackup {
  id: string;
  kind: BackupSeal['kind'];
  createdAt: Date;
  completedAt: Date;
  seal: BackupSeal;
  /** Fingerprint of the key that sealed it. */
  signer: string;
  /** Set when `rekey` re-encrypted it: where its objects are now (its facts are still `seal`'s). */
  rekey?: RekeyedCopy;
}

export interface Catalogue {
  /** Every backup id under the prefix, oldest id first. */
  entries: CatalogueEntry[];
  /** Keys under `backups/` that belong to no backup id (not ours: never touched, only reported). */
  strays: string[];
  /**
   * Cluster identities found in valid seals when the reader did not know its own: more than
   * one means backups of several clusters share this cluster name, and nothing may be deleted
   * or called latest until `--cluster-uid` says which is this one.
   */
  clusterUids: string[];
}

/**
 * Lists the cluster's backups: one paginated listing of `<cluster>/backups/`, grouped by id.
 * Keys that are not under a valid backup id are returned as strays.
 */
export async function listBackupObjects(store: ObjectStore, layout: BackupLayout): Promise<{ backups: ListedBackup[]; strays: string[] }> {
  const byId = new Map<string, ListedBackup>();
  const strays: string[] = [];
  for await (const o of store.list(layout.backupsPrefix())) {
    const id = layout.backupIdOf(o.key);
    if (id === undefined) {
      strays.push(o.key);
      continue;
    }
    let b = byId.get(id);
    if (b === undefined) {
      b = { id, objects: new Map(), storedBytes: 0 };
      byId.set(id, b);
    }
    const name = o.key.slice(layout.backupPrefix(id).length);
    b.objects.set(name, o.size);
    if (name === SEAL_NAME) b.sealStoredAt = o.lastModified;
    b.storedBytes += o.size;
  }
  return { backups: [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), strays };
}

/** Objects a sealed backup lacks or holds at another size than its seal (or its rekey seal) records. */
export function damageOf(listed: ListedBackup, seal: BackupSeal, rekey?: RekeyedCopy): string[] {
  const damage: string[] = [];
  const expect = (name: string, size: number) => {
    const stored = listed.objects.get(name);
    if (stored === undefined) damage.push(`${name} is missing`);
    else if (stored !== size) damage.push(`${name} is ${stored} bytes, sealed as ${size}`);
  };
  const stored = storedObjectsOf(seal, rekey);
  expect(stored.index.name, stored.index.size);
  for (const s of stored.segments) expect(s.name, s.size);
  return damage;
}

/**
 * Reads the catalogue: one listing, then each backup's seal (a few KiB, `concurrency` at a
 * time) judged against `trust`.
 */
export async function readCatalogue(
  store: ObjectStore,
  layout: BackupLayout,
  trust: SealTrust,
  o: { concurrency?: number } = {},
): Promise<Catalogue> {
  const { backups, strays } = await listBackupObjects(store, layout);
  const entries = await mapLimit(backups, o.concurrency ?? 8, async (b): Promise<CatalogueEntry> => {
    const verdict = b.objects.has(SEAL_NAME)
      ? await judgeSeal(store, layout, b.id, trust, b.sealStoredAt ? { storedAt: b.sealStoredAt } : {})
      : ({ status: 'unsealed' } as const);
    if (verdict.status !== 'sealed') return { ...b, verdict, damage: [] };
    const damage = damageOf(b, verdict.seal, verdict.rekey);
    const entry: CatalogueEntry = { ...b, verdict, damage };
    if (damage.length === 0) entry.authenticated = sealedFacts(b.id, verdict.seal, verdict.signer, verdict.rekey);
    return entry;
  });
  const clusterUids =
    trust.clusterUid === undefined
      ? [
          ...new Set(
            entries.flatMap((e) =>
              e.verdict.status === 'sealed' && e.verdict.seal.kind === 'scheduled' ? [e.verdict.seal.clusterUid] : [],
            ),
          ),
        ].sort()
      : [trust.clusterUid];
  return { entries, strays, clusterUids };
}

/** True when the catalogue holds valid seals of more than one cluster identity (see {@link Catalogue.clusterUids}). */
export function isAmbiguous(c: Catalogue): boolean {
  return c.clusterUids.length > 1;
}

/** The authenticated backups of a catalogue, newest first, of one kind or any. */
export function authenticatedBackups(c: Catalogue, kind: BackupSeal['kind'] | 'any' = 'any'): AuthenticatedBackup[] {
  return c.entries
    .flatMap((e) => (e.authenticated && (kind === 'any' || e.authenticated.kind === kind) ? [e.authenticated] : []))
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
}

/** Why an entry is not an authenticated backup, in a few words for tables and logs; undefined when it is one. */
export function problemOf(e: CatalogueEntry): string | undefined {
  if (e.authenticated) return undefined;
  switch (e.verdict.status) {
    case 'unsealed':
      return e.objects.has(INDEX_NAME)
        ? 'unsealed: an index without a seal (made before seals existed: run adopt; its seal deleted, or hidden behind a delete marker on a versioned bucket; or not ours)'
        : 'unsealed: no index and no seal (a run that died, or not ours)';
    case 'forged':
    case 'foreign':
    case 'future':
      return `${e.verdict.status}: ${e.verdict.reason}`;
    case 'sealed':
      return `damaged: ${e.damage.join('; ')}`;
  }
}

/**
 * Several clusters' valid seals under one cluster name and no `--cluster-uid` to tell which is
 * this one: nothing is deleted and no backup is "latest" until the operator says.
 */
export class AmbiguousCatalogueError extends StewardError {
  constructor(
    readonly cluster: string,
    readonly clusterUids: readonly string[],
  ) {
    super(
      `backups of ${clusterUids.length} clusters (kube-system UIDs ${clusterUids.join(', ')}) are sealed under cluster name ${cluster}: ` +
        'set --cluster-uid to the UID of this cluster (kubectl get namespace kube-system -o jsonpath={.metadata.uid}); ' +
        'until then no backup is deleted or taken as the latest',
    );
  }
}

/**
 * The newest authenticated backup of `kind` (scheduled by default: a pre-restore backup is not
 * what freshness or "latest" means). Forged objects with later ids are never chosen.
 * @throws AmbiguousCatalogueError when the catalogue is ambiguous.
 */
export function latestAuthenticated(
  c: Catalogue,
  cluster: string,
  kind: BackupSeal['kind'] = 'scheduled',
): AuthenticatedBackup | undefined {
  if (isAmbiguous(c)) throw new AmbiguousCatalogueError(cluster, c.clusterUids);
  return authenticatedBackups(c, kind)[0];
}

/**
 * The newest backup of `kind` with a valid seal, whole or DAMAGED: what a drill or a restore
 * reads as "latest". A reader must not step over a damaged newest backup to an older intact
 * one (a drill would then pass while the newest backup is broken); it opens it, and finds and
 * reports exactly what is wrong with it.
 * @throws AmbiguousCatalogueError when the catalogue is ambiguous.
 */
export function latestSealed(c: Catalogue, cluster: string, kind: BackupSeal['kind'] = 'scheduled'): AuthenticatedBackup | undefined {
  if (isAmbiguous(c)) throw new AmbiguousCatalogueError(cluster, c.clusterUids);
  return c.entries
    .flatMap((e) =>
      e.verdict.status === 'sealed' && e.verdict.seal.kind === kind
        ? [sealedFacts(e.id, e.verdict.seal, e.verdict.signer, e.verdict.rekey)]
        : [],
    )
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))[0];
}

function sealedFacts(id: string, seal: BackupSeal, signer: string, rekey: RekeyedCopy | undefined): AuthenticatedBackup {
  return {
    id,
    kind: seal.kind,
    createdAt: new Date(seal.createdAt),
    completedAt: new Date(seal.completedAt),
    seal,
    signer,
    ...(rekey ? { rekey } : {}),
  };
}

/**
 * True for an unsealed backup that may still be being written: no index yet, and its id (a
 * claim, so this only delays a report) at most `graceMs` old. One with an index but no seal is
 * a backup made before seals (a seal follows its index within seconds); a future id is no run in
 * progress.
 */
export function mayBeInProgress(e: CatalogueEntry, now: Date, graceMs: number): boolean {
  const age = now.getTime() - backupIdTime(e.id).getTime();
  return e.verdict.status === 'unsealed' && !e.objects.has(INDEX_NAME) && age >= 0 && age < graceMs;
}
