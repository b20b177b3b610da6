import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { LockHeldError } from '../../../shared/errors/index.js';
import { createKubeClients, type KubeClients } from '../../../shared/kube/client.js';
import { IN_FLIGHT_ANNOTATION, LeaseLock, READING_ANNOTATION, readHeldLease } from '../../../shared/kube/lease-lock.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { type Clock, fixedClock, systemClock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';

describe('shared/kube/lease-lock', function () {
  this.timeout(30_000);
  let emu: KubeEmulator;
  let kube: KubeClients;
  const log = createLogger({ sink: new MemorySink() });
  before(async () => {
    emu = await KubeEmulator.start();
    await emu.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'locks' } }]);
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfigYaml());
    kube = createKubeClients(kc, { command: 'test', clock: systemClock, log });
  });
  after(async () => emu?.stop());

  const lock = (name: string, identity: string, clock: Clock = systemClock, duration = 60) =>
    new LeaseLock(kube.coordination, kube.caller, clock, log, { namespace: 'locks', name, identity, leaseDurationSeconds: duration });
  const lease = (name: string) => emu.get('coordination.k8s.io/v1', 'Lease', 'locks', name) as unknown as { spec: Record<string, unknown> };

  it('creates the Lease on first use, with MicroTime timestamps the API server accepts', async () => {
    const a = lock('first', 'pod-a');

    await a.acquire();

    const spec = lease('first').spec;
    assert.equal(spec.holderIdentity, 'pod-a');
    assert.equal(spec.leaseTransitions, 0);
    assert.match(String(spec.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await a.release();
  });

  it('refuses a second holder while the lease is fresh (exit 3), and lets it in after release', async () => {
    const a = lock('busy', 'pod-a');
    const b = lock('busy', 'pod-b');
    await a.acquire();

    await assert.rejects(b.acquire(), (e) => e instanceof LockHeldError && e.exitCode === 3 && /holder pod-a/.test(e.message));
    await a.release();
    await b.acquire();

    assert.equal(lease('busy').spec.holderIdentity, 'pod-b');
    assert.equal(lease('busy').spec.leaseTransitions, 1);
    await b.release();
    assert.equal(lease('busy').spec.holderIdentity ?? '', '');
  });

  it('takes over a lease whose holder stopped renewing for the full duration', async () => {
    const start = new Date();
    const crashed = lock('stale', 'pod-crashed', fixedClock(start), 30);
    await crashed.acquire();
    (crashed as unknown as { stopRenewing(): void }).stopRenewing();

    const tooEarly = lock('stale', 'pod-new', fixedClock(new Date(start.getTime() + 29_000)), 30);
    const late = lock('stale', 'pod-new', fixedClock(new Date(start.getTime() + 31_000)), 30);

    await assert.rejects(tooEarly.acquire(), LockHeldError);
    await late.acquire();
    assert.equal(lease('stale').spec.holderIdentity, 'pod-new');
    await late.release();
  });

  it('lets only one of two simultaneous contenders win', async () => {
    const results = await Promise.allSettled([
      lock('race', 'pod-1').acquire(),
      lock('race', 'pod-2').acquire(),
      lock('race', 'pod-3').acquire(),
    ]);

    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof LockHeldError);
  });

  it('record: a note on the Lease outlives release, is inherited by the next holder, and can be cleared', async () => {
    const a = lock('noted', 'pod-a');
    await a.acquire();

    await a.record('backup 20261127T031500Z-3f9a1c');
    await a.release();
    const b = lock('noted', 'pod-b');
    await b.acquire();
    const inherited = b.inherited;
    await b.record(undefined);
    await b.release();
    const c = lock('noted', 'pod-c');
    await c.acquire();

    assert.equal(a.inherited, undefined);
    assert.equal(inherited, 'backup 20261127T031500Z-3f9a1c');
    assert.equal(c.inherited, undefined);
    await c.release();
  });

  for (const [what, fault] of [
    ['answer was lost (the write happened)', { loseResponse: true }],
    ['attempt failed with a 500 (the write did not happen)', { status: 500 }],
  ] as const) {
    it(`a write of the held Lease whose ${what} is not a lost lock: it re-reads and writes again`, async () => {
      const a = lock(`resilient-${fault.status ?? 'lost'}`, 'pod-a');
      await a.acquire();
      const fired = emu.faults.inject({
        method: 'PUT',
        path: `/apis/coordination.k8s.io/v1/namespaces/locks/leases/resilient-${fault.status ?? 'lost'}`,
        ...fault,
      });

      await a.record('backup 20261127T031500Z-3f9a1c');
      await a.renew();

      assert.equal(fired.hits, 1);
      assert.equal(a.lost.aborted, false);
      assert.equal(a.held, true);
      assert.equal(
        (
          emu.get('coordination.k8s.io/v1', 'Lease', 'locks', `resilient-${fault.status ?? 'lost'}`)!.metadata!.annotations as Record<
            string,
            string
          >
        )['secret-steward.io/in-flight'],
        'backup 20261127T031500Z-3f9a1c',
      );
      await a.release();
      assert.equal(lease(`resilient-${fault.status ?? 'lost'}`).spec.holderIdentity, undefined);
    });
  }

  it('a release whose answer was lost still counts as released', async () => {
    const sink = new MemorySink();
    const logged = new LeaseLock(kube.coordination, kube.caller, systemClock, createLogger({ sink }), {
      namespace: 'locks',
      name: 'release-lost',
      identity: 'pod-a',
    });
    await logged.acquire();
    emu.faults.inject({ method: 'PUT', path: '/apis/coordination.k8s.io/v1/namespaces/locks/leases/release-lost', loseResponse: true });

    await logged.release();

    assert.equal(lease('release-lost').spec.holderIdentity, undefined);
    assert.ok(
      sink.lines.some((l) => l.includes('lock released')),
      sink.lines.join('\n'),
    );
  });

  it('stops itself when it could not renew for two thirds of the lease duration (another run may take it over)', async () => {
    const clock = fixedClock(new Date());
    const a = lock('unrenewed', 'pod-a', clock, 30);
    await a.acquire();
    (a as unknown as { stopRenewing(): void }).stopRenewing();
    const outage = emu.faults.inject({
      method: 'PUT',
      path: '/apis/coordination.k8s.io/v1/namespaces/locks/leases/unrenewed',
      status: 503,
      times: Infinity,
    });

    clock.advance(2_000);
    await a.renew();
    const afterShortOutage = a.lost.aborted;
    clock.advance(18_000);
    await a.renew();

    assert.equal(afterShortOutage, false, 'a short outage is retried');
    assert.equal(a.lost.aborted, true, 'unrenewed for 20 s of 30: stop');
    outage.remove();
  });

  it('signals loss when another holder took the lease meanwhile', async () => {
    const a = lock('lost', 'pod-a');
    await a.acquire();
    const current = emu.get('coordination.k8s.io/v1', 'Lease', 'locks', 'lost')!;
    emu.update({ ...current, spec: { ...(current as unknown as { spec: object }).spec, holderIdentity: 'intruder' } });

    await a.renew();

    assert.equal(a.lost.aborted, true);
    assert.equal(a.held, false);
  });

  describe('readHeldLease (another job reading a Lease it does not hold)', () => {
    it('returns the holder and its notes while held, nothing once released or expired', async () => {
      const reader = lock('reader', 'restore-pod', systemClock, 30);
      await reader.acquire();
      await reader.record('20261207T030000Z-3f9a1c', READING_ANNOTATION);
      await reader.record('backup 20261207T040000Z-aaaaaa');
      const read = (now = new Date()) => readHeldLease(kube.coordination, kube.caller, { namespace: 'locks', name: 'reader', now });

      const held = await read();
      const later = await read(new Date(Date.now() + 31_000));
      await reader.release();
      const released = await read();

      assert.deepEqual(held, {
        holder: 'restore-pod',
        notes: { [IN_FLIGHT_ANNOTATION]: 'backup 20261207T040000Z-aaaaaa', [READING_ANNOTATION]: '20261207T030000Z-3f9a1c' },
      });
      assert.equal(later, undefined, 'expired: a note left by a holder that died is no claim');
      assert.equal(released, undefined);
      assert.equal(await readHeldLease(kube.coordination, kube.caller, { namespace: 'locks', name: 'absent', now: new Date() }), undefined);
    });
  });
});
