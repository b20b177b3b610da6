import { durationSetting, enumSetting, type SettingsOf } from '../config/options.js';
import { LOG_LEVELS, type LogFormat } from './logger.js';

/** `auto`: text when stderr is a terminal outside a pod, JSON otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'text'] as const;

/** Settings every command takes. */
export const logSettings = {
  logLevel: enumSetting(LOG_LEVELS, {
    description: 'Least severe log level written (on stderr).',
    default: 'info',
    group: 'Logging',
  }),
  logFormat: enumSetting(LOG_FORMATS, {
    description:
      'Log lines on stderr: json (one JSON object per line), text (readable lines for a terminal) or auto: text when stderr is a terminal and the process is not in a pod (no KUBERNETES_SERVICE_HOST), else json. Secret values are redacted alike in both.',
    default: 'auto',
    group: 'Logging',
  }),
} as const;

export type LogSettings = SettingsOf<typeof logSettings>;

/** Settings of the commands that report progress on long work (backup, restore, verify-restore). */
export const progressSettings = {
  progressInterval: durationSetting({
    description:
      'A progress log line (done, total, percent, rate, ETA) at least this often while a phase advances, and one every 10%. ' +
      'On a terminal a progress line is also redrawn on stderr.',
    default: 10_000,
    group: 'Logging',
  }),
} as const;

export type ProgressSettings = SettingsOf<typeof progressSettings>;

/** The format `--log-format` asks for, given whether stderr is a terminal and the environment. */
export function resolveLogFormat(setting: (typeof LOG_FORMATS)[number], stderrIsTTY: boolean, env: NodeJS.ProcessEnv): LogFormat {
  if (setting !== 'auto') return setting;
  return stderrIsTTY && !env.KUBERNETES_SERVICE_HOST ? 'text' : 'json';
}
