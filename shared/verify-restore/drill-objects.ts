import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { ExportedSecret } from '../backup/secret-export.js';
import { isDnsSubdomain } from '../kube/object-names.js';

/** Label on every drill object; its value is the drill's id, so leftovers can be found and removed by label. */
export const DRILL_LABEL = 'secret-steward.io/drill';
/**
 * Label naming the batch (1, 2, ...) a drill object was created in: the drill reads a batch
 * back with one list by `drill=<id>,drill-batch=<n>`.
 */
export const DRILL_BATCH_LABEL = 'secret-steward.io/drill-batch';
/** Annotation naming the Secret a drill object is a copy of (`namespace/name`) and the backup it came from. */
export const DRILL_SOURCE_ANNOTATION = 'secret-steward.io/drill-source';
export const DRILL_BACKUP_ANNOTATION = 'secret-steward.io/drill-backup';

const PREFIX = 'drill-';

/** A drill id usable in names and as a label value: lower-case letters and digits, at most 16. */
export function drillIdFrom(runId: string): string {
  const id = runId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 16);
  return id === '' ? 'x' : id;
}

/**
 * The name of the drill copy of Secret `namespace/name`: `drill-<drillId>.<namespace>.<name>`.
 * A namespace never contains a dot, so different Secrets never get the same name. When that
 * would be longer than 253 characters or not a valid name (a malformed source), the copy is
 * named `drill-<drillId>.<SHA-256 of "namespace/name" in 64 hex digits>` instead: 64 characters
 * are more than a namespace may have, so a hashed name can never equal a readable one.
 */
export function drillObjectName(drillId: string, namespace: string, name: string): string {
  const readable = `${PREFIX}${drillId}.${namespace}.${name}`;
  if (isDnsSubdomain(readable) && !namespace.includes('.') && namespace.length > 0 && namespace.length <= 63) return readable;
  return `${PREFIX}${drillId}.${createHash('sha256').update(`${namespace}/${name}`).digest('hex')}`;
}

/** Which drill objects a label selector picks out. */
export type DrillObjects =
  /** Every drill object, of any drill (leftovers of interrupted drills, before a drill starts). */
  | { all: true }
  /** Every object of drill `drillId`. */
  | { drillId: string; batch?: undefined }
  /** The objects of one batch of drill `drillId`. */
  | { drillId: string; batch: number };

/**
 * The label selector for `which`: `secret-steward.io/drill`, `secret-steward.io/drill=<id>` or
 * `secret-steward.io/drill=<id>,secret-steward.io/drill-batch=<n>`. Unlabelled Secrets in the
 * drill namespace never match, so nothing but drill objects is ever listed or deleted.
 */
export function drillSelector(which: DrillObjects): string {
  if ('all' in which) return DRILL_LABEL;
  return which.batch === undefined
    ? `${DRILL_LABEL}=${which.drillId}`
    : `${DRILL_LABEL}=${which.drillId},${DRILL_BATCH_LABEL}=${which.batch}`;
}

/**
 * Bytes a Secret's data takes as sent to and returned by the API server (base64 values plus
 * keys): what bounds a drill batch.
 */
export function drillDataBytes(s: Pick<ExportedSecret, 'data'>): number {
  let n = 0;
  for (const [k, v] of Object.entries(s.data ?? {})) n += k.length + v.length;
  return n;
}

/**
 * The drill copy of a backed-up Secret: the same type, immutability and data, in the drill
 * namespace, labelled as a drill object of batch `batch`. The source's own labels and annotations are NOT
 * copied: a copy that carried them could be picked up by controllers in the drill namespace
 * (External Secrets, cert-manager, reloaders). They are checked offline by the validity check.
 */
export function drillCopy(s: ExportedSecret, o: { drillId: string; drillNamespace: string; backupId: string; batch: number }): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: drillObjectName(o.drillId, s.metadata.namespace, s.metadata.name),
      namespace: o.drillNamespace,
      labels: { [DRILL_LABEL]: o.drillId, [DRILL_BATCH_LABEL]: String(o.batch), 'app.kubernetes.io/managed-by': 'secret-steward' },
      annotations: { [DRILL_SOURCE_ANNOTATION]: `${s.metadata.namespace}/${s.metadata.name}`, [DRILL_BACKUP_ANNOTATION]: o.backupId },
    },
    type: s.type,
    ...(s.immutable ? { immutable: true } : {}),
    ...(s.data !== undefined ? { data: { ...s.data } } : {}),
  };
}

/**
 * Differences between what the backup holds and what the API server returned for its copy,
 * byte for byte on the decoded data (so base64 formatting cannot hide or fake a difference).
 * Equal base64 text is equal data, so values are only decoded when their text differs (the
 * API server writes canonical base64, so in practice never when they match). Names keys,
 * never values. Empty when identical.
 */
export function compareRestored(expected: ExportedSecret, got: V1Secret): string[] {
  const diffs: string[] = [];
  if ((got.type ?? 'Opaque') !== expected.type) diffs.push(`type is ${got.type ?? 'Opaque'}, expected ${expected.type}`);
  if ((got.immutable ?? false) !== (expected.immutable ?? false))
    diffs.push(`immutable is ${got.immutable ?? false}, expected ${expected.immutable ?? false}`);
  const want = expected.data ?? {};
  const have = got.data ?? {};
  for (const key of Object.keys(want)) {
    if (!Object.hasOwn(have, key)) diffs.push(`data key "${key}" is missing`);
    else if (want[key] !== have[key] && !Buffer.from(want[key], 'base64').equals(Buffer.from(have[key], 'base64')))
      diffs.push(`data key "${key}" differs`);
  }
  for (const key of Object.keys(have)) if (!Object.hasOwn(want, key)) diffs.push(`data key "${key}" is extra`);
  return diffs;
}
