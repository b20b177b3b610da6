import { ApiException, type CoreV1Api, HttpMethod, type KubeConfig, RequestContext, type V1Secret } from '@kubernetes/client-node';
import { type Dispatcher, request } from 'undici';
import { isKubeError, type KubeCaller, type ListPage, listPages } from '../kube/index.js';
import { type DrillObjects, drillDataBytes, drillSelector } from './drill-objects.js';

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

/**
 * Largest answer {@link KubeDrillNamespace.send} reads to its end (two batches of 64 MiB, the
 * largest allowed); a longer one closes its connection instead.
 */
const DISCARD_LIMIT = 256 * 1024 * 1024;

/** Bytes of Secret data per read-back page: bounds what one response holds in memory. */
const READ_BACK_PAGE_BYTES = 4 * 1024 * 1024;

export class KubeDrillNamespace implements DrillNamespace {
  private readonly secretsUrl: string;

  /**
   * @param kc the kubeconfig `core` was made from (authentication for {@link send}).
   * @param caller for creates and reads back (stops retrying on shutdown).
   * @param cleanupCaller for deletes and the listings that find what to delete: keeps retrying
   *   after a shutdown request, so that cleanup in a `finally` completes within the pod's
   *   termination grace period.
   */
  constructor(
    private readonly kc: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
    private readonly cleanupCaller: KubeCaller,
    readonly namespace: string,
  ) {
    // As client-node builds it: the cluster's server URL (with any path prefix) + the API path.
    this.secretsUrl = `${kc.getCurrentCluster()?.server ?? ''}/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  }

  /**
   * Creates a drill copy. Retried after a 5xx or a lost connection: drill names are unique to
   * the drill, so a retry of a create that did happen answers AlreadyExists, and the caller
   * recognises its own object by its labels when it reads the batch back. Sent with
   * {@link send}: the Secret the API server echoes back is not needed, the read-back is the proof.
   */
  create(body: V1Secret): Promise<void> {
    const name = body.metadata?.name;
    return this.caller.call(
      { verb: 'create', kind: 'Secret', namespace: this.namespace, name },
      () => this.send('POST', this.secretsUrl, JSON.stringify(body)),
      {
        idempotent: true,
      },
    );
  }

  list(which: DrillObjects, o: { pageSize?: number } = {}): AsyncIterable<ListPage<V1Secret>> {
    return this.pages(this.caller, which, o.pageSize ?? 250, 'read back');
  }

  async names(which: DrillObjects): Promise<string[]> {
    const names: string[] = [];
    for await (const page of this.pages(this.cleanupCaller, which, 500, 'drill objects')) {
      if (page.restarted) names.length = 0;
      for (const s of page.items) if (s.metadata?.name) names.push(s.metadata.name);
    }
    return names;
  }

  /**
   * Sent with {@link send}: the API server answers with every object it deleted, data included
   * (a whole batch), which the drill has no use for.
   */
  async deleteCollection(which: DrillObjects): Promise<void> {
    const labelSelector = drillSelector(which);
    await this.cleanupCaller.call(
      { verb: 'deletecollection', kind: 'Secret', namespace: this.namespace, detail: `(label ${labelSelector})` },
      () => this.send('DELETE', `${this.secretsUrl}?labelSelector=${encodeURIComponent(labelSelector)}`),
      { idempotent: true },
    );
  }

  async delete(name: string): Promise<boolean> {
    try {
      await this.cleanupCaller.call(
        { verb: 'delete', kind: 'Secret', namespace: this.namespace, name },
        () => this.core.deleteNamespacedSecret({ namespace: this.namespace, name }),
        { idempotent: true },
      );
      return true;
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return false;
      throw e;
    }
  }

  /**
   * Sends one request with a plain undici request and reads the answer to its end without
   * parsing it: for the calls whose answer the drill does not use, and that carry the data of
   * every Secret (the create's echo of the copy, deletecollection's list of what it deleted).
   * Measured against the emulator (8 KiB Secrets, 4 in flight): client-node 2.0.1's generated
   * createNamespacedSecret takes about 0.5 ms of CPU per call in its generic layers (request
   * context, middleware, serializing the typed object, parsing and deserializing the whole
   * Secret echoed back), this about 0.2 ms; a drill makes one create per Secret and its pod has
   * one CPU. Authentication and TLS are the kubeconfig's own (`applySecurityAuthentication`:
   * token, token file, exec plugin or client certificate, and its shared dispatcher), and a
   * failure is thrown as client-node's ApiException, so KubeCaller converts and retries it
   * exactly like every other call.
   */
  private async send(method: 'POST' | 'DELETE', url: string, body?: string): Promise<void> {
    const ctx = new RequestContext(url, method === 'POST' ? HttpMethod.POST : HttpMethod.DELETE);
    ctx.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) ctx.setHeaderParam('Content-Type', 'application/json');
    await this.kc.applySecurityAuthentication(ctx);
    const res = await request(ctx.getUrl(), {
      method,
      headers: ctx.getHeaders(),
      body,
      dispatcher: ctx.getDispatcher() as Dispatcher | undefined,
    });
    if (res.statusCode >= 200 && res.statusCode < 300) {
      // Read to the end without keeping it, so that the connection is reused.
      await res.body.dump({ limit: DISCARD_LIMIT });
      return;
    }
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    throw new ApiException(res.statusCode, `${method} ${new URL(url).pathname}`, text, headers);
  }

  private pages(caller: KubeCaller, which: DrillObjects, pageSize: number, what: string): AsyncGenerator<ListPage<V1Secret>> {
    const labelSelector = drillSelector(which);
    return listPages(
      caller,
      { verb: 'list', kind: 'Secret', namespace: this.namespace, detail: `(${what}, label ${labelSelector})` },
      (req) => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector, limit: req.limit, _continue: req._continue }),
      { pageSize, sizeOf: drillDataBytes, targetPageBytes: READ_BACK_PAGE_BYTES },
    );
  }
}
