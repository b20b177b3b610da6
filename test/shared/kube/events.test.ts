import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients } from '../../../shared/kube/client.js';
import { KubeEventRecorder } from '../../../shared/kube/events.js';
import { createLogger, MemorySink, Redactor } from '../../../shared/log/index.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';

describe('shared/kube/events', function () {
  this.timeout(30_000);
  let emu: KubeEmulator;
  before(async () => {
    emu = await KubeEmulator.start();
    await emu.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } }]);
  });
  after(async () => emu?.stop());

  function recorder(token?: string) {
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfigYaml(token ? { token } : {}));
    const sink = new MemorySink();
    const log = createLogger({ sink });
    const kube = createKubeClients(kc, { command: 'test', clock: systemClock, log });
    const redactor = new Redactor();
    return { sink, redactor, rec: new KubeEventRecorder(kube.core, kube.caller, systemClock, log, 'pod-x', redactor) };
  }

  it('writes a core/v1 Event about the object, with redacted message', async () => {
    const { rec, redactor } = recorder();
    redactor.register('leaked-canary-value');

    await rec.record({
      subject: { apiVersion: 'v1', kind: 'Secret', namespace: 'payments', name: 'db' },
      type: 'Normal',
      reason: 'Rotated',
      message: 'rotated; oops leaked-canary-value',
      action: 'Rotate',
    });

    const [ev] = emu.list('v1', 'Event', 'payments') as unknown as Array<Record<string, any>>;
    assert.equal(ev.reason, 'Rotated');
    assert.equal(ev.type, 'Normal');
    assert.deepEqual(
      { kind: ev.involvedObject.kind, name: ev.involvedObject.name, namespace: ev.involvedObject.namespace },
      { kind: 'Secret', name: 'db', namespace: 'payments' },
    );
    assert.equal(ev.message, 'rotated; oops [REDACTED]');
    assert.equal(ev.reportingInstance, 'pod-x');
  });

  it('never fails the run when an Event cannot be written, and logs why', async () => {
    const { rec, sink } = recorder();

    await rec.record({
      subject: { apiVersion: 'v1', kind: 'Secret', namespace: 'no-such-namespace', name: 'x' },
      type: 'Warning',
      reason: 'X',
      message: 'm',
    });

    assert.match(sink.lines.join(''), /could not record Event/);
  });
});
