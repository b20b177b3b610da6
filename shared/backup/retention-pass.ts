import type { CoordinationV1Api } from '@kubernetes/client-node';
import type { EventRecorder, EventSubject, KubeCaller } from '../kube/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { ObjectStore } from '../storage/index.js';
import { readCatalogue } from './backup-catalog.js';
import type { BackupLayout } from './backup-layout.js';
import { backupsBeingRead } from './backup-readers.js';
import type { SealTrust } from './backup-seal.js';
import { type PruneResult, pruneBackups } from './prune.js';
import { preRestorePolicyOf, type RetentionSettings, retentionPolicyOf } from './retention-settings.js';

/** What a retention pass needs besides the store: who to trust, and the cluster when there is one. */
export interface RetentionPassDeps {
  store: ObjectStore;
  layout: BackupLayout;
  trust: SealTrust;
  log: Logger;
  clock: Clock;
  /** The cluster, to see which backups readers hold (their Leases in `namespace`); none when pruning offline. */
  cluster?: { coordination: CoordinationV1Api; caller: KubeCaller; namespace: string };
  /** Where unauthenticated backups are reported as an Event. */
  events?: { recorder: EventRecorder; subject: EventSubject };
  /** The job's Lease: notes the backup being deleted. */
  inFlight?: { record(note: string | undefined): Promise<void> };
  checkpoint?: () => void;
}

/**
 * One retention pass, the same for `backup` (after a successful backup) and `prune`: reads the
 * catalogue with the trusted keys, keeps what must not go (the caller's own backup, every
 * backup a restore or drill in this cluster is reading), applies the rules to the authenticated
 * backups, and reports the rest (log lines, one Event) without touching it.
 */
export async function retentionPass(
  deps: RetentionPassDeps,
  s: RetentionSettings,
  o: { dryRun: boolean; protect?: ReadonlyMap<string, string>; incompleteGraceMs: number },
): Promise<PruneResult> {
  const now = deps.clock.now();
  const [catalogue, reading] = await Promise.all([
    readCatalogue(deps.store, deps.layout, deps.trust),
    deps.cluster ? backupsBeingRead(deps.cluster, deps.cluster.namespace, now) : Promise.resolve(new Map<string, string>()),
  ]);
  const protect = new Map([...reading, ...(o.protect ?? [])]);
  const result = await pruneBackups(deps.store, deps.layout, catalogue, retentionPolicyOf(s), {
    now,
    dryRun: o.dryRun,
    log: deps.log,
    preRestore: preRestorePolicyOf(s),
    protect,
    maxDeleteShare: s.maxDeleteShare,
    incompleteGraceMs: o.incompleteGraceMs,
    inFlight: deps.inFlight,
    checkpoint: deps.checkpoint,
  });
  const reported = [
    ...result.unauthenticated.filter((u) => !u.inProgress).map((u) => `${u.id} (${u.problem})`),
    ...result.strays.map((key) => `${key} (belongs to no backup id)`),
  ];
  if (deps.events && reported.length > 0) {
    const listed = reported.slice(0, 5);
    await deps.events.recorder.record({
      subject: deps.events.subject,
      type: 'Warning',
      reason: 'UnauthenticatedBackups',
      message:
        `${reported.length} backup(s) or object(s) under ${deps.layout.backupsPrefix()} are not authenticated; kept, never deleted automatically: ` +
        `${listed.join('; ')}${reported.length > 5 ? '; ...' : ''}`,
      action: 'Prune',
    });
  }
  return result;
}
