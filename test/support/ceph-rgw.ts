/**
 * A real S3 server for tests: a private single-node Ceph cluster (one monitor, one OSD on
 * memstore, one RADOS Gateway) in a temporary directory, on free loopback ports, serving S3 over
 * HTTP and HTTPS (a throw-away self-signed certificate for 127.0.0.1), with one user whose
 * credentials are the suite's test pair, and SSE-KMS through RGW's `testing` KMS backend.
 * The binaries come from Debian's ceph-mon, ceph-osd, radosgw and ceph-common (`.ci/run`
 * installs them). REFERENCE.md section 9 has the configuration's background.
 *
 * Starting costs about 2 s, so a mocha run shares one cluster ({@link sharedCephRgw}); every
 * test makes its own bucket. The fixture stops exactly the processes it started: by their
 * ids, on `stop()`, when startup fails, and when this Node process exits. Where `setpriv` is
 * available the daemons also get a parent-death signal, so a test run killed with SIGKILL does
 * not leave a cluster behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { commandRuns } from './dependencies.js';
import { freePort } from './free-port.js';
import { rawS3Client } from './raw-s3-client.js';

const run = promisify(execFile);

/** The Debian packages that hold the daemons and tools this fixture runs. */
export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'] as const;
export const CEPH_INSTALL = `apt-get install --no-install-recommends ${CEPH_PACKAGES.join(' ')}`;

/** Name of the key RGW's testing KMS backend holds (pass it as `--s3-sse-kms-key-id`). */
export const RGW_KMS_KEY_ID = 'steward-test-key';

export interface BucketOptions {
  /** Turn versioning on (implied by `objectLock`). */
  versioned?: boolean;
  /** Create the bucket with Object Lock enabled (which also turns versioning on). */
  objectLock?: boolean;
}

export interface CephRgw {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** `https://127.0.0.1:<port>`, with a certificate only {@link caFile} vouches for. */
  httpsEndpoint: string;
  /** PEM file of the self-signed certificate of {@link httpsEndpoint} (for `--s3-ca-file`). */
  caFile: string;
  /** The RGW user's keys. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The loopback ports it listens on. */
  ports: { monV1: number; monV2: number; http: number; https: number };
  /** How long `startCephRgw` took, first command to the user being created. */
  startupMs: number;
  /** The cluster's directory (configuration, monitor store, logs). */
  dir: string;
  /** Process ids of the monitor, the OSD and the gateway. */
  pids: { mon: number; osd: number; rgw: number };
  /** Creates a bucket (path-style, over HTTP). */
  createBucket(name: string, opts?: BucketOptions): Promise<void>;
  /** Resident memory of each daemon, in KiB (from /proc). */
  memoryKiB(): Promise<{ mon: number; osd: number; rgw: number }>;
  /** The last lines of a daemon's log (for a failing test's message). */
  logTail(daemon: 'mon' | 'osd' | 'rgw', lines?: number): Promise<string>;
  /** Stops the three processes it started and removes the directory. */
  stop(): Promise<void>;
}

/** True when the Ceph daemons and tools this fixture runs are on the machine. */
export function cephAvailable(): boolean {
  return ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'].every((c) =>
    commandRuns('sh', ['-c', `command -v ${c}`]),
  );
}

/** `setpriv --pdeathsig SIGKILL --` when available: the daemon dies with the test process. */
const deathSignal: string[] = commandRuns('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'])
  ? ['setpriv', '--pdeathsig', 'SIGKILL', '--']
  : [];

function config(o: { dir: string; fsid: string; ports: CephRgw['ports']; kmsKey: string }): string {
  const { dir, fsid, ports } = o;
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${ports.monV2},v1:127.0.0.1:${ports.monV1}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/$name.log
keyring = ${dir}/keyring
debug ms = 0
debug rgw = 1

[mon.a]
mon data = ${dir}/mon

[osd.0]
osd data = ${dir}/osd

[client.rgw]
rgw data = ${dir}/rgw
rgw frontends = beast endpoint=127.0.0.1:${ports.http} ssl_endpoint=127.0.0.1:${ports.https} ssl_certificate=${dir}/tls/server.crt ssl_private_key=${dir}/tls/server.key
rgw thread pool size = 32
# SSE over plain HTTP: SSE-KMS through the testing backend; SSE-S3 is then accepted but not applied.
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = ${RGW_KMS_KEY_ID}=${o.kmsKey}
# Deleted objects' data is freed at once (memstore keeps everything in memory).
rgw gc obj min wait = 0
rgw gc processor period = 10
`;
}

async function makeCertificate(dir: string): Promise<void> {
  await mkdir(dir);
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      'server.key',
      '-out',
      'server.crt',
    ],
    { cwd: dir },
  );
}

/** Polls `probe` every 100 ms until it returns true, a daemon exits, or `ms` pass. */
async function waitFor(what: string, ms: number, probe: () => Promise<boolean>, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) throw new Error(`${gone} exited while waiting for ${what}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a private cluster. Prefer {@link sharedCephRgw} in tests; start your own only to test
 * the fixture or to stop the server midway.
 */
export async function startCephRgw(
  opts: {
    credentials?: { accessKeyId: string; secretAccessKey: string };
    /** The gateway's HTTP port (tests of the fixture give a taken one); a free one by default. */
    httpPort?: number;
    /** How long the gateway may take to answer. @default 60 s */
    startupTimeoutMs?: number;
  } = {},
): Promise<CephRgw> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'ss-ceph-'));
  const children = new Map<'mon' | 'osd' | 'rgw', ChildProcess>();
  const exits = new Map<'mon' | 'osd' | 'rgw', Promise<void>>();
  const credentials = opts.credentials ?? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const conf = join(dir, 'ceph.conf');

  const daemon = (name: 'mon' | 'osd' | 'rgw', argv: string[]) => {
    const out = openSync(join(dir, `${name}.out`), 'a');
    const [cmd, ...args] = [...deathSignal, ...argv];
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    closeSync(out);
    children.set(name, child);
    exits.set(
      name,
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      }),
    );
  };
  const exitedDaemon = () => [...children].find(([, c]) => c.exitCode !== null || c.signalCode !== null)?.[0];
  const stopAll = async () => {
    // The gateway first, the monitor last; SIGKILL: nothing in a throw-away memstore is worth a clean shutdown.
    for (const name of ['rgw', 'osd', 'mon'] as const) {
      const child = children.get(name);
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exits.get(name);
    }
  };
  const stopAllSync = () => {
    for (const child of children.values()) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopAllSync);

  try {
    const ports = { monV1: await freePort(), monV2: await freePort(), http: opts.httpPort ?? (await freePort()), https: await freePort() };
    const fsid = randomUUID();
    await Promise.all([
      makeCertificate(join(dir, 'tls')),
      ...['mon', 'osd', 'rgw', 'run'].map((d) => mkdir(join(dir, d))),
      writeFile(conf, config({ dir, fsid, ports, kmsKey: randomBytes(32).toString('base64') })),
    ]);
    const ceph = (...args: string[]) => run('ceph', ['-c', conf, '--connect-timeout', '30', ...args]);

    await run('monmaptool', [
      '--create',
      '--fsid',
      fsid,
      '--addv',
      'a',
      `[v2:127.0.0.1:${ports.monV2},v1:127.0.0.1:${ports.monV1}]`,
      join(dir, 'monmap'),
    ]);
    await run('ceph-mon', ['-c', conf, '-i', 'a', '--mkfs', '--monmap', join(dir, 'monmap')]);
    daemon('mon', ['ceph-mon', '-c', conf, '-i', 'a', '-f']);
    const uuid = randomUUID();
    const id = (await ceph('osd', 'new', uuid)).stdout.trim();
    await run('ceph-osd', ['-c', conf, '-i', id, '--mkfs', '--osd-uuid', uuid]);
    daemon('osd', ['ceph-osd', '-c', conf, '-i', id, '-f']);
    // The gateway waits for the OSD itself (it creates its pools first), so no polling of the OSD.
    daemon('rgw', ['radosgw', '-c', conf, '-n', 'client.rgw', '-f']);
    const endpoint = `http://127.0.0.1:${ports.http}`;
    await waitFor(
      `the gateway to answer on ${endpoint}`,
      opts.startupTimeoutMs ?? 60_000,
      async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2000) })).status === 200,
      exitedDaemon,
    );
    await run('radosgw-admin', [
      '-c',
      conf,
      '-n',
      'client.rgw',
      'user',
      'create',
      '--uid=steward-test',
      '--display-name=secret-steward tests',
      `--access-key=${credentials.accessKeyId}`,
      `--secret=${credentials.secretAccessKey}`,
    ]);
    const client = rawS3Client(endpoint, credentials);
    const pidOf = (name: 'mon' | 'osd' | 'rgw') => children.get(name)?.pid ?? 0;
    return {
      endpoint,
      httpsEndpoint: `https://127.0.0.1:${ports.https}`,
      caFile: join(dir, 'tls', 'server.crt'),
      credentials,
      ports,
      startupMs: Date.now() - started,
      dir,
      pids: { mon: pidOf('mon'), osd: pidOf('osd'), rgw: pidOf('rgw') },
      async createBucket(name, o = {}) {
        await client.send(new CreateBucketCommand({ Bucket: name, ...(o.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
        if (o.versioned && !o.objectLock) {
          await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
        }
      },
      async memoryKiB() {
        const rss = async (name: 'mon' | 'osd' | 'rgw') =>
          Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pidOf(name)}/status`, 'utf8'))?.[1] ?? 0);
        return { mon: await rss('mon'), osd: await rss('osd'), rgw: await rss('rgw') };
      },
      logTail: async (name, lines = 30) => {
        const file = { mon: 'mon.a.log', osd: `osd.${id}.log`, rgw: 'client.rgw.log' }[name];
        const text = await readFile(join(dir, file), 'utf8').catch(() => '');
        return text.split('\n').slice(-lines).join('\n');
      },
      async stop() {
        client.destroy();
        process.removeListener('exit', stopAllSync);
        await stopAll();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    const logs = await Promise.all(
      ['mon.out', 'osd.out', 'rgw.out', 'client.rgw.log'].map(
        async (f) => `${f}: ${(await readFile(join(dir, f), 'utf8').catch(() => '')).slice(-800)}`,
      ),
    );
    process.removeListener('exit', stopAllSync);
    const pids = [...children.values()].map((c) => c.pid).filter((p) => p !== undefined);
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`Ceph RGW did not start (stopped pids ${pids.join(', ')}): ${(e as Error).message}\n${logs.join('\n')}`);
  }
}

let shared: Promise<CephRgw> | undefined;

/**
 * The cluster of this test process, started on first use and stopped when the process exits
 * (mocha runs with `exit: true`, so that is right after the last test). Tests share it and keep
 * apart by bucket names.
 */
export function sharedCephRgw(): Promise<CephRgw> {
  if (shared === undefined) {
    shared = startCephRgw();
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

/** A bucket name no other test of this process uses: `<base>-<n>`. */
let buckets = 0;
export function uniqueBucketName(base: string): string {
  return `${base}-${process.pid}-${++buckets}`;
}

/** Reads the CA file the HTTPS endpoint's certificate chains to. */
export function caPem(rgw: CephRgw): string {
  return readFileSync(rgw.caFile, 'utf8');
}
