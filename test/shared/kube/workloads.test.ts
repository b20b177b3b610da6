import assert from 'node:assert/strict';
import { rolloutState, toWorkload, type WorkloadKind, type WorkloadStatus } from '../../../shared/kube/workloads.js';

/** A Rollout's status as the Argo controller writes it: observedGeneration is a string. */
type ArgoStatus = Omit<WorkloadStatus, 'observedGeneration'> & { observedGeneration?: string };

/** Status of a Rollout whose generation 2 is Healthy with 2 replicas (utils/rollout/rolloututil_test.go's healthy case). */
const healthy = (o: Partial<ArgoStatus> = {}): ArgoStatus => ({
  observedGeneration: '2',
  phase: 'Healthy',
  replicas: 2,
  updatedReplicas: 2,
  readyReplicas: 2,
  availableReplicas: 2,
  stableRS: 'abc1234',
  currentPodHash: 'abc1234',
  ...o,
});

function workload(
  kind: WorkloadKind,
  o: {
    generation?: number;
    replicas?: number;
    status?: WorkloadStatus | ArgoStatus;
    strategy?: string;
    partition?: number;
    paused?: boolean;
    restartAt?: string;
  } = {},
) {
  return toWorkload(kind, {
    metadata: { name: 'w', namespace: 'ns', generation: o.generation ?? 2, resourceVersion: '7', uid: 'u' },
    spec: {
      replicas: o.replicas,
      paused: o.paused,
      restartAt: o.restartAt,
      template: { metadata: { labels: { app: 'w' } } },
      updateStrategy: o.strategy === undefined ? undefined : { type: o.strategy, rollingUpdate: { partition: o.partition } },
      jobTemplate: { spec: { template: { metadata: { labels: { app: 'cron' } } } } },
    },
    status: o.status,
  });
}

describe('shared/kube/workloads', () => {
  describe('rolloutState', () => {
    const deadline = {
      type: 'Progressing',
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "w-1" has timed out progressing.',
    };
    const rows: Array<[string, WorkloadKind, Parameters<typeof workload>[1], 'done' | 'progressing' | 'failed', RegExp]> = [
      [
        'a Deployment whose controller has not seen the change',
        'Deployment',
        { status: { observedGeneration: 1 } },
        'progressing',
        /observe generation 2/,
      ],
      [
        'a Deployment half updated',
        'Deployment',
        { replicas: 4, status: { observedGeneration: 2, replicas: 5, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3 } },
        'progressing',
        /2 of 4 replicas updated/,
      ],
      [
        'a Deployment with old replicas left',
        'Deployment',
        { replicas: 2, status: { observedGeneration: 2, replicas: 3, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 } },
        'progressing',
        /old replicas pending termination/,
      ],
      [
        'a Deployment updated but not available',
        'Deployment',
        { replicas: 2, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 1 } },
        'progressing',
        /1 of 2 replicas available/,
      ],
      [
        'a Deployment past its progress deadline',
        'Deployment',
        { status: { observedGeneration: 2, conditions: [deadline] } },
        'failed',
        /progress deadline exceeded/,
      ],
      [
        'a complete Deployment',
        'Deployment',
        { replicas: 2, status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 } },
        'done',
        /2 of 2/,
      ],
      ['a Deployment scaled to zero', 'Deployment', { replicas: 0, status: { observedGeneration: 2 } }, 'done', /0 of 0/],
      [
        'a StatefulSet mid-update',
        'StatefulSet',
        { replicas: 3, status: { observedGeneration: 2, updatedReplicas: 1, readyReplicas: 3 } },
        'progressing',
        /1 of 3 replicas updated/,
      ],
      [
        'a StatefulSet waiting for its revision',
        'StatefulSet',
        { replicas: 2, status: { observedGeneration: 2, updatedReplicas: 2, readyReplicas: 2, currentRevision: 'a', updateRevision: 'b' } },
        'progressing',
        /revision b/,
      ],
      [
        'a partitioned StatefulSet',
        'StatefulSet',
        {
          replicas: 3,
          strategy: 'RollingUpdate',
          partition: 2,
          status: { observedGeneration: 2, updatedReplicas: 1, readyReplicas: 3, currentRevision: 'a', updateRevision: 'b' },
        },
        'done',
        /3 of 3/,
      ],
      [
        'a complete StatefulSet',
        'StatefulSet',
        {
          replicas: 2,
          status: {
            observedGeneration: 2,
            updatedReplicas: 2,
            readyReplicas: 2,
            availableReplicas: 2,
            currentRevision: 'b',
            updateRevision: 'b',
          },
        },
        'done',
        /2 of 2/,
      ],
      [
        'a DaemonSet mid-update',
        'DaemonSet',
        { status: { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 1, numberReady: 3, numberAvailable: 3 } },
        'progressing',
        /1 of 3 pods updated/,
      ],
      [
        'a complete DaemonSet',
        'DaemonSet',
        { status: { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3 } },
        'done',
        /3 of 3/,
      ],
      ['a CronJob', 'CronJob', { status: { observedGeneration: 2 } }, 'done', /next Job/],
      // Argo Rollouts, as GetRolloutPhase / CalculateRolloutPhase judge them (argo-rollouts utils/rollout/rolloututil.go).
      [
        'a Rollout whose controller has not seen the change (string observedGeneration)',
        'Rollout',
        { replicas: 2, status: healthy({ observedGeneration: '1' }) },
        'progressing',
        /observe generation 2 \(observed 1\)/,
      ],
      ['a Healthy Rollout', 'Rollout', { replicas: 2, status: healthy() }, 'done', /Healthy/],
      [
        'a Degraded Rollout',
        'Rollout',
        {
          replicas: 2,
          status: healthy({ phase: 'Degraded', message: 'ProgressDeadlineExceeded: ReplicaSet "w-1" has timed out progressing.' }),
        },
        'failed',
        /Degraded: ProgressDeadlineExceeded/,
      ],
      [
        'a Rollout paused at a canary step',
        'Rollout',
        { replicas: 2, status: healthy({ phase: 'Paused', message: 'CanaryPauseStep', stableRS: 'old' }) },
        'progressing',
        /paused: CanaryPauseStep/,
      ],
      [
        'a Rollout still restarting',
        'Rollout',
        { replicas: 2, restartAt: '2026-01-02T00:00:00Z', status: healthy({ restartedAt: '2026-01-01T00:00:00Z' }) },
        'progressing',
        /restarting the pods created before 2026-01-02T00:00:00Z/,
      ],
      [
        'a Rollout restarted',
        'Rollout',
        { replicas: 2, restartAt: '2026-01-02T00:00:00Z', status: healthy({ restartedAt: '2026-01-02T00:00:00Z' }) },
        'done',
        /2 of 2/,
      ],
      [
        'a Rollout whose steps are not done',
        'Rollout',
        { replicas: 2, status: healthy({ phase: 'Progressing', stableRS: 'old' }) },
        'progressing',
        /stable ReplicaSet/,
      ],
      [
        'a Rollout with replicas not yet available',
        'Rollout',
        { replicas: 2, status: healthy({ phase: 'Progressing', availableReplicas: 1 }) },
        'progressing',
        /1 of 2 replicas available/,
      ],
    ];
    for (const [label, kind, o, state, message] of rows) {
      it(`says ${state} for ${label}`, () => {
        const r = rolloutState(workload(kind, o), 2);

        assert.equal(r.state, state);
        assert.match(r.message, message);
      });
    }
  });

  describe('toWorkload', () => {
    it('gives every kind the same view', () => {
      const cron = workload('CronJob');
      const sts = workload('StatefulSet', { strategy: 'OnDelete' });
      const paused = workload('Deployment', { paused: true });

      assert.equal(cron.templatePath, '/spec/jobTemplate/spec/template');
      assert.deepEqual(cron.template.metadata?.labels, { app: 'cron' });
      assert.equal(cron.rollsOut, false);
      assert.equal(sts.onDelete, true);
      assert.equal(sts.replicas, 1, 'replicas default to 1');
      assert.equal(paused.paused, true);
      assert.equal(paused.templatePath, '/spec/template');
    });

    it('reads a Rollout: numeric string observedGeneration, restartAt, paused, workloadRef', () => {
      const ro = workload('Rollout', { paused: true, restartAt: '2026-01-02T00:00:00Z', status: healthy({ observedGeneration: '7' }) });
      const old = workload('Rollout', { status: healthy({ observedGeneration: '6c9d8f7b5' }) });
      const ref = toWorkload('Rollout', { metadata: { name: 'r' }, spec: { workloadRef: { kind: 'Deployment', name: 'api' } } });

      assert.equal(ro.status.observedGeneration, 7);
      assert.equal(ro.restartAt, '2026-01-02T00:00:00Z');
      assert.equal(ro.paused, true);
      assert.equal(ro.rollsOut, true);
      assert.equal(old.status.observedGeneration, 2, 'a v0.9 hash counts as observed, as isGenerationObserved says');
      assert.equal(ref.workloadRef, 'Deployment/api');
      assert.equal(workload('Deployment', { restartAt: 'x' }).restartAt, undefined);
    });
  });
});
