import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../../shared/errors/index.js';
import { createKubeClients, loadKubeConfig } from '../../../shared/kube/client.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { systemClock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';
import { commandRuns, requireDependency } from '../../support/dependencies.js';

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

  describe('KUBECONFIG with several files, merged as kubectl merges them', () => {
    // client-go clientcmd/loader.go, ClientConfigLoadingRules.Load: missing files are skipped;
    // "The first file to set a particular map key wins and map key's value is never changed";
    // "if two files specify a "red-user", only values from the first file's red-user are used";
    // struct values such as current-context come from the first file that sets them; relative
    // paths are resolved against the file's own folder.
    const first = join(dir, 'first');
    const second = join(dir, 'nested', 'second');
    mkdirSync(join(dir, 'nested'));
    writeFileSync(
      first,
      `apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: { server: 'https://10.1.0.1:6443' }
users:
- name: red-user
  user: { token: first-token }
contexts:
- name: one
  context: { cluster: shared, user: red-user, namespace: team-one }
current-context: one
`,
    );
    writeFileSync(
      second,
      `apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: { server: 'https://10.2.0.1:6443' }
- name: only-second
  cluster: { server: 'https://10.2.0.2:6443', certificate-authority: ca.crt }
users:
- name: red-user
  user: { token: second-token, username: ignored }
- name: blue-user
  user: { token: blue-token }
contexts:
- name: one
  context: { cluster: only-second, user: blue-user }
- name: two
  context: { cluster: only-second, user: blue-user }
current-context: two
`,
    );
    const list = [first, join(dir, 'absent'), second].join(':');

    /** The parts of a kubeconfig `kubectl config view` shows, in a comparable form. */
    function summary(kc: {
      currentContext: string;
      clusters: { name: string; server: string }[];
      users: { name: string; token?: string }[];
      contexts: { name: string; cluster: string; user: string; namespace?: string }[];
    }) {
      return {
        currentContext: kc.currentContext,
        clusters: Object.fromEntries(kc.clusters.map((c) => [c.name, c.server])),
        users: kc.users.map((u) => u.name).sort(),
        contexts: Object.fromEntries(kc.contexts.map((c) => [c.name, [c.cluster, c.user, c.namespace ?? '']])),
      };
    }
    const ours = (kc: KubeConfig) => summary(kc);

    it('takes each cluster, user and context from the first file that names it, and current-context from the first file', () => {
      const kc = loadKubeConfig({ kubeconfig: list });

      assert.deepEqual(ours(kc), {
        currentContext: 'one',
        clusters: { shared: 'https://10.1.0.1:6443', 'only-second': 'https://10.2.0.2:6443' },
        users: ['blue-user', 'red-user'],
        contexts: { one: ['shared', 'red-user', 'team-one'], two: ['only-second', 'blue-user', ''] },
      });
      assert.equal(kc.getUser('red-user')?.token, 'first-token');
      assert.equal(kc.getUser('red-user')?.username, undefined);
      assert.equal(kc.getCluster('only-second')?.caFile, join(dir, 'nested', 'ca.crt'));
    });

    it('uses a --context defined only in the second file', () => {
      const kc = loadKubeConfig({ kubeconfig: list, context: 'two' });

      assert.equal(kc.getCurrentCluster()?.server, 'https://10.2.0.2:6443');
      assert.equal(kc.getCurrentUser()?.token, 'blue-token');
    });

    it('merges like `kubectl config view --merge` on the same files', function () {
      requireDependency(this, 'kubectl', commandRuns('kubectl', ['version', '--client']), 'install kubectl');
      const view = (...args: string[]) => {
        const r = spawnSync('kubectl', ['config', 'view', '--merge', '--raw', '-o', 'json', ...args], {
          env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: list },
          encoding: 'utf8',
        });
        assert.equal(r.status, 0, r.stderr);
        const v = JSON.parse(r.stdout) as {
          'current-context': string;
          clusters: { name: string; cluster: { server: string } }[];
          users: { name: string; user: { token?: string } }[];
          contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
        };
        return {
          summary: summary({
            currentContext: v['current-context'],
            clusters: v.clusters.map((c) => ({ name: c.name, server: c.cluster.server })),
            users: v.users.map((u) => ({ name: u.name })),
            contexts: v.contexts.map((c) => ({ name: c.name, ...c.context })),
          }),
          tokens: Object.fromEntries(v.users.map((u) => [u.name, u.user.token])),
        };
      };

      const kubectl = view();
      const minified = view('--minify', '--context', 'two');

      const kc = loadKubeConfig({ kubeconfig: list });
      assert.deepEqual(ours(kc), kubectl.summary);
      assert.deepEqual(Object.fromEntries(kc.users.map((u) => [u.name, u.token])), kubectl.tokens);
      assert.deepEqual(minified.summary.clusters, {
        'only-second': loadKubeConfig({ kubeconfig: list, context: 'two' }).getCurrentCluster()?.server,
      });
    });

    it('reaches the API server of a context from the second file (the emulator), the first file pointing elsewhere', async () => {
      const emulator = await KubeEmulator.start();
      try {
        const unreachable = join(dir, 'unreachable');
        writeFileSync(unreachable, emulator.kubeconfigYaml({ context: 'emulator' }).replace(emulator.url, 'http://127.0.0.1:9'));
        const reachable = join(dir, 'reachable');
        writeFileSync(
          reachable,
          emulator.kubeconfigYaml({ context: 'elsewhere' }).replace(/current-context: elsewhere/, 'current-context: ""'),
        );
        const kc = loadKubeConfig({ kubeconfig: `${unreachable}:${reachable}`, context: 'elsewhere' });
        const log = createLogger({ sink: new MemorySink() });
        const { core } = createKubeClients(kc, { command: 'test', clock: systemClock, log });

        const namespaces = await core.listNamespace();

        assert.ok(namespaces.items.some((n) => n.metadata?.name === 'kube-system'));
        assert.equal(kc.getCurrentContext(), 'elsewhere');
      } finally {
        await emulator.stop();
      }
    });

    it('is a configuration error when no file of the list exists, or one is not a kubeconfig', () => {
      const bad = join(dir, 'not-yaml');
      writeFileSync(bad, ': not yaml : [');

      assert.throws(
        () => loadKubeConfig({ kubeconfig: `${join(dir, 'absent')}:${join(dir, 'absent-too')}` }),
        (e) => e instanceof ConfigError && /--kubeconfig .*file not found/.test(e.message),
      );
      assert.throws(
        () => loadKubeConfig({ kubeconfig: `${first}:${bad}` }),
        (e) => e instanceof ConfigError && e.message.includes(`not a valid kubeconfig file: ${bad}`),
      );
    });

    it('uses the in-cluster service account only when no kubeconfig is given', () => {
      const root = join(dir, 'pod');
      mkdirSync(join(root, '/var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
      writeFileSync(join(root, '/var/run/secrets/kubernetes.io/serviceaccount/token'), 'sa-token');
      // client-node's loadFromCluster reads the service address from the process environment.
      const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
      Object.assign(process.env, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
      try {
        const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', HOME: dir };

        const given = loadKubeConfig({ kubeconfig: list }, env, root);
        const none = loadKubeConfig({}, env, root);

        assert.equal(given.getCurrentCluster()?.server, 'https://10.1.0.1:6443');
        assert.equal(none.getCurrentCluster()?.server, 'https://10.96.0.1:443');
      } finally {
        for (const [k, v] of [
          ['KUBERNETES_SERVICE_HOST', saved.host],
          ['KUBERNETES_SERVICE_PORT', saved.port],
        ] as const) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    });
  });
});
