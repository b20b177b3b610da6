import {
  AmbiguousCatalogueError,
  type AuthenticatedBackup,
  authenticatedBackups,
  isAmbiguous,
  mayBeInProgress,
  problemOf,
  readCatalogue,
} from '../backup/backup-catalog.js';
import { BackupLayout } from '../backup/backup-layout.js';
import { loadSealTrust } from '../backup/catalogue-settings.js';
import { formatDuration } from '../config/options.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import type { CommandContext } from '../runtime/command.js';
import { formatAge, renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { createObjectStore } from '../storage/index.js';
import { VerifiedBackup } from '../verify-restore/backup-reader.js';
import { isVerificationError } from '../verify-restore/verification-error.js';
import { loadVerificationKeys } from '../verify-restore/verification-keys.js';
import { type IndexReader, type SecretAge, walkSecretAges } from './secret-age.js';
import type { SecretAgeSettings } from './secret-age-settings.js';

/** Version of the `-o json` document; changes are listed in CHANGELOG.md. */
export const SECRET_AGE_FORMAT = 'secret-steward.io/secret-age/v1';

/**
 * `secret-steward secret-age`: when each backed-up Secret's data last changed, from the data
 * digests in the indexes of the retained, authenticated scheduled backups (secret-age.ts).
 * Decrypts indexes only, never a segment: no Secret value is read. Exit 1 when a Secret is
 * unchanged for longer than --max-unchanged, when no authenticated backup could be read, or when
 * an authenticated backup's index could not be read (the history has a hole, or the keys are
 * wrong).
 */
export async function runSecretAgeJob(s: SecretAgeSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const now = ctx.clock.now();
  const [trust, keys] = await Promise.all([loadSealTrust(s, { now }), loadVerificationKeys({ ...s, allowUnsigned: [] })]);
  const catalogue = await readCatalogue(store, layout, trust);
  if (isAmbiguous(catalogue)) throw new AmbiguousCatalogueError(layout.cluster, catalogue.clusterUids);
  // Scheduled backups only: a pre-restore backup holds only what a restore was about to
  // overwrite, so a Secret missing from it says nothing about when the Secret changed.
  const backups = authenticatedBackups(catalogue, 'scheduled');
  const notAuthenticated = catalogue.entries.flatMap((e) =>
    e.authenticated ? [] : [{ id: e.id, inProgress: mayBeInProgress(e, now, s.incompleteGrace), problem: problemOf(e) as string }],
  );
  // A backup that is there but not authenticated may be a real one whose seal someone removed:
  // the history has a hole there, as with an unreadable index (status says the same, exit 1).
  const holes = notAuthenticated.filter((n) => !n.inProgress).length;
  const skipped = [...notAuthenticated.map((n) => ({ id: n.id, reason: n.inProgress ? 'unsealed (may be in progress)' : n.problem }))];
  const read: IndexReader = async (b: AuthenticatedBackup) => {
    try {
      const backup = await VerifiedBackup.open({ store, layout, keys, now }, b.id, {
        seal: b.seal,
        signer: b.signer,
        ...(b.rekey ? { rekey: b.rekey } : {}),
      });
      return { secrets: backup.index.secrets };
    } catch (e) {
      if (!isVerificationError(e)) throw e;
      ctx.log.warn({ backup: b.id, kind: e.kind }, `index of backup ${b.id} could not be read: ${e.message}`);
      return { skipped: `index unreadable: ${e.message}` };
    }
  };
  const include = (ns: string) => s.namespace.length === 0 || s.namespace.includes(ns);
  const walk = await walkSecretAges(backups, read, { now, maxUnchangedMs: s.maxUnchanged, include });
  const flagged = walk.secrets.filter((a) => a.flagged).length;
  const code = flagged > 0 || walk.asOf === undefined || walk.unreadable.length > 0 || holes > 0 ? ExitCode.Failed : ExitCode.Success;
  ctx.log.info(
    { secrets: walk.secrets.length, flagged, backupsRead: backups.length, unreadable: walk.unreadable.length },
    'secret ages read from the backup history',
  );

  const location = `${store.location}/${layout.backupsPrefix()}`;
  if (isDocumentOutput(s.output)) {
    const doc = {
      format: SECRET_AGE_FORMAT,
      location,
      maxUnchanged: formatDuration(s.maxUnchanged),
      ...(walk.asOf ? { asOf: walk.asOf } : {}),
      ...(walk.oldestRead ? { oldestRead: walk.oldestRead } : {}),
      flagged,
      secrets: walk.secrets.map(documentRow),
      skipped: [...skipped, ...walk.unreadable],
    };
    ctx.io.stdout.write(renderDocument(doc, s.output));
    return code;
  }
  const out = ctx.io.stdout;
  if (walk.asOf === undefined) {
    out.write(`No authenticated scheduled backup could be read under ${location}: the age of no Secret is known.\n`);
  } else {
    const wide = s.output === 'wide';
    out.write(
      renderTable(
        [
          'NAMESPACE',
          'NAME',
          ...(wide ? ['TYPE'] : []),
          'UNCHANGED SINCE',
          'FOR',
          'CHANGED AFTER',
          ...(wide ? ['SINCE BACKUP'] : []),
          'FLAG',
        ],
        walk.secrets.map((a) => [
          a.namespace,
          a.name,
          ...(wide ? [a.type] : []),
          `${a.changedAfter ? '' : 'at least '}${iso(a.unchangedSince)}`,
          formatAge(a.unchangedForMs),
          a.changedAfter ? `${iso(a.changedAfter.createdAt)} (${a.changedAfter.was})` : '-',
          ...(wide ? [a.sinceBackup] : []),
          a.flagged ? `unchanged > ${formatDuration(s.maxUnchanged)}` : '',
        ]),
      ),
    );
    out.write(
      `As of backup ${walk.asOf.backup} (${iso(walk.asOf.createdAt)}); history read back to backup ${walk.oldestRead?.backup} (${iso(walk.oldestRead?.createdAt as Date)}).\n`,
    );
    out.write(
      `${flagged} of ${walk.secrets.length} Secret(s) unchanged for longer than ${formatDuration(s.maxUnchanged)} (--max-unchanged).\n`,
    );
  }
  for (const k of [...skipped, ...walk.unreadable]) out.write(`Skipped ${k.id}: ${k.reason}\n`);
  if (holes > 0)
    out.write(
      `${holes} backup(s) under the prefix are not authenticated: the history may have a hole there, so the ages may be too young.\n`,
    );
  return code;
}

function iso(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/** A Secret's row in the `-o json` document. */
function documentRow(a: SecretAge) {
  return {
    namespace: a.namespace,
    name: a.name,
    type: a.type,
    unchangedSince: a.unchangedSince,
    /** True when every backup read holds the current data: it is older than the retained history. */
    atLeast: a.changedAfter === undefined,
    sinceBackup: a.sinceBackup,
    ...(a.changedAfter ? { changedAfter: a.changedAfter } : {}),
    unchangedForSeconds: Math.floor(a.unchangedForMs / 1000),
    flagged: a.flagged,
  };
}
