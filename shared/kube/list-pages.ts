import {
  type ConfigurationOptions,
  type ObservableMiddleware,
  setHeaderOptions,
  type V1ListMeta,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
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
  /**
   * Items of the list after this page, when the API server says: it sends
   * `metadata.remainingItemCount` on a page with a continue token of a list without label or
   * field selector (with one, the count would include objects that do not match).
   */
  remainingItemCount?: number;
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
  fetchPage: (
    req: ListPageRequest,
  ) => Promise<{ items: T[]; metadata?: { _continue?: string; resourceVersion?: string; remainingItemCount?: number } }>,
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
    let page: Awaited<ReturnType<typeof fetchPage>>;
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
    const remaining = page.metadata?.remainingItemCount;
    yield {
      items: page.items,
      resourceVersion: snapshotRv,
      restarted,
      ...(remaining !== undefined ? { remainingItemCount: remaining } : {}),
    };
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

/**
 * Accept header of a metadata-only list, as client-go's metadata client sends it (JSON form):
 * the API server converts the list into a `meta.k8s.io/v1` `PartialObjectMetadataList` whose
 * items carry only `metadata` (name, namespace, labels, annotations, ownerReferences, uid,
 * resourceVersion, creationTimestamp...; no data, spec, status or type). It is still the `list`
 * verb for RBAC, and takes the same `limit`, `continue`, label and field selectors. The trailing
 * `application/json` lets a server or proxy that cannot convert answer the full list instead.
 */
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/**
 * Options for a typed list call of @kubernetes/client-node 2.x (its last argument) that make it
 * a metadata-only list: a middleware replaces the Accept header the generated code sets
 * (`setHeaderOptions`, the client's supported way to set a header per call). The response still
 * goes through the client's error handling (non-2xx: ApiException, so KubeCaller's retries and
 * KubeError apply) and is deserialised as the resource's list type, of which only `metadata`
 * is filled; {@link toMetadataPage} turns it into what it really is.
 */
export function metadataListOptions(): ConfigurationOptions<ObservableMiddleware> {
  return setHeaderOptions('Accept', METADATA_LIST_ACCEPT);
}

/** An object as a metadata-only list returns it. */
export interface MetadataOnly {
  metadata: V1ObjectMeta;
}

/** What a typed list call returns, for {@link toMetadataPage}. */
export interface ListResponse {
  kind?: string;
  items?: Array<{ metadata?: V1ObjectMeta }> | null;
  metadata?: V1ListMeta;
}

/**
 * A list response reduced to metadata: `converted` says whether the server answered a
 * PartialObjectMetadataList (else it sent full objects, of which only the metadata is kept);
 * `items: null` (how the API server encodes an empty PartialObjectMetadataList) becomes [].
 */
export function toMetadataPage(list: ListResponse): { items: MetadataOnly[]; metadata?: V1ListMeta; converted: boolean } {
  return {
    items: (list.items ?? []).map((item) => ({ metadata: item.metadata ?? {} })),
    metadata: list.metadata,
    converted: list.kind === 'PartialObjectMetadataList',
  };
}

/**
 * Rough bytes of an object's metadata (for adapting page sizes): labels, annotations,
 * managedFields and a fixed part. managedFields come with every object a real API server
 * returns, metadata-only lists included, and often outweigh the rest of the metadata (one entry
 * per writer, each naming every field it set).
 */
export function sizeOfMetadata(o: MetadataOnly): number {
  let n = 300 + sizeOfManagedFields(o.metadata);
  for (const [k, v] of Object.entries(o.metadata.annotations ?? {})) n += k.length + v.length;
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) n += k.length + v.length;
  return n;
}

/** Bytes of `metadata.managedFields` as JSON (0 when absent). */
export function sizeOfManagedFields(metadata: { managedFields?: unknown[] } | undefined): number {
  const entries = metadata?.managedFields;
  return entries && entries.length > 0 ? JSON.stringify(entries).length : 0;
}

/**
 * {@link listPages} for a metadata-only list: `fetchList` makes the typed list call with the
 * options it is given ({@link metadataListOptions}). Same pagination, retries and 410 restart;
 * page sizes adapt to the metadata's size (default 500 items, pages of about 4 MiB).
 * `onFullList` is called for each page the server answered with full objects.
 */
export function listMetadataPages(
  caller: KubeCaller,
  op: KubeOp,
  fetchList: (req: ListPageRequest, options: ConfigurationOptions<ObservableMiddleware>) => Promise<ListResponse>,
  options: ListPagesOptions<MetadataOnly> & { onFullList?: () => void } = {},
): AsyncGenerator<ListPage<MetadataOnly>> {
  const { onFullList, ...paging } = options;
  return listPages<MetadataOnly>(
    caller,
    op,
    async (req) => {
      const page = toMetadataPage(await fetchList(req, metadataListOptions()));
      if (!page.converted) onFullList?.();
      return page;
    },
    {
      ...paging,
      pageSize: paging.pageSize ?? 500,
      targetPageBytes: paging.targetPageBytes ?? 4 * 1024 * 1024,
      sizeOf: paging.sizeOf ?? sizeOfMetadata,
    },
  );
}
