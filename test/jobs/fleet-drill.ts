/**
 * What the tests of a DR site's fleet drill through its overlay share
 * (verify-restore-fleet.test.ts, verify-restore-fleet-overlay-discovery.test.ts): source clusters
 * backing up into one store, manifests/overlays/dr-site-verify-only installed into the emulator
 * with the harness's keys, and `secret-steward run verify-restore` starting its CronJob as one
 * Indexed Job, which the emulator's Job controller stand-in runs (test/emulator/job-controller.ts).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { backupCommand } from '../../jobs/backup.js';
import { runCommand } from '../../jobs/run.js';
import type { StoredKubeObject } from '../emulator/index.js';
import { type DrSiteInstallation, installDrSite } from '../sandbox/install.js';
import { backupKeyArgs } from '../shared/verify-restore/drill-fixtures.js';
import type { Harness, RunResult } from '../support/job-harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A failed run's output and its warnings and errors, for an assertion message. */
export const failure = (r: RunResult) =>
  r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error' || x.level === 'warn'));

/** Backs up the harness's cluster once under each name in `clusters` (into `<prefix>/<cluster>/`); returns each backup's id. */
export async function backUpFleet(h: Harness, prefix: string, clusters: readonly string[]): Promise<Map<string, string>> {
  const backups = new Map<string, string>();
  for (const cluster of clusters) {
    const base = h.baseArgs(prefix).map((a) => (a === 'test-cluster' ? cluster : a));
    const r = await h.run(backupCommand, [...base, ...backupKeyArgs(h), '--output', 'json']);
    assert.equal(r.code, 0, failure(r));
    backups.set(cluster, JSON.parse(r.stdout).backupId as string);
  }
  return backups;
}

/** Installs the DR-site overlay into the harness's emulator, its store at `<prefix>`, with the harness's keys. */
export async function installDrSiteFor(
  h: Harness,
  prefix: string,
  fleet: Pick<DrSiteInstallation, 'fleet' | 'discover' | 'fleetPlan'>,
): ReturnType<typeof installDrSite> {
  const read = (f: string) => readFile(f, 'utf8');
  return installDrSite(h.emulator, {
    store: {
      SECRET_STEWARD_STORE: h.s3.storeUrl(prefix),
      SECRET_STEWARD_S3_ENDPOINT: h.s3.endpoint,
      SECRET_STEWARD_S3_FORCE_PATH_STYLE: 'true',
      SECRET_STEWARD_S3_REGION: 'us-east-1',
    },
    credentials: h.s3.credentials,
    ...fleet,
    restoreKeys: {
      privateKey: await read(h.recipient.privateKey),
      passphrase: h.recipient.passphrase,
      trustedSigner: await read(h.signer.publicKey),
      preRestoreSigner: await read(h.preRestoreSigner.publicKey),
    },
    drillSigningKey: { privateKey: await read(h.drillSigner.privateKey), passphrase: h.drillSigner.passphrase },
  });
}

/** `secret-steward run verify-restore` with the emulator's Job controller: what it printed, and the Job it made. */
export async function runFleetJob(h: Harness): Promise<{ run: RunResult; job: StoredKubeObject }> {
  h.emulator.jobs.enable({ repoRoot: REPO_ROOT });
  const run = await h.run(runCommand, ['verify-restore', '--kubeconfig', h.kubeconfig, '--poll-interval', '100ms']);
  await h.emulator.jobs.idle();
  const jobs = h.emulator.list('batch/v1', 'Job', 'secret-steward');
  assert.equal(jobs.length, 1, `one Job: ${jobs.map((j) => j.metadata.name).join(', ')}`);
  return { run, job: jobs[0] };
}

/**
 * Asserts how the fleet's Indexed Job ended: its completed and failed indexes, its terminal
 * conditions as the real Job controller writes them (the interim one, then the final one, each
 * with `reason` when given: test/emulator/job-controller.ts), and the run's exit code.
 */
export function assertFleetJob(
  run: RunResult,
  job: StoredKubeObject,
  want: { completed: string; failed: string; ended: 'Complete' | 'Failed'; reason?: string; code: number },
): void {
  const status = job.status as { completedIndexes?: string; failedIndexes?: string; conditions?: { type: string; reason: string }[] };
  const conditions = status.conditions ?? [];

  assert.deepEqual([status.completedIndexes ?? '', status.failedIndexes ?? ''], [want.completed, want.failed], failure(run));
  assert.deepEqual(
    conditions.map((c) => c.type),
    want.ended === 'Complete' ? ['SuccessCriteriaMet', 'Complete'] : ['FailureTarget', 'Failed'],
    JSON.stringify(conditions),
  );
  if (want.reason !== undefined)
    assert.deepEqual(
      conditions.map((c) => c.reason),
      [want.reason, want.reason],
    );
  assert.equal(run.code, want.code, failure(run));
}

/** The JSON log lines of a run's stdout (the pods' output) whose msg starts with `prefix`. */
export function podRecords(run: RunResult, prefix: string): Record<string, unknown>[] {
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((x) => typeof x.msg === 'string' && x.msg.startsWith(prefix));
}
