import type { V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import type { SecretStore } from '../kube/secrets.js';
import { PREFIX } from './metadata.js';
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

/** The ownerReference that makes a companion go away with its Secret. */
export function ownerRefTo(head: V1Secret): NonNullable<V1Secret['metadata']>['ownerReferences'] {
  const uid = head.metadata?.uid;
  if (!uid) return undefined;
  return [{ apiVersion: 'v1', kind: 'Secret', name: head.metadata!.name!, uid, controller: false, blockOwnerDeletion: false }];
}

/** Reads a Secret's data (undefined when it does not exist), registering its values with the redactor. */
export async function readSecretData(
  deps: { secrets: Pick<SecretStore, 'get'>; register(value: string | Uint8Array): void },
  namespace: string,
  name: string,
): Promise<Map<string, Buffer> | undefined> {
  const s = await deps.secrets.get(namespace, name);
  if (s === undefined) return undefined;
  const data = decodeData(s.data);
  for (const v of data.values()) deps.register(v);
  return data;
}
