import { z } from 'zod';
import type { Compression } from './backup-layout.js';

export const INDEX_FORMAT = 'secret-steward.io/backup-index/v1';

/** Why a backup was taken: on schedule/by hand, or automatically before a restore overwrote Secrets. */
export type BackupKind = 'scheduled' | 'pre-restore';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const segmentSchema = z.object({
  /** File name inside the backup's directory, e.g. `segment-00001.json.gz.pgp`. */
  name: z.string(),
  /** Bytes stored (the OpenPGP message). */
  size: z.number().int().nonnegative(),
  /** SHA-256 of the stored bytes, read back after upload. */
  sha256: sha256Hex,
  items: z.number().int().nonnegative(),
  /** Bytes of JSON before compression and encryption. */
  plaintextBytes: z.number().int().nonnegative(),
});

const secretEntrySchema = z.object({
  namespace: z.string(),
  name: z.string(),
  type: z.string(),
  /** {@link secretDataDigest} of the Secret's data. */
  dataSha256: sha256Hex,
  /** 1-based segment number holding it. */
  segment: z.number().int().positive(),
  immutable: z.boolean().optional(),
});

export const backupIndexSchema = z.object({
  format: z.literal(INDEX_FORMAT),
  backupId: z.string(),
  cluster: z.string(),
  kind: z.enum(['scheduled', 'pre-restore']),
  createdAt: z.string(),
  completedAt: z.string(),
  toolVersion: z.string(),
  /** resourceVersion of the Secret list snapshot the backup was taken from. */
  listResourceVersion: z.string(),
  selection: z.object({
    namespaces: z.array(z.string()),
    excludeNamespaces: z.array(z.string()),
    selector: z.string().optional(),
    excludeTypes: z.array(z.string()),
  }),
  compression: z.enum(['gzip', 'none']),
  /** Fingerprints of the keys every segment and the index are encrypted to. */
  recipients: z.array(z.string()),
  /** Fingerprint of the key that signed the index, if any. */
  signer: z.string().optional(),
  segments: z.array(segmentSchema),
  secrets: z.array(secretEntrySchema),
  totals: z.object({
    secrets: z.number().int().nonnegative(),
    segments: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
    plaintextBytes: z.number().int().nonnegative(),
  }),
});

export type BackupIndex = z.infer<typeof backupIndexSchema>;
export type SegmentEntry = z.infer<typeof segmentSchema>;
export type SecretEntry = z.infer<typeof secretEntrySchema>;

/**
 * Parses a decrypted index document; returns the problems (field paths) when it does not
 * match the format, so that a verifier can report "index malformed: segments.3.sha256".
 */
export function parseBackupIndex(text: string): { index: BackupIndex } | { problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problems: ['index is not JSON'] };
  }
  const r = backupIndexSchema.safeParse(raw);
  if (r.success) return { index: r.data };
  return { problems: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
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
