import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { secretDataDigest } from '../../../shared/backup/secret-digest.js';
import type { ExportedSecret } from '../../../shared/backup/secret-export.js';
import { InterruptedError } from '../../../shared/errors/index.js';
import { KubeCaller, KubeSecretStore, type ListPage } from '../../../shared/kube/index.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { Shutdown } from '../../../shared/runtime/shutdown.js';
import type { BackupItem } from '../../../shared/verify-restore/backup-reader.js';
import { type DrillNamespace, KubeDrillNamespace } from '../../../shared/verify-restore/drill-namespace.js';
import { DRILL_BATCH_LABEL, DRILL_LABEL, type DrillObjects } from '../../../shared/verify-restore/drill-objects.js';
import { CheckRecorder } from '../../../shared/verify-restore/drill-report.js';
import { type DrillBatchLimits, DrillRestorer } from '../../../shared/verify-restore/restorability.js';
import { KubeEmulator } from '../../emulator/index.js';

const DRILL = 'drill-ns';
const DRILL_ID = 't1';
const COLLECTION = new RegExp(`^/api/v1/namespaces/${DRILL}/secrets$`);
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Backed-up Secret `apps/s-<i>` as the backup reader yields it. */
function item(i: number, value = `value-${i}`): BackupItem {
  const data = { v: b64(value) };
  const secret: ExportedSecret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `s-${i}`, namespace: 'apps' },
    type: 'Opaque',
    data,
  };
  return {
    secret,
    entry: { namespace: 'apps', name: `s-${i}`, type: 'Opaque', dataSha256: secretDataDigest(data), segment: 1 },
    segment: 1,
    position: i,
  };
}

const items = (n: number) => Array.from({ length: n }, (_, i) => item(i));

/** Passes every call through to the real drill namespace; lets a test look at or change what goes by. */
class Observed implements DrillNamespace {
  /** Drill objects of this drill in the namespace at each create. */
  readonly heldAtCreate: number[] = [];
  onList?: () => void;
  tamper?: (s: V1Secret) => void;

  constructor(
    private readonly real: DrillNamespace,
    private readonly emu: KubeEmulator,
  ) {}

  get namespace(): string {
    return this.real.namespace;
  }
  create(body: V1Secret): Promise<void> {
    this.heldAtCreate.push(this.emu.list('v1', 'Secret', DRILL, { labelSelector: `${DRILL_LABEL}=${DRILL_ID}` }).length);
    return this.real.create(body);
  }
  async *list(which: DrillObjects, o?: { pageSize?: number }): AsyncIterable<ListPage<V1Secret>> {
    this.onList?.();
    for await (const page of this.real.list(which, o)) {
      for (const s of page.items) this.tamper?.(s);
      yield page;
    }
  }
  names(which: DrillObjects): Promise<string[]> {
    return this.real.names(which);
  }
  deleteCollection(which: DrillObjects): Promise<void> {
    return this.real.deleteCollection(which);
  }
  delete(name: string): Promise<boolean> {
    return this.real.delete(name);
  }
}

describe('shared/verify-restore/restorability', function () {
  this.timeout(30_000);
  let emu: KubeEmulator;
  let ns: Observed;
  let check: CheckRecorder;
  let warnings: string[];
  let restored: string[];
  let failed: string[];
  let shutdown: Shutdown;

  beforeEach(async () => {
    emu = await KubeEmulator.start();
    emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DRILL } } as never);
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfigYaml({ token: 'emulator-admin' }));
    const log = createLogger({ sink: new MemorySink() });
    const caller = new KubeCaller({ clock: systemClock, log, limits: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const secrets = new KubeSecretStore(kc.makeApiClient(CoreV1Api), caller, log, kc);
    ns = new Observed(new KubeDrillNamespace(secrets, secrets, DRILL), emu);
    check = new CheckRecorder('restorability');
    warnings = [];
    restored = [];
    failed = [];
    shutdown = new Shutdown();
  });
  afterEach(async () => emu.stop());

  function restorer(batch: Partial<DrillBatchLimits> = {}, concurrency = 2): DrillRestorer {
    return new DrillRestorer(ns, check, {
      drillId: DRILL_ID,
      backupId: 'b1',
      concurrency,
      batch: { secrets: 3, bytes: 1024 * 1024, ...batch },
      log: createLogger({ sink: new MemorySink() }),
      checkpoint: () => shutdown.checkpoint(),
      onRestored: (i) => restored.push(i.secret.metadata.name),
      onFailed: (i) => failed.push(i.secret.metadata.name),
      warn: (w) => warnings.push(w),
    });
  }

  /** What run-drill does: earlier leftovers, every Secret, the last batch, cleanup in a finally. */
  async function drill(r: DrillRestorer, list: BackupItem[]): Promise<void> {
    try {
      await r.removeEarlierDrills();
      for (const i of list) await r.submit(i);
      await r.finish();
    } finally {
      await r.cleanup();
    }
  }

  /** API requests on Secrets in the drill namespace, by verb. */
  function requests(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of emu.requests.entries.filter((x) => x.resource === 'secrets' && x.namespace === DRILL))
      out[e.verb] = (out[e.verb] ?? 0) + 1;
    return out;
  }

  const left = () => emu.list('v1', 'Secret', DRILL).map((s) => (s.metadata as { name: string }).name);
  const messages = () => check.result().findings.map((f) => f.message);

  it('restores more Secrets than one batch: one create each, one list and one deletecollection per batch, never more than two batches in the namespace', async () => {
    const r = restorer({ secrets: 3 });

    await drill(r, items(7));

    assert.equal(check.status, 'pass', JSON.stringify(check.result()));
    assert.deepEqual(restored.sort(), ['s-0', 's-1', 's-2', 's-3', 's-4', 's-5', 's-6']);
    assert.equal(r.batches, 3);
    // lists: 1 for earlier drills + per batch (read back, confirm empty) + 1 at cleanup
    assert.deepEqual(requests(), { create: 7, list: 1 + 3 * 2 + 1, deletecollection: 3 });
    assert.deepEqual(r.calls, { create: 7, list: 8, deletecollection: 3, delete: 0 });
    // one batch being read back and deleted (3) while the next is created (at most 2 before its last create)
    assert.ok(Math.max(...ns.heldAtCreate) <= 5, `held ${Math.max(...ns.heldAtCreate)} before a create`);
    assert.deepEqual(left(), []);
    assert.deepEqual(warnings, []);
  });

  it('labels each copy with the drill and its batch', async () => {
    const seen: Array<Record<string, string>> = [];
    ns.tamper = (s) => seen.push(s.metadata?.labels ?? {});

    await drill(restorer({ secrets: 2 }), items(3));

    assert.deepEqual(
      seen.map((l) => `${l[DRILL_LABEL]}/${l[DRILL_BATCH_LABEL]}`),
      ['t1/1', 't1/1', 't1/2'],
    );
  });

  it('bounds a batch by bytes too; a Secret bigger than the bound is a batch of its own', async () => {
    const big = (i: number, kib: number) => item(i, 'x'.repeat(kib * 1024));
    const r = restorer({ secrets: 100, bytes: 30 * 1024 });

    await drill(r, [big(0, 10), big(1, 10), big(2, 40), big(3, 10), big(4, 1)]);

    assert.equal(check.status, 'pass', JSON.stringify(check.result()));
    // base64 of 10 KiB is 13.3 KiB: [0, 1] [2] [3, 4]
    assert.equal(r.batches, 3);
    assert.equal(restored.length, 5);
  });

  it('fails a copy that was created but is gone on read-back, naming it; the rest pass', async () => {
    ns.onList = () => {
      if (emu.get('v1', 'Secret', DRILL, 'drill-t1.apps.s-1')) emu.delete('v1', 'Secret', DRILL, 'drill-t1.apps.s-1');
    };

    await drill(restorer(), items(3));

    assert.equal(check.status, 'fail');
    assert.deepEqual(messages(), [
      'Secret apps/s-1: its drill copy drill-t1.apps.s-1 was created but not found on read-back (the API server accepted the create, but does not list the object)',
    ]);
    assert.deepEqual(restored.sort(), ['s-0', 's-2']);
    assert.deepEqual(failed, ['s-1']);
    assert.deepEqual(left(), []);
  });

  it('fails a copy that reads back different, byte for byte and against the index hash, naming the key only', async () => {
    ns.tamper = (s) => {
      if (s.metadata?.name === 'drill-t1.apps.s-2') s.data = { v: b64('value-2 but changed') };
    };

    await drill(restorer(), items(4));

    assert.deepEqual(messages(), [
      'Secret apps/s-2: the copy read back from the API server differs from the backup: data key "v" differs; the SHA-256 of the data read back differs from the index',
    ]);
    assert.equal(restored.length, 3);
    assert.deepEqual(failed, ['s-2']);
  });

  it('passes a copy that reads back as other base64 text for the same bytes (the index hash is then computed)', async () => {
    ns.tamper = (s) => {
      if (s.metadata?.name === 'drill-t1.apps.s-1') s.data = { v: 'dmFsdWUtMR==' }; // value-1, non-zero padding bits
    };

    await drill(restorer(), items(2));

    assert.equal(check.status, 'pass', JSON.stringify(check.result()));
    assert.equal(restored.length, 2);
  });

  it('a 409 AlreadyExists on an object of this drill and batch (a retried create that had happened) is compared and passes', async () => {
    const r = restorer();
    emu.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'drill-t1.apps.s-0', namespace: DRILL, labels: { [DRILL_LABEL]: DRILL_ID, [DRILL_BATCH_LABEL]: '1' } },
      data: { v: b64('value-0') },
    } as never);

    for (const i of items(2)) await r.submit(i);
    await r.finish();
    await r.cleanup();

    assert.equal(check.status, 'pass', JSON.stringify(check.result()));
    assert.deepEqual(restored.sort(), ['s-0', 's-1']);
    assert.deepEqual(left(), []);
  });

  it("a 409 AlreadyExists on someone else's object fails that Secret and leaves the object alone", async () => {
    emu.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'drill-t1.apps.s-0', namespace: DRILL },
      data: { v: b64('not ours') },
    } as never);

    await drill(restorer(), items(2));

    assert.equal(check.status, 'fail');
    assert.match(
      messages()[0],
      /^Secret apps\/s-0 could not be restored: failed to create Secret drill-ns\/drill-t1\.apps\.s-0: 409 AlreadyExists .*not this drill's copy .*left alone/,
    );
    assert.deepEqual(restored, ['s-1']);
    assert.deepEqual(failed, ['s-0']);
    assert.deepEqual(left(), ['drill-t1.apps.s-0']);
  });

  it('retries a deletecollection that fails once (500) and passes', async () => {
    emu.faults.inject({ method: 'DELETE', path: COLLECTION, status: 500, times: 1 });

    await drill(restorer(), items(5));

    assert.equal(check.status, 'pass', JSON.stringify(check.result()));
    assert.equal(requests().deletecollection, 2 + 1);
    assert.deepEqual(left(), []);
  });

  it('a batch that cannot be deleted (500 after retries) stops the check with an error; cleanup removes it once the API recovers', async () => {
    emu.faults.inject({ method: 'DELETE', path: COLLECTION, status: 500, times: 2 }); // both attempts of batch 1

    await drill(restorer(), items(12));

    assert.equal(check.status, 'error');
    assert.deepEqual(messages(), [
      'the API server failed while deleting batch 1 in namespace drill-ns (failed to deletecollection Secrets in namespace drill-ns (label secret-steward.io/drill=t1,secret-steward.io/drill-batch=1): 500 InternalError); the check was stopped',
    ]);
    // batch 2 was being created meanwhile: it is still read back and deleted, no batch after it starts
    assert.equal(requests().create, 6);
    assert.equal(restored.length, 6);
    assert.deepEqual(left(), []);
  });

  it('when deletecollection is refused (403) deletes one by one and warns that the Role should gain it', async () => {
    emu.faults.inject({ method: 'DELETE', path: COLLECTION, status: 403, times: Infinity });
    emu.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'drill-old.apps.s-0', namespace: DRILL, labels: { [DRILL_LABEL]: 'old' } },
      data: { v: b64('left over') },
    } as never);
    const r = restorer();

    await drill(r, items(5));

    assert.equal(check.status, 'pass', JSON.stringify(check.result()));
    assert.equal(restored.length, 5);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /^deletecollection of Secrets in drill namespace drill-ns was refused \(.*403 Forbidden.*\); drill objects are deleted one by one instead, .*add the verb deletecollection on secrets to the drill's Role/,
    );
    assert.deepEqual(requests().deletecollection, 1, 'asked once, then never again');
    assert.equal(requests().delete, 1 + 5);
    assert.deepEqual(left(), []);
  });

  it('when neither deletecollection nor delete is allowed: fails, stops, and names what is left', async () => {
    emu.faults.inject({ method: 'DELETE', path: /^\/api\/v1\/namespaces\/drill-ns\/secrets(\/.*)?$/, status: 403, times: Infinity });

    await drill(restorer(), items(5));

    assert.equal(check.status, 'fail');
    assert.match(
      messages()[0],
      /^not allowed to create, list or delete Secrets in drill namespace drill-ns \(failed to delete Secret drill-ns\/drill-t1\.apps\.s-0: 403 Forbidden.*\); the drill's Role needs create, list and deletecollection on Secrets there$/,
    );
    assert.equal(
      messages()[1],
      '5 drill object(s) could not be deleted from namespace drill-ns (label secret-steward.io/drill=t1); the next drill removes them: drill-t1.apps.s-0, drill-t1.apps.s-1, drill-t1.apps.s-2, drill-t1.apps.s-3, drill-t1.apps.s-4',
    );
    assert.equal(messages().length, 2);
    assert.equal(requests().create, 5);
  });

  it('on shutdown mid-batch: stops at the next Secret and cleanup removes the unfinished batch', async () => {
    const r = restorer({ secrets: 10 });
    const list = items(8);

    await assert.rejects(async () => {
      try {
        for (const [n, i] of list.entries()) {
          if (n === 5) shutdown.request('received SIGTERM');
          await r.submit(i);
        }
      } finally {
        await r.cleanup();
      }
    }, InterruptedError);

    assert.equal(requests().create, 5);
    assert.equal(r.batches, 0);
    assert.deepEqual(left(), []);
    assert.equal(check.status, 'pass');
  });

  it('removes objects of earlier drills (any drill id) and leaves unlabelled Secrets alone', async () => {
    for (const id of ['old1', 'old2'])
      emu.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `drill-${id}.a.b`, namespace: DRILL, labels: { [DRILL_LABEL]: id } },
        data: { v: b64('x') },
      } as never);
    emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'not-ours', namespace: DRILL }, data: { v: b64('keep') } } as never);

    const removed = await restorer().removeEarlierDrills();

    assert.equal(removed, 2);
    assert.deepEqual(left(), ['not-ours']);
    assert.deepEqual(requests(), { list: 2, deletecollection: 1 });
  });
});
