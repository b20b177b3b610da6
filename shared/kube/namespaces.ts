import type { CoreV1Api } from '@kubernetes/client-node';
import type { KubeCaller } from './kube-call.js';
import { DRY_RUN_DETAIL, isKubeError } from './kube-error.js';

/**
 * Where a namespace is in its life: `Active` takes new objects; `Terminating` (deleted, its
 * content being removed by the namespace controller) refuses every create with 403 until it is
 * gone; `missing` does not exist.
 */
export type NamespacePhase = 'Active' | 'Terminating' | 'missing';

/** The Namespace operations jobs need (only restore's target check and --create-namespaces so far). */
export interface NamespaceStore {
  /** The namespace's phase, as the API server reports it (`status.phase`; a deletionTimestamp counts as Terminating). */
  phase(name: string): Promise<NamespacePhase>;
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

  async phase(name: string): Promise<NamespacePhase> {
    try {
      const ns = await this.caller.call({ verb: 'get', kind: 'Namespace', name }, () => this.core.readNamespace({ name }));
      return ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp ? 'Terminating' : 'Active';
    } catch (e) {
      if (isKubeError(e, (k) => k.notFound)) return 'missing';
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
