import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { isKubeError, listPages, type KubeCaller } from '../kube/index.js';
import { DRILL_LABEL } from './drill-objects.js';

/**
 * Everything the drill does to the cluster, which is all inside its one drill namespace:
 * create a copy, read it back, delete it, find leftovers by label. This is exactly the RBAC of
 * the drill's Role (create, get, list, delete on Secrets in that namespace); nothing else is
 * ever asked of the API server (without --compare-live).
 */
export interface DrillNamespace {
  readonly namespace: string;
  create(body: V1Secret): Promise<V1Secret>;
  /** The object, or undefined when it does not exist. */
  get(name: string): Promise<V1Secret | undefined>;
  /** Deletes; false when it was already gone. Retried (deletes are idempotent), also after a shutdown request. */
  delete(name: string): Promise<boolean>;
  /** Names of drill objects: of one drill, or of any drill when `drillId` is undefined. */
  listDrillObjects(drillId?: string): Promise<string[]>;
}

export class KubeDrillNamespace implements DrillNamespace {
  /**
   * @param caller for creates and reads (stops retrying on shutdown).
   * @param cleanupCaller for deletes and listings: keeps retrying after a shutdown request, so
   *   that cleanup in a `finally` completes within the pod's termination grace period.
   */
  constructor(
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
    private readonly cleanupCaller: KubeCaller,
    readonly namespace: string,
  ) {}

  /**
   * Creates a drill copy. Retried after a 5xx or a lost connection: drill names are unique to
   * the drill, so a retry of a create that did happen answers AlreadyExists, and the caller
   * recognises its own object by the drill label.
   */
  create(body: V1Secret): Promise<V1Secret> {
    const name = body.metadata?.name;
    return this.caller.call(
      { verb: 'create', kind: 'Secret', namespace: this.namespace, name },
      () => this.core.createNamespacedSecret({ namespace: this.namespace, body }),
      { idempotent: true },
    );
  }

  async get(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.caller.call({ verb: 'get', kind: 'Secret', namespace: this.namespace, name }, () =>
        this.core.readNamespacedSecret({ namespace: this.namespace, name }),
      );
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return undefined;
      throw e;
    }
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

  async listDrillObjects(drillId?: string): Promise<string[]> {
    const labelSelector = drillId === undefined ? DRILL_LABEL : `${DRILL_LABEL}=${drillId}`;
    const names: string[] = [];
    const pages = listPages(
      this.cleanupCaller,
      { verb: 'list', kind: 'Secret', namespace: this.namespace, detail: `(drill objects, ${labelSelector})` },
      (req) => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector, limit: req.limit, _continue: req._continue }),
      { pageSize: 500 },
    );
    for await (const page of pages) {
      if (page.restarted) names.length = 0;
      for (const s of page.items) if (s.metadata?.name) names.push(s.metadata.name);
    }
    return names;
  }
}
