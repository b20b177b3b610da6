import type { V1Secret } from '@kubernetes/client-node';
import type { ListPage, SecretStore } from '../kube/index.js';
import { type DrillObjects, drillSelector } from './drill-objects.js';

/**
 * Everything the drill does to the cluster, which is all inside its one drill namespace, and
 * only to objects carrying the drill label: create a copy, list copies by label (to read a batch
 * back, and to find what is left), delete copies by label. This is exactly the RBAC of the
 * drill's Role (create, list, deletecollection on Secrets in that namespace); `delete` of one
 * object is a fallback for Roles without deletecollection. Nothing else is ever asked of the
 * API server (without --compare-live).
 */
export interface DrillNamespace {
  readonly namespace: string;
  /** Creates a drill copy (what the API server answers is not needed: the batch read-back is the proof). */
  create(body: V1Secret): Promise<void>;
  /**
   * The drill objects `which` selects, page by page (`restarted` as in listPages: discard what
   * earlier pages gave). Stops retrying on shutdown: this is the read-back of a batch.
   */
  list(which: DrillObjects, o?: { pageSize?: number }): AsyncIterable<ListPage<V1Secret>>;
  /** Names of the drill objects `which` selects. Keeps retrying after a shutdown request (cleanup). */
  names(which: DrillObjects): Promise<string[]>;
  /**
   * Deletes every drill object `which` selects with ONE `deletecollection` request (retried:
   * it is idempotent; also after a shutdown request). Throws KubeError, `forbidden` when the
   * Role lacks deletecollection.
   */
  deleteCollection(which: DrillObjects): Promise<void>;
  /** Deletes one object; false when it was already gone. The fallback when deletecollection is refused. */
  delete(name: string): Promise<boolean>;
}

/** Bytes of Secrets per read-back page: bounds what one response holds in memory. */
const READ_BACK_PAGE_BYTES = 4 * 1024 * 1024;

/** {@link DrillNamespace} on the Secret seam: drill objects by label in one namespace. */
export class KubeDrillNamespace implements DrillNamespace {
  /**
   * @param secrets for creates and reads back (stops retrying on shutdown).
   * @param cleanup for deletes and the listings that find what to delete: keeps retrying after a
   *   shutdown request, so that cleanup in a `finally` completes within the pod's termination
   *   grace period.
   */
  constructor(
    private readonly secrets: SecretStore,
    private readonly cleanup: SecretStore,
    readonly namespace: string,
  ) {}

  /**
   * Retried after a 5xx or a lost connection: drill names are unique to the drill, so a retry of
   * a create that did happen answers AlreadyExists, and the caller recognises its own object by
   * its labels when it reads the batch back. The Secret the API server echoes back is not read.
   */
  create(body: V1Secret): Promise<void> {
    return this.secrets.createWithoutEcho(this.namespace, body, { retryUnknownOutcome: true });
  }

  list(which: DrillObjects, o: { pageSize?: number } = {}): AsyncIterable<ListPage<V1Secret>> {
    return this.pages(this.secrets, which, o.pageSize ?? 250, 'read back');
  }

  async names(which: DrillObjects): Promise<string[]> {
    const names: string[] = [];
    for await (const page of this.pages(this.cleanup, which, 500, 'drill objects')) {
      if (page.restarted) names.length = 0;
      for (const s of page.items) if (s.metadata?.name) names.push(s.metadata.name);
    }
    return names;
  }

  deleteCollection(which: DrillObjects): Promise<void> {
    return this.cleanup.deleteCollection(this.namespace, drillSelector(which));
  }

  delete(name: string): Promise<boolean> {
    return this.cleanup.delete(this.namespace, name);
  }

  private pages(store: SecretStore, which: DrillObjects, pageSize: number, what: string): AsyncGenerator<ListPage<V1Secret>> {
    const labelSelector = drillSelector(which);
    return store.list(this.namespace, {
      labelSelector,
      pageSize,
      pageBytes: READ_BACK_PAGE_BYTES,
      detail: `(${what}, label ${labelSelector})`,
    });
  }
}
