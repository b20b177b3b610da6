import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backupCommand } from '../../jobs/backup.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { createLogger, MemorySink } from '../../shared/log/index.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import {
  createDrillNamespace,
  DRILL_NS,
  drillObjects,
  readKeyArgs,
  seedDrillSecrets,
  seedMany,
} from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, startHarness, type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';
import { writeBackup } from '../support/write-backup.js';

const layout = new BackupLayout('test-cluster');
const MIB = 1024 * 1024;

interface Case {
  name: string;
  /** Backup flags beyond the recipient key (default: signed by the harness signer). */
  backupFlags?: (h: Harness, other: TestKeyFiles) => string[];
  /** Damage applied to backup `a` (with `b`, an earlier backup of the same cluster, at hand). */
  corrupt?: (store: ObjectStore, a: string, b: string) => Promise<void>;
  /** Drill flags replacing the default decryption/trust flags. */
  drillFlags?: (h: Harness, other: TestKeyFiles, wrongPassphrase: string) => string[];
  expect: (a: string, b: string, other: TestKeyFiles) => RegExp;
}

const segment1 = (id: string) => layout.segmentKey(id, 1, 'gzip');

const CASES: Case[] = [
  {
    name: 'one flipped bit in a segment',
    corrupt: async (store, a) => {
      const bytes = await store.getBytes(segment1(a), 64 * MIB);
      bytes[Math.floor(bytes.length / 3)] ^= 0x10;
      await store.put(segment1(a), bytes);
    },
    expect: (a) =>
      new RegExp(
        `segment-00001\\.json\\.gz\\.pgp of backup ${a} is damaged: it has the recorded size \\(\\d+ bytes\\) but its SHA-256 differs from the index .*: bit rot or tampering`,
      ),
  },
  {
    name: 'a truncated segment',
    corrupt: async (store, a) => {
      const bytes = await store.getBytes(segment1(a), 64 * MIB);
      await store.put(segment1(a), bytes.subarray(0, bytes.length - 100));
    },
    expect: (a) =>
      new RegExp(
        `segment-00001\\.json\\.gz\\.pgp of backup ${a} is truncated: \\d+ bytes stored, the index records \\d+ \\(100 bytes missing\\)`,
      ),
  },
  {
    name: 'a missing segment',
    corrupt: async (store, a) => store.delete([segment1(a)]),
    expect: (a) =>
      new RegExp(`segment-00001\\.json\\.gz\\.pgp of backup ${a} is missing from the store \\(the index records \\d+ bytes for it\\)`),
  },
  {
    name: 'an index swapped in from another backup',
    corrupt: async (store, a, b) => {
      await store.put(layout.indexKey(a), await store.getBytes(layout.indexKey(b)));
    },
    expect: (a) =>
      new RegExp(
        `index of backup ${a} differs from its seal \\(\\d+ bytes, SHA-256 differs; sealed \\d+ bytes\\): it was replaced after the backup was sealed`,
      ),
  },
  {
    name: 'an index swapped in from another backup together with its seal',
    corrupt: async (store, a, b) => {
      await store.put(layout.indexKey(a), await store.getBytes(layout.indexKey(b)));
      await store.put(layout.sealKey(a), await store.getBytes(layout.sealKey(b)));
    },
    expect: (a, b) => new RegExp(`backup ${a} is not authenticated: forged: its seal names backup ${b}: it was copied from another backup`),
  },
  {
    name: 'a segment swapped between backups',
    corrupt: async (store, a, b) => {
      await store.put(segment1(a), await store.getBytes(segment1(b), 64 * MIB));
    },
    expect: (a, b) =>
      new RegExp(
        `segment-00001\\.json\\.gz\\.pgp of backup ${a} is segment-00001\\.json\\.gz\\.pgp of backup ${b} \\(its SHA-256 is recorded in that backup's index\\): a segment was swapped in from another backup`,
      ),
  },
  {
    name: 'a backup sealed by an untrusted key',
    backupFlags: (_h, other) => ['--signing-key', other.privateKey, '--signing-key-passphrase-file', other.passphraseFile],
    expect: (a, _b, other) =>
      new RegExp(`backup ${a} is not authenticated: forged: its seal is signed by ${other.fingerprint}, which is not a trusted signer`),
  },
  {
    name: 'a seal removed from a backup whose index an untrusted key signed (it passes for one made before seals)',
    backupFlags: (_h, other) => ['--signing-key', other.privateKey, '--signing-key-passphrase-file', other.passphraseFile],
    corrupt: async (store, a) => store.delete([layout.sealKey(a)]),
    expect: (a, _b, other) =>
      new RegExp(
        `index of backup ${a} is signed by ${other.fingerprint}, which is not a trusted signer \\(--trusted-signer-key: [0-9A-F]{40}(, [0-9A-F]{40})*\\)`,
      ),
  },
  {
    name: 'the wrong decryption key',
    drillFlags: (h, other) => [
      '--decryption-key',
      other.privateKey,
      '--decryption-key-passphrase-file',
      other.passphraseFile,
      '--trusted-signer-key',
      h.signer.publicKey,
    ],
    expect: (a, _b, other) =>
      new RegExp(
        `cannot decrypt index of backup ${a}: it is encrypted to key id [0-9A-F]{16}, but the decryption keys given are ${other.fingerprint}`,
      ),
  },
  {
    name: 'the wrong passphrase',
    drillFlags: (h, _other, wrong) => [
      '--decryption-key',
      h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      wrong,
      '--trusted-signer-key',
      h.signer.publicKey,
    ],
    expect: (a) =>
      new RegExp(
        `backup ${a} cannot be read with the keys given: cannot unlock decryption key [0-9A-F]{40} from .*recipient\\.private\\.asc: wrong passphrase`,
      ),
  },
];

describe('jobs/verify-restore (corruption)', function () {
  this.timeout(300_000);
  let h: Harness;
  let other: TestKeyFiles;
  let wrongPassphrase: string;
  before(async () => {
    h = await startHarness();
    createDrillNamespace(h);
    await seedDrillSecrets(h, ['payments']);
    other = await writeTestKeyPair(h.dir, 'other');
    wrongPassphrase = join(h.dir, 'wrong.passphrase');
    await writeFile(wrongPassphrase, 'not-the-passphrase\n');
  });
  after(async () => h?.stop());

  for (const [i, c] of CASES.entries()) {
    it(`detects ${c.name}: exit 1, its specific message in the report, a stored _fail report, no drill object left`, async () => {
      const prefix = `c${i}`;
      const flags = c.backupFlags?.(h, other) ?? [
        '--signing-key',
        h.signer.privateKey,
        '--signing-key-passphrase-file',
        h.signer.passphraseFile,
      ];
      const ids: string[] = [];
      for (let n = 0; n < 2; n++) {
        const r = await h.run(backupCommand, [
          ...h.baseArgs(prefix),
          '--recipient-key',
          h.recipient.publicKey,
          ...flags,
          '--output',
          'json',
        ]);
        assert.equal(r.code, 0, r.stderr);
        ids.push(JSON.parse(r.stdout).backupId);
        await new Promise((resolve) => setTimeout(resolve, n === 0 ? 1100 : 0)); // distinct, ordered ids
      }
      const [b, a] = ids;
      const store = createObjectStore(h.s3.settings(prefix));
      await c.corrupt?.(store, a, b);

      const r = await h.run(verifyRestoreCommand, [
        ...h.baseArgs(prefix),
        ...(c.drillFlags?.(h, other, wrongPassphrase) ?? readKeyArgs(h)),
        '--drill-namespace',
        DRILL_NS,
        '--backup',
        a,
        '--output',
        'json',
      ]);

      assert.equal(r.code, 1, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as DrillReport;
      const integrity = report.checks.find((x) => x.name === 'integrity')!;
      assert.equal(integrity.status, 'fail');
      assert.equal(integrity.findings.length, 1, JSON.stringify(integrity.findings));
      assert.match(integrity.findings[0].message, c.expect(a, b, other));
      assert.equal(report.result, 'fail');
      const keys: string[] = [];
      for await (const o of store.list(layout.reportsPrefix())) keys.push(o.key);
      assert.ok(
        keys.some((k) => k.endsWith(`_${a}_fail.json`)),
        keys.join(),
      );
      assert.deepEqual(drillObjects(h), []);
    });
  }

  it('a backup made before seals whose index an unknown key signed passes only when --allow-unsigned names it (or all)', async () => {
    seedMany(h, 3, 'legacy');
    const oldSigner = await writeTestKeyPair(h.dir, 'old-signer');
    const store = createObjectStore(h.s3.settings('unsigned-ok'));
    const layout = new BackupLayout('test-cluster');
    const items = h.emulator.list('v1', 'Secret', 'legacy') as never[];
    const id = await writeBackup(
      items,
      { store, layout, recipient: h.recipient, signer: oldSigner, log: createLogger({ sink: new MemorySink() }) },
      { unsealed: true },
    );
    const drill = (...extra: string[]) =>
      h.run(verifyRestoreCommand, [
        ...h.baseArgs('unsigned-ok'),
        ...readKeyArgs(h),
        '--drill-namespace',
        DRILL_NS,
        ...extra,
        '--output',
        'json',
      ]);

    const refused = await drill();
    const named = await drill('--allow-unsigned', id);
    const bare = await drill('--allow-unsigned');

    assert.equal(refused.code, 1, refused.stdout);
    assert.match(
      (JSON.parse(refused.stdout) as DrillReport).checks.find((x) => x.name === 'integrity')!.findings[0].message,
      /is signed by [0-9A-F]+, which is not a trusted signer/,
    );
    for (const r of [named, bare]) {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as DrillReport;
      assert.equal(report.backup?.signature, 'untrusted');
      assert.ok(report.warnings.some((w) => /which is not a trusted signer .*\(accepted: --allow-unsigned\)/.test(w)));
      assert.match(
        report.checks.find((x) => x.name === 'integrity')!.summary,
        /signed by untrusted key [0-9A-F]+ \(accepted with --allow-unsigned\)/,
      );
      assert.ok(report.warnings.some((w) => /made before seals existed.*run secret-steward adopt/.test(w)));
    }
  });

  it('reports a damaged segment of a multi-segment backup and still verifies and restores the others', async () => {
    seedMany(h, 40, 'bulk');
    const r1 = await h.run(backupCommand, [
      ...h.baseArgs('multi'),
      '--recipient-key',
      h.recipient.publicKey,
      '--signing-key',
      h.signer.privateKey,
      '--signing-key-passphrase-file',
      h.signer.passphraseFile,
      '--segment-size',
      '1',
      '--output',
      'json',
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    const id = JSON.parse(r1.stdout).backupId as string;
    assert.ok(JSON.parse(r1.stdout).segments >= 2);
    const store = createObjectStore(h.s3.settings('multi'));
    const key = layout.segmentKey(id, 2, 'gzip');
    const bytes = await store.getBytes(key, 64 * MIB);
    bytes[100] ^= 0x01;
    await store.put(key, bytes);

    const r = await h.run(verifyRestoreCommand, [
      ...h.baseArgs('multi'),
      ...readKeyArgs(h),
      '--drill-namespace',
      DRILL_NS,
      '--output',
      'json',
    ]);

    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as DrillReport;
    const integrity = report.checks.find((x) => x.name === 'integrity')!;
    assert.deepEqual(
      integrity.findings.map((f) => f.segment),
      [2],
    );
    assert.equal(report.counts.segmentsVerified, report.counts.segments - 1);
    assert.ok(report.counts.secretsVerified > 0 && report.counts.secretsVerified < report.counts.secretsInBackup);
    assert.equal(report.counts.secretsRestored, report.counts.secretsVerified);
    assert.match(integrity.summary, /1 of \d+ segment\(s\) failed verification/);
    assert.deepEqual(drillObjects(h), []);
  });
});
