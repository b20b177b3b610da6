import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
} from '@kubernetes/client-node';
import { ConfigError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import { reuseDispatchers } from './dispatcher-cache.js';
import { KubeCaller, type KubeRetryLimits } from './kube-call.js';
import type { KubeSettings } from './kube-settings.js';
import { identifyRequests, requestIdentityFor } from './request-identity.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Loads Kubernetes credentials: `--kubeconfig`/`KUBECONFIG` if given, else the in-cluster
 * service account, else `~/.kube/config`. A missing file or unknown context is a
 * configuration error naming the setting.
 */
export function loadKubeConfig(settings: Pick<KubeSettings, 'kubeconfig' | 'context'>, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig !== undefined) {
    // KUBECONFIG may hold a list; use the first existing file like kubectl merges (simplified).
    const files = settings.kubeconfig.split(':').filter((f) => f !== '');
    const file = files.find((f) => existsSync(f));
    if (file === undefined) {
      throw ConfigError.single('--kubeconfig / SECRET_STEWARD_KUBECONFIG / KUBECONFIG', `file not found: ${settings.kubeconfig}`);
    }
    try {
      kc.loadFromFile(file);
    } catch {
      throw ConfigError.single('--kubeconfig / SECRET_STEWARD_KUBECONFIG / KUBECONFIG', `not a valid kubeconfig file: ${file}`);
    }
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) {
    kc.loadFromCluster();
  } else if (existsSync(join(env.HOME ?? homedir(), '.kube', 'config'))) {
    kc.loadFromFile(join(env.HOME ?? homedir(), '.kube', 'config'));
  } else {
    throw ConfigError.single(
      '--kubeconfig / SECRET_STEWARD_KUBECONFIG / KUBECONFIG',
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
    throw ConfigError.single('--kubeconfig / SECRET_STEWARD_KUBECONFIG / KUBECONFIG', 'the kubeconfig has no current cluster');
  }
  return kc;
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
  caller: KubeCaller;
}

/**
 * Builds the API clients of `secret-steward <command>`. Every request they make, and every raw
 * request or watch made with the same `kc`, carries the command's User-Agent and, on writes, its
 * `fieldManager` (see request-identity.ts).
 */
export function createKubeClients(
  kc: KubeConfig,
  deps: { command: string; clock: Clock; log: Logger; limits?: KubeRetryLimits; signal?: AbortSignal },
): KubeClients {
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
    caller: new KubeCaller(deps),
  };
}
