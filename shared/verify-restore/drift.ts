import type { LoadedIndex, SecretTable } from '../backup/backup-index.js';
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
 * excluded types), page by page, against the index's per-Secret SHA-256. Memory: one page, and
 * per Secret of the backup a slot of {@link EntryLookup} and a byte (found live or not).
 */
export async function compareWithLive(
  secrets: Pick<SecretStore, 'list'>,
  index: LoadedIndex,
  o: { pageSize: number; log: Logger; checkpoint: () => void },
): Promise<DriftResult> {
  const recorded = new EntryLookup(index.secrets);
  const selection = {
    namespaces: index.selection.namespaces,
    excludeNamespaces: index.selection.excludeNamespaces,
    selector: index.selection.selector,
    excludeTypes: index.selection.excludeTypes,
  };
  /** One byte per Secret of the backup: found live. */
  let seen = new Uint8Array(index.secrets.length);
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
      seen = new Uint8Array(index.secrets.length);
      added = [];
      changed = [];
      addedCount = 0;
      changedCount = 0;
      unchanged = 0;
    }
    for (const s of page.items) {
      const namespace = s.metadata?.namespace ?? '';
      const name = s.metadata?.name ?? '';
      const at = recorded.find(namespace, name);
      if (at < 0) {
        addedCount++;
        sample(added, `${namespace}/${name}`);
        continue;
      }
      seen[at] = 1;
      if (!recorded.hasDigest(at, secretDataDigest(s.data))) {
        changedCount++;
        sample(changed, `${namespace}/${name}`);
      } else unchanged++;
    }
  }
  const deleted: string[] = [];
  for (let i = 0; i < seen.length; i++) {
    if (seen[i] === 0) deleted.push(`${index.secrets.namespaceAt(i)}/${index.secrets.nameAt(i)}`);
  }
  const examples = (xs: string[]) => [...xs].sort().slice(0, MAX_EXAMPLES);
  return {
    missingFromBackup: addedCount,
    deletedSince: deleted.length,
    changedSince: changedCount,
    unchanged,
    examples: { missingFromBackup: examples(added), deletedSince: examples(deleted), changedSince: examples(changed) },
  };
}

/**
 * Finds a Secret's position in the index's {@link SecretTable} by namespace and name: open
 * addressing over a 32-bit hash of both, in one Int32Array (position + 1; 0 an empty slot; at
 * most half the slots used), each candidate confirmed against the table itself. 8-16 bytes a Secret,
 * where a `Map` of `namespace/name` strings to digests took about 150.
 */
class EntryLookup {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(private readonly table: SecretTable) {
    let size = 16;
    while (size < 2 * table.length) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < table.length; i++) {
      let k = keyHash(table.namespaceAt(i), table.nameAt(i)) & this.mask;
      while (this.slots[k] !== 0) k = (k + 1) & this.mask;
      this.slots[k] = i + 1;
    }
  }

  /** The position of Secret namespace/name in the table, or -1. */
  find(namespace: string, name: string): number {
    for (let k = keyHash(namespace, name) & this.mask; this.slots[k] !== 0; k = (k + 1) & this.mask) {
      const i = this.slots[k] - 1;
      if (this.table.nameAt(i) === name && this.table.namespaceAt(i) === namespace) return i;
    }
    return -1;
  }

  /** Whether the Secret at `i` was recorded with data digest `sha256` (hex). */
  hasDigest(i: number, sha256: string): boolean {
    return this.table.dataSha256At(i) === sha256;
  }
}

/** FNV-1a over namespace, a separator no name holds, and name, mixed so that its low bits spread. */
function keyHash(namespace: string, name: string): number {
  let h = 0x811c9dc5;
  const add = (text: string) => {
    for (let k = 0; k < text.length; k++) {
      h ^= text.charCodeAt(k);
      h = Math.imul(h, 0x01000193);
    }
  };
  add(namespace);
  h ^= 0x2f;
  h = Math.imul(h, 0x01000193);
  add(name);
  return Math.imul(h ^ (h >>> 16), 0x9e3779b1) >>> 0;
}
