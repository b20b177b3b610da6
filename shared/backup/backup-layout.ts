import { randomBytes } from 'node:crypto';

/**
 * Where everything lives in the object store. This file is the only place that builds or
 * parses keys; everything else asks it. Keys are relative to the store root (the bucket
 * prefix of `--store`):
 *
 *   <cluster>/backups/<backupId>/segment-00001.json.gz.pgp   one OpenPGP message per segment
 *   <cluster>/backups/<backupId>/index.json.pgp              the encrypted, signed index
 *   <cluster>/backups/<backupId>/seal.json.asc               written last: the signed seal (backup-seal.ts)
 *   <cluster>/backups/<backupId>/segment-00001.r2.json.gz.pgp  a segment re-encrypted by `rekey` (generation 2)
 *   <cluster>/backups/<backupId>/index.r2.json.pgp           its index, re-encrypted (docs/rekey.md)
 *   <cluster>/reports/<drillTime>_<backupId>_<pass|fail>.json         drill report (clear JSON)
 *   <cluster>/reports/<drillTime>_<backupId>_<pass|fail>.json.asc     its detached signature
 *
 * Backup ids sort by creation time (`20261127T031500Z-3f9a1c`), but an id is only a name: what
 * a backup is (complete, whose, which kind, when) is what its signed seal says, never its key.
 */

const ID_PATTERN = /^(\d{8}T\d{6}Z)-([0-9a-f]{6})$/;
const CLUSTER_PATTERN = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
const OBJECT_NAME_PATTERN = /^(segment-\d{5}|index)(\.r[1-9]\d{0,5})?\.json(\.gz)?\.pgp$/;
const REPORT_PATTERN = /^(\d{8}T\d{6}Z)_(\d{8}T\d{6}Z-[0-9a-f]{6})_(pass|fail)\.json$/;

export const INDEX_NAME = 'index.json.pgp';
export const SEAL_NAME = 'seal.json.asc';

/** True when `name` is usable as the cluster path component (lower-case DNS label-ish). */
export function isValidClusterName(name: string): boolean {
  return CLUSTER_PATTERN.test(name);
}

/** `2026-11-27T03:15:00.123Z` -> `20261127T031500Z`. */
export function compactTime(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `20261127T031500Z` -> Date; undefined unless it is a real UTC calendar time (no month 13). */
function compactTimeOf(s: string): Date | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return compactTime(d) === s ? d : undefined;
}

/** `20261127T031500Z` -> Date. @throws Error unless `s` is a real UTC calendar time. */
export function parseCompactTime(s: string): Date {
  const d = compactTimeOf(s);
  if (d === undefined) throw new Error(`not a compact UTC time: ${s}`);
  return d;
}

/** A new backup id for a backup starting at `at`. */
export function newBackupId(at: Date): string {
  return `${compactTime(at)}-${randomBytes(3).toString('hex')}`;
}

/** True for a well-formed id whose time is a real calendar time (`20261332T...` is not). */
export function isBackupId(id: string): boolean {
  const m = ID_PATTERN.exec(id);
  return m !== null && compactTimeOf(m[1]) !== undefined;
}

/** Creation time encoded in a backup id. */
export function backupIdTime(id: string): Date {
  const m = ID_PATTERN.exec(id);
  if (!m) throw new Error(`not a backup id: ${id}`);
  return parseCompactTime(m[1]);
}

export type Compression = 'gzip' | 'none';

export function segmentName(n: number, compression: Compression): string {
  return `segment-${String(n).padStart(5, '0')}.json${compression === 'gzip' ? '.gz' : ''}.pgp`;
}

/**
 * Name of an object of a backup's re-encrypted copy (`rekey`): `segment-00001.json.gz.pgp` of
 * generation 2 is `segment-00001.r2.json.gz.pgp`, the index `index.r2.json.pgp`. Generation 0 is
 * the copy the backup job wrote, under the names it gave them. Each generation has its own
 * names, so that a new copy is written beside the current one and the seal switches between
 * them in one write.
 */
export function generationName(name: string, generation: number): string {
  if (generation === 0) return name;
  const dot = name.indexOf('.');
  return `${name.slice(0, dot)}.r${generation}${name.slice(dot)}`;
}

/** True for a name the backup job or `rekey` gives an index or a segment, of any generation. */
export function isBackupObjectName(name: string): boolean {
  return OBJECT_NAME_PATTERN.test(name);
}

/** Key builders for one cluster's area of the store. */
export class BackupLayout {
  constructor(readonly cluster: string) {}

  /** Prefix under which each backup id is a "directory". */
  backupsPrefix(): string {
    return `${this.cluster}/backups/`;
  }

  backupPrefix(id: string): string {
    return `${this.cluster}/backups/${id}/`;
  }

  segmentKey(id: string, n: number, compression: Compression): string {
    return this.backupPrefix(id) + segmentName(n, compression);
  }

  /** Key of a segment named in an index (names are validated before use). */
  segmentKeyByName(id: string, name: string): string {
    if (!/^segment-\d{5}\.json(\.gz)?\.pgp$/.test(name)) throw new Error(`invalid segment name in index: ${name}`);
    return this.backupPrefix(id) + name;
  }

  /** Key of an index or a segment of any generation named in a seal (names are validated before use). */
  objectKey(id: string, name: string): string {
    if (!isBackupObjectName(name)) throw new Error(`invalid backup object name: ${name}`);
    return this.backupPrefix(id) + name;
  }

  indexKey(id: string): string {
    return this.backupPrefix(id) + INDEX_NAME;
  }

  sealKey(id: string): string {
    return this.backupPrefix(id) + SEAL_NAME;
  }

  /** The backup id a key under backups/ belongs to, or undefined. */
  backupIdOf(key: string): string | undefined {
    const rest = key.startsWith(this.backupsPrefix()) ? key.slice(this.backupsPrefix().length) : undefined;
    const id = rest?.split('/')[0];
    return id !== undefined && isBackupId(id) ? id : undefined;
  }

  reportsPrefix(): string {
    return `${this.cluster}/reports/`;
  }

  reportKey(drillTime: Date, backupId: string, passed: boolean): string {
    return `${this.reportsPrefix()}${compactTime(drillTime)}_${backupId}_${passed ? 'pass' : 'fail'}.json`;
  }

  reportSignatureKey(reportKey: string): string {
    return `${reportKey}.asc`;
  }

  /** Parses a report key; undefined for signatures and foreign keys. */
  parseReportKey(key: string): { drillTime: Date; backupId: string; passed: boolean } | undefined {
    if (!key.startsWith(this.reportsPrefix())) return undefined;
    const m = REPORT_PATTERN.exec(key.slice(this.reportsPrefix().length));
    if (!m || compactTimeOf(m[1]) === undefined || !isBackupId(m[2])) return undefined;
    return { drillTime: parseCompactTime(m[1]), backupId: m[2], passed: m[3] === 'pass' };
  }
}
