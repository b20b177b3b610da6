import { readFile } from 'node:fs/promises';
import { problemFor } from '../config/parse.js';
import { ConfigError } from '../errors/config-error.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { createKubeClients, loadKubeConfig } from '../kube/client.js';
import { KubeEventRecorder, MemoryEventRecorder } from '../kube/events.js';
import { withJobLock } from '../kube/job-lock.js';
import { namespacesToList, scopeOf } from '../kube/scope.js';
import { KubeSecretStore } from '../kube/secrets.js';
import { KubeWorkloadStore } from '../kube/workloads.js';
import { redactor } from '../log/index.js';
import { type MetricSample, pushMetrics } from '../metrics/pushgateway.js';
import type { Clock } from '../runtime/clock.js';
import type { CommandContext } from '../runtime/command.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { BackendRegistry, type RotationBackend } from './backend.js';
import { Fingerprinter, MIN_FINGERPRINT_KEY_BYTES } from './fingerprint.js';
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
    workloads: new KubeWorkloadStore(kube.apps, kube.batch, kube.caller, kc),
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
    });
  const report = s.dryRun ? await run() : await withJobLock('rotate', s, kube, ctx, run);
  ctx.io.stdout.write(isDocumentOutput(s.output) ? renderDocument({ format: ROTATE_FORMAT, ...report }, s.output) : renderReport(report));
  const code = exitCodeOf(report);
  if (!s.dryRun && s.pushgateway !== undefined) await pushRotationMetrics(s.pushgateway, s.clusterName, report, code, ctx);
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

/** The run's numbers as gauges: counts per outcome, duration, and the last fully successful run. */
export function rotationMetrics(report: RotationReport, code: ExitCodeValue, now: Date): MetricSample[] {
  const c = countActions(report);
  const samples: MetricSample[] = [
    {
      name: 'secret_steward_rotate_success',
      help: '1 if the last rotation run exited 0, else 0',
      value: code === ExitCode.Success ? 1 : 0,
    },
    { name: 'secret_steward_rotate_rotated', help: 'Secrets rotated by the last run', value: c.rotated },
    {
      name: 'secret_steward_rotate_failed',
      help: 'Secrets whose rotation failed in the last run (invalid policies included)',
      value: c.failed + c.invalid,
    },
    {
      name: 'secret_steward_rotate_rolled_back',
      help: 'Secrets rolled back by the last run (rollback failures included)',
      value: c['rolled-back'] + c['rollback-failed'],
    },
    {
      name: 'secret_steward_rotate_skipped',
      help: 'Secrets with a policy skipped by the last run because another controller manages them',
      value: c.skipped,
    },
    { name: 'secret_steward_rotate_deferred', help: 'Due Secrets deferred by --max-rotations in the last run', value: c.deferred },
    { name: 'secret_steward_rotate_duration_seconds', help: 'Duration of the last rotation run', value: report.durationMs / 1000 },
  ];
  if (code === ExitCode.Success) {
    samples.push({
      name: 'secret_steward_rotate_last_success_timestamp_seconds',
      help: 'End of the last rotation run that exited 0',
      value: Math.floor(now.getTime() / 1000),
    });
  }
  return samples;
}

async function pushRotationMetrics(
  url: string,
  cluster: string | undefined,
  report: RotationReport,
  code: ExitCodeValue,
  ctx: CommandContext,
): Promise<void> {
  await pushMetrics(
    url,
    'secret-steward-rotate',
    cluster === undefined ? {} : { cluster },
    rotationMetrics(report, code, ctx.clock.now()),
    ctx.log,
  );
}
