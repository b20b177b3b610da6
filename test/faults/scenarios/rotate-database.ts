/**
 * `rotate` with a database backend (single-user), one scenario per backend built here:
 * `shop/db` holds the credential of account `fault_app` on a real database server that the
 * matrix starts once (test/support), plus a DATABASE_URL template; a Deployment consumes it.
 * Every case starts with the account's password reset to the original.
 *
 * Invariants besides the in-place ones (unchanged or fully rotated, previous recoverable):
 * - the database accepts the Secret's password whenever no rotation is in flight (no pending
 *   companion): a Secret never ends pointing at a password the database does not accept;
 * - while one is in flight (a pending companion at set or tested), the database accepts either
 *   the Secret's password or the pending one: nothing but those two;
 * - after the clean rerun, the database accepts the Secret's password and not the original
 *   one (when rotated).
 */
import { isDeepStrictEqual } from 'node:util';
import type { CaseWorld } from '../lab.js';
import { danglingReferences, data, deployment, originalsOf, rotateArgs, rotationState, secret, secrets } from './rotate.js';
import { exitText, type Scenario } from './scenario.js';
import { valuesIn } from './shop.js';

const NS = 'shop';
const ROLE = 'fault_app';
const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };
const urlencode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

/** What the scenarios need of a database server of test/support. */
export interface DatabaseServer {
  host: string;
  port: number;
  caPem: string;
  /** undefined when `user` logs in to `database` with `password`. */
  login(user: string, password: string, database?: string): Promise<{ code?: string; message: string } | undefined>;
  stop(): Promise<void>;
}

/** What differs between the backends: their server, its SQL and the Secret's backend settings. */
export interface DatabaseBackend<S extends DatabaseServer> {
  /** The backend's name in the policy, the job's suffix (`rotate-<name>`). */
  name: string;
  /** The server's product, for messages. */
  product: string;
  description: string;
  /** The scheme of DATABASE_URL. */
  scheme: string;
  /** The original password: a canary the lab looks for in every log line and stored byte. */
  originalPassword: string;
  /** The policy's `backend:` line. */
  backendPolicy: string;
  /** Keys the Secret holds before its credential (the CA to verify the server with). */
  extraData(s: S): Record<string, string>;
  /** Starts the server; `parentDir` for its files. */
  start(parentDir: string): Promise<S>;
  /** Creates database `shop` and account `role` with `password`. */
  create(s: S, role: string, password: string): Promise<void>;
  /** Sets the account's password back. */
  resetPassword(s: S, role: string, password: string): Promise<void>;
}

interface Seeded {
  originals: Map<string, string>;
}

/** The scenario of `backend`, and the server its `prepare` started (for the checks' own tests). */
export function databaseRotationScenario<S extends DatabaseServer>(
  backend: DatabaseBackend<S>,
): { scenario: Scenario<Seeded>; serverOfMatrix: () => S | undefined } {
  const ORIGINAL_PASSWORD = backend.originalPassword;
  let server: S | undefined;

  function db(): S {
    if (server === undefined) throw new Error(`the ${backend.product} server of the matrix is not running (prepare was not called)`);
    return server;
  }

  function original(): Record<string, string> {
    const { host, port } = db();
    return {
      ...backend.extraData(db()),
      username: ROLE,
      password: ORIGINAL_PASSWORD,
      host,
      port: String(port),
      database: 'shop',
      DATABASE_URL: `${backend.scheme}://${ROLE}:${ORIGINAL_PASSWORD}@${host}:${port}/shop`,
    };
  }

  const POLICY = [
    'maxAge: 30d',
    'keys:',
    '  password: { generator: password, length: 24, symbols: "!#%+-.:=@^_~" }',
    `  DATABASE_URL: { generator: template, template: "${backend.scheme}://{{ username }}:{{ password | urlencode }}@{{ host }}:{{ port }}/{{ database }}" }`,
    'rollout: { waitReady: 20s }',
    backend.backendPolicy,
  ].join('\n');

  const accepts = async (password: string | undefined): Promise<boolean> =>
    password !== undefined && (await db().login(ROLE, password, 'shop')) === undefined;

  const scenario: Scenario<Seeded> = {
    job: `rotate-${backend.name}`,
    usesStore: false,
    description: backend.description,
    script: 'jobs/rotate.ts',
    command: async () => (await import('../../../jobs/rotate.js')).rotateCommand,
    args: rotateArgs,
    async prepare() {
      // Not under the lab's TMPDIR: that one is private to root (the server's user could not
      // enter it) and is scanned for canaries, which the server's own files would trip.
      server ??= await backend.start('/tmp');
      await backend.create(db(), ROLE, ORIGINAL_PASSWORD);
      return undefined;
    },
    async teardown() {
      await server?.stop();
      server = undefined;
    },
    async seed(world) {
      await backend.resetPassword(db(), ROLE, ORIGINAL_PASSWORD);
      world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
      secret(world.emulator, 'db', original(), { 'secret-steward.io/rotation': POLICY, ...LONG_AGO });
      deployment(world.emulator, 'api', { envFrom: ['db'] });
      await world.emulator.workloads.idle();
      return { originals: originalsOf(world, ['db']) };
    },
    secretValues: (world: CaseWorld, seeded: Seeded) => [...valuesIn(secrets(world)), ...seeded.originals.values()],
    async endState(world, seeded) {
      return { cluster: rotationState(world, seeded.originals), databaseAcceptsTheSecret: await accepts(data(world, 'db')?.password) };
    },
    async check(world, _seeded, phase, run) {
      const out = danglingReferences(world);
      const now = data(world, 'db');
      if (now === undefined) return [...out, 'Secret shop/db was deleted'];
      const base = original();
      const rotated = !isDeepStrictEqual(now, base);
      if (rotated) {
        const { password, ...rest } = now;
        const { password: _p, DATABASE_URL: _u, ...baseRest } = base;
        const { DATABASE_URL, ...restNoUrl } = rest;
        if (
          password === ORIGINAL_PASSWORD ||
          !isDeepStrictEqual(restNoUrl, baseRest) ||
          DATABASE_URL !== `${backend.scheme}://${ROLE}:${urlencode(password)}@${base.host}:${base.port}/shop`
        ) {
          out.push(
            'Secret shop/db is neither unchanged nor fully rotated (a key kept its old value, or the URL does not embed the new password)',
          );
        }
        if (data(world, 'db-previous')?.password !== ORIGINAL_PASSWORD)
          out.push('Secret shop/db was rotated but its previous password is not recoverable from shop/db-previous');
      }
      const pending = data(world, 'db-pending');
      const step = (
        world.emulator.get('v1', 'Secret', NS, 'db-pending') as { metadata?: { annotations?: Record<string, string> } } | undefined
      )?.metadata?.annotations?.['secret-steward.io/rotation-step'];
      const secretWorks = await accepts(now.password);
      if (pending === undefined || phase === 'after-rerun') {
        if (!secretWorks) out.push(`${phase}: the database refuses the password shop/db holds (no rotation in flight; ${exitText(run)})`);
      } else if (!secretWorks && !(await accepts(pending.password))) {
        out.push(
          `${phase}: the database accepts neither the password of shop/db nor the pending one (companion at step ${step ?? '?'}; ${exitText(run)})`,
        );
      }
      if (phase === 'after-rerun' && rotated && (await accepts(ORIGINAL_PASSWORD)))
        out.push('after-rerun: the database still accepts the original password after the rotation finished');
      return out;
    },
  };
  return { scenario, serverOfMatrix: () => server };
}
