import type { V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import type { SecretStore } from '../kube/secrets.js';
import { type ReferenceUse, type Referrer, referenceRefusal } from './allow-references.js';
import { PREFIX } from './metadata.js';
import { RotationError } from './rotation-error.js';
import { decodeData } from './values.js';

/**
 * Small accessors for Secrets as rotation reads them: their labels and annotations (listed
 * metadata or full objects alike), the ones that are not ours, their data as maps of keys to
 * values, and the ownerReference that ties a companion to its Secret.
 */

/** The parts of a Secret rotation reads: a listed Secret has `metadata` only, a read one everything. */
export interface SecretView {
  metadata?: V1ObjectMeta;
  type?: string;
  immutable?: boolean;
  data?: Record<string, string>;
}

export const annotationsOf = (s: SecretView | undefined): Record<string, string> => s?.metadata?.annotations ?? {};
export const labelsOf = (s: SecretView | undefined): Record<string, string> => s?.metadata?.labels ?? {};

/** `values` restricted to `keys`. */
export function pick(values: ReadonlyMap<string, Buffer>, keys: Iterable<string>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const k of keys) {
    const v = values.get(k);
    if (v !== undefined) out.set(k, v);
  }
  return out;
}

/** `base` with `over` written on top. */
export function overlay(base: ReadonlyMap<string, Buffer>, over: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
  const out = new Map(base);
  for (const [k, v] of over) out.set(k, v);
  return out;
}

/** Annotations of `s` that are not ours (and not kubectl's last-applied copy, which would be stale). */
export function foreignAnnotations(s: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotationsOf(s))) {
    if (k.startsWith(PREFIX) || k === 'kubectl.kubernetes.io/last-applied-configuration') continue;
    out[k] = v;
  }
  return out;
}

/** Labels of `s` that are not ours. */
export function foreignLabels(s: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsOf(s))) if (!k.startsWith(PREFIX)) out[k] = v;
  return out;
}

/**
 * True when `s` is owned by exactly this `head` (its uid): a companion owned by an earlier Secret
 * of the same name is deleted by the garbage collector, since that owner is gone.
 */
export function isOwnedBy(s: V1Secret | { metadata?: V1ObjectMeta }, head: V1Secret): boolean {
  const uid = head.metadata?.uid;
  return uid !== undefined && (s.metadata?.ownerReferences ?? []).some((o) => o.uid === uid);
}

/** The ownerReference that makes a companion go away with its Secret. */
export function ownerRefTo(head: V1Secret): NonNullable<V1Secret['metadata']>['ownerReferences'] {
  const uid = head.metadata?.uid;
  if (!uid) return undefined;
  return [{ apiVersion: 'v1', kind: 'Secret', name: head.metadata!.name!, uid, controller: false, blockOwnerDeletion: false }];
}

/** Who reads a referenced Secret: the Secret whose policy names it, and what the policy declared. */
export interface PolicyReferrer extends Referrer {
  namespace: string;
  /** The policy's declared references (`RotationPolicy.references`). */
  references: ReadonlyArray<{ secret: string; use: ReferenceUse }>;
}

/**
 * The one way plug-ins read another Secret (a CA, an admin credential): the Secret `name` of
 * the referrer's namespace, for `use`. Undefined when it does not exist. The read must be one
 * the policy declared, and the Secret must allow it (`secret-steward.io/allow-references`,
 * judged from the same GET); otherwise a RotationError (`policy`) names both Secrets and the
 * annotation to add, and the data is neither decoded, registered nor returned. Values returned
 * are registered with the redactor.
 */
export async function readReferencedSecret(
  deps: { secrets: Pick<SecretStore, 'get'>; register(value: string | Uint8Array): void },
  referrer: PolicyReferrer,
  name: string,
  use: ReferenceUse,
): Promise<Map<string, Buffer> | undefined> {
  const { namespace } = referrer;
  if (!referrer.references.some((r) => r.secret === name && r.use === use)) {
    // A plug-in bug, not the user's: every read must be declared, so the scan checks it early.
    throw new Error(
      `Secret ${namespace}/${referrer.name}: a plug-in read Secret ${namespace}/${name} as ${use} without declaring it in its references`,
    );
  }
  const s = await deps.secrets.get(namespace, name);
  if (s === undefined) return undefined;
  const refusal = referenceRefusal({ namespace, name, annotations: s.metadata?.annotations }, referrer, use);
  if (refusal !== undefined) throw new RotationError('policy', refusal);
  const data = decodeData(s.data);
  for (const v of data.values()) deps.register(v);
  return data;
}
