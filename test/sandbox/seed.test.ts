import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeEmulator } from '../emulator/index.js';
import { seedDemoCluster } from './seed.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

describe('test/sandbox/seed', function () {
  this.timeout(60_000);

  it('creates Secrets of several types, four due policies of both strategies, and Deployments using them via env, envFrom, volumes and imagePullSecrets', async () => {
    const emu = await KubeEmulator.start();
    try {
      const seed = await seedDemoCluster(emu);

      const secrets = emu.list('v1', 'Secret') as unknown as Array<{ type: string; metadata: { namespace: string; name: string } }>;
      const types = new Set(secrets.filter((s) => seed.namespaces.includes(s.metadata.namespace)).map((s) => s.type));
      const deployments = JSON.stringify(emu.list('apps/v1', 'Deployment'));
      assert.equal(seed.secrets, 11);
      assert.deepEqual([...types].sort(), [
        'Opaque',
        'helm.sh/release.v1',
        'kubernetes.io/basic-auth',
        'kubernetes.io/dockerconfigjson',
        'kubernetes.io/tls',
      ]);
      assert.equal(seed.policies.length, 6);
      for (const via of ['secretKeyRef', 'envFrom', 'secretName', 'imagePullSecrets']) assert.match(deployments, new RegExp(via));
    } finally {
      await emu.stop();
    }
  });

  it('npm run sandbox -- --seed serves the demo cluster to kubectl', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-sandbox-seed-'));
    const child = spawn(
      process.execPath,
      ['--openssl-legacy-provider', '--import', 'tsx', 'test/sandbox/main.ts', '--dir', dir, '--seed'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 45_000;
      while (!out.includes('sandbox ready')) {
        if (Date.now() > deadline) assert.fail(`no "sandbox ready" in: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }

      const got = await run('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'secrets', '-n', 'payments', '-o', 'name']);

      assert.match(out, /seeded: +11 Secrets in payments, web, platform, monitoring/);
      assert.match(got.stdout, /secret\/db-credentials/);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
