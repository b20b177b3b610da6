import { isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { postgresqlBackend } from '../shared/rotation/backends/postgresql/index.js';
import type { RotationBackend } from '../shared/rotation/backend.js';
import { createRotateCommand } from '../shared/rotation/rotate-job.js';

/** `secret-steward rotate`: scheduled, resumable Secret rotation (logic in shared/rotation/). */
export const rotateCommand = createRotateCommand({ backends: [postgresqlBackend as RotationBackend] });

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(rotateCommand, process.argv.slice(2));
