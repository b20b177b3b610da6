import type { V1Secret } from '@kubernetes/client-node';
import { isKubeError } from '../kube/kube-error.js';
import type { SecretStore } from '../kube/secrets.js';
import type { Logger } from '../log/index.js';

/** Which Secrets a backup (or a drift check) covers. */
export interface SecretSelection {
  /** Only these namespaces; empty = all. */
  namespaces: readonly string[];
  excludeNamespaces: readonly string[];
  /** Label selector, passed to the API server. */
  selector?: string;
  /** Types skipped (defaults plus `--exclude-type`). */
  excludeTypes: readonly string[];
}

export interface SecretPage {
  items: V1Secret[];
  /** resourceVersion of the list snapshot. */
  resourceVersion: string;
  /** First page after a restart: discard everything received before. */
  restarted: boolean;
}

/**
 * Bytes of Secrets per list page. A page costs about four times its size while it is in flight
 * (the response bytes, their text, the parsed objects, the exported JSON), so a quarter of the
 * listing default keeps the backup's peak RSS visibly lower (`npm run bench`) for a handful of
 * list requests more.
 */
export const PAGE_TARGET_BYTES = 4 * 1024 * 1024;

/** True when the selection includes this Secret (client-side check; the API already filtered). */
export function isSelected(s: V1Secret, sel: SecretSelection): boolean {
  const ns = s.metadata?.namespace ?? '';
  if (sel.namespaces.length > 0 && !sel.namespaces.includes(ns)) return false;
  if (sel.excludeNamespaces.includes(ns)) return false;
  return !sel.excludeTypes.includes(s.type ?? 'Opaque');
}

/** Field selector excluding types and namespaces server-side (the API supports `!=` on both). */
export function selectionFieldSelector(sel: SecretSelection, allNamespaces: boolean): string | undefined {
  const parts = sel.excludeTypes.map((t) => `type!=${t}`);
  if (allNamespaces) parts.push(...sel.excludeNamespaces.map((n) => `metadata.namespace!=${n}`));
  return parts.length > 0 ? parts.join(',') : undefined;
}

/**
 * At most how many Secrets the selection holds, by the API server's own count, for progress:
 * one metadata-only list of ONE item per listed namespace (or one cluster-wide), whose
 * `metadata.remainingItemCount` counts the rest. The server sends that count only for a list
 * without a label or field selector, so Secrets of excluded types (and, cluster-wide, of
 * excluded namespaces) are counted too: an upper bound. Undefined with a label selector, when
 * the server sends no count, or when the count cannot be read (progress then shows counts only).
 */
export async function countSecretsAtMost(
  secrets: Pick<SecretStore, 'listMetadata'>,
  sel: SecretSelection,
  log: Logger,
): Promise<number | undefined> {
  if (sel.selector) return undefined;
  const targets: Array<string | undefined> = sel.namespaces.length > 0 ? [...sel.namespaces] : [undefined];
  let total = 0;
  for (const namespace of targets) {
    const pages = secrets.listMetadata(namespace, { pageSize: 1 });
    try {
      const first = await pages.next();
      if (first.done) continue;
      if (first.value.remainingItemCount !== undefined) {
        total += first.value.items.length + first.value.remainingItemCount;
        continue;
      }
      // No count: either this was the last page, or the server does not count.
      if (!(await pages.next()).done) return undefined;
      total += first.value.items.length;
    } catch (e) {
      if (!isKubeError(e)) throw e;
      log.debug(
        { err: e, namespace: namespace ?? '(all)' },
        'could not count the Secrets to back up; progress shows counts without a total',
      );
      return undefined;
    } finally {
      await pages.return(undefined);
    }
  }
  return total;
}

/**
 * Lists the selected Secrets page by page (one cluster-wide list, or one list per selected
 * namespace), filtering out excluded types and namespaces. Pages adapt in size to keep about
 * {@link PAGE_TARGET_BYTES} of Secret data per page, so memory stays bounded on clusters with large Secrets.
 * If a continue token expires (410 Gone) the whole listing starts again from the first
 * namespace, and the next page says so (`restarted`), because a backup must come from one
 * consistent walk; after `maxRestarts` the error is raised.
 */
export async function* listSelectedSecrets(
  secrets: Pick<SecretStore, 'list'>,
  sel: SecretSelection,
  opts: { pageSize: number; log: Logger; maxRestarts?: number },
): AsyncGenerator<SecretPage> {
  const targets: Array<string | undefined> = sel.namespaces.length > 0 ? [...sel.namespaces] : [undefined];
  const maxRestarts = opts.maxRestarts ?? 3;
  for (let attempt = 0; ; attempt++) {
    let first = true;
    try {
      for (const namespace of targets) {
        const pages = secrets.list(namespace, {
          labelSelector: sel.selector,
          fieldSelector: selectionFieldSelector(sel, namespace === undefined),
          pageSize: opts.pageSize,
          pageBytes: PAGE_TARGET_BYTES,
          // A restart is the whole walk's, below: one namespace's pages must not be mixed with another snapshot.
          maxRestarts: 0,
        });
        for await (const page of pages) {
          yield {
            items: page.items.filter((s) => isSelected(s, sel)),
            resourceVersion: page.resourceVersion,
            restarted: attempt > 0 && first,
          };
          first = false;
        }
      }
      return;
    } catch (e) {
      if (isKubeError(e, (k) => k.expired) && attempt < maxRestarts) {
        opts.log.warn({ attempt: attempt + 1 }, 'Secret list continue token expired (410 Gone); restarting the list from the beginning');
        continue;
      }
      throw e;
    }
  }
}
