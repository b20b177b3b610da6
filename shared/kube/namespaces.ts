import type { CoreV1Api } from '@kubernetes/client-node';
import type { KubeCaller } from './kube-call.js';
import { DRY_RUN_DETAIL, isKubeError } from './kube-error.js';

/** The Namespace operations jobs need (only restore's --create-namespaces so far). */
export interface NamespaceStore {
  exists(name: string): Promise<boolean>;
  /**
   * Creates a Namespace; one that exists already is fine. Not retried after a 5xx or a lost
   * connection (the KubeError says `outcomeUnknown`). With `dryRun`, sent with `dryRun=All`.
   */
  create(name: string, options?: { labels?: Record<string, string>; dryRun?: boolean }): Promise<void>;
}

/** {@link NamespaceStore} on the Kubernetes API through a {@link KubeCaller}. */
export class KubeNamespaceStore implements NamespaceStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
  ) {}

  async exists(name: string): Promise<boolean> {
    try {
      await this.caller.call({ verb: 'get', kind: 'Namespace', name }, () => this.core.readNamespace({ name }));
      return true;
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return false;
      throw e;
    }
  }

  async create(name: string, options: { labels?: Record<string, string>; dryRun?: boolean } = {}): Promise<void> {
    try {
      await this.caller.call({ verb: 'create', kind: 'Namespace', name, detail: options.dryRun ? DRY_RUN_DETAIL : undefined }, () =>
        this.core.createNamespace({
          body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(options.labels ? { labels: options.labels } : {}) } },
          ...(options.dryRun ? { dryRun: 'All' } : {}),
        }),
      );
    } catch (e) {
      if (!isKubeError(e, (k) => k.alreadyExists)) throw e;
    }
  }
}
