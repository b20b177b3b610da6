import {
  booleanSetting,
  customSetting,
  durationSetting,
  fileSetting,
  integerSetting,
  type SettingsOf,
  settingLabel,
  stringSetting,
  ValueError,
} from '../config/options.js';
import { problemFor } from '../config/parse.js';
import type { ConfigProblem } from '../errors/index.js';
import { kubeSettings, lockSettings } from '../kube/kube-settings.js';
import { labelSelectorSetting } from '../kube/label-selector.js';
import { allNamespacesProblems, allNamespacesSetting, outOfScopeProblems, scopeOf, scopeSettings } from '../kube/scope.js';
import { logSettings } from '../log/log-settings.js';
import { metricsSettings } from '../metrics/pushgateway.js';
import { outputSetting } from '../runtime/output.js';

const SCOPE = 'Scope';
const BOUNDS = 'Bounds';

/** `secret-steward rotate` settings (flags and SECRET_STEWARD_* variables). */
export const rotateSettings = {
  namespace: stringSetting({
    short: 'n',
    description: 'Consider only Secrets in this namespace (repeatable). Default: every namespace (of --scope-namespaces when given).',
    valueName: 'NAMESPACE',
    repeatable: true,
    group: SCOPE,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    expected: 'a namespace name',
  }),
  allNamespaces: allNamespacesSetting(SCOPE),
  selector: labelSelectorSetting({
    short: 'l',
    description: 'Consider only Secrets matching this label selector, e.g. team=payments,tier!=dev.',
    valueName: 'SELECTOR',
    group: SCOPE,
  }),
  dryRun: booleanSetting({
    description:
      'Print the plan (what is due and why, which keys change, which workloads would restart, what is skipped and why) and write nothing: no Secret, workload, Event or Lease. Reads what a real run reads (the due Secrets, in full).',
    default: false,
    group: 'Safety',
  }),
  now: customSetting({
    description: 'With --dry-run: judge due-ness at this time instead of now (RFC 3339, e.g. 2026-03-01T03:00:00Z).',
    valueName: 'TIME',
    group: 'Safety',
    parse: (raw: string) => {
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw.trim()))
        throw new ValueError('an RFC 3339 time such as 2026-03-01T03:00:00Z');
      const t = Date.parse(raw.trim());
      if (Number.isNaN(t)) throw new ValueError('an RFC 3339 time such as 2026-03-01T03:00:00Z');
      return new Date(t);
    },
  }),
  maxRotations: integerSetting({
    description:
      'Most new rotations started per run, counting Secrets that turn out rotatable when read; Secrets due beyond it are deferred to the next run (unread). Rotations left in flight by an earlier run always continue. 0: no limit.',
    min: 0,
    max: 1_000_000,
    default: 0,
    group: BOUNDS,
  }),
  maxConcurrentRollouts: integerSetting({
    description: 'Most workloads restarting and being verified at the same time (bounds the load a run puts on the cluster).',
    min: 1,
    max: 200,
    default: 5,
    group: BOUNDS,
  }),
  rolloutPollInterval: durationSetting({
    description: 'How often a rollout is re-checked when it cannot be watched (a watch is used when possible).',
    default: 2000,
    group: BOUNDS,
  }),
  output: outputSetting({ description: 'Format of the plan or summary on stdout.', wide: false }),
  fingerprintKeyFile: fileSetting({
    description:
      'File holding the key (at least 32 bytes) of the HMAC fingerprints that logs, Events and the report show instead of values. Default: a random key per run, so fingerprints compare within one run only; with a key, across the runs that share it. Keep it as secret as the values.',
    group: 'Output',
  }),
  clusterName: stringSetting({
    description:
      'Value of the "cluster" grouping label of pushed metrics (keeps clusters sharing a Pushgateway apart). Required with --pushgateway.',
    valueName: 'NAME',
    group: 'Metrics',
    pattern: /^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/,
    expected: 'a short name such as prod-eu-1',
  }),
  ...metricsSettings,
  ...kubeSettings,
  ...scopeSettings,
  ...lockSettings,
  ...logSettings,
} as const;

export type RotateSettings = SettingsOf<typeof rotateSettings>;

export function validateRotateSettings(s: RotateSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (s.now !== undefined && !s.dryRun)
    problems.push(problemFor(rotateSettings, 'now', 'only with --dry-run (a real run always uses the clock)'));
  if (s.pushgateway !== undefined && s.clusterName === undefined)
    problems.push(
      problemFor(
        rotateSettings,
        'clusterName',
        `is required with ${settingLabel('pushgateway', rotateSettings.pushgateway)}: metrics pushed without a cluster label overwrite those of every other cluster sharing the Pushgateway`,
      ),
    );
  problems.push(...outOfScopeProblems(scopeOf(s), s.namespace, settingLabel('namespace', rotateSettings.namespace)));
  problems.push(...allNamespacesProblems(s, settingLabel('allNamespaces', rotateSettings.allNamespaces)));
  return problems;
}
