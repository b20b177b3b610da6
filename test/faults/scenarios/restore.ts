/**
 * `restore --mode overwrite` of the shop backup into a cluster that drifted from it: one Secret
 * deleted (created again), one changed (saved in a pre-restore backup, then overwritten), the
 * rest unchanged.
 */
import { secretDataDigest } from '../../../shared/backup/secret-digest.js';
import { completeBackupsWhole, key, noOpenUploads, type SecretView } from '../invariants.js';

import { completeBackups, openUploads, type Scenario } from './scenario.js';
import { SHOP_NAMESPACES, secretsIn, seedShop, valuesIn } from './shop.js';
import { shopBackup } from './shop-backup.js';
import { readKeyArgs } from './verify-restore.js';

interface Seeded {
  /** The Secrets as backed up. */
  backedUp: SecretView[];
  /** The Secrets as they were before the restore. */
  live: SecretView[];
}

const LIVE_API_KEY = 'live-api-key-changed-after-backup-3e9d';

/** The pre-restore backup: encrypted to the recipient, sealed with the restore job's own key. */
function preRestoreArgs(world: Parameters<typeof readKeyArgs>[0]): string[] {
  const { recipient, preRestoreSigner } = world.lab;
  return [
    '--recipient-key',
    recipient.publicKey,
    '--pre-restore-signing-key',
    preRestoreSigner.privateKey,
    '--pre-restore-signing-key-passphrase-file',
    preRestoreSigner.passphraseFile,
  ];
}

export const restoreScenario: Scenario<Seeded> = {
  job: 'restore',
  usesStore: true,
  description: 'overwrite restore of the shop backup: 1 Secret missing, 1 changed (pre-restore backup), 6 unchanged',
  script: 'jobs/restore.ts',
  command: async () => (await import('../../../jobs/restore.js')).restoreCommand,
  prepare: shopBackup,
  async seed(world) {
    const backedUp = await seedShop(world.emulator);
    world.emulator.delete('v1', 'Secret', 'shop', 'db');
    const apiKey = world.emulator.get('v1', 'Secret', 'web', 'api-key') as unknown as SecretView;
    world.emulator.update({
      apiVersion: 'v1',
      kind: 'Secret',
      ...apiKey,
      data: { key: Buffer.from(LIVE_API_KEY).toString('base64') },
    } as never);
    return { backedUp, live: secretsIn(world.emulator, SHOP_NAMESPACES) };
  },
  args: (world) => [...world.baseArgs(), ...readKeyArgs(world), ...preRestoreArgs(world), '--mode', 'overwrite', '--output', 'json'],
  secretValues: (world, seeded) => [...valuesIn(secretsIn(world.emulator, SHOP_NAMESPACES)), ...valuesIn(seeded.live)],
  async endState(world) {
    return { secrets: Object.fromEntries(secretsIn(world.emulator, SHOP_NAMESPACES).map((s) => [key(s), s.data])) };
  },
  async check(world, seeded, phase, run) {
    const backups = await completeBackups(world);
    const out = [...completeBackupsWhole(backups), ...restoredOrKept(seeded, secretsIn(world.emulator, SHOP_NAMESPACES), backups)];
    const uploads = await openUploads(world);
    if (phase === 'after-rerun' || (run.code !== null && run.code !== 0)) out.push(...noOpenUploads(uploads.inStore, uploads.onTheWire));
    return out;
  },
};

/**
 * No Secret data lost: each Secret holds its live value or its backed-up value (nothing else,
 * and it is not gone), and a live value that was overwritten is in a complete pre-restore backup.
 */
export function restoredOrKept(seeded: Seeded, now: readonly SecretView[], backups: Awaited<ReturnType<typeof completeBackups>>): string[] {
  const out: string[] = [];
  const current = new Map(now.map((s) => [key(s), secretDataDigest(s.data)]));
  const live = new Map(seeded.live.map((s) => [key(s), secretDataDigest(s.data)]));
  const backedUp = new Map(seeded.backedUp.map((s) => [key(s), secretDataDigest(s.data)]));
  const saved = new Set(
    backups.filter((b) => b.kind === 'pre-restore').flatMap((b) => [...b.indexed].map(([k, digest]) => `${k} ${digest}`)),
  );
  for (const k of new Set([...live.keys(), ...backedUp.keys()])) {
    const is = current.get(k);
    if (is === undefined) {
      if (live.has(k)) out.push(`Secret ${k} was deleted`);
      continue;
    }
    if (is !== live.get(k) && is !== backedUp.get(k)) out.push(`Secret ${k} holds neither its live nor its backed-up data`);
    if (live.has(k) && is !== live.get(k) && !saved.has(`${k} ${live.get(k)}`))
      out.push(`Secret ${k} was overwritten and its previous data is in no complete pre-restore backup`);
  }
  return out;
}
