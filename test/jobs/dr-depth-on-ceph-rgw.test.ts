import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { backupCommand } from '../../jobs/backup.js';
import { renderReportCommand } from '../../jobs/render-report.js';
import { secretAgeCommand } from '../../jobs/secret-age.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { fixedClock } from '../../shared/runtime/clock.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { createObjectStore } from '../../shared/storage/index.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import {
  backupKeyArgs,
  createDrillNamespace,
  drillArgs,
  drillSigningArgs,
  readKeyArgs,
  seedDrillSecrets,
  seedMany,
} from '../shared/verify-restore/drill-fixtures.js';
import { textOf } from '../support/chromium.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server } from '../support/s3-server.js';

const CLUSTER = 'test-cluster';
const DAY = 86_400_000;
const MIB = 1024 * 1024;
const layout = new BackupLayout(CLUSTER);
const CANARY = `canary-${randomBytes(8).toString('hex')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error' || x.level === 'warn'));
const noCanary = (what: string, text: string) =>
  assert.ok(!text.includes(CANARY) && !text.includes(b64(CANARY).slice(0, 16)), `no Secret value in ${what}`);

/**
 * The parts of the DR-depth issue (21) that had run against s3rver only, end to end against Ceph
 * RGW, a real S3 server, with one RGW bucket for the whole file: the measured RTO of a drill (and
 * its projection when only part of a backup could be read) in the report and in `status`; the
 * HTML page `render-report` makes from a report stored on RGW, verified first; `secret-age` from
 * the backup history, reading indexes only. The deep check and the key-readability warning
 * (parts 2 and 3) already run on RGW in verify-restore-deep-check and
 * verify-restore-key-readability, which loop over both S3 servers.
 */
describe('DR depth against Ceph RGW', function () {
  this.timeout(300_000);
  let h: Harness;
  /** The drilled backup of prefix `bk` and the drill's own report. */
  let backupId: string;
  let drill: DrillReport;

  before(async function () {
    requireS3Server(this, 'rgw');
    h = await startHarness({ s3: 'rgw' });
    createDrillNamespace(h);
    await seedDrillSecrets(h, ['payments', 'web']);
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'canary', namespace: 'payments' },
      data: { pw: b64(CANARY) },
    } as never);
    const b = await h.run(backupCommand, [...h.baseArgs('bk'), ...backupKeyArgs(h), '--output', 'json']);
    assert.equal(b.code, 0, failure(b));
    backupId = JSON.parse(b.stdout).backupId;
    const d = await h.run(verifyRestoreCommand, [...drillArgs(h, 'bk'), ...drillSigningArgs(h), '--output', 'json']);
    assert.equal(d.code, 0, failure(d));
    drill = JSON.parse(d.stdout);
  });
  after(async () => h?.stop());

  describe('measured RTO (part 4)', () => {
    it('the drill report: every Secret restored and measured, by namespace, the parts adding up; nothing to project', () => {
      const rto = drill.rto!;

      assert.ok(rto, 'the report carries the measured RTO');
      assert.equal(drill.backup?.id, backupId);
      assert.deepEqual(
        [rto.secretsRestored, rto.secretsRead, rto.secretsInBackup],
        [drill.counts.secretsInBackup, drill.counts.secretsInBackup, drill.counts.secretsInBackup],
      );
      assert.equal(rto.namespaces, 2);
      assert.deepEqual(rto.byNamespace.map((n) => n.namespace).sort(), ['payments', 'web']);
      for (const n of rto.byNamespace) assert.equal(n.secrets, drill.namespaces[n.namespace].secrets, n.namespace);
      assert.equal(
        rto.byNamespace.reduce((sum, n) => sum + n.secrets, 0),
        rto.secretsInBackup,
      );
      assert.ok(rto.measuredMs > 0, 'a restore that created Secrets on the API server took some time');
      for (const n of rto.byNamespace) assert.ok(n.ms >= 0, `${n.namespace}: ${n.ms} ms`);
      assert.deepEqual(
        rto.byNamespace.map((n) => n.ms),
        rto.byNamespace.map((n) => n.ms).sort((x, y) => y - x),
        'longest first',
      );
      // Each namespace's figure is a part of the one measured pass (each rounded to 1 ms).
      const parts = rto.byNamespace.reduce((sum, n) => sum + n.ms, 0);
      assert.ok(parts <= rto.measuredMs + rto.byNamespace.length, `namespaces ${parts} ms within the pass's ${rto.measuredMs} ms`);
      assert.equal(rto.projectedFullRestoreMs, rto.measuredMs, 'every Secret was read: the projection is the measurement');
    });

    it('a drill that could read only part of a backup projects the rest from what it read', async () => {
      seedMany(h, 40, 'bulk');
      const b = await h.run(backupCommand, [...h.baseArgs('multi'), ...backupKeyArgs(h), '--segment-size', '1', '--output', 'json']);
      assert.equal(b.code, 0, failure(b));
      const id = JSON.parse(b.stdout).backupId as string;
      assert.ok(JSON.parse(b.stdout).segments >= 2, b.stdout);
      const store = createObjectStore(h.s3.settings('multi'));
      const key = layout.segmentKey(id, 1, 'gzip');
      const bytes = await store.getBytes(key, 64 * MIB);
      bytes[100] ^= 0x01;
      await store.put(key, bytes);

      const r = await h.run(verifyRestoreCommand, [...drillArgs(h, 'multi'), '--output', 'json']);

      assert.equal(r.code, 1, failure(r));
      const report = JSON.parse(r.stdout) as DrillReport;
      const rto = report.rto!;
      assert.ok(rto.secretsRead > 0 && rto.secretsRead < rto.secretsInBackup, JSON.stringify(rto));
      assert.equal(rto.secretsRead, report.counts.secretsVerified);
      assert.equal(rto.secretsInBackup, report.counts.secretsInBackup);
      assert.ok(rto.projectedFullRestoreMs >= rto.measuredMs);
      // projected = measured × inBackup / read, both rounded to 1 ms from the same unrounded figure.
      const scale = rto.secretsInBackup / rto.secretsRead;
      assert.ok(
        Math.abs(rto.projectedFullRestoreMs - rto.measuredMs * scale) <= 0.5 + 0.5 * scale,
        `projected ${rto.projectedFullRestoreMs} ms = ${rto.measuredMs} ms × ${rto.secretsInBackup}/${rto.secretsRead}`,
      );
    });

    it('status shows the projected RTO of the newest drill, as the signed report on RGW has it', async () => {
      const args = [
        '--kubeconfig',
        h.kubeconfig,
        ...h.s3.args('bk'),
        '--cluster-name',
        CLUSTER,
        '--namespace',
        'payments',
        '--trusted-signer-key',
        h.signer.publicKey,
        '--drill-signer-key',
        h.drillSigner.publicKey,
        '--backup-schedule',
        '0 3 * * *',
      ];

      const json = await h.run(statusCommand, [...args, '--output', 'json']);
      const text = await h.run(statusCommand, args);

      assert.equal(json.code, 0, failure(json));
      const rto = (JSON.parse(json.stdout) as StatusReport).backups?.rto;
      assert.equal(rto?.backupId, backupId);
      assert.deepEqual(
        [rto?.measuredMs, rto?.projectedFullRestoreMs, rto?.secretsRestored, rto?.secretsInBackup],
        [drill.rto!.measuredMs, drill.rto!.projectedFullRestoreMs, drill.rto!.secretsRestored, drill.rto!.secretsInBackup],
      );
      assert.ok(rto?.report.endsWith('_pass.json'), rto?.report);
      const seconds = (ms: number) => (ms / 1000).toFixed(1).replace('.', '\\.');
      assert.match(
        text.stdout,
        new RegExp(
          `^Restore time \\(drill of backup ${backupId}, .*\\): ${seconds(drill.rto!.measuredMs)}s for ${drill.rto!.secretsRestored} Secrets; ` +
            `projected full restore into an empty cluster: ${seconds(drill.rto!.projectedFullRestoreMs)}s$`,
          'm',
        ),
      );
    });
  });

  describe('render-report (part 6)', () => {
    const args = (...extra: string[]) => [...h.s3.args('bk'), '--cluster-name', CLUSTER, ...extra];
    const reportKey = async () => {
      const keys: string[] = [];
      for await (const o of createObjectStore(h.s3.settings('bk')).list(layout.reportsPrefix())) keys.push(o.key);
      return keys.find((k) => k.endsWith('_pass.json'))!;
    };

    it('renders the drill report stored on RGW, its signature verified: backup, checks, RTO; no Secret value', async () => {
      const out = join(h.dir, 'drill.html');

      const r = await h.run(renderReportCommand, args('--drill-signer-key', h.drillSigner.publicKey, '--out', out));

      assert.equal(r.code, 0, failure(r));
      assert.match(r.stdout, /\(verified\) rendered to .*drill\.html/);
      const html = await readFile(out, 'utf8');
      const text = textOf(html);
      assert.ok(html.includes(drill.drillId), 'the page is of the stored drill');
      assert.match(text, new RegExp(`DR drill report: cluster ${CLUSTER}, backup ${backupId}`));
      assert.match(text, new RegExp(`Report signature verified by trusted drill signer key ${h.drillSigner.fingerprint}`));
      assert.doesNotMatch(html, /id="unverified"|<script/);
      for (const c of drill.checks.filter((x) => x.status === 'pass')) assert.match(text, new RegExp(` ${c.name} PASS \\d+\\.\\ds `));
      assert.ok(
        text.includes(`Projected RTO (whole backup, empty cluster) ${(drill.rto!.projectedFullRestoreMs / 1000).toFixed(1)}s`),
        'the projected RTO of the stored report',
      );
      assert.ok(text.includes(`over ${drill.rto!.secretsRead} of the backup's ${drill.rto!.secretsInBackup} Secrets`));
      noCanary('the page', html);
    });

    it('refuses the stored report once someone edited it on RGW (exit 1), and writes no page', async () => {
      const store = createObjectStore(h.s3.settings('bk'));
      const key = await reportKey();
      const original = await store.getBytes(key);
      await store.put(key, Buffer.from(JSON.stringify({ ...JSON.parse(original.toString()), result: 'pass', drillId: 'edited' })));
      const out = join(h.dir, 'tampered.html');
      try {
        const r = await h.run(renderReportCommand, args('--drill-signer-key', h.drillSigner.publicKey, '--report', key, '--out', out));

        assert.equal(r.code, 1, failure(r));
        assert.match(
          r.stderr,
          new RegExp(
            `refusing drill report s3://${h.s3.bucket}/bk/${key}: it is not verified by --drill-signer-key \\(its signature is invalid`,
          ),
        );
        assert.equal(r.stdout, '');
        await assert.rejects(stat(out), { code: 'ENOENT' });
      } finally {
        await store.put(key, original);
      }
    });
  });

  describe('secret-age (part 5)', () => {
    /** Tomorrow 03:00 UTC: the test keys are made now, and a key cannot sign before it exists. */
    const DAY0 = (Math.floor(Date.now() / DAY) + 1) * DAY + 3 * 3_600_000;
    const at = (day: number) => new Date(DAY0 + day * DAY);
    const ids: string[] = [];
    const secret = (name: string, value: string, resourceVersion?: string) =>
      ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: 'ages', ...(resourceVersion ? { resourceVersion } : {}) },
        type: 'Opaque',
        data: { v: b64(value) },
      }) as never;
    const secretAge = (extra: string[]) =>
      h.run(secretAgeCommand, [...h.s3.args('age'), '--cluster-name', CLUSTER, ...readKeyArgs(h), '-n', 'ages', ...extra], {
        clock: fixedClock(at(2.5)),
      });

    before(async () => {
      h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ages' } } as never);
      for (const name of ['never', 'rotated']) h.emulator.create(secret(name, `${CANARY}-${name}-v1`));
      for (let day = 0; day < 3; day++) {
        if (day === 1) {
          const current = h.emulator.get('v1', 'Secret', 'ages', 'rotated') as unknown as { metadata: { resourceVersion: string } };
          h.emulator.update(secret('rotated', `${CANARY}-rotated-v2`, current.metadata.resourceVersion));
        }
        const r = await h.run(backupCommand, [...h.baseArgs('age'), ...backupKeyArgs(h), '--output', 'json'], {
          clock: fixedClock(at(day)),
        });
        assert.equal(r.code, 0, failure(r));
        ids.push(JSON.parse(r.stdout).backupId);
      }
    });

    it('tells the changed Secret from the unchanged one and flags what is older than --max-unchanged (exit 1)', async () => {
      const r = await secretAge(['--max-unchanged', '2d', '--output', 'json']);

      assert.equal(r.code, 1, failure(r));
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(doc.asOf, { backup: ids[2], createdAt: at(2).toISOString() });
      assert.deepEqual(doc.oldestRead, { backup: ids[0], createdAt: at(0).toISOString() });
      assert.deepEqual(
        doc.secrets.map((s: Record<string, unknown>) => [s.name, s.unchangedSince, s.atLeast, s.sinceBackup, s.changedAfter, s.flagged]),
        [
          ['never', at(0).toISOString(), true, ids[0], undefined, true],
          ['rotated', at(1).toISOString(), false, ids[1], { backup: ids[0], createdAt: at(0).toISOString(), was: 'other data' }, false],
        ],
      );
      assert.equal(doc.flagged, 1);
      assert.deepEqual(doc.skipped, []);
      noCanary('the output', r.stdout + r.stderr + JSON.stringify(r.records));
    });

    it('flags nothing below the threshold (exit 0)', async () => {
      const r = await secretAge(['--max-unchanged', '3d', '--output', 'json']);

      assert.equal(r.code, 0, failure(r));
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.flagged, 0);
      assert.deepEqual(
        doc.secrets.map((s: Record<string, unknown>) => [s.name, s.flagged]),
        [
          ['never', false],
          ['rotated', false],
        ],
      );
    });

    it('reads every backup index from RGW and never a segment: only digests, no Secret value decrypted', async () => {
      h.s3.faults.reset();

      const r = await secretAge(['--max-unchanged', '2d']);

      assert.equal(r.code, 1, failure(r));
      const got = h.s3.faults.requests.filter((q) => q.operation === 'GetObject').map((q) => decodeURIComponent(q.path));
      for (const id of ids)
        assert.ok(
          got.some((p) => p.includes(layout.indexKey(id))),
          `index of ${id} read: ${got.join(' ')}`,
        );
      assert.deepEqual(
        got.filter((p) => /\/segment-\d{5}/.test(p)),
        [],
      );
    });
  });
});
