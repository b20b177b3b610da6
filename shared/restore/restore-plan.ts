import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { secretDataDigest } from '../backup/secret-digest.js';
import { type ExportedSecret, exportSecret } from '../backup/secret-export.js';

/**
 * - `create`: the Secret does not exist in the target namespace;
 * - `overwrite`: it exists with other content (--mode overwrite); replaced in place, guarded by
 *   the resourceVersion that the pre-restore backup saved;
 * - `recreate`: it exists, is immutable or has another type, and --recreate-immutable was
 *   given: deleted (guarded by uid and resourceVersion) and created again;
 * - `unchanged`: it exists with exactly the backed-up content: nothing to do;
 * - `skip`: not restored, `reason` says why.
 */
export type RestoreAction = 'create' | 'overwrite' | 'recreate' | 'unchanged' | 'skip';

/** What happened to a planned Secret: written, would be written (dry run), left alone, failed. */
export type RestoreOutcome = 'pending' | 'done' | 'would' | 'skipped' | 'failed';

export interface LiveFacts {
  resourceVersion: string;
  uid: string;
  type: string;
  immutable: boolean;
  contentSha256: string;
}

export interface PlannedSecret {
  source: { namespace: string; name: string };
  target: { namespace: string; name: string };
  type: string;
  immutable: boolean;
  /**
   * {@link contentDigest} of the backed-up Secret. (The SHA-256 of its data, which the written
   * object is checked against, travels with the Secret in the restore's spool.)
   */
  contentSha256: string;
  segment: number;
  /** Problems that make the API reject it (it is skipped). */
  invalid?: string[];
  /** Problems the API does not check (restored anyway, reported). */
  contentWarnings?: string[];
  live?: LiveFacts;
  action: RestoreAction;
  reason?: string;
  outcome: RestoreOutcome;
  message?: string;
}

export const WRITE_ACTIONS: ReadonlySet<RestoreAction> = new Set(['create', 'overwrite', 'recreate']);

/**
 * What makes two Secrets "the same" for a restore: labels, annotations, finalizers, type,
 * immutability and data (by {@link secretDataDigest}, so base64 formatting does not matter).
 * Not the name or namespace (namespaces may be mapped) and nothing the API server populates.
 * `dataSha256`: the data's digest when the caller has it already (a backed-up Secret's, checked
 * against the index as it was read), so the data is not hashed again.
 */
export function contentDigest(s: ExportedSecret, dataSha256: string = secretDataDigest(s.data)): string {
  const sorted = (m: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canonical = {
    labels: sorted(s.metadata.labels),
    annotations: sorted(s.metadata.annotations),
    finalizers: [...(s.metadata.finalizers ?? [])],
    type: s.type,
    immutable: s.immutable ?? false,
    data: dataSha256,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export function liveFacts(s: V1Secret): LiveFacts {
  return {
    resourceVersion: s.metadata?.resourceVersion ?? '',
    uid: s.metadata?.uid ?? '',
    type: s.type ?? 'Opaque',
    immutable: s.immutable ?? false,
    contentSha256: contentDigest(exportSecret(s)),
  };
}

/**
 * Decides what to do with one Secret, given what is live in the target namespace (undefined:
 * nothing). Pure: the restore's whole policy in one place.
 */
export function decideAction(
  p: Pick<PlannedSecret, 'type' | 'contentSha256' | 'invalid'>,
  live: LiveFacts | undefined,
  o: { mode: 'create-missing' | 'overwrite'; recreateImmutable: boolean; neverRestoredTypes: readonly string[] },
): { action: RestoreAction; reason?: string } {
  if (o.neverRestoredTypes.includes(p.type))
    return { action: 'skip', reason: `${p.type} Secrets are never restored (their controller issues them)` };
  if (p.invalid && p.invalid.length > 0) return { action: 'skip', reason: `the API server would reject it: ${p.invalid.join('; ')}` };
  if (live === undefined) return { action: 'create' };
  if (live.contentSha256 === p.contentSha256) return { action: 'unchanged', reason: 'the live Secret already has the backed-up content' };
  if (o.mode === 'create-missing') return { action: 'skip', reason: 'exists (--mode create-missing never touches an existing Secret)' };
  const why = live.immutable
    ? 'the live Secret is immutable'
    : live.type !== p.type
      ? `the live Secret has type ${live.type}, the backup ${p.type} (type cannot change in place)`
      : undefined;
  if (why === undefined) return { action: 'overwrite' };
  if (o.recreateImmutable) return { action: 'recreate', reason: `${why}: deleted and created again` };
  return { action: 'skip', reason: `${why}; give --recreate-immutable to delete and recreate it` };
}
