import { durationSetting, integerSetting, numberSetting, type SettingsOf } from '../config/options.js';
import type { PreRestorePolicy, RetentionPolicy } from './retention.js';

const GROUP = 'Retention (restic forget semantics; rules are ORed; only authenticated backups take part)';

/** Retention rules, shared by `prune` and by `backup` (which prunes after success when any rule is set). */
export const retentionSettings = {
  keepLast: integerSetting({ description: 'Keep the N newest scheduled backups.', min: 1, group: GROUP }),
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
  keepPreRestoreWithin: durationSetting({
    description:
      "Keep every pre-restore backup (the undo of a restore) younger than this, measured from now. Pre-restore backups never take or displace a scheduled backup's slot, and the newest one is always kept.",
    default: 30 * 86_400_000,
    group: GROUP,
  }),
  keepPreRestoreLast: integerSetting({ description: 'Also keep the N newest pre-restore backups, however old.', min: 1, group: GROUP }),
  maxDeleteShare: numberSetting({
    description:
      'Most of the authenticated backups one run may delete, as a fraction (0.5: half). A run that would delete more deletes nothing and fails, so that a policy typo or a wrong clock cannot empty the store; set 1 to allow it.',
    min: 0,
    max: 1,
    default: 0.5,
    group: GROUP,
  }),
} as const;

export type RetentionSettings = SettingsOf<typeof retentionSettings>;

/** The rules for scheduled backups. */
export function retentionPolicyOf(s: RetentionSettings): RetentionPolicy {
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

/** The rule for pre-restore backups. */
export function preRestorePolicyOf(s: Pick<RetentionSettings, 'keepPreRestoreWithin' | 'keepPreRestoreLast'>): PreRestorePolicy {
  return { within: s.keepPreRestoreWithin, ...(s.keepPreRestoreLast === undefined ? {} : { last: s.keepPreRestoreLast }) };
}
