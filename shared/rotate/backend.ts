import type { z } from 'zod';
import type { Logger } from '../log/index.js';
import type { Clock } from '../runtime/clock.js';
import type { ReferenceUse, SecretReference } from './allow-references.js';
import type { SpecProblem } from './generators/generator.js';

/** What a backend step receives. Values are never to be logged; log fingerprints if anything. */
export interface BackendStepContext<C = unknown> {
  namespace: string;
  secretName: string;
  rotationId: string;
  /** The backend's validated policy fields. */
  config: C;
  /** Every data key as the Secret holds it before the rotation. */
  current: ReadonlyMap<string, Buffer>;
  /** Every data key as the Secret will hold it after the rotation. */
  pending: ReadonlyMap<string, Buffer>;
  /**
   * True when `set` restores the values the Secret holds (a failed test, a rollback): `pending`
   * are then the values consumers still use, and `current` the ones being abandoned.
   */
  reverting: boolean;
  /**
   * Reads another Secret of the namespace for `use` (an admin credential as `admin`); undefined
   * when it does not exist. Throws, without returning its data, unless the backend declared
   * the read (`references`) and the Secret allows it (`secret-steward.io/allow-references`).
   */
  readSecret(name: string, use: ReferenceUse): Promise<ReadonlyMap<string, Buffer> | undefined>;
  log: Logger;
  /** Time and waits (retry backoff). */
  clock: Clock;
  /** Aborted on SIGTERM: stop and throw. */
  signal: AbortSignal;
  /** Registers a value with the log redactor (a credential the backend reads or derives). */
  register(value: string | Uint8Array): void;
}

/** What `prepare` receives in step 1 (create), before any generator runs. */
export interface BackendPrepareContext<C = unknown> {
  namespace: string;
  secretName: string;
  config: C;
  /** Every data key as the Secret holds it now. */
  current: ReadonlyMap<string, Buffer>;
}

/** A validated backend configuration, and the data keys the backend itself writes. */
export interface ParsedBackendConfig<C> {
  config: C;
  /**
   * Data keys the backend decides in step 1 (`prepare`), e.g. the username an
   * alternating-users rotation switches to. They are rotated keys like generated ones:
   * templates may read them, finish writes them, rollback restores them.
   */
  outputs?: string[];
}

/**
 * A rotation backend: the system the Secret's values log in to (a database, an API), changed
 * by the protocol's steps 2 and 3 as in AWS Secrets Manager rotation:
 *
 * - `set` (step 2) makes the backend accept the `pending` values, e.g. `ALTER ROLE ...
 *   PASSWORD`. It must be idempotent: after a crash it runs again with the same values.
 *   It should keep `current` working where it can (alternating users), because consumers
 *   still use them until they restart.
 * - `test` (step 3) proves that `pending` works, e.g. by logging in with them; it throws to
 *   fail the rotation.
 * - On rollback, and when `test` fails, `set` is called again with the roles swapped
 *   (`pending` = the values being restored), so `set` must accept any direction.
 * - A step that fails because the backend is unreachable throws a TransientError (after its
 *   own retries): the rotation is then reported as transient (exit code 4).
 *
 * None is registered by default; a policy names one in `backend.name`, and its other
 * `backend` fields are the backend's configuration, validated by `parseConfig`.
 */
export interface RotationBackend<C = unknown> {
  readonly name: string;
  /** Validates the policy's `backend` fields (without `name`); paths are relative to `backend`. */
  parseConfig(raw: Record<string, unknown>): ParsedBackendConfig<C> | { problems: SpecProblem[] };
  /**
   * The schema `parseConfig` validates the fields with (without `name`), for the published
   * JSON Schema of the policy (docs/rotation-policy.schema.json). Without it, that schema
   * accepts any fields for this backend.
   */
  readonly configSchema?: z.ZodType;
  /**
   * Step 1 (create), before the generators: the values of the backend's `outputs` for this
   * rotation (templates then see them). Deterministic from `current`; throws when the
   * Secret's data does not fit the configuration.
   */
  prepare?(ctx: BackendPrepareContext<C>): Map<string, Buffer>;
  /**
   * Other Secrets `set` and `test` read, and for what (paths relative to `backend`): each must
   * allow the policy's Secret with its `secret-steward.io/allow-references` annotation.
   */
  references?(config: C): SecretReference[];
  /**
   * What `status` tells an operator about a valid configuration that may not do what they
   * expect (e.g. a default that changed in a release), given the Secret's data keys (never
   * its values). Each line names the setting and what to add.
   */
  advisories?(config: C, dataKeys: ReadonlySet<string>): string[];
  set(ctx: BackendStepContext<C>): Promise<void>;
  test(ctx: BackendStepContext<C>): Promise<void>;
}

/** Backends by name; the job registers the ones it ships. */
export class BackendRegistry {
  private readonly byName = new Map<string, RotationBackend>();

  constructor(backends: readonly RotationBackend[] = []) {
    for (const b of backends) this.register(b);
  }

  register(backend: RotationBackend): void {
    if (this.byName.has(backend.name)) throw new Error(`rotation backend ${backend.name} registered twice`);
    this.byName.set(backend.name, backend);
  }

  get(name: string): RotationBackend | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return [...this.byName.keys()].sort();
  }
}
