import { durationSetting, fileSetting, integerSetting, type SettingsOf, stringSetting } from '../config/options.js';

/** How every command reaches the Kubernetes API. */
export const kubeSettings = {
  kubeconfig: fileSetting({
    description:
      'kubeconfig file(s) for the Kubernetes API; several, colon-separated, are merged as kubectl merges KUBECONFIG (the first file to name a cluster, user or context wins; current-context from the first file that sets one). Without it (and without KUBECONFIG) the in-cluster service account is used, then ~/.kube/config.',
    extraEnv: ['KUBECONFIG'],
    group: 'Kubernetes access',
  }),
  context: stringSetting({
    description: 'kubeconfig context to use instead of the current one (from any of the merged files).',
    valueName: 'NAME',
    group: 'Kubernetes access',
  }),
  apiRetryBudget: integerSetting({
    description: 'Most attempts per Kubernetes API call for retryable failures (429, 5xx, network).',
    min: 1,
    max: 20,
    default: 6,
    group: 'Kubernetes access',
  }),
} as const;

export type KubeSettings = SettingsOf<typeof kubeSettings>;

/** The Lease that keeps two runs of one job from acting at once. */
export const lockSettings = {
  lockNamespace: stringSetting({
    description: "Namespace of the job's Lease lock. Defaults to the pod's own namespace in a cluster, else secret-steward.",
    valueName: 'NAMESPACE',
    group: 'Locking',
  }),
  lockDuration: durationSetting({
    description: 'How long a lock holder may go without renewing before another run may take over.',
    default: 60_000,
    group: 'Locking',
  }),
} as const;

export type LockSettings = SettingsOf<typeof lockSettings>;
