import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretDataDigest } from '../../shared/backup/secret-digest.js';
import { encryptBytes } from '../../shared/crypto/encrypt.js';
import { loadRecipientKeys } from '../../shared/crypto/keys.js';
import { StewardError } from '../../shared/errors/index.js';
import { defineCommand } from '../../shared/runtime/command.js';
import { requireDependency } from '../support/dependencies.js';
import { writeTestKeyPair } from '../support/job-harness.js';
import { mariadbAvailable } from '../support/mariadb-server.js';
import {
  type BackupContent,
  backupMatches,
  canaryForms,
  canaryScan,
  completeBackupsWhole,
  converged,
  encryptedWhereClaimed,
  exitAccepted,
  noDrillObjects,
  noOpenUploads,
  nothingNewStored,
  type SecretView,
  secretsUnchanged,
} from './invariants.js';
import { KINDS } from './kinds.js';
import { type CaseWorld, FaultLab } from './lab.js';
import { enumerateCases, recordBaseline, renderViolations, runCase, STORY_LINES } from './matrix.js';
import { restoredOrKept } from './scenarios/restore.js';
import { rotateInPlaceScenario, rotateVersionedScenario } from './scenarios/rotate.js';
import { groupViolations, rotateGroupScenario } from './scenarios/rotate-group.js';
import { mysqlServerOfMatrix, rotateMysqlScenario } from './scenarios/rotate-mysql.js';
import { pgServerOfMatrix, rotatePostgresqlScenario } from './scenarios/rotate-postgresql.js';
import type { Scenario } from './scenarios/scenario.js';
import { verifyRestoreScenario } from './scenarios/verify-restore.js';

const b64 = (v: string) => Buffer.from(v).toString('base64');
const secret = (ns: string, name: string, data: Record<string, string>, extra: Partial<SecretView> = {}): SecretView => ({
  metadata: { name, namespace: ns },
  type: 'Opaque',
  ...extra,
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

/**
 * Every invariant check of the matrix must be able to fail: each is fed a state that breaks
 * it (and one that does not). A check that cannot fail would make "0 violations" meaningless.
 */
describe('test/faults/invariants', () => {
  const a = secret('shop', 'a', { k: 'value-a' });
  const b = secret('shop', 'b', { k: 'value-b' });

  it('secretsUnchanged: a deleted Secret, changed data or a changed type is a violation; allowed writes are not', () => {
    assert.deepEqual(secretsUnchanged([a, b], [a, b]), []);
    assert.match(secretsUnchanged([a, b], [a])[0], /shop\/b was deleted/);
    assert.match(secretsUnchanged([a], [secret('shop', 'a', { k: 'other' })])[0], /shop\/a: its data changed/);
    assert.match(secretsUnchanged([a], [{ ...a, type: 'kubernetes.io/tls' }])[0], /type or immutability changed/);
    assert.match(secretsUnchanged([a], [{ ...a, immutable: true }])[0], /type or immutability changed/);
    assert.deepEqual(secretsUnchanged([a], [secret('shop', 'a', { k: 'other' })], new Set(['shop/a'])), []);
  });

  const whole: BackupContent = {
    id: 'B1',
    kind: 'scheduled',
    indexed: new Map([['shop/a', secretDataDigest(a.data)]]),
    segments: [{ name: 'segment-00001.json.gz.pgp', size: 10, sha256: 'aa' }],
    stored: new Map([['segment-00001.json.gz.pgp', { size: 10, sha256: 'aa' }]]),
  };

  it('completeBackupsWhole: a complete backup with a missing, short or altered segment, or an unreadable index, is a violation', () => {
    assert.deepEqual(completeBackupsWhole([whole]), []);
    assert.match(
      completeBackupsWhole([{ ...whole, stored: new Map() }])[0],
      /B1 \(scheduled\) is complete but its segment-00001.json.gz.pgp is missing/,
    );
    assert.match(
      completeBackupsWhole([{ ...whole, stored: new Map([['segment-00001.json.gz.pgp', { size: 5, sha256: 'aa' }]]) }])[0],
      /is not what the index records/,
    );
    assert.match(
      completeBackupsWhole([{ ...whole, stored: new Map([['segment-00001.json.gz.pgp', { size: 10, sha256: 'bb' }]]) }])[0],
      /is not what the index records/,
    );
    assert.match(completeBackupsWhole([{ ...whole, problem: 'signature unsigned' }])[0], /index that cannot be read: signature unsigned/);
  });

  it('backupMatches: a complete backup lacking a Secret, holding an extra one or other data is a violation', () => {
    assert.deepEqual(backupMatches(whole, [a]), []);
    assert.match(backupMatches(whole, [a, b])[0], /missing \[shop\/b\]/);
    assert.match(backupMatches(whole, [])[0], /unexpected \[shop\/a\]/);
    assert.match(backupMatches(whole, [secret('shop', 'a', { k: 'changed' })])[0], /different data \[shop\/a\]/);
  });

  it('noOpenUploads, nothingNewStored, noDrillObjects: leftovers are violations', () => {
    assert.deepEqual(noOpenUploads([], []), []);
    assert.match(noOpenUploads([{ key: 'x/seg' }], [])[0], /x\/seg left open in the store/);
    assert.match(noOpenUploads([], [{ key: 'x/seg' }])[0], /x\/seg was created and never completed or aborted/);
    assert.deepEqual(nothingNewStored(new Set(['c/backups/old']), ['c/backups/old', 'c/reports/r'], 'c/backups/'), []);
    assert.match(
      nothingNewStored(new Set(), ['c/backups/new/segment'], 'c/backups/')[0],
      /left 1 object\(s\) behind: c\/backups\/new\/segment/,
    );
    assert.deepEqual(noDrillObjects([]), []);
    assert.match(noDrillObjects(['drill-x.shop.a'])[0], /1 drill object\(s\) left behind/);
  });

  it('canaryScan: finds a value raw, JSON-escaped, base64, base64url and hex, and a long value by its middle', () => {
    const value = 'CANARY-"quoted"-7f3a9b';
    const long = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256));
    const forms = canaryForms([value, long, 'short']);
    const hits = (text: string) => canaryScan([['somewhere', text]], forms);

    for (const text of [
      value,
      JSON.stringify(value),
      b64(value),
      Buffer.from(value).toString('base64url'),
      Buffer.from(value).toString('hex'),
    ]) {
      assert.match(hits(`x ${text} y`)[0], /appears in somewhere/, text);
    }
    assert.equal(hits(long.toString('base64')).length, 1, 'the base64 of the whole long value contains its window');
    assert.equal(hits(long.toString('latin1')).length, 1, 'raw bytes in a file');
    assert.deepEqual(hits('short and harmless text'), [], 'values under 12 bytes are not canaries');
    assert.deepEqual(hits(long.subarray(0, 100).toString('base64')), [], 'the start of a long value (a PEM header) is not matched');
  });

  it('encryptedWhereClaimed: an object named .pgp must be an encrypted OpenPGP message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faults-inv-'));
    try {
      const kp = await writeTestKeyPair(dir, 'k');
      const { keys } = await loadRecipientKeys([kp.publicKey], { now: new Date(), warnWithinMs: 0, setting: 'test' });
      const message = Buffer.from(await encryptBytes(Buffer.from('secret text'), { recipients: keys, label: 'test' }));

      assert.deepEqual(
        await encryptedWhereClaimed([
          ['seg.pgp', message],
          ['report.json', Buffer.from('{}')],
        ]),
        [],
      );
      assert.match((await encryptedWhereClaimed([['seg.pgp', Buffer.from('{"kind":"List"}')]]))[0], /seg.pgp is not an OpenPGP message/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('converged: names the first difference from the clean end state', () => {
    assert.deepEqual(converged({ a: [1, 2], b: 'x' }, { a: [1, 2], b: 'x' }), []);
    assert.match(converged({ a: [1, 2], b: 'x' }, { a: [1, 3], b: 'x' })[0], /state\.a\.1: expected 2, got 3/);
    assert.match(converged({ a: 1 }, {})[0], /state\.a: expected 1, got nothing/);
  });

  it('exitAccepted: a code the fault does not allow, a hang or an unexpected error is a violation', () => {
    const run = (code: number | null, extra: Partial<{ timedOut: boolean; logLines: string[] }> = {}) => ({
      code,
      timedOut: false,
      logLines: [],
      ...extra,
    });
    assert.deepEqual(exitAccepted(run(4), [0, 1, 4]), []);
    assert.deepEqual(exitAccepted(run(null), [null]), []);
    assert.match(exitAccepted(run(2), [0, 1, 4])[0], /exit code 2, expected one of 0, 1, 4/);
    assert.match(exitAccepted(run(null), [0, 143])[0], /exit code none \(killed\), expected one of 0, 143/);
    assert.match(exitAccepted(run(143, { timedOut: true }), [0, 143])[0], /did not finish in time/);
    assert.match(
      exitAccepted(run(1, { logLines: ['{"level":"error","msg":"unexpected failure"}'] }), [0, 1])[0],
      /unexpected error ended the run/,
    );
  });

  it('restoredOrKept (restore): a Secret with a third value, deleted, or overwritten without a pre-restore backup is a violation', () => {
    const backedUp = [a, b];
    const live = [secret('shop', 'a', { k: 'live-a' }), b];
    const saved: BackupContent = {
      ...whole,
      id: 'P1',
      kind: 'pre-restore',
      indexed: new Map([['shop/a', secretDataDigest(live[0].data)]]),
    };

    assert.deepEqual(restoredOrKept({ backedUp, live }, live, []), [], 'nothing restored yet');
    assert.deepEqual(restoredOrKept({ backedUp, live }, backedUp, [saved]), [], 'overwritten, the live value saved first');
    assert.match(
      restoredOrKept({ backedUp, live }, backedUp, [])[0],
      /shop\/a was overwritten and its previous data is in no complete pre-restore backup/,
    );
    assert.match(restoredOrKept({ backedUp, live }, backedUp, [{ ...saved, kind: 'scheduled' }])[0], /no complete pre-restore backup/);
    assert.match(
      restoredOrKept({ backedUp, live }, [secret('shop', 'a', { k: 'third' }), b], [saved])[0],
      /holds neither its live nor its backed-up data/,
    );
    assert.match(restoredOrKept({ backedUp, live }, [b], [saved])[0], /shop\/a was deleted/);
  });

  describe('scenario checks on a live world', function () {
    this.timeout(60_000);
    let lab: FaultLab;
    let world: CaseWorld;
    before(async () => {
      lab = await FaultLab.start();
    });
    after(async () => lab?.stop());
    afterEach(async () => world?.close());

    const data = (w: CaseWorld, name: string) =>
      w.emulator.get('v1', 'Secret', 'shop', name) as unknown as SecretView & { apiVersion: string; kind: string };
    const write = (w: CaseWorld, name: string, values: Record<string, string>) => {
      const s = data(w, name);
      w.emulator.update({ ...s, data: { ...s.data, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, b64(v)])) } } as never);
    };
    const run = { code: 1, stdout: '', stderr: '', logLines: [], timedOut: false, durationMs: 0 };

    it('rotate in-place: a rotated Secret without its previous values, or with a URL not embedding the new password, is a violation', async () => {
      world = await lab.openCase();
      const seeded = await rotateInPlaceScenario.seed(world);
      assert.deepEqual(await rotateInPlaceScenario.check(world, seeded, 'after-fault', run), [], 'unchanged');

      write(world, 'db', { password: 'new-password-123456', DATABASE_URL: 'postgres://app:new-password-123456@db/app' });
      const noPrevious = await rotateInPlaceScenario.check(world, seeded, 'after-fault', run);
      write(world, 'db', { DATABASE_URL: 'postgres://app:original-password-CANARY-7d1e@db/app' });
      const inconsistent = await rotateInPlaceScenario.check(world, seeded, 'after-fault', run);

      assert.match(noPrevious.join(), /previous values are not recoverable/);
      assert.match(inconsistent.join(), /neither unchanged nor fully rotated/);
    });

    it('rotate group: a member rotated alone after the rerun, or without its previous values, is a violation', async () => {
      world = await lab.openCase();
      await rotateGroupScenario.seed(world);
      assert.deepEqual(groupViolations(world, 'after-rerun'), [], 'unchanged');

      write(world, 'db-user', { username: 'new-user-123456' });
      const half = groupViolations(world, 'after-rerun');
      const midway = groupViolations(world, 'after-fault');

      assert.match(half.join(), /half rotated after the rerun: only db-user holds new values/);
      assert.match(half.join(), /db-user was rotated but its previous values are not recoverable/);
      assert.doesNotMatch(midway.join(), /half rotated/, 'between a fault and the rerun a member may be ahead of the other');
    });

    it('rotate versioned: the old version gone, a consumer pointing at a missing version, or a new version that is no rotation is a violation', async () => {
      world = await lab.openCase();
      const seeded = await rotateVersionedScenario.seed(world);
      assert.deepEqual(await rotateVersionedScenario.check(world, seeded, 'after-fault', run), []);

      world.emulator.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'keys-v3', namespace: 'shop' },
        data: { API_KEY: b64('second-key-value-CANARY-91ab'), REGION: b64('eu-west-1') },
      } as never);
      const notRotated = await rotateVersionedScenario.check(world, seeded, 'after-fault', run);
      world.emulator.delete('v1', 'Secret', 'shop', 'keys-v2');
      const gone = await rotateVersionedScenario.check(world, seeded, 'after-fault', run);

      assert.match(notRotated.join(), /keys-v3 is not a rotation of keys-v2/);
      assert.match(gone.join(), /keys-v2 was deleted or changed/);
      assert.match(gone.join(), /Deployment shop\/web references Secret keys-v2, which does not exist/);
    });

    it('rotate postgresql: a Secret naming a password the database refuses, or a database still taking the original after the rerun, is a violation', async () => {
      await rotatePostgresqlScenario.prepare!(lab);
      try {
        world = await lab.openCase();
        const seeded = await rotatePostgresqlScenario.seed(world);
        const pg = pgServerOfMatrix()!;
        assert.deepEqual(
          await rotatePostgresqlScenario.check(world, seeded, 'after-fault', run),
          [],
          'unchanged, and the database takes the Secret',
        );

        await pg.sql("ALTER ROLE fault_app PASSWORD 'not-the-secret-password-1'");
        const refused = await rotatePostgresqlScenario.check(world, seeded, 'after-fault', run);
        world.emulator.create({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'db-pending', namespace: 'shop', annotations: { 'secret-steward.io/rotation-step': 'set' } },
          data: { password: b64('pending-password-2') },
        } as never);
        const neither = await rotatePostgresqlScenario.check(world, seeded, 'after-fault', run);
        await pg.sql("ALTER ROLE fault_app PASSWORD 'pending-password-2'");
        const inFlight = await rotatePostgresqlScenario.check(world, seeded, 'after-fault', run);
        world.emulator.delete('v1', 'Secret', 'shop', 'db-pending');
        const rotatedPassword = 'rotated-password-3';
        const host = data(world, 'db').data!.host;
        write(world, 'db', {
          password: rotatedPassword,
          DATABASE_URL: `postgresql://fault_app:${rotatedPassword}@${Buffer.from(host, 'base64').toString()}:${Buffer.from(data(world, 'db').data!.port, 'base64').toString()}/shop`,
        });
        await pg.sql("ALTER ROLE fault_app PASSWORD 'original-pg-password-CANARY-3c9d'");
        const stale = await rotatePostgresqlScenario.check(world, seeded, 'after-rerun', run);

        assert.match(refused.join(), /after-fault: the database refuses the password shop\/db holds/);
        assert.match(neither.join(), /accepts neither the password of shop\/db nor the pending one \(companion at step set/);
        assert.deepEqual(inFlight, [], 'in flight, the pending password is allowed');
        assert.match(stale.join(), /the database refuses the password shop\/db holds/);
        assert.match(stale.join(), /previous password is not recoverable/);
        assert.match(stale.join(), /still accepts the original password/);
      } finally {
        await rotatePostgresqlScenario.teardown!();
      }
    });

    it('rotate mysql: a Secret naming a password the database refuses, or a database still taking the original after the rerun, is a violation', async function () {
      requireDependency(this, 'MariaDB server (mariadbd, mariadb-install-db)', mariadbAvailable(), 'apt-get install mariadb-server');
      await rotateMysqlScenario.prepare!(lab);
      try {
        world = await lab.openCase();
        const seeded = await rotateMysqlScenario.seed(world);
        const db = mysqlServerOfMatrix()!;
        const setPassword = (pw: string) => db.sql(`ALTER USER 'fault_app'@'%' IDENTIFIED BY '${pw}'`);
        assert.deepEqual(
          await rotateMysqlScenario.check(world, seeded, 'after-fault', run),
          [],
          'unchanged, and the database takes the Secret',
        );

        await setPassword('not-the-secret-password-1');
        const refused = await rotateMysqlScenario.check(world, seeded, 'after-fault', run);
        world.emulator.create({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'db-pending', namespace: 'shop', annotations: { 'secret-steward.io/rotation-step': 'set' } },
          data: { password: b64('pending-password-2') },
        } as never);
        const neither = await rotateMysqlScenario.check(world, seeded, 'after-fault', run);
        await setPassword('pending-password-2');
        const inFlight = await rotateMysqlScenario.check(world, seeded, 'after-fault', run);
        world.emulator.delete('v1', 'Secret', 'shop', 'db-pending');
        const rotatedPassword = 'rotated-password-3';
        write(world, 'db', {
          password: rotatedPassword,
          DATABASE_URL: `mysql://fault_app:${rotatedPassword}@${db.host}:${db.port}/shop`,
        });
        await setPassword('original-mysql-password-CANARY-8b2e');
        const stale = await rotateMysqlScenario.check(world, seeded, 'after-rerun', run);

        assert.match(refused.join(), /after-fault: the database refuses the password shop\/db holds/);
        assert.match(neither.join(), /accepts neither the password of shop\/db nor the pending one \(companion at step set/);
        assert.deepEqual(inFlight, [], 'in flight, the pending password is allowed');
        assert.match(stale.join(), /the database refuses the password shop\/db holds/);
        assert.match(stale.join(), /previous password is not recoverable/);
        assert.match(stale.join(), /still accepts the original password/);
      } finally {
        await rotateMysqlScenario.teardown!();
      }
    });

    it('verify-restore: a drill object left by a run that exited, or a changed source Secret, is a violation', async () => {
      world = await lab.openCase();
      const seeded = await verifyRestoreScenario.seed(world);
      world.emulator.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'drill-abc.shop.db', namespace: 'secret-steward-drill', labels: { 'secret-steward.io/drill': 'abc' } },
        data: {},
      } as never);
      write(world, 'db', { password: 'changed-by-the-drill' });

      const violations = await verifyRestoreScenario.check(world, seeded, 'after-fault', run);
      const killed = await verifyRestoreScenario.check(world, seeded, 'after-fault', { ...run, code: null });

      assert.match(violations.join(), /1 drill object\(s\) left behind/);
      assert.match(violations.join(), /shop\/db: its data changed/);
      assert.ok(!killed.join().includes('drill object'), 'a killed drill leaves them to the next run');
    });
  });

  describe('a violating case keeps its whole story (test/faults/matrix)', function () {
    this.timeout(120_000);
    let lab: FaultLab;
    let keepDir: string;
    before(async () => {
      keepDir = await mkdtemp(join(tmpdir(), 'ss-faults-kept-'));
      lab = await FaultLab.start();
    });
    after(async () => {
      await lab?.stop();
      await rm(keepDir, { recursive: true, force: true });
    });

    /**
     * A job of one Kubernetes request (GET of the lock namespace) that, once told to, fails after
     * it with a three-deep error chain whose inner cause spans two lines, after forty lines of
     * noise at level error: the chain must survive the story's bounds.
     */
    let failing = false;
    let apiUrl = '';
    const stub: Scenario<void> = {
      job: 'stub',
      usesStore: false,
      description: 'one GET, then a chained failure when told',
      script: 'jobs/none.ts',
      command: async () =>
        defineCommand({
          help: { name: 'stub', summary: 'stub', description: 'stub' },
          settings: {},
          run: async (_settings, ctx) => {
            const res = await fetch(`${apiUrl}/api/v1/namespaces/secret-steward`, { headers: { authorization: 'Bearer emulator-admin' } });
            if (!res.ok) throw new StewardError(`GET Namespace secret-steward: ${res.status}`);
            if (!failing) return 0;
            for (let i = 0; i < STORY_LINES; i++) ctx.log.error({ item: i }, 'noise before the failure');
            const inner = new Error('PutObject faults/drills/report.json: 503 SlowDown\nthe store asked to slow down');
            const middle = new StewardError('could not put the object', { cause: inner });
            throw new StewardError('could not store the drill report', { cause: middle });
          },
        }),
      seed: async (world) => {
        apiUrl = world.emulator.url;
      },
      args: () => [],
      secretValues: () => [],
      endState: async () => ({}),
      check: async () => [],
    };

    it("prints and keeps the error chain of a rerun that failed, inner cause included, with the runs' files", async () => {
      failing = false;
      const baseline = await recordBaseline(lab, stub);
      const c = enumerateCases(
        baseline,
        KINDS.filter((k) => k.id === 'k8s-500'),
      )[0];
      failing = true;

      const result = await runCase(lab, baseline, c, keepDir);

      assert.equal(result.code, 1, 'the faulted run fails on its 500, as the fault allows');
      assert.equal(result.rerunCode, 1);
      assert.match(result.violations.join('\n'), /the clean rerun ended with exit 1: could not store the drill report/);
      const printed = renderViolations({ server: 's3rver', baselines: [], results: [result], keepDir, wallMs: 0 });
      assert.match(printed, /rerun \(exit 1\):/);
      assert.match(printed, /caused by: StewardError: could not put the object/);
      assert.match(printed, /caused by: Error: PutObject faults\/drills\/report.json: 503 SlowDown\n\s+the store asked to slow down/);
      assert.match(printed, /earlier line\(s\) left out/, 'the noise is cut, not the chain');
      assert.doesNotMatch(printed, /faulted run \(/, 'the faulted run exited as its fault allows');
      assert.equal(result.keptIn, join(keepDir, 'stub_k8s-500@1'));
      const kept = await readFile(join(result.keptIn, 'violations.txt'), 'utf8');
      assert.match(kept, /503 SlowDown/);
      assert.match(await readFile(join(result.keptIn, 'rerun.log'), 'utf8'), /the store asked to slow down/);
      assert.match(await readFile(join(result.keptIn, 'faulted-run.log'), 'utf8'), /GET Namespace secret-steward: 500/);
      assert.match(await readFile(join(result.keptIn, 'requests.txt'), 'utf8'), /#1 k8s get GET \/api\/v1\/namespaces\/secret-steward/);
    });
  });
});
