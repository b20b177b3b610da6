import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adoptCommand } from '../../jobs/adopt.js';
import { listBackupsCommand } from '../../jobs/list-backups.js';
import { pruneCommand } from '../../jobs/prune.js';
import { restoreCommand } from '../../jobs/restore.js';
import { rotateCommand } from '../../jobs/rotate.js';
import { statusCommand } from '../../jobs/status.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { MemorySink, redactor } from '../../shared/log/index.js';
import { type Clock, fixedClock } from '../../shared/runtime/clock.js';
import { type Command, runCommand } from '../../shared/runtime/command.js';
import { KubeEmulator } from '../emulator/index.js';
import { writeTestKeyPair } from '../support/job-harness.js';

/**
 * Upgrade: what release 0.1.0 left in a bucket and a cluster (test/upgrade/fixtures/v0.1.0,
 * recorded with that release) keeps working with this code: its backups list, drill and
 * restore; its rotated Secrets, companions and outcome annotations rotate on.
 */
const FIXTURE = join(import.meta.dirname, 'fixtures', 'v0.1.0');
const SCHEDULED = '20261207T020605Z-a8526f';
const PRE_RESTORE = '20261207T020606Z-76e56e';
/** A little after the fixture was recorded. */
const SOON_AFTER = new Date('2026-12-07T02:30:00Z');

interface Run {
  code: number;
  stdout: string;
  logs: MemorySink;
}

describe('test/upgrade: from release 0.1.0', function () {
  this.timeout(120_000);
  let dir: string;
  let emulator: KubeEmulator;
  let kubeconfig: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ss-upgrade-'));
    await cp(join(FIXTURE, 'store'), join(dir, 'store'), { recursive: true });
    emulator = await KubeEmulator.start({ rolloutDelayMs: 5 });
    kubeconfig = join(dir, 'kubeconfig');
    await emulator.writeKubeconfig(kubeconfig);
    await emulator.applyObjects(
      ['secret-steward', 'secret-steward-drill'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    );
  });
  afterEach(async () => {
    redactor.clear();
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const key = (name: string) => join(FIXTURE, 'keys', name);
  const common = () => ['--kubeconfig', kubeconfig, '--lock-namespace', 'secret-steward'];
  const store = () => ['--store', `file://${join(dir, 'store')}`, '--cluster-name', 'sandbox'];
  const readKeys = () => [
    '--decryption-key',
    key('test-only.private.asc'),
    '--decryption-key-passphrase-file',
    key('test-only.passphrase'),
    '--trusted-signer-key',
    key('test-only.public.asc'),
  ];

  async function run(cmd: Command<any>, args: string[], clock: Clock = fixedClock(SOON_AFTER)): Promise<Run> {
    // Each run starts with what a fresh process knows (values registered by an earlier run would
    // redact this run's messages, and the test files run after this one).
    redactor.clear();
    const logs = new MemorySink();
    const out: string[] = [];
    const code = await runCommand(cmd, args, {
      env: { PATH: process.env.PATH, HOME: dir, POD_NAME: 'upgrade-test' },
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
      logSink: logs,
      handleSignals: false,
      clock,
    });
    return { code, stdout: out.join(''), logs };
  }

  /** A Secret's data, decoded; undefined when it does not exist. */
  function secretData(namespace: string, name: string): Record<string, string> | undefined {
    const s = emulator.get('v1', 'Secret', namespace, name) as unknown as { data?: Record<string, string> } | undefined;
    return s && Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  }

  function annotations(namespace: string, name: string): Record<string, string> {
    return (emulator.get('v1', 'Secret', namespace, name)?.metadata.annotations ?? {}) as Record<string, string>;
  }

  async function loadCluster(): Promise<void> {
    const { items } = JSON.parse(await readFile(join(FIXTURE, 'cluster.json'), 'utf8')) as { items: Record<string, unknown>[] };
    const clean = items.map((o) => {
      const { uid: _uid, resourceVersion: _rv, creationTimestamp: _ct, ...metadata } = o.metadata as Record<string, unknown>;
      return { ...o, kind: o.kind as string, metadata, status: undefined };
    });
    await emulator.applyObjects(clean.filter((o) => o.kind === 'Namespace') as never);
    await emulator.applyObjects(clean.filter((o) => o.kind !== 'Namespace') as never);
    await emulator.workloads.idle();
  }

  /**
   * The upgrade step for Secrets a policy reads (CHANGELOG, "Referenced Secrets opt in"): the
   * sandbox's CA lets the certificate it signs use it as its issuer.
   */
  function allowIssuer(): void {
    const ca = emulator.get('v1', 'Secret', 'web', 'internal-ca')!;
    ca.metadata.annotations = { ...ca.metadata.annotations, 'secret-steward.io/allow-references': 'frontend-tls:issuer' };
    emulator.update(ca);
  }

  /** The restore job's own pre-restore signing key, which an operator creates when upgrading. */
  async function preRestoreKey() {
    // Made before the test's clock (the fixture's time): a key is not valid before it exists.
    return writeTestKeyPair(dir, 'pre-restore-signer', { now: new Date('2026-12-01T00:00:00Z') });
  }

  const list = async (extra: string[] = []) => {
    const r = await run(listBackupsCommand, [
      ...store(),
      '--trusted-signer-key',
      key('test-only.public.asc'),
      ...extra,
      '--output',
      'json',
    ]);
    assert.equal(r.code, 0, r.stdout);
    const rows = (JSON.parse(r.stdout) as { backups: { id: string; kind?: string; status: string; secrets?: number }[] }).backups;
    return new Map(rows.map((b) => [b.id, b]));
  };

  it('lists its backups as unsealed until adopt seals them, with the kinds their signed indexes say', async () => {
    const pre = await preRestoreKey();
    const adoptArgs = [
      ...common(),
      ...store(),
      ...readKeys(),
      '--signing-key',
      key('test-only.private.asc'),
      '--signing-key-passphrase-file',
      key('test-only.passphrase'),
      '--pre-restore-signing-key',
      pre.privateKey,
      '--pre-restore-signing-key-passphrase-file',
      pre.passphraseFile,
      '--pre-restore-signer-key',
      pre.publicKey,
    ];

    const before = await list();
    const dry = await run(adoptCommand, [...adoptArgs, '--dry-run']);
    const unchanged = await list();
    const adopt = await run(adoptCommand, adoptArgs);
    const after = await list(['--pre-restore-signer-key', pre.publicKey]);
    const again = await run(adoptCommand, adoptArgs);

    for (const id of [SCHEDULED, PRE_RESTORE]) {
      assert.match(before.get(id)?.status ?? '', /^unsealed: an index without a seal \(made before seals existed: run adopt/);
      assert.equal(before.get(id)?.kind, undefined, 'object metadata says a kind, but nothing vouches for it');
      assert.match(unchanged.get(id)?.status ?? '', /^unsealed/, 'a dry run seals nothing');
    }
    assert.equal(dry.code, 0, dry.stdout);
    assert.match(dry.stdout, new RegExp(`${SCHEDULED} +scheduled +would seal +17 Secrets in 1 segment\\(s\\) verified`));
    assert.equal(adopt.code, 0, adopt.stdout);
    assert.match(adopt.stdout, new RegExp(`${PRE_RESTORE} +pre-restore +sealed`));
    assert.equal(after.get(SCHEDULED)?.status, 'sealed');
    assert.equal(after.get(SCHEDULED)?.kind, 'scheduled');
    assert.equal(after.get(SCHEDULED)?.secrets, 17);
    assert.equal(after.get(PRE_RESTORE)?.kind, 'pre-restore');
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /Nothing to adopt/);
  });

  it('retention never deletes its unsealed backups', async () => {
    const r = await run(pruneCommand, [
      ...store(),
      '--trusted-signer-key',
      key('test-only.public.asc'),
      '--keep-last',
      '1',
      '--offline',
      '--output',
      'json',
    ]);

    assert.equal(r.code, 0, r.stdout);
    const result = JSON.parse(r.stdout) as { deletedBackups: number; unauthenticated: { id: string }[] };
    assert.equal(result.deletedBackups, 0);
    assert.deepEqual(result.unauthenticated.map((u) => u.id).sort(), [SCHEDULED, PRE_RESTORE].sort());
  });

  it('drills its latest scheduled backup', async () => {
    const r = await run(verifyRestoreCommand, [
      ...common(),
      ...store(),
      ...readKeys(),
      '--drill-namespace',
      'secret-steward-drill',
      '--backup-schedule',
      '0 3 * * *',
    ]);

    assert.equal(r.code, 0, r.stdout);
    assert.match(
      r.stdout,
      new RegExp(`backup ${SCHEDULED}`),
      'latest: its newest scheduled backup (the newer pre-restore one is stepped over)',
    );
    assert.match(r.stdout, /catalogue +PASS .*2 made before seals \(index signature verified\)/);
    assert.match(r.stdout, /run secret-steward adopt once to seal them/);
  });

  it('restores its scheduled backup into an empty cluster, and its pre-restore backup by id', async () => {
    await emulator.applyObjects(
      ['payments', 'web', 'platform', 'monitoring'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    );

    const all = await run(restoreCommand, [...common(), ...store(), ...readKeys(), '--backup', SCHEDULED]);
    const undo = await run(restoreCommand, [
      ...common(),
      ...store(),
      ...readKeys(),
      '--backup',
      PRE_RESTORE,
      '--mode',
      'overwrite',
      '--recipient-key',
      key('test-only.public.asc'),
      // New in the upgrade: the restore job's own key seals the pre-restore backup this writes.
      '--pre-restore-signing-key',
      (await preRestoreKey()).privateKey,
      '--pre-restore-signing-key-passphrase-file',
      join(dir, 'pre-restore-signer.passphrase'),
    ]);

    assert.equal(all.code, 0, all.stdout);
    assert.equal(emulator.list('v1', 'Secret', 'payments').length >= 4, true);
    assert.equal(undo.code, 0, undo.stdout);
    assert.equal(
      secretData('monitoring', 'alertmanager-config')?.['alertmanager.yaml'],
      'changed by hand\n',
      'the pre-restore backup holds the hand-made value',
    );
  });

  it('rotates on from the annotations and companions it left, including its failed rotation', async () => {
    await loadCluster();
    allowIssuer();
    const before = secretData('payments', 'cache-password');

    const r = await run(rotateCommand, [...common(), '--output', 'json'], fixedClock(new Date('2026-12-08T00:00:00Z')));

    assert.equal(r.code, 0, r.stdout);
    assert.notEqual(secretData('payments', 'cache-password')?.password, before?.password, 'the rotation that failed under 0.1.0 completes');
    assert.equal(JSON.parse(annotations('payments', 'cache-password')['secret-steward.io/last-outcome']).result, 'succeeded');
    assert.equal(
      secretData('payments', 'cache-password-previous')?.password,
      before?.password,
      'the value in use before is the previous one',
    );
    assert.equal(emulator.get('v1', 'Secret', 'payments', 'cache-password-pending'), undefined);
  });

  it('reports a TLS policy whose CA did not opt in as invalid, naming the annotation to add, until it is added (dry run)', async () => {
    await loadCluster();
    const before = secretData('web', 'frontend-tls');
    const rotateNow = () =>
      emulator.update({
        ...emulator.get('v1', 'Secret', 'web', 'frontend-tls')!,
        metadata: {
          ...emulator.get('v1', 'Secret', 'web', 'frontend-tls')!.metadata,
          annotations: { ...annotations('web', 'frontend-tls'), 'secret-steward.io/rotate-now': 'upgrade' },
        },
      });
    rotateNow();
    const json = (r: Run) => JSON.parse(r.stdout) as { secrets: { namespace: string; name: string; action: string; detail: string }[] };
    const tls = (r: Run) => json(r).secrets.find((e) => e.name === 'frontend-tls');

    const refused = await run(rotateCommand, [...common(), '--output', 'json'], fixedClock(new Date('2026-12-08T00:00:00Z')));
    allowIssuer();
    const allowed = await run(rotateCommand, [...common(), '--dry-run', '--output', 'json'], fixedClock(new Date('2026-12-08T00:00:00Z')));

    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(tls(refused)?.action, 'invalid');
    assert.equal(
      tls(refused)?.detail,
      'keys["tls.crt"].issuer.secret: Secret web/internal-ca does not allow Secret web/frontend-tls to use it as issuer (sign certificates with its CA): add the annotation secret-steward.io/allow-references: "frontend-tls:issuer" to Secret web/internal-ca',
    );
    assert.equal(allowed.code, 0, allowed.stdout);
    assert.equal(tls(allowed)?.action, 'would-rotate');
    assert.deepEqual(secretData('web', 'frontend-tls'), before);
  });

  it('status names the unsealed backups until adopt, then only the rotation it left failed', async () => {
    await loadCluster();
    allowIssuer();
    const status = () =>
      run(statusCommand, [
        '--kubeconfig',
        kubeconfig,
        ...store(),
        '--trusted-signer-key',
        key('test-only.public.asc'),
        '--drill-signer-key',
        key('test-only.public.asc'),
        '--backup-schedule',
        '0 3 * * *',
        '--output',
        'json',
      ]);
    type Report = { problems: { kind: string; subject: string }[]; warnings: { kind: string; subject: string }[] };
    const problems = (r: Run) => (JSON.parse(r.stdout) as Report).problems.map((p) => `${p.kind} ${p.subject}`).sort();

    const before = await status();
    const adopt = await run(adoptCommand, [
      ...common(),
      ...store(),
      ...readKeys(),
      '--signing-key',
      key('test-only.private.asc'),
      '--signing-key-passphrase-file',
      key('test-only.passphrase'),
    ]);
    const after = await status();

    assert.equal(before.code, 1, before.stdout);
    assert.deepEqual(
      problems(before),
      [
        `backup-unauthenticated ${SCHEDULED}`,
        `backup-unauthenticated ${PRE_RESTORE}`,
        `no-backup file://${join(dir, 'store')}/sandbox/backups/`,
        'rotation-overdue payments/cache-password',
      ].sort(),
    );
    assert.equal(adopt.code, 0, adopt.stdout);
    assert.match(
      adopt.stdout,
      new RegExp(`${PRE_RESTORE} +pre-restore +skipped +a pre-restore backup: give --pre-restore-signing-key to seal it`),
    );
    assert.equal(after.code, 1, 'the Secret whose rotation failed under 0.1.0 is overdue');
    assert.deepEqual(problems(after), [`backup-unauthenticated ${PRE_RESTORE}`, 'rotation-overdue payments/cache-password']);
    const report = JSON.parse(after.stdout) as Report;
    assert.ok(report.warnings.some((w) => w.kind === 'rotation-failed' && w.subject === 'payments/cache-password'));
    assert.ok(after.stdout.includes(SCHEDULED), 'its latest backup is listed, with the 0.1.0 drill that verifies');
  });
});
