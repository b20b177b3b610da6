import assert from 'node:assert/strict';
import { backupCommand } from '../../jobs/backup.js';
import { restoreCommand } from '../../jobs/restore.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { TOOL_VERSION } from '../../shared/runtime/version.js';
import type { RequestLogEntry } from '../emulator/index.js';
import { RotateCluster } from '../shared/rotate/support/cluster.js';
import {
  backupKeyArgs,
  createDrillNamespace,
  drillArgs,
  drillSigningArgs,
  readKeyArgs,
  seedMany,
} from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, startHarness } from '../support/job-harness.js';

/**
 * Every request a job makes names secret-steward, its version and the command in its
 * User-Agent (what the API server's audit log records as `userAgent`), and every write names the
 * command as its `fieldManager` (what `metadata.managedFields[].manager` shows), as kubectl does.
 */
function assertIdentified(entries: readonly RequestLogEntry[], command: string): void {
  const agent = `secret-steward/${TOOL_VERSION} (${process.platform}/${process.arch}) ${command}`;
  assert.ok(entries.length > 0, 'the job made requests');
  for (const e of entries) assert.equal(e.userAgent, agent, `${e.method} ${e.path}`);
  const writes = entries.filter((e) => ['POST', 'PUT', 'PATCH'].includes(e.method));
  assert.ok(writes.length > 0, 'the job wrote something');
  for (const e of writes) assert.equal(e.query.fieldManager, `secret-steward-${command}`, `${e.method} ${e.path}`);
}

/** `POST secrets`, `PUT leases`...: the kinds of writes seen, so a test shows it covered the fast paths too. */
function writeKinds(entries: readonly RequestLogEntry[]): Set<string> {
  return new Set(entries.filter((e) => ['POST', 'PUT', 'PATCH'].includes(e.method)).map((e) => `${e.method} ${e.resource}`));
}

describe('jobs: User-Agent and fieldManager on every request', function () {
  this.timeout(180_000);

  describe('backup, restore, verify-restore', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await startHarness();
    });
    afterEach(async () => h?.stop());

    it('each names itself on every request and every write', async () => {
      seedMany(h, 5);
      const backup = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h)]);
      assert.equal(backup.code, 0, backup.stderr);
      assertIdentified(h.emulator.requests.entries, 'backup');
      assert.ok(writeKinds(h.emulator.requests.entries).has('POST events'));

      h.emulator.requests.clear();
      h.emulator.delete('v1', 'Secret', 'bulk', 's-00001');
      const restore = await h.run(restoreCommand, [...h.baseArgs(), ...readKeyArgs(h)]);
      assert.equal(restore.code, 0, restore.stderr);
      assertIdentified(h.emulator.requests.entries, 'restore');
      assert.ok(writeKinds(h.emulator.requests.entries).has('POST secrets'));

      h.emulator.requests.clear();
      createDrillNamespace(h);
      const drill = await h.run(verifyRestoreCommand, [...drillArgs(h), ...drillSigningArgs(h)]);
      assert.equal(drill.code, 0, drill.stdout + drill.stderr);
      // The drill's Secrets go through the raw undici fast path (raw-request.ts), its cleanup is a deletecollection.
      assertIdentified(h.emulator.requests.entries, 'verify-restore');
      assert.ok(writeKinds(h.emulator.requests.entries).has('POST secrets'));
    });
  });

  describe('rotate', () => {
    let c: RotateCluster;
    beforeEach(async () => {
      c = await RotateCluster.start();
    });
    afterEach(async () => c.stop());

    it('names itself on every request, and on every write of Secrets, workloads, Leases and Events', async () => {
      await c.secret(
        'shop',
        'db',
        { password: 'old-password-0001' },
        'maxAge: 30d\nkeys:\n  password: { generator: password, length: 24 }\nrollout: { waitReady: 20s }',
        {
          annotations: { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' },
        },
      );
      await c.deployment('shop', 'api', { envFrom: ['db'] });
      const from = c.requests().length;

      const r = await c.run([]);

      assert.equal(r.code, 0, r.stdout + r.stderr);
      const entries = c.requests(from);
      assertIdentified(entries, 'rotate');
      const kinds = writeKinds(entries);
      for (const kind of ['PUT secrets', 'PATCH deployments', 'POST events'])
        assert.ok(kinds.has(kind), `${kind} in ${[...kinds].join(', ')}`);
      assert.ok(kinds.has('POST leases') || kinds.has('PUT leases'), [...kinds].join(', '));
    });
  });
});
