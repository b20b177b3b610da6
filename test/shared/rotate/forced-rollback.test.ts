import assert from 'node:assert/strict';
import { REVISION_LABEL, type Workload, type WorkloadPod } from '../../../shared/kube/workloads.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { forceRollback } from '../../../shared/rotate/forced-rollback.js';
import type { Rotation, RotationDeps } from '../../../shared/rotate/rotation.js';
import { RESTART_ANNOTATION } from '../../../shared/rotate/workload-fields.js';

describe('shared/rotate/forced-rollback', () => {
  const w = {
    kind: 'StatefulSet',
    namespace: 'shop',
    name: 'ledger',
    uid: 'sts-uid',
    selector: { app: 'ledger' },
    partition: 0,
    orderedReady: true,
    onDelete: false,
    status: { updateRevision: 'ledger-old' },
  } as unknown as Workload;
  const broken: WorkloadPod = {
    namespace: 'shop',
    name: 'ledger-1',
    uid: 'pod-uid',
    labels: { [REVISION_LABEL]: 'ledger-new' },
    annotations: { [RESTART_ANNOTATION]: '2026-12-07T12:00:00Z;r1' },
    controllerUid: 'sts-uid',
    ready: false,
  };
  const rotations = [{ label: 'shop/db', policy: { rollout: { forceRollback: true } } }] as unknown as Rotation[];

  function deps(deletePod: () => Promise<boolean>) {
    const events: { reason: string; message: string }[] = [];
    const d = {
      workloads: { get: async () => w, listPods: async () => [broken], deletePod },
      log: createLogger({ sink: new MemorySink() }),
      events: { record: async (e: { reason: string; message: string }) => void events.push(e) },
      shutdown: { checkpoint: () => {} },
    } as unknown as RotationDeps;
    return { d, events };
  }

  it('deletes the blocking pod and says so', async () => {
    const { d, events } = deps(async () => true);

    const r = await forceRollback(w, rotations, new Set(['r1']), d);

    assert.deepEqual([r.result, r.pods], ['deleted', ['ledger-1']]);
    assert.match(r.message, /forced rollback deleted pod shop\/ledger-1/);
    assert.deepEqual(
      events.map((e) => e.reason),
      ['ForcedRollback'],
    );
  });

  it('does not claim a delete that did not happen (the pod was already gone or replaced)', async () => {
    const { d, events } = deps(async () => false);

    const r = await forceRollback(w, rotations, new Set(['r1']), d);

    assert.deepEqual([r.result, r.pods], ['deleted', []]);
    assert.match(r.message, /were already deleted or replaced/);
    assert.deepEqual(events, [], 'no "deleted pod" Event');
  });
});
