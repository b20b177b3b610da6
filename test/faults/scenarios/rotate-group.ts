/**
 * `rotate` of a rotation group (docs/rotation-groups.md): two in-place members, `shop/db-user`
 * (due) and `shop/db-password` (not due on its own), rotated together; the Deployment `api`
 * consumes both, `web` one. Each member is left unchanged or fully rotated with its previous
 * values in `<name>-previous`; after the rerun the group is all or nothing: both rotated, by one
 * rotation, or both unchanged.
 */
import type { CaseWorld } from '../lab.js';
import { danglingReferences, data, deployment, originalsOf, rotateArgs, rotationState, secret, secrets } from './rotate.js';
import type { Scenario } from './scenario.js';
import { valuesIn } from './shop.js';

const NS = 'shop';
const ORIGINAL = { 'db-user': { username: 'app-user-CANARY-3e1f' }, 'db-password': { password: 'db-password-CANARY-b07c' } } as const;
const MEMBERS = ['db-user', 'db-password'] as const;
const policy = (key: string, generator: string) =>
  `maxAge: 30d\nkeys: { ${key}: ${generator} }\nrollout: { waitReady: 20s }\ngroup: { name: db-creds, members: [db-user, db-password] }`;

interface Seeded {
  originals: Map<string, string>;
}

/** Violations of the group's invariants: per member unchanged or fully rotated; after the rerun, all or nothing. */
export function groupViolations(world: CaseWorld, phase: 'after-fault' | 'after-rerun'): string[] {
  const out = danglingReferences(world);
  const rotated: string[] = [];
  for (const name of MEMBERS) {
    const now = data(world, name);
    const original = ORIGINAL[name] as Record<string, string>;
    if (now === undefined) {
      out.push(`Secret ${NS}/${name} was deleted`);
      continue;
    }
    const key = Object.keys(original)[0];
    if (now[key] === original[key]) continue;
    rotated.push(name);
    if (data(world, `${name}-previous`)?.[key] !== original[key])
      out.push(`Secret ${NS}/${name} was rotated but its previous values are not recoverable from ${NS}/${name}-previous`);
  }
  if (phase === 'after-rerun' && rotated.length === 1)
    out.push(`rotation group db-creds is half rotated after the rerun: only ${rotated[0]} holds new values`);
  if (phase === 'after-rerun' && rotated.length === 2) {
    const ids = MEMBERS.map((n) => {
      const o = (world.emulator.get('v1', 'Secret', NS, n) as { metadata: { annotations?: Record<string, string> } }).metadata
        .annotations?.['secret-steward.io/last-outcome'];
      return o === undefined ? undefined : (JSON.parse(o) as { rotation: string }).rotation;
    });
    if (ids[0] !== ids[1]) out.push(`the members of rotation group db-creds were rotated by different rotations (${ids.join(', ')})`);
  }
  return out;
}

export const rotateGroupScenario: Scenario<Seeded> = {
  job: 'rotate-group',
  usesStore: false,
  description: 'rotation group of shop/db-user and shop/db-password (in place), Deployment api consuming both, web one',
  script: 'jobs/rotate.ts',
  command: async () => (await import('../../../jobs/rotate.js')).rotateCommand,
  args: rotateArgs,
  secretValues: (world, seeded) => [...valuesIn(secrets(world)), ...seeded.originals.values()],
  endState: async (world, seeded) => rotationState(world, seeded.originals),
  async seed(world) {
    world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    secret(world.emulator, 'db-user', ORIGINAL['db-user'], {
      'secret-steward.io/rotation': policy('username', 'token'),
      'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z',
    });
    secret(world.emulator, 'db-password', ORIGINAL['db-password'], {
      'secret-steward.io/rotation': policy('password', 'password'),
      'secret-steward.io/last-rotated': new Date().toISOString(),
    });
    deployment(world.emulator, 'api', { envFrom: ['db-user', 'db-password'] });
    deployment(world.emulator, 'web', { env: [['db-password', 'password']] });
    await world.emulator.workloads.idle();
    return { originals: originalsOf(world, [...MEMBERS]) };
  },
  async check(world, _seeded, phase) {
    return groupViolations(world, phase);
  },
};
