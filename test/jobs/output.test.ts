import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { adoptCommand } from '../../jobs/adopt.js';
import { backupCommand } from '../../jobs/backup.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { pruneCommand } from '../../jobs/prune.js';
import { restoreCommand } from '../../jobs/restore.js';
import { rotateCommand } from '../../jobs/rotate.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import type { AnyCommand } from '../../shared/runtime/command.js';
import { backupKeyArgs, createDrillNamespace, drillArgs, readKeyArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, startHarness } from '../support/job-harness.js';

const FORMAT = /^secret-steward\.io\/[a-z-]+\/v\d+$/;

/**
 * Every command's `-o json` and `-o yaml`, run for real against the emulator and s3rver: each
 * document carries its `format` version, and yaml is the same document as json.
 */
describe('jobs (-o json, -o yaml, -o wide)', function () {
  this.timeout(180_000);
  let h: Harness;
  let backupId: string;

  before(async () => {
    h = await startHarness();
    await seedDrillSecrets(h, ['payments', 'web']);
    createDrillNamespace(h);
    const r = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    backupId = JSON.parse(r.stdout).backupId;
  });
  after(async () => h?.stop());

  const store = () => [...h.s3.args('bk'), '--cluster-name', 'test-cluster', '--trusted-signer-key', h.signer.publicKey];
  const kube = () => ['--kubeconfig', h.kubeconfig];
  /** Each command with the arguments of a run that writes nothing (or nothing that matters to the next). */
  const runs: Array<{ name: string; command: AnyCommand; args: () => string[]; format: string }> = [
    { name: 'backup', command: backupCommand, args: () => [...h.baseArgs(), ...backupKeyArgs(h)], format: 'backup/v1' },
    {
      name: 'backup --dry-run',
      command: backupCommand,
      args: () => [...h.baseArgs(), ...backupKeyArgs(h), '--dry-run'],
      format: 'backup-plan/v1',
    },
    {
      name: 'verify-restore',
      command: verifyRestoreCommand,
      args: () => [...drillArgs(h), '--no-store-report'],
      format: 'drill-report/v1',
    },
    {
      name: 'restore --dry-run',
      command: restoreCommand,
      args: () => [...h.baseArgs(), ...readKeyArgs(h), '--backup', backupId, '--dry-run'],
      format: 'restore/v1',
    },
    {
      name: 'prune --dry-run',
      command: pruneCommand,
      args: () => [...h.baseArgs(), '--trusted-signer-key', h.signer.publicKey, '--keep-last', '1', '--dry-run'],
      format: 'prune/v1',
    },
    { name: 'list-backups', command: listBackupsCommand, args: () => store(), format: 'list-backups/v2' },
    {
      name: 'adopt --dry-run',
      command: adoptCommand,
      args: () => [...h.baseArgs(), ...readKeyArgs(h), ...h.signingArgs(), '--dry-run'],
      format: 'adopt/v1',
    },
    { name: 'rotate --dry-run', command: rotateCommand, args: () => [...kube(), '--dry-run'], format: 'rotate/v1' },
    { name: 'status', command: statusCommand, args: () => [...kube(), ...store()], format: 'status/v2' },
  ];

  for (const c of runs) {
    it(`${c.name}: -o json and -o yaml print one document with format secret-steward.io/${c.format}`, async () => {
      const json = await h.run(c.command, [...c.args(), '-o', 'json']);
      const yaml = await h.run(c.command, [...c.args(), '-o', 'yaml']);

      assert.ok(json.code === 0 || json.code === 1, json.stdout + json.stderr);
      assert.equal(yaml.code, json.code, yaml.stdout + yaml.stderr);
      const fromJson = JSON.parse(json.stdout) as Record<string, unknown>;
      const fromYaml = parse(yaml.stdout) as Record<string, unknown>;
      assert.equal(fromJson.format, `secret-steward.io/${c.format}`);
      assert.match(String(fromJson.format), FORMAT);
      assert.equal(fromYaml.format, fromJson.format);
      assert.deepEqual(Object.keys(fromYaml), Object.keys(fromJson));
    });
  }

  it('list-backups -o wide: the table with segments, signer, cluster uid and drill report', async () => {
    const text = await h.run(listBackupsCommand, store());
    const wide = await h.run(listBackupsCommand, [...store(), '-o', 'wide']);

    assert.equal(wide.code, 0, wide.stderr);
    const [head, ...rows] = wide.stdout.split('\n');
    const row = rows.find((r) => r.startsWith(backupId)) ?? '';
    assert.match(head, /^BACKUP +KIND +CREATED +AGE +STATUS +SECRETS +SIZE +LAST DRILL +SEGMENTS +SIGNER +CLUSTER UID +DRILL REPORT$/);
    assert.ok(row.includes(h.clusterUid) && row.includes(h.signer.fingerprint), wide.stdout);
    assert.doesNotMatch(text.stdout.split('\n')[0], /SEGMENTS/);
  });
});
