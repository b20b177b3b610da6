/**
 * Renders the Kustomize trees under manifests/ with `kubectl kustomize` (kubectl 1.32 has
 * kustomize built in) and picks objects out of the result. Shared by the manifest tests and
 * by the end-to-end RBAC tests, which load a job's ServiceAccount and RBAC into the emulator.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';

/** The repository root (this file is test/manifests/render.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The jobs whose ServiceAccount (`secret-steward-<job>`) the base installs. */
export const JOBS = ['backup', 'rotate', 'verify-restore', 'restore'] as const;
/** Jobs that bring their own ServiceAccount with their Job (manifests/jobs/<job>). */
export const ONE_OFF_JOBS = ['rekey'] as const;
export type JobName = (typeof JOBS)[number] | (typeof ONE_OFF_JOBS)[number];

/** A rendered Kubernetes object: plain JSON as `kubectl kustomize` printed it. */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

const execFileAsync = promisify(execFile);
const cache = new Map<string, ManifestObject[]>();

function absolute(dir: string): string {
  return isAbsolute(dir) ? dir : join(REPO_ROOT, dir);
}

function parseRendered(dir: string, yamlText: string): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: unparseable output: ${doc.errors[0].message}`);
    const value = doc.toJS() as ManifestObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

function kustomizeError(dir: string, e: unknown): Error {
  const stderr = (e as { stderr?: string | Buffer }).stderr?.toString().trim();
  return new Error(`kubectl kustomize ${dir} failed${stderr ? `: ${stderr}` : ''}`, { cause: e });
}

/**
 * Renders a kustomization directory (absolute, or relative to the repository root) into its
 * objects. Results are cached per directory; callers get a deep copy they may change.
 */
export async function renderManifests(dir: string): Promise<ManifestObject[]> {
  const key = absolute(dir);
  if (!cache.has(key)) {
    let stdout: string;
    try {
      ({ stdout } = await execFileAsync('kubectl', ['kustomize', key], { maxBuffer: 64 * 1024 * 1024 }));
    } catch (e) {
      throw kustomizeError(dir, e);
    }
    cache.set(key, parseRendered(dir, stdout));
  }
  return structuredClone(cache.get(key)!);
}

/** {@link renderManifests} for synchronous callers. */
export function renderManifestsSync(dir: string): ManifestObject[] {
  const key = absolute(dir);
  if (!cache.has(key)) {
    let stdout: string;
    try {
      stdout = execFileSync('kubectl', ['kustomize', key], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      throw kustomizeError(dir, e);
    }
    cache.set(key, parseRendered(dir, stdout));
  }
  return structuredClone(cache.get(key)!);
}

/**
 * Every directory under manifests/ that `kubectl kustomize` can build on its own: each
 * kustomization except Components (those are rendered through the overlays that use them).
 * Relative to the repository root, sorted.
 */
export function kustomizationDirs(root = 'manifests'): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    const file = join(dir, 'kustomization.yaml');
    if (existsSync(file)) {
      const doc = parse(readFileSync(file, 'utf8')) as { kind?: string } | null;
      if (doc?.kind !== 'Component') found.push(relative(REPO_ROOT, dir));
    }
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
    }
  };
  walk(absolute(root));
  return found.sort();
}

/** Kustomize Components under manifests/components (relative paths, sorted). */
export function componentDirs(): string[] {
  const root = join(REPO_ROOT, 'manifests', 'components');
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'kustomization.yaml')))
    .map((d) => relative(REPO_ROOT, join(root, d)))
    .sort();
}

/** `Kind namespace/name` (or `Kind name` for cluster-scoped objects), for messages. */
export function describeObject(obj: ManifestObject): string {
  const ns = obj.metadata?.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata?.name}`;
}

/** A pod spec inside a workload, with where it sits. */
export interface PodTemplate {
  owner: ManifestObject;
  /** JSON path of the pod spec inside the owner, e.g. `spec.jobTemplate.spec.template.spec`. */
  path: string;
  /** Labels the pods get. */
  labels: Record<string, string>;
  spec: PodSpecLike;
}

/** The parts of a core/v1 PodSpec the checks read; the rest stays reachable as unknown. */
export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  ephemeralContainers?: ContainerLike[];
  volumes?: Record<string, unknown>[];
  securityContext?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ContainerLike {
  name: string;
  [field: string]: unknown;
}

type Template = { metadata?: { labels?: Record<string, string> }; spec?: PodSpecLike };

/** Pod templates of Pods, Jobs, CronJobs and the apps/v1 workload kinds. */
export function podTemplatesOf(obj: ManifestObject): PodTemplate[] {
  const spec = obj.spec as Record<string, unknown> | undefined;
  const from = (path: string, template: Template | undefined): PodTemplate[] =>
    template?.spec ? [{ owner: obj, path, labels: template.metadata?.labels ?? {}, spec: template.spec }] : [];
  switch (obj.kind) {
    case 'Pod':
      return spec ? [{ owner: obj, path: 'spec', labels: obj.metadata.labels ?? {}, spec: spec as PodSpecLike }] : [];
    case 'CronJob':
      return from(
        'spec.jobTemplate.spec.template.spec',
        (spec?.jobTemplate as { spec?: { template?: Template } } | undefined)?.spec?.template,
      );
    case 'Job':
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'PodTemplate':
      return from('spec.template.spec', (obj.kind === 'PodTemplate' ? obj.template : spec?.template) as Template | undefined);
    default:
      return [];
  }
}

/** Every container of a pod spec (regular, init and ephemeral). */
export function allContainers(
  spec: PodSpecLike,
): { kind: 'containers' | 'initContainers' | 'ephemeralContainers'; container: ContainerLike }[] {
  return (['containers', 'initContainers', 'ephemeralContainers'] as const).flatMap((kind) =>
    (spec[kind] ?? []).map((container) => ({ kind, container })),
  );
}

/** The job a CronJob or Job runs: the label `app.kubernetes.io/component`. */
export function componentOf(obj: ManifestObject): string | undefined {
  return obj.metadata.labels?.['app.kubernetes.io/component'];
}
