import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { backupCommand } from '../../jobs/backup.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { BREAK_GLASS_RESTORE } from '../../shared/crypto/break-glass.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { KubeEmulator } from '../emulator/index.js';
import { type Harness, startHarness } from '../support/job-harness.js';
import { seedCommonSecrets } from '../support/seed-secrets.js';

/** A GnuPG home with one key made by `gpg --quick-gen-key` (no passphrase: a throwaway test key). */
function gpgHome(): { home: string; publicKeyFile: string; fingerprint: string } {
  const home = mkdtempSync(join(tmpdir(), 'ss-gnupg-'));
  const gpg = (args: string[]) =>
    execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  gpg(['--quick-gen-key', 'break-glass test <dr@test.invalid>', 'future-default', 'default', 'never']);
  const fingerprint = /fpr:{9}([0-9A-F]{40})/.exec(gpg(['--with-colons', '--list-keys']))![1];
  const publicKeyFile = join(home, 'dr.public.asc');
  writeFileSync(publicKeyFile, gpg(['--armor', '--export', fingerprint]));
  return { home, publicKeyFile, fingerprint };
}

// Asynchronous on purpose: the emulator serves kubectl from this very process.
const run = promisify(execFile);

/**
 * Runs BREAK_GLASS_RESTORE, the line README and `backup --help` show, through a real shell in the
 * segment's folder, as an operator would: the private key in GNUPGHOME, the cluster in
 * KUBECONFIG, and the segment's own name in place of segment-00001 for the later segments.
 */
async function breakGlass(home: string, segmentFile: string, kubeconfig: string, line = BREAK_GLASS_RESTORE): Promise<void> {
  await run('bash', ['-o', 'pipefail', '-c', line.replace('segment-00001.json.gz.pgp', basename(segmentFile))], {
    cwd: dirname(segmentFile),
    env: { ...process.env, GNUPGHOME: home, KUBECONFIG: kubeconfig },
  });
}

describe('jobs/backup (break-glass restore with gpg and kubectl)', function () {
  this.timeout(180_000);
  let h: Harness;
  let fresh: KubeEmulator;
  let gpg: ReturnType<typeof gpgHome>;
  before(async () => {
    h = await startHarness();
    fresh = await KubeEmulator.start();
    gpg = gpgHome();
  });
  after(async () => {
    await h?.stop();
    await fresh?.stop();
    if (gpg) rmSync(gpg.home, { recursive: true, force: true });
  });

  it('restores every Secret byte-identical into a fresh cluster with stock tools only', async () => {
    const expected = seedCommonSecrets(h, ['payments', 'web']);
    const r = await h.run(backupCommand, [
      ...h.baseArgs(),
      ...h.signingArgs(),
      '--recipient-key',
      gpg.publicKeyFile,
      '--recipient-key',
      h.recipient.publicKey,
      '--segment-size',
      '1',
      '--output',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const id = JSON.parse(r.stdout).backupId as string;
    const store = createObjectStore(h.s3.settings('bk'));
    const layout = new BackupLayout('test-cluster');
    const kubeconfig = join(gpg.home, 'fresh.kubeconfig');
    await fresh.writeKubeconfig(kubeconfig);
    await run('kubectl', ['--kubeconfig', kubeconfig, 'create', 'namespace', 'payments']);
    await run('kubectl', ['--kubeconfig', kubeconfig, 'create', 'namespace', 'web']);

    const segments: string[] = [];
    for await (const o of store.list(layout.backupPrefix(id))) if (o.key.includes('/segment-')) segments.push(o.key);
    assert.ok(segments.length >= 2, `expected several segments, got ${segments.length}`);
    for (const key of segments) {
      const file = join(gpg.home, key.split('/').pop()!);
      writeFileSync(file, await store.getBytes(key, 64 * 1024 * 1024));
      await breakGlass(gpg.home, file, kubeconfig);
    }

    for (const [nsName, data] of expected) {
      const [ns, name] = nsName.split('/');
      const live = fresh.get('v1', 'Secret', ns, name) as { data?: Record<string, string> } | undefined;
      assert.ok(live, `${nsName} not restored`);
      assert.deepEqual(live.data ?? {}, data, nsName);
    }
    assert.equal(
      fresh.list('v1', 'Secret').filter((s) => ['payments', 'web'].includes((s as { metadata: { namespace: string } }).metadata.namespace))
        .length,
      expected.size,
    );
  });

  it('also works with kubectl apply for Secrets small enough for the last-applied annotation', async () => {
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'small' } } as never);
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: 'small' },
      data: { password: Buffer.from('s3cr3t-value').toString('base64') },
    } as never);
    const r = await h.run(backupCommand, [
      ...h.baseArgs('apply'),
      ...h.signingArgs(),
      '--recipient-key',
      gpg.publicKeyFile,
      '--namespace',
      'small',
      '--output',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const store = createObjectStore(h.s3.settings('apply'));
    const key = new BackupLayout('test-cluster').segmentKey(JSON.parse(r.stdout).backupId, 1, 'gzip');
    mkdirSync(join(gpg.home, 'apply'));
    const file = join(gpg.home, 'apply', 'segment-00001.json.gz.pgp');
    writeFileSync(file, await store.getBytes(key));
    const kubeconfig = join(gpg.home, 'fresh.kubeconfig');
    await run('kubectl', ['--kubeconfig', kubeconfig, 'create', 'namespace', 'small']);

    await breakGlass(gpg.home, file, kubeconfig, BREAK_GLASS_RESTORE.replace('kubectl create', 'kubectl apply'));

    const live = fresh.get('v1', 'Secret', 'small', 'db') as { data?: Record<string, string> };
    assert.equal(Buffer.from(live.data!.password, 'base64').toString(), 's3cr3t-value');
    assert.ok(readFileSync(file).length > 0);
  });
});
