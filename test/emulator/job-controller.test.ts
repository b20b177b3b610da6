/**
 * The Job controller stand-in (job-controller.ts) and pods/log. What the real ones do, cited per
 * test:
 * - kubernetes/kubernetes pkg/controller/job/job_controller.go: pods get the Job's selector
 *   labels and a controller ownerReference; a Job that reached its completions gets
 *   SuccessCriteriaMet then Complete, reason CompletionsReached, message "Reached expected number
 *   of succeeded pods"; more failed pods than backoffLimit gives FailureTarget then Failed, reason
 *   BackoffLimitExceeded, message "Job has reached the specified backoff limit".
 * - pkg/controller/job/pod_failure_policy.go and docs "Jobs" (Pod failure policy): the first
 *   matching onExitCodes rule wins; FailJob fails the Job at once with reason PodFailurePolicy and
 *   "Container <c> for pod <ns>/<pod> failed with exit code <n> matching FailJob rule at index <i>";
 *   Ignore does not count the pod against backoffLimit.
 * - pkg/controller/job/indexed_job_utils.go: an Indexed Job's pods carry their index in the
 *   annotation and label batch.kubernetes.io/job-completion-index and get env JOB_COMPLETION_INDEX
 *   (fieldRef metadata.labels['batch.kubernetes.io/job-completion-index'],
 *   addCompletionIndexEnvVariable), are named `<job>-<index>-<random>` (podGenerateNameWithIndex),
 *   and completedIndexes / failedIndexes are written as intervals, `0,2`, `3-7`
 *   (orderedIntervals.String). Docs "Jobs" (Backoff limit per index) and the task "Handling pod
 *   failures per index": with backoffLimitPerIndex a failing index is retried that many times and
 *   then listed in failedIndexes while the other indexes run to the end; a FailIndex rule fails the
 *   index without retry; the Job then ends with FailureTarget and Failed, reason FailedIndexes,
 *   message "Job has failed indexes" (job_controller.go). pkg/apis/batch/v1/defaults.go: with
 *   backoffLimitPerIndex, backoffLimit defaults to MaxInt32. kubelet expands $(VAR) in args with
 *   the container's environment (pkg/kubelet/container/helpers.go, ExpandContainerCommandAndArgs).
 * - pkg/kubelet/kubelet_pods.go (ValidateContainerLogStatus) and pkg/registry/core/pod/rest/log.go:
 *   pods/log of a container that has not started is 400 "... is waiting to start: ...".
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../shared/crypto/keygen.js';
import { api, eventually } from './helpers.js';
import type { StoredKubeObject } from './index.js';
import { KubeEmulator, PodLogs } from './index.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function job(name: string, args: string[], spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      backoffLimit: 0,
      ...spec,
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'secret-steward', image: 'secret-steward:test', args, ...podSpec }] },
      },
    },
  };
}

describe('test/emulator/job-controller', function () {
  this.timeout(60_000);
  let emu: KubeEmulator;

  beforeEach(async () => {
    emu = await KubeEmulator.start();
    emu.jobs.enable({ repoRoot: REPO_ROOT });
  });
  afterEach(async () => {
    await emu.stop();
  });

  const jobStatus = (name: string) => (emu.get('batch/v1', 'Job', 'default', name) as StoredKubeObject).status as Record<string, unknown>;
  const podsOf = (name: string) => emu.list('v1', 'Pod', 'default', { labelSelector: `batch.kubernetes.io/job-name=${name}` });
  const finished = async (name: string) => {
    await emu.jobs.idle();
    return jobStatus(name);
  };

  it('runs the container args as the tool, keeps its output as the pod log, and completes the Job', async () => {
    const created = emu.create(job('version', ['--version']));

    const status = await finished('version');

    const [pod] = podsOf('version');
    assert.equal(podsOf('version').length, 1);
    assert.match(pod.metadata.name, /^version-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(pod.metadata.labels?.['batch.kubernetes.io/controller-uid'], created.metadata.uid);
    assert.deepEqual(pod.metadata.ownerReferences?.[0], {
      apiVersion: 'batch/v1',
      kind: 'Job',
      name: 'version',
      uid: created.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    });
    const podStatus = pod.status as { phase: string; containerStatuses: { state: { terminated: { exitCode: number; reason: string } } }[] };
    assert.equal(podStatus.phase, 'Succeeded');
    assert.deepEqual(
      [podStatus.containerStatuses[0].state.terminated.exitCode, podStatus.containerStatuses[0].state.terminated.reason],
      [0, 'Completed'],
    );
    const log = await api(emu, 'GET', `/api/v1/namespaces/default/pods/${pod.metadata.name}/log`);
    assert.equal(log.status, 200);
    assert.match(log.text, /^secret-steward \d+\.\d+\.\d+/);
    assert.equal(status.succeeded, 1);
    assert.deepEqual(
      (status.conditions as Condition[]).map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ['SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods'],
        ['Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods'],
      ],
    );
  });

  it('replaces a failed pod until backoffLimit, then fails the Job with BackoffLimitExceeded', async () => {
    emu.create(job('typo', ['no-such-command'], { backoffLimit: 1 }));

    const status = await finished('typo');

    const pods = podsOf('typo');
    assert.equal(pods.length, 2);
    for (const p of pods) {
      const s = p.status as { phase: string; containerStatuses: { state: { terminated: { exitCode: number; reason: string } } }[] };
      assert.deepEqual(
        [s.phase, s.containerStatuses[0].state.terminated.exitCode, s.containerStatuses[0].state.terminated.reason],
        ['Failed', 2, 'Error'],
      );
    }
    assert.equal(status.failed, 2);
    assert.deepEqual(
      (status.conditions as Condition[]).map((c) => [c.type, c.reason, c.message]),
      [
        ['FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
        ['Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
      ],
    );
  });

  it('applies podFailurePolicy exit-code rules: FailJob at once, naming the container, pod and rule', async () => {
    const policy = {
      backoffLimit: 3,
      podFailurePolicy: {
        rules: [
          { action: 'Ignore', onExitCodes: { operator: 'In', values: [42] } },
          { action: 'FailJob', onExitCodes: { containerName: 'secret-steward', operator: 'In', values: [2, 3] } },
        ],
      },
    };
    emu.create(job('config-error', ['no-such-command'], policy));

    const status = await finished('config-error');

    const pods = podsOf('config-error');
    assert.equal(pods.length, 1);
    assert.equal(status.failed, 1);
    const failed = (status.conditions as Condition[]).find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'PodFailurePolicy');
    assert.equal(
      failed?.message,
      `Container secret-steward for pod default/${pods[0].metadata.name} failed with exit code 2 matching FailJob rule at index 1`,
    );
  });

  describe('Indexed completion mode', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'emu-indexed-'));
      // Indexes 0 and 2 find their passphrase file, index 1 does not: keygen exits 2 there.
      for (const i of [0, 2]) await writeFile(join(dir, `pass-${i}`), 'a-passphrase-for-the-indexed-test\n');
    });
    afterEach(async () => rm(dir, { recursive: true, force: true }));

    /** keygen --dry-run reading the passphrase file of its own completion index. */
    const indexedJob = (name: string, spec: Record<string, unknown>) => {
      const j = job(
        name,
        [
          'keygen',
          '--dry-run',
          '--key-name',
          'ix',
          '--email',
          'ix@test.invalid',
          '--out-dir',
          dir,
          '--passphrase-file',
          `${dir}/pass-$(JOB_COMPLETION_INDEX)`,
        ],
        {
          completionMode: 'Indexed',
          completions: 3,
          parallelism: 2,
          ...spec,
        },
      );
      // Unset, as backoffLimitPerIndex Jobs leave it (defaulted to MaxInt32).
      delete (j.spec as Record<string, unknown>).backoffLimit;
      return j;
    };
    const indexOf = (p: StoredKubeObject) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
    const exitCodes = (name: string) =>
      podsOf(name)
        .map((p) => [
          indexOf(p),
          (p.status as { containerStatuses: { state: { terminated: { exitCode: number } } }[] }).containerStatuses[0].state.terminated
            .exitCode,
        ])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

    it('runs up to parallelism pods at once, each with its index; backoffLimitPerIndex fails only the failing index', async () => {
      emu.create(indexedJob('fleet', { backoffLimitPerIndex: 1 }));
      let maxActive = 0;
      const poll = setInterval(() => {
        maxActive = Math.max(maxActive, Number(jobStatus('fleet')?.active ?? 0));
      }, 10);

      const status = await finished('fleet').finally(() => clearInterval(poll));

      const pods = podsOf('fleet');
      for (const p of pods) {
        assert.match(p.metadata.name, new RegExp(`^fleet-${indexOf(p)}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
        assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], indexOf(p));
      }
      // Index 1 failed twice (one retry), 0 and 2 succeeded once.
      assert.deepEqual(exitCodes('fleet'), [
        ['0', 0],
        ['1', 2],
        ['1', 2],
        ['2', 0],
      ]);
      assert.equal(maxActive, 2);
      assert.deepEqual(
        [status.completedIndexes, status.failedIndexes, status.succeeded, status.failed, status.active],
        ['0,2', '1', 2, 2, 0],
      );
      assert.deepEqual(
        (status.conditions as Condition[]).map((c) => [c.type, c.reason, c.message]),
        [
          ['FailureTarget', 'FailedIndexes', 'Job has failed indexes'],
          ['Failed', 'FailedIndexes', 'Job has failed indexes'],
        ],
      );
    });

    it('a FailIndex rule fails the index without retry; all indexes passing complete the Job', async () => {
      const failIndex = {
        backoffLimitPerIndex: 3,
        podFailurePolicy: { rules: [{ action: 'FailIndex', onExitCodes: { operator: 'In', values: [2] } }] },
      };
      emu.create(indexedJob('fail-index', failIndex));
      await writeFile(join(dir, 'pass-1'), 'a-passphrase-for-the-indexed-test\n');
      const status = await finished('fail-index');
      await rm(join(dir, 'pass-1'));
      emu.create(indexedJob('fail-index-2', failIndex));
      const second = await finished('fail-index-2');

      assert.deepEqual([status.completedIndexes, status.failedIndexes, status.succeeded], ['0-2', '', 3]);
      assert.equal((status.conditions as Condition[]).at(-1)?.type, 'Complete');
      assert.deepEqual(exitCodes('fail-index-2'), [
        ['0', 0],
        ['1', 2],
        ['2', 0],
      ]);
      assert.deepEqual([second.completedIndexes, second.failedIndexes, second.failed], ['0,2', '1', 1]);
      assert.equal((second.conditions as Condition[]).at(-1)?.reason, 'FailedIndexes');
    });
  });

  it('gives the container its env and Secret volumes at mapped paths, and its ServiceAccount identity', async () => {
    const kp = await generateKeyPair({ name: 'job test', email: 'job@test.invalid', passphrase: 'job-test-passphrase', type: 'ecc' });
    emu.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'default' },
      data: { SECRET_STEWARD_CLUSTER_NAME: 'from-configmap', SECRET_STEWARD_STORE: 'file:///work-dir/store' },
    });
    emu.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'keys', namespace: 'default' },
      data: {
        'recipient.asc': Buffer.from(kp.publicKey).toString('base64'),
        'signing.asc': Buffer.from(kp.privateKey).toString('base64'),
        passphrase: Buffer.from('job-test-passphrase').toString('base64'),
      },
    });
    emu.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'runner', namespace: 'default' } });
    const podSpec = {
      envFrom: [{ configMapRef: { name: 'settings' } }],
      env: [
        { name: 'KEY_DIR', value: '/keys' },
        { name: 'SECRET_STEWARD_RECIPIENT_KEY', value: '$(KEY_DIR)/recipient.asc' },
        { name: 'SECRET_STEWARD_SIGNING_KEY', value: '/keys/signing.asc' },
        { name: 'SECRET_STEWARD_SIGNING_KEY_PASSPHRASE_FILE', value: '/keys/passphrase' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      volumeMounts: [
        { name: 'keys', mountPath: '/keys', readOnly: true },
        { name: 'work', mountPath: '/work-dir' },
        { name: 'token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
      ],
    };
    const job1 = job('env', ['backup', '--dry-run'], {}, podSpec);
    Object.assign(job1.spec.template.spec, {
      serviceAccountName: 'runner',
      volumes: [
        { name: 'keys', secret: { secretName: 'keys', defaultMode: 0o440 } },
        { name: 'work', emptyDir: {} },
        { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      ],
    });
    emu.create(job1);

    const status = await finished('env');

    // The key file and the store directory were found (not a configuration error, exit 2), and
    // the API answered the ServiceAccount, which may not list Secrets: exit 1, a 403 in the log.
    const [pod] = podsOf('env');
    const log = (await api(emu, 'GET', `/api/v1/namespaces/default/pods/${pod.metadata.name}/log`)).text;
    const terminated = (pod.status as { containerStatuses: { state: { terminated: { exitCode: number } } }[] }).containerStatuses[0].state
      .terminated;
    assert.equal(status.failed, 1);
    assert.equal(terminated.exitCode, 1, log);
    assert.match(log, /failed to list Secrets in all namespaces: 403 Forbidden/);
    assert.ok(
      emu.rbacDecisions().some((d) => d.user === 'system:serviceaccount:default:runner' && d.resource === 'secrets' && !d.allowed),
      'the container authenticated as its ServiceAccount',
    );
  });

  it('leaves a pod whose Secret is missing Pending, and answers its log with 400 waiting to start', async () => {
    emu.create(job('no-secret', ['--version'], {}, { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }] }));

    await emu.jobs.idle();

    const [pod] = podsOf('no-secret');
    const s = pod.status as { phase: string; containerStatuses: { state: { waiting: { reason: string } } }[] };
    assert.deepEqual([s.phase, s.containerStatuses[0].state.waiting.reason], ['Pending', 'CreateContainerConfigError']);
    const log = await api(emu, 'GET', `/api/v1/namespaces/default/pods/${pod.metadata.name}/log`);
    assert.equal(log.status, 400);
    assert.match(log.body.message, /is waiting to start/);
    assert.equal(jobStatus('no-secret').conditions, undefined);
  });

  it('streams a running container log with follow=true until it ends, and deletes pods with their Job', async () => {
    emu.create(job('follow', ['--version']));
    const pod = await eventually(() => {
      const [p] = podsOf('follow');
      assert.ok(p && (p.status as { phase?: string }).phase === 'Running');
      return p;
    }, 20_000);

    const followed = await api(emu, 'GET', `/api/v1/namespaces/default/pods/${pod.metadata.name}/log?follow=true`);
    await emu.jobs.idle();
    // As `kubectl delete job` does: Background propagation, so the garbage collector deletes the
    // pods (the API's default for batch/v1 Jobs is to orphan them).
    const deleted = await api(emu, 'DELETE', '/apis/batch/v1/namespaces/default/jobs/follow', { propagationPolicy: 'Background' });
    assert.equal(deleted.status, 200, deleted.text);
    await emu.gc?.idle();

    assert.match(followed.text, /^secret-steward \d+\.\d+\.\d+/);
    assert.equal(podsOf('follow').length, 0);
  });

  it('pods/log follow: a follower gets what was written, then each later chunk, then the end', () => {
    const logs = new PodLogs();
    const got: (string | null)[] = [];
    logs.start('ns', 'pod', 'c');
    logs.append('ns', 'pod', 'c', Buffer.from('a'));

    const unsubscribe = logs.read('ns', 'pod', 'c', true, (chunk) => got.push(chunk === null ? null : String(chunk)));
    logs.append('ns', 'pod', 'c', Buffer.from('b'));
    logs.end('ns', 'pod', 'c');
    logs.append('ns', 'pod', 'c', Buffer.from('after the end'));

    assert.notEqual(unsubscribe, false);
    assert.deepEqual(got, ['a', 'b', null]);
    assert.equal(
      logs.read('ns', 'other', 'c', true, () => {}),
      false,
    );
  });
});
