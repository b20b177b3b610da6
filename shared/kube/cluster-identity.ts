import type { CoreV1Api } from '@kubernetes/client-node';
import type { KubeCaller } from './kube-call.js';
import { KubeError } from './kube-error.js';

/**
 * The cluster's identity: the UID of its kube-system namespace. Every cluster has that
 * namespace from its first start until it is torn down, and its UID is chosen by the API
 * server, so unlike a cluster name it cannot be reused by accident (two clusters given the same
 * `--cluster-name`) and a restored or copied backup still says which cluster wrote it.
 * Needs `get` on namespaces/kube-system.
 */
export async function readClusterUid(core: CoreV1Api, caller: KubeCaller): Promise<string> {
  try {
    const ns = await caller.call({ verb: 'get', kind: 'Namespace', name: 'kube-system' }, () =>
      core.readNamespace({ name: 'kube-system' }),
    );
    const uid = ns.metadata?.uid;
    if (!uid) throw new Error('namespace kube-system has no uid');
    return uid;
  } catch (e) {
    if (e instanceof KubeError) {
      const detail = '(its UID binds backups to this cluster)';
      throw new KubeError(
        { ...e.op, detail },
        { status: e.status, reason: e.reason, retryAfterMs: e.retryAfterMs, fields: e.fields, causes: e.causes, cause: e },
      );
    }
    throw e;
  }
}
