import { readCatalogue } from '../backup/backup-catalog.js';
import type { BackupKind } from '../backup/backup-index.js';
import { type BackupLayout, INDEX_NAME } from '../backup/backup-layout.js';
import { type SealTrust, sealOf, writeSeal } from '../backup/backup-seal.js';
import type { SigningKey } from '../crypto/index.js';
import { errorText } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Shutdown } from '../runtime/shutdown.js';
import { TOOL_VERSION } from '../runtime/version.js';
import type { ObjectStore } from '../storage/index.js';
import { VerifiedBackup } from '../verify-restore/backup-reader.js';
import { BackupVerificationError } from '../verify-restore/verification-error.js';
import type { VerificationKeys } from '../verify-restore/verification-keys.js';

export interface AdoptDeps {
  store: ObjectStore;
  layout: BackupLayout;
  keys: VerificationKeys;
  trust: SealTrust;
  /** The key that seals each kind; a kind without one is skipped. */
  signers: Partial<Record<BackupKind, SigningKey>>;
  /** UID of the cluster the backups were taken from. */
  clusterUid: string;
  log: Logger;
  clock: Clock;
  shutdown: Shutdown;
}

export interface AdoptedBackup {
  id: string;
  kind?: BackupKind;
  result: 'sealed' | 'would seal' | 'skipped' | 'failed';
  detail: string;
}

/**
 * Seals backups made before seals existed, after verifying each of them in full exactly as
 * restore would (its index decrypts and its signature verifies by a trusted signer, every
 * segment matches the index, every Secret its recorded hash): the seal then vouches for what
 * was checked. The kind comes from the signed index, never from object metadata. Candidates are
 * the catalogue's unsealed backups with an index (all of them, or the ids given); anything
 * already sealed is left as it is.
 */
export async function runAdopt(deps: AdoptDeps, o: { ids: readonly string[]; dryRun: boolean }): Promise<AdoptedBackup[]> {
  const { store, layout, keys } = deps;
  const catalogue = await readCatalogue(store, layout, deps.trust);
  const candidates = catalogue.entries.filter(
    (e) => e.verdict.status === 'unsealed' && e.objects.has(INDEX_NAME) && (o.ids.length === 0 || o.ids.includes(e.id)),
  );
  const out: AdoptedBackup[] = [];
  for (const id of o.ids.filter((i) => !candidates.some((c) => c.id === i))) {
    const e = catalogue.entries.find((x) => x.id === id);
    out.push({
      id,
      result: 'skipped',
      detail:
        e === undefined
          ? 'no such backup'
          : e.authenticated
            ? 'already sealed'
            : 'not a backup made before seals (it has a seal, or no index)',
    });
  }
  for (const c of candidates) {
    deps.shutdown.checkpoint();
    const now = deps.clock.now();
    let backup: VerifiedBackup;
    try {
      backup = await VerifiedBackup.open({ store, layout, keys, now }, c.id, { legacy: true });
      for (let n = 1; n <= backup.segmentCount; n++) {
        deps.shutdown.checkpoint();
        for await (const item of backup.readSegment(n)) {
          if (item.mismatch !== undefined) throw new BackupVerificationError('segment-content', c.id, item.mismatch, { segment: n });
        }
      }
    } catch (e) {
      if (!(e instanceof BackupVerificationError)) throw e;
      out.push({ id: c.id, result: 'failed', detail: `not sealed: ${e.message}` });
      deps.log.warn({ backupId: c.id, err: e }, 'backup not adopted: it failed verification');
      continue;
    }
    const kind = backup.index.kind;
    const signer = deps.signers[kind];
    if (signer === undefined) {
      out.push({
        id: c.id,
        kind,
        result: 'skipped',
        detail: `a ${kind} backup: give ${kind === 'scheduled' ? '--signing-key' : '--pre-restore-signing-key'} to seal it`,
      });
      continue;
    }
    const stored = await store.digest(layout.indexKey(c.id));
    const seal = {
      ...sealOf(backup.index, stored, deps.clusterUid, TOOL_VERSION),
      adopted: { at: now.toISOString(), toolVersion: TOOL_VERSION },
    };
    const detail = `${backup.index.totals.secrets} Secrets in ${backup.segmentCount} segment(s) verified; signed by ${backup.signature.signerFingerprint ?? backup.signature.status}`;
    if (o.dryRun) {
      out.push({ id: c.id, kind, result: 'would seal', detail });
      continue;
    }
    try {
      await writeSeal(store, layout, seal, signer, now);
    } catch (e) {
      out.push({ id: c.id, kind, result: 'failed', detail: `verified, but the seal could not be written: ${errorText(e)}` });
      continue;
    }
    deps.log.info({ backupId: c.id, kind }, 'backup made before seals verified and sealed');
    out.push({ id: c.id, kind, result: 'sealed', detail });
  }
  return out;
}
