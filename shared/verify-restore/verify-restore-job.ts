import { BackupLayout } from '../backup/backup-layout.js';
import { readingNote } from '../backup/backup-readers.js';
import { loadSealTrust } from '../backup/catalogue-settings.js';
import { discoverFleet, ignoredPrefixesNote } from '../backup/fleet-discovery.js';
import { problemFor } from '../config/parse.js';
import { type KeyWarning, loadRecipientKeys, loadSigningKey } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { ConfigError, errorText, exitCodeFor, InterruptedError } from '../errors/index.js';
import {
  createKubeClients,
  KubeCaller,
  KubeEventRecorder,
  KubeSecretStore,
  loadKubeConfig,
  READING_ANNOTATION,
  toolNamespace,
  withJobLock,
} from '../kube/index.js';
import { jobEventSubject } from '../kube/job-events.js';
import { epochSeconds, type KeyRole, keyExpirySamples, METRICS, type MetricSample, sample } from '../metrics/catalogue.js';
import { pushMetrics } from '../metrics/pushgateway.js';
import type { CommandContext } from '../runtime/command.js';
import { renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { Progress } from '../runtime/progress.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { KubeDrillNamespace } from './drill-namespace.js';
import { drillIdFrom } from './drill-objects.js';
import { type DrillReport, renderDrillReport, type StoredReport, storeDrillReport } from './drill-report.js';
import { type FleetMember, fleetDrillNamespace, fleetMember } from './fleet.js';
import { fleetManifestProblems, fleetManifestsYaml } from './fleet-manifests.js';
import { runVerifyRestore } from './run-verify-restore.js';
import { BackupVerificationError } from './verification-error.js';
import { loadVerificationKeys, type VerificationKeys } from './verification-keys.js';
import { type VerifyRestoreSettings, verifyRestoreSettings } from './verify-restore-settings.js';

const RECIPIENT = '--recipient-key / SECRET_STEWARD_RECIPIENT_KEY';

/** Version of the `--fleet-plan -o json` document. */
export const FLEET_PLAN_FORMAT = 'secret-steward.io/fleet-plan/v1';

/**
 * `secret-steward verify-restore`: loads the keys, runs the drill under the job's Lease,
 * stores and signs the report, records an Event, pushes metrics, prints the report. Exit 0 only
 * when every check passed; 1 when one failed; 4 when one could not complete for
 * infrastructure reasons (and none failed); 143 when interrupted (drill objects are removed).
 */
export async function runVerifyRestoreJob(s: VerifyRestoreSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  if (s.fleetPlan) return printFleetPlan(s, ctx);
  const now = ctx.clock.now();
  let keys: VerificationKeys | BackupVerificationError;
  try {
    keys = await loadVerificationKeys(s);
  } catch (e) {
    if (!(e instanceof BackupVerificationError)) throw e;
    keys = e;
  }
  const recipientWarnings: KeyWarning[] = [];
  const recipientProblems: string[] = [];
  const expectedRecipients: string[] = [];
  if (s.recipientKey.length > 0) {
    try {
      const loaded = await loadRecipientKeys(s.recipientKey, { now, warnWithinMs: s.keyExpiryWarning, setting: RECIPIENT });
      recipientWarnings.push(...loaded.warnings);
      expectedRecipients.push(...loaded.keys.map((k) => k.fingerprint));
    } catch (e) {
      // An expired or revoked recipient key is exactly what key health reports.
      if (!(e instanceof ConfigError)) throw e;
      recipientProblems.push(...e.problems.map((p) => p.message));
    }
  }
  const signing = s.reportSigningKey
    ? await loadSigningKey(s.reportSigningKey, s.reportSigningKeyPassphraseFile, { now, warnWithinMs: s.keyExpiryWarning })
    : undefined;

  const limits = { maxAttempts: s.apiRetryBudget };
  const kc = loadKubeConfig(s, ctx.io.env);
  const kube = createKubeClients(kc, { command: ctx.command, clock: ctx.clock, log: ctx.log, limits, signal: ctx.shutdown.signal });
  // Cleanup keeps retrying after SIGTERM (no abort signal): drill objects must not outlive the drill.
  const cleanupCaller = new KubeCaller({ clock: ctx.clock, log: ctx.log, limits: { ...limits, budgetMs: 20_000 } });
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const fleet = s.fleetDiscover ? await discoveredMember(s, store, ctx) : fleetMemberOf(s);
  if (typeof fleet === 'number') return fleet;
  const cluster = fleet?.cluster ?? (s.clusterName as string);
  const layout = new BackupLayout(cluster);
  const subject = jobEventSubject('verify-restore', toolNamespace(s));
  const events = new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity);
  const secrets = new KubeSecretStore(kube.core, kube.caller, ctx.log, kc);
  const drillNamespace = new KubeDrillNamespace(
    secrets,
    new KubeSecretStore(kube.core, cleanupCaller, ctx.log, kc),
    fleet?.drillNamespace ?? s.drillNamespace,
  );
  const drillId = drillIdFrom(ctx.runId);

  const trust = await loadSealTrust(s, { now });

  if (fleet)
    ctx.log.info(
      { fleetIndex: fleet.index, fleetSize: fleet.size, cluster, drillNamespace: drillNamespace.namespace },
      'fleet drill: this index drills one cluster',
    );
  return withJobLock(fleet?.lockJob ?? 'verify-restore', s, kube, ctx, async (lock) => {
    let report: DrillReport;
    let backupId: string | undefined;
    try {
      ({ report, backupId } = await runVerifyRestore(
        {
          secrets,
          drillNamespace,
          store,
          layout,
          keys,
          trust,
          incompleteGraceMs: s.incompleteGrace,
          reading: {
            // Best effort: retention in this cluster then keeps the backup while the drill reads it.
            record: (id) =>
              lock.record(id === undefined ? undefined : readingNote(id), READING_ANNOTATION).catch((e: unknown) => {
                if (e instanceof InterruptedError) throw e;
                ctx.log.warn({ err: e }, 'could not note on the Lease which backup the drill reads');
              }),
          },
          log: ctx.log,
          clock: ctx.clock,
          shutdown: ctx.shutdown,
          progress: new Progress({ log: ctx.log, clock: ctx.clock, intervalMs: s.progressInterval, line: ctx.statusLine }),
          drillId,
          runner: ctx.identity,
          // The drill believes earlier reports signed by its own report key.
          reportSigners: signing ? [signing.key.key.toPublic()] : [],
        },
        {
          backup: s.backup,
          freshness: s.backupSchedule ? { schedule: s.backupSchedule, timeZone: s.backupTimezone, graceMs: s.freshnessGrace } : undefined,
          concurrency: s.drillConcurrency,
          batch: { secrets: s.drillBatchSecrets, bytes: s.drillBatchMib * 1024 * 1024 },
          compareLive: s.compareLive,
          pageSize: s.pageSize,
          keyHealth: {
            warnWithinMs: s.keyExpiryWarning,
            recipientWarnings,
            recipientProblems,
            signingWarnings: signing?.warnings ?? [],
            expectedRecipients,
            strictRecipients: s.strictRecipients,
          },
          ...(s.deepCheckCycle > 0 ? { deepCheck: { cycleMs: s.deepCheckCycle, perRun: s.deepCheckPerRun } } : {}),
        },
      ));
    } catch (e) {
      const message = errorText(e);
      const interrupted = e instanceof InterruptedError;
      await events.record({
        subject,
        type: 'Warning',
        reason: interrupted ? 'DrillInterrupted' : 'DrillFailed',
        message: interrupted
          ? `DR drill ${drillId} stopped before finishing (${message}); its drill objects were removed`
          : `DR drill ${drillId} could not complete: ${message}`,
        action: 'VerifyRestore',
      });
      await pushDrillMetrics(s, cluster, ctx, undefined);
      throw e;
    }
    if (fleet) report = { ...report, fleet: { index: fleet.index, size: fleet.size } };

    let stored: StoredReport | undefined;
    let storeFailure: unknown;
    if (s.storeReport && backupId !== undefined) {
      try {
        stored = await storeDrillReport(store, layout, report, {
          backupId,
          drillTime: ctx.clock.now(),
          signingKey: signing?.key,
          detail: s.storedReportDetail,
        });
      } catch (e) {
        storeFailure = e;
        ctx.log.error({ err: e }, 'could not store the drill report');
      }
    }
    ctx.log.info(
      {
        drillId,
        cluster,
        ...(fleet ? { fleetIndex: fleet.index } : {}),
        backupId,
        result: report.result,
        checks: Object.fromEntries(report.checks.map((c) => [c.name, c.status])),
        secretsRestored: report.counts.secretsRestored,
        durationMs: report.durationMs,
        report: stored?.key,
      },
      `DR drill ${report.result}`,
    );
    await recordDrillEvents(report, stored, events, subject);
    await pushDrillMetrics(s, cluster, ctx, report);
    ctx.io.stdout.write(isDocumentOutput(s.output) ? renderDocument(report, s.output) : renderDrillReport(report, stored));

    if (report.result === 'fail') return ExitCode.Failed;
    if (report.result === 'error') return ExitCode.Transient;
    if (storeFailure !== undefined) return exitCodeFor(storeFailure);
    return ExitCode.Success;
  });
}

async function recordDrillEvents(
  r: DrillReport,
  stored: StoredReport | undefined,
  events: KubeEventRecorder,
  subject: ReturnType<typeof jobEventSubject>,
): Promise<void> {
  const keyHealth = r.checks.find((c) => c.name === 'key-health')?.details;
  for (const w of (keyHealth?.warnings ?? []) as string[]) {
    await events.record({ subject, type: 'Warning', reason: 'KeyExpiringSoon', message: w, action: 'CheckKeys' });
  }
  const recipientWarning = keyHealth?.recipientWarning as string | undefined;
  if (recipientWarning !== undefined) {
    await events.record({
      subject,
      type: 'Warning',
      reason: 'UnexpectedBackupRecipient',
      message: `${r.backup ? `backup ${r.backup.id}: ` : ''}${recipientWarning}`,
      action: 'CheckKeys',
    });
  }
  const readabilityWarning = keyHealth?.readabilityWarning as string | undefined;
  if (readabilityWarning !== undefined) {
    await events.record({
      subject,
      type: 'Warning',
      reason: 'BackupUnreadableByCurrentKeys',
      message: `${r.fleet ? `cluster ${r.cluster}: ` : ''}${readabilityWarning}`,
      action: 'CheckKeys',
    });
  }
  // A fleet drill's pods share the Events of one namespace: each names its cluster.
  const backup = `${r.backup ? `backup ${r.backup.id}` : 'no backup'}${r.fleet ? ` of cluster ${r.cluster} (fleet index ${r.fleet.index})` : ''}`;
  const where = stored ? `; report ${stored.key}` : '';
  if (r.result === 'pass') {
    await events.record({
      subject,
      type: 'Normal',
      reason: 'DrillPassed',
      message: `DR drill passed for ${backup}: ${r.counts.secretsVerified} Secrets verified, ${r.counts.secretsRestored} restored into ${r.drillNamespace} and compared byte for byte${where}`,
      action: 'VerifyRestore',
    });
    return;
  }
  const bad = r.checks.filter((c) => c.status === 'fail' || c.status === 'error');
  const first = bad.flatMap((c) => c.findings.map((f) => f.message))[0];
  await events.record({
    subject,
    type: 'Warning',
    reason: r.result === 'fail' ? 'DrillFailed' : 'DrillIncomplete',
    message: `DR drill ${r.result === 'fail' ? 'failed' : 'did not complete'} for ${backup}: ${bad.map((c) => `${c.name} ${c.status}`).join(', ')}${first ? `: ${first}` : ''}${where}`,
    action: 'VerifyRestore',
  });
}

async function pushDrillMetrics(s: VerifyRestoreSettings, cluster: string, ctx: CommandContext, r: DrillReport | undefined): Promise<void> {
  if (!s.pushgateway) return;
  await pushMetrics(s.pushgateway, 'verify-restore', cluster, drillMetrics(r, ctx.clock.now()), ctx.log);
}

/** The fleet member this pod drills (--fleet-cluster with its completion index), or undefined for one cluster. */
function fleetMemberOf(s: VerifyRestoreSettings): FleetMember | undefined {
  if (s.fleetCluster.length === 0 || s.fleetIndex === undefined) return undefined;
  return fleetMember(s.fleetCluster, s.fleetIndex, s.drillNamespace);
}

/**
 * The drill's gauges: pass or not, when it last ran and passed, Secrets verified and restored,
 * the age of the backup drilled, unauthenticated objects (when the catalogue check ran), retained
 * backups its decryption keys cannot read (when judged) and the expiry of the keys it used. `r` is undefined when the drill could not produce a report.
 */
export function drillMetrics(r: DrillReport | undefined, now: Date): MetricSample[] {
  const m = METRICS.drill;
  const passed = r?.result === 'pass';
  const samples: MetricSample[] = [sample(m.success, passed ? 1 : 0), sample(m.lastRun, epochSeconds(now))];
  if (passed) samples.push(sample(m.lastSuccess, epochSeconds(now)));
  if (r === undefined) return samples;
  samples.push(
    sample(m.secrets, r.counts.secretsVerified, { result: 'verified' }),
    sample(m.secrets, r.counts.secretsRestored, { result: 'restored' }),
    sample(m.duration, r.durationMs / 1000),
  );
  if (r.backup) samples.push(sample(m.backupAge, r.backup.ageSeconds));
  if (r.rto)
    samples.push(sample(m.restoreTime, r.rto.measuredMs / 1000), sample(m.projectedRestoreTime, r.rto.projectedFullRestoreMs / 1000));
  if (r.deepCheck) {
    const checked = r.deepCheck.checked;
    for (const result of ['pass', 'fail', 'error'] as const)
      samples.push(sample(m.deepCheckBackups, checked.filter((c) => c.result === result).length, { result }));
    samples.push(
      sample(m.deepCheckDuration, r.deepCheck.durationMs / 1000),
      sample(m.unverifiedInCycle, r.deepCheck.notVerifiedInCycle.length),
    );
  }
  if (r.keyReadability) samples.push(sample(m.unreadableBackups, r.keyReadability.unreadable.length));
  const catalogue = r.checks.find((c) => c.name === 'catalogue');
  if (catalogue !== undefined && (catalogue.status === 'pass' || catalogue.status === 'fail'))
    samples.push(sample(METRICS.unauthenticatedBackups, catalogue.findingsTotal));
  const keys = r.checks.find((c) => c.name === 'key-health')?.details as
    | {
        decryptionKeys?: Array<{ fingerprint: string; expiresAt?: string }>;
        trustedSigners?: Array<{ fingerprint: string; expiresAt?: string }>;
      }
    | undefined;
  const used = (role: KeyRole, list: Array<{ fingerprint: string; expiresAt?: string }> | undefined) =>
    (list ?? []).map((k) => ({ role, fingerprint: k.fingerprint, ...(k.expiresAt ? { expiresAt: new Date(k.expiresAt) } : {}) }));
  samples.push(...keyExpirySamples([...used('decryption', keys?.decryptionKeys), ...used('trusted_signer', keys?.trustedSigners)]));
  return samples;
}

/**
 * With --fleet-discover: the member this pod drills among the clusters discovered under the
 * store (sorted by name), or the exit code when there is none: 0 for an index beyond them (the
 * Job has more completions than clusters; nothing to drill), 1 when no cluster was found at all
 * (an empty fleet is never a passed drill). Prefixes outside --fleet-allow are logged, never drilled.
 */
async function discoveredMember(s: VerifyRestoreSettings, store: ObjectStore, ctx: CommandContext): Promise<FleetMember | ExitCodeValue> {
  const found = await discoverFleet(store, s.fleetAllow);
  const note = ignoredPrefixesNote(found, store.location);
  if (note !== undefined) ctx.log.warn({ ignored: found.ignored.count, names: found.ignored.first }, note);
  const index = s.fleetIndex as number;
  const size = found.clusters.length;
  ctx.log.info({ fleetIndex: index, fleetSize: size, clusters: found.clusters }, 'fleet discovered under the store');
  if (index < size) return fleetMember(found.clusters, index, s.drillNamespace);
  const text =
    size === 0
      ? `no cluster under ${store.location} matches --fleet-allow ${s.fleetAllow.join(',')}: nothing can be drilled`
      : `nothing to drill at index ${index}: discovery found ${size} cluster(s) under ${store.location}; set the Job's completions to ${size}`;
  if (size === 0) ctx.log.error({ fleetIndex: index, fleetSize: size }, text);
  else ctx.log.warn({ fleetIndex: index, fleetSize: size }, text);
  if (!isDocumentOutput(s.output)) ctx.io.stdout.write(`${text}\n`);
  return size === 0 ? ExitCode.Failed : ExitCode.Success;
}

/** --fleet-plan: which index drills which cluster into which namespace, and the completions the Job needs. */
async function printFleetPlan(s: VerifyRestoreSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const found = s.fleetDiscover ? await discoverFleet(store, s.fleetAllow) : undefined;
  const clusters = found?.clusters ?? s.fleetCluster;
  const plan = clusters.map((c, i) => ({ index: i, cluster: c, drillNamespace: fleetDrillNamespace(s.drillNamespace, i) }));
  const note = found ? ignoredPrefixesNote(found, store.location) : undefined;
  if (s.output === 'manifests') {
    // For kubectl: YAML on stdout and nothing else; what discovery ignored goes to the log.
    if (note !== undefined) ctx.log.warn({ ignored: found?.ignored.count, names: found?.ignored.first }, note);
    if (clusters.length === 0) {
      ctx.log.error(
        { fleetSize: 0 },
        `no cluster under ${store.location} matches --fleet-allow ${s.fleetAllow.join(',')}: no manifests for an empty fleet`,
      );
      return ExitCode.Failed;
    }
    const o = { size: clusters.length, drillNamespace: s.drillNamespace, toolNamespace: toolNamespace(s) };
    const problems = fleetManifestProblems(o);
    if (problems.length > 0) throw new ConfigError(problems.map((p) => problemFor(verifyRestoreSettings, p.setting, p.message)));
    ctx.log.info({ fleetSize: clusters.length, clusters }, 'fleet plan: manifests for the fleet');
    ctx.io.stdout.write(fleetManifestsYaml(o));
    return ExitCode.Success;
  }
  if (isDocumentOutput(s.output)) {
    const ignored = found ? { ignored: found.ignored } : {};
    ctx.io.stdout.write(
      renderDocument({ format: FLEET_PLAN_FORMAT, location: store.location, completions: clusters.length, plan, ...ignored }, s.output),
    );
    return ExitCode.Success;
  }
  const from = found ? `discovered under ${store.location} (--fleet-allow ${s.fleetAllow.join(',')})` : 'listed in --fleet-cluster';
  ctx.io.stdout.write(`Fleet of ${clusters.length} cluster(s) ${from}: set the Job's completions to ${clusters.length}.\n`);
  if (plan.length > 0)
    ctx.io.stdout.write(
      renderTable(
        ['INDEX', 'CLUSTER', 'DRILL NAMESPACE'],
        plan.map((p) => [String(p.index), p.cluster, p.drillNamespace]),
      ),
    );
  if (note !== undefined) ctx.io.stdout.write(`${note}.\n`);
  if (plan.length > 0)
    ctx.io.stdout.write('The objects this fleet needs besides the overlay: -o manifests (docs/dr-site.md, "Growing the fleet").\n');
  return ExitCode.Success;
}
