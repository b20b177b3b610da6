import type { V1Container, V1CronJob, V1Job, V1JobSpec } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { parseSettings } from '../config/parse.js';
import { ConfigError, type ConfigProblem } from '../errors/index.js';
import { RUNNABLE } from './run-settings.js';

/** What `kubectl create job --from=cronjob/...` sets on the Job, and the CronJob controller does not. */
export const INSTANTIATE_ANNOTATION = 'cronjob.kubernetes.io/instantiate';
/** Label of every Job `secret-steward run` creates: `kubectl get jobs -l secret-steward.io/run=manual`. */
export const RUN_LABEL = 'secret-steward.io/run';
/** The container of the shipped manifests; a template with one container may name it otherwise. */
const CONTAINER = 'secret-steward';

/** Where a one-off Job's template comes from: an installed CronJob or a Job manifest. */
export interface JobTemplateSource {
  kind: 'CronJob' | 'Job';
  name: string;
  /** The CronJob's UID, for the ownerReference (a manifest has none). */
  uid?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: V1JobSpec;
  /** The setting that named the source, for problems. */
  setting: string;
}

export function templateFromCronJob(cronJob: V1CronJob): JobTemplateSource {
  const template = cronJob.spec?.jobTemplate;
  if (template?.spec === undefined) {
    throw ConfigError.single('--cronjob', `CronJob ${cronJob.metadata?.namespace}/${cronJob.metadata?.name} has no jobTemplate.spec`);
  }
  return {
    kind: 'CronJob',
    name: cronJob.metadata?.name ?? '',
    uid: cronJob.metadata?.uid,
    labels: { ...(template.metadata?.labels ?? {}) },
    annotations: { ...(template.metadata?.annotations ?? {}) },
    spec: structuredClone(template.spec),
    setting: '--cronjob',
  };
}

/** The first `kind: Job` document of a manifest file's text. */
export function templateFromJobManifest(text: string, file: string): JobTemplateSource {
  const setting = '--job-file / SECRET_STEWARD_JOB_FILE';
  let docs: unknown[];
  try {
    docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS();
    });
  } catch {
    throw ConfigError.single(setting, `${file} is not YAML or JSON`);
  }
  const job = docs.find((d): d is V1Job => typeof d === 'object' && d !== null && (d as V1Job).kind === 'Job');
  if (job?.spec === undefined) throw ConfigError.single(setting, `${file} holds no Job with a spec`);
  return {
    kind: 'Job',
    name: job.metadata?.name ?? '',
    labels: { ...(job.metadata?.labels ?? {}) },
    annotations: { ...(job.metadata?.annotations ?? {}) },
    spec: job.spec,
    setting,
  };
}

/** The container that runs the tool: the one named secret-steward, or the only one. */
function toolContainer(source: JobTemplateSource): V1Container {
  const containers = source.spec.template?.spec?.containers ?? [];
  const container = containers.find((c) => c.name === CONTAINER) ?? (containers.length === 1 ? containers[0] : undefined);
  if (container === undefined) {
    throw ConfigError.single(source.setting, `${source.kind} ${source.name} has no container named ${CONTAINER}`);
  }
  return container;
}

/**
 * The container arguments of the one-off Job: the template's (a CronJob's `[backup]`) plus
 * `extra`; a Job manifest's own arguments after the command are an example (the shipped restore
 * Job's), replaced by `extra`. Throws a ConfigError (exit 2) when the template runs another
 * command, or when `extra` does not parse with the command's own settings table: an unknown
 * option, a bad value, a single-valued option given twice. Settings that are required but come
 * from the Job's environment (its ConfigMaps) are not checked here: the Job checks them.
 */
export function oneOffArgs(source: JobTemplateSource, command: string, extra: readonly string[]): string[] {
  const target = RUNNABLE[command];
  const templateArgs = toolContainer(source).args ?? [];
  if (templateArgs[0] !== command) {
    const runs = templateArgs[0] === undefined ? 'no command' : `"${templateArgs[0]}"`;
    throw ConfigError.single(source.setting, `${source.kind} ${source.name} runs ${runs}, not "${command}"`);
  }
  const args = source.kind === 'CronJob' ? [...templateArgs, ...extra] : [command, ...extra];
  if (extra.includes('--help') || extra.includes('-h')) {
    throw ConfigError.single(command, `--help is not run as a Job: see secret-steward ${command} --help`);
  }
  let problems: readonly ConfigProblem[] = [];
  try {
    parseSettings(target.settings, args.slice(1), {});
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Only required settings are reported as "is required"; their values are in the Job's env.
    problems = e.problems.filter((p) => !p.message.startsWith('is required'));
  }
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map((p) => ({ setting: `${command} ${p.setting}`, message: p.message })),
      `invalid arguments for ${command}, no Job created`,
    );
  }
  return args;
}

/**
 * The Job `secret-steward run` creates, as `kubectl create job --from=cronjob/NAME` builds it
 * (kubectl's create_job.go, createJobFromCronJob): the jobTemplate's spec, labels and annotations,
 * annotation cronjob.kubernetes.io/instantiate=manual, and for a CronJob a controller
 * ownerReference without blockOwnerDeletion (which would need the cronjobs/finalizers
 * permission). Plus our label secret-steward.io/run=manual, and the tool container's args.
 */
export function buildOneOffJob(source: JobTemplateSource, args: readonly string[], o: { namespace: string; now: Date }): V1Job {
  const spec = structuredClone(source.spec);
  const container = toolContainer({ ...source, spec });
  container.args = [...args];
  const stamp = o.now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = `-manual-${stamp}`;
  // 63: the name is also the value of the pods' job-name label.
  const name = `${source.name.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: o.namespace,
      labels: { ...source.labels, [RUN_LABEL]: 'manual' },
      annotations: { [INSTANTIATE_ANNOTATION]: 'manual', ...source.annotations },
      ...(source.kind === 'CronJob' && source.uid !== undefined
        ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: source.name, uid: source.uid, controller: true }] }
        : {}),
    },
    spec,
  };
}
