/**
 * Invariant checks of the fault matrix. Each takes plain data (what the world holds) and
 * returns the violations it finds, one sentence each; an empty list means it holds. They are
 * kept free of the lab so that `invariants.test.ts` can feed each one a bad state and see it fail.
 */
import { isDeepStrictEqual } from 'node:util';
import { readMessage } from 'openpgp';
import { secretDataDigest } from '../../shared/backup/secret-digest.js';

/** A Secret as the checks see it. */
export interface SecretView {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  type?: string;
  immutable?: boolean;
  data?: Record<string, string>;
}

export const key = (s: SecretView) => `${s.metadata.namespace}/${s.metadata.name}`;

/**
 * No Secret data lost: every Secret of `before` still exists with byte-identical data, type and
 * immutability, except those `mayChange` names (`namespace/name`), which the job is meant to write.
 */
export function secretsUnchanged(
  before: readonly SecretView[],
  after: readonly SecretView[],
  mayChange: ReadonlySet<string> = new Set(),
): string[] {
  const now = new Map(after.map((s) => [key(s), s]));
  const out: string[] = [];
  for (const was of before) {
    const k = key(was);
    if (mayChange.has(k)) continue;
    const is = now.get(k);
    if (is === undefined) out.push(`Secret ${k} was deleted`);
    else if (secretDataDigest(is.data) !== secretDataDigest(was.data)) out.push(`Secret ${k}: its data changed`);
    else if ((is.type ?? 'Opaque') !== (was.type ?? 'Opaque') || (is.immutable ?? false) !== (was.immutable ?? false))
      out.push(`Secret ${k}: its type or immutability changed`);
  }
  return out;
}

/** A complete backup (its index is stored) as the checks see it. */
export interface BackupContent {
  id: string;
  kind: string;
  /** The index's entries: `namespace/name` -> data SHA-256 (empty when the index is unreadable). */
  indexed: Map<string, string>;
  /** The segments the index records. */
  segments: ReadonlyArray<{ name: string; size: number; sha256: string }>;
  /** The segment objects actually stored: name -> size and SHA-256 of their bytes. */
  stored: ReadonlyMap<string, { size: number; sha256: string }>;
  /** Why the index could not be read (decryption, signature, schema), if it could not. */
  problem?: string;
}

/**
 * No backup treated as complete without all its parts: a backup with an index must have a
 * readable, signed index, and every segment it records stored with the recorded size and SHA-256.
 */
export function completeBackupsWhole(backups: readonly BackupContent[]): string[] {
  const out: string[] = [];
  for (const b of backups) {
    if (b.problem !== undefined) {
      out.push(`backup ${b.id} has an index that cannot be read: ${b.problem}`);
      continue;
    }
    for (const seg of b.segments) {
      const got = b.stored.get(seg.name);
      if (got === undefined) out.push(`backup ${b.id} (${b.kind}) is complete but its ${seg.name} is missing`);
      else if (got.size !== seg.size || got.sha256 !== seg.sha256)
        out.push(
          `backup ${b.id} (${b.kind}) is complete but its ${seg.name} is not what the index records (${got.size} bytes, ${seg.size} recorded)`,
        );
    }
  }
  return out;
}

/** A complete backup must be a correct copy of what it backed up: every expected Secret, with its data. */
export function backupMatches(b: BackupContent, expected: readonly SecretView[]): string[] {
  if (b.problem !== undefined) return [];
  const want = new Map(expected.map((s) => [key(s), secretDataDigest(s.data)]));
  const missing = [...want.keys()].filter((k) => !b.indexed.has(k));
  const extra = [...b.indexed.keys()].filter((k) => !want.has(k));
  const differ = [...want.keys()].filter((k) => b.indexed.has(k) && b.indexed.get(k) !== want.get(k));
  if (missing.length + extra.length + differ.length === 0) return [];
  return [
    `backup ${b.id} (${b.kind}) is complete but is not a copy of the Secrets: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}], different data [${differ.join(', ')}]`,
  ];
}

/** No multipart upload left open: neither in the store nor as seen on the wire. */
export function noOpenUploads(inStore: ReadonlyArray<{ key: string }>, onTheWire: ReadonlyArray<{ key: string }>): string[] {
  return [
    ...inStore.map((u) => `multipart upload of ${u.key} left open in the store`),
    ...onTheWire
      .filter((u) => !inStore.some((s) => s.key === u.key))
      .map((u) => `multipart upload of ${u.key} was created and never completed or aborted`),
  ];
}

/** No objects left behind by a run that failed (its contract: a failed backup deletes what it stored). */
export function nothingNewStored(before: ReadonlySet<string>, after: readonly string[], under: string): string[] {
  const left = after.filter((k) => k.startsWith(under) && !before.has(k));
  return left.length === 0
    ? []
    : [`the failed run left ${left.length} object(s) behind: ${left.slice(0, 3).join(', ')}${left.length > 3 ? ', ...' : ''}`];
}

/** No drill objects (Secrets labelled `secret-steward.io/drill`) left in the drill namespace. */
export function noDrillObjects(names: readonly string[]): string[] {
  return names.length === 0 ? [] : [`${names.length} drill object(s) left behind: ${names.slice(0, 3).join(', ')}`];
}

/**
 * The forms a secret value may take in text: itself, JSON-escaped, base64, base64url and hex.
 * Long values are represented by a 48-byte window from their middle (their start may be a
 * common PEM header); values under 12 bytes are too likely to occur by chance to be useful.
 */
export function canaryForms(values: Iterable<string | Buffer>): string[] {
  const forms = new Set<string>();
  for (const v of values) {
    let bytes = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
    if (bytes.length < 12) continue;
    if (bytes.length > 48) {
      const at = Math.floor(bytes.length / 2);
      // Align to 3 bytes so the window's base64 is a substring of the whole value's base64.
      const start = at - (at % 3);
      bytes = bytes.subarray(start, start + 48);
    }
    const text = bytes.toString('utf8');
    if (!text.includes('\ufffd')) {
      forms.add(text);
      forms.add(JSON.stringify(text).slice(1, -1));
    }
    forms.add(bytes.toString('base64'));
    forms.add(bytes.toString('base64url'));
    forms.add(bytes.toString('hex'));
    // Raw bytes as they sit in a file read as latin1.
    forms.add(bytes.toString('latin1'));
  }
  return [...forms];
}

/** Canary scan: no form of any secret value in any of the texts (`[where, text]`). */
export function canaryScan(sources: ReadonlyArray<readonly [string, string]>, forms: readonly string[]): string[] {
  const out: string[] = [];
  for (const [where, text] of sources) {
    const hit = forms.find((f) => text.includes(f));
    if (hit !== undefined) out.push(`a secret value (${hit.length} characters) appears in ${where}`);
  }
  return out;
}

/** Stored objects named as OpenPGP messages (`.pgp`) must be encrypted messages, not plaintext. */
export async function encryptedWhereClaimed(objects: ReadonlyArray<readonly [string, Buffer]>): Promise<string[]> {
  const out: string[] = [];
  for (const [name, bytes] of objects) {
    if (!name.endsWith('.pgp')) continue;
    try {
      const message = await readMessage({ binaryMessage: bytes });
      const tags = message.packets.map((p) => (p.constructor as { tag?: number }).tag);
      // 1: public-key encrypted session key; 18 (or 20): the encrypted data.
      if (!tags.includes(1) || !(tags.includes(18) || tags.includes(20)))
        out.push(`${name} is an OpenPGP message but not an encrypted one`);
    } catch {
      out.push(`${name} is not an OpenPGP message`);
    }
  }
  return out;
}

/** The rerun converged to the clean run's end state (both normalised by the scenario). */
export function converged(clean: unknown, actual: unknown): string[] {
  if (isDeepStrictEqual(clean, actual)) return [];
  return [`the rerun did not converge to the clean run's end state: ${firstDifference(clean, actual, 'state')}`];
}

/** Where two JSON-like values first differ, as `path: expected X, got Y`. */
export function firstDifference(a: unknown, b: unknown, path: string): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== '') return d;
    }
  }
  const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 160));
  return `${path}: expected ${show(a)}, got ${show(b)}`;
}

/** The run ended with an exit code its fault allows (null: killed), did not hang, and hit no unexpected error. */
export function exitAccepted(
  run: { code: number | null; timedOut: boolean; logLines: readonly string[] },
  accepted: ReadonlyArray<number | null>,
): string[] {
  const out: string[] = [];
  if (run.timedOut) out.push('the run did not finish in time (stopped by the matrix)');
  else if (!accepted.includes(run.code))
    out.push(
      `exit code ${run.code === null ? 'none (killed)' : run.code}, expected one of ${accepted.map((c) => (c === null ? 'killed' : c)).join(', ')}`,
    );
  return [...out, ...unexpectedFailure(run.logLines)];
}

/** A run that ended on an error the code did not expect (a bug: exit 1 with "unexpected failure"). */
export function unexpectedFailure(logLines: readonly string[]): string[] {
  const line = logLines.find((l) => l.includes('"msg":"unexpected failure"'));
  return line === undefined ? [] : [`an unexpected error ended the run: ${line.slice(0, 400)}`];
}
