/**
 * Key readability: for every retained backup, whether the drill's decryption keys can read it,
 * judged from the recipients its seal (or, once re-encrypted, its rekey seal) vouches for, so
 * without downloading a segment. After a key rollover the old backups stay encrypted to the old
 * key: when that key is no longer configured anywhere a restore runs, they are unrecoverable,
 * and the drill of the newest backup alone would never notice.
 */

/** A retained backup as its seal describes it. */
export interface ReadabilityCandidate {
  id: string;
  kind: 'scheduled' | 'pre-restore';
  /** Fingerprints of the keys its stored copy is encrypted to (`recipientsOf` its seal and rekey seal). */
  recipients: readonly string[];
}

export interface BackupReadability {
  id: string;
  kind: 'scheduled' | 'pre-restore';
  recipients: string[];
  /** True when at least one of the drill's decryption keys is a recipient. */
  readable: boolean;
  /** The drill's decryption keys among the recipients. */
  readableBy: string[];
}

/** The `keyReadability` section of the drill report. */
export interface KeyReadabilityReport {
  /** Fingerprints of the decryption keys the drill holds. */
  decryptionKeys: string[];
  /** Every retained authenticated backup, oldest id first. */
  backups: BackupReadability[];
  /** Ids of the backups none of the drill's decryption keys can read. */
  unreadable: string[];
}

/** How many backup ids a warning names before it says how many more there are (Events are short). */
const NAMED_IN_WARNING = 10;

/** Which of `backups` the keys `decryptionKeys` (fingerprints) can read. */
export function assessKeyReadability(backups: readonly ReadabilityCandidate[], decryptionKeys: readonly string[]): KeyReadabilityReport {
  const ours = new Set(decryptionKeys);
  const judged = [...backups]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((b): BackupReadability => {
      const readableBy = b.recipients.filter((f) => ours.has(f));
      return { id: b.id, kind: b.kind, recipients: [...b.recipients], readable: readableBy.length > 0, readableBy };
    });
  return { decryptionKeys: [...decryptionKeys], backups: judged, unreadable: judged.filter((b) => !b.readable).map((b) => b.id) };
}

/**
 * The warning when some backups are readable only by keys the drill does not hold: which
 * backups, to which keys they are encrypted, and the two ways out. Undefined when every one is
 * readable.
 */
export function unreadableWarning(r: KeyReadabilityReport): string | undefined {
  const bad = r.backups.filter((b) => !b.readable);
  if (bad.length === 0) return undefined;
  const keys = [...new Set(bad.flatMap((b) => b.recipients))].sort();
  const named = bad.slice(0, NAMED_IN_WARNING).map((b) => b.id);
  const more = bad.length > named.length ? ` and ${bad.length - named.length} more` : '';
  return (
    `${bad.length} retained backup(s) can be read only by key(s) this drill does not hold (${keys.join(', ') || 'no recipient recorded'}): ` +
    `${named.join(', ')}${more}. Keep the old private key configured (--decryption-key, repeatable) wherever backups are restored, ` +
    'or re-encrypt these backups to the current key with secret-steward rekey (docs/rekey.md)'
  );
}
