import { StewardError } from '../errors/index.js';

/** What kind of problem stopped one Secret's rotation (the run goes on with the others). */
export type RotationErrorCode =
  /** The policy is invalid for this Secret (bad field, immutable Secret with in-place, missing template input). */
  | 'policy'
  /** Another writer changed a key the rotation changes; nothing was overwritten. */
  | 'conflict'
  /** A name we need belongs to an object that is not ours. */
  | 'collision'
  /** A generator could not produce the values (e.g. the CA Secret is missing). */
  | 'generation'
  /** A backend step (set/test) failed. */
  | 'backend'
  /** The new data would not fit a Secret. */
  | 'too-large'
  /** Another member of the Secret's rotation group failed, so this member's rotation was undone with it. */
  | 'group';

/**
 * A rotation of one Secret could not proceed. The message names the Secret and what
 * failed, never a value: "Secret apps/db: key password was changed by another writer since
 * rotation 20250301t030000-9f8e7d began; nothing was overwritten".
 */
export class RotationError extends StewardError {
  readonly code: RotationErrorCode;

  constructor(code: RotationErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}
