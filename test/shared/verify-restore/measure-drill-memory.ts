/**
 * Measures a DR drill (and a restore) of a large backup: peak RSS of the drill process and its
 * duration. Not part of the mocha suite (it takes minutes); run it by hand:
 *
 *   node --openssl-legacy-provider --import tsx test/shared/verify-restore/measure-drill-memory.ts [secrets=20000] [valueBytes=1024] [segmentMiB=8] [restore=yes] [heapMiB=384]
 *
 * This process hosts the Kubernetes API emulator and a file store; the backup is written here
 * with runBackup from a generated source. The drill (and the restore) run in a CHILD process
 * through the real command entrypoint, so their peak RSS (getrusage maxrss) is theirs alone.
 * Run it with two sizes to see what grows with the backup: the index (about 200 bytes per
 * Secret) and the redactor's registered values; segments are processed one at a time. It also
 * counts the drill's API requests in the drill namespace (by verb, and per Secret restored).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { BackupLayout } from '../../../shared/backup/backup-layout.js';
import { runBackup } from '../../../shared/backup/run-backup.js';
import type { SecretPage } from '../../../shared/backup/secret-source.js';
import { loadRecipientKeys, loadSigningKey } from '../../../shared/crypto/index.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { Shutdown } from '../../../shared/runtime/shutdown.js';
import { FileObjectStore } from '../../../shared/storage/index.js';
import { KubeEmulator } from '../../emulator/index.js';
import { writeTestKeyPair } from '../../support/job-harness.js';

const secrets = Number(process.argv[2] ?? 20_000);
const valueBytes = Number(process.argv[3] ?? 1024);
const segmentMiB = Number(process.argv[4] ?? 8);
const withRestore = (process.argv[5] ?? 'yes') === 'yes';
/** The heap limit the child runs with, as in the CronJob manifests (NODE_OPTIONS=--max-old-space-size=384). */
const heapMiB = Number(process.argv[6] ?? 384);
const MiB = 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'measure-drill-'));
const emulator = await KubeEmulator.start({ rolloutDelayMs: 5, maxRequestBodyBytes: 8 * MiB });
try {
  const kubeconfig = join(dir, 'kubeconfig');
  await emulator.writeKubeconfig(kubeconfig);
  await emulator.applyObjects([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'secret-steward' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'secret-steward-drill' } },
  ]);
  const recipient = await writeTestKeyPair(dir, 'recipient');
  const signer = await writeTestKeyPair(dir, 'signer');
  const storeDir = join(dir, 'store');
  const store = new FileObjectStore(storeDir);
  const layout = new BackupLayout('measure');

  const namespaces = 20;
  async function* source(): AsyncGenerator<SecretPage> {
    for (let i = 0; i < secrets; i += 500) {
      const items: V1Secret[] = [];
      for (let j = i; j < Math.min(secrets, i + 500); j++) {
        items.push({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `secret-${String(j).padStart(6, '0')}`, namespace: `ns-${j % namespaces}`, labels: { app: `app-${j % 50}` } },
          type: 'Opaque',
          data: { username: Buffer.from(`user-${j}`).toString('base64'), password: randomBytes(valueBytes).toString('base64') },
        });
      }
      yield { items, resourceVersion: '1', restarted: false };
    }
  }
  const { keys: recipients } = await loadRecipientKeys([recipient.publicKey], { now: new Date(), warnWithinMs: 0 });
  const signing = await loadSigningKey(signer.privateKey, signer.passphraseFile, { now: new Date() });
  const t0 = Date.now();
  const backup = await runBackup(
    {
      secrets: undefined as never,
      store,
      layout,
      recipients,
      signingKey: signing.key,
      clusterUid: 'measure-drill-memory',
      log: createLogger({ sink: new MemorySink() }),
      clock: systemClock,
      shutdown: new Shutdown(),
    },
    {
      selection: { namespaces: [], excludeNamespaces: [], excludeTypes: [] },
      compression: 'gzip',
      segmentBytes: segmentMiB * MiB,
      pageSize: 500,
      allowEmpty: false,
      allowShrink: true,
      shrinkThreshold: 1,
      source: source(),
    },
  );
  console.log(
    `backup: ${backup.secrets} Secrets, ${backup.segments} segments of <= ${segmentMiB} MiB plaintext, ${(backup.storedBytes / MiB).toFixed(1)} MiB stored, ` +
      `${(backup.plaintextBytes / MiB).toFixed(1)} MiB plaintext, ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );

  const common = [
    '--kubeconfig',
    kubeconfig,
    '--store',
    `file://${storeDir}`,
    '--cluster-name',
    'measure',
    '--lock-namespace',
    'secret-steward',
    '--decryption-key',
    recipient.privateKey,
    '--decryption-key-passphrase-file',
    recipient.passphraseFile,
    '--trusted-signer-key',
    signer.publicKey,
    '--output',
    'json',
  ];
  emulator.requests.clear();
  const drill = await child('verify', [...common, '--drill-namespace', 'secret-steward-drill', '--drill-concurrency', '8']);
  const drillRequests = emulator.requests.entries.filter((e) => e.namespace === 'secret-steward-drill');
  const report = JSON.parse(drill.stdout) as {
    result: string;
    durationMs: number;
    counts: Record<string, number>;
    checks: Array<{ name: string; status: string; durationMs: number }>;
  };
  console.log(
    `drill: exit ${drill.code}, result ${report.result}, ${report.counts.secretsRestored} Secrets restored and compared, ${(report.durationMs / 1000).toFixed(1)}s ` +
      `(${report.checks.map((c) => `${c.name} ${c.status} ${(c.durationMs / 1000).toFixed(1)}s`).join(', ')}), peak RSS ${(drill.maxRssKb / 1024).toFixed(0)} MiB, CPU ${(drill.cpuMs / 1000).toFixed(1)}s`,
  );
  const byVerb = new Map<string, number>();
  for (const e of drillRequests) byVerb.set(e.verb, (byVerb.get(e.verb) ?? 0) + 1);
  console.log(
    `drill API requests in the drill namespace: ${drillRequests.length} (${(drillRequests.length / Math.max(1, report.counts.secretsRestored)).toFixed(3)} per Secret restored): ` +
      [...byVerb.entries()].map(([verb, n]) => `${verb} ${n}`).join(', '),
  );
  if (withRestore) {
    const t1 = Date.now();
    const restore = await child('restore', [...common, '--namespace', 'ns-0', '--namespace', 'ns-1', '--create-namespaces']);
    const r = JSON.parse(restore.stdout) as { counts: Record<string, number> };
    console.log(
      `restore (2 of ${namespaces} namespaces, whole backup verified first): exit ${restore.code}, ${r.counts.written} written, ${((Date.now() - t1) / 1000).toFixed(1)}s, peak RSS ${(restore.maxRssKb / 1024).toFixed(0)} MiB`,
    );
  }
} finally {
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
}

function child(which: string, args: string[]): Promise<{ code: number; stdout: string; maxRssKb: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        `--max-old-space-size=${heapMiB}`,
        ...(process.env.MEASURE_DEBUG ? ['--expose-gc'] : []),
        '--openssl-legacy-provider',
        '--import',
        'tsx',
        join(import.meta.dirname, 'measure-drill-child.ts'),
        which,
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.once('error', reject);
    p.once('exit', (code) => {
      const m = /MAXRSS_KB (\d+) CPU_MS (\d+)/.exec(stderr);
      if (process.env.MEASURE_DEBUG)
        console.log(
          stderr
            .split('\n')
            .filter((l) => l.startsWith('AFTER_GC'))
            .join('\n'),
        );
      if (!m) return reject(new Error(`child ${which} printed no RSS (exit ${code}): ${stderr.slice(-2000)}`));
      resolve({ code: code ?? -1, stdout, maxRssKb: Number(m[1]), cpuMs: Number(m[2]) });
    });
  });
}
