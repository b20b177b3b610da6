import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { BENCH_LABEL, emptyStats, generateSecrets } from './generate.js';
import { podRuntime, quantityBytes, semiSpaceMiBForLimit } from './pod-runtime.js';
import { moduleOf, summariseProfile } from './profile.js';
import { rotationFixture } from './rotation-fixture.js';
import { ServerHost } from './servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TLS = {
  cert: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
  key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n',
};

/** True while a process with this id exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Waits (generously: a loaded machine is slow to reap) until `pid` is gone; false if it never goes. */
async function gone(pid: number, withinMs = 60_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

function bench(args: string[]) {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', 'test/bench/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d) => (text += String(d)));
  child.stderr.on('data', (d) => (text += String(d)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, exit, output: () => text };
}

describe('test/bench', function () {
  // Only behaviour is asserted (exit code, the results file's shape, the server process's life);
  // the end-to-end runs drive a dozen real processes, which on a busy 2-core machine takes
  // minutes, so no timeout short enough to fail for that.
  this.timeout(30 * 60_000);

  describe('generate', () => {
    it('makes the documented mix: mostly small, ~7% Helm releases of 20-400 KiB, 0.1% near 1 MiB, binary and text, over every namespace', () => {
      const stats = emptyStats();

      const secrets = [...generateSecrets(4000, 40, TLS, stats)];

      const size = (s: (typeof secrets)[number]) => Object.values(s.data).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
      const helm = secrets.filter((s) => s.type === 'helm.sh/release.v1');
      const large = secrets.filter((s) => size(s) > 900 * 1024);
      assert.equal(secrets.length, 4000);
      assert.equal(stats.small + stats.helm + stats.large, 4000);
      assert.equal(large.length, 4);
      assert.ok(helm.length >= 250 && helm.length <= 300, String(helm.length));
      for (const h of helm) assert.ok(size(h) >= 20 * 1024 && size(h) <= 400 * 1024, String(size(h)));
      for (const s of secrets) assert.ok(size(s) < 1024 * 1024, `${s.metadata.name} is ${size(s)} bytes`);
      assert.ok(stats.binaryValues > 0 && stats.textValues > stats.binaryValues);
      assert.equal(new Set(secrets.map((s) => s.metadata.namespace)).size, 40);
      assert.ok(secrets.every((s) => s.metadata.labels[BENCH_LABEL] === 'true'));
      assert.ok(new Set(secrets.map((s) => s.type)).size >= 5);
      assert.equal(new Set(large.map((s) => s.metadata.namespace)).size, large.length, 'the big ones are not listed back to back');
    });

    it('is deterministic in names, kinds and sizes for a seed', () => {
      const shape = () =>
        [...generateSecrets(300, 7, TLS, emptyStats())].map(
          (s) =>
            `${s.metadata.namespace}/${s.metadata.name}:${s.type}:${Object.values(s.data)
              .map((v) => v.length)
              .join(',')}`,
        );

      assert.deepEqual(shape(), shape());
    });
  });

  describe('pod-runtime', () => {
    it('reads NODE_OPTIONS and the memory limit of each command from its manifest', () => {
      const backup = podRuntime(ROOT, 'backup')!;
      const rotate = podRuntime(ROOT, 'rotate')!;

      assert.equal(backup.memoryLimitBytes, quantityBytes('512Mi'));
      assert.ok(
        backup.flags.some((f) => f.startsWith('--max-old-space-size=')),
        backup.flags.join(' '),
      );
      assert.ok(backup.flags.includes('--max-semi-space-size=1'));
      assert.equal(rotate.memoryLimitBytes, 384 * 1024 * 1024);
      assert.deepEqual(backup.env, { MALLOC_MMAP_THRESHOLD_: '131072' });
      assert.deepEqual(podRuntime(ROOT, 'verify-restore')!.env, { MALLOC_MMAP_THRESHOLD_: '1048576' });
      assert.equal(podRuntime(ROOT, 'keygen'), undefined);
    });

    it('derives the semi-space V8 picks from a memory limit', () => {
      const table: Array<[string, number | undefined]> = [
        ['128Mi', 1],
        ['256Mi', 1],
        ['512Mi', 1],
        ['1Gi', undefined],
      ];
      for (const [limit, semi] of table) assert.equal(semiSpaceMiBForLimit(quantityBytes(limit)!), semi, limit);
      assert.equal(quantityBytes('1.5Gi'), 1.5 * 1024 ** 3);
      assert.equal(quantityBytes('lots'), undefined);
    });
  });

  describe('profile', () => {
    it('sums self time per function and per module', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ss-prof-'));
      const file = join(dir, 'x.cpuprofile');
      const frame = (id: number, functionName: string, url: string) => ({
        id,
        callFrame: { functionName, url, lineNumber: 9 },
        children: [],
      });
      writeFileSync(
        file,
        JSON.stringify({
          nodes: [
            frame(1, '(root)', ''),
            frame(2, 'encrypt', 'file:///app/node_modules/openpgp/dist/node/openpgp.mjs'),
            frame(3, 'runBackup', 'file:///app/dist/shared/backup/run-backup.js'),
            frame(4, '(garbage collector)', ''),
          ],
          samples: [2, 2, 3, 4, 2],
          timeDeltas: [1000, 1000, 2000, 1000, 1000],
          startTime: 0,
          endTime: 6000,
        }),
      );
      try {
        const p = await summariseProfile(file);

        assert.equal(p.totalMs, 6);
        assert.deepEqual(
          p.modules.map((m) => [m.module, m.selfMs]),
          [
            ['openpgp', 3],
            ['shared/backup/run-backup.js', 2],
            ['(garbage collector)', 1],
          ],
        );
        assert.deepEqual(p.functions[0], { name: 'encrypt', where: 'openpgp:10', selfMs: 3, share: 0.5 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('names modules', () => {
      assert.equal(moduleOf('file:///x/node_modules/@aws-sdk/client-s3/dist-cjs/index.js', 'f'), '@aws-sdk/client-s3');
      assert.equal(moduleOf('node:zlib', 'f'), 'node:zlib');
      assert.equal(moduleOf('', '(idle)'), '(idle)');
      assert.equal(moduleOf('file:///work/main/jobs/cli.ts', 'main'), 'jobs/cli.ts');
    });
  });

  it('rotation fixture: every Secret due, every Deployment consumes two', () => {
    const fx = rotationFixture(25, 3);

    const deployments = fx.objects.filter((o) => o.kind === 'Deployment');
    assert.equal(fx.secrets, 25);
    assert.deepEqual(fx.namespaces, ['rot-000', 'rot-001', 'rot-002']);
    assert.equal(deployments.length, fx.deployments);
    assert.ok(
      JSON.stringify(deployments).includes('secretKeyRef') &&
        JSON.stringify(deployments).includes('envFrom') &&
        JSON.stringify(deployments).includes('secretName'),
    );
  });

  it('npm run bench runs end to end at a small size and writes the results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-bench-test-'));
    const out = join(dir, 'results.json');
    let s3cmd = true;
    try {
      execFileSync('bash', ['-c', 'command -v s3cmd && command -v jq && test -x /usr/bin/time']);
    } catch {
      s3cmd = false;
    }
    const args = [
      '--secrets',
      '40',
      '--rotate',
      '12',
      '--rotate-namespaces',
      '2',
      '--sources',
      '--out',
      out,
      ...(s3cmd ? [] : ['--no-baseline']),
    ];
    const b = bench(args);

    const { code } = await b.exit;

    const text = b.output();
    try {
      assert.equal(code, 0, text);
      const results = JSON.parse(readFileSync(out, 'utf8'));
      const run = results.runs[results.latest];
      const steps = run.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`);
      assert.deepEqual(steps, [
        'backup:true',
        'verify-restore:true',
        ...(s3cmd ? ['baseline backup:true'] : []),
        'rotate:true',
        ...(s3cmd ? ['baseline restore:true'] : []),
        'restore:true',
      ]);
      for (const s of run.steps)
        if (!s.step.startsWith('baseline')) assert.ok(s.peakRssBytes > 10 * 1024 * 1024, `${s.step} has a peak RSS`);
      assert.equal(run.rotation.rotated, 12);
      assert.ok(run.rotation.apiRequests > 0);
      assert.match(text, /STEP +RESULT +WALL +SECRETS\/S +MB\/S +PEAK RSS/);
      assert.match(text, /Targets:/);
      if (s3cmd) assert.match(text, /restore throughput \/ baseline restore +\d+\.\d+x +>= 2\.00x/);
      // The servers ran in a process of their own, served every step, and are gone.
      assert.equal(run.servers.mode, 'process');
      assert.ok(Number.isInteger(run.servers.pid) && run.servers.pid !== b.child.pid, String(run.servers.pid));
      assert.match(text, new RegExp(`\\[bench servers ${run.servers.pid}\\] ready: s3rver at http://`));
      for (const s of run.steps) assert.ok(s.serverCpuMs > 0, `${s.step}: the servers worked while it ran`);
      assert.match(text, /SERVERS CPU/);
      assert.equal(await gone(run.servers.pid, 0), true, 'the server process has exited when the bench exits');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a Ctrl-C of the bench takes its server process with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-bench-test-'));
    const b = bench(['--secrets', '40', '--steps', 'backup', '--sources', '--out', join(dir, 'results.json')]);
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        const look = () => {
          const m = /servers: process (\d+)/.exec(b.output());
          if (m) resolve(Number(m[1]));
        };
        b.child.stderr.on('data', look);
        b.exit.then(() => reject(new Error(`the bench exited before its servers were ready:\n${b.output()}`)));
      });
      assert.equal(alive(pid), true, 'the server process runs');

      b.child.kill('SIGINT');
      const exit = await b.exit;

      assert.equal(exit.signal, 'SIGINT', b.output());
      assert.equal(await gone(pid), true, `server process ${pid} is gone`);
    } finally {
      b.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--api-latency: the emulators serve every request that many milliseconds late', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-bench-test-'));
    const host = new ServerHost({ dir, s3: false, namespaces: ['team-a'], apiLatencyMs: 300 });
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(await host.startCluster('main'));
      const core = kc.makeApiClient(CoreV1Api);

      const started = performance.now();
      const [a, b] = await Promise.all([core.readNamespace({ name: 'team-a' }), core.readNamespace({ name: 'team-a' })]);

      // A lower bound only: a busy machine makes requests slower, never faster than the delay.
      assert.ok(performance.now() - started >= 300, 'the answers came after the delay');
      assert.equal(a.metadata?.name, 'team-a');
      assert.equal(b.metadata?.name, 'team-a', 'a delayed request is still served in full');
    } finally {
      await host.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a negative --api-latency before starting anything', async () => {
    const b = bench(['--api-latency=-5']);

    const exit = await b.exit;

    assert.equal(exit.code, 2);
    assert.match(b.output(), /--api-latency: expected an integer >= 0/);
    assert.doesNotMatch(b.output(), /servers: process/);
  });

  it('rejects an unknown --servers mode before starting anything', async () => {
    const b = bench(['--servers', 'elsewhere']);

    const exit = await b.exit;

    assert.equal(exit.code, 2);
    assert.match(b.output(), /--servers: expected process or in-process/);
    assert.doesNotMatch(b.output(), /servers: process/);
  });
});
