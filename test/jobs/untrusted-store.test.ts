import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { createLogger, MemorySink } from '../../shared/log/index.js';
import { fixedClock } from '../../shared/runtime/clock.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import { backupKeyArgs, createDrillNamespace, drillSigningArgs, readKeyArgs, seedMany } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server, S3_SERVERS } from '../support/s3-server.js';
import { writeBackup } from '../support/write-backup.js';

/**
 * The attack table of the untrusted-store issue, end to end: the real commands against the
 * Kubernetes emulator and each S3 server of the tests (s3rver, and Ceph's RADOS Gateway). Each
 * row starts from five real daily backups, lets an attacker who can put objects into the bucket (docs/threat-model.md T1; T2
 * for the rows that delete) do one thing, then runs the next scheduled backup with retention,
 * list-backups, status and a drill, and compares the bucket before and after: no authenticated
 * backup is lost beyond what retention deletes in a clean bucket, nothing the attacker put is
 * touched, and each command answers with the right exit code and says what it found.
 */

const DAY = 86_400_000;
/**
 * The first real backup, one a day at 03:00 UTC for five days, the next run on day six: starting
 * tomorrow, because the test keys are made now and a key cannot sign before it exists.
 */
const DAY0 = (Math.floor(Date.now() / DAY) + 1) * DAY + 3 * 3_600_000;
const at = (day: number) => new Date(DAY0 + day * DAY);
const KEEP = ['--keep-daily', '3'];
const CLUSTER = 'test-cluster';

interface World {
  h: Harness;
  store: ObjectStore;
  layout: BackupLayout;
  prefix: string;
  /** The five real backups, oldest first. */
  real: string[];
}

interface Row {
  name: string;
  /** Threat model row(s) it proves. */
  threat: string;
  attack: (w: World) => Promise<unknown>;
  /** Real backups the attack made unauthenticated: kept and reported, never deleted. */
  spoiled?: (w: World) => string[];
  /** Whether status and the drill report a problem (exit 1); false: the attack changes nothing they judge. */
  reported: boolean;
  /** What list-backups says about the planted or spoiled objects (id -> status prefix). */
  listed?: (w: World) => Record<string, RegExp>;
  /** Extra checks on the runs. */
  then?: (w: World, runs: Runs) => void;
}

interface Runs {
  backup: RunResult;
  list: RunResult;
  status: RunResult;
  drill: RunResult;
}

const garbage = (n = 512) => Buffer.alloc(n, 0x5a);
const fakeMeta = {
  'ss-format': 'secret-steward.io/backup-index/v1',
  'ss-kind': 'scheduled',
  'ss-secrets': '17',
  'ss-segments': '1',
  'ss-created-at': '2030-01-01T00:00:00.000Z',
};

const ROWS: Row[] = [
  {
    name: 'fake indexes with future ids, one a month of 2030, with metadata that claims complete scheduled backups',
    threat: 'T1',
    attack: async (w) => {
      for (let m = 1; m <= 12; m++) {
        await w.store.put(w.layout.indexKey(`2030${String(m).padStart(2, '0')}01T000000Z-ffffff`), garbage(), { metadata: fakeMeta });
      }
    },
    reported: true,
    listed: () => ({ '20301201T000000Z-ffffff': /^unsealed: an index without a seal/ }),
  },
  {
    name: 'fake indexes with past and present ids, and fake segments without any index',
    threat: 'T1',
    attack: async (w) => {
      await w.store.put(w.layout.indexKey('20261101T000000Z-aaaaaa'), garbage(), { metadata: fakeMeta });
      await w.store.put(w.layout.indexKey(`${w.real[4].slice(0, 16)}-bbbbbb`), garbage(), { metadata: fakeMeta });
      await w.store.put(w.layout.segmentKey('20261001T000000Z-cccccc', 1, 'gzip'), garbage());
    },
    reported: true,
    listed: () => ({ '20261001T000000Z-cccccc': /^unsealed: no index and no seal/ }),
  },
  {
    name: 'a real index with its metadata copied under a new id',
    threat: 'T1',
    attack: async (w) => {
      const index = await w.store.getBytes(w.layout.indexKey(w.real[4]));
      const meta = (await w.store.head(w.layout.indexKey(w.real[4])))?.metadata;
      await w.store.put(w.layout.indexKey('20301231T000000Z-dddddd'), index, { metadata: meta });
    },
    reported: true,
    listed: () => ({ '20301231T000000Z-dddddd': /^unsealed/ }),
  },
  {
    name: 'a whole real backup (segments, index and seal) replayed under a new id',
    threat: 'T1',
    attack: async (w) => {
      for await (const o of w.store.list(w.layout.backupPrefix(w.real[4]))) {
        const name = o.key.slice(w.layout.backupPrefix(w.real[4]).length);
        await w.store.put(w.layout.backupPrefix('20301231T000000Z-eeeeee') + name, await w.store.getBytes(o.key, 64 * 1024 * 1024));
      }
    },
    reported: true,
    listed: (w) => ({ '20301231T000000Z-eeeeee': new RegExp(`^forged: its seal names backup ${w.real[4]}`) }),
  },
  {
    name: "a real backup of another cluster (another --cluster-name) copied into this cluster's prefix",
    threat: 'T1',
    attack: async (w) => {
      const other = new BackupLayout('other-cluster');
      const id = await writeBackup(
        [],
        { store: w.store, layout: other, recipient: w.h.recipient, signer: w.h.signer, log: createLogger({ sink: new MemorySink() }) },
        { allowEmpty: true },
      );
      for await (const o of w.store.list(other.backupPrefix(id))) {
        await w.store.put(w.layout.backupPrefix(id) + o.key.slice(other.backupPrefix(id).length), await w.store.getBytes(o.key));
      }
    },
    reported: true,
    listed: () => ({}),
    then: (_w, r) => assert.match(r.list.stdout, /forged: its seal names cluster other-cluster, not test-cluster/),
  },
  {
    name: 'backups of a second cluster that uses the same --cluster-name and signing key',
    threat: 'T1',
    attack: async (w) => {
      await writeBackup([], { ...writeTo(w), clusterUid: 'a-second-cluster' }, { allowEmpty: true });
    },
    reported: true,
    then: (_w, r) => {
      assert.match(
        r.backup.records.map((x) => String(x.problem ?? '')).join('\n'),
        /foreign: it was sealed by the cluster whose kube-system UID is a-second-cluster/,
      );
    },
  },
  {
    name: "a real backup's index metadata flipped from scheduled to pre-restore (and its counts inflated)",
    threat: 'T1',
    attack: async (w) => {
      const key = w.layout.indexKey(w.real[4]);
      const meta = (await w.store.head(key))?.metadata ?? {};
      await w.store.put(key, await w.store.getBytes(key), { metadata: { ...meta, 'ss-kind': 'pre-restore', 'ss-secrets': '100000' } });
    },
    reported: false,
    then: (w, r) => {
      const rows = JSON.parse(r.list.stdout).backups as { id: string; kind: string; secrets: number }[];
      const row = rows.find((x) => x.id === w.real[4]);
      assert.equal(row?.kind, 'scheduled', 'the kind comes from the seal');
      assert.equal(row?.secrets, JSON.parse(r.backup.stdout).secrets, 'the count comes from the seal');
      assert.equal(r.backup.code, 0, 'the shrink guard compares with the sealed count (6), not the forged metadata (100000)');
    },
  },
  {
    name: 'a forged _pass drill report for the newest backup',
    threat: 'T1',
    attack: async (w) => {
      const key = w.layout.reportKey(at(4.1), w.real[4], true);
      await w.store.put(key, Buffer.from(JSON.stringify({ cluster: CLUSTER, result: 'pass', backup: { id: w.real[4] } })));
      await w.store.put(`${key}.asc`, Buffer.from('-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n'));
    },
    reported: false,
    then: (w, r) => {
      const status = JSON.parse(r.status.stdout) as {
        backups: { drills: { latest: { verified: boolean }; latestPass: { report: string } } };
      };
      assert.equal(status.backups.drills.latest.verified, false, 'shown, as unverified');
      assert.notEqual(status.backups.drills.latestPass.report, w.layout.reportKey(at(4.1), w.real[4], true), 'never counted as a pass');
      const rows = JSON.parse(r.list.stdout).backups as { id: string; lastDrill?: { verified: boolean } }[];
      assert.equal(rows.find((x) => x.id === w.real[4])?.lastDrill?.verified, false);
    },
  },
  {
    name: "a real backup's seal deleted",
    threat: 'T2',
    attack: async (w) => w.store.delete([w.layout.sealKey(w.real[0])]),
    spoiled: (w) => [w.real[0]],
    reported: true,
    listed: (w) => ({ [w.real[0]]: /^unsealed: an index without a seal/ }),
  },
  {
    name: "a real backup's seal truncated",
    threat: 'T1',
    attack: async (w) => {
      const seal = await w.store.getBytes(w.layout.sealKey(w.real[1]));
      await w.store.put(w.layout.sealKey(w.real[1]), seal.subarray(0, seal.length - 100));
    },
    spoiled: (w) => [w.real[1]],
    reported: true,
    listed: (w) => ({ [w.real[1]]: /^forged: / }),
  },
  {
    name: "a real backup's seal overwritten with a seal of another real backup",
    threat: 'T1',
    attack: async (w) => w.store.put(w.layout.sealKey(w.real[0]), await w.store.getBytes(w.layout.sealKey(w.real[3]))),
    spoiled: (w) => [w.real[0]],
    reported: true,
    listed: (w) => ({ [w.real[0]]: new RegExp(`^forged: its seal names backup ${w.real[3]}: it was copied from another backup`) }),
  },
  {
    name: 'ids that are not real dates (month 13, day 32)',
    threat: 'T1',
    attack: async (w) => {
      await w.store.put(`${w.layout.backupsPrefix()}20301301T000000Z-ffffff/index.json.pgp`, garbage(), { metadata: fakeMeta });
      await w.store.put(`${w.layout.backupsPrefix()}20301232T000000Z-ffffff/seal.json.asc`, garbage());
    },
    reported: true,
    then: (_w, r) =>
      assert.match(
        r.list.stdout,
        /"strays": \[\n\s+"[^"]*20301232T000000Z-ffffff\/seal\.json\.asc",\n\s+"[^"]*20301301T000000Z-ffffff\/index\.json\.pgp"/,
      ),
  },
  {
    name: 'an unsealed index larger than any index is read, with a future id',
    threat: 'T1',
    attack: async (w) => w.store.put(w.layout.indexKey('20301231T000000Z-ffffff'), Buffer.alloc(64 * 1024 * 1024 + 1, 0x41)),
    reported: true,
    then: (_w, r) => {
      const report = JSON.parse(r.drill.stdout) as { checks: { name: string; findings: { message: string }[] }[] };
      const catalogue = report.checks.find((c) => c.name === 'catalogue');
      assert.match(
        catalogue?.findings.map((f) => f.message).join('\n') ?? '',
        /backup 20301231T000000Z-ffffff has no seal and its index does not verify: .*larger than 67108864 bytes and has no seal to vouch for it: refused unread/,
      );
    },
  },
];

function writeTo(w: World) {
  return { store: w.store, layout: w.layout, recipient: w.h.recipient, signer: w.h.signer, log: createLogger({ sink: new MemorySink() }) };
}

for (const server of S3_SERVERS) {
  describe(`jobs: the bucket is not trusted (attack table, docs/threat-model.md; against ${server})`, function () {
    this.timeout(300_000);
    let h: Harness;
    before(async function () {
      requireS3Server(this, server);
      h = await startHarness({ s3: server });
      createDrillNamespace(h);
      seedMany(h, 6, 'apps');
    });
    after(async () => h?.stop());

    const unauthenticatedEvents = () =>
      (h.emulator.list('v1', 'Event', 'secret-steward') as Array<{ reason?: string; count?: number }>)
        .filter((e) => e.reason === 'UnauthenticatedBackups')
        .reduce((n, e) => n + (e.count ?? 1), 0);

    async function keys(w: World): Promise<Set<string>> {
      const out = new Set<string>();
      for await (const o of w.store.list('')) out.add(o.key);
      return out;
    }

    async function realBackups(prefix: string): Promise<World> {
      const layout = new BackupLayout(CLUSTER);
      const store = createObjectStore(h.s3.settings(prefix));
      const real: string[] = [];
      for (let d = 0; d < 5; d++) {
        const r = await h.run(backupCommand, [...h.baseArgs(prefix), ...backupKeyArgs(h), '--output', 'json'], {
          clock: fixedClock(at(d)),
        });
        assert.equal(r.code, 0, r.stderr);
        real.push(JSON.parse(r.stdout).backupId);
      }
      const drill = await h.run(
        verifyRestoreCommand,
        [...h.baseArgs(prefix), ...readKeyArgs(h), ...drillSigningArgs(h), '--drill-namespace', 'secret-steward-drill'],
        {
          clock: fixedClock(at(4.05)),
        },
      );
      assert.equal(drill.code, 0, drill.stdout);
      return { h, store, layout, prefix, real };
    }

    /** The next scheduled backup with retention, then what an operator would look at. */
    async function nextDay(w: World): Promise<Runs> {
      const clock = () => ({ clock: fixedClock(at(5)) });
      const trust = ['--trusted-signer-key', h.signer.publicKey, '--pre-restore-signer-key', h.preRestoreSigner.publicKey];
      const backup = await h.run(backupCommand, [...h.baseArgs(w.prefix), ...backupKeyArgs(h), ...KEEP, '--output', 'json'], clock());
      const list = await h.run(
        listBackupsCommand,
        [...h.s3.args(w.prefix), '--cluster-name', CLUSTER, ...trust, '--drill-signer-key', h.drillSigner.publicKey, '--output', 'json'],
        clock(),
      );
      const status = await h.run(
        statusCommand,
        [
          '--kubeconfig',
          h.kubeconfig,
          ...h.s3.args(w.prefix),
          '--cluster-name',
          CLUSTER,
          ...trust,
          '--drill-signer-key',
          h.drillSigner.publicKey,
          '--backup-schedule',
          '0 3 * * *',
          '--output',
          'json',
        ],
        clock(),
      );
      const drill = await h.run(
        verifyRestoreCommand,
        [...h.baseArgs(w.prefix), ...readKeyArgs(h), '--drill-namespace', 'secret-steward-drill', '--output', 'json'],
        clock(),
      );
      return { backup, list, status, drill };
    }

    it('control: in a clean bucket, retention deletes the three oldest backups, says so, and every command is content', async () => {
      const w = await realBackups('clean');

      const r = await nextDay(w);

      assert.equal(r.backup.code, 0, r.backup.stderr);
      const left = await keys(w);
      assert.deepEqual(
        w.real.map((id) => left.has(w.layout.sealKey(id))),
        [false, false, false, true, true],
        'keep-daily 3 keeps the new backup and the two before it',
      );
      const { retention } = JSON.parse(r.backup.stdout) as { retention: Record<string, unknown> };
      assert.deepEqual(
        { ...retention, deletedBytes: (retention.deletedBytes as number) > 0 },
        {
          deletedBackups: 3,
          deletedBytes: true,
          kept: 3,
          keptByStore: [],
          unauthenticated: 0,
        },
      );
      assert.equal(r.list.code, 0);
      assert.equal(r.status.code, 0, r.status.stdout);
      assert.equal(r.drill.code, 0, r.drill.stdout);
    });

    for (const [i, row] of ROWS.entries()) {
      it(`${row.threat}: ${row.name}: no authenticated backup lost, the planted objects left alone, ${row.reported ? 'reported' : 'nothing to report'}`, async () => {
        const w = await realBackups(`row${i}`);
        await row.attack(w);
        const before = await keys(w);
        const spoiled = row.spoiled?.(w) ?? [];
        const eventsBefore = unauthenticatedEvents();

        const r = await nextDay(w);

        assert.equal(r.backup.code, 0, `backup carries on: ${r.backup.stderr}`);
        const after = await keys(w);
        const newBackup = JSON.parse(r.backup.stdout).backupId as string;
        // Exactly what retention deletes in the clean bucket (the three oldest real ones), except
        // what the attack spoiled: that is kept, and reported.
        const deleted = [...before].filter((k) => !after.has(k));
        const expectedGone = w.real.slice(0, 3).filter((id) => !spoiled.includes(id));
        assert.deepEqual(
          [...new Set(deleted.map((k) => w.layout.backupIdOf(k)))].sort(),
          expectedGone.sort(),
          'only the real backups a clean run deletes',
        );
        for (const id of spoiled)
          assert.ok(
            [...after].some((k) => k.startsWith(w.layout.backupPrefix(id))),
            `${id} is kept`,
          );
        const added = [...after].filter((k) => !before.has(k));
        assert.ok(
          added.every((k) => k.startsWith(w.layout.backupPrefix(newBackup)) || k.includes('/reports/')),
          `nothing but the new backup and drill reports was written: ${added.join(', ')}`,
        );
        const listed = new Map((JSON.parse(r.list.stdout).backups as { id: string; status: string }[]).map((b) => [b.id, b.status]));
        for (const [id, status] of Object.entries(row.listed?.(w) ?? {}))
          assert.match(listed.get(id) ?? '(not listed)', status, `list-backups on ${id}`);
        if (row.reported) {
          assert.equal(r.status.code, 1, r.status.stdout);
          assert.equal(r.drill.code, 1, r.drill.stdout);
          assert.ok(unauthenticatedEvents() > eventsBefore, 'backup recorded an Event about it');
        } else {
          assert.equal(r.status.code, 0, r.status.stdout);
          assert.equal(r.drill.code, 0, r.drill.stdout);
        }
        row.then?.(w, r);
      });
    }
  });
}
