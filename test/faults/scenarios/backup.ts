/**
 * `backup` of the shop plus six 900 KiB Secrets, uncompressed, in 6 MiB segments with 5 MiB
 * parts: two segments, the first one a multipart upload of two parts, so that part, segment
 * and index faults all exist. Signed index.
 */
import { backupMatches, completeBackupsWhole, noOpenUploads, nothingNewStored, type SecretView, secretsUnchanged } from '../invariants.js';
import { type CaseWorld, CLUSTER } from '../lab.js';
import { completeBackups, openUploads, type Scenario, storedKeys } from './scenario.js';
import { bytesFor, SHOP_NAMESPACES, secretsIn, seedShop, valuesIn } from './shop.js';

const NAMESPACES = [...SHOP_NAMESPACES, 'bulk'];

const BIG: SecretView[] = Array.from({ length: 6 }, (_, i) => ({
  metadata: { name: `big-${i + 1}`, namespace: 'bulk' },
  type: 'Opaque',
  data: { blob: bytesFor(`big-${i + 1}`, 900 * 1024).toString('base64') },
}));

export function backupArgs(world: CaseWorld): string[] {
  const { recipient, signer } = world.lab;
  return [
    '--recipient-key',
    recipient.publicKey,
    '--signing-key',
    signer.privateKey,
    '--signing-key-passphrase-file',
    signer.passphraseFile,
  ];
}

export const backupScenario: Scenario<SecretView[]> = {
  job: 'backup',
  usesStore: true,
  description: '8 shop Secrets + 6 x 900 KiB in 2 segments (the first a 2-part multipart upload), signed index',
  script: 'jobs/backup.ts',
  command: async () => (await import('../../../jobs/backup.js')).backupCommand,
  seed: (world) => seedShop(world.emulator, BIG),
  args: (world) => [
    ...world.baseArgs(),
    ...backupArgs(world),
    '--segment-size',
    '6',
    '--compression',
    'none',
    '--s3-part-size',
    '5',
    '--page-size',
    '10',
    '--output',
    'json',
  ],
  secretValues: (world) => valuesIn(secretsIn(world.emulator, NAMESPACES)),
  async endState(world) {
    const latest = (await completeBackups(world)).at(-1);
    return {
      secrets: Object.fromEntries(secretsIn(world.emulator, NAMESPACES).map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s.data])),
      latestBackup: latest === undefined ? null : Object.fromEntries([...latest.indexed].sort()),
    };
  },
  async check(world, seeded, phase, run) {
    const backups = await completeBackups(world);
    const out = [
      ...secretsUnchanged(seeded, secretsIn(world.emulator, NAMESPACES)),
      ...completeBackupsWhole(backups),
      ...backups.flatMap((b) => backupMatches(b, seeded)),
    ];
    const uploads = await openUploads(world);
    if (phase === 'after-rerun' || (run.code !== null && run.code !== 0)) out.push(...noOpenUploads(uploads.inStore, uploads.onTheWire));
    // A backup run that failed deletes what it stored (the bucket started empty).
    if (phase === 'after-fault' && run.code !== null && run.code !== 0)
      out.push(...nothingNewStored(new Set(), await storedKeys(world), `${CLUSTER}/backups/`));
    return out;
  },
};
