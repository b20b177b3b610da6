import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { backupCommand } from '../../jobs/backup.js';
import { secretAgeCommand } from '../../jobs/secret-age.js';
import { BackupLayout, newBackupId } from '../../shared/backup/backup-layout.js';
import { createLogger, MemorySink } from '../../shared/log/index.js';
import { fixedClock } from '../../shared/runtime/clock.js';
import { SECRET_AGE_FORMAT } from '../../shared/status/secret-age-job.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { backupKeyArgs, readKeyArgs } from '../shared/verify-restore/drill-fixtures.js';
import { type Harness, type RunResult, startHarness, writeTestKeyPair } from '../support/job-harness.js';
import { writeBackup } from '../support/write-backup.js';

/**
 * `secret-steward secret-age` end to end: four real daily backups of the Kubernetes emulator
 * into s3rver, with Secrets changed, created and deleted between them, and two backups an
 * attacker planted (sealed by a key nobody trusts, one of them under the newest id), then the
 * command at day 3.5.
 */

const DAY = 86_400_000;
/** Tomorrow 03:00 UTC: the test keys are made now, and a key cannot sign before it exists. */
const DAY0 = (Math.floor(Date.now() / DAY) + 1) * DAY + 3 * 3_600_000;
const at = (day: number) => new Date(DAY0 + day * DAY);
const CANARY = `canary-${randomBytes(8).toString('hex')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const PREFIX = 'age';

interface AgeDoc {
  format: string;
  location: string;
  maxUnchanged: string;
  asOf: { backup: string; createdAt: string };
  oldestRead: { backup: string; createdAt: string };
  flagged: number;
  secrets: Array<{
    namespace: string;
    name: string;
    type: string;
    unchangedSince: string;
    atLeast: boolean;
    sinceBackup: string;
    changedAfter?: { backup: string; createdAt: string; was: string };
    unchangedForSeconds: number;
    flagged: boolean;
  }>;
  skipped: Array<{ id: string; reason: string }>;
}

describe('jobs/secret-age: when each Secret last changed, from the authenticated backup history', function () {
  this.timeout(180_000);
  let h: Harness;
  /** The four real backups, oldest first. */
  const real: string[] = [];
  const planted: string[] = [];
  const runs: RunResult[] = [];

  const secret = (ns: string, name: string, value: string) =>
    ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'Opaque', data: { v: b64(value) } }) as never;
  const replace = (ns: string, name: string, value: string) => {
    const current = h.emulator.get('v1', 'Secret', ns, name) as unknown as { metadata: { resourceVersion: string } };
    h.emulator.update({
      ...(secret(ns, name, value) as object),
      metadata: { name, namespace: ns, resourceVersion: current.metadata.resourceVersion },
    } as never);
  };
  const backupAt = async (day: number) => {
    const r = await h.run(backupCommand, [...h.baseArgs(PREFIX), ...backupKeyArgs(h), '--output', 'json'], { clock: fixedClock(at(day)) });
    assert.equal(r.code, 0, r.stderr);
    real.push(JSON.parse(r.stdout).backupId);
  };
  const secretAge = async (args: string[], day = 3.5) => {
    const r = await h.run(secretAgeCommand, [...h.s3.args(PREFIX), '--cluster-name', 'test-cluster', ...readKeyArgs(h), ...args], {
      clock: fixedClock(at(day)),
    });
    runs.push(r);
    return r;
  };

  before(async () => {
    h = await startHarness();
    for (const ns of ['apps', 'web']) h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never);
    for (const name of ['never', 'rotated', 'late', 'deleted']) h.emulator.create(secret('apps', name, `${CANARY}-${name}-v1`));
    h.emulator.create(secret('web', 'static', `${CANARY}-static`));
    await backupAt(0);
    replace('apps', 'rotated', `${CANARY}-rotated-v2`);
    await backupAt(1);
    h.emulator.delete('v1', 'Secret', 'apps', 'deleted');
    h.emulator.create(secret('apps', 'fresh', `${CANARY}-fresh-v1`));
    await backupAt(2);
    replace('apps', 'late', `${CANARY}-late-v2`);
    await backupAt(3);

    // The attacker: a well-formed backup sealed by a key of their own, with other data for
    // every Secret and without `never`; and the same objects again under the newest id.
    const store = createObjectStore(h.s3.settings(PREFIX));
    const layout = new BackupLayout('test-cluster');
    const mallory = await writeTestKeyPair(h.dir, 'mallory');
    const forgedItems = ['rotated', 'late', 'fresh'].map((n) => secret('apps', n, `${CANARY}-forged-${n}`));
    const forged = await writeBackup(forgedItems, {
      store,
      layout,
      recipient: h.recipient,
      signer: mallory,
      clusterUid: h.clusterUid,
      log: createLogger({ sink: new MemorySink() }),
    });
    const newest = newBackupId(at(3.4));
    for await (const o of store.list(layout.backupPrefix(forged))) {
      await store.put(layout.backupPrefix(newest) + o.key.slice(layout.backupPrefix(forged).length), await store.getBytes(o.key));
    }
    planted.push(forged, newest);
  });
  after(async () => h?.stop());

  it('reports, per Secret of the newest backup, the oldest backup since which its data is the same, and flags the old ones (exit 1)', async () => {
    const r = await secretAge(['-n', 'apps', '--max-unchanged', '2d', '--output', 'json']);

    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as AgeDoc;
    assert.equal(doc.format, SECRET_AGE_FORMAT);
    assert.equal(doc.maxUnchanged, '2d');
    assert.deepEqual(doc.asOf, { backup: real[3], createdAt: at(3).toISOString() });
    assert.deepEqual(doc.oldestRead, { backup: real[0], createdAt: at(0).toISOString() });
    const changed = (i: number, was: string) => ({ backup: real[i], createdAt: at(i).toISOString(), was });
    const row = (name: string, since: number, after: object | undefined, flagged: boolean) => ({
      namespace: 'apps',
      name,
      type: 'Opaque',
      unchangedSince: at(since).toISOString(),
      atLeast: after === undefined,
      sinceBackup: real[since],
      ...(after ? { changedAfter: after } : {}),
      unchangedForSeconds: ((3.5 - since) * DAY) / 1000,
      flagged,
    });
    assert.deepEqual(doc.secrets, [
      row('fresh', 2, changed(1, 'absent'), false),
      row('late', 3, changed(2, 'other data'), false),
      row('never', 0, undefined, true),
      row('rotated', 1, changed(0, 'other data'), true),
    ]);
    assert.equal(doc.flagged, 2);
    assert.deepEqual(doc.skipped.map((s) => s.id).sort(), [...planted].sort());
    for (const s of doc.skipped) assert.match(s.reason, /^forged: /);
  });

  it('says "at least" for data unchanged across the whole retained history, in the text table', async () => {
    const r = await secretAge(['-n', 'apps', '--max-unchanged', '2d']);

    assert.equal(r.code, 1);
    const line = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`apps       ${name} `)) ?? '';
    assert.match(line('never'), new RegExp(`at least ${at(0).toISOString().replace('.000Z', 'Z')}\\s+3d12h\\s+-\\s+unchanged > 2d$`));
    assert.match(
      line('rotated'),
      new RegExp(
        `${at(1).toISOString().replace('.000Z', 'Z')}\\s+2d12h\\s+${at(0).toISOString().replace('.000Z', 'Z')} \\(other data\\)\\s+unchanged > 2d$`,
      ),
    );
    assert.match(line('late'), /\(other data\)$/);
    assert.match(r.stdout, /^2 of 4 Secret\(s\) unchanged for longer than 2d \(--max-unchanged\)\.$/m);
    for (const id of planted) assert.match(r.stdout, new RegExp(`^Skipped ${id}: forged: `, 'm'));
  });

  it('would have read the planted backup had its key been trusted (so the test above can fail)', async () => {
    const r = await secretAge(['-n', 'apps', '--trusted-signer-key', join(h.dir, 'mallory.public.asc'), '--output', 'json']);

    const never = (JSON.parse(r.stdout) as AgeDoc).secrets.find((s) => s.name === 'never');
    assert.equal(never?.atLeast, false);
    assert.equal(never?.changedAfter?.backup, planted[0]);
    assert.equal(never?.changedAfter?.was, 'absent');
  });

  it('lists an authenticated backup whose index it cannot decrypt as skipped, and exits 1', async () => {
    const r = await h.run(
      secretAgeCommand,
      [
        ...h.s3.args(PREFIX),
        '--cluster-name',
        'test-cluster',
        '--decryption-key',
        join(h.dir, 'mallory.private.asc'),
        '--decryption-key-passphrase-file',
        join(h.dir, 'mallory.passphrase'),
        '--trusted-signer-key',
        h.signer.publicKey,
      ],
      { clock: fixedClock(at(3.5)) },
    );
    runs.push(r);

    assert.equal(r.code, 1);
    assert.match(r.stdout, /^No authenticated scheduled backup could be read under .*: the age of no Secret is known\.$/m);
    for (const id of real) assert.match(r.stdout, new RegExp(`^Skipped ${id}: index unreadable: `, 'm'));
  });

  it('exits 1 while unauthenticated backups may hide a change; 0 once they are gone and nothing is too old', async () => {
    const withPlanted = await secretAge(['--max-unchanged', '4d']);
    assert.equal(withPlanted.code, 1, withPlanted.stdout);
    assert.match(withPlanted.stdout, /^0 of \d+ Secret\(s\) unchanged for longer than 4d/m);
    assert.match(withPlanted.stdout, /^2 backup\(s\) under the prefix are not authenticated: the history may have a hole there/m);
    // Runs after every test that needs the planted backups.
    const store = createObjectStore(h.s3.settings(PREFIX));
    const layout = new BackupLayout('test-cluster');
    for (const id of planted) {
      const keys: string[] = [];
      for await (const o of store.list(layout.backupPrefix(id))) keys.push(o.key);
      await store.delete(keys);
    }

    const r = await secretAge(['--max-unchanged', '4d', '-o', 'yaml']);

    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^format: secret-steward\.io\/secret-age\/v1$/m);
    assert.match(r.stdout, /^flagged: 0$/m);
    assert.match(r.stdout, /name: static\n/);
    assert.doesNotMatch(r.stdout, /name: deleted\n/, 'a Secret deleted before the newest backup is not reported');
  });

  it('refuses -A with -n, and a run without --trusted-signer-key (exit 2)', async () => {
    const both = await secretAge(['-A', '-n', 'apps']);
    const untrusted = await h.run(secretAgeCommand, [
      ...h.s3.args(PREFIX),
      '--cluster-name',
      'test-cluster',
      '--decryption-key',
      h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      h.recipient.passphraseFile,
    ]);

    assert.equal(both.code, 2);
    assert.match(both.stderr, /-A, --all-namespaces .*not with --namespace/);
    assert.equal(untrusted.code, 2);
    assert.match(untrusted.stderr, /--trusted-signer-key .*is required: only backups sealed by a trusted key are read/);
  });

  it('never prints or logs a Secret value (canary)', () => {
    assert.ok(runs.length >= 4);
    for (const r of runs) {
      for (const text of [r.stdout, r.stderr, JSON.stringify(r.records)]) {
        assert.ok(!text.includes(CANARY) && !text.includes(b64(CANARY).slice(0, 16)), 'no Secret value in any output');
      }
    }
  });
});
