import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../shared/errors/index.js';
import { loadKubeConfig } from '../../../shared/kube/client.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: { server: 'https://10.0.0.1:6443', insecure-skip-tls-verify: true }
- name: c2
  cluster: { server: 'https://10.0.0.2:6443', insecure-skip-tls-verify: true }
users:
- name: u
  user: { token: test-token }
contexts:
- name: one
  context: { cluster: c1, user: u }
- name: two
  context: { cluster: c2, user: u }
current-context: one
`;

describe('shared/kube/client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-kc-'));
  const file = join(dir, 'config');
  writeFileSync(file, KUBECONFIG);

  it('loads the current context, or the one asked for', () => {
    assert.equal(loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server, 'https://10.0.0.1:6443');
    assert.equal(loadKubeConfig({ kubeconfig: file, context: 'two' }).getCurrentCluster()?.server, 'https://10.0.0.2:6443');
  });

  it('names the setting for a missing file, a bad file and an unknown context (exit 2)', () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, ': not yaml : [');
    const cases: Array<[object, RegExp]> = [
      [{ kubeconfig: join(dir, 'missing') }, /--kubeconfig .*file not found/],
      [{ kubeconfig: bad }, /--kubeconfig .*not a valid kubeconfig/],
      [{ kubeconfig: file, context: 'three' }, /--context .*no context named "three"/],
    ];
    for (const [settings, message] of cases) {
      assert.throws(
        () => loadKubeConfig(settings),
        (e) => e instanceof ConfigError && e.exitCode === 2 && message.test(e.message),
      );
    }
  });

  it('explains what to configure when there is no access at all', () => {
    assert.throws(
      () => loadKubeConfig({}, { HOME: dir }),
      (e) => e instanceof ConfigError && /no Kubernetes access configured/.test(e.message),
    );
  });
});
