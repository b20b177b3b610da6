/**
 * `rekey` of the shop backup (3 segments, encrypted to the lab's recipient) to a second key
 * pair, signed with rekey's own key. Whatever request fails and wherever the job is killed, the
 * backup must stay ONE complete copy that the readers' own code authenticates and reads whole
 * (every Secret matching the signed index), encrypted to exactly the old or exactly the new key;
 * after the rerun it is the new key's, with no object of another generation left.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readCatalogue } from '../../../shared/backup/backup-catalog.js';
import { BackupLayout, SEAL_NAME } from '../../../shared/backup/backup-layout.js';
import { recipientsOf, storedObjectsOf } from '../../../shared/backup/backup-seal.js';
import { secretDataDigest } from '../../../shared/backup/secret-digest.js';
import { loadDecryptionKeys, loadTrustedSignerKeys } from '../../../shared/crypto/keys.js';
import { VerifiedBackup } from '../../../shared/verify-restore/backup-reader.js';
import { type TestKeyFiles, writeTestKeyPair } from '../../support/job-harness.js';
import { noOpenUploads, type SecretView, secretsUnchanged } from '../invariants.js';
import { type CaseWorld, CLUSTER, type FaultLab } from '../lab.js';
import { openUploads, type Scenario } from './scenario.js';
import { SHOP_NAMESPACES, secretsIn, seedShop, valuesIn } from './shop.js';
import { shopBackup } from './shop-backup.js';

/** The key pair the backup is re-encrypted to, and rekey's own signing key, per matrix run. */
const extraKeys = new WeakMap<FaultLab, { next: TestKeyFiles; rekey: TestKeyFiles }>();

function keysFor(lab: FaultLab): { next: TestKeyFiles; rekey: TestKeyFiles } {
  const k = extraKeys.get(lab);
  if (k === undefined) throw new Error('rekey scenario: prepare() has not run');
  return k;
}

/** What the store holds of the (one) backup, judged and read with the readers' own code. */
interface Inspection {
  problems: string[];
  recipients: string[];
  /** Objects of the backup its seal names (and the seal). */
  objects: string[];
  /** Objects of the backup its seal does not name (leftovers of an interrupted run). */
  extra: string[];
  /** Secret -> data digest, as read from the backup. */
  digests: Map<string, string>;
}

async function inspect(world: CaseWorld): Promise<Inspection> {
  const { lab } = world;
  const { next, rekey } = keysFor(lab);
  const store = world.directStore();
  const layout = new BackupLayout(CLUSTER);
  const [scheduled, preRestore, rekeySigners, oldKeys, newKeys] = await Promise.all([
    loadTrustedSignerKeys([lab.signer.publicKey]),
    loadTrustedSignerKeys([lab.preRestoreSigner.publicKey]),
    loadTrustedSignerKeys([rekey.publicKey]),
    loadDecryptionKeys([lab.recipient.privateKey], lab.recipient.passphraseFile),
    loadDecryptionKeys([next.privateKey], next.passphraseFile),
  ]);
  const decryptionKeys = [...oldKeys, ...newKeys];
  const catalogue = await readCatalogue(store, layout, {
    signers: { scheduled, 'pre-restore': preRestore },
    rekeySigners,
    now: new Date(),
  });
  const empty = { recipients: [], objects: [], extra: [], digests: new Map<string, string>() };
  if (catalogue.entries.length !== 1)
    return { ...empty, problems: [`the store holds ${catalogue.entries.length} backups, not the one rekeyed`] };
  const e = catalogue.entries[0];
  const a = e.authenticated;
  if (a === undefined)
    return {
      ...empty,
      problems: [
        `backup ${e.id} is no longer a complete, authenticated backup: ${JSON.stringify(e.verdict).slice(0, 300)} ${e.damage.join('; ')}`,
      ],
    };
  const recipients = recipientsOf(a.seal, a.rekey);
  const objects = [...e.objects.keys()].sort();
  const problems: string[] = [];
  if (!(recipients.length === 1 && (recipients[0] === lab.recipient.fingerprint || recipients[0] === next.fingerprint)))
    problems.push(`backup ${e.id} is encrypted to ${recipients.join(', ')}: neither exactly the old nor exactly the new key`);
  const digests = new Map<string, string>();
  try {
    const keys = { decryptionKeys, trustedSigners: [...scheduled, ...preRestore], allowUnsigned: new Set<string>() };
    const backup = await VerifiedBackup.open({ store, layout, keys, now: new Date() }, e.id, {
      seal: a.seal,
      signer: a.signer,
      ...(a.rekey ? { rekey: a.rekey } : {}),
    });
    for (let n = 1; n <= backup.segmentCount; n++) {
      for await (const item of backup.readSegment(n)) {
        if (item.mismatch !== undefined) problems.push(`backup ${e.id}: ${item.mismatch}`);
        digests.set(`${item.secret.metadata.namespace}/${item.secret.metadata.name}`, secretDataDigest(item.secret.data));
      }
    }
  } catch (err) {
    problems.push(`backup ${e.id} does not read whole: ${(err as Error).message.slice(0, 300)}`);
  }
  const named = storedObjectsOf(a.seal, a.rekey);
  const extra = objects.filter((o) => o !== SEAL_NAME && o !== named.index.name && !named.segments.some((s) => s.name === o));
  return { problems, recipients, objects: objects.filter((o) => !extra.includes(o)), extra, digests };
}

export const rekeyScenario: Scenario<SecretView[]> = {
  job: 'rekey',
  usesStore: true,
  description: 'rekey of the shop backup (3 segments) from the lab key to a second key pair, rekey seal by its own key',
  script: 'jobs/rekey.ts',
  command: async () => (await import('../../../jobs/rekey.js')).rekeyCommand,
  async prepare(lab) {
    if (!extraKeys.has(lab)) {
      const dir = join(lab.root, 'rekey-keys');
      await mkdir(dir, { recursive: true });
      extraKeys.set(lab, { next: await writeTestKeyPair(dir, 'next-recipient'), rekey: await writeTestKeyPair(dir, 'rekey') });
    }
    return shopBackup(lab);
  },
  seed: (world) => seedShop(world.emulator),
  args: (world) => {
    const { recipient, signer, preRestoreSigner } = world.lab;
    const { next, rekey } = keysFor(world.lab);
    return [
      ...world.baseArgs(),
      '--decryption-key',
      recipient.privateKey,
      '--decryption-key-passphrase-file',
      recipient.passphraseFile,
      '--trusted-signer-key',
      signer.publicKey,
      '--pre-restore-signer-key',
      preRestoreSigner.publicKey,
      '--recipient-key',
      next.publicKey,
      '--rekey-signing-key',
      rekey.privateKey,
      '--rekey-signing-key-passphrase-file',
      rekey.passphraseFile,
      '--output',
      'json',
    ];
  },
  secretValues: (world) => valuesIn(secretsIn(world.emulator, SHOP_NAMESPACES)),
  async endState(world) {
    const got = await inspect(world);
    return {
      secrets: Object.fromEntries(
        secretsIn(world.emulator, SHOP_NAMESPACES).map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s.data]),
      ),
      recipients: got.recipients,
      objects: got.objects,
      extra: got.extra,
      backedUp: Object.fromEntries([...got.digests].sort()),
    };
  },
  async check(world, seeded, phase) {
    const got = await inspect(world);
    const out = [...secretsUnchanged(seeded, secretsIn(world.emulator, SHOP_NAMESPACES)), ...got.problems];
    for (const s of seeded) {
      const k = `${s.metadata.namespace}/${s.metadata.name}`;
      if (got.problems.length === 0 && got.digests.get(k) !== secretDataDigest(s.data))
        out.push(`the backup no longer holds ${k} as backed up`);
    }
    if (phase === 'after-rerun') {
      const { next } = keysFor(world.lab);
      if (got.recipients.join() !== next.fingerprint)
        out.push(`after the rerun the backup is still encrypted to ${got.recipients.join(', ')}`);
      if (got.extra.length > 0) out.push(`after the rerun the backup still holds objects its seal does not name: ${got.extra.join(', ')}`);
      const uploads = await openUploads(world);
      out.push(...noOpenUploads(uploads.inStore, uploads.onTheWire));
    }
    return out;
  },
};
