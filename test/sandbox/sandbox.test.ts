import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** Parses DIR/env (export K=V lines) into an object. */
function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  return env;
}

describe('test/sandbox (npm run sandbox)', function () {
  this.timeout(120_000);

  it('starts, writes kubeconfig, env and demo keys, serves kubectl and secret-steward, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-sandbox-'));
    // The command behind `npm run sandbox` (npm itself would turn our SIGTERM into its own signal exit).
    const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.sandbox as string;
    assert.equal(script, 'node --openssl-legacy-provider --import tsx test/sandbox/main.ts');
    const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', 'test/sandbox/main.ts', '--dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('sandbox ready')) {
        if (Date.now() > deadline) assert.fail(`no "sandbox ready" in: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const env = { ...process.env, ...readEnvFile(join(dir, 'env')) };
      assert.equal(statSync(join(dir, 'keys', 'demo.private.asc')).mode & 0o777, 0o600);
      assert.match(env.SECRET_STEWARD_STORE ?? '', /^s3:\/\/sandbox-store$/);

      const ns = await run('kubectl', ['get', 'ns', '-o', 'name'], { env });
      await run('kubectl', ['create', 'secret', 'generic', 'demo', '-n', 'default', '--from-literal=password=sandbox-test-value'], { env });
      const backup = await run('npm', ['run', '-s', 'cli', '--', 'backup', '--output', 'json'], { env, cwd: ROOT });

      assert.match(ns.stdout, /namespace\/secret-steward-drill/);
      assert.equal(JSON.parse(backup.stdout).secrets, 1);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(out, /sandbox stopped/);
  });
});
