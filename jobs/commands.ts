import type { AnyCommand } from '../shared/runtime/command.js';
import { adoptCommand } from './adopt.js';
import { backupCommand } from './backup.js';
import { checkCommand } from './check.js';
import { completionCommandFor } from './completion.js';
import { keygenCommand } from './keygen.js';
import { listBackupsCommand } from './list-backups.js';
import { pruneCommand } from './prune.js';
import { rekeyCommand } from './rekey.js';
import { renderReportCommand } from './render-report.js';
import { restoreCommand } from './restore.js';
import { rotateCommand } from './rotate.js';
import { runCommand } from './run.js';
import { secretAgeCommand } from './secret-age.js';
import { statusCommand } from './status.js';
import { verifyRestoreCommand } from './verify-restore.js';

/**
 * Every `secret-steward <command>`, in the order `--help` lists them; name and summary are the
 * command's own `help`. Importing them loads only settings and help: each command imports its
 * job module when it runs, so `--help` stays fast.
 */
export const COMMANDS: readonly AnyCommand[] = [
  rotateCommand,
  backupCommand,
  verifyRestoreCommand,
  restoreCommand,
  runCommand,
  pruneCommand,
  listBackupsCommand,
  renderReportCommand,
  adoptCommand,
  rekeyCommand,
  keygenCommand,
  statusCommand,
  secretAgeCommand,
  checkCommand,
  completionCommandFor(() => COMMANDS),
];
