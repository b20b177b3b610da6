import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients } from '../../../shared/kube/client.js';
import { reuseDispatchers } from '../../../shared/kube/dispatcher-cache.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';

type WithDispatcher = { createDispatcher: (cluster: unknown, options: unknown) => unknown };

describe('shared/kube/dispatcher-cache', () => {
  let emulator: KubeEmulator;
  before(async () => {
    emulator = await KubeEmulator.start();
  });
  after(async () => emulator.stop());

  function kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(emulator.kubeconfigYaml({ token: 'emulator-admin' }));
    return kc;
  }

  it('client-node builds a new dispatcher for every request on its own (the problem)', () => {
    const kc = kubeConfig();
    const d = kc as unknown as WithDispatcher;
    const cluster = kc.getCurrentCluster();

    assert.notEqual(d.createDispatcher(cluster, { rejectUnauthorized: false }), d.createDispatcher(cluster, { rejectUnauthorized: false }));
  });

  it('after reuseDispatchers, requests with the same TLS options share one dispatcher; other options get their own', () => {
    const kc = reuseDispatchers(kubeConfig());
    const d = kc as unknown as WithDispatcher;
    const cluster = kc.getCurrentCluster();

    const first = d.createDispatcher(cluster, { rejectUnauthorized: false });
    assert.ok(first);
    assert.equal(d.createDispatcher(cluster, { rejectUnauthorized: false }), first);
    assert.notEqual(d.createDispatcher(cluster, { rejectUnauthorized: false, servername: 'other' }), first);
  });

  it('createKubeClients applies it, and API calls still work', async () => {
    const kc = kubeConfig();
    const clients = createKubeClients(kc, { command: 'test', clock: systemClock, log: createLogger({ sink: new MemorySink() }) });
    const seen = new Set<unknown>();
    const spy = kc as unknown as WithDispatcher;
    const wrapped = spy.createDispatcher;
    spy.createDispatcher = (c, o) => {
      const d = wrapped(c, o);
      seen.add(d);
      return d;
    };

    for (let i = 0; i < 5; i++) await clients.core.listNamespace();

    assert.equal(seen.size, 1);
  });
});
