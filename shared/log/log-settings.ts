import { enumSetting, type SettingsOf } from '../config/options.js';
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
