/**
 * Every annotation and label secret-steward's rotation reads or writes, in one place.
 *
 * On a rotated Secret (the "head"):
 * - `secret-steward.io/rotation`: the policy (YAML or JSON), written by the user;
 * - `secret-steward.io/rotate-now`: any value makes the Secret due on the next run; cleared
 *   when that rotation reaches an outcome;
 * - `secret-steward.io/last-rotated`, `secret-steward.io/last-slot`: when the values last
 *   changed for good, and the schedule slot that rotation satisfied (so a slot is never
 *   rotated twice, even when a CronJob starts twice);
 * - `secret-steward.io/last-outcome`: JSON `{ result, rotation, at, slot, message }` of the
 *   last rotation that reached an outcome;
 * - `secret-steward.io/rotation-id`, `-step`, `-pending`, `-slot`: present only while an
 *   in-place rotation is between its promotion and its outcome.
 *
 * On companions (pending values, previous values) and on versions made by the versioned
 * strategy: see {@link Labels} and the `companion*`/`lineage`/`version` annotations.
 *
 * On a Secret that other Secrets' policies read (a CA, an admin credential):
 * `secret-steward.io/allow-references`, the Secrets that may, and for what.
 *
 * On workloads: `secret-steward.io/restartedAt` in the pod template (its change is the
 * restart) and `secret-steward.io/restart-previous` in the object's own metadata (what the
 * template annotation was before, so a rollback restores the template exactly);
 * `secret-steward.io/followed` in the pod template (follow mode: the data its pods started with).
 *
 * On a Secret managed by someone else: `secret-steward.io/follow` (follow mode's opt-in, written
 * by the user). Follow mode never writes such a Secret.
 */
export const PREFIX = 'secret-steward.io/';

export const Annotations = {
  policy: `${PREFIX}rotation`,
  rotateNow: `${PREFIX}rotate-now`,
  lastRotated: `${PREFIX}last-rotated`,
  lastSlot: `${PREFIX}last-slot`,
  lastOutcome: `${PREFIX}last-outcome`,
  rotationId: `${PREFIX}rotation-id`,
  rotationStep: `${PREFIX}rotation-step`,
  rotationPending: `${PREFIX}rotation-pending`,
  rotationSlot: `${PREFIX}rotation-slot`,

  /** On companions: the name of the Secret they belong to. */
  companionOf: `${PREFIX}companion-of`,
  /** On pending companions: why the rotation started (`schedule`, `max-age`, `rotate-now`, ...). */
  rotationReason: `${PREFIX}rotation-reason`,
  /** On pending companions: the value of rotate-now seen when the rotation was planned. */
  rotateNowSeen: `${PREFIX}rotate-now-seen`,
  /** On pending companions: JSON {@link BaseRecord} of the Secret's data when generation happened. */
  base: `${PREFIX}base`,
  /** On pending companions: comma-separated data keys the rotation changes. */
  rotatedKeys: `${PREFIX}rotated-keys`,
  /** On pending companions: when the rotation started (RFC 3339). */
  startedAt: `${PREFIX}started-at`,

  /** Versioned strategy: the lineage's base name, on every version it made or superseded. */
  lineage: `${PREFIX}lineage`,
  /** Versioned strategy: the version number (decimal). */
  version: `${PREFIX}version`,
  /** Versioned strategy: on an older version, the name of the version that replaced it. */
  supersededBy: `${PREFIX}superseded-by`,

  /**
   * On a Secret that policies read besides their own (an issuer, an admin credential): who may,
   * and for what (`api-tls:issuer, *:admin`). Written by the user; see allow-references.ts.
   */
  allowReferences: `${PREFIX}allow-references`,

  /** Pod-template annotation whose change restarts a workload. */
  restartedAt: `${PREFIX}restartedAt`,
  /** Workload metadata annotation: JSON {@link RestartPrevious}. */
  restartPrevious: `${PREFIX}restart-previous`,

  /**
   * On a Secret someone else manages (written by the user, through its owner's template): its
   * consumers restart when its data changes (`auto`, or `deployment/api, statefulset/db`).
   * See follow.ts and docs/follow.md.
   */
  follow: `${PREFIX}follow`,
  /**
   * Pod-template annotation: JSON `{ "<Secret>": "<keyed digest of its data>" }` of the followed
   * Secrets the template last restarted for. Its change is the restart (follow.ts).
   */
  followed: `${PREFIX}followed`,
} as const;

export const Labels = {
  managedBy: 'app.kubernetes.io/managed-by',
  /** `pending` or `previous` on companions. */
  role: `${PREFIX}role`,
  /** The rotation id on a pending companion. */
  rotationId: `${PREFIX}rotation-id`,
} as const;

export const MANAGED_BY = 'secret-steward';

export type CompanionRole = 'pending' | 'previous';

// The steps recorded in `rotation-step`, and what each means: rotation-steps.ts.

/** The outcomes recorded in `last-outcome`. */
export type OutcomeResult = 'succeeded' | 'rolled-back' | 'failed' | 'rollback-failed';

/** `secret-steward.io/last-outcome`. */
export interface LastOutcome {
  result: OutcomeResult;
  rotation: string;
  at: string;
  slot?: string;
  message?: string;
  /** The rotation stays in flight (its pending values are kept): the next run resumes it. */
  resumable?: boolean;
  /**
   * The failure was the API server's (unreachable or overloaded), not the new values' or a
   * consumer's: a rolled-back rotation is then not held until the next slot, the next run tries again.
   */
  transient?: boolean;
}

/**
 * `secret-steward.io/base` on a pending companion: the head's resourceVersion and a keyed
 * digest of each data key when the values were generated, so that finishing later (maybe in
 * another run) can tell which keys another writer changed in between. The digests are
 * HMAC-SHA-256 keyed with the pending values themselves: without those (which are as secret
 * as the Secret), they reveal nothing about low-entropy values such as user-chosen names.
 */
export interface BaseRecord {
  resourceVersion: string;
  digests: Record<string, string>;
}

/** `secret-steward.io/restart-previous` on a workload. */
export interface RestartPrevious {
  /** The pod-template annotation before our restart; null when there was none. */
  value: string | null;
  /** Rotation ids that restart was for. */
  rotations: string[];
}

export function parseLastOutcome(raw: string | undefined): LastOutcome | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<LastOutcome>;
    if (typeof v.result !== 'string' || typeof v.rotation !== 'string' || typeof v.at !== 'string') return undefined;
    return v as LastOutcome;
  } catch {
    return undefined;
  }
}

/** What the `last-outcome` of a rotation names: the rotation, its slot, whether its failure was transient. */
export interface OutcomeOf {
  id: string;
  slot: string;
  transient: boolean;
}

/** The `last-outcome` annotation value for rotation `rot` (the message cut at 512 characters). */
export function outcomeAnnotation(rot: OutcomeOf, result: OutcomeResult, at: Date, message?: string, resumable = false): string {
  const o: LastOutcome = { result, rotation: rot.id, at: at.toISOString(), slot: rot.slot };
  if (message) o.message = message.slice(0, 512);
  if (resumable) o.resumable = true;
  if (rot.transient && result !== 'succeeded') o.transient = true;
  return JSON.stringify(o);
}

/**
 * Annotation changes recorded on the Secret `head` when a rotation reaches an outcome:
 * `last-outcome`, and (when `clearRotateNow`: unless the failure happened before anything
 * changed) `rotate-now` removed if it still holds the value seen when the rotation was planned.
 */
export function outcomeChanges(
  rot: OutcomeOf & { rotateNowSeen?: string },
  head: { metadata?: { annotations?: Record<string, string> } },
  result: OutcomeResult,
  at: Date,
  message: string | undefined,
  clearRotateNow: boolean,
  resumable = false,
): Record<string, string | null> {
  const changes: Record<string, string | null> = { [Annotations.lastOutcome]: outcomeAnnotation(rot, result, at, message, resumable) };
  const current = head.metadata?.annotations?.[Annotations.rotateNow];
  if (clearRotateNow && current !== undefined) {
    const seen = rot.rotateNowSeen;
    if (seen === undefined ? rot.slot.startsWith('rotate-now@') : seen === current) changes[Annotations.rotateNow] = null;
  }
  return changes;
}

export function parseBaseRecord(raw: string | undefined): BaseRecord | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<BaseRecord>;
    if (typeof v.resourceVersion !== 'string' || v.digests === null || typeof v.digests !== 'object') return undefined;
    return v as BaseRecord;
  } catch {
    return undefined;
  }
}

export function parseRestartPrevious(raw: string | undefined): RestartPrevious | undefined {
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<RestartPrevious>;
    if (!Array.isArray(v.rotations) || (v.value !== null && typeof v.value !== 'string')) return undefined;
    return { value: v.value, rotations: v.rotations.filter((r): r is string => typeof r === 'string') };
  } catch {
    return undefined;
  }
}

/**
 * The pod-template annotation value of a restart: `<RFC 3339 time>;<rotation id>,<rotation id>`.
 * Unique per rotation (the ids are), so two restarts in the same second never collide.
 */
export function restartValue(at: Date, rotations: readonly string[]): string {
  return `${at.toISOString()};${[...rotations].sort().join(',')}`;
}

/** Rotation ids a restart value was made for (empty for values we did not write). */
export function rotationsOfRestartValue(value: string | undefined): string[] {
  if (value === undefined) return [];
  const semi = value.indexOf(';');
  if (semi === -1) return [];
  return value
    .slice(semi + 1)
    .split(',')
    .filter((s) => s !== '');
}
