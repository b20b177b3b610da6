import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import type { CommandContext } from '../runtime/command.js';
import { formatAge, formatBytes, renderTable } from '../runtime/format.js';
import { createObjectStore } from '../storage/index.js';
import { latestDrills, listBackups } from './backup-catalog.js';
import { BackupLayout } from './backup-layout.js';
import type { ListBackupsSettings } from './list-backups-settings.js';

/** `secret-steward list-backups`: the catalogue with last drill results; needs no private key. */
export async function runListBackupsJob(s: ListBackupsSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const [backups, drills] = await Promise.all([listBackups(store, layout, { withMetadata: true }), latestDrills(store, layout)]);
  const now = ctx.clock.now().getTime();
  const rows = backups.reverse().map((b) => {
    const drill = drills.get(b.id);
    return {
      id: b.id,
      createdAt: b.createdAt.toISOString(),
      ageSeconds: Math.floor((now - b.createdAt.getTime()) / 1000),
      complete: b.complete,
      kind: b.meta?.kind ?? (b.complete ? 'scheduled' : undefined),
      secrets: b.meta?.secrets,
      segments: b.meta?.segments,
      storedBytes: b.storedBytes,
      signer: b.meta?.signer,
      lastDrill: drill ? { result: drill.passed ? 'pass' : 'fail', at: drill.drillTime.toISOString(), report: drill.reportKey } : undefined,
    };
  });
  if (s.output === 'json') {
    ctx.io.stdout.write(`${JSON.stringify({ location: `${store.location}/${layout.backupsPrefix()}`, backups: rows }, null, 2)}\n`);
    return ExitCode.Success;
  }
  if (rows.length === 0) {
    ctx.io.stdout.write(`No backups under ${store.location}/${layout.backupsPrefix()}\n`);
    return ExitCode.Success;
  }
  ctx.io.stdout.write(
    renderTable(
      ['BACKUP', 'CREATED', 'AGE', 'STATUS', 'SECRETS', 'SIZE', 'LAST DRILL'],
      rows.map((r) => [
        r.id,
        r.createdAt.replace('.000Z', 'Z'),
        formatAge(r.ageSeconds * 1000),
        r.complete ? (r.kind === 'pre-restore' ? 'complete (pre-restore)' : 'complete') : 'INCOMPLETE',
        r.secrets === undefined ? '-' : String(r.secrets),
        formatBytes(r.storedBytes),
        r.lastDrill ? `${r.lastDrill.result} ${formatAge(now - Date.parse(r.lastDrill.at))} ago` : '-',
      ]),
    ),
  );
  return ExitCode.Success;
}
