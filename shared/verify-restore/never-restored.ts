import { DEFAULT_EXCLUDED_TYPES } from '../backup/backup-settings.js';

/**
 * Secret types that neither the drill nor a restore ever create, even when a backup holds them
 * (backups exclude them by default, but `--exclude-type` cannot remove the defaults and an old
 * or hand-made backup might): their controllers issue them, and a copy is a live credential
 * (a service-account token, a bootstrap token that can join nodes) in the wrong place.
 */
export const NEVER_RESTORED_TYPES: readonly string[] = DEFAULT_EXCLUDED_TYPES;
