import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { METRICS } from '../../shared/metrics/catalogue.js';
import { offsetClock } from '../../shared/runtime/clock.js';
import type { StatusReport } from '../../shared/status/status-report.js';
import { createObjectStore } from '../../shared/storage/index.js';
import type { DrillReport } from '../../shared/verify-restore/drill-report.js';
import { drillMetrics } from '../../shared/verify-restore/verify-restore-job.js';
import { backupKeyArgs, createDrillNamespace, drillArgs, drillSigningArgs, seedMany } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness } from '../support/job-harness.js';
import { requireS3Server, S3_SERVERS } from '../support/s3-server.js';

const DAY = 86_400_000;
const layout = new BackupLayout('test-cluster');
const failure = (r: RunResult) => r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error'));

/**
 * The deep check over a simulated cycle (the drills' clock injected, a day apart): four
 * backups, a drill a day that deep-checks one other backup, the one verified longest ago; a day
 * without a drill; a corrupted old backup; status from the signed reports only.
 */
for (const server of S3_SERVERS) {
  describe(`jobs/verify-restore (deep check, ${server})`, function () {
    this.timeout(300_000);
    let h: Harness;
    let ids: string[];
    const base = Date.now() + 8 * DAY; // every backup made more than a 7d cycle before the first drill
    const day = (n: number) => offsetClock(new Date(base + n * DAY));

    const drill = async (n: number) => {
      const r = await h.run(
        verifyRestoreCommand,
        [...drillArgs(h), ...drillSigningArgs(h), '--deep-check-cycle', '7d', '--deep-check-per-run', '1', '--output', 'json'],
        { clock: day(n) },
      );
      return { r, report: JSON.parse(r.stdout) as DrillReport };
    };
    const status = async (n: number) => {
      const r = await h.run(
        statusCommand,
        [
          '--kubeconfig',
          h.kubeconfig,
          ...h.s3.args('bk'),
          '--cluster-name',
          'test-cluster',
          '--namespace',
          'team-a',
          '--trusted-signer-key',
          h.signer.publicKey,
          '--drill-signer-key',
          h.drillSigner.publicKey,
          '--deep-check-cycle',
          '7d',
          '--output',
          'json',
        ],
        { clock: day(n) },
      );
      return { r, report: JSON.parse(r.stdout) as StatusReport };
    };

    before(async function () {
      requireS3Server(this, server);
      h = await startHarness({ s3: server });
      createDrillNamespace(h);
      seedMany(h, 6, 'team-a');
      seedMany(h, 3, 'team-b');
      ids = [];
      for (let i = 0; i < 4; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1100)); // distinct, ordered ids
        const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--output', 'json']);
        assert.equal(r.code, 0, failure(r));
        ids.push(JSON.parse(r.stdout).backupId);
      }
    });
    after(async () => h?.stop());

    it('over a cycle every retained backup is verified, oldest verification first; a missed day is caught up; RTO in the report', async () => {
      const [a, b, c, d] = ids;

      const d0 = await drill(0);
      const d1 = await drill(1);
      // no drill on day 2
      const d3 = await drill(3);
      const d4 = await drill(4);

      for (const { r } of [d0, d1, d3, d4]) assert.equal(r.code, 0, failure(r));
      assert.deepEqual(
        [d0, d1, d3, d4].map(({ report }) => [report.backup?.id, report.deepCheck?.checked.map((x) => `${x.backupId} ${x.result}`)]),
        [
          [d, [`${a} pass`]],
          [d, [`${b} pass`]],
          [d, [`${c} pass`]],
          [d, [`${a} pass`]],
        ],
      );
      assert.deepEqual(
        [d0, d1, d3, d4].map(({ report }) => report.deepCheck?.notVerifiedInCycle),
        [[b, c], [c], [], []],
      );
      assert.deepEqual(
        d4.report.deepCheck?.backups.map((x) => [x.id, x.lastVerified]),
        [
          [a, d4.report.startedAt],
          [b, d1.report.startedAt],
          [c, d3.report.startedAt],
          [d, d4.report.startedAt],
        ],
      );
      const checked = d1.report.deepCheck!.checked[0];
      assert.deepEqual(
        { ...checked, durationMs: 0 },
        {
          backupId: b,
          createdAt: checked.createdAt,
          result: 'pass',
          at: checked.at,
          failedChecks: [],
          segments: 1,
          segmentsVerified: 1,
          secretsVerified: 9,
          durationMs: 0,
        },
      );
      assert.equal(d1.report.checks.find((x) => x.name === 'deep-check')?.status, 'pass');
      assert.match(d0.report.deepCheck!.history, /signed drill reports \(0 of 0 read/);
      assert.match(d4.report.deepCheck!.history, /signed drill reports \(1 read, back to the newest with a deep check\)/);
      const rto = d4.report.rto!;
      assert.equal(rto.secretsRestored, 9);
      assert.equal(rto.secretsInBackup, 9);
      assert.deepEqual(rto.byNamespace.map((x) => x.namespace).sort(), ['team-a', 'team-b']);
      assert.deepEqual(rto.byNamespace.map((x) => [x.namespace, x.secrets]).sort(), [
        ['team-a', 6],
        ['team-b', 3],
      ]);
    });

    it('status: backups not verified within the cycle, from signed reports only (a forged report does not count); RTO of the newest drill', async () => {
      const [, b] = ids;
      const store = createObjectStore(h.s3.settings('bk'));
      const forged: DrillReport = JSON.parse(
        (await store.getBytes((await keysUnder(store, layout.reportsPrefix())).find((k) => k.endsWith('.json'))!)).toString(),
      );
      forged.deepCheck!.backups = forged.deepCheck!.backups.map((x) => ({ ...x, lastVerified: new Date(base + 8 * DAY).toISOString() }));
      await store.put(layout.reportKey(new Date(base + 8 * DAY), ids[3], true), Buffer.from(JSON.stringify(forged)));

      const s = await status(9);

      assert.equal(s.r.code, 1, failure(s.r));
      const backups = s.report.backups!;
      assert.deepEqual(backups.deepCheck?.notVerifiedInCycle, [b]);
      assert.deepEqual(
        s.report.problems.map((p) => [p.kind, p.subject]),
        [['backup-unverified', b]],
      );
      assert.match(s.report.problems[0].message, new RegExp(`backup ${b} was not verified within 7d \\(last verified `));
      assert.equal(backups.rto?.backupId, ids[3]);
      assert.equal(backups.rto?.secretsRestored, 9);
      assert.equal(typeof backups.rto?.projectedFullRestoreMs, 'number');
      const text = await h.run(
        statusCommand,
        ['--kubeconfig', h.kubeconfig, ...h.s3.args('bk'), '--cluster-name', 'test-cluster', '--namespace', 'team-a'].concat([
          '--trusted-signer-key',
          h.signer.publicKey,
          '--drill-signer-key',
          h.drillSigner.publicKey,
        ]),
        { clock: day(9) },
      );
      // Without --deep-check-cycle, status takes the cycle of the newest signed report with a deep check.
      assert.match(text.stdout, new RegExp(`Deep check: 1 backup\\(s\\) NOT verified within 7d: ${b}`));
      assert.match(
        text.stdout,
        /Restore time \(drill of backup \S+, .*\): \d+\.\ds for 9 Secrets; projected full restore into an empty cluster: \d+\.\ds/,
      );
    });

    it('a corrupted old backup is found by the deep check: which backup, which check; the drill fails (exit 1)', async () => {
      const [, b, , d] = ids;
      const store = createObjectStore(h.s3.settings('bk'));
      const key = layout.segmentKey(b, 1, 'gzip');
      const bytes = await store.getBytes(key, 64 * 1024 * 1024);
      bytes[Math.floor(bytes.length / 2)] ^= 0x04;
      await store.put(key, bytes);

      const { r, report } = await drill(9);

      assert.equal(r.code, 1, failure(r));
      assert.equal(report.result, 'fail');
      assert.equal(report.backup?.id, d);
      assert.equal(report.checks.find((x) => x.name === 'integrity')?.status, 'pass');
      const deep = report.checks.find((x) => x.name === 'deep-check')!;
      assert.equal(deep.status, 'fail');
      assert.deepEqual(
        report.deepCheck?.checked.map((x) => [x.backupId, x.result, x.failedChecks, x.segmentsVerified]),
        [[b, 'fail', ['segment-damaged'], 0]],
      );
      assert.equal(deep.findings.length, 1);
      assert.match(
        deep.findings[0].message,
        new RegExp(`^backup ${b}: segment-00001\\.json\\.gz\\.pgp of backup ${b} is damaged: it has the recorded size`),
      );
      assert.equal(deep.findings[0].segment, 1);
      assert.match(deep.summary, new RegExp(`1 failed \\(${b}: segment-damaged\\)`));
      // A failed verification is no verification: b stays unverified within the cycle.
      assert.ok(report.deepCheck?.notVerifiedInCycle.includes(b));
      const metrics = drillMetrics(report, new Date());
      const value = (name: string, result?: string) =>
        metrics.find((m) => m.metric.name === name && (result === undefined || m.labels?.result === result))?.value;
      assert.equal(value(METRICS.drill.deepCheckBackups.name, 'fail'), 1);
      assert.equal(value(METRICS.drill.deepCheckBackups.name, 'pass'), 0);
      assert.equal(value(METRICS.drill.unverifiedInCycle.name), report.deepCheck?.notVerifiedInCycle.length);
      assert.equal(value(METRICS.drill.restoreTime.name), report.rto!.measuredMs / 1000);
      assert.equal(value(METRICS.drill.projectedRestoreTime.name), report.rto!.projectedFullRestoreMs / 1000);
    });
  });
}

async function keysUnder(store: ReturnType<typeof createObjectStore>, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort().reverse();
}
