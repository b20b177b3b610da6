/**
 * Backups made by hand, for the bad-input suite: whatever a writer with access to the bucket
 * (and the recipient's PUBLIC key, which is no secret) could store, encrypted and, when a
 * signer is given, signed like a real backup, so that the readers get past the checks that
 * do not concern the row and meet exactly the hostile thing it plants.
 *
 * - {@link craftBackup} writes segments from item lines (framed like `SegmentWriter`) or from
 *   a raw gzip body, and an index computed from the items the way a reader parses them, with
 *   any field overridden afterwards.
 * - {@link gzipBomb} and {@link openPgpBomb} build decompression bombs without ever holding
 *   what they inflate to: a block is deflated once and repeated, so a few MiB claim gigabytes.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { CompressedDataPacket, encrypt, enums, Message, PacketList, type PublicKey } from 'openpgp';
import {
  type BackupIndex,
  INDEX_FORMAT,
  indexJsonChunks,
  type SecretEntry,
  type SegmentEntry,
  toObjectMetadata,
} from '../../shared/backup/backup-index.js';
import { type BackupLayout, newBackupId, segmentName } from '../../shared/backup/backup-layout.js';
import { sealOf, writeSeal } from '../../shared/backup/backup-seal.js';
import { secretDataDigest } from '../../shared/backup/secret-digest.js';
import { encryptStream, type RecipientKey, type SigningKey } from '../../shared/crypto/index.js';
import { OPENPGP_CONFIG } from '../../shared/crypto/openpgp-config.js';
import { TOOL_VERSION } from '../../shared/runtime/version.js';
import type { ObjectStore } from '../../shared/storage/index.js';
import { LIST_HEAD_LINE } from '../../shared/verify-restore/segment-list-parser.js';
import { TEST_CLUSTER_UID } from '../support/write-backup.js';

/** What an unsigned crafted backup claims to be made by: a release from before seals. */
const LAST_UNSEALED_RELEASE = '0.1.0';

export const MIB = 1024 * 1024;
/** What `SegmentWriter` writes before the first Secret, and after the last. */
export const LIST_HEAD = `${LIST_HEAD_LINE}\n`;
const LIST_TAIL = '\n]}\n';

export interface CraftKeys {
  recipients: readonly RecipientKey[];
  /**
   * Signs the index and seals the backup, as a holder of the backup signing key could (the rows
   * test what the readers do with a hostile backup that IS authenticated). Without it the index
   * is unsigned, nothing is sealed, and the backup passes for one made by 0.1.0 (readers then
   * need --allow-unsigned).
   */
  signer?: SigningKey;
  /** The kube-system UID sealed into the backup. @default TEST_CLUSTER_UID */
  clusterUid?: string;
}

export interface CraftedSegment {
  /** One Secret per entry (JSON text, or raw bytes for text that is not UTF-8). */
  items?: ReadonlyArray<string | Buffer>;
  /**
   * The whole stored plaintext (the gzip bytes) instead of framed items: bombs. `plaintextBytes`
   * and `items` of the index come from `record`.
   */
  body?: () => Readable;
  /** The stored OpenPGP message itself (e.g. {@link openPgpBomb}). */
  message?: (recipients: readonly PublicKey[]) => Promise<Uint8Array>;
  /** Left out of the store, but named in the index. */
  absent?: boolean;
  /** Fields of the index's segment entry to replace. */
  record?: Partial<SegmentEntry>;
}

export interface CraftSpec {
  segments: CraftedSegment[];
  /** Index entries, when they cannot be computed from the items (default: one per item). */
  entries?: SecretEntry[];
  /** Last word on the index (counts, claims), after everything else is computed. */
  editIndex?: (index: BackupIndex) => void;
  /** Rewrites the index's JSON text before it is encrypted and signed as usual. */
  indexText?: (json: string) => string;
  /** The stored index object itself (e.g. {@link openPgpBomb}). */
  indexMessage?: (recipients: readonly PublicKey[]) => Promise<Uint8Array>;
  now?: Date;
}

/** An index entry for one item line, computed from what a reader parses out of it. */
function entryFor(line: string | Buffer, segment: number): SecretEntry {
  const secret = JSON.parse(Buffer.isBuffer(line) ? line.toString('utf8') : line) as {
    metadata: { namespace: string; name: string };
    type?: string;
    data?: Record<string, string>;
    immutable?: boolean;
  };
  return {
    namespace: secret.metadata.namespace,
    name: secret.metadata.name,
    type: secret.type ?? 'Opaque',
    dataSha256: secretDataDigest(secret.data),
    segment,
    ...(secret.immutable ? { immutable: true } : {}),
  };
}

/** The plaintext `SegmentWriter` writes for these items. */
function framed(items: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(LIST_HEAD)];
  items.forEach((item, i) => parts.push(Buffer.from(i === 0 ? '' : ',\n'), Buffer.from(item)));
  parts.push(Buffer.from(LIST_TAIL));
  return Buffer.concat(parts);
}

/** Writes a complete backup (segments, the index, then its seal when signed) and returns its id. */
export async function craftBackup(store: ObjectStore, layout: BackupLayout, keys: CraftKeys, spec: CraftSpec): Promise<string> {
  const now = spec.now ?? new Date();
  const id = newBackupId(now);
  const segments: SegmentEntry[] = [];
  const entries: SecretEntry[] = [];
  for (const [i, seg] of spec.segments.entries()) {
    const n = i + 1;
    const name = segmentName(n, 'gzip');
    const items = seg.items ?? [];
    if (spec.entries === undefined) for (const item of items) entries.push(entryFor(item, n));
    const plain = seg.items === undefined ? undefined : framed(items);
    let size = 0;
    let sha256 = createHash('sha256').update('').digest('hex');
    if (!seg.absent) {
      let body: Readable | Uint8Array;
      if (seg.message !== undefined) body = await seg.message(keys.recipients.map((r) => r.key));
      else
        body = encryptStream(seg.body?.() ?? Readable.from([gzipSync(plain!)]), {
          recipients: keys.recipients,
          label: `crafted ${name}`,
          now,
        });
      const put = await store.put(layout.segmentKey(id, n, 'gzip'), body, { contentType: 'application/pgp-encrypted' });
      size = put.size;
      sha256 = put.sha256;
    }
    segments.push({ name, size, sha256, items: items.length, plaintextBytes: plain?.length ?? 0, ...seg.record });
  }
  const secrets = spec.entries ?? entries;
  const index: BackupIndex = {
    format: INDEX_FORMAT,
    backupId: id,
    cluster: layout.cluster,
    kind: 'scheduled',
    createdAt: now.toISOString(),
    completedAt: now.toISOString(),
    toolVersion: keys.signer ? TOOL_VERSION : LAST_UNSEALED_RELEASE,
    listResourceVersion: '1',
    selection: { namespaces: [], excludeNamespaces: [], excludeTypes: [] },
    compression: 'gzip',
    recipients: keys.recipients.map((r) => r.fingerprint),
    ...(keys.signer ? { signer: keys.signer.fingerprint } : {}),
    segments,
    secrets,
    totals: {
      secrets: secrets.length,
      segments: segments.length,
      storedBytes: segments.reduce((a, s) => a + s.size, 0),
      plaintextBytes: segments.reduce((a, s) => a + s.plaintextBytes, 0),
    },
  };
  spec.editIndex?.(index);
  const text =
    spec.indexText === undefined
      ? Readable.from(indexJsonChunks(index), { objectMode: false })
      : Readable.from([Buffer.from(spec.indexText([...indexJsonChunks(index)].join('')))]);
  const encrypted =
    spec.indexMessage === undefined
      ? encryptStream(text, { recipients: keys.recipients, signingKey: keys.signer, label: `crafted index of ${id}`, now })
      : await spec.indexMessage(keys.recipients.map((r) => r.key));
  const storedIndex = await store.put(layout.indexKey(id), encrypted, {
    contentType: 'application/pgp-encrypted',
    metadata: toObjectMetadata({
      format: INDEX_FORMAT,
      kind: 'scheduled',
      createdAt: index.createdAt,
      completedAt: index.completedAt,
      secrets: index.totals.secrets,
      segments: index.totals.segments,
      storedBytes: index.totals.storedBytes,
      recipients: index.recipients,
      signer: index.signer,
      toolVersion: index.toolVersion,
      compression: 'gzip',
    }),
  });
  if (keys.signer) {
    const seal = sealOf(index, storedIndex, keys.clusterUid ?? TEST_CLUSTER_UID, TOOL_VERSION);
    await writeSeal(store, layout, seal, keys.signer, now);
  }
  return id;
}

/**
 * Raw deflate data that inflates to `prefix` followed by `block` repeated `times` times, as
 * chunks: the block is compressed once, byte-aligned (full flush, so it stands alone), and
 * repeated, so 4 GiB of zeros cost 4 MiB to build and store.
 */
function deflateRepeated(prefix: Buffer, block: Buffer, times: number): Buffer[] {
  const flush = { finishFlush: constants.Z_FULL_FLUSH, level: 9 };
  const compressed = deflateRawSync(block, flush);
  return [deflateRawSync(prefix, flush), ...Array.from({ length: times }, () => compressed), deflateRawSync(Buffer.alloc(0))];
}

/** `text` repeated to about 1 MiB (whole repetitions only). */
export function mebibyteOf(text: string): Buffer {
  return Buffer.from(text.repeat(Math.floor(MIB / Buffer.byteLength(text))));
}

/**
 * A gzip member inflating to `prefix` and then `block` repeated `times` times. Its trailer
 * (CRC-32, length) is deliberately left zero: a reader that gets that far has inflated
 * everything, and has already failed the row.
 */
export function gzipBomb(prefix: string, block: Buffer, times: number): () => Readable {
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);
  return () => Readable.from([header, ...deflateRepeated(Buffer.from(prefix), block, times), Buffer.alloc(8)]);
}

/**
 * An OpenPGP message to `recipients` whose compressed data packet (algorithm ZIP: raw deflate,
 * what gpg writes by default) inflates to a literal data packet of `zeroMiB` MiB of zeros:
 * a bomb inside the OpenPGP layer itself, before any gzip.
 */
export async function openPgpBomb(recipients: readonly PublicKey[], zeroMiB: number): Promise<Uint8Array> {
  const length = zeroMiB * MIB + 6;
  // Literal data packet, new format (tag 11), five-octet length; then 'b', no file name, date 0.
  const literalHeader = Buffer.from([
    0xcb,
    0xff,
    (length >>> 24) & 0xff,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
    0x62,
    0,
    0,
    0,
    0,
    0,
  ]);
  // Fields openpgp.js writes the packet from (its types do not declare them).
  const packet = Object.assign(new CompressedDataPacket(), {
    algorithm: enums.compression.zip,
    compressed: Buffer.concat(deflateRepeated(literalHeader, Buffer.alloc(MIB), zeroMiB)),
  });
  const message = new Message(new PacketList());
  message.packets.push(packet);
  return (await encrypt({ message, encryptionKeys: [...recipients], format: 'binary', config: OPENPGP_CONFIG })) as Uint8Array;
}
