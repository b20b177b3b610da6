import { durationSetting, enumSetting, type SettingsOf } from '../config/options.js';
import { LOG_LEVELS } from './logger.js';

/** Settings every command takes. */
export const logSettings = {
  logLevel: enumSetting(LOG_LEVELS, {
    description: 'Least severe log level written (JSON lines on stderr).',
    default: 'info',
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
