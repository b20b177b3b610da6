/**
 * Bad input, same rigour: one table of hostile and broken inputs, and how a row runs. Each row
 * puts one hostile thing somewhere (a policy annotation, a key file, a flag, a backup made by
 * hand), runs one job exactly as the CLI does, and expects its exit code and a message naming
 * the object and the setting. After every row: no Secret or namespace changed but those the
 * row expects, no object stored but those it expects, nothing left in the drill namespace, and
 * no canary (Secret value or passphrase) in stdout, stderr, the log or an Event.
 *
 * Two callers: bad-input.test.ts (CI) runs every row and asserts that behaviour; `npm run
 * faults -- --bounds` (bad-input-bounds.ts) runs the rows that carry `bounds` and holds their
 * wall time and memory to them, on a quiet machine.
 *
 * Data the API server itself refuses (invalid base64, bad data keys, over 1 MiB) cannot reach
 * backup or rotate, which only read from it; it reaches verify-restore and restore inside a
 * backup made by hand and encrypted to the recipient's public key (test/faults/bad-input-backups.ts).
 * The bombs run as child processes of the real CLI with a capped heap, so that their peak RSS
 * (getrusage, via test/bench/rss-probe.mjs) is theirs alone and can be held to the pod's limit.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { backupCommand } from '../../jobs/backup.js';
import { restoreCommand } from '../../jobs/restore.js';
import { rotateCommand } from '../../jobs/rotate.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { BackupLayout } from '../../shared/backup/backup-layout.js';
import { secretDataDigest } from '../../shared/backup/secret-digest.js';
import { loadRecipientKeys, loadSigningKey } from '../../shared/crypto/index.js';
import { createObjectStore, type ObjectStore } from '../../shared/storage/index.js';
import { backupKeyArgs, createDrillNamespace, DRILL_NS, readKeyArgs } from '../shared/verify-restore/drill-fixtures.js';
import { freePort } from '../support/free-port.js';
import { type Harness, startHarness, type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';
import { type CraftKeys, craftBackup, gzipBomb, LIST_HEAD, MIB, mebibyteOf, openPgpBomb } from './bad-input-backups.js';

const REPO = resolve(import.meta.dirname, '../..');
const CLUSTER = 'test-cluster';
const CANARY = 'CANARY-bad-input-5f1e2d3c4b';
const WRONG_PASSPHRASE = 'WRONG-passphrase-canary-93a1';
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

type CommandName = 'backup' | 'verify-restore' | 'restore' | 'rotate';
const COMMANDS = { backup: backupCommand, 'verify-restore': verifyRestoreCommand, restore: restoreCommand, rotate: rotateCommand } as const;

/** Everything a row's setup and arguments may use. `ns` and `prefix` belong to the row's input. */
export interface Ctx {
  h: Harness;
  ns: string;
  prefix: string;
  store: ObjectStore;
  layout: BackupLayout;
  keys: CraftKeys;
  files: { garbage: string; wrongPassphrase: string; missing: string; expired: TestKeyFiles; deadKubeconfig: string };
  /** The backup the setup made, when it made one. */
  backupId?: string;
}

/** A hostile input, set up once for all the rows that use it. */
export interface Input {
  name: string;
  setup?: (c: Ctx) => Promise<void>;
}

export interface Row {
  input: Input;
  command: CommandName;
  args: (c: Ctx) => string[];
  exit: 0 | 1 | 2 | 4;
  /** Must match stdout, stderr or a log message; names the object and the setting. */
  message: (c: Ctx) => RegExp;
  /** What the run may change: Secrets and namespaces (`ns/name`, `ns`), and new object keys. */
  changes?: { secrets?: (c: Ctx) => RegExp; namespaces?: (c: Ctx) => RegExp; objects?: (c: Ctx) => RegExp };
  /**
   * Run as a child process of the real CLI with a capped heap ({@link HEAP_CAP_MIB}), its
   * memory figure its own peak RSS; otherwise in this process through `runCommand`, the figure
   * being the growth of this process's RSS over the run (sampled every 10 ms).
   */
  child?: boolean;
  /**
   * Limits on the row's wall time and memory figure, for a quiet machine: checked by `npm run
   * faults -- --bounds`, never in CI, where a busy machine can exceed any precise figure.
   */
  bounds?: { maxSeconds: number; maxRssMiB?: number };
  then?: (c: Ctx, r: Outcome) => Promise<void> | void;
}

export interface Outcome {
  code: number;
  /** stdout, stderr and every log message (with its error's message), one per line. */
  said: string;
  /** Everything the run printed, raw. */
  raw: string;
  logMessages: string[];
  seconds: number;
  /** Peak RSS of the child, or growth of this process's RSS; Infinity when a killed child left no figure. */
  peakRssMiB: number;
}

// ---------------------------------------------------------------------------------------------
// Inputs and the arguments of each job

const rotateArgs = (c: Ctx) => ['--kubeconfig', c.h.kubeconfig, '--lock-namespace', 'secret-steward', '--namespace', c.ns];
const drillArgs = (c: Ctx) => [...c.h.baseArgs(c.prefix), ...readKeyArgs(c.h), '--drill-namespace', DRILL_NS];
const restoreArgs = (c: Ctx) => [...c.h.baseArgs(c.prefix), ...readKeyArgs(c.h), '--create-namespaces'];
const backupArgs = (c: Ctx) => [...c.h.baseArgs(c.prefix), ...backupKeyArgs(c.h), '--namespace', c.ns];
/** Another backup of the row's namespace, into a prefix of its own. */
const backupAgain = (c: Ctx) => [...c.h.baseArgs(`${c.prefix}-again`), ...backupKeyArgs(c.h), '--namespace', c.ns];
const reports = (c: Ctx) => new RegExp(`^${c.prefix}/${CLUSTER}/reports/`);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A Secret as it would sit in a backup (the exported form), its data given as raw text. */
function exported(ns: string, name: string, data: Record<string, string>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'Opaque', data, ...extra });
}

/**
 * A namespace with two due Secrets: `bad` carrying `policy`, `good` with a valid one. The run
 * must report `bad` (and leave it alone) and still rotate `good`.
 */
function policy(name: string, text: string): Input {
  return {
    name: `rotation policy: ${name}`,
    setup: async (c) => {
      await seedSecret(c, 'bad', { p: CANARY, user: 'app' }, { 'secret-steward.io/rotation': text, 'secret-steward.io/rotate-now': 'yes' });
      await seedSecret(
        c,
        'good',
        { p: `${CANARY}-good` },
        { 'secret-steward.io/rotation': 'maxAge: 1d\nkeys: { p: password }', 'secret-steward.io/rotate-now': 'yes' },
      );
    },
  };
}

function policyRow(input: Input, field: RegExp): Row {
  return {
    input,
    command: 'rotate',
    args: rotateArgs,
    exit: 1,
    message: (c) => new RegExp(`${esc(c.ns)}/bad\\s+invalid\\s.*${field.source}`),
    changes: { secrets: (c) => new RegExp(`^${esc(c.ns)}/good(-previous)?$`) },
    then: (c) => {
      const good = c.h.emulator.get('v1', 'Secret', c.ns, 'good') as unknown as { data: Record<string, string> };
      assert.notEqual(Buffer.from(good.data.p, 'base64').toString(), `${CANARY}-good`, 'the other Secret was still rotated');
    },
  };
}

/** A backup made by hand of one segment of these Secret lines, signed by the trusted signer. */
function crafted(name: string, items: (c: Ctx) => Array<string | Buffer>): Input {
  return {
    name,
    setup: async (c) => void (c.backupId = await craftBackup(c.store, c.layout, c.keys, { segments: [{ items: items(c) }] })),
  };
}

/** The drill fails with `message` for the Secret, the restore skips it with the same reason and writes nothing. */
function rejectedSecret(input: Input, message: (c: Ctx) => RegExp): Row[] {
  return [
    {
      input,
      command: 'verify-restore',
      args: drillArgs,
      exit: 1,
      message: (c) => new RegExp(`Secret ${esc(c.ns)}/db: ${message(c).source}`),
      changes: { objects: reports },
    },
    {
      input,
      command: 'restore',
      args: restoreArgs,
      exit: 1,
      message: (c) => new RegExp(`skip +${esc(c.ns)}/db +${esc(c.ns)}/db +skipped +the API server would reject it: ${message(c).source}`),
    },
  ];
}

/**
 * Both readers refuse the whole backup with `message`: the drill's integrity check fails, the
 * restore writes nothing. With `bombs`, the drill runs in a child process (its own peak RSS)
 * and the restore, which reads through the same verifying reader, in this one.
 */
function refusedBackup(input: Input, message: (c: Ctx) => RegExp, bombs = false): Row[] {
  return [
    {
      input,
      command: 'verify-restore',
      args: drillArgs,
      exit: 1,
      message,
      changes: { objects: reports },
      ...(bombs ? IN_CHILD : {}),
    },
    { input, command: 'restore', args: restoreArgs, exit: 1, message, ...(bombs ? IN_PROCESS : {}) },
  ];
}

/**
 * A hand-made backup whose one segment is `body` (a bomb). The index records `plaintextBytes`
 * for it and one Secret, `x/s0` without data (what the bombs' Secret lines say).
 */
function bomb(name: string, body: () => Readable, plaintextBytes: number): Input {
  return {
    name,
    setup: async (c) => {
      const entries = [{ namespace: 'x', name: 's0', type: 'Opaque', dataSha256: secretDataDigest(undefined), segment: 1 }];
      c.backupId = await craftBackup(c.store, c.layout, c.keys, { segments: [{ body, record: { items: 1, plaintextBytes } }], entries });
    },
  };
}

async function seedSecret(
  c: Ctx,
  name: string,
  data: Record<string, string | Buffer>,
  annotations: Record<string, string> = {},
): Promise<void> {
  if (!c.h.emulator.get('v1', 'Namespace', undefined, c.ns))
    c.h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: c.ns } } as never);
  c.h.emulator.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: c.ns, annotations },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  } as never);
}

const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghij'.split('').map((x, i) => `${x}: &${x} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`),
  'maxAge: 1d',
  'keys: { p: password }',
].join('\n');

const I = {
  cron61: policy('minute 61', 'schedule: "61 * * * *"\nkeys: { p: password }'),
  cron6: policy('six fields of nonsense', 'schedule: "a b c d e f"\nkeys: { p: password }'),
  feb31: policy('a schedule that never fires (31 February)', 'schedule: "0 0 31 2 *"\nkeys: { p: password }'),
  zone: policy('unknown time zone', 'schedule: "0 3 * * *"\ntimeZone: Mars/Olympus\nkeys: { p: password }'),
  unknownTop: policy('unknown top-level field', 'maxAge: 1d\nrotateEvery: 2d\nkeys: { p: password }'),
  unknownNested: policy('unknown nested field', 'maxAge: 1d\nkeys: { p: password }\nrollout: { waitReady: 1m, retsart: false }'),
  length0: policy('password length 0', 'maxAge: 1d\nkeys: { p: { generator: password, length: 0 } }'),
  lengthHuge: policy('password length 10^9', 'maxAge: 1d\nkeys: { p: { generator: password, length: 1000000000 } }'),
  template: policy(
    'template refers to a missing key',
    'maxAge: 1d\nkeys: { url: { generator: template, template: "postgres://{{ username }}:{{ p }}@db" } }',
  ),
  keypair: policy('keypair with an unknown algorithm', 'maxAge: 1d\nkeys: { k: { generator: keypair, algorithm: dsa-1024 } }'),
  dataKey: policy('a data key the API rejects', 'maxAge: 1d\nkeys: { "bad/key": password }'),
  maxAgeWord: policy('maxAge "soon"', 'maxAge: soon\nkeys: { p: password }'),
  maxAgeZero: policy('maxAge 0s', 'maxAge: 0s\nkeys: { p: password }'),
  maxAgeHuge: policy('maxAge of 10^11 days', 'maxAge: 99999999999d\nkeys: { p: password }'),
  laughs: policy('YAML billion laughs', BILLION_LAUGHS),
  deepYaml: policy(
    '50,000 nested YAML flow sequences',
    `maxAge: 1d\nkeys: { p: password }\nconsumers: ${'['.repeat(50_000)}${']'.repeat(50_000)}`,
  ),

  badBase64: crafted('backup payload: a value that is not base64', (c) => [exported(c.ns, 'db', { password: `${CANARY}!!` })]),
  slashKey: crafted('backup payload: a data key with "/"', (c) => [exported(c.ns, 'db', { 'bad/key': b64(CANARY) })]),
  nonUtf8Key: crafted('backup payload: a data key that is not UTF-8', (c) => [
    Buffer.concat(splitAround(exported(c.ns, 'db', { 'k-KEY': b64(CANARY) }), '-KEY', Buffer.from([0xff, 0xfe]))),
  ]),
  surrogateKey: crafted('backup payload: a data key with a lone surrogate', (c) => [
    exported(c.ns, 'db', { 'k-KEY': b64(CANARY) }).replace('-KEY', '\\ud800'),
  ]),
  overLimit: crafted('backup payload: a Secret of 1 MiB + 1 byte', (c) => [
    exported(c.ns, 'db', { k: b64(Buffer.concat([Buffer.from(CANARY), randomBytes(MIB + 1 - CANARY.length)])) }),
  ]),
  deepLabels: crafted('backup payload: a label nested 100,000 levels deep', (c) => [
    exported(c.ns, 'db', { k: b64(CANARY) }).replace(
      '"namespace":',
      `"labels":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}},"namespace":`,
    ),
  ]),
  missingSegment: {
    name: 'backup index naming a segment that was never stored',
    setup: async (c) => {
      c.backupId = await craftBackup(c.store, c.layout, c.keys, {
        segments: [
          { items: [exported(c.ns, 'db', { k: b64(CANARY) })] },
          { absent: true, items: [exported(c.ns, 'db2', { k: b64(CANARY) })], record: { size: 4321 } },
        ],
      });
    },
  },
  totals: {
    name: 'backup index whose totals claim 3 segments, listing 1',
    setup: async (c) => {
      c.backupId = await craftBackup(c.store, c.layout, c.keys, {
        segments: [{ items: [exported(c.ns, 'db', { k: b64(CANARY) })] }],
        editIndex: (i) => void (i.totals.segments = 3),
      });
    },
  },
  deepIndex: {
    name: 'backup index nested 100,000 levels deep',
    setup: async (c) => {
      c.backupId = await craftBackup(c.store, c.layout, c.keys, {
        segments: [],
        indexText: (json) => json.replace(/"selection":\{[^}]*\}/, `"selection":${'['.repeat(100_000)}${']'.repeat(100_000)}`),
      });
    },
  },

  gzipBombClaimed: bomb(
    'gzip bomb: 4 GiB of zeros, the index records all of it',
    gzipBomb(LIST_HEAD, Buffer.alloc(MIB), 4096),
    4096 * MIB + LIST_HEAD.length,
  ),
  gzipBombSmall: bomb('gzip bomb: 4 GiB of zeros, the index records 1 KiB', gzipBomb(LIST_HEAD, Buffer.alloc(MIB), 4096), 1024),
  hugeString: bomb(
    'one 200 MiB JSON string in a segment',
    gzipBomb(`${LIST_HEAD}{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s0","namespace":"x"},"data":{"k":"`, mebibyteOf('A'), 200),
    200 * MIB + 200,
  ),
  newlines: bomb('200 MiB of empty lines in a segment', gzipBomb(LIST_HEAD, mebibyteOf('\n'), 200), 200 * MIB + LIST_HEAD.length),
  tinyItems: bomb(
    '10 million tiny Secrets in a segment whose index records one',
    gzipBomb(LIST_HEAD, mebibyteOf('{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s0","namespace":"x"},"type":"Opaque"},\n'), 200),
    200 * MIB + LIST_HEAD.length,
  ),
  pgpSegment: {
    name: 'OpenPGP compression bomb: a 2 GiB segment in a 2 MiB message',
    setup: async (c) => {
      c.backupId = await craftBackup(c.store, c.layout, c.keys, {
        segments: [{ message: (r) => openPgpBomb(r, 2048), record: { items: 1, plaintextBytes: 1024 } }],
        entries: [{ namespace: c.ns, name: 'db', type: 'Opaque', dataSha256: '0'.repeat(64), segment: 1 }],
      });
    },
  },
  pgpIndex: {
    name: 'OpenPGP compression bomb: a 2 GiB index in a 2 MiB message',
    setup: async (c) =>
      void (c.backupId = await craftBackup(c.store, c.layout, c.keys, { segments: [], indexMessage: (r) => openPgpBomb(r, 2048) })),
  },

  exact1MiB: {
    name: 'a Secret of exactly 1 MiB of data',
    setup: async (c) => {
      await seedSecret(c, 'exact', { k: Buffer.concat([Buffer.from(CANARY), randomBytes(MIB - CANARY.length)]) });
      await backupInto(c, c.prefix);
    },
  },
  longNames: {
    name: 'a 253-character Secret name in a 63-character namespace',
    setup: async (c) => {
      await seedSecret(c, LONG_NAME, { k: CANARY });
      await backupInto(c, c.prefix);
    },
  },
  longNameRotated: {
    name: 'a 253-character Secret name, rotated (companions get shortened names)',
    setup: (c) =>
      seedSecret(
        c,
        LONG_NAME,
        { p: CANARY },
        { 'secret-steward.io/rotation': 'maxAge: 1d\nkeys: { p: password }', 'secret-steward.io/rotate-now': 'yes' },
      ),
  },

  recipientPrivate: { name: '--recipient-key is a private key' },
  recipientGarbage: { name: '--recipient-key is an armor block of random bytes' },
  recipientExpired: { name: '--recipient-key has expired' },
  recipientMissing: { name: '--recipient-key names no file' },
  signingPublic: { name: '--signing-key is a public key' },
  signingWrongPassphrase: { name: '--signing-key-passphrase-file holds another passphrase' },
  decryptionPublic: { name: '--decryption-key is a public key' },
  decryptionWrongPassphrase: crafted('--decryption-key-passphrase-file holds another passphrase', (c) => [
    exported(c.ns, 'db', { k: b64(CANARY) }),
  ]),
  passphraseMissing: { name: '--decryption-key-passphrase-file names no file' },
  trustedPrivate: { name: '--trusted-signer-key is a private key' },
  missingBucket: { name: '--store naming a bucket that does not exist' },
  deadServer: { name: 'a kubeconfig whose server has nothing listening' },
} satisfies Record<string, Input>;

/** 253 characters, a valid DNS subdomain (labels of at most 63). */
const LONG_NAME = `${['a', 'b', 'c'].map((x) => x.repeat(63)).join('.')}.${'d'.repeat(61)}`;
const LONG_NS = `lim-${'n'.repeat(59)}`;

async function backupInto(c: Ctx, prefix: string): Promise<void> {
  const r = await c.h.run(backupCommand, [...c.h.baseArgs(prefix), ...backupKeyArgs(c.h), '--namespace', c.ns]);
  assert.equal(r.code, 0, r.stdout + r.stderr + JSON.stringify(r.records.filter((x) => x.level === 'error')));
}

/** `text` with `marker` replaced by raw bytes (for text that is not valid UTF-8). */
function splitAround(text: string, marker: string, bytes: Buffer): Buffer[] {
  const at = text.indexOf(marker);
  return [Buffer.from(text.slice(0, at)), bytes, Buffer.from(text.slice(at + marker.length))];
}

// ---------------------------------------------------------------------------------------------
// The table

/** Within verify-restore's pod memory limit (512Mi); the child's heap is capped at 256 MiB, below the pod's 384. */
const IN_CHILD = { child: true, bounds: { maxRssMiB: 512, maxSeconds: 20 } } satisfies Partial<Row>;
const IN_PROCESS = { bounds: { maxRssMiB: 256, maxSeconds: 10 } } satisfies Partial<Row>;
const dead = (c: Ctx) => ['--kubeconfig', c.files.deadKubeconfig, '--api-retry-budget', '2'];
const missingBucket = (c: Ctx) => [
  '--kubeconfig',
  c.h.kubeconfig,
  '--store',
  's3://no-such-bucket/bad-input',
  '--s3-endpoint',
  c.h.s3.endpoint,
  '--s3-force-path-style',
  '--cluster-name',
  CLUSTER,
  '--lock-namespace',
  'secret-steward',
];
const unreachable = (lease: string) => () =>
  new RegExp(
    `failed to get Lease secret-steward/${lease}: ECONNREFUSED \\(the API server cannot be reached: check the server of --kubeconfig`,
  );
const unreachableIdentity = () =>
  /failed to get Namespace kube-system \(its UID binds backups to this cluster\): ECONNREFUSED \(the API server cannot be reached: check the server of --kubeconfig/;
const noBucket = () =>
  /failed to list s3:\/\/no-such-bucket\/bad-input\/test-cluster\/backups\/: .*NoSuchBucket \(the bucket does not exist\); check the bucket named by --store/;

export const ROWS: Row[] = [
  // Rotation policies: reported for that Secret with the field's path; the others still rotate.
  policyRow(I.cron61, /schedule: invalid cron expression "61 \* \* \* \*": Constraint error, got value 61 expected range 0-59/),
  policyRow(I.cron6, /schedule: invalid cron expression "a b c d e f": expected 5 fields .*seconds are not supported/),
  policyRow(I.feb31, /schedule: invalid cron expression "0 0 31 2 \*": Invalid explicit day of month definition/),
  policyRow(I.zone, /timeZone: unknown time zone "Mars\/Olympus"/),
  policyRow(I.unknownTop, /rotateEvery: unknown field/),
  policyRow(I.unknownNested, /rollout\.retsart: unknown field/),
  policyRow(I.length0, /keys\.p\.length: Too small: expected number to be >=8/),
  policyRow(I.lengthHuge, /keys\.p\.length: Too big: expected number to be <=4096/),
  policyRow(I.template, /keys\.url\.template: refers to username, which the Secret does not have/),
  policyRow(I.keypair, /keys\.k\.algorithm: expected one of "ed25519"\|"ecdsa-p256"\|"rsa-3072"/),
  policyRow(I.dataKey, /keys\["bad\/key"\]: is not a valid data key/),
  policyRow(I.maxAgeWord, /maxAge: expected a duration such as 90s/),
  policyRow(I.maxAgeZero, /maxAge: must be between 1m and 3650d/),
  policyRow(I.maxAgeHuge, /maxAge: must be between 1m and 3650d/),
  // Within rotate's pod memory limit (384Mi).
  {
    ...policyRow(I.laughs, /\(policy\): not valid YAML or JSON: Excessive alias count indicates a resource exhaustion attack/),
    child: true,
    bounds: { ...IN_CHILD.bounds, maxRssMiB: 384 },
  },
  policyRow(I.deepYaml, /\(policy\): not valid YAML or JSON: Maximum call stack size exceeded/),

  // Secrets the API server would refuse, inside a backup.
  ...rejectedSecret(I.badBase64, () => /the value of data key "password" is not valid base64/),
  ...rejectedSecret(I.slashKey, () => /data key "bad\/key" may contain only letters, digits, '-', '_' and '\.'/),
  ...rejectedSecret(I.nonUtf8Key, () => /data key "k\uFFFD\uFFFD" may contain only letters/),
  ...rejectedSecret(I.surrogateKey, () => /data key "k\uD800" may contain only letters/),
  ...rejectedSecret(I.overLimit, () => /its data is 1048577 bytes, more than the API's limit of 1048576 bytes \(1 MiB\)/),
  ...refusedBackup(
    I.deepLabels,
    (c) =>
      new RegExp(
        `Secret ${esc(c.ns)}/db \\(item 1 of segment-00001\\.json\\.gz\\.pgp\\) is not a well-formed Secret: metadata\\.labels is not a map of strings`,
      ),
  ),

  // At the limits: works end to end.
  {
    input: I.exact1MiB,
    command: 'backup',
    args: backupAgain,
    exit: 0,
    message: () => /Backup \S+ complete: 1 Secrets from 1 namespaces in 1 segment/,
    changes: { objects: (c) => new RegExp(`^${c.prefix}-again/`) },
  },
  {
    input: I.exact1MiB,
    command: 'verify-restore',
    args: drillArgs,
    exit: 0,
    message: () => /DR drill PASSED for backup/,
    changes: { objects: reports },
  },
  ...restoredCopy(I.exact1MiB, 'exact'),
  {
    input: I.longNames,
    command: 'backup',
    args: backupAgain,
    exit: 0,
    message: () => /Backup \S+ complete: 1 Secrets from 1 namespaces/,
    changes: { objects: (c) => new RegExp(`^${c.prefix}-again/`) },
  },
  {
    input: I.longNames,
    command: 'verify-restore',
    args: drillArgs,
    exit: 0,
    message: () => /DR drill PASSED for backup/,
    changes: { objects: reports },
  },
  ...restoredCopy(I.longNames, LONG_NAME),
  {
    input: I.longNameRotated,
    command: 'rotate',
    args: rotateArgs,
    exit: 0,
    message: (c) => new RegExp(`${esc(c.ns)}/${esc(LONG_NAME)}\\s+rotated`),
    changes: { secrets: (c) => new RegExp(`^${esc(c.ns)}/`) },
    then: (c) => {
      const names = c.h.emulator.list('v1', 'Secret', c.ns).map((s) => (s.metadata as { name: string }).name);
      assert.equal(names.length, 2, names.join());
      assert.ok(
        names.every((n) => n.length <= 253),
        names.join(),
      );
    },
  },

  // Key files: a configuration error naming the flag and the file, never a passphrase.
  {
    input: I.recipientPrivate,
    command: 'backup',
    args: (c) => [...c.h.baseArgs(c.prefix), ...c.h.signingArgs(), '--recipient-key', c.h.recipient.privateKey],
    exit: 2,
    message: (c) => new RegExp(`--recipient-key / SECRET_STEWARD_RECIPIENT_KEY: ${esc(c.h.recipient.privateKey)} holds a PRIVATE key`),
  },
  {
    input: I.recipientGarbage,
    command: 'backup',
    args: (c) => [...c.h.baseArgs(c.prefix), ...c.h.signingArgs(), '--recipient-key', c.files.garbage],
    exit: 2,
    message: (c) => new RegExp(`--recipient-key / SECRET_STEWARD_RECIPIENT_KEY: ${esc(c.files.garbage)} is not an OpenPGP key`),
  },
  {
    input: I.recipientExpired,
    command: 'backup',
    args: (c) => [...c.h.baseArgs(c.prefix), ...c.h.signingArgs(), '--recipient-key', c.files.expired.publicKey],
    exit: 2,
    message: (c) =>
      new RegExp(
        `--recipient-key / SECRET_STEWARD_RECIPIENT_KEY: ${esc(c.files.expired.publicKey)}: key ${c.files.expired.fingerprint} .* expired on `,
      ),
  },
  {
    input: I.recipientMissing,
    command: 'backup',
    args: (c) => [...c.h.baseArgs(c.prefix), ...c.h.signingArgs(), '--recipient-key', c.files.missing],
    exit: 2,
    message: (c) => new RegExp(`--recipient-key / SECRET_STEWARD_RECIPIENT_KEY: cannot read ${esc(c.files.missing)}: no such file`),
  },
  {
    input: I.signingPublic,
    command: 'backup',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--recipient-key',
      c.h.recipient.publicKey,
      '--signing-key',
      c.h.signer.publicKey,
      '--signing-key-passphrase-file',
      c.h.signer.passphraseFile,
    ],
    exit: 2,
    message: (c) => new RegExp(`--signing-key: ${esc(c.h.signer.publicKey)} holds no private key`),
  },
  {
    input: I.signingWrongPassphrase,
    command: 'backup',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--recipient-key',
      c.h.recipient.publicKey,
      '--signing-key',
      c.h.signer.privateKey,
      '--signing-key-passphrase-file',
      c.files.wrongPassphrase,
    ],
    exit: 2,
    message: (c) =>
      new RegExp(
        `--signing-key-passphrase-file: cannot unlock signing key ${c.h.signer.fingerprint} from ${esc(c.h.signer.privateKey)}: wrong passphrase \\(from ${esc(c.files.wrongPassphrase)}\\)`,
      ),
  },
  {
    input: I.decryptionPublic,
    command: 'verify-restore',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--decryption-key',
      c.h.recipient.publicKey,
      '--decryption-key-passphrase-file',
      c.h.recipient.passphraseFile,
      '--trusted-signer-key',
      c.h.signer.publicKey,
      '--drill-namespace',
      DRILL_NS,
    ],
    exit: 2,
    message: (c) => new RegExp(`--decryption-key / SECRET_STEWARD_DECRYPTION_KEY: ${esc(c.h.recipient.publicKey)} holds a public key`),
  },
  {
    input: I.decryptionWrongPassphrase,
    command: 'verify-restore',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--decryption-key',
      c.h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      c.files.wrongPassphrase,
      '--trusted-signer-key',
      c.h.signer.publicKey,
      '--drill-namespace',
      DRILL_NS,
    ],
    exit: 1,
    message: (c) =>
      new RegExp(
        `cannot unlock decryption key ${c.h.recipient.fingerprint} from ${esc(c.h.recipient.privateKey)}: wrong passphrase \\(from ${esc(c.files.wrongPassphrase)}\\)`,
      ),
    changes: { objects: reports },
  },
  {
    input: I.decryptionWrongPassphrase,
    command: 'restore',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--decryption-key',
      c.h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      c.files.wrongPassphrase,
      '--trusted-signer-key',
      c.h.signer.publicKey,
    ],
    exit: 1,
    message: (c) =>
      new RegExp(
        `cannot unlock decryption key ${c.h.recipient.fingerprint} from ${esc(c.h.recipient.privateKey)}: wrong passphrase \\(from ${esc(c.files.wrongPassphrase)}\\)`,
      ),
  },
  {
    input: I.passphraseMissing,
    command: 'restore',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--decryption-key',
      c.h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      c.files.missing,
      '--trusted-signer-key',
      c.h.signer.publicKey,
    ],
    exit: 2,
    message: (c) =>
      new RegExp(
        `--decryption-key-passphrase-file / SECRET_STEWARD_DECRYPTION_KEY_PASSPHRASE_FILE: cannot read passphrase file ${esc(c.files.missing)}: no such file`,
      ),
  },
  {
    input: I.trustedPrivate,
    command: 'restore',
    args: (c) => [
      ...c.h.baseArgs(c.prefix),
      '--decryption-key',
      c.h.recipient.privateKey,
      '--decryption-key-passphrase-file',
      c.h.recipient.passphraseFile,
      '--trusted-signer-key',
      c.h.signer.privateKey,
    ],
    exit: 2,
    message: (c) =>
      new RegExp(`--trusted-signer-key / SECRET_STEWARD_TRUSTED_SIGNER_KEY: ${esc(c.h.signer.privateKey)} holds a PRIVATE key`),
  },

  // Where the store and the API server are.
  { input: I.missingBucket, command: 'backup', args: (c) => [...missingBucket(c), ...backupKeyArgs(c.h)], exit: 2, message: noBucket },
  {
    input: I.missingBucket,
    command: 'verify-restore',
    args: (c) => [...missingBucket(c), ...readKeyArgs(c.h), '--drill-namespace', DRILL_NS],
    exit: 2,
    message: noBucket,
  },
  { input: I.missingBucket, command: 'restore', args: (c) => [...missingBucket(c), ...readKeyArgs(c.h)], exit: 2, message: noBucket },
  ...(['backup', 'verify-restore', 'restore', 'rotate'] as const).map(
    (command): Row => ({
      input: I.deadServer,
      command,
      args: (c) => {
        const rest = {
          backup: backupArgs(c).slice(2),
          'verify-restore': drillArgs(c).slice(2),
          restore: restoreArgs(c).slice(2),
          rotate: rotateArgs(c).slice(2),
        }[command];
        return [...rest, ...dead(c)];
      },
      exit: 4,
      // backup's first request reads the cluster's identity; the others' take their Lease.
      message: command === 'backup' ? unreachableIdentity : unreachable(`secret-steward-${command}`),
      // Gives up after one retry, promptly.
      bounds: { maxSeconds: 10 },
      then: (_c, r) => {
        assert.equal(
          r.logMessages.filter((m) => m === 'Kubernetes API call failed; retrying').length,
          1,
          'one retry: --api-retry-budget 2',
        );
      },
    }),
  ),

  // Indexes that claim what is not there.
  ...refusedBackup(
    I.missingSegment,
    (c) =>
      new RegExp(
        `segment-00002\\.json\\.gz\\.pgp of backup ${c.backupId} is missing from the store \\(the index records 4321 bytes for it\\)`,
      ),
  ),
  ...refusedBackup(
    I.totals,
    (c) => new RegExp(`index of backup ${c.backupId} is inconsistent: totals\\.segments is 3, but 1 segments are listed`),
  ),
  ...refusedBackup(
    I.deepIndex,
    (c) => new RegExp(`index of backup ${c.backupId} decrypts but is not a valid secret-steward index: .*selection`),
  ),

  // Bombs: a clear error, in bounded time and memory.
  ...refusedBackup(
    I.gzipBombClaimed,
    (c) =>
      new RegExp(
        `index of backup ${c.backupId} is inconsistent: segment-00001\\.json\\.gz\\.pgp records ${4096 * MIB + LIST_HEAD.length} bytes of plaintext, more than a segment can hold`,
      ),
    true,
  ),
  ...refusedBackup(
    I.gzipBombSmall,
    (c) =>
      new RegExp(
        `segment-00001\\.json\\.gz\\.pgp of backup ${c.backupId} matches its recorded SHA-256 and decrypts, but its content cannot be read: plaintext is longer than the 1024 bytes the index records`,
      ),
    true,
  ),
  ...refusedBackup(
    I.hugeString,
    (c) =>
      new RegExp(
        `segment-00001\\.json\\.gz\\.pgp of backup ${c.backupId} .* cannot be read: line 2 \\(item 1\\) is longer than 16 MiB, more than any Secret an API server stores`,
      ),
    true,
  ),
  ...refusedBackup(
    I.newlines,
    (c) => new RegExp(`segment-00001\\.json\\.gz\\.pgp of backup ${c.backupId} .* cannot be read: item 1 \\(line 3\\) is not valid JSON`),
    true,
  ),
  ...refusedBackup(
    I.tinyItems,
    (c) => new RegExp(`segment-00001\\.json\\.gz\\.pgp of backup ${c.backupId} holds more than the 1 Secrets the index records for it`),
    true,
  ),
  ...refusedBackup(
    I.pgpSegment,
    (c) =>
      new RegExp(
        `cannot decrypt segment-00001\\.json\\.gz\\.pgp of backup ${c.backupId}: its OpenPGP compressed data inflates past \\d+ bytes`,
      ),
    true,
  ),
  ...refusedBackup(
    I.pgpIndex,
    (c) => new RegExp(`cannot decrypt index of backup ${c.backupId}: its OpenPGP compressed data inflates past \\d+ bytes`),
    true,
  ),
];

/** Restored side by side into `<ns>-copy` (created), byte-identical. */
function restoredCopy(input: Input, name: string): Row[] {
  const copy = (c: Ctx) => `${c.ns.slice(0, 58)}-copy`;
  return [
    {
      input,
      command: 'restore',
      args: (c) => [...restoreArgs(c), '--namespace', c.ns, '--map-namespace', `${c.ns}=${copy(c)}`],
      exit: 0,
      message: (c) => new RegExp(`create +${esc(c.ns)}/${esc(name)} +${esc(copy(c))}/${esc(name)} +done`),
      changes: { secrets: (c) => new RegExp(`^${esc(copy(c))}/${esc(name)}$`), namespaces: (c) => new RegExp(`^${esc(copy(c))}$`) },
      then: (c) => {
        const data = (ns: string) => (c.h.emulator.get('v1', 'Secret', ns, name) as unknown as { data: Record<string, string> }).data;
        assert.deepEqual(data(copy(c)), data(c.ns));
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Running a row and checking that nothing else changed

export interface State {
  secrets: Map<string, { content: string; resourceVersion: string; outcome?: string }>;
  namespaces: Set<string>;
  objects: Map<string, number>;
}

async function state(h: Harness, bucket: ObjectStore): Promise<State> {
  const secrets = new Map<string, { content: string; resourceVersion: string; outcome?: string }>();
  for (const s of h.emulator.list('v1', 'Secret') as unknown as Array<{ metadata: Record<string, any>; [k: string]: unknown }>) {
    const { resourceVersion, managedFields: _m, ...metadata } = s.metadata;
    const annotations = { ...(metadata.annotations ?? {}) };
    const outcome = annotations['secret-steward.io/last-outcome'];
    delete annotations['secret-steward.io/last-outcome'];
    secrets.set(`${metadata.namespace}/${metadata.name}`, {
      content: JSON.stringify({ ...s, metadata: { ...metadata, annotations } }),
      resourceVersion,
      outcome,
    });
  }
  const namespaces = new Set(h.emulator.list('v1', 'Namespace').map((n) => (n.metadata as { name: string }).name));
  const objects = new Map<string, number>();
  for await (const o of bucket.list('')) objects.set(o.key, o.size);
  return { secrets, namespaces, objects };
}

function assertUnchanged(before: State, after: State, row: Row, c: Ctx): void {
  const secretOk = row.changes?.secrets?.(c);
  for (const key of new Set([...before.secrets.keys(), ...after.secrets.keys()])) {
    if (secretOk?.test(key)) continue;
    const [b, a] = [before.secrets.get(key), after.secrets.get(key)];
    assert.ok(b && a, `Secret ${key} was ${b ? 'deleted' : 'created'}`);
    assert.equal(a.content, b.content, `Secret ${key} changed`);
    // Only a recorded outcome may move its resourceVersion.
    if (a.outcome === b.outcome) assert.equal(a.resourceVersion, b.resourceVersion, `Secret ${key} was written`);
  }
  const nsOk = row.changes?.namespaces?.(c);
  assert.deepEqual(
    [...after.namespaces].filter((n) => !before.namespaces.has(n) && !nsOk?.test(n)),
    [],
    'namespaces created',
  );
  assert.deepEqual(
    [...before.namespaces].filter((n) => !after.namespaces.has(n)),
    [],
    'namespaces deleted',
  );
  const objectOk = row.changes?.objects?.(c);
  for (const [key, size] of before.objects) assert.equal(after.objects.get(key), size, `object ${key} changed or deleted`);
  assert.deepEqual(
    [...after.objects.keys()].filter((k) => !before.objects.has(k) && !objectOk?.test(k)),
    [],
    'objects stored',
  );
}

async function runInProcess(h: Harness, row: Row, args: string[]): Promise<Outcome> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const t0 = performance.now();
  const r = await h.run(COMMANDS[row.command], args).finally(() => clearInterval(sampler));
  const seconds = (performance.now() - t0) / 1000;
  const logMessages = r.records.flatMap((x) => [
    String(x.msg),
    ...(typeof (x.err as { message?: unknown })?.message === 'string' ? [(x.err as { message: string }).message] : []),
  ]);
  const said = [r.stdout, r.stderr, ...logMessages].join('\n');
  return {
    code: r.code,
    said,
    raw: r.stdout + r.stderr + r.logs.lines.join(''),
    logMessages,
    seconds,
    peakRssMiB: (Math.max(peak, process.memoryUsage.rss()) - start) / MIB,
  };
}

/** The child's V8 heap cap, in MiB (the pods' NODE_OPTIONS cap theirs at 192-384). */
export const HEAP_CAP_MIB = 256;
/** A child still running after this long hangs: it is killed, and its exit code fails the row. */
export const HANG_SECONDS = 300;

/**
 * The real CLI in a child process with a {@link HEAP_CAP_MIB} heap cap, its peak RSS read by the
 * bench probe; killed once it has run {@link HANG_SECONDS}.
 */
async function runInChild(h: Harness, row: Row, args: string[]): Promise<Outcome> {
  const probe = join(h.dir, `probe-${randomBytes(4).toString('hex')}.json`);
  const t0 = performance.now();
  const child = spawn(
    join(REPO, 'node_modules', '.bin', 'node'),
    [
      '--openssl-legacy-provider',
      `--max-old-space-size=${HEAP_CAP_MIB}`,
      '--import',
      'tsx',
      '--import',
      join(REPO, 'test/bench/rss-probe.mjs'),
      join(REPO, 'jobs/cli.ts'),
      row.command,
      ...args,
    ],
    {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: h.dir, POD_NAME: 'bad-input-child', ...h.env, SS_BENCH_PROBE_FILE: probe },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let killed = false;
  const killer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, HANG_SECONDS * 1000);
  const code = await new Promise<number>((done) => child.on('exit', (c, signal) => done(c ?? (signal ? 128 + 9 : -1))));
  clearTimeout(killer);
  if (killed) stderr += `\n(killed after ${HANG_SECONDS} s: it hung)\n`;
  const seconds = (performance.now() - t0) / 1000;
  const logMessages: string[] = [];
  for (const line of stderr.split('\n')) {
    try {
      const rec = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      logMessages.push(String(rec.msg), ...(rec.err?.message ? [rec.err.message] : []));
    } catch {
      // not a log line
    }
  }
  // A killed child wrote no probe: its peak is unknown, and the row fails on its exit code anyway.
  const probed = JSON.parse(await readFile(probe, 'utf8').catch(() => '{"maxRssBytes":null}')) as { maxRssBytes: number | null };
  await rm(probe, { force: true });
  const peakRssMiB = probed.maxRssBytes === null ? Infinity : probed.maxRssBytes / MIB;
  return { code, said: [stdout, stderr, ...logMessages].join('\n'), raw: stdout + stderr, logMessages, seconds, peakRssMiB };
}

/** The world every row runs in: one harness, the files and keys the rows use, each input set up once. */
export interface BadInputLab {
  h: Harness;
  /** The context of a row's input, set up on first use. */
  contextOf(input: Input): Promise<Ctx>;
  /** The whole bucket, to see what a row stored. */
  bucket: ObjectStore;
  /** Every value that must never be printed: the Secrets' canary in its forms, and the passphrases. */
  canaries: readonly string[];
  stop(): Promise<void>;
}

export async function openBadInputLab(): Promise<BadInputLab> {
  const h = await startHarness();
  try {
    createDrillNamespace(h);
    const garbage = join(h.dir, 'garbage.asc');
    await writeFile(garbage, `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${b64(randomBytes(300))}\n-----END PGP PUBLIC KEY BLOCK-----\n`);
    const wrongPassphrase = join(h.dir, 'wrong.passphrase');
    await writeFile(wrongPassphrase, `${WRONG_PASSPHRASE}\n`);
    const expired = await writeTestKeyPair(h.dir, 'expired', { expiresInSeconds: 3600, now: new Date(Date.now() - 2 * 86_400_000) });
    const deadServer = await closedPort();
    const deadKubeconfig = join(h.dir, 'dead.kubeconfig');
    await writeFile(
      deadKubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster: { server: "${deadServer}", insecure-skip-tls-verify: true }\n` +
        'contexts:\n- name: dead\n  context: { cluster: dead, user: dead }\ncurrent-context: dead\nusers:\n- name: dead\n  user: { token: not-a-real-token }\n',
    );
    const files = { garbage, wrongPassphrase, missing: join(h.dir, 'no-such-file.asc'), expired, deadKubeconfig };
    const now = new Date();
    const keys: CraftKeys = {
      recipients: (await loadRecipientKeys([h.recipient.publicKey], { now, warnWithinMs: 0 })).keys,
      signer: (await loadSigningKey(h.signer.privateKey, h.signer.passphraseFile, { now })).key,
      clusterUid: h.clusterUid,
    };
    const contexts = new Map<Input, Promise<Ctx>>();
    return {
      h,
      bucket: createObjectStore(h.s3.settings('')),
      canaries: [CANARY, b64(CANARY), Buffer.from(CANARY).toString('hex'), h.recipient.passphrase, h.signer.passphrase, WRONG_PASSPHRASE],
      contextOf(input) {
        let c = contexts.get(input);
        if (c === undefined) {
          const i = contexts.size;
          const ctx: Ctx = {
            h,
            ns: input === I.longNames || input === I.longNameRotated ? `${LONG_NS.slice(0, 60)}-${String(i).padStart(2, '0')}` : `bad-${i}`,
            prefix: `bad-${i}`,
            store: createObjectStore(h.s3.settings(`bad-${i}`)),
            layout: new BackupLayout(CLUSTER),
            keys,
            files,
          };
          c = (async () => {
            await input.setup?.(ctx);
            return ctx;
          })();
          contexts.set(input, c);
        }
        return c;
      },
      stop: () => h.stop(),
    };
  } catch (e) {
    await h.stop();
    throw e;
  }
}

export const rowTitle = (row: Row) => `${row.input.name} -> ${row.command} exits ${row.exit}`;

/** A row's run, with the world as it was before it. */
export interface RowRun {
  c: Ctx;
  r: Outcome;
  before: State;
  eventsBefore: Set<string | undefined>;
}

/** Sets up the row's input (once per input), then runs the row in a child process or in this one. */
export async function runRow(lab: BadInputLab, row: Row): Promise<RowRun> {
  const c = await lab.contextOf(row.input);
  const before = await state(lab.h, lab.bucket);
  const eventsBefore = new Set(lab.h.emulator.list('v1', 'Event').map((e) => e.metadata?.uid));

  const args = row.args(c);
  const r = row.child ? await runInChild(lab.h, row, args) : await runInProcess(lab.h, row, args);

  return { c, r, before, eventsBefore };
}

/**
 * The row's behaviour: its exit code and message, nothing changed or stored but what it
 * expects, no drill object left, no canary in the output or an Event, and its own checks.
 * Throws an AssertionError on the first that fails.
 */
export async function assertBehaviour(lab: BadInputLab, row: Row, { c, r, before, eventsBefore }: RowRun): Promise<void> {
  const { h } = lab;
  assert.equal(r.code, row.exit, r.said);
  assert.match(r.said, row.message(c));
  assertUnchanged(before, await state(h, lab.bucket), row, c);
  assert.deepEqual(
    h.emulator.list('v1', 'Secret', DRILL_NS).map((s) => (s.metadata as { name: string }).name),
    [],
    'drill objects left',
  );
  const newEvents = JSON.stringify(h.emulator.list('v1', 'Event').filter((e) => !eventsBefore.has(e.metadata?.uid)));
  for (const canary of lab.canaries) {
    assert.ok(!r.raw.includes(canary), `a canary (${canary.slice(0, 12)}…) is in the output`);
    assert.ok(!newEvents.includes(canary), `a canary (${canary.slice(0, 12)}…) is in an Event`);
  }
  await row.then?.(c, r);
}

/** `https://127.0.0.1:<port>` with nothing listening (the port was just free). */
async function closedPort(): Promise<string> {
  return `https://127.0.0.1:${await freePort()}`;
}
