import { readFile } from 'node:fs/promises';
import { problemFor } from '../config/parse.js';
import { ConfigError } from '../errors/config-error.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { createKubeClients, loadKubeConfig } from '../kube/client.js';
import { KubeEventRecorder, MemoryEventRecorder } from '../kube/events.js';
import { toolNamespace, withJobLock } from '../kube/job-lock.js';
import { namespacesToList, scopeOf } from '../kube/scope.js';
import { KubeSecretStore } from '../kube/secrets.js';
import { KubeWorkloadStore } from '../kube/workloads.js';
import { redactor } from '../log/index.js';
import { epochSeconds, METRICS, type MetricSample, sample } from '../metrics/catalogue.js';
import { pushMetrics } from '../metrics/pushgateway.js';
import type { Clock } from '../runtime/clock.js';
import type { CommandContext } from '../runtime/command.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { BackendRegistry, type RotationBackend } from './backend.js';
import { Fingerprinter, MIN_FINGERPRINT_KEY_BYTES } from './fingerprint.js';
import { type FollowState, isFollowFailure } from './follow.js';
import { countActions, exitCodeOf, type RotationReport, renderReport } from './report.js';
import { type RotateSettings, rotateSettings } from './rotate-settings.js';
import type { RotationDeps } from './rotation.js';
import { runRotation } from './run-rotate.js';

/** What a build of the rotate command ships besides the defaults. */
export interface RotateJobExtensions {
  /** Rotation backends policies may name (`backend.name`); none by default. */
  backends?: readonly RotationBackend[];
}

/**
 * `secret-steward rotate`: wires the Kubernetes stores, then either prints the plan
 * (`--dry-run`: reads only, no Lease, no Events) or runs under the job's Lease, prints the
 * summary and pushes metrics. The exit code follows the report (see `exitCodeOf`).
 */
export async function runRotateJob(s: RotateSettings, ctx: CommandContext, ext: RotateJobExtensions = {}): Promise<ExitCodeValue> {
  const kc = loadKubeConfig(s, ctx.io.env);
  const kube = createKubeClients(kc, {
    command: ctx.command,
    clock: ctx.clock,
    log: ctx.log,
    limits: { maxAttempts: s.apiRetryBudget },
    signal: ctx.shutdown.signal,
  });
  const at = s.now;
  const clock: Clock = at === undefined ? ctx.clock : { now: () => new Date(at.getTime()), sleep: ctx.clock.sleep };
  const deps: RotationDeps = {
    secrets: new KubeSecretStore(kube.core, kube.caller, ctx.log),
    workloads: new KubeWorkloadStore(kube.apps, kube.batch, kube.core, kube.caller, kc, {
      custom: kube.custom,
      onNote: (m) => ctx.log.warn({}, m),
    }),
    events: s.dryRun ? new MemoryEventRecorder() : new KubeEventRecorder(kube.core, kube.caller, ctx.clock, ctx.log, ctx.identity),
    backends: new BackendRegistry(ext.backends ?? []),
    clock,
    log: ctx.log,
    shutdown: ctx.shutdown,
    register: (v) => redactor.register(v),
    fingerprinter: await fingerprinterFor(s.fingerprintKeyFile),
    pollIntervalMs: s.rolloutPollInterval,
  };
  const run = () =>
    runRotation(deps, {
      namespaces: namespacesToList(s.namespace, scopeOf(s)),
      selector: s.selector,
      dryRun: s.dryRun,
      maxRotations: s.maxRotations,
      maxConcurrentRollouts: s.maxConcurrentRollouts,
      keyNamespace: toolNamespace(s),
    });
  const report = s.dryRun ? await run() : await withJobLock('rotate', s, kube, ctx, run);
  ctx.io.stdout.write(isDocumentOutput(s.output) ? renderDocument({ format: ROTATE_FORMAT, ...report }, s.output) : renderReport(report));
  const code = exitCodeOf(report);
  // validateRotateSettings requires --cluster-name with --pushgateway.
  if (!s.dryRun && s.pushgateway !== undefined && s.clusterName !== undefined)
    await pushMetrics(s.pushgateway, 'rotate', s.clusterName, rotationMetrics(report, code, ctx.clock.now()), ctx.log);
  return code;
}

/** Version of the `-o json` / `-o yaml` document; changes are listed in CHANGELOG.md. */
export const ROTATE_FORMAT = 'secret-steward.io/rotate/v1';

/** The run's fingerprinter: the operator's key when a file is given, else a random one for this run. */
async function fingerprinterFor(file: string | undefined): Promise<Fingerprinter> {
  if (file === undefined) return Fingerprinter.forRun();
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([problemFor(rotateSettings, 'fingerprintKeyFile', `cannot read ${file}${code ? ` (${code})` : ''}`)]);
  }
  if (key.length < MIN_FINGERPRINT_KEY_BYTES)
    throw new ConfigError([
      problemFor(
        rotateSettings,
        'fingerprintKeyFile',
        `${file} holds ${key.length} bytes; a fingerprint key needs at least ${MIN_FINGERPRINT_KEY_BYTES} (head -c 32 /dev/urandom > ${file})`,
      ),
    ]);
  redactor.register(key);
  return Fingerprinter.withKey(key);
}

/** The run's numbers as gauges: Secrets per result, duration, and when it last ran and last succeeded. */
export function rotationMetrics(report: RotationReport, code: ExitCodeValue, now: Date): MetricSample[] {
  const c = countActions(report);
  const m = METRICS.rotate;
  const samples: MetricSample[] = [
    sample(m.success, code === ExitCode.Success ? 1 : 0),
    sample(m.lastRun, epochSeconds(now)),
    sample(m.duration, report.durationMs / 1000),
    sample(m.secrets, c.rotated, { result: 'rotated' }),
    // Invalid policies count as failures; rollback failures as rollbacks.
    sample(m.secrets, c.failed + c.invalid, { result: 'failed' }),
    sample(m.secrets, c['rolled-back'] + c['rollback-failed'], { result: 'rolled_back' }),
    sample(m.secrets, c.skipped, { result: 'skipped' }),
    sample(m.secrets, c.deferred, { result: 'deferred' }),
  ];
  if (report.followed !== undefined) {
    // One count per workload (a workload following two Secrets is counted once, by its outcome).
    const byWorkload = new Map<string, FollowState>();
    for (const f of report.followed) for (const c of f.consumers) byWorkload.set(`${f.namespace}/${c.workload}`, c.state);
    const counts = { restarted: 0, current: 0, failed: 0, deferred: 0 };
    for (const state of byWorkload.values()) {
      if (state === 'restarted' || state === 'current' || state === 'deferred') counts[state]++;
      else if (isFollowFailure(state)) counts.failed++;
    }
    for (const [result, n] of Object.entries(counts)) samples.push(sample(m.followedConsumers, n, { result }));
  }
  if (code === ExitCode.Success) samples.push(sample(m.lastSuccess, epochSeconds(now)));
  return samples;
}
