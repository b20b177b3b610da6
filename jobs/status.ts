import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { runStatusJob } from '../shared/status/status-job.js';
import { statusHelp, statusSettings, validateStatusSettings } from '../shared/status/status-settings.js';

/** `secret-steward status`: one read-only overview of rotation, backups, drills and keys (logic in shared/status/). */
export const statusCommand = defineCommand({
  help: statusHelp,
  settings: statusSettings,
  validate: validateStatusSettings,
  run: (settings, ctx) => runStatusJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(statusCommand, process.argv.slice(2));
