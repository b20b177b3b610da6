import { z } from 'zod';
import { type BackupIndex, INDEX_FORMAT } from './backup-index.js';

/*
 * The index schema, for readers (verify-restore, restore). Kept apart from backup-index.ts so
 * that the backup job, which only writes indexes, does not load zod.
 */

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

export const backupIndexSchema: z.ZodType<BackupIndex> = z.object({
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
