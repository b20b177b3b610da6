/**
 * `npm start`: the whole lifecycle on an embedded sandbox, with nothing else installed or
 * running. Starts the Kubernetes API emulator and an S3 server in this process, seeds a small
 * shop (test/sandbox/seed.ts), then runs the same commands the CronJobs run, through the same
 * `runCommand` path and settings (the sandbox's SECRET_STEWARD_* environment):
 *
 *   rotate -> backup -> verify-restore -> status
 *
 * and prints what happened: what rotated and which workloads restarted, the backup, each drill
 * check, the status overview, and where the files are (kubeconfig, keys, a copy of the bucket).
 * Exits 0 only when every step passed; stops both servers before exiting.
 *
 * Usage: npm start [-- --dir DIR]   (default DIR: .sandbox/demo, replaced on every run)
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { backupCommand } from '../../jobs/backup.js';
import { rotateCommand } from '../../jobs/rotate.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import type { BackupResult } from '../../shared/backup/run-backup.js';
import { MemorySink } from '../../shared/log/index.js';
import type { RotationReport } from '../../shared/rotate/report.js';
import { type Command, isEntrypoint, runCommand } from '../../shared/runtime/command.js';
import { formatBytes, renderTable } from '../../shared/runtime/format.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import { type Sandbox, startSandbox } from './sandbox.js';
import { type SeedSummary, seedDemoCluster } from './seed.js';

export const DEFAULT_DEMO_DIR = '.sandbox/demo';
/** The backup CronJob schedule the drill and status judge freshness against. */
const BACKUP_SCHEDULE = '0 3 * * *';

export interface StepResult {
  name: string;
  args: string[];
  code: number;
  durationMs: number;
  stdout: string;
  /** Error and warning log lines (JSON), shown when the step did not pass. */
  problems: string[];
}

export interface DemoResult {
  code: number;
  dir: string;
  seed?: SeedSummary;
  steps: StepResult[];
  rotation?: RotationReport;
  backup?: BackupResult;
  drill?: DrillReport;
  /** Files copied out of the bucket, relative to `dir`. */
  bucketFiles: string[];
}

export interface DemoOptions {
  dir: string;
  /** Where the summary goes. */
  write: (text: string) => void;
  /** Colour in the status overview. @default false */
  color?: boolean;
}

/** Runs one command in-process exactly like the CLI does, with the sandbox's environment. */
async function step(sb: Sandbox, name: string, cmd: Command<any>, args: string[]): Promise<StepResult> {
  const logs = new MemorySink();
  const out: string[] = [];
  const err: string[] = [];
  const started = performance.now();
  const code = await runCommand(cmd, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: `demo-${name}`, ...sb.env },
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    logSink: logs,
    handleSignals: false,
  });
  const problems = logs
    .records()
    .filter((r) => r.level === 'error' || r.level === 'warn' || (typeof r.level === 'number' && r.level >= 40))
    .map((r) => JSON.stringify(r));
  return {
    name,
    args,
    code,
    durationMs: performance.now() - started,
    stdout: out.join(''),
    problems: [...problems, ...(err.length ? [err.join('')] : [])],
  };
}

const indent = (text: string, by = '   ') =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => (l === '' ? '' : `${by}${l}`))
    .join('\n');

function heading(s: StepResult, n: number, title: string): string {
  const verdict = s.code === 0 ? 'ok' : `FAILED, exit ${s.code}`;
  return `${n}. ${title}  (secret-steward ${s.name}${s.args.length ? ` ${s.args.join(' ')}` : ''}: ${verdict}, ${(s.durationMs / 1000).toFixed(1)}s)`;
}

function rotationSummary(r: RotationReport): string {
  const rows = r.secrets
    .filter((s) => s.action !== 'not-due')
    .map((s) => [
      `${s.namespace}/${s.name}`,
      s.strategy ?? '',
      (s.keys ?? []).join(','),
      s.action + (s.version ? ` -> ${s.version}` : ''),
      (s.consumers ?? []).join(',') || '-',
    ]);
  const lines = [renderTable(['SECRET', 'STRATEGY', 'KEYS CHANGED', 'RESULT', 'RESTARTED'], rows).trimEnd()];
  const notDue = r.secrets.filter((s) => s.action === 'not-due');
  if (notDue.length > 0)
    lines.push(
      `Not due: ${notDue.map((s) => `${s.namespace}/${s.name}${s.nextDue ? ` (next ${s.nextDue.slice(0, 10)})` : ''}`).join(', ')}`,
    );
  const restarted = r.workloads.filter((w) => w.patched);
  if (restarted.length > 0) {
    lines.push(
      `Workloads restarted, each once, and verified: ${restarted.map((w) => `${w.kind.toLowerCase()}/${w.name} (${w.namespace}): ${w.state}`).join(', ')}`,
    );
  }
  const fps = r.secrets.flatMap((s) => (s.fingerprints ?? []).map((f) => `${s.namespace}/${s.name} ${f}`));
  if (fps.length > 0)
    lines.push(`New values are never printed or logged; their fingerprints: ${fps.slice(0, 3).join('; ')}${fps.length > 3 ? '; ...' : ''}`);
  return lines.join('\n');
}

function backupSummary(b: BackupResult): string {
  return [
    `Backup ${b.backupId}: ${b.secrets} Secrets from ${Object.keys(b.perNamespace).length} namespaces, ${b.segments} segment(s), ${formatBytes(b.storedBytes)} stored ` +
      `(${formatBytes(b.plaintextBytes)} of JSON before gzip and OpenPGP encryption), every segment read back and checked, index signed, backup sealed.`,
    `Per namespace: ${Object.entries(b.perNamespace)
      .sort(([a], [c]) => a.localeCompare(c))
      .map(([ns, n]) => `${ns} ${n}`)
      .join(', ')}`,
    `Location: ${b.location}`,
  ].join('\n');
}

function drillSummary(d: DrillReport): string {
  const rows = d.checks.map((c) => [c.name, c.status.toUpperCase(), c.summary]);
  return [
    `Drill ${d.drillId} of backup ${d.backup?.id ?? '-'}: ${d.result.toUpperCase()} (${d.counts.secretsVerified} verified, ${d.counts.secretsRestored} restored into ${d.drillNamespace} and compared byte for byte, then deleted)`,
    renderTable(['CHECK', 'RESULT', 'SUMMARY'], rows).trimEnd(),
  ].join('\n');
}

/** Copies every object of the sandbox bucket to `<dir>/bucket/`, so the files outlive the servers. */
async function copyBucket(sb: Sandbox, dir: string): Promise<string[]> {
  const files: string[] = [];
  let token: string | undefined;
  do {
    const page = await sb.s3.client.send(new ListObjectsV2Command({ Bucket: sb.s3.bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const target = join(dir, 'bucket', o.Key!);
      await mkdir(dirname(target), { recursive: true });
      const body = await sb.s3.client.send(new GetObjectCommand({ Bucket: sb.s3.bucket, Key: o.Key! }));
      await writeFile(target, await body.Body!.transformToByteArray());
      files.push(relative(dir, target));
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return files.sort();
}

/**
 * The demo, for `npm start` and its test: returns the exit code (0 only when every step
 * passed) with what each step reported. The servers are stopped before it returns.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const dir = resolve(o.dir);
  await rm(dir, { recursive: true, force: true });
  const w = o.write;
  w('secret-steward demo: rotation, encrypted backup and a DR drill on an embedded sandbox (no cluster, no cloud account)\n\n');
  const sb = await startSandbox({ dir });
  // The AWS SDK's default credential chain reads process.env, not the command's env.
  Object.assign(process.env, sb.s3.env);
  const result: DemoResult = { code: 1, dir, steps: [], bucketFiles: [] };
  try {
    const seed = await seedDemoCluster(sb.emulator);
    result.seed = seed;
    w(
      [
        'Sandbox',
        `   Kubernetes API emulator  ${sb.emulator.url}`,
        `   S3 server (s3rver)       ${sb.s3.endpoint}, bucket ${sb.s3.bucket}, store ${sb.env.SECRET_STEWARD_STORE}`,
        `   Demo OpenPGP key pair    ${sb.keys.fingerprint} (throwaway, made for this run)`,
        `   Seeded                   ${seed.namespaces.length} namespaces (${seed.namespaces.join(', ')}), ${seed.secrets} Secrets, ${seed.policies.length} with rotation policies ` +
          `(${seed.due.length} due), ${seed.deployments.length} Deployments using them via env, envFrom, volumes and imagePullSecrets`,
        '',
        '',
      ].join('\n'),
    );

    const rotate = await step(sb, 'rotate', rotateCommand, ['--output', 'json']);
    result.steps.push(rotate);
    w(`${heading(rotate, 1, 'Rotate what is due, restart the consumers, verify their rollouts')}\n`);
    if (rotate.code === 0 || rotate.code === 1) {
      result.rotation = JSON.parse(rotate.stdout) as RotationReport;
      w(`${indent(rotationSummary(result.rotation))}\n\n`);
    }

    const backup = await step(sb, 'backup', backupCommand, ['--output', 'json']);
    result.steps.push(backup);
    w(`${heading(backup, 2, 'Back up every Secret, OpenPGP-encrypted on the client side, to S3')}\n`);
    if (backup.code === 0) {
      result.backup = JSON.parse(backup.stdout) as BackupResult;
      w(`${indent(backupSummary(result.backup))}\n\n`);
    }

    const drill = await step(sb, 'verify-restore', verifyRestoreCommand, [
      '--backup-schedule',
      BACKUP_SCHEDULE,
      '--compare-live',
      '--output',
      'json',
    ]);
    result.steps.push(drill);
    w(`${heading(drill, 3, 'DR drill: prove the backup is fresh, intact, decryptable and restorable')}\n`);
    if (drill.stdout.trim().startsWith('{')) {
      result.drill = JSON.parse(drill.stdout) as DrillReport;
      w(`${indent(drillSummary(result.drill))}\n\n`);
    }

    const status = await step(sb, 'status', statusCommand, ['--backup-schedule', BACKUP_SCHEDULE, '--color', o.color ? 'always' : 'never']);
    result.steps.push(status);
    w(`${heading(status, 4, 'Status: where every Secret, backup, drill and key stands')}\n`);
    w(`${indent(status.stdout)}\n\n`);

    result.bucketFiles = await copyBucket(sb, dir);
    const rel = relative(process.cwd(), dir) || '.';
    const segment = result.bucketFiles.find((f) => f.endsWith('.json.gz.pgp'));
    w(
      [
        `Files (kept in ${rel}/; the next npm start replaces them)`,
        `   kubeconfig, env          how the commands reached the sandbox (. ${rel}/env)`,
        `   keys/                    the demo key pair (demo.public.asc encrypts, demo.private.asc + demo.passphrase decrypt)`,
        `   bucket/                  a copy of the bucket: ${result.bucketFiles.length} objects (segments, the index, the seal, the drill report and its signature)`,
        ...result.bucketFiles.map((f) => `      ${f}`),
        ...(segment
          ? [
              '   Break-glass restore with stock tools, no secret-steward needed:',
              `      export GNUPGHOME=$(mktemp -d) && gpg --batch --pinentry-mode loopback --passphrase-file ${rel}/keys/demo.passphrase --import ${rel}/keys/demo.private.asc`,
              `      gpg --batch --pinentry-mode loopback --passphrase-file ${rel}/keys/demo.passphrase --decrypt ${rel}/${segment} | gunzip | jq -r '.items[].metadata | .namespace + "/" + .name'`,
            ]
          : []),
        '',
      ].join('\n'),
    );

    const failed = result.steps.filter((s) => s.code !== 0);
    for (const s of failed) {
      w(
        `\n${s.name} exited ${s.code}. Its errors and warnings:\n${s.problems.map((p) => `   ${p}`).join('\n') || '   (none logged)'}\n${s.stdout ? `Its output:\n${indent(s.stdout)}\n` : ''}`,
      );
    }
    result.code = failed.length === 0 ? 0 : 1;
    w(
      result.code === 0
        ? `\nEverything passed: ${result.rotation?.secrets.filter((s) => s.action === 'rotated').length ?? 0} Secrets rotated, backup ${result.backup?.backupId} verified by a drill, nothing overdue. The sandbox servers are stopped.\n`
        : `\nThe demo FAILED at: ${failed.map((s) => s.name).join(', ')}. The sandbox servers are stopped.\n`,
    );
    return result;
  } finally {
    await sb.stop();
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: { dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nUsage: npm start [-- --dir DIR]\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(
      `Usage: npm start [-- --dir DIR]\n\nRuns rotate, backup, verify-restore and status against an embedded sandbox and prints what happened.\nFiles are kept in DIR (default ${DEFAULT_DEMO_DIR}, replaced on every run).\n`,
    );
    return 0;
  }
  const r = await runDemo({
    dir: values.dir ?? DEFAULT_DEMO_DIR,
    write: (t) => process.stdout.write(t),
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  });
  return r.code;
}

if (isEntrypoint(import.meta.url)) process.exitCode = await main();
