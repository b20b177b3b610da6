import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { BackupLayout } from '../../../shared/backup/backup-layout.js';
import { loadSealTrust } from '../../../shared/backup/catalogue-settings.js';
import { loadRecipientKeys, loadSigningKey } from '../../../shared/crypto/index.js';
import { InterruptedError } from '../../../shared/errors/index.js';
import {
  createKubeClients,
  type KubeClients,
  KubeNamespaceStore,
  KubeSecretStore,
  loadKubeConfig,
  type NamespaceStore,
  type SecretStore,
  type WriteOptions,
} from '../../../shared/kube/index.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { RestoreSelection } from '../../../shared/restore/restore-selection.js';
import { SpoolError } from '../../../shared/restore/restore-spool.js';
import {
  emptyRestoreReport,
  type RestoreDeps,
  type RestoreOptions,
  type RestoreReport,
  runRestore,
} from '../../../shared/restore/run-restore.js';
import { AdaptiveLimit } from '../../../shared/runtime/adaptive-limit.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { Shutdown } from '../../../shared/runtime/shutdown.js';
import { createObjectStore, type ObjectStore } from '../../../shared/storage/index.js';
import { BackupVerificationError } from '../../../shared/verify-restore/verification-error.js';
import { loadVerificationKeys } from '../../../shared/verify-restore/verification-keys.js';
import { type Harness, startHarness } from '../../support/job-harness.js';
import { mutatingProxy } from '../../support/mutating-proxy.js';
import { writeBackup } from '../../support/write-backup.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const layout = new BackupLayout('test-cluster');
const log = createLogger({ sink: new MemorySink() });

describe('shared/restore/run-restore', function () {
  this.timeout(120_000);
  let h: Harness;
  let kube: KubeClients;
  let store: ObjectStore;
  beforeEach(async () => {
    h = await startHarness();
    kube = createKubeClients(loadKubeConfig({ kubeconfig: h.kubeconfig }), {
      command: 'test',
      clock: systemClock,
      log,
      limits: { maxAttempts: 2 },
    });
    store = createObjectStore(h.s3.settings('bk'));
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } } as never);
  });
  afterEach(async () => h?.stop());

  const preRestoreKey = async () =>
    (await loadSigningKey(h.preRestoreSigner.privateKey, h.preRestoreSigner.passphraseFile, { now: new Date() })).key;

  function backupOf(items: V1Secret[]): Promise<string> {
    return writeBackup(items, { store, layout, recipient: h.recipient, signer: h.signer, log }, { allowEmpty: false });
  }

  async function restore(o: Partial<RestoreOptions> = {}, deps: Partial<RestoreDeps> = {}, report?: RestoreReport): Promise<RestoreReport> {
    const options: RestoreOptions = {
      backup: 'latest',
      selection: new RestoreSelection({ namespaces: [], names: [], mapping: [] }),
      mode: 'create-missing',
      recreateImmutable: false,
      createNamespaces: false,
      dryRun: false,
      ...o,
    };
    const keys = await loadVerificationKeys({
      decryptionKey: [h.recipient.privateKey],
      decryptionKeyPassphraseFile: h.recipient.passphraseFile,
      trustedSignerKey: [h.signer.publicKey],
      preRestoreSignerKey: [],
      incompleteGrace: 0,
      allowUnsigned: [],
    });
    const trust = await loadSealTrust({ trustedSignerKey: [h.signer.publicKey], preRestoreSignerKey: [] }, { now: new Date() });
    const { keys: recipients } = await loadRecipientKeys([h.recipient.publicKey], { now: new Date(), warnWithinMs: 0 });
    const r = report ?? emptyRestoreReport(options);
    return runRestore(
      {
        secrets: new KubeSecretStore(kube.core, kube.caller),
        namespaces: new KubeNamespaceStore(kube.core, kube.caller),
        store,
        layout,
        keys,
        recipients,
        trust,
        preRestore: { signingKey: await preRestoreKey(), clusterUid: h.clusterUid },
        log,
        clock: systemClock,
        shutdown: new Shutdown(),
        ...deps,
      },
      options,
      r,
    );
  }

  const opaque = (name: string, value: string, extra: Partial<V1Secret['metadata']> = {}): V1Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'apps', ...extra },
    type: 'Opaque',
    data: { v: b64(value) },
  });

  it('never restores service-account or bootstrap token Secrets, even when a backup holds them', async () => {
    await backupOf([
      opaque('normal', 'value-1'),
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'sa', namespace: 'apps', annotations: { 'kubernetes.io/service-account.name': 'default' } },
        type: 'kubernetes.io/service-account-token',
        data: { token: b64('tok-123456') },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'bootstrap-token-abcdef', namespace: 'apps' },
        type: 'bootstrap.kubernetes.io/token',
        data: { 'token-id': b64('abcdef') },
      },
    ]);

    const r = await restore();

    assert.deepEqual(
      r.items.map((i) => [i.source.name, i.action, i.outcome]),
      [
        ['normal', 'create', 'done'],
        ['sa', 'skip', 'skipped'],
        ['bootstrap-token-abcdef', 'skip', 'skipped'],
      ],
    );
    assert.match(r.items[1].reason!, /kubernetes.io\/service-account-token Secrets are never restored/);
    assert.equal(h.emulator.get('v1', 'Secret', 'apps', 'sa'), undefined);
    assert.equal(h.emulator.get('v1', 'Secret', 'apps', 'bootstrap-token-abcdef'), undefined);
  });

  it('reports each Secret as -o json has always printed it (compact in memory: shared namespaces, no data digest)', async () => {
    h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'staging' } } as never);
    await backupOf([opaque('one', 'value-1'), opaque('two', 'value-2')]);
    const mapped = new RestoreSelection({ namespaces: [], names: [], mapping: [{ from: 'apps', to: 'staging' }] });

    const [plain, remapped] = [await restore(), await restore({ selection: mapped })];

    // What restore-job.ts prints: every field but the digests, in this order.
    const printed = (r: RestoreReport) => JSON.parse(JSON.stringify(r.items, (k, v) => (k.endsWith('Sha256') ? undefined : v)));
    const item = (name: string, target: string) => ({
      source: { namespace: 'apps', name },
      target: { namespace: target, name },
      type: 'Opaque',
      immutable: false,
      segment: 1,
      action: 'create',
      outcome: 'done',
    });
    assert.deepEqual(printed(plain), [item('one', 'apps'), item('two', 'apps')]);
    assert.deepEqual(printed(remapped), [item('one', 'staging'), item('two', 'staging')]);
    assert.deepEqual(
      printed(plain).map((i: object) => Object.keys(i)),
      [Object.keys(item('one', 'apps')), Object.keys(item('two', 'apps'))],
    );
  });

  it('does not overwrite a Secret that changed after the pre-restore backup saved it, and keeps live ownerReferences on the others', async () => {
    await backupOf([opaque('raced', 'backed-up'), opaque('owned', 'backed-up-too')]);
    h.emulator.create({ ...opaque('raced', 'live-1') } as never);
    // An owner that exists: the garbage collector deletes a Secret whose owner uid does not.
    const ownerUid = h.emulator.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: 'apps' } } as never)
      .metadata.uid;
    h.emulator.create({
      ...opaque('owned', 'live-2', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: ownerUid }] }),
    } as never);
    const report = emptyRestoreReport({ dryRun: false, mode: 'overwrite' });
    const real = new KubeSecretStore(kube.core, kube.caller);
    let raced = false;
    // Someone changes 'raced' right after the pre-restore backup, before the restore writes it.
    const secrets: SecretStore = Object.assign(Object.create(real) as SecretStore, {
      get: async (ns: string, name: string) => {
        if (report.preRestoreBackupId !== undefined && name === 'raced' && !raced) {
          raced = true;
          h.emulator.patch('v1', 'Secret', 'apps', 'raced', 'application/merge-patch+json', { data: { v: b64('live-changed') } });
        }
        return real.get(ns, name);
      },
    });

    await restore({ mode: 'overwrite' }, { secrets }, report);

    const byName = Object.fromEntries(report.items.map((i) => [i.source.name, i]));
    assert.equal(byName.raced.outcome, 'failed');
    assert.match(byName.raced.message!, /changed since the pre-restore backup \S+ saved it; not overwritten/);
    assert.equal(
      Buffer.from((h.emulator.get('v1', 'Secret', 'apps', 'raced') as unknown as V1Secret).data!.v, 'base64').toString(),
      'live-changed',
    );
    assert.equal(byName.owned.outcome, 'done');
    const owned = h.emulator.get('v1', 'Secret', 'apps', 'owned') as unknown as V1Secret;
    assert.equal(Buffer.from(owned.data!.v, 'base64').toString(), 'backed-up-too');
    assert.deepEqual(
      owned.metadata!.ownerReferences?.map((o) => o.uid),
      [ownerUid],
    );
    assert.equal(report.counts.failed, 1);
  });

  it('stops on an API server that stays unavailable, reporting how far it got', async () => {
    await backupOf([opaque('a', 'value-a'), opaque('b', 'value-b'), opaque('c', 'value-c')]);
    h.emulator.faults.inject({ method: 'POST', path: '/api/v1/namespaces/apps/secrets', status: 503, after: 1, times: Infinity });
    const report = emptyRestoreReport({ dryRun: false, mode: 'create-missing' });

    await assert.rejects(restore({}, {}, report), /failed to create Secret apps\/b: 503/);

    assert.equal(report.stage, 'saved');
    assert.deepEqual(
      report.items.map((i) => i.outcome),
      ['done', 'failed', 'pending'],
    );
    assert.equal(report.counts.written, 1);
  });

  it('stops at a safe point when a shutdown is requested', async () => {
    await backupOf([opaque('a', 'value-a'), opaque('b', 'value-b')]);
    const shutdown = new Shutdown();
    shutdown.request('received SIGTERM');
    const report = emptyRestoreReport({ dryRun: false, mode: 'create-missing' });

    await assert.rejects(restore({}, { shutdown }, report), InterruptedError);

    assert.equal(h.emulator.list('v1', 'Secret', 'apps').length, 0);
  });

  it('checks what the API server answers against the recorded hash (a mutating webhook changing data is a failure)', async () => {
    await backupOf([opaque('mutated', 'original')]);
    const real = new KubeSecretStore(kube.core, kube.caller);
    const secrets: SecretStore = Object.assign(Object.create(real) as SecretStore, {
      create: async (ns: string, body: V1Secret, options?: WriteOptions) => ({
        ...(await real.create(ns, body, options)),
        data: { v: b64('changed-by-webhook') },
      }),
    });

    const r = await restore({}, { secrets });

    assert.equal(r.items[0].outcome, 'failed');
    assert.match(r.items[0].message!, /the API server answered with other data than was written/);
  });

  describe('decrypts the backup once: the verified Secrets are spooled, encrypted, between verify and write', () => {
    const CANARY = 'run-restore-spool-canary-51c0';
    let parent: string;
    beforeEach(async () => {
      parent = await mkdtemp(join(tmpdir(), 'restore-spool-'));
    });
    afterEach(async () => rm(parent, { recursive: true, force: true }));

    /** The one spool file, once the verify pass has written it. */
    async function spoolFile(): Promise<string> {
      const [dir] = await readdir(parent);
      return join(parent, dir, 'spool');
    }

    /** Namespaces whose first call (the plan, after the verify pass) runs `meanwhile` first. */
    function namespacesDoing(meanwhile: () => Promise<void>): NamespaceStore {
      const real = new KubeNamespaceStore(kube.core, kube.caller);
      let done = false;
      return Object.assign(Object.create(real) as NamespaceStore, {
        phase: async (ns: string) => {
          if (!done) {
            done = true;
            await meanwhile();
          }
          return real.phase(ns);
        },
      });
    }

    it('reads each segment of the backup once, holds no value in plaintext on disk, and removes the spool after success', async () => {
      await backupOf([opaque('a', CANARY), opaque('b', 'value-b')]);
      let spooled: Buffer | undefined;
      const namespaces = namespacesDoing(async () => {
        spooled = await readFile(await spoolFile());
      });
      const reads: string[] = [];
      const counting: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
        getBytes: (key: string, limit: number) => {
          reads.push(key);
          return store.getBytes(key, limit);
        },
      });

      const r = await restore({}, { spoolDir: parent, namespaces, store: counting });

      assert.equal(r.counts.written, 2);
      const segmentReads = reads.filter((k) => /segment/.test(k));
      assert.equal(segmentReads.length, 1, reads.join(', '));
      assert.ok(spooled !== undefined && spooled.length > 0);
      for (const form of [CANARY, b64(CANARY)]) assert.equal(spooled.indexOf(form), -1, `${form} on disk`);
      assert.deepEqual(await readdir(parent), []);
    });

    it('first removes the spool an earlier, killed restore process left in TMPDIR, and says so', async () => {
      await backupOf([opaque('a', CANARY)]);
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await new Promise((resolve) => child.once('exit', resolve));
      const leftover = `secret-steward-restore-${child.pid}-kiLLED`;
      await mkdir(join(parent, leftover, 'x'), { recursive: true });
      const sink = new MemorySink();

      const r = await restore({}, { spoolDir: parent, log: createLogger({ sink }) });

      assert.equal(r.counts.written, 1);
      assert.deepEqual(await readdir(parent), []);
      assert.ok(
        sink
          .records()
          .some(
            (l) => l.msg === 'removed 1 restore spool(s) left in TMPDIR by a restore process that is gone' && String(l.spools) === leftover,
          ),
        sink.lines.join('\n'),
      );
    });

    const damages: Array<[string, (path: string) => Promise<void>, RegExp]> = [
      [
        'tampered',
        async (path) => {
          const bytes = await readFile(path);
          bytes[bytes.length - 20] ^= 1;
          await writeFile(path, bytes);
        },
        /chunk 1 does not authenticate/,
      ],
      ['truncated', async (path) => truncate(path, (await stat(path)).size - 1), /truncated or appended to/],
    ];
    for (const [what, damage, message] of damages) {
      it(`refuses a ${what} spool with a clear error, writes nothing, and removes it`, async () => {
        await backupOf([opaque('a', CANARY), opaque('b', 'value-b')]);
        const report = emptyRestoreReport({ dryRun: false, mode: 'create-missing' });
        const namespaces = namespacesDoing(async () => damage(await spoolFile()));

        await assert.rejects(restore({}, { spoolDir: parent, namespaces }, report), (e: unknown) => {
          assert.ok(e instanceof SpoolError, String(e));
          assert.match(e.message, message);
          assert.doesNotMatch(e.message, new RegExp(CANARY));
          return true;
        });

        assert.equal(h.emulator.list('v1', 'Secret', 'apps').length, 0);
        assert.equal(report.counts.written, 0);
        assert.deepEqual(await readdir(parent), []);
      });
    }

    describe('within a byte budget (--restore-spool-limit): whole segments while they fit, the rest read again to write', () => {
      const KIB = 1024;
      /** One Secret a segment: a and b small, c and d about 100 KiB each, in that order. */
      const items = () => [
        opaque('a', 'value-a'),
        opaque('b', 'value-b'),
        opaque('c', 'c'.repeat(100 * KIB)),
        opaque('d', 'd'.repeat(100 * KIB)),
      ];
      const backupInSegments = (secrets: V1Secret[]) =>
        writeBackup(secrets, { store, layout, recipient: h.recipient, signer: h.signer, log }, { segmentBytes: 1 });

      /** A store that counts the reads of each segment object. */
      function countingStore(): { store: ObjectStore; segmentReads: () => number[] } {
        const reads = new Map<string, number>();
        const counting: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
          getBytes: (key: string, limit: number) => {
            if (/segment-\d+/.test(key)) reads.set(key, (reads.get(key) ?? 0) + 1);
            return store.getBytes(key, limit);
          },
        });
        const segmentReads = () => [...reads.keys()].sort().map((k) => reads.get(k)!);
        return { store: counting, segmentReads };
      }
      const restored = (ns: string) =>
        Object.fromEntries(h.emulator.list('v1', 'Secret', ns).map((x) => [x.metadata.name, { type: x.type, data: x.data }]));

      it('restores the same Secrets as an unlimited spool, reading the segments beyond the budget twice and logs it once', async () => {
        await backupInSegments(items());
        h.emulator.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'unlimited' } } as never);
        const sink = new MemorySink();
        const budgeted = countingStore();
        const unlimited = countingStore();

        const r = await restore({}, { spoolDir: parent, spoolLimit: 50 * KIB, store: budgeted.store, log: createLogger({ sink }) });
        const u = await restore(
          { selection: new RestoreSelection({ namespaces: [], names: [], mapping: [{ from: 'apps', to: 'unlimited' }] }) },
          { spoolDir: parent, store: unlimited.store },
        );

        assert.equal(r.counts.written, 4);
        assert.equal(u.counts.written, 4);
        assert.deepEqual(restored('apps'), restored('unlimited'));
        assert.deepEqual(restored('apps'), Object.fromEntries(items().map((x) => [x.metadata!.name, { type: 'Opaque', data: x.data }])));
        assert.deepEqual(budgeted.segmentReads(), [1, 1, 2, 2]);
        assert.deepEqual(unlimited.segmentReads(), [1, 1, 1, 1]);
        const lines = sink.records().filter((x) => /restore spool budget reached/.test(String(x.msg)));
        assert.equal(lines.length, 1, sink.lines.join('\n'));
        assert.equal(lines[0].level, 'info');
        assert.match(
          String(lines[0].msg),
          /--restore-spool-limit 50Ki\): 2 of 4 segments are not spooled and are read from the store again/,
        );
        assert.deepEqual(await readdir(parent), []);
      });

      it('with 0 reads every segment twice and creates no spool file', async () => {
        await backupInSegments(items().slice(0, 3));
        let whilePlanning: string[] | undefined;
        const namespaces = namespacesDoing(async () => {
          whilePlanning = await readdir(parent);
        });
        const counting = countingStore();
        const sink = new MemorySink();

        const r = await restore({}, { spoolDir: parent, spoolLimit: 0, store: counting.store, namespaces, log: createLogger({ sink }) });

        assert.equal(r.counts.written, 3);
        assert.ok(
          sink.lines.some((l) => l.includes('--restore-spool-limit 0): 3 of 3 segments are not spooled')),
          sink.lines.join('\n'),
        );
        assert.deepEqual(whilePlanning, []);
        assert.deepEqual(counting.segmentReads(), [2, 2, 2]);
      });

      it('stops with the verification error at a segment changed in the store since the verify pass, having written only what came before', async () => {
        const id = await backupInSegments([opaque('a', 'value-a'), opaque('b', 'b'.repeat(2 * KIB)), opaque('c', 'c'.repeat(2 * KIB))]);
        // Spools segment 1 only (its one small Secret); segments 2 and 3 are read again.
        const namespaces = namespacesDoing(async () => {
          const key = layout.segmentKeyByName(id, 'segment-00003.json.gz.pgp');
          const bytes = await store.getBytes(key, 1024 * KIB);
          bytes[bytes.length - 5] ^= 1;
          await store.put(key, bytes);
        });
        const report = emptyRestoreReport({ dryRun: false, mode: 'create-missing' });

        await assert.rejects(restore({}, { spoolDir: parent, spoolLimit: KIB, namespaces }, report), (e: unknown) => {
          assert.ok(e instanceof BackupVerificationError, String(e));
          assert.equal(e.segment, 3);
          return true;
        });

        assert.deepEqual(Object.keys(restored('apps')).sort(), ['a', 'b']);
        assert.equal(report.counts.written, 2);
        assert.deepEqual(await readdir(parent), []);
      });
    });

    it('removes the spool when the restore fails, and when a shutdown (SIGTERM) stops it mid-write', async () => {
      await backupOf([opaque('a', 'value-a'), opaque('b', 'value-b'), opaque('c', 'value-c')]);
      const real = new KubeSecretStore(kube.core, kube.caller);
      const shutdown = new Shutdown();
      let spoolWhileWriting: string[] = [];
      const secrets: SecretStore = Object.assign(Object.create(real) as SecretStore, {
        create: async (ns: string, body: V1Secret, options?: WriteOptions) => {
          spoolWhileWriting = await readdir(parent);
          shutdown.request('received SIGTERM');
          return real.create(ns, body, options);
        },
      });

      await assert.rejects(restore({}, { spoolDir: parent, secrets, shutdown }), InterruptedError);

      assert.equal(spoolWhileWriting.length, 1, 'the spool existed while writing');
      assert.deepEqual(await readdir(parent), []);
      assert.ok(h.emulator.list('v1', 'Secret', 'apps').length < 3);

      h.emulator.faults.inject({ method: 'POST', path: '/api/v1/namespaces/apps/secrets', status: 503, times: Infinity });
      await assert.rejects(restore({}, { spoolDir: parent }), /503/);
      assert.deepEqual(await readdir(parent), []);
    });
  });

  it('checks the answer of the plain JSON create too: a mutating webhook changing data is a failure, the rest are written', async () => {
    await backupOf([opaque('mutated', 'original'), opaque('kept', 'as-is')]);
    const proxy = await mutatingProxy(h.emulator.url, (created) => {
      if (created.metadata?.name === 'mutated') created.data = { v: b64('changed-by-webhook') };
    });
    try {
      const kc = loadKubeConfig({ kubeconfig: h.kubeconfig });
      const viaProxy = new KubeConfig();
      viaProxy.loadFromString(kc.exportConfig().replaceAll(h.emulator.url.replace(/\/$/, ''), proxy.url));
      const k = createKubeClients(viaProxy, { command: 'test', clock: systemClock, log, limits: { maxAttempts: 2 } });
      h.emulator.requests.clear();

      const r = await restore({}, { secrets: new KubeSecretStore(k.core, k.caller, log, viaProxy) });

      const byName = Object.fromEntries(r.items.map((i) => [i.source.name, i]));
      assert.equal(byName.mutated.outcome, 'failed');
      assert.match(byName.mutated.message!, /the API server answered with other data than was written \(a mutating webhook\?\)/);
      assert.equal(byName.kept.outcome, 'done');
      assert.equal(r.counts.failed, 1);
      assert.deepEqual(
        h.emulator.requests.filter((e) => e.verb === 'create' && e.resource === 'secrets').map((e) => `${e.accept} ${e.status}`),
        ['application/json 201', 'application/json 201'],
        'sent as plain JSON requests (not the typed client, whose Accept also names */*)',
      );
    } finally {
      await proxy.close();
    }
  });

  describe('creates the API server refuses (invalid or denied by admission), existing and new', () => {
    // The server validates and admits a create before it looks the name up, dry runs included
    // (test/emulator/validation.test.ts, admission.test.ts: genericregistry Store.Create), so the
    // dry-run create made before deleting an existing Secret for --recreate-immutable tells "would
    // be refused" (422, 403) from "allowed, the name is taken" (409).
    const DENY = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-denied-secrets}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], resources: [secrets], operations: [CREATE]}
  validations:
  - expression: "!object.metadata.name.endsWith('-denied')"
    message: this Secret may not be created
    reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-denied-secrets}
spec: {policyName: no-denied-secrets, validationActions: [Deny]}
`;
    // A finalizer name the server refuses (ValidateFinalizers) that the restore's own checks let through.
    const badFinalizer = { finalizers: ['not ok!'] };

    async function arrange(): Promise<Map<string, string>> {
      await backupOf([
        opaque('frozen-invalid', 'backed-up', badFinalizer),
        opaque('frozen-denied', 'backed-up'),
        opaque('new-invalid', 'backed-up', badFinalizer),
        opaque('new-denied', 'backed-up'),
      ]);
      const uids = new Map<string, string>();
      for (const name of ['frozen-invalid', 'frozen-denied'])
        uids.set(name, h.emulator.create({ ...opaque(name, 'live'), immutable: true } as never).metadata.uid);
      await h.emulator.applyObjects(DENY);
      return uids;
    }

    const expectations: Array<[string, string, RegExp]> = [
      [
        'frozen-invalid',
        'recreate',
        /^not recreated: the API server would refuse to create it again \(failed to create Secret apps\/frozen-invalid \(dry run\): 422 Invalid \(fields: metadata\.finalizers\)\); left as it was$/,
      ],
      [
        'frozen-denied',
        'recreate',
        /^not recreated: the API server would refuse to create it again \(failed to create Secret apps\/frozen-denied \(dry run\): 403 Forbidden \(denied by ValidatingAdmissionPolicy 'no-denied-secrets' \(binding 'no-denied-secrets'\)\)\); left as it was$/,
      ],
      ['new-invalid', 'create', /^failed to create Secret apps\/new-invalid( \(dry run\))?: 422 Invalid \(fields: metadata\.finalizers\)$/],
      [
        'new-denied',
        'create',
        /^failed to create Secret apps\/new-denied( \(dry run\))?: 403 Forbidden \(denied by ValidatingAdmissionPolicy 'no-denied-secrets' \(binding 'no-denied-secrets'\)\)$/,
      ],
    ];

    for (const dryRun of [false, true]) {
      it(`reports each by name and reason and writes nothing${dryRun ? ' (dry run)' : ''}`, async () => {
        const uids = await arrange();
        h.emulator.requests.clear();

        const r = await restore({ mode: 'overwrite', recreateImmutable: true, dryRun });

        const byName = new Map(r.items.map((i) => [i.source.name, i]));
        for (const [name, action, message] of expectations) {
          const item = byName.get(name);
          assert.equal(item?.action, action, `${name}: ${JSON.stringify(item)}`);
          assert.equal(item?.outcome, 'failed', name);
          assert.match(item?.message ?? '', message, `${name}: ${item?.message}`);
        }
        for (const [name, uid] of uids) {
          const live = h.emulator.get('v1', 'Secret', 'apps', name) as unknown as V1Secret;
          assert.equal(live.metadata?.uid, uid, `${name} was not deleted`);
          assert.equal(Buffer.from(live.data!.v, 'base64').toString(), 'live');
        }
        assert.equal(h.emulator.get('v1', 'Secret', 'apps', 'new-invalid'), undefined);
        assert.equal(h.emulator.get('v1', 'Secret', 'apps', 'new-denied'), undefined);
        const secretWrites = h.emulator.requests.filter((e) => e.resource === 'secrets' && !['get', 'list', 'watch'].includes(e.verb));
        assert.deepEqual(
          secretWrites.filter((e) => !e.dryRun || e.verb === 'delete').map((e) => `${e.verb} ${e.status}`),
          dryRun ? [] : ['create 422', 'create 403'],
          'no delete at all; real creates only of the Secrets that did not exist (refused)',
        );
        assert.equal(r.counts.failed, 4);
      });
    }
  });

  describe('writes several Secrets at once (--restore-concurrency), backing off when the API server is overloaded', () => {
    const create = (e: { verb: string; resource: string; dryRun: boolean }) => e.verb === 'create' && e.resource === 'secrets' && !e.dryRun;
    const many = (n: number) => Array.from({ length: n }, (_, i) => opaque(`s${String(i).padStart(2, '0')}`, `value-${i}`));

    /** Every attempt to create a Secret, as the client sent it. */
    let attempts: Array<{ name: string; at: number }>;

    /** A restore whose Kubernetes caller tells `limit` of every 429 and 5xx, as restore-job.ts wires it. */
    async function restoreWithin(limit: AdaptiveLimit): Promise<RestoreReport> {
      const k = createKubeClients(loadKubeConfig({ kubeconfig: h.kubeconfig }), {
        command: 'test',
        clock: systemClock,
        log,
        limits: { maxAttempts: 6 },
        congestion: limit,
      });
      attempts = [];
      const send = k.core.createNamespacedSecret.bind(k.core);
      k.core.createNamespacedSecret = (req) => {
        attempts.push({ name: req.body.metadata?.name ?? '', at: Date.now() });
        return send(req);
      };
      return restore(
        {},
        { secrets: new KubeSecretStore(k.core, k.caller), namespaces: new KubeNamespaceStore(k.core, k.caller), writeLimit: limit },
      );
    }

    function assertEachRestoredOnce(n: number): void {
      for (const [i, want] of many(n).entries()) {
        const live = h.emulator.get('v1', 'Secret', 'apps', want.metadata!.name!) as unknown as V1Secret | undefined;
        assert.equal(live?.data?.v, want.data!.v, `Secret ${i}`);
      }
      assert.equal(h.emulator.list('v1', 'Secret', 'apps').length, n);
      assert.equal(
        h.emulator.requests.count((e) => create(e) && e.status === 201),
        n,
        'one successful create per Secret',
      );
    }

    it('keeps at most that many writes in flight', async () => {
      await backupOf(many(40));
      // Each create is held a moment, so that the restore has as many in flight as it allows.
      h.emulator.faults.inject({ method: 'POST', path: '/api/v1/namespaces/apps/secrets', delayMs: 30, times: Infinity });
      h.emulator.requests.clear();

      const r = await restoreWithin(new AdaptiveLimit({ max: 4, clock: systemClock }));

      assert.equal(r.counts.written, 40);
      assert.equal(h.emulator.requests.peakInFlight.mutating, 4);
      assertEachRestoredOnce(40);
    });

    it("halves them on 429, waits the server's Retry-After, and writes every Secret exactly once", async () => {
      await backupOf(many(40));
      // What API Priority and Fairness answers a request its priority level cannot queue: 429 with
      // `Retry-After: 1` (staging/src/k8s.io/apiserver/pkg/server/filters/priority-and-fairness.go
      // calls tooManyRequests of maxinflight.go when the request was not served).
      h.emulator.faults.inject({
        method: 'POST',
        path: '/api/v1/namespaces/apps/secrets',
        status: 429,
        retryAfterSeconds: 1,
        after: 8,
        times: 3,
      });
      h.emulator.requests.clear();
      const limit = new AdaptiveLimit({ max: 8, clock: systemClock });

      const r = await restoreWithin(limit);

      assert.equal(r.counts.written, 40);
      assert.equal(r.counts.failed, 0);
      assert.ok(limit.decreases >= 1, 'the concurrency was halved');
      assert.equal(
        h.emulator.requests.count((e) => create(e) && e.status === 429),
        3,
      );
      const retried = [...new Set(attempts.map((a) => a.name))].filter((name) => attempts.filter((a) => a.name === name).length > 1);
      assert.equal(retried.length, 3);
      for (const name of retried) {
        const [first, second] = attempts.filter((a) => a.name === name);
        // Retry-After is a lower bound the client enforces by sleeping: no load can shorten it.
        assert.ok(second.at - first.at >= 1000, `${name} retried ${second.at - first.at} ms after its 429`);
      }
      assertEachRestoredOnce(40);
    });
  });
});
