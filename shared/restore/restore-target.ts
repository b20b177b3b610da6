import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { isKubeError, type KubeCaller, listPages } from '../kube/index.js';

/**
 * What a restore does to the cluster, as a narrow seam in front of the API. Every write can be
 * a dry run (`dryRun=All`: the API server validates and admits it, and persists nothing).
 * Writes are NOT retried after a 5xx or a lost connection (their outcome is unknown; the plan
 * is re-derived on the next run); deletes and reads are.
 */
export interface RestoreTarget {
  namespaceExists(namespace: string): Promise<boolean>;
  createNamespace(namespace: string, dryRun: boolean): Promise<void>;
  get(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** Pages of the namespace's Secrets. */
  list(namespace: string): AsyncGenerator<V1Secret[]>;
  create(namespace: string, body: V1Secret, dryRun: boolean): Promise<V1Secret>;
  /** PUT; `body.metadata.resourceVersion` is the precondition (409 Conflict when stale). */
  replace(namespace: string, name: string, body: V1Secret, dryRun: boolean): Promise<V1Secret>;
  /** Deletes with uid and resourceVersion preconditions; false when already gone. */
  delete(namespace: string, name: string, preconditions: { uid?: string; resourceVersion?: string }, dryRun: boolean): Promise<boolean>;
}

const DRY = '(dry run)';

export class KubeRestoreTarget implements RestoreTarget {
  constructor(
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
  ) {}

  async namespaceExists(namespace: string): Promise<boolean> {
    try {
      await this.caller.call({ verb: 'get', kind: 'Namespace', name: namespace }, () => this.core.readNamespace({ name: namespace }));
      return true;
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return false;
      throw e;
    }
  }

  async createNamespace(namespace: string, dryRun: boolean): Promise<void> {
    try {
      await this.caller.call({ verb: 'create', kind: 'Namespace', name: namespace, detail: dryRun ? DRY : undefined }, () =>
        this.core.createNamespace({
          body: {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: namespace, labels: { 'app.kubernetes.io/created-by': 'secret-steward-restore' } },
          },
          ...(dryRun ? { dryRun: 'All' } : {}),
        }),
      );
    } catch (e) {
      if (!isKubeError(e, (k) => k.alreadyExists)) throw e;
    }
  }

  async get(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.caller.call({ verb: 'get', kind: 'Secret', namespace, name }, () =>
        this.core.readNamespacedSecret({ namespace, name }),
      );
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return undefined;
      throw e;
    }
  }

  async *list(namespace: string): AsyncGenerator<V1Secret[]> {
    const pages = listPages(
      this.caller,
      { verb: 'list', kind: 'Secret', namespace },
      (req) => this.core.listNamespacedSecret({ namespace, limit: req.limit, _continue: req._continue }),
      { pageSize: 250, sizeOf: (s: V1Secret) => 512 + JSON.stringify(s.data ?? {}).length },
    );
    for await (const page of pages) yield page.items;
  }

  create(namespace: string, body: V1Secret, dryRun: boolean): Promise<V1Secret> {
    return this.caller.call(
      { verb: 'create', kind: 'Secret', namespace, name: body.metadata?.name, detail: dryRun ? DRY : undefined },
      () => this.core.createNamespacedSecret({ namespace, body, ...(dryRun ? { dryRun: 'All' } : {}) }),
    );
  }

  replace(namespace: string, name: string, body: V1Secret, dryRun: boolean): Promise<V1Secret> {
    return this.caller.call({ verb: 'update', kind: 'Secret', namespace, name, detail: dryRun ? DRY : undefined }, () =>
      this.core.replaceNamespacedSecret({ namespace, name, body, ...(dryRun ? { dryRun: 'All' } : {}) }),
    );
  }

  async delete(
    namespace: string,
    name: string,
    preconditions: { uid?: string; resourceVersion?: string },
    dryRun: boolean,
  ): Promise<boolean> {
    try {
      await this.caller.call(
        { verb: 'delete', kind: 'Secret', namespace, name, detail: dryRun ? DRY : undefined },
        () => this.core.deleteNamespacedSecret({ namespace, name, body: { preconditions }, ...(dryRun ? { dryRun: 'All' } : {}) }),
        { idempotent: true },
      );
      return true;
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return false;
      throw e;
    }
  }
}
