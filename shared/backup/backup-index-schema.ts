import { z } from 'zod';
import { type BackupIndex, INDEX_FORMAT, type LoadedIndex, type SecretEntry, SecretTable } from './backup-index.js';

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

const indexObject = z.object({
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

export const backupIndexSchema: z.ZodType<BackupIndex> = indexObject;

/** Everything but the Secret entries, which {@link loadBackupIndex} checks one at a time (same schema, same order). */
const headerSchema = indexObject.extend({ secrets: z.array(z.unknown()) });

function problemsOf(error: z.ZodError, at: PropertyKey[] = []): string[] {
  return error.issues.map((i) => `${[...at, ...i.path].join('.') || '(root)'}: ${i.message}`);
}

/**
 * Parses a decrypted index document for a reader (verify-restore, restore): exactly as strict
 * as {@link parseBackupIndex}, with the same problems in the same order, but the Secrets end up
 * in a compact {@link SecretTable}: each entry is checked and copied on its own, so a large
 * index never exists twice as objects, and what is kept is about 70 bytes a Secret.
 */
export function loadBackupIndex(text: string): { index: LoadedIndex } | { problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problems: ['index is not JSON'] };
  }
  const header = headerSchema.safeParse(raw);
  const problems = header.success ? [] : problemsOf(header.error);
  const entries: unknown[] =
    typeof raw === 'object' && raw !== null && Array.isArray((raw as { secrets?: unknown }).secrets)
      ? (raw as { secrets: unknown[] }).secrets
      : [];
  const entryProblems: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const r = secretEntrySchema.safeParse(entries[i]);
    if (r.success) entries[i] = r.data;
    else entryProblems.push(...problemsOf(r.error, ['secrets', i]));
  }
  if (problems.length > 0 || entryProblems.length > 0) {
    // Where the whole-document schema puts them: after every field before `secrets`, before `totals`.
    const last = problems.filter((p) => p.startsWith('totals'));
    return { problems: [...problems.filter((p) => !p.startsWith('totals')), ...entryProblems, ...last] };
  }
  const { secrets: _, ...rest } = header.data!;
  return { index: { ...rest, secrets: SecretTable.of(entries as SecretEntry[], entries.length) } };
}

/**
 * Parses a decrypted index document whole, as plain objects (for tools and tests that rewrite
 * an index); returns the problems (field paths) when it does not match the format, so that a
 * verifier can report "index malformed: segments.3.sha256". Readers use {@link loadBackupIndex}.
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
