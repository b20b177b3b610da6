import { type CoreV1Api, PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../log/index.js';
import type { KubeCaller } from './kube-call.js';
import { KubeError } from './kube-error.js';
import { type ListPage, listMetadataPages, listPages, type MetadataOnly } from './list-pages.js';

/**
 * A Secret as a metadata-only list returns it: name, namespace, labels, annotations,
 * ownerReferences, uid, resourceVersion, creationTimestamp. NOT its data, `type` or
 * `immutable`: whatever depends on those needs {@link SecretStore.get}.
 */
export type SecretMetadata = MetadataOnly;

/** Metadata changes for {@link SecretStore.patchMetadata}: a value sets, `null` removes. */
export interface MetadataPatch {
  /** Precondition: the write fails with 409 Conflict unless the Secret still has this resourceVersion. */
  resourceVersion: string;
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/**
 * The Secret operations jobs need, as a narrow seam in front of the API. Every write is
 * guarded: `replace` and `patchMetadata` by resourceVersion (409 when stale), `delete` by
 * optional uid/resourceVersion preconditions. Failures are {@link KubeError}s naming the
 * operation and the Secret, never its data.
 */
export interface SecretStore {
  /** Pages of Secrets in `namespace` (every namespace when undefined), memory bounded by page. */
  list(namespace: string | undefined, options?: { labelSelector?: string; pageSize?: number }): AsyncGenerator<ListPage<V1Secret>>;
  /**
   * Pages of Secrets' metadata only (`as=PartialObjectMetadataList`): no value leaves the API
   * server, and a page of thousands of Secrets costs a few MiB. Same pagination and 410 restart
   * as {@link list}; `fieldSelector` may name `type` (`type!=helm.sh/release.v1`).
   */
  listMetadata(
    namespace: string | undefined,
    options?: { labelSelector?: string; fieldSelector?: string; pageSize?: number },
  ): AsyncGenerator<ListPage<SecretMetadata>>;
  /** The Secret, or undefined when it does not exist. */
  get(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** Creates a Secret; fails with AlreadyExists (409) when the name is taken. */
  create(namespace: string, body: V1Secret): Promise<V1Secret>;
  /** Replaces a Secret (PUT); `body.metadata.resourceVersion` is required and is the precondition. */
  replace(namespace: string, name: string, body: V1Secret): Promise<V1Secret>;
  /** JSON merge patch of labels and annotations only, guarded by resourceVersion. */
  patchMetadata(namespace: string, name: string, patch: MetadataPatch): Promise<V1Secret>;
  /** Deletes a Secret; false when it was already gone. Preconditions fail with 409. */
  delete(namespace: string, name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<boolean>;
}

/** Rough bytes of a Secret, for adapting list page sizes. */
function sizeOfSecret(s: V1Secret): number {
  let n = 512;
  for (const v of Object.values(s.data ?? {})) n += v.length;
  for (const v of Object.values(s.metadata?.annotations ?? {})) n += v.length;
  return n;
}

/** {@link SecretStore} on the Kubernetes API through a {@link KubeCaller} (retries, error conversion). */
export class KubeSecretStore implements SecretStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly caller: KubeCaller,
    /** Warns when a metadata-only list was answered with full objects. */
    private readonly log?: Logger,
  ) {}

  list(namespace: string | undefined, options: { labelSelector?: string; pageSize?: number } = {}): AsyncGenerator<ListPage<V1Secret>> {
    const op = { verb: 'list', kind: 'Secret', namespace };
    return listPages<V1Secret>(
      this.caller,
      op,
      (req) =>
        namespace === undefined
          ? this.core.listSecretForAllNamespaces({ limit: req.limit, _continue: req._continue, labelSelector: options.labelSelector })
          : this.core.listNamespacedSecret({ namespace, limit: req.limit, _continue: req._continue, labelSelector: options.labelSelector }),
      { pageSize: options.pageSize, sizeOf: sizeOfSecret },
    );
  }

  listMetadata(
    namespace: string | undefined,
    options: { labelSelector?: string; fieldSelector?: string; pageSize?: number } = {},
  ): AsyncGenerator<ListPage<SecretMetadata>> {
    const op = { verb: 'list', kind: 'Secret', namespace };
    const { labelSelector, fieldSelector } = options;
    let warned = false;
    return listMetadataPages(
      this.caller,
      op,
      (req, callOptions) =>
        namespace === undefined
          ? this.core.listSecretForAllNamespaces({ limit: req.limit, _continue: req._continue, labelSelector, fieldSelector }, callOptions)
          : this.core.listNamespacedSecret(
              { namespace, limit: req.limit, _continue: req._continue, labelSelector, fieldSelector },
              callOptions,
            ),
      {
        pageSize: options.pageSize,
        onFullList: () => {
          if (warned) return;
          warned = true;
          this.log?.warn(
            { namespace: namespace ?? '(all)' },
            'the API server answered a metadata-only list of Secrets with full Secrets (a proxy in between?): only their metadata is kept, but every value was sent and memory is higher',
          );
        },
      },
    );
  }

  async get(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.caller.call({ verb: 'get', kind: 'Secret', namespace, name }, () =>
        this.core.readNamespacedSecret({ namespace, name }),
      );
    } catch (e) {
      if (e instanceof KubeError && e.notFound) return undefined;
      throw e;
    }
  }

  create(namespace: string, body: V1Secret): Promise<V1Secret> {
    const name = body.metadata?.name;
    return this.caller.call({ verb: 'create', kind: 'Secret', namespace, name }, () =>
      this.core.createNamespacedSecret({ namespace, body }),
    );
  }

  replace(namespace: string, name: string, body: V1Secret): Promise<V1Secret> {
    if (!body.metadata?.resourceVersion) throw new Error(`replace Secret ${namespace}/${name}: a resourceVersion precondition is required`);
    return this.caller.call(
      { verb: 'update', kind: 'Secret', namespace, name },
      () => this.core.replaceNamespacedSecret({ namespace, name, body }),
      // Guarded by resourceVersion: a repeat after an unknown outcome fails with 409 instead of writing twice.
      { idempotent: true },
    );
  }

  patchMetadata(namespace: string, name: string, patch: MetadataPatch): Promise<V1Secret> {
    const metadata: Record<string, unknown> = { resourceVersion: patch.resourceVersion };
    if (patch.labels !== undefined) metadata.labels = patch.labels;
    if (patch.annotations !== undefined) metadata.annotations = patch.annotations;
    return this.caller.call(
      { verb: 'patch', kind: 'Secret', namespace, name },
      () =>
        this.core.patchNamespacedSecret(
          { namespace, name, body: { metadata } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      { idempotent: true },
    );
  }

  async delete(namespace: string, name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<boolean> {
    try {
      await this.caller.call(
        { verb: 'delete', kind: 'Secret', namespace, name },
        () => this.core.deleteNamespacedSecret({ namespace, name, body: preconditions ? { preconditions } : undefined }),
        { idempotent: true },
      );
      return true;
    } catch (e) {
      if (e instanceof KubeError && e.notFound) return false;
      throw e;
    }
  }
}
