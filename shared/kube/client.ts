import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
} from '@kubernetes/client-node';
import { ConfigError } from '../errors/index.js';
import { reuseDispatchers } from './dispatcher-cache.js';
import { KubeCaller, type KubeCallerDeps } from './kube-call.js';
import type { KubeSettings } from './kube-settings.js';
import { identifyRequests, requestIdentityFor } from './request-identity.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const KUBECONFIG_SETTING = '--kubeconfig / SECRET_STEWARD_KUBECONFIG / KUBECONFIG';

/**
 * Loads Kubernetes credentials as kubectl does: `--kubeconfig`/`KUBECONFIG` if given (a
 * colon-separated list of files, merged, see {@link mergeKubeconfigFiles}), else the in-cluster
 * service account, else `~/.kube/config`. A list of which no file exists, a file that is not a
 * kubeconfig and an unknown context are configuration errors naming the setting.
 */
export function loadKubeConfig(
  settings: Pick<KubeSettings, 'kubeconfig' | 'context'>,
  env: NodeJS.ProcessEnv = process.env,
  /** Prefix of the service account folder, for tests. @default '' (the pod's own) */
  serviceAccountRoot = '',
): KubeConfig {
  let kc = new KubeConfig();
  if (settings.kubeconfig !== undefined) {
    kc = mergeKubeconfigFiles(settings.kubeconfig.split(delimiter));
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccountRoot + SA_DIR, 'token'))) {
    kc.loadFromCluster(serviceAccountRoot);
  } else if (existsSync(join(env.HOME ?? homedir(), '.kube', 'config'))) {
    kc = mergeKubeconfigFiles([join(env.HOME ?? homedir(), '.kube', 'config')]);
  } else {
    throw ConfigError.single(
      KUBECONFIG_SETTING,
      'no Kubernetes access configured: give a kubeconfig file, or run in a pod with a service account token',
    );
  }
  if (settings.context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === settings.context)) {
      throw ConfigError.single('--context / SECRET_STEWARD_CONTEXT', `no context named "${settings.context}" in the kubeconfig`);
    }
    kc.setCurrentContext(settings.context);
  }
  if (kc.getCurrentCluster() === null) {
    throw ConfigError.single(KUBECONFIG_SETTING, 'the kubeconfig has no current cluster');
  }
  return kc;
}

/**
 * Merges kubeconfig files by kubectl's rules (client-go clientcmd `ClientConfigLoadingRules.Load`):
 * files that do not exist are skipped, and so is a file named twice; the first file to define a
 * cluster, user or context by a name wins whole (a later file's entry of that name is ignored,
 * even its other fields); `current-context` comes from the first file that sets one; relative
 * paths in a file are resolved against that file's folder.
 */
export function mergeKubeconfigFiles(paths: readonly string[]): KubeConfig {
  const files = [...new Set(paths.filter((f) => f !== ''))];
  const loaded = files
    .filter((f) => existsSync(f))
    .map((file) => {
      const kc = new KubeConfig();
      try {
        kc.loadFromFile(file);
      } catch {
        throw ConfigError.single(KUBECONFIG_SETTING, `not a valid kubeconfig file: ${file}`);
      }
      return kc;
    });
  if (loaded.length === 0) {
    throw ConfigError.single(KUBECONFIG_SETTING, `file not found: ${files.join(delimiter) || '(empty list)'}`);
  }
  const merged = new KubeConfig();
  merged.loadFromOptions({
    clusters: firstByName(loaded.map((kc) => kc.clusters)),
    users: firstByName(loaded.map((kc) => kc.users)),
    contexts: firstByName(loaded.map((kc) => kc.contexts)),
    currentContext: loaded.map((kc) => kc.currentContext).find((c) => typeof c === 'string' && c !== '') ?? '',
  });
  return merged;
}

/** The entries of several lists with the first of each name, in order of first appearance. */
function firstByName<T extends { name: string }>(lists: readonly (readonly T[])[]): T[] {
  const byName = new Map<string, T>();
  for (const list of lists) for (const item of list) if (!byName.has(item.name)) byName.set(item.name, item);
  return [...byName.values()];
}

/** The namespace this pod runs in, when in a cluster. */
export function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The typed API groups every job uses, plus the caller that runs calls with retries. */
export interface KubeClients {
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  coordination: CoordinationV1Api;
  /** SelfSubjectAccessReviews (`check`). */
  authorization: AuthorizationV1Api;
  /** Custom resources: Argo Rollouts (shared/kube/workloads.ts). */
  custom: CustomObjectsApi;
  caller: KubeCaller;
}

/**
 * Builds the API clients of `secret-steward <command>`. Every request they make, and every raw
 * request or watch made with the same `kc`, carries the command's User-Agent and, on writes, its
 * `fieldManager` (see request-identity.ts).
 */
export function createKubeClients(kc: KubeConfig, deps: KubeCallerDeps & { command: string }): KubeClients {
  // One connection pool per client set, not a new one per request (see dispatcher-cache.ts).
  reuseDispatchers(kc);
  identifyRequests(kc, requestIdentityFor(deps.command));
  // kc.makeApiClient, less its middleware that sets client-node's own User-Agent after ours.
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const configuration = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc } });
  return {
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    batch: new BatchV1Api(configuration),
    coordination: new CoordinationV1Api(configuration),
    authorization: new AuthorizationV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    caller: new KubeCaller(deps),
  };
}
