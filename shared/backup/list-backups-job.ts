import { loadTrustedSignerKeys } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import type { CommandContext } from '../runtime/command.js';
import { formatAge, formatBytes, renderTable } from '../runtime/format.js';
import { isDocumentOutput, renderDocument } from '../runtime/output.js';
import { createObjectStore } from '../storage/index.js';
import { type CatalogueEntry, mayBeInProgress, problemOf, readCatalogue } from './backup-catalog.js';
import { BackupLayout, backupIdTime } from './backup-layout.js';
import { loadSealTrust } from './catalogue-settings.js';
import { type DrillEvidence, listDrillReports, verifyDrillReports } from './drill-evidence.js';
import { discoverFleet, type FleetDiscovery, ignoredPrefixesNote } from './fleet-discovery.js';
import type { ListBackupsSettings } from './list-backups-settings.js';

/** Version of the `-o json` document; changes are listed in CHANGELOG.md. */
export const LIST_BACKUPS_FORMAT = 'secret-steward.io/list-backups/v2';

/**
 * `secret-steward list-backups`: the catalogue, newest first, with what each backup's seal
 * vouches for (kind, creation time, Secret count) and its last drill, believed only when its
 * report verifies. Needs public keys only; without them nothing is authenticated, and says so.
 */
export async function runListBackupsJob(s: ListBackupsSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const now = ctx.clock.now();
  const trust = await loadSealTrust(s, { now });
  const drillSigners = await loadTrustedSignerKeys(s.drillSignerKey, {
    setting: '--drill-signer-key / SECRET_STEWARD_DRILL_SIGNER_KEY',
    windows: false,
  });
  const noKeys = s.trustedSignerKey.length === 0 && s.preRestoreSignerKey.length === 0;
  // A fleet (a DR site): every cluster's catalogue in one table, cluster by cluster.
  const fleet = s.fleetCluster.length > 0 || s.fleetDiscover;
  const discovered: FleetDiscovery | undefined = s.fleetDiscover ? await discoverFleet(store, s.fleetAllow) : undefined;
  const clusters = discovered ? discovered.clusters : fleet ? s.fleetCluster : [s.clusterName as string];
  const rows: Row[] = [];
  const strays: string[] = [];
  // Clusters of the fleet with no authenticated backup: named, since a table cannot show an absent row.
  const unbacked: string[] = [];
  for (const cluster of clusters) {
    const layout = new BackupLayout(cluster);
    const [catalogue, claims] = await Promise.all([readCatalogue(store, layout, trust), listDrillReports(store, layout)]);
    // The newest report per backup, verified.
    const newestClaims = [...new Map(claims.map((c) => [c.backupId, c] as const).reverse()).values()];
    const drills = new Map((await verifyDrillReports(store, layout, newestClaims, drillSigners, { now })).map((d) => [d.backupId, d]));
    for (const e of [...catalogue.entries].reverse())
      rows.push({ ...(fleet ? { cluster } : {}), ...row(e, drills.get(e.id), now, s.incompleteGrace, noKeys) });
    strays.push(...catalogue.strays);
    if (fleet && !catalogue.entries.some((e) => e.authenticated)) unbacked.push(cluster);
  }
  const location = fleet ? store.location : `${store.location}/${new BackupLayout(clusters[0]).backupsPrefix()}`;

  if (isDocumentOutput(s.output)) {
    const discovery = discovered ? { discovery: { allow: s.fleetAllow, clusters: discovered.clusters, ignored: discovered.ignored } } : {};
    ctx.io.stdout.write(
      renderDocument(
        { format: LIST_BACKUPS_FORMAT, location, backups: rows, strays, ...(fleet ? { unbacked } : {}), ...discovery },
        s.output,
      ),
    );
    return ExitCode.Success;
  }
  const ignored = discovered ? ignoredPrefixesNote(discovered, location) : undefined;
  if (rows.length === 0) {
    const none = discovered && clusters.length === 0 ? `no cluster matching --fleet-allow ${s.fleetAllow.join(',')}` : undefined;
    ctx.io.stdout.write(`No backups under ${fleet ? `${location} for ${none ?? clusters.join(', ')}` : location}\n`);
    if (ignored !== undefined) ctx.io.stdout.write(`${ignored}.\n`);
    return ExitCode.Success;
  }
  // -o wide: what the seal and the drill report add (segments, signer, cluster uid, report key).
  const wide = s.output === 'wide';
  ctx.io.stdout.write(
    renderTable(
      [
        ...(fleet ? ['CLUSTER'] : []),
        'BACKUP',
        'KIND',
        'CREATED',
        'AGE',
        'STATUS',
        'SECRETS',
        'SIZE',
        'LAST DRILL',
        ...(wide ? ['SEGMENTS', 'SIGNER', 'CLUSTER UID', 'DRILL REPORT'] : []),
      ],
      rows.map((r) => [
        ...(fleet ? [r.cluster ?? '-'] : []),
        r.id,
        r.kind ?? '-',
        r.createdAt.replace('.000Z', 'Z'),
        formatAge(now.getTime() - Date.parse(r.createdAt)),
        r.authenticated ? 'sealed' : r.status,
        r.secrets === undefined ? '-' : String(r.secrets),
        formatBytes(r.storedBytes),
        r.lastDrill
          ? `${r.lastDrill.result} ${formatAge(now.getTime() - Date.parse(r.lastDrill.at))} ago${r.lastDrill.verified ? '' : ' (unverified)'}`
          : '-',
        ...(wide
          ? [r.segments === undefined ? '-' : String(r.segments), r.signer ?? '-', r.clusterUid ?? '-', r.lastDrill?.report ?? '-']
          : []),
      ]),
    ),
  );
  if (noKeys) ctx.io.stdout.write('No --trusted-signer-key given: no backup could be authenticated.\n');
  if (unbacked.length > 0 && !noKeys) ctx.io.stdout.write(`No authenticated backup of ${unbacked.join(', ')}.\n`);
  if (ignored !== undefined) ctx.io.stdout.write(`${ignored}.\n`);
  if (strays.length > 0) ctx.io.stdout.write(`${strays.length} object(s) under backups/ belong to no backup id (not ours).\n`);
  return ExitCode.Success;
}

interface Row {
  /** With --fleet-cluster: the cluster the backup belongs to. */
  cluster?: string;
  id: string;
  /** From the seal; absent for backups that are not authenticated. */
  kind?: string;
  /** The sealed creation time; for backups that are not authenticated, the time their id claims. */
  createdAt: string;
  authenticated: boolean;
  /** `sealed`, or what is wrong (`unsealed: ...`, `forged: ...`, ...). */
  status: string;
  secrets?: number;
  segments?: number;
  storedBytes: number;
  signer?: string;
  clusterUid?: string;
  lastDrill?: { result: string; at: string; report: string; verified: boolean; unverified?: string };
}

function row(e: CatalogueEntry, drill: DrillEvidence | undefined, now: Date, graceMs: number, noKeys: boolean): Row {
  const a = e.authenticated;
  const inProgress = mayBeInProgress(e, now, graceMs);
  const status = a
    ? 'sealed'
    : noKeys && e.verdict.status === 'forged'
      ? 'not checked (no --trusted-signer-key)'
      : inProgress
        ? 'unsealed (may be in progress)'
        : (problemOf(e) as string);
  return {
    id: e.id,
    ...(a ? { kind: a.kind } : {}),
    createdAt: (a ? a.createdAt : backupIdTime(e.id)).toISOString(),
    authenticated: a !== undefined,
    status,
    ...(a ? { secrets: a.seal.totals.secrets, segments: a.seal.totals.segments, signer: a.signer, clusterUid: a.seal.clusterUid } : {}),
    storedBytes: e.storedBytes,
    ...(drill
      ? {
          lastDrill: {
            result: drill.result,
            at: drill.at,
            report: drill.report,
            verified: drill.verified,
            ...(drill.unverified ? { unverified: drill.unverified } : {}),
          },
        }
      : {}),
  };
}
