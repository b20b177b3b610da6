import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import type { CommandContext } from '../runtime/command.js';
import { formatBytes, renderTable } from '../runtime/format.js';
import { createObjectStore } from '../storage/index.js';
import { BackupLayout } from './backup-layout.js';
import { pruneBackups } from './prune.js';
import type { PruneSettings } from './prune-settings.js';
import { retentionPolicyOf } from './retention-settings.js';

/** `secret-steward prune`: applies the retention policy (or prints the decisions with --dry-run). */
export async function runPruneJob(s: PruneSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const r = await pruneBackups(store, layout, retentionPolicyOf(s), {
    now: ctx.clock.now(),
    incompleteGraceMs: s.incompleteGrace,
    dryRun: s.dryRun,
    log: ctx.log,
    checkpoint: () => ctx.shutdown.checkpoint(),
  });
  if (s.output === 'json') {
    ctx.io.stdout.write(`${JSON.stringify({ dryRun: s.dryRun, ...r }, null, 2)}\n`);
    return ExitCode.Success;
  }
  const verb = s.dryRun ? 'would delete' : 'deleted';
  ctx.io.stdout.write(
    renderTable(
      ['BACKUP', 'COMPLETE', 'ACTION', 'WHY'],
      r.decisions.map((d) => [
        d.id,
        d.complete ? 'yes' : 'no',
        d.keep ? 'keep' : s.dryRun ? 'delete (dry run)' : 'delete',
        d.reasons.join('; '),
      ]),
    ),
  );
  const deleting = r.decisions.filter((d) => !d.keep).length;
  ctx.io.stdout.write(
    `${s.dryRun ? 'Dry run: nothing deleted. ' : ''}Kept ${r.decisions.length - deleting}, ${verb} ${deleting} backup(s)${s.dryRun ? '' : ` (${formatBytes(r.deletedBytes)})`}.\n`,
  );
  return ExitCode.Success;
}
