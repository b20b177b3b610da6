/**
 * `verify-restore` of the shop backup into a pre-created drill namespace, in batches of 4
 * Secrets (three batches: creates, list and deletecollection each), with a signed report.
 */
import { BackupLayout } from '../../../shared/backup/backup-layout.js';
import { noDrillObjects, type SecretView, secretsUnchanged } from '../invariants.js';
import { type CaseWorld, CLUSTER } from '../lab.js';
import { type Scenario, storedKeys } from './scenario.js';
import { SHOP_NAMESPACES, secretsIn, seedShop, valuesIn } from './shop.js';
import { shopBackup } from './shop-backup.js';

export const DRILL_NAMESPACE = 'secret-steward-drill';

/** Flags that read a backup: the private key, its passphrase and the trusted signer. */
export function readKeyArgs(world: CaseWorld): string[] {
  const { recipient, signer } = world.lab;
  return [
    '--decryption-key',
    recipient.privateKey,
    '--decryption-key-passphrase-file',
    recipient.passphraseFile,
    '--trusted-signer-key',
    signer.publicKey,
  ];
}

function drillObjects(world: CaseWorld): string[] {
  return world.emulator.list('v1', 'Secret', DRILL_NAMESPACE, { labelSelector: 'secret-steward.io/drill' }).map((s) => s.metadata!.name!);
}

export const verifyRestoreScenario: Scenario<SecretView[]> = {
  job: 'verify-restore',
  usesStore: true,
  description: 'drill of the shop backup (3 segments, 7 Secrets) in batches of 4, signed report',
  script: 'jobs/verify-restore.ts',
  command: async () => (await import('../../../jobs/verify-restore.js')).verifyRestoreCommand,
  prepare: shopBackup,
  async seed(world) {
    const seeded = await seedShop(world.emulator);
    world.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DRILL_NAMESPACE } });
    return seeded;
  },
  args: (world) => [
    ...world.baseArgs(),
    ...readKeyArgs(world),
    '--drill-namespace',
    DRILL_NAMESPACE,
    '--drill-batch-secrets',
    '4',
    '--report-signing-key',
    world.lab.signer.privateKey,
    '--report-signing-key-passphrase-file',
    world.lab.signer.passphraseFile,
    '--output',
    'json',
  ],
  secretValues: (world) => valuesIn(secretsIn(world.emulator, SHOP_NAMESPACES)),
  async endState(world) {
    const layout = new BackupLayout(CLUSTER);
    const reports = (await storedKeys(world)).map((k) => layout.parseReportKey(k)).filter((r) => r !== undefined);
    return {
      secrets: Object.fromEntries(
        secretsIn(world.emulator, SHOP_NAMESPACES).map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s.data]),
      ),
      drillObjects: drillObjects(world),
      passReportStored: reports.some((r) => r.passed),
    };
  },
  async check(world, seeded, phase, run) {
    const out = secretsUnchanged(seeded, secretsIn(world.emulator, SHOP_NAMESPACES));
    // The drill removes its objects at the end of every run it is still alive for; a killed one leaves them to the next run.
    if (phase === 'after-rerun' || run.code !== null) out.push(...noDrillObjects(drillObjects(world)));
    return out;
  },
};
