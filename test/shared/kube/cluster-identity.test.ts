import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients } from '../../../shared/kube/client.js';
import { readClusterUid } from '../../../shared/kube/cluster-identity.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';

describe('shared/kube/cluster-identity', function () {
  this.timeout(30_000);
  let emu: KubeEmulator;
  before(async () => {
    emu = await KubeEmulator.start();
  });
  after(async () => emu?.stop());

  const clients = (token?: string) => {
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfigYaml({ token }));
    return createKubeClients(kc, {
      command: 'test',
      clock: systemClock,
      log: createLogger({ sink: new MemorySink() }),
      limits: { maxAttempts: 1 },
    });
  };

  it("reads the UID of the cluster's kube-system namespace", async () => {
    const kube = clients('emulator-admin');

    const uid = await readClusterUid(kube.core, kube.caller);

    assert.equal(uid, emu.get('v1', 'Namespace', undefined, 'kube-system')?.metadata.uid);
  });

  it('says why it reads the namespace when RBAC refuses', async () => {
    const kube = clients(emu.serviceAccountToken('default', 'nobody'));

    const e = await readClusterUid(kube.core, kube.caller).catch((x) => x);

    assert.ok(e instanceof KubeError && e.forbidden, String(e));
    assert.match(e.message, /failed to get Namespace kube-system \(its UID binds backups to this cluster\): 403 Forbidden/);
  });
});
