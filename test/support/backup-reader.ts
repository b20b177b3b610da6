/**
 * Reads a backup back with the project's own crypto, for tests of the backup format: decrypts
 * the index and every segment and returns the Secrets. (verify-restore has its own, checked
 * reader; this one is deliberately minimal.)
 */

import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { createGunzip } from 'node:zlib';
import type { BackupIndex } from '../../shared/backup/backup-index.js';
import { parseBackupIndex } from '../../shared/backup/backup-index-schema.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { decryptAndVerify, decryptStream } from '../../shared/crypto/decrypt.js';
import { loadDecryptionKeys, loadTrustedSignerKeys } from '../../shared/crypto/keys.js';
import type { ObjectStore } from '../../shared/storage/index.js';
import type { TestKeyFiles } from './job-harness.js';

export interface ReadBackup {
  index: BackupIndex;
  signature: string;
  secrets: Array<{
    metadata: { name: string; namespace: string; annotations?: Record<string, string> };
    type: string;
    data?: Record<string, string>;
    immutable?: boolean;
  }>;
  segmentTexts: string[];
}

export async function readBackup(
  store: ObjectStore,
  cluster: string,
  backupId: string,
  keys: TestKeyFiles,
  signer?: TestKeyFiles,
): Promise<ReadBackup> {
  const layout = new BackupLayout(cluster);
  const decryptionKeys = await loadDecryptionKeys([keys.privateKey], keys.passphraseFile);
  const trusted = signer ? await loadTrustedSignerKeys([signer.publicKey]) : [];
  const raw = await store.getBytes(layout.indexKey(backupId));
  const { plaintext, signature } = await decryptAndVerify(raw, { decryptionKeys, trustedSigners: trusted });
  const parsed = parseBackupIndex(Buffer.from(plaintext).toString('utf8'));
  if ('problems' in parsed) throw new Error(`bad index: ${parsed.problems.join('; ')}`);
  const secrets: ReadBackup['secrets'] = [];
  const segmentTexts: string[] = [];
  for (const seg of parsed.index.segments) {
    const plain = await decryptStream(await store.get(layout.segmentKeyByName(backupId, seg.name)), { decryptionKeys });
    const body = parsed.index.compression === 'gzip' ? plain.pipe(createGunzip()) : plain;
    const t = await text(body as Readable);
    segmentTexts.push(t);
    const list = JSON.parse(t) as { apiVersion: string; kind: string; items: ReadBackup['secrets'] };
    if (list.kind !== 'List' || list.apiVersion !== 'v1') throw new Error('segment is not a v1 List');
    secrets.push(...list.items);
  }
  return { index: parsed.index, signature: signature.status, secrets, segmentTexts };
}
