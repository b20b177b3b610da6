import type { V1Secret } from '@kubernetes/client-node';

/** Annotation recording the ownerReferences a Secret had when it was backed up. */
export const OWNER_REFERENCES_ANNOTATION = 'secret-steward.io/backup-owner-references';

/** A Secret as stored in a backup: what `kubectl apply -f` needs to recreate it, nothing more. */
export interface ExportedSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  type: string;
  immutable?: boolean;
  data?: Record<string, string>;
}

/**
 * Strips what the API server populates (uid, resourceVersion, creationTimestamp, generation,
 * managedFields, selfLink, deletion fields) and ownerReferences: a restored object pointing at
 * an owner that does not exist in the target cluster would be garbage-collected. The owner
 * references are kept in an annotation for reference. `stringData` never comes back from the
 * API; data stays base64 as the API returns it.
 */
export function exportSecret(s: V1Secret): ExportedSecret {
  const md = s.metadata ?? {};
  const annotations = { ...(md.annotations ?? {}) };
  if (md.ownerReferences?.length) {
    annotations[OWNER_REFERENCES_ANNOTATION] = JSON.stringify(
      md.ownerReferences.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: o.controller })),
    );
  }
  const out: ExportedSecret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: md.name ?? '', namespace: md.namespace ?? '' },
    type: s.type ?? 'Opaque',
  };
  if (md.labels && Object.keys(md.labels).length > 0) out.metadata.labels = { ...md.labels };
  if (Object.keys(annotations).length > 0) out.metadata.annotations = annotations;
  if (md.finalizers?.length) out.metadata.finalizers = [...md.finalizers];
  if (s.immutable) out.immutable = true;
  if (s.data && Object.keys(s.data).length > 0) out.data = { ...s.data };
  return out;
}
