import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients } from '../../../shared/kube/client.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import { KubeNamespaceStore } from '../../../shared/kube/namespaces.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import type { Clock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';

const instantClock: Clock = { now: () => new Date(), sleep: async () => {} };

describe('shared/kube/namespaces', () => {
  let emu: KubeEmulator;
  let namespaces: KubeNamespaceStore;

  beforeEach(async () => {
    emu = await KubeEmulator.start();
    emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'there' } });
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfigYaml({}));
    const kube = createKubeClients(kc, { command: 'test', clock: instantClock, log: createLogger({ sink: new MemorySink() }) });
    namespaces = new KubeNamespaceStore(kube.core, kube.caller);
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('tells whether a namespace is Active, Terminating or missing', async () => {
    emu.namespaceDeletionDelayMs = 60_000;
    emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'going' } });
    emu.delete('v1', 'Namespace', undefined, 'going');

    assert.equal(await namespaces.phase('there'), 'Active');
    assert.equal(await namespaces.phase('going'), 'Terminating');
    assert.equal(await namespaces.phase('missing'), 'missing');
  });

  it('creates a namespace with its labels; one that exists already is fine', async () => {
    await namespaces.create('new', { labels: { 'app.kubernetes.io/created-by': 'test' } });
    await namespaces.create('there');

    const created = emu.get('v1', 'Namespace', undefined, 'new') as { metadata: { labels?: Record<string, string> } };
    assert.equal(created.metadata.labels?.['app.kubernetes.io/created-by'], 'test');
    assert.deepEqual(
      emu.requests.filter((e) => e.resource === 'namespaces' && e.verb === 'create').map((e) => e.status),
      [201, 409],
    );
  });

  it('sends a dry-run create with dryRun=All: nothing is persisted, and is not retried after a 500', async () => {
    await namespaces.create('dry', { dryRun: true });
    emu.faults.inject({ method: 'POST', path: '/api/v1/namespaces', status: 500 });

    await assert.rejects(
      namespaces.create('failing', { dryRun: true }),
      (e: unknown) => e instanceof KubeError && e.outcomeUnknown && /failed to create Namespace failing \(dry run\): 500/.test(e.message),
    );
    assert.equal(emu.get('v1', 'Namespace', undefined, 'dry'), undefined);
    assert.deepEqual(
      emu.requests.filter((e) => e.resource === 'namespaces' && e.verb === 'create').map((e) => `${e.status} ${e.dryRun}`),
      ['201 true', '500 true'],
    );
  });
});
