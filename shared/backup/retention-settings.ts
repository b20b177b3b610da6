import { durationSetting, integerSetting, type SettingsOf } from '../config/options.js';
import type { RetentionPolicy } from './retention.js';

const GROUP = 'Retention (restic forget semantics; rules are ORed)';

/** Retention rules, shared by `prune` and by `backup` (which prunes after success when any rule is set). */
export const retentionSettings = {
  keepLast: integerSetting({ description: 'Keep the N newest complete backups.', min: 1, group: GROUP }),
  keepHourly: integerSetting({
    description: 'Keep the newest backup of each of the N most recent hours that have one (UTC).',
    min: 1,
    group: GROUP,
  }),
  keepDaily: integerSetting({
    description: 'Keep the newest backup of each of the N most recent days that have one (UTC).',
    min: 1,
    group: GROUP,
  }),
  keepWeekly: integerSetting({
    description: 'Keep the newest backup of each of the N most recent ISO weeks that have one.',
    min: 1,
    group: GROUP,
  }),
  keepMonthly: integerSetting({
    description: 'Keep the newest backup of each of the N most recent months that have one.',
    min: 1,
    group: GROUP,
  }),
  keepYearly: integerSetting({
    description: 'Keep the newest backup of each of the N most recent years that have one.',
    min: 1,
    group: GROUP,
  }),
  keepWithin: durationSetting({
    description: 'Keep every backup created within this long of the NEWEST backup (not of now), e.g. 7d.',
    group: GROUP,
  }),
  incompleteGrace: durationSetting({
    description:
      'Incomplete backups (no index: a run died) younger than this are left alone, as they may still be in progress; older ones are deleted.',
    default: 24 * 3_600_000,
    group: GROUP,
  }),
} as const;

export type RetentionSettings = SettingsOf<typeof retentionSettings>;

/** The rules of the retention settings (`--incomplete-grace` is not a rule). */
export function retentionPolicyOf(s: Omit<RetentionSettings, 'incompleteGrace'>): RetentionPolicy {
  return {
    last: s.keepLast,
    hourly: s.keepHourly,
    daily: s.keepDaily,
    weekly: s.keepWeekly,
    monthly: s.keepMonthly,
    yearly: s.keepYearly,
    within: s.keepWithin,
  };
}
