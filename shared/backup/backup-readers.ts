import type { CoordinationV1Api } from '@kubernetes/client-node';
import { type KubeCaller, READING_ANNOTATION, readHeldLease } from '../kube/index.js';

/**
 * Which backups a running restore or drill is reading, so that retention and prune never delete
 * a backup under a reader. Readers record the id on their own Lease (`READING_ANNOTATION`)
 * while they hold it; a note on a Lease that expired or was released is no claim.
 *
 * Only Leases of the cluster that prunes are seen: a drill run from another cluster (a DR
 * site) reads the newest backup, which retention never deletes, or a backup named by id, which
 * is not protected across clusters (docs/threat-model.md).
 */

/** Jobs that read backups while holding their Lease (`secret-steward-<job>`). */
export const READER_JOBS = ['restore', 'verify-restore'] as const;

/** What a reader records on its Lease while reading backup `id`. */
export function readingNote(id: string): string {
  return id;
}

/** Backups being read now, with why they are kept (`being read by restore (pod r-1)`). */
export async function backupsBeingRead(
  kube: { coordination: CoordinationV1Api; caller: KubeCaller },
  namespace: string,
  now: Date,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const job of READER_JOBS) {
    const held = await readHeldLease(kube.coordination, kube.caller, { namespace, name: `secret-steward-${job}`, now });
    const id = held?.notes[READING_ANNOTATION];
    if (held !== undefined && id !== undefined) out.set(id, `being read by ${job} (${held.holder})`);
  }
  return out;
}
