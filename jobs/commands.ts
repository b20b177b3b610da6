import type { AnyCommand } from '../shared/runtime/command.js';

/** A command's name, one-line summary, and how to load it (lazily, so `--help` stays fast). */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<AnyCommand>;
}

/** Every `secret-steward <command>`, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'rotate',
    summary: 'Rotate Secrets whose rotation policy is due; roll out and verify consumers.',
    load: async () => (await import('./rotate.js')).rotateCommand,
  },
  {
    name: 'backup',
    summary: 'Back up Secrets, OpenPGP-encrypted on the client side, to S3 or a directory.',
    load: async () => (await import('./backup.js')).backupCommand,
  },
  {
    name: 'verify-restore',
    summary: 'DR drill: prove the latest backup is fresh, intact, decryptable and restorable.',
    load: async () => (await import('./verify-restore.js')).verifyRestoreCommand,
  },
  {
    name: 'restore',
    summary: 'Restore Secrets from a backup (create missing, or overwrite with undo).',
    load: async () => (await import('./restore.js')).restoreCommand,
  },
  {
    name: 'prune',
    summary: 'Apply the retention policy: delete old backups (never the newest complete one).',
    load: async () => (await import('./prune.js')).pruneCommand,
  },
  {
    name: 'list-backups',
    summary: 'List backups: id, time, complete or not, items, size, age, last drill result.',
    load: async () => (await import('./list-backups.js')).listBackupsCommand,
  },
  {
    name: 'keygen',
    summary: 'Create an OpenPGP key pair for backups (public half for backup, private for restore).',
    load: async () => (await import('./keygen.js')).keygenCommand,
  },
  {
    name: 'status',
    summary: 'One overview: rotation policies, latest backups and drills, key expiry, anything overdue.',
    load: async () => (await import('./status.js')).statusCommand,
  },
];
