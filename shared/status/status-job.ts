import { BackupLayout } from '../backup/backup-layout.js';
import { loadSealTrust } from '../backup/catalogue-settings.js';
import { discoverFleet } from '../backup/fleet-discovery.js';
import { loadTrustedSignerKeys } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { createKubeClients, loadKubeConfig } from '../kube/client.js';
import { namespacesToList, scopeOf } from '../kube/scope.js';
import { KubeSecretStore } from '../kube/secrets.js';
import { KubeWorkloadStore } from '../kube/workloads.js';
import type { CommandContext } from '../runtime/command.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { createObjectStore } from '../storage/index.js';
import { collectBackupOverview } from './backup-status.js';
import { collectFollowStatus } from './follow-status.js';
import { collectKeyStatus } from './key-status.js';
import { collectRotationStatus } from './rotation-status.js';
import { buildStatusReport, type FleetDiscoveryStatus, renderStatus, type StatusReport } from './status-report.js';
import type { StatusSettings } from './status-settings.js';

/**
 * `secret-steward status`: collects rotation policies (cluster), backups and drills (store,
 * when given) and key expiry (key files), applies the overdue rules, prints the overview and
 * returns 1 when anything is overdue. Reads only: no Lease, no Event, no write anywhere.
 */
export async function runStatusJob(s: StatusSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const now = ctx.clock.now();
  const keys = collectKeyStatus({ recipient: s.recipientKey, signer: s.trustedSignerKey }, { now, warnWithinMs: s.keyExpiryWarning });
  const scope = scopeOf(s);
  const namespaces = namespacesToList(s.namespace, scope);
  const kc = loadKubeConfig(s, ctx.io.env);
  const kube = createKubeClients(kc, {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const rotation = collectRotationStatus(
    {
      secrets: new KubeSecretStore(kube.core, kube.caller),
      workloads: new KubeWorkloadStore(kube.apps, kube.batch, kube.core, kube.caller, kc, {
        custom: kube.custom,
        onNote: (m) => ctx.log.warn({}, m),
      }),
    },
    { namespaces, selector: s.selector, now, graceMs: s.rotationGrace },
  );
  const followed = collectFollowStatus(
    {
      secrets: new KubeSecretStore(kube.core, kube.caller),
      workloads: new KubeWorkloadStore(kube.apps, kube.batch, kube.core, kube.caller),
    },
    { namespaces, selector: s.selector },
  );
  let backups: Promise<StatusReport['backups']> = Promise.resolve(undefined);
  let fleet: Promise<StatusReport['fleet']> = Promise.resolve(undefined);
  let fleetDiscovery: FleetDiscoveryStatus | undefined;
  let clusters = s.fleetCluster.length > 0 ? s.fleetCluster : s.clusterName === undefined ? [] : [s.clusterName];
  if (s.store !== undefined && (clusters.length > 0 || s.fleetDiscover)) {
    const store = createObjectStore({ ...s, store: s.store }, { clock: ctx.clock, log: ctx.log });
    if (s.fleetDiscover) {
      const found = await discoverFleet(store, s.fleetAllow);
      clusters = found.clusters;
      fleetDiscovery = { location: store.location, allow: [...s.fleetAllow], ignored: found.ignored };
    }
    const [trust, drillSigners] = await Promise.all([
      loadSealTrust(s, { now }),
      loadTrustedSignerKeys(s.drillSignerKey, { setting: '--drill-signer-key / SECRET_STEWARD_DRILL_SIGNER_KEY', windows: false }),
    ]);
    const overview = (cluster: string) =>
      collectBackupOverview(store, new BackupLayout(cluster), {
        now,
        trust,
        drillSigners,
        incompleteGraceMs: s.incompleteGrace,
        limit: s.backups,
        freshness:
          s.backupSchedule === undefined
            ? undefined
            : { schedule: s.backupSchedule, timeZone: s.backupTimezone, graceMs: s.freshnessGrace },
        drillMaxAgeMs: s.drillMaxAge,
        deepCheckCycleMs: s.deepCheckCycle,
      }).then((b) => ({ cluster, ...b }));
    // A fleet's clusters one after another: each reads its catalogue and reports.
    if (s.fleetCluster.length > 0 || s.fleetDiscover)
      fleet = (async () => {
        const out: NonNullable<StatusReport['fleet']> = [];
        for (const c of clusters) out.push(await overview(c));
        return out;
      })();
    else backups = overview(clusters[0]);
  }
  // Settle all of them before judging, so that one failure does not leave the others unobserved.
  const [k, r, b, f, fo] = await Promise.allSettled([keys, rotation, backups, fleet, followed]);
  for (const x of [k, r, b, f, fo]) if (x.status === 'rejected') throw x.reason;
  const follows = (fo as PromiseFulfilledResult<Awaited<typeof followed>>).value;
  const report = buildStatusReport({
    now,
    scope,
    rotation: {
      graceMs: s.rotationGrace,
      namespaces,
      ...(s.selector ? { selector: s.selector } : {}),
      secrets: (r as PromiseFulfilledResult<Awaited<typeof rotation>>).value,
      ...(follows.length > 0 ? { followed: follows } : {}),
    },
    backups: (b as PromiseFulfilledResult<StatusReport['backups']>).value,
    fleet: (f as PromiseFulfilledResult<StatusReport['fleet']>).value,
    ...(fleetDiscovery ? { fleetDiscovery } : {}),
    keys: (k as PromiseFulfilledResult<Awaited<typeof keys>>).value,
  });
  ctx.log.info(
    {
      overdue: report.overdue,
      problems: report.problems.map((p) => p.kind),
      warnings: report.warnings.length,
      policies: report.rotation.secrets.length,
    },
    'status collected',
  );
  const color = s.color === 'always' || (s.color === 'auto' && isTerminal(ctx.io.stdout) && !ctx.io.env.NO_COLOR);
  ctx.io.stdout.write(isDocumentOutput(s.output) ? renderDocument(report, s.output) : renderStatus(report, { color }));
  return report.overdue ? ExitCode.Failed : ExitCode.Success;
}

function isTerminal(out: unknown): boolean {
  return (out as { isTTY?: boolean }).isTTY === true;
}
