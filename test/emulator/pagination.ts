/**
 * Continue tokens for paginated lists.
 *
 * The first page of a list that does not fit takes a snapshot: the array of
 * matching stored entries (references, not copies: entries are immutable).
 * Later pages slice that array, so every page is consistent with the list's
 * resourceVersion, like etcd serving a paginated list at a fixed revision.
 * Tokens are opaque base64 JSON carrying the snapshot id, the list
 * resourceVersion, the offset, the last key served and an expiry. A token past
 * its expiry (or whose snapshot was evicted) is "too old": 410 Expired.
 */
import { randomUUID } from 'node:crypto';
import { badRequest } from './errors.js';
import type { StoredEntry } from './store.js';

/** Decoded continue token. */
export interface ContinueToken {
  v: 'emulator/1';
  id: string;
  rv: number;
  off: number;
  /** Key of the last item served; lets an expired list continue inconsistently. */
  start: string;
  exp: number;
}

interface Snapshot {
  items: StoredEntry[];
  rv: number;
  expiresAt: number;
}

/** Outcome of resolving a continue token. */
export type ResolvedContinue =
  | { kind: 'ok'; items: StoredEntry[]; rv: number; offset: number }
  | { kind: 'expired'; start: string; rv: number };

/** Holds list snapshots behind continue tokens. */
export class ContinueTokens {
  private readonly snapshots = new Map<string, Snapshot>();

  /**
   * @param ttlMs how long a token stays valid (read on every issue)
   * @param now clock (ms since epoch)
   * @param maxSnapshots snapshots kept at once; the oldest is evicted (its tokens expire)
   */
  constructor(
    private readonly ttlMs: () => number,
    private readonly now: () => number,
    private readonly maxSnapshots = 256,
  ) {}

  /** Registers a snapshot of all items of a list whose first page was just served. */
  createSnapshot(items: StoredEntry[], rv: number): string {
    this.purge();
    const id = randomUUID();
    this.snapshots.set(id, { items, rv, expiresAt: this.now() + this.ttlMs() });
    while (this.snapshots.size > this.maxSnapshots) {
      const oldest = this.snapshots.keys().next().value as string;
      this.snapshots.delete(oldest);
    }
    return id;
  }

  /** Token for continuing `snapshotId` after `offset` items, the last one having key `start`. */
  issue(snapshotId: string, rv: number, offset: number, start: string): string {
    const snapshot = this.snapshots.get(snapshotId);
    const token: ContinueToken = {
      v: 'emulator/1',
      id: snapshotId,
      rv,
      off: offset,
      start,
      exp: snapshot?.expiresAt ?? this.now() + this.ttlMs(),
    };
    return Buffer.from(JSON.stringify(token)).toString('base64url');
  }

  /** Drops a snapshot once its last page was served. */
  release(snapshotId: string): void {
    this.snapshots.delete(snapshotId);
  }

  /** Decodes a token; malformed tokens are a 400 BadRequest as on the real server. */
  resolve(raw: string): ResolvedContinue {
    const token = decode(raw);
    const snapshot = this.snapshots.get(token.id);
    if (!snapshot || this.now() >= token.exp) return { kind: 'expired', start: token.start, rv: token.rv };
    return { kind: 'ok', items: snapshot.items, rv: snapshot.rv, offset: token.off };
  }

  private purge(): void {
    const now = this.now();
    for (const [id, s] of this.snapshots) if (s.expiresAt <= now) this.snapshots.delete(id);
  }
}

function decode(raw: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (parsed.v !== 'emulator/1' || typeof parsed.id !== 'string' || typeof parsed.off !== 'number' || typeof parsed.exp !== 'number') {
      throw new Error('unknown token version');
    }
    return parsed as ContinueToken;
  } catch (err) {
    throw badRequest(`continue key is not valid: ${(err as Error).message}`);
  }
}

/** Message of the 410 for a too-old continue token (verbatim from kube-apiserver). */
export const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';
