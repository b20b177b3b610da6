/**
 * Child process of measure-drill-memory.ts: runs one command exactly like the CronJob
 * entrypoint does and reports its own peak RSS (getrusage maxrss) and CPU time on the last line
 * of stderr.
 */
import { restoreCommand } from '../../../jobs/restore.js';
import { verifyRestoreCommand } from '../../../jobs/verify-restore.js';
import { runCommand } from '../../../shared/runtime/command.js';

const [which, ...args] = process.argv.slice(2);
const command = (which === 'restore' ? restoreCommand : verifyRestoreCommand) as unknown as Parameters<typeof runCommand>[0];
const code = await runCommand(command, args, {
  env: process.env,
  stdout: process.stdout,
  stderr: { write: () => true },
  logSink: { write: () => undefined } as never,
});
const usage = process.resourceUsage();
process.stderr.write(`\nMAXRSS_KB ${usage.maxRSS} CPU_MS ${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)} EXIT ${code}\n`);
process.exitCode = code;
if (typeof (globalThis as { gc?: () => void }).gc === 'function') {
  (globalThis as unknown as { gc: () => void }).gc();
  const m = process.memoryUsage();
  process.stderr.write(
    `AFTER_GC heapUsed=${(m.heapUsed / 1048576).toFixed(0)}MiB external=${(m.external / 1048576).toFixed(0)}MiB arrayBuffers=${(m.arrayBuffers / 1048576).toFixed(0)}MiB rss=${(m.rss / 1048576).toFixed(0)}MiB\n`,
  );
}
