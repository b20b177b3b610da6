import type { LoadedIndex } from '../backup/backup-index.js';
import { secretDataDigest } from '../backup/secret-digest.js';
import { listSelectedSecrets } from '../backup/secret-source.js';
import type { SecretStore } from '../kube/index.js';
import type { Logger } from '../log/index.js';

const MAX_EXAMPLES = 100;

export interface DriftResult {
  /** Live Secrets (within the backup's selection) that the backup does not have: created since. */
  missingFromBackup: number;
  /** Secrets in the backup that are no longer live: deleted since. */
  deletedSince: number;
  /** In both, with different data (by SHA-256): changed since. */
  changedSince: number;
  unchanged: number;
  /** Up to 100 `namespace/name` of each kind (the first listed), sorted. */
  examples: { missingFromBackup: string[]; deletedSince: string[]; changedSince: string[] };
}

/**
 * Compares a backup with the live cluster by data hashes only (no value is compared or kept):
 * lists the live Secrets the backup's own selection covers (same namespaces, label selector and
 * excluded types), page by page, against the index's per-Secret SHA-256. Memory: the index's
 * entries plus one page.
 */
export async function compareWithLive(
  secrets: Pick<SecretStore, 'list'>,
  index: LoadedIndex,
  o: { pageSize: number; log: Logger; checkpoint: () => void },
): Promise<DriftResult> {
  const recorded = new Map<string, string>();
  for (const e of index.secrets) recorded.set(`${e.namespace}/${e.name}`, e.dataSha256);
  const selection = {
    namespaces: index.selection.namespaces,
    excludeNamespaces: index.selection.excludeNamespaces,
    selector: index.selection.selector,
    excludeTypes: index.selection.excludeTypes,
  };
  let seen = new Set<string>();
  let added: string[] = [];
  let changed: string[] = [];
  let addedCount = 0;
  let changedCount = 0;
  let unchanged = 0;
  const sample = (xs: string[], key: string) => {
    if (xs.length < MAX_EXAMPLES) xs.push(key);
  };
  for await (const page of listSelectedSecrets(secrets, selection, { pageSize: o.pageSize, log: o.log })) {
    o.checkpoint();
    if (page.restarted) {
      seen = new Set();
      added = [];
      changed = [];
      addedCount = 0;
      changedCount = 0;
      unchanged = 0;
    }
    for (const s of page.items) {
      const key = `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`;
      const digest = recorded.get(key);
      if (digest === undefined) {
        addedCount++;
        sample(added, key);
        continue;
      }
      seen.add(key);
      if (digest !== secretDataDigest(s.data)) {
        changedCount++;
        sample(changed, key);
      } else unchanged++;
    }
  }
  const deleted = [...recorded.keys()].filter((k) => !seen.has(k));
  const examples = (xs: string[]) => [...xs].sort().slice(0, MAX_EXAMPLES);
  return {
    missingFromBackup: addedCount,
    deletedSince: deleted.length,
    changedSince: changedCount,
    unchanged,
    examples: { missingFromBackup: examples(added), deletedSince: examples(deleted), changedSince: examples(changed) },
  };
}
