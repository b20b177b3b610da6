import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from './demo.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('test/sandbox/demo (npm start)', function () {
  this.timeout(180_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ss-demo-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates the due Secrets, backs up, passes every drill check, reports nothing overdue, and keeps the files', async () => {
    let out = '';

    const r = await runDemo({ dir, write: (t) => (out += t) });

    assert.equal(r.code, 0, out);
    assert.deepEqual(
      r.steps.map((s) => [s.name, s.code]),
      [
        ['rotate', 0],
        ['backup', 0],
        ['verify-restore', 0],
        ['status', 0],
      ],
    );
    const rotated = r
      .rotation!.secrets.filter((s) => s.action === 'rotated')
      .map((s) => `${s.namespace}/${s.name}`)
      .sort();
    assert.deepEqual(rotated, r.seed!.due);
    assert.deepEqual(
      r
        .rotation!.secrets.filter((s) => s.action === 'not-due')
        .map((s) => s.name)
        .sort(),
      ['grafana-admin', 'stripe-api'],
    );
    assert.deepEqual(
      r
        .rotation!.workloads.filter((w) => w.patched)
        .map((w) => `${w.namespace}/${w.name}:${w.state}`)
        .sort(),
      ['payments/ledger-worker:ready', 'payments/payments-api:ready', 'platform/gateway:ready', 'web/frontend:ready'],
    );
    // 11 seeded + 3 `-previous` companions of in-place rotations + the new version api-keys-v2.
    assert.equal(r.backup!.secrets, 15);
    assert.deepEqual(
      r.drill!.checks.map((c) => `${c.name}:${c.status}`),
      [
        'freshness:pass',
        'integrity:pass',
        'validity:pass',
        'restorability:pass',
        'drift:pass',
        'key-health:pass',
        'catalogue:pass',
        'deep-check:pass',
      ],
    );
    assert.equal(r.drill!.counts.secretsRestored, 15);
    assert.match(out, /platform\/api-keys-v1 +versioned +API_KEY +rotated -> api-keys-v2 +deployment\/gateway/);
    assert.match(out, /Workloads restarted, each once, and verified: .*deployment\/frontend \(web\): ready/);
    assert.match(out, new RegExp(`Backup ${r.backup!.backupId}: 15 Secrets from 4 namespaces`));
    assert.match(out, /restorability +PASS/);
    assert.match(out, /ROTATION: 6 Secrets with a policy \(6 ok\)/);
    assert.match(out, /Nothing overdue\./);
    assert.match(out, /Everything passed: 4 Secrets rotated/);
    assert.ok(
      r.bucketFiles.some((f) => f.endsWith('segment-00001.json.gz.pgp')),
      r.bucketFiles.join('\n'),
    );
    assert.ok(
      r.bucketFiles.some((f) => /_pass\.json\.asc$/.test(f)),
      'the signed drill report is among the files',
    );
    for (const f of ['kubeconfig', 'env', 'keys/demo.private.asc', ...r.bucketFiles]) assert.ok(existsSync(join(dir, f)), f);
    assert.doesNotMatch(out, /initial-[0-9a-f]{12}/, 'no seeded secret value in the summary');
  });

  it('stops both servers before it returns', async () => {
    let out = '';

    const r = await runDemo({ dir, write: (t) => (out += t) });

    const kube = readFileSync(join(dir, 'kubeconfig'), 'utf8').match(/server: (\S+)/)![1];
    const s3 = readFileSync(join(dir, 'env'), 'utf8').match(/SECRET_STEWARD_S3_ENDPOINT=(\S+)/)![1];
    assert.equal(r.code, 0, out);
    for (const url of [kube, s3]) await assert.rejects(fetch(url), `${url} still answers`);
  });

  it('as `npm start` in a fresh process: exits 0 by itself (nothing left running)', async () => {
    const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
    assert.equal(script, 'node --openssl-legacy-provider --import tsx test/sandbox/demo.ts');
    const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', 'test/sandbox/demo.ts', '--dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));

    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    assert.equal(code, 0, out);
    assert.match(out, /Everything passed/);
    assert.match(out, /The sandbox servers are stopped\./);
  });
});
