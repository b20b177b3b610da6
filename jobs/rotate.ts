import { SHIPPED_BACKENDS } from '../shared/rotate/backends/index.js';
import { createRotateCommand } from '../shared/rotate/rotate-job.js';
import { isEntrypoint, runCommand } from '../shared/runtime/command.js';

/** `secret-steward rotate`: scheduled, resumable Secret rotation (logic in shared/rotate/). */
export const rotateCommand = createRotateCommand({ backends: SHIPPED_BACKENDS });

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(rotateCommand, process.argv.slice(2));
