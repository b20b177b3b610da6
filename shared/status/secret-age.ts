import type { AuthenticatedBackup } from '../backup/backup-catalog.js';
import type { SecretEntry } from '../backup/backup-index.js';

/**
 * When each backed-up Secret's data last changed, from the per-Secret data digests
 * (`dataSha256`, a plain SHA-256 of the data: equal across backups exactly when the data is)
 * in the indexes of the retained authenticated backups. Kubernetes records no such time.
 *
 * The walk goes from the newest backup to the oldest and keeps, per Secret of the newest
 * backup, only its digest and the oldest backup seen with that digest; a Secret is settled at
 * the first backup that holds other data or does not hold it, and the walk stops once every
 * Secret is settled. Memory: one index at a time plus one small record per reported Secret,
 * whatever the number of backups.
 */

/** One Secret's age as the retained history tells it. */
export interface SecretAge {
  namespace: string;
  name: string;
  type: string;
  /**
   * Creation time of the oldest backup, going back without a break from the newest, that holds
   * the Secret's current data: its data has not changed since at least then.
   */
  unchangedSince: Date;
  /** That backup's id. */
  sinceBackup: string;
  /**
   * The backup before it, which held other data or did not hold the Secret (created since, or
   * outside that backup's selection): the data changed between its creation and `unchangedSince`.
   * Absent when every retained backup holds the current data: the data is older than the history.
   */
  changedAfter?: { backup: string; createdAt: Date; was: 'other data' | 'absent' };
  /** Time from `unchangedSince` to now: the least the data can be old. */
  unchangedForMs: number;
  /** Unchanged for longer than the threshold. */
  flagged: boolean;
}

/** A backup the walk could not use, and why. */
export interface SkippedBackup {
  id: string;
  reason: string;
}

/** Opens one authenticated backup's index: its Secret entries, or why it cannot be read. */
export type IndexReader = (b: AuthenticatedBackup) => Promise<{ secrets: Iterable<SecretEntry> } | { skipped: string }>;

export interface SecretAgeWalk {
  /** The newest backup read: the ages are as of its creation. */
  asOf?: { backup: string; createdAt: Date };
  /** The oldest backup read (the end of the retained history, or where every Secret was settled). */
  oldestRead?: { backup: string; createdAt: Date };
  secrets: SecretAge[];
  /** Authenticated backups whose index could not be read (walked past). */
  unreadable: SkippedBackup[];
}

/**
 * Walks `backups` (authenticated, newest first) and returns the age of every Secret of the
 * newest readable one that `include` accepts, sorted by namespace and name.
 */
export async function walkSecretAges(
  backups: readonly AuthenticatedBackup[],
  read: IndexReader,
  o: { now: Date; maxUnchangedMs: number; include: (namespace: string) => boolean },
): Promise<SecretAgeWalk> {
  interface Open {
    entry: Pick<SecretEntry, 'namespace' | 'name' | 'type'>;
    digest: string;
    since: AuthenticatedBackup;
    changedAfter?: SecretAge['changedAfter'];
    settled: boolean;
  }
  const state = new Map<string, Open>();
  const unreadable: SkippedBackup[] = [];
  let asOf: AuthenticatedBackup | undefined;
  let oldestRead: AuthenticatedBackup | undefined;
  let unsettled = 0;
  for (const b of backups) {
    if (asOf !== undefined && unsettled === 0) break;
    const r = await read(b);
    if ('skipped' in r) {
      unreadable.push({ id: b.id, reason: r.skipped });
      continue;
    }
    oldestRead = b;
    if (asOf === undefined) {
      asOf = b;
      for (const e of r.secrets) {
        if (!o.include(e.namespace)) continue;
        const { namespace, name, type } = e;
        state.set(key(e), { entry: { namespace, name, type }, digest: e.dataSha256, since: b, settled: false });
      }
      unsettled = state.size;
      continue;
    }
    const here = new Map<string, string>();
    for (const e of r.secrets) if (state.get(key(e))?.settled === false) here.set(key(e), e.dataSha256);
    for (const [k, s] of state) {
      if (s.settled) continue;
      const digest = here.get(k);
      if (digest === s.digest) {
        s.since = b;
        continue;
      }
      s.settled = true;
      s.changedAfter = { backup: b.id, createdAt: b.createdAt, was: digest === undefined ? 'absent' : 'other data' };
      unsettled--;
    }
  }
  const secrets = [...state.values()]
    .map((s): SecretAge => {
      const unchangedForMs = Math.max(0, o.now.getTime() - s.since.createdAt.getTime());
      return {
        ...s.entry,
        unchangedSince: s.since.createdAt,
        sinceBackup: s.since.id,
        ...(s.changedAfter ? { changedAfter: s.changedAfter } : {}),
        unchangedForMs,
        flagged: unchangedForMs > o.maxUnchangedMs,
      };
    })
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    ...(asOf ? { asOf: { backup: asOf.id, createdAt: asOf.createdAt } } : {}),
    ...(oldestRead ? { oldestRead: { backup: oldestRead.id, createdAt: oldestRead.createdAt } } : {}),
    secrets,
    unreadable,
  };
}

function key(e: { namespace: string; name: string }): string {
  return `${e.namespace}/${e.name}`;
}
