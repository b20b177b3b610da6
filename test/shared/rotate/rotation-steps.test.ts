import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { createKubeClients, type KubeClients } from '../../../shared/kube/client.js';
import { MemoryEventRecorder } from '../../../shared/kube/events.js';
import { KubeSecretStore } from '../../../shared/kube/secrets.js';
import { KubeWorkloadStore } from '../../../shared/kube/workloads.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { BackendRegistry, type BackendStepContext, type RotationBackend } from '../../../shared/rotate/backend.js';
import { loadCandidate } from '../../../shared/rotate/candidates.js';
import { Fingerprinter } from '../../../shared/rotate/fingerprint.js';
import { promoteInPlace } from '../../../shared/rotate/in-place.js';
import { scanSecrets } from '../../../shared/rotate/inventory.js';
import { parseLastOutcome } from '../../../shared/rotate/metadata.js';
import { newRotationId } from '../../../shared/rotate/names.js';
import { endRollback, fail, failForward, succeed } from '../../../shared/rotate/outcome.js';
import type { RotationStrategy } from '../../../shared/rotate/policy.js';
import { createPending, setBackend, testBackend } from '../../../shared/rotate/protocol.js';
import { restoreConsumers, rollOut, WorkloadIndex, type WorkloadOutcome } from '../../../shared/rotate/rollout.js';
import type { Rotation, RotationDeps } from '../../../shared/rotate/rotation.js';
import { RotationError } from '../../../shared/rotate/rotation-error.js';
import {
  findInFlight,
  isPendingOf,
  nextState,
  nextWork,
  ROTATION_STATES,
  type RotationEvent,
  type RotationState,
  STEP_RECORDS,
  STRATEGIES,
  TRANSITIONS,
} from '../../../shared/rotate/rotation-steps.js';
import { rollBackValues } from '../../../shared/rotate/run-rotate.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { Shutdown } from '../../../shared/runtime/shutdown.js';
import { REPO, RotateCluster } from './support/cluster.js';
import { BEGIN, END, renderStepsDoc } from './support/steps-doc.js';

/**
 * The rotation state machine (shared/rotate/rotation-steps.ts): its README section is the
 * code's, its table is consistent, and EVERY transition is walked against the Kubernetes
 * emulator with the real protocol functions: the rotation is brought to the `from` state the
 * way a run does, read again the way the next run does (so it resumes at `from` from what the
 * cluster records), then the event fires; the state the cluster records afterwards must be the
 * one the table names, and the event must have written what it writes.
 */

const README = join(REPO, 'shared', 'rotate', 'README.md');
const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };

describe('shared/rotate/rotation-steps', () => {
  describe('README', () => {
    it('shows the records, the reruns, the diagrams and the transitions of the code', async () => {
      const text = await readFile(README, 'utf8');
      const start = text.indexOf(BEGIN);
      const end = text.indexOf(END);
      assert.ok(start !== -1 && end > start, `${README} has no generated section`);
      const expected = renderStepsDoc();
      if (process.env.UPDATE_ROTATE_README) await writeFile(README, text.slice(0, start) + expected + text.slice(end + END.length));

      assert.equal(
        text.slice(start, end + END.length),
        expected,
        'shared/rotate/README.md differs from rotation-steps.ts: run UPDATE_ROTATE_README=1 npx mocha test/shared/rotate/rotation-steps.test.ts',
      );
    });
  });

  describe('the transition table', () => {
    it('has at most one transition per strategy, state and event', () => {
      const seen = new Set<string>();
      for (const t of TRANSITIONS) {
        for (const from of t.from) {
          const key = `${t.strategy} ${from} ${t.event}`;
          assert.ok(!seen.has(key), `${key} twice`);
          seen.add(key);
        }
      }
    });

    it('allows from every state what the run does next there', () => {
      for (const strategy of STRATEGIES) {
        for (const state of ROTATION_STATES) {
          if (state !== 'new' && state !== 'ended' && STEP_RECORDS[state][strategy] === undefined) continue;
          for (const withBackend of [true, false]) {
            const work = nextWork(state, strategy, withBackend);
            if (work === 'nothing') assert.equal(state, 'ended');
            else assert.doesNotThrow(() => nextState(strategy, state, work), `${strategy} ${state} ${work}`);
          }
        }
      }
    });

    it('records every step it leads to, and reaches only states whose record it names', () => {
      for (const t of TRANSITIONS) {
        for (const from of t.from) {
          const to = t.to === 'unchanged' ? from : t.to;
          if (to === 'new' || to === 'ended') continue;
          assert.ok(STEP_RECORDS[to][t.strategy] !== undefined, `${t.strategy} ${from} ${t.event} -> ${to}`);
        }
      }
    });

    it('refuses an event the state does not allow', () => {
      assert.throws(() => nextState('in-place', 'new', 'finish'), /finish is not allowed at new \(in-place\)/);
      assert.throws(() => nextState('versioned', 'created', 'finish'), /not allowed/);
      assert.throws(() => nextState('in-place', 'rolling-back', 'succeed'), /not allowed/);
    });
  });

  describe('findInFlight: where the cluster says a rotation stands', () => {
    const secret = (name: string, annotations: Record<string, string> = {}, labels: Record<string, string> = {}): V1Secret => ({
      metadata: { namespace: 'ns', name, annotations, labels },
    });
    const pending = (id: string, step?: string) =>
      secret(
        'db-pending',
        { 'secret-steward.io/companion-of': 'db', ...(step ? { 'secret-steward.io/rotation-step': step } : {}) },
        { 'secret-steward.io/role': 'pending', 'secret-steward.io/rotation-id': id },
      );
    const outcome = (id: string, extra: Record<string, unknown> = {}) => ({
      'secret-steward.io/last-outcome': JSON.stringify({ result: 'failed', rotation: id, at: '2026-01-01T00:00:00Z', ...extra }),
    });

    // Each row: what the cluster holds, the strategy, then the in-flight step (or none) and whether a companion is left over.
    const rows: Array<[string, V1Secret, V1Secret | undefined, RotationStrategy, string | undefined, boolean]> = [
      ['nothing', secret('db'), undefined, 'in-place', undefined, false],
      ['a companion at set', secret('db'), pending('r1', 'set'), 'in-place', 'pending r1 set', false],
      ['a companion without a step: created', secret('db'), pending('r1'), 'in-place', 'pending r1 created', false],
      [
        'a companion at a step its strategy never records there: created',
        secret('db'),
        pending('r1', 'finished'),
        'in-place',
        'pending r1 created',
        false,
      ],
      ['a versioned companion rolling back', secret('keys'), pending('r1', 'rolling-back'), 'versioned', 'pending r1 rolling-back', false],
      [
        'an in-place Secret at finished, with its companion',
        secret('db', { 'secret-steward.io/rotation-id': 'r1', 'secret-steward.io/rotation-step': 'finished' }),
        pending('r1', 'tested'),
        'in-place',
        'head r1 finished with its companion',
        false,
      ],
      [
        'an in-place Secret rolling back, the companion of another rotation',
        secret('db', { 'secret-steward.io/rotation-id': 'r2', 'secret-steward.io/rotation-step': 'rolling-back' }),
        pending('r1', 'created'),
        'in-place',
        'head r2 rolling-back',
        false,
      ],
      ['a companion whose rotation has its outcome', secret('db', outcome('r1')), pending('r1', 'created'), 'in-place', undefined, true],
      [
        'a companion whose failure was resumable',
        secret('db', outcome('r1', { resumable: true })),
        pending('r1', 'set'),
        'in-place',
        'pending r1 set',
        false,
      ],
      [
        'a versioned head never records a step',
        secret('keys', { 'secret-steward.io/rotation-id': 'r1', 'secret-steward.io/rotation-step': 'finished' }),
        undefined,
        'versioned',
        undefined,
        false,
      ],
    ];
    for (const [what, head, companion, strategy, expected, leftOver] of rows) {
      it(what, () => {
        const found = findInFlight(head, companion, strategy);

        const f = found.inFlight;
        const described =
          f === undefined
            ? undefined
            : `${f.recordedOn} ${f.id} ${f.step}${f.recordedOn === 'head' && f.pending !== undefined ? ' with its companion' : ''}`;
        assert.equal(described, expected);
        assert.equal(found.ended !== undefined, leftOver);
      });
    }
  });

  describe('every transition, against the Kubernetes emulator', function () {
    this.timeout(60_000);
    let c: RotateCluster;
    let kube: KubeClients;
    let kubeConfig: KubeConfig;
    let n = 0;
    before(async () => {
      c = await RotateCluster.start();
      kubeConfig = new KubeConfig();
      kubeConfig.loadFromString(c.emulator.kubeconfigYaml());
      kube = createKubeClients(kubeConfig, { command: 'test', clock: systemClock, log: createLogger({ sink: new MemorySink() }) });
    });
    after(async () => c?.stop());

    /** A backend that records its calls; its test fails when told to. */
    class FakeBackend implements RotationBackend {
      readonly name = 'fake';
      readonly sets: boolean[] = [];
      failTest = false;
      parseConfig() {
        return { config: {} };
      }
      async set(ctx: BackendStepContext) {
        this.sets.push(ctx.reverting);
      }
      async test() {
        if (this.failTest) throw new Error('the new values were refused');
      }
    }

    /** One Secret with a policy and one consumer, in a namespace of its own. */
    interface World {
      ns: string;
      strategy: RotationStrategy;
      head: string;
      companion: string;
      backend: FakeBackend;
      deps: RotationDeps;
      index: WorkloadIndex;
      /** The Secret's policy, optionally with the fake backend. */
      policy(withBackend: boolean): string;
    }

    async function world(strategy: RotationStrategy, withBackend: boolean): Promise<World> {
      const ns = `t${++n}`;
      const backend = new FakeBackend();
      const log = createLogger({ sink: new MemorySink() });
      const deps: RotationDeps = {
        secrets: new KubeSecretStore(kube.core, kube.caller, log),
        workloads: new KubeWorkloadStore(kube.apps, kube.batch, kube.core, kube.caller, kubeConfig),
        events: new MemoryEventRecorder(),
        backends: new BackendRegistry([backend]),
        clock: systemClock,
        log,
        shutdown: new Shutdown(),
        register: () => {},
        fingerprinter: Fingerprinter.forRun(),
        pollIntervalMs: 50,
      };
      const inPlace = strategy === 'in-place';
      const head = inPlace ? 'db' : 'keys';
      const policy = (b: boolean) =>
        `maxAge: 30d\n${inPlace ? 'keys: { password: password }' : 'strategy: versioned\nkeys: { API_KEY: token }'}\nrollout: { waitReady: 20s }${b ? '\nbackend: { name: fake }' : ''}`;
      await c.secret(ns, head, inPlace ? { password: 'old-password-1', username: 'app' } : { API_KEY: 'old-key-1' }, policy(withBackend), {
        immutable: !inPlace,
        annotations: LONG_AGO,
      });
      await c.deployment(ns, 'api', { envFrom: [head] });
      await c.emulator.workloads.idle();
      return {
        ns,
        strategy,
        head,
        companion: inPlace ? 'db-pending' : 'keys-v2',
        backend,
        deps,
        index: new WorkloadIndex(deps.workloads),
        policy,
      };
    }

    /** The rotation as the next run finds it: scanned, read in full, resumed where the cluster records it. */
    async function load(w: World): Promise<Rotation> {
      const now = new Date();
      const inv = await scanSecrets(w.deps, { namespaces: [w.ns], now, backends: w.deps.backends });
      assert.equal(inv.candidates.length, 1, 'one rotation to start or continue');
      const loaded = await loadCandidate(inv.candidates[0], w.deps, { now, backends: w.deps.backends });
      assert.equal(loaded.kind, 'rotation');
      return (loaded as { rotation: Rotation }).rotation;
    }

    /** Where the cluster says the rotation stands now: its recorded step, `ended` once its outcome is there, else `new`. */
    function recordedState(w: World, rot: Rotation): RotationState {
      const head = c.getSecret(w.ns, rot.head.metadata!.name!) as V1Secret;
      const companion = c.getSecret(w.ns, w.companion) as V1Secret | undefined;
      const pending = companion !== undefined && isPendingOf(companion, rot.name) ? companion : undefined;
      const found = findInFlight(head, pending, w.strategy);
      if (found.inFlight !== undefined) return found.inFlight.step;
      return parseLastOutcome(head.metadata?.annotations?.['secret-steward.io/last-outcome'])?.rotation === rot.id ? 'ended' : 'new';
    }

    const rollOutOnce = (w: World, rot: Rotation) => rollOut([rot], w.deps, w.index, { maxConcurrent: 2, inFlight: new Set([rot.id]) });
    const failure = () => new RotationError('generation', 'Secret: the generator failed (test)');

    /** Each event as a run fires it, with the run's own functions. */
    const FIRE: Record<RotationEvent, (w: World, rot: Rotation) => Promise<unknown>> = {
      create: async (w, rot) => {
        rot.begin(newRotationId(new Date()));
        await createPending(rot, w.deps);
      },
      set: (w, rot) => setBackend(rot, w.deps),
      test: (w, rot) => testBackend(rot, w.deps),
      'test-failed': async (w, rot) => {
        w.backend.failTest = true;
        await assert.rejects(
          testBackend(rot, w.deps),
          /step test \(backend fake\) failed: the new values were refused; the backend was set back/,
        );
      },
      finish: (w, rot) => promoteInPlace(rot, w.deps),
      'roll-out': rollOutOnce,
      verify: rollOutOnce,
      succeed: (w, rot) => succeed(rot, new Map(), new Map(), w.index, w.deps),
      'fail-forward': (w, rot) => failForward(rot, 'consumers not ready (test); rollbackOnFailure is false', w.deps),
      'roll-back': (w, rot) => rollBackValues(rot, w.deps),
      'rollback-failed': (w, rot) => endRollback(rot, 'rollback-failed', 'rollback-failed', 'rollback failed (test)', w.deps),
      'restore-consumers': (w, rot) => restoreConsumers([rot], w.deps, w.index, { maxConcurrent: 2, inFlight: new Set([rot.id]) }),
      'end-rollback': (w, rot) => endRollback(rot, 'end-rollback', 'rolled-back', 'consumers not ready (test); rolled back', w.deps),
      fail: async (w, rot) => {
        if (rot.step === 'new') rot.begin(newRotationId(new Date()));
        await fail(rot, failure(), w.deps);
      },
      'fail-resumable': (w, rot) => fail(rot, failure(), w.deps),
    };

    /** How a run gets a rotation to each state: the events, in order, from `new`. */
    const PATHS: Record<RotationStrategy, Partial<Record<RotationState, RotationEvent[]>>> = {
      'in-place': {
        new: [],
        created: ['create'],
        set: ['create', 'set'],
        tested: ['create', 'set', 'test'],
        finished: ['create', 'finish'],
        'rolling-back': ['create', 'finish', 'roll-out', 'roll-back'],
      },
      versioned: {
        new: [],
        created: ['create'],
        set: ['create', 'set'],
        tested: ['create', 'set', 'test'],
        'rolling-back': ['create', 'roll-out', 'roll-back'],
      },
    };

    const annotations = (w: World, name: string) => c.annotations(w.ns, name);
    const lastOutcome = (w: World, name: string) => parseLastOutcome(annotations(w, name)['secret-steward.io/last-outcome']);
    const template = (w: World) => c.workload('Deployment', w.ns, 'api').spec.template;
    const restartedAt = (w: World): string | undefined => template(w).metadata?.annotations?.['secret-steward.io/restartedAt'];

    /** What each event writes, checked after it fired (`result`: what the fired function returned). */
    const WRITES: Record<RotationEvent, (w: World, rot: Rotation, result: unknown) => void> = {
      create: (w, rot) => {
        const p = c.getSecret(w.ns, w.companion)!;
        assert.equal(p.metadata!.labels!['secret-steward.io/role'], 'pending');
        assert.equal(p.metadata!.labels!['secret-steward.io/rotation-id'], rot.id);
        assert.equal(annotations(w, w.companion)['secret-steward.io/rotation-step'], 'created');
        assert.equal(p.immutable, w.strategy === 'versioned' ? true : undefined);
      },
      set: (w) => {
        assert.equal(annotations(w, w.companion)['secret-steward.io/rotation-step'], 'set');
        assert.deepEqual(w.backend.sets, [false]);
      },
      test: (w) => assert.equal(annotations(w, w.companion)['secret-steward.io/rotation-step'], 'tested'),
      'test-failed': (w) => {
        assert.equal(annotations(w, w.companion)['secret-steward.io/rotation-step'], 'created');
        assert.deepEqual(w.backend.sets.slice(-1), [true], 'the backend was set back');
      },
      finish: (w, rot) => {
        const a = annotations(w, 'db');
        assert.equal(a['secret-steward.io/rotation-id'], rot.id);
        assert.equal(a['secret-steward.io/rotation-step'], 'finished');
        assert.equal(a['secret-steward.io/rotation-pending'], 'db-pending');
        assert.equal(c.data(w.ns, 'db')!.password, rot.newValues!.get('password')!.toString());
        assert.deepEqual(c.data(w.ns, 'db-previous'), { password: 'old-password-1', username: 'app' });
      },
      'roll-out': (w, rot) => {
        assert.ok(restartedAt(w)?.includes(rot.id), 'restarted for the rotation');
        if (w.strategy === 'versioned') assert.deepEqual(c.referencedSecrets('Deployment', w.ns, 'api'), ['keys-v2']);
      },
      verify: (_w, _rot, result) => {
        const outcome = (result as Map<string, WorkloadOutcome>).values().next().value!;
        assert.equal(outcome.state, 'ready');
        assert.equal(outcome.patched, false, 'a workload already restarted for the rotation is only verified');
      },
      succeed: (w, rot) => {
        if (w.strategy === 'in-place') {
          assert.equal(annotations(w, 'db')['secret-steward.io/rotation-step'], undefined);
          assert.equal(lastOutcome(w, 'db')?.result, 'succeeded');
          assert.ok(annotations(w, 'db')['secret-steward.io/last-rotated']);
          assert.equal(c.getSecret(w.ns, 'db-pending'), undefined);
        } else {
          assert.equal(lastOutcome(w, 'keys-v2')?.result, 'succeeded');
          assert.ok(annotations(w, 'keys-v2')['secret-steward.io/rotation']);
          assert.equal(c.getSecret(w.ns, 'keys-v2')!.metadata!.labels?.['secret-steward.io/role'], undefined);
          assert.equal(annotations(w, 'keys')['secret-steward.io/superseded-by'], 'keys-v2');
          assert.equal(annotations(w, 'keys')['secret-steward.io/rotation'], undefined);
        }
        assert.equal(rot.outcome?.result, 'succeeded');
      },
      'fail-forward': (w, rot) => {
        if (w.strategy === 'in-place') {
          assert.equal(lastOutcome(w, 'db')?.result, 'failed');
          assert.ok(annotations(w, 'db')['secret-steward.io/last-rotated'], 'the new values stay');
          assert.equal(c.getSecret(w.ns, 'db-pending'), undefined);
        } else {
          assert.equal(annotations(w, 'keys')['secret-steward.io/superseded-by'], 'keys-v2', 'the new version stays');
        }
        assert.equal(rot.outcome?.result, 'failed');
      },
      'roll-back': (w) => {
        if (w.strategy === 'in-place') {
          assert.equal(c.data(w.ns, 'db')!.password, 'old-password-1');
          assert.equal(annotations(w, 'db')['secret-steward.io/rotation-step'], 'rolling-back');
        } else {
          assert.equal(annotations(w, 'keys-v2')['secret-steward.io/rotation-step'], 'rolling-back');
        }
        if (w.backend.sets.length > 0) assert.deepEqual(w.backend.sets.slice(-1), [true], 'the backend was set back');
      },
      'rollback-failed': (w, rot) => {
        assert.equal(lastOutcome(w, w.head)?.result, 'rollback-failed');
        if (w.strategy === 'in-place') assert.equal(annotations(w, 'db')['secret-steward.io/rotation-step'], 'finished', 'records stay');
        else assert.equal(c.getSecret(w.ns, 'keys-v2'), undefined);
        assert.equal(rot.outcome?.result, 'rollback-failed');
      },
      'restore-consumers': (w) => {
        assert.equal(restartedAt(w), undefined, 'the pod template as before the rotation');
        assert.equal(c.workload('Deployment', w.ns, 'api').metadata!.annotations?.['secret-steward.io/restart-previous'], undefined);
        assert.deepEqual(c.referencedSecrets('Deployment', w.ns, 'api'), [w.head]);
      },
      'end-rollback': (w, rot) => {
        assert.equal(lastOutcome(w, w.head)?.result, 'rolled-back');
        assert.equal(annotations(w, w.head)['secret-steward.io/rotation-step'], undefined);
        assert.equal(c.getSecret(w.ns, w.companion), undefined);
        assert.equal(rot.outcome?.result, 'rolled-back');
      },
      fail: (w, rot) => {
        assert.equal(c.getSecret(w.ns, w.companion), undefined, 'the companion is deleted');
        assert.equal(lastOutcome(w, w.head)?.result, 'failed');
        assert.equal(lastOutcome(w, w.head)?.resumable, undefined);
        assert.equal(rot.outcome?.result, 'failed');
      },
      'fail-resumable': (w, rot) => {
        assert.ok(c.getSecret(w.ns, w.companion), 'the companion is kept');
        assert.equal(lastOutcome(w, w.head)?.resumable, true);
        assert.equal(rot.outcome?.result, 'failed');
      },
    };

    /** Events before the one under test that it needs, beyond the path to its state. */
    const PRELUDE: Partial<Record<RotationEvent, RotationEvent[]>> = { verify: ['roll-out'] };

    const needsBackend = (events: readonly RotationEvent[]) =>
      events.some((e) => e === 'set' || e === 'test' || e === 'test-failed' || e === 'fail-resumable');

    for (const t of TRANSITIONS) {
      for (const from of t.from) {
        const expected = nextState(t.strategy, from, t.event);
        it(`${t.strategy}: ${from} --${t.event}--> ${expected}`, async () => {
          const path = [...PATHS[t.strategy][from]!, ...(PRELUDE[t.event] ?? [])];
          const withBackend = needsBackend([...path, t.event]);
          const w = await world(t.strategy, withBackend);
          const run = await load(w);
          for (const e of path) await FIRE[e](w, run);
          // `fail` (no backend may hold the values) from a step only a backend reaches: the policy lost its backend since.
          if (t.event === 'fail' && withBackend)
            c.editSecret(w.ns, w.head, (s) => void (s.metadata!.annotations!['secret-steward.io/rotation'] = w.policy(false)));
          if (t.event === 'test-failed') w.backend.sets.length = 0;

          const rot = await load(w);
          assert.equal(rot.step, from, 'the next run resumes where the cluster records it');
          const result = await FIRE[t.event](w, rot);

          assert.equal(rot.step, expected === 'ended' ? from : expected, "the run's copy of the step");
          assert.equal(recordedState(w, rot), expected, 'the state the cluster records');
          WRITES[t.event](w, rot, result);
        });
      }
    }
  });
});
