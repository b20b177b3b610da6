import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { createKubeClients, KubeEventRecorder, loadKubeConfig, toolNamespace, withJobLock } from '../kube/index.js';
import { jobEventSubject } from '../kube/job-events.js';
import { epochSeconds, METRICS, type MetricSample, sample } from '../metrics/catalogue.js';
import { pushMetrics } from '../metrics/pushgateway.js';
import type { CommandContext } from '../runtime/command.js';
import { formatBytes, renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { createObjectStore } from '../storage/index.js';
import { readCatalogue } from './backup-catalog.js';
import { BackupLayout } from './backup-layout.js';
import { loadSealTrust } from './catalogue-settings.js';
import { deleteUnauthenticated, finishAbandonedDeletion, type PruneResult } from './prune.js';
import type { PruneSettings } from './prune-settings.js';
import { type RetentionPassDeps, retentionPass } from './retention-pass.js';
import { cleanUpAbandonedBackup } from './run-backup.js';

/** Versions of the `-o json` / `-o yaml` documents (the retention pass, --delete-unauthenticated); changes are listed in CHANGELOG.md. */
export const PRUNE_FORMAT = 'secret-steward.io/prune/v1';
export const PRUNE_UNAUTHENTICATED_FORMAT = 'secret-steward.io/prune-unauthenticated/v1';

/**
 * `secret-steward prune`: applies the retention rules to the authenticated backups (or prints
 * the decisions with --dry-run), or deletes named unauthenticated ones. Unless --offline it
 * holds the backup job's Lease (prune and backup never act at once) and keeps what readers hold.
 */
export async function runPruneJob(s: PruneSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const trust = await loadSealTrust(s, { now: ctx.clock.now() });
  const base: RetentionPassDeps = { store, layout, trust, log: ctx.log, clock: ctx.clock, checkpoint: () => ctx.shutdown.checkpoint() };

  if (s.offline) {
    ctx.log.warn('pruning offline: no Lease; a backup running meanwhile and readers of older backups are not seen');
    return act(s, ctx, base);
  }
  const kube = createKubeClients(loadKubeConfig(s, ctx.io.env), {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const namespace = toolNamespace(s);
  const events = new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity);
  // The backup job's Lease: prune and backup both change the catalogue, and a note either left
  // after being killed is finished by whichever runs next.
  return withJobLock('backup', s, kube, ctx, async (lock) => {
    if (!s.dryRun) {
      await cleanUpAbandonedBackup(lock.inherited, store, layout, ctx.log);
      await finishAbandonedDeletion(lock.inherited, store, layout, ctx.log);
    }
    return act(s, ctx, {
      ...base,
      cluster: { coordination: kube.coordination, caller: kube.caller, namespace },
      // Its Job (JOB_NAME), else the backup Lease it holds.
      events: { recorder: events, subject: jobEventSubject('backup', namespace, ctx.io.env, true) },
      inFlight: s.dryRun ? undefined : lock,
    });
  });
}

async function act(s: PruneSettings, ctx: CommandContext, deps: RetentionPassDeps): Promise<ExitCodeValue> {
  if (s.deleteUnauthenticated.length > 0) return deleteNamed(s, ctx, deps);
  const started = ctx.clock.now();
  let r: PruneResult;
  try {
    r = await retentionPass(deps, s, { dryRun: s.dryRun, incompleteGraceMs: s.incompleteGrace });
  } catch (e) {
    await pushPruneMetrics(s, ctx, started, undefined);
    throw e;
  }
  print(s, ctx, r);
  await pushPruneMetrics(s, ctx, started, r);
  return r.refused === undefined ? ExitCode.Success : ExitCode.Failed;
}

/**
 * The retention pass's gauges: whether it applied the rules (not refused, not failed), when it
 * last ran and succeeded, what it kept and deleted, and the unauthenticated backups it saw.
 * `r` is undefined when the pass failed.
 */
export function pruneMetrics(r: PruneResult | undefined, started: Date, now: Date): MetricSample[] {
  const m = METRICS.prune;
  const ok = r !== undefined && r.refused === undefined;
  const samples = [
    sample(m.success, ok ? 1 : 0),
    sample(m.lastRun, epochSeconds(now)),
    sample(m.duration, (now.getTime() - started.getTime()) / 1000),
  ];
  if (ok) samples.push(sample(m.lastSuccess, epochSeconds(now)));
  if (r === undefined) return samples;
  const deleting = r.decisions.filter((d) => !d.keep).length;
  samples.push(
    sample(m.backups, r.decisions.length - deleting, { decision: 'kept' }),
    sample(m.backups, r.deletedBackups, { decision: 'deleted' }),
    sample(m.deletedBytes, r.deletedBytes),
    sample(METRICS.unauthenticatedBackups, r.unauthenticated.filter((u) => !u.inProgress).length),
  );
  return samples;
}

/** Pushes after a real retention pass; a dry run changes nothing worth a metric. */
async function pushPruneMetrics(s: PruneSettings, ctx: CommandContext, started: Date, r: PruneResult | undefined): Promise<void> {
  if (s.pushgateway === undefined || s.dryRun) return;
  await pushMetrics(s.pushgateway, 'prune', s.clusterName, pruneMetrics(r, started, ctx.clock.now()), ctx.log);
}

async function deleteNamed(s: PruneSettings, ctx: CommandContext, deps: RetentionPassDeps): Promise<ExitCodeValue> {
  const catalogue = await readCatalogue(deps.store, deps.layout, deps.trust);
  const r = await deleteUnauthenticated(deps.store, deps.layout, catalogue, s.deleteUnauthenticated, { dryRun: s.dryRun, log: ctx.log });
  if (isDocumentOutput(s.output))
    ctx.io.stdout.write(renderDocument({ format: PRUNE_UNAUTHENTICATED_FORMAT, dryRun: s.dryRun, ...r }, s.output));
  else {
    ctx.io.stdout.write(
      renderTable(
        ['BACKUP', 'ACTION', 'WHY'],
        [
          ...r.deleted.map((d) => [d.id, s.dryRun ? 'delete (dry run)' : `deleted (${d.objects} objects)`, d.problem]),
          ...r.keptByStore.map((k) => [k.id, k.sealKept ? 'kept by the store' : 'partly deleted', k.reason]),
          ...r.refused.map((d) => [d.id, 'refused', d.why]),
        ],
      ),
    );
  }
  return r.refused.length === 0 ? ExitCode.Success : ExitCode.Failed;
}

function print(s: PruneSettings, ctx: CommandContext, r: PruneResult): void {
  if (isDocumentOutput(s.output)) {
    ctx.io.stdout.write(renderDocument({ format: PRUNE_FORMAT, dryRun: s.dryRun, ...r }, s.output));
    return;
  }
  const keptBy = new Map(r.keptByStore.map((k) => [k.id, k]));
  const action = (id: string, keep: boolean) => {
    if (keep) return 'keep';
    if (r.refused !== undefined) return 'keep (refused)';
    if (s.dryRun) return 'delete (dry run)';
    const kept = keptBy.get(id);
    return kept === undefined ? 'deleted' : kept.sealKept ? 'kept by the store' : 'partly deleted';
  };
  ctx.io.stdout.write(
    renderTable(
      ['BACKUP', 'KIND', 'ACTION', 'WHY'],
      [
        ...r.decisions.map((d) => [d.id, d.kind, action(d.id, d.keep), d.reasons.join('; ')]),
        ...r.unauthenticated.map((u) => [
          u.id,
          '-',
          'keep (not authenticated)',
          u.inProgress ? 'unsealed: may still be being written' : u.problem,
        ]),
      ],
    ),
  );
  const deleting = r.decisions.filter((d) => !d.keep).length;
  if (r.refused !== undefined) ctx.io.stdout.write(`Refused: ${r.refused}\n`);
  else if (s.dryRun)
    ctx.io.stdout.write(`Dry run: nothing deleted. Kept ${r.decisions.length - deleting}, would delete ${deleting} backup(s).\n`);
  else {
    ctx.io.stdout.write(
      `Kept ${r.decisions.length - deleting}, deleted ${r.deletedBackups} backup(s) (${formatBytes(r.deletedBytes)})` +
        `${r.keptByStore.length > 0 ? `; the store kept ${r.keptByStore.length} that retention would delete (a later run deletes them once it lets go)` : ''}.\n`,
    );
  }
  const reported = r.unauthenticated.filter((u) => !u.inProgress);
  if (reported.length > 0) {
    ctx.io.stdout.write(
      `${reported.length} backup(s) are not authenticated and were left alone; after checking them, remove them with --delete-unauthenticated ID.\n`,
    );
  }
}
