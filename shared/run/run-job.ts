import { readFile } from 'node:fs/promises';
import type { KubeConfig, V1Job, V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ConfigError, ExitCode, type ExitCodeValue, errorText, InterruptedError } from '../errors/index.js';
import { createKubeClients, isKubeError, type KubeClients, type KubeError, loadKubeConfig } from '../kube/index.js';
import { followPodLog } from '../kube/pod-logs.js';
import type { CommandContext } from '../runtime/command.js';
import { buildOneOffJob, type JobTemplateSource, oneOffArgs, templateFromCronJob, templateFromJobManifest } from './one-off-job.js';
import { RUNNABLE, type RunSettings } from './run-settings.js';

/**
 * `secret-steward run <command> [-- <arguments>]`: makes a one-off Job from the command's
 * CronJob (or a Job manifest), checks the extra arguments first, creates the Job, streams its
 * pods' logs to stdout, waits for the Job to finish as `kubectl wait --for=condition=complete`
 * would (its Complete or Failed condition), and exits with its last pod's exit code, so that
 * 0/1/2/3/4 mean what they mean for the command itself.
 */
export async function runRunJob(s: RunSettings, ctx: CommandContext, positionals: string[]): Promise<ExitCodeValue> {
  const [command, ...extra] = positionals;
  if (command === undefined || RUNNABLE[command] === undefined) {
    throw ConfigError.single('COMMAND', `give one of ${Object.keys(RUNNABLE).join(', ')} (then -- and its arguments)`);
  }
  const kc = loadKubeConfig(s, ctx.io.env);
  const kube = createKubeClients(kc, { command: ctx.command, clock: ctx.clock, log: ctx.log, limits: { maxAttempts: s.apiRetryBudget } });
  const namespace = s.jobNamespace;
  const source = await loadTemplate(s, command, namespace, kube);
  const args = oneOffArgs(source, command, extra);
  const job = buildOneOffJob(source, args, { namespace, now: ctx.clock.now() });
  if (s.dryRun) {
    ctx.io.stdout.write(stringify(JSON.parse(JSON.stringify(job))));
    return ExitCode.Success;
  }
  const created = await call(kube, { verb: 'create', kind: 'Job', namespace, name: job.metadata?.name }, () =>
    kube.batch.createNamespacedJob({ namespace, body: job }),
  );
  const name = created.metadata?.name ?? '';
  ctx.log.info({ namespace, jobName: name, command, args }, 'Job created; following its pods');
  try {
    return await follow(kc, kube, ctx, s, namespace, created);
  } catch (e) {
    if (ctx.shutdown.requested) {
      ctx.log.warn({ namespace, jobName: name }, `stopped following; the Job keeps running (kubectl -n ${namespace} logs -f job/${name})`);
      throw new InterruptedError(`stopped following Job ${namespace}/${name} (${e instanceof Error ? e.message : String(e)})`);
    }
    throw e;
  }
}

async function loadTemplate(s: RunSettings, command: string, namespace: string, kube: KubeClients): Promise<JobTemplateSource> {
  if (s.jobFile !== undefined) {
    let text: string;
    try {
      text = await readFile(s.jobFile, 'utf8');
    } catch {
      throw ConfigError.single('--job-file / SECRET_STEWARD_JOB_FILE', `cannot read ${s.jobFile}`);
    }
    return templateFromJobManifest(text, s.jobFile);
  }
  const name = s.cronjob ?? RUNNABLE[command].cronJob;
  if (name === undefined) {
    throw ConfigError.single(
      '--job-file / SECRET_STEWARD_JOB_FILE',
      `${command} has no CronJob: give its Job manifest (manifests/jobs/${command}/${command}-job.yaml, or your overlay's rendered Job)`,
    );
  }
  try {
    return templateFromCronJob(
      await call(kube, { verb: 'get', kind: 'CronJob', namespace, name }, () => kube.batch.readNamespacedCronJob({ namespace, name })),
    );
  } catch (e) {
    if (isKubeError(e, (k) => k.notFound)) {
      throw ConfigError.single('--cronjob', `CronJob ${namespace}/${name} not found (installed in another namespace? see --job-namespace)`);
    }
    throw e;
  }
}

/** What the operator's identity needs for each call (docs/one-off-jobs.md, "Permissions"). */
const NEEDS: Record<string, string> = {
  'get CronJob': 'get cronjobs (batch)',
  'create Job': 'create jobs (batch)',
  'get Job': 'get jobs (batch)',
  'list Pod': 'list pods',
  'get Pod log': 'get pods/log',
};

/**
 * One API call with the usual retries; a 403 becomes a configuration error (exit 2) naming the
 * permission, since `run` acts as the operator's own kubeconfig identity, not a job's account.
 */
async function call<T>(
  kube: KubeClients,
  op: { verb: string; kind: string; namespace: string; name?: string; detail?: string },
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await kube.caller.call(op, fn);
  } catch (e) {
    if (isKubeError(e, (k) => k.forbidden)) throw forbidden(e, op);
    throw e;
  }
}

function forbidden(e: KubeError, op: { verb: string; kind: string; namespace: string; detail?: string }): ConfigError {
  const need = NEEDS[`${op.verb} ${op.kind}${op.detail ? ` ${op.detail}` : ''}`] ?? `${op.verb} ${op.kind}`;
  const what = e.message.replace(/ \(check the RBAC rules[^)]*\)/, '');
  return ConfigError.single(
    '--kubeconfig / SECRET_STEWARD_KUBECONFIG / KUBECONFIG',
    `${what}: your identity needs "${need}" in namespace ${op.namespace} (docs/one-off-jobs.md, "Permissions")`,
  );
}

interface Terminated {
  pod: string;
  exitCode: number;
  reason?: string;
}

/** Streams each pod's log once, in creation order, until the Job has a terminal condition. */
async function follow(
  kc: KubeConfig,
  kube: KubeClients,
  ctx: CommandContext,
  s: RunSettings,
  namespace: string,
  created: V1Job,
): Promise<ExitCodeValue> {
  const name = created.metadata?.name ?? '';
  const selector = `batch.kubernetes.io/controller-uid=${created.metadata?.uid ?? ''}`;
  const streamed = new Set<string>();
  const waitingReported = new Set<string>();
  let last: Terminated | undefined;
  for (;;) {
    ctx.shutdown.checkpoint();
    const pods = (
      await call(kube, { verb: 'list', kind: 'Pod', namespace }, () => kube.core.listNamespacedPod({ namespace, labelSelector: selector }))
    ).items.sort((a, b) => time(a) - time(b));
    for (const pod of pods) {
      const podName = pod.metadata?.name ?? '';
      if (streamed.has(podName)) continue;
      const container = toolContainerStatus(pod);
      const state = container?.state;
      if (state?.running === undefined && state?.terminated === undefined) {
        const waiting = state?.waiting;
        const key = `${podName}/${waiting?.reason ?? ''}`;
        if (
          waiting?.reason !== undefined &&
          !['ContainerCreating', 'PodInitializing'].includes(waiting.reason) &&
          !waitingReported.has(key)
        ) {
          waitingReported.add(key);
          ctx.log.warn({ namespace, pod: podName, reason: waiting.reason, message: waiting.message }, 'pod cannot start yet');
        }
        continue;
      }
      ctx.log.info({ namespace, pod: podName }, 'following pod log');
      const decoder = new TextDecoder();
      let shown = false;
      await call(kube, { verb: 'get', kind: 'Pod', namespace, name: podName, detail: 'log' }, async () => {
        try {
          await followPodLog(
            kc,
            { namespace, name: podName, container: container?.name ?? '' },
            (chunk) => {
              shown = true;
              ctx.io.stdout.write(decoder.decode(chunk, { stream: true }));
            },
            ctx.shutdown.signal,
          );
        } catch (e) {
          // Retried from the start, the stream would print again what was shown: only a stream
          // that showed nothing yet is retried. The Job itself is still followed to its end.
          if (!shown || ctx.shutdown.signal.aborted) throw e;
          ctx.log.warn(
            { namespace, pod: podName, reason: errorText(e) },
            `the pod's log stream broke off; the rest is in kubectl logs -n ${namespace} ${podName}`,
          );
        }
      });
      ctx.io.stdout.write(decoder.decode());
      streamed.add(podName);
    }
    const job = await call(kube, { verb: 'get', kind: 'Job', namespace, name }, () => kube.batch.readNamespacedJob({ namespace, name }));
    const done = job.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    if (done !== undefined) {
      const finalPods = (
        await call(kube, { verb: 'list', kind: 'Pod', namespace }, () =>
          kube.core.listNamespacedPod({ namespace, labelSelector: selector }),
        )
      ).items.sort((a, b) => time(a) - time(b));
      for (const pod of finalPods) {
        const t = toolContainerStatus(pod)?.state?.terminated;
        // Of a failed Job, the last pod that failed: an Indexed Job's other indexes may end after it.
        if (t !== undefined && (done.type === 'Complete' || t.exitCode !== 0 || last === undefined || last.exitCode === 0))
          last = { pod: pod.metadata?.name ?? '', exitCode: t.exitCode, reason: t.reason };
      }
      const indexed = job.spec?.completionMode === 'Indexed';
      const fields = {
        namespace,
        jobName: name,
        condition: done.type,
        reason: done.reason,
        message: done.message,
        pod: last?.pod,
        exitCode: last?.exitCode,
        // An Indexed Job (the fleet drill): which indexes passed and which failed.
        ...(indexed ? { completedIndexes: job.status?.completedIndexes ?? '', failedIndexes: job.status?.failedIndexes ?? '' } : {}),
      };
      if (done.type === 'Complete') {
        ctx.log.info(fields, 'Job complete');
        return ExitCode.Success;
      }
      ctx.log.error(fields, 'Job failed');
      // A Job that failed without a container exit code (deadline exceeded, pods deleted): 1.
      return (last !== undefined && last.exitCode !== 0 ? last.exitCode : ExitCode.Failed) as ExitCodeValue;
    }
    await ctx.clock.sleep(s.pollInterval, ctx.shutdown.signal);
  }
}

function time(pod: V1Pod): number {
  const t = pod.metadata?.creationTimestamp;
  return t === undefined ? 0 : new Date(t).getTime();
}

function toolContainerStatus(pod: V1Pod) {
  const statuses = pod.status?.containerStatuses ?? [];
  return statuses.find((c) => c.name === 'secret-steward') ?? statuses[0];
}
