import type { Compression } from './backup-layout.js';

export const INDEX_FORMAT = 'secret-steward.io/backup-index/v1' as const;

/**
 * Largest index read before anything vouches for it: an unsealed index (made before seals
 * existed) is read whole to decrypt it and check the signature inside. About 300,000 Secrets,
 * far under verify-restore's and restore's memory limits; a sealed index is read at exactly its
 * sealed size.
 */
export const LEGACY_INDEX_LIMIT = 64 * 1024 * 1024;

/** Why a backup was taken: on schedule/by hand, or automatically before a restore overwrote Secrets. */
export type BackupKind = 'scheduled' | 'pre-restore';

/** One stored segment, as recorded in the index. */
export interface SegmentEntry {
  /** File name inside the backup's directory, e.g. `segment-00001.json.gz.pgp`. */
  name: string;
  /** Bytes stored (the OpenPGP message). */
  size: number;
  /** SHA-256 (hex) of the stored bytes, read back after upload. */
  sha256: string;
  items: number;
  /** Bytes of JSON before compression and encryption. */
  plaintextBytes: number;
}

/** One backed-up Secret, as recorded in the index (names, never values). */
export interface SecretEntry {
  namespace: string;
  name: string;
  type: string;
  /** {@link secretDataDigest} of the Secret's data (hex). */
  dataSha256: string;
  /** 1-based segment number holding it. */
  segment: number;
  immutable?: boolean;
}

/**
 * The backup index: written last, encrypted and (with a signing key) signed; its presence makes
 * a backup complete. Parsed and checked by `parseBackupIndex` (backup-index-schema.ts), which
 * only readers load.
 */
export interface BackupIndex {
  format: typeof INDEX_FORMAT;
  backupId: string;
  cluster: string;
  kind: BackupKind;
  createdAt: string;
  completedAt: string;
  toolVersion: string;
  /** resourceVersion of the Secret list snapshot the backup was taken from. */
  listResourceVersion: string;
  selection: { namespaces: string[]; excludeNamespaces: string[]; selector?: string; excludeTypes: string[] };
  compression: Compression;
  /** Fingerprints of the keys every segment and the index are encrypted to. */
  recipients: string[];
  /** Fingerprint of the key that signed the index, if any. */
  signer?: string;
  segments: SegmentEntry[];
  secrets: SecretEntry[];
  totals: { secrets: number; segments: number; storedBytes: number; plaintextBytes: number };
}

/**
 * Non-sensitive facts stored as object metadata on the index, so that listing backups,
 * freshness and shrink checks need no private key. Counts, sizes, times and key fingerprints
 * only: never Secret names or namespaces.
 */
export interface IndexMetadata {
  format: string;
  kind: BackupKind;
  createdAt: string;
  completedAt: string;
  secrets: number;
  segments: number;
  storedBytes: number;
  recipients: string[];
  signer?: string;
  toolVersion: string;
  compression: Compression;
}

const META_PREFIX = 'ss-';

export function toObjectMetadata(m: IndexMetadata): Record<string, string> {
  const out: Record<string, string> = {
    [`${META_PREFIX}format`]: m.format,
    [`${META_PREFIX}kind`]: m.kind,
    [`${META_PREFIX}created-at`]: m.createdAt,
    [`${META_PREFIX}completed-at`]: m.completedAt,
    [`${META_PREFIX}secrets`]: String(m.secrets),
    [`${META_PREFIX}segments`]: String(m.segments),
    [`${META_PREFIX}stored-bytes`]: String(m.storedBytes),
    [`${META_PREFIX}recipients`]: m.recipients.join(','),
    [`${META_PREFIX}tool-version`]: m.toolVersion,
    [`${META_PREFIX}compression`]: m.compression,
  };
  if (m.signer) out[`${META_PREFIX}signer`] = m.signer;
  return out;
}

/** Reads index metadata back; undefined when absent or not ours (e.g. a store that drops metadata). */
export function fromObjectMetadata(md: Record<string, string> | undefined): IndexMetadata | undefined {
  if (!md) return undefined;
  const get = (k: string) => md[`${META_PREFIX}${k}`] ?? md[`${META_PREFIX}${k}`.toLowerCase()];
  if (get('format') !== INDEX_FORMAT) return undefined;
  const num = (k: string) => {
    const n = Number(get(k));
    return Number.isFinite(n) ? n : 0;
  };
  return {
    format: INDEX_FORMAT,
    kind: get('kind') === 'pre-restore' ? 'pre-restore' : 'scheduled',
    createdAt: get('created-at') ?? '',
    completedAt: get('completed-at') ?? '',
    secrets: num('secrets'),
    segments: num('segments'),
    storedBytes: num('stored-bytes'),
    recipients: (get('recipients') ?? '').split(',').filter((x) => x !== ''),
    signer: get('signer') || undefined,
    toolVersion: get('tool-version') ?? '',
    compression: get('compression') === 'none' ? 'none' : 'gzip',
  };
}

/**
 * The index as JSON text, in pieces: exactly `JSON.stringify(index)`, but the `secrets` array
 * (one entry per Secret, the index's bulk) comes in chunks of about `chunkChars` characters,
 * so writing a 50,000-Secret index never holds its whole text, a Buffer copy of it and the
 * encrypted message at once.
 */
export function* indexJsonChunks(index: BackupIndex, chunkChars = 64 * 1024): Generator<string> {
  let out = '{';
  let first = true;
  for (const [key, value] of Object.entries(index)) {
    if (value === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    if (key !== 'secrets') {
      out += JSON.stringify(value);
      continue;
    }
    const entries = value as readonly SecretEntry[];
    out += '[';
    for (let i = 0; i < entries.length; i++) {
      out += (i === 0 ? '' : ',') + JSON.stringify(entries[i]);
      if (out.length >= chunkChars) {
        yield out;
        out = '';
      }
    }
    out += ']';
  }
  yield `${out}}`;
}
