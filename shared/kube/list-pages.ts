import type { KubeCaller } from './kube-call.js';
import { KubeError, type KubeOp } from './kube-error.js';

/** One page of a paginated list. */
export interface ListPage<T> {
  items: T[];
  /** resourceVersion of the list snapshot this page belongs to. */
  resourceVersion: string;
  /**
   * True on the first page after the list was restarted because its continue token
   * expired (410 Gone): everything received before belongs to an abandoned snapshot and
   * must be discarded by the consumer.
   */
  restarted: boolean;
}

export interface ListPageRequest {
  limit: number;
  _continue?: string;
}

export interface ListPagesOptions<T> {
  /** Items per request to start with. @default 250 */
  pageSize?: number;
  /**
   * Bounds memory: with `sizeOf`, the page size adapts so a page holds about this many
   * bytes (between 10 and `pageSize * 4` items). @default 16 MiB
   */
  targetPageBytes?: number;
  sizeOf?: (item: T) => number;
  /** Restarts allowed after 410 Gone before giving up. @default 3 */
  maxRestarts?: number;
}

/**
 * Lists a resource page by page with `limit`/`continue`, so memory holds one page at a time.
 * A 410 Gone (continue token expired) restarts the list from the beginning, as continuing
 * would mix two snapshots; the restart is signalled on the next page. Each page request is
 * retried by the caller's policy (429, 5xx, network).
 */
export async function* listPages<T>(
  caller: KubeCaller,
  op: KubeOp,
  fetchPage: (req: ListPageRequest) => Promise<{ items: T[]; metadata?: { _continue?: string; resourceVersion?: string } }>,
  options: ListPagesOptions<T> = {},
): AsyncGenerator<ListPage<T>> {
  const initial = options.pageSize ?? 250;
  const target = options.targetPageBytes ?? 16 * 1024 * 1024;
  const maxRestarts = options.maxRestarts ?? 3;
  let restarts = 0;
  let limit = initial;
  let cont: string | undefined;
  let restarted = false;
  let snapshotRv = '';
  for (;;) {
    let page;
    try {
      page = await caller.call(op, () => fetchPage({ limit, _continue: cont }));
    } catch (e) {
      if (e instanceof KubeError && e.expired && cont !== undefined && restarts < maxRestarts) {
        restarts++;
        cont = undefined;
        restarted = true;
        continue;
      }
      throw e;
    }
    if (cont === undefined) snapshotRv = page.metadata?.resourceVersion ?? '';
    yield { items: page.items, resourceVersion: snapshotRv, restarted };
    restarted = false;
    cont = page.metadata?._continue || undefined;
    if (cont === undefined) return;
    if (options.sizeOf && page.items.length > 0) {
      let bytes = 0;
      for (const item of page.items) bytes += options.sizeOf(item);
      const perItem = Math.max(1, bytes / page.items.length);
      limit = Math.max(10, Math.min(initial * 4, Math.floor(target / perItem)));
    }
  }
}
