import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator } from './index.js';

describe('test/emulator/pagination', () => {
  let emu: KubeEmulator;
  let clock: number;

  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00Z');
    emu = await KubeEmulator.start({ now: () => new Date(clock), continueTtlMs: 60_000 });
    for (const ns of ['a', 'b']) {
      emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      for (let i = 0; i < 5; i++) emu.create({ ...secret(`s${i}`), metadata: { name: `s${i}`, namespace: ns } });
    }
  });
  afterEach(async () => {
    await emu.stop();
  });

  async function listAll(path: string, limit: number): Promise<{ names: string[]; pages: number; rvs: Set<string> }> {
    const names: string[] = [];
    const rvs = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await api(emu, 'GET', `${path}${sep}limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      assert.equal(res.status, 200, res.text);
      pages++;
      rvs.add(res.body.metadata.resourceVersion);
      names.push(
        ...res.body.items.map((i: { metadata: { namespace: string; name: string } }) => `${i.metadata.namespace}/${i.metadata.name}`),
      );
      token = res.body.metadata.continue;
    } while (token);
    return { names, pages, rvs };
  }

  it('pages a cluster-wide list in namespace/name order with continue tokens', async () => {
    const { names, pages, rvs } = await listAll('/api/v1/secrets', 3);

    assert.deepEqual(names, ['a/s0', 'a/s1', 'a/s2', 'a/s3', 'a/s4', 'b/s0', 'b/s1', 'b/s2', 'b/s3', 'b/s4']);
    assert.equal(pages, 4);
    assert.equal(rvs.size, 1, 'every page reports the list resourceVersion');
  });

  it('reports remainingItemCount and the list kind without per-item kind', async () => {
    const res = await api(emu, 'GET', '/api/v1/namespaces/a/secrets?limit=2');

    assert.equal(res.body.kind, 'SecretList');
    assert.equal(res.body.apiVersion, 'v1');
    assert.equal(res.body.metadata.remainingItemCount, 3);
    assert.equal(res.body.items[0].kind, undefined);
  });

  // A real API server counts the rest of a paginated list only when the list has no selector:
  // k8s.io/apiserver storage.PrepareContinueToken (staging/src/k8s.io/apiserver/pkg/storage/continue.go)
  // sets remainingItemCount only `if opts.Predicate.Empty()`, since etcd's count includes objects
  // a label or field selector would drop. secret-steward's backup progress relies on both halves.
  it('omits remainingItemCount when a label or field selector filters the list, and on the last page', async () => {
    const labelled = await api(emu, 'GET', '/api/v1/namespaces/a/secrets?limit=2&labelSelector=app%21%3Dx');
    const fielded = await api(emu, 'GET', '/api/v1/secrets?limit=2&fieldSelector=type%21%3Dkubernetes.io%2Ftls');
    const last = await api(emu, 'GET', '/api/v1/namespaces/a/secrets?limit=5');

    assert.equal(labelled.body.items.length, 2);
    assert.ok(labelled.body.metadata.continue, 'the labelled list has more pages');
    assert.equal(labelled.body.metadata.remainingItemCount, undefined);
    assert.ok(fielded.body.metadata.continue, 'the field-selected list has more pages');
    assert.equal(fielded.body.metadata.remainingItemCount, undefined);
    assert.equal(last.body.metadata.continue, undefined);
    assert.equal(last.body.metadata.remainingItemCount, undefined);
  });

  it('serves later pages from a consistent snapshot although objects change meanwhile', async () => {
    const first = await api(emu, 'GET', '/api/v1/namespaces/a/secrets?limit=2');
    emu.delete('v1', 'Secret', 'a', 's3');
    emu.create({ ...secret('s2a'), metadata: { name: 's2a', namespace: 'a' } });
    emu.update({ ...(emu.get('v1', 'Secret', 'a', 's4') as object), data: { key: 'Y2hhbmdlZA==' } } as never);

    const rest = await api(
      emu,
      'GET',
      `/api/v1/namespaces/a/secrets?limit=10&continue=${encodeURIComponent(first.body.metadata.continue)}`,
    );

    assert.deepEqual(
      rest.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ['s2', 's3', 's4'],
    );
    assert.equal(rest.body.items[2].data.key, 'dmFsdWU=');
    assert.equal(rest.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    assert.equal(rest.body.metadata.continue, undefined);
  });

  it('answers 410 Expired for a continue token older than continueTtlMs, with a token to continue inconsistently', async () => {
    const first = await api(emu, 'GET', '/api/v1/namespaces/a/secrets?limit=2');
    clock += 61_000;

    const expired = await api(
      emu,
      'GET',
      `/api/v1/namespaces/a/secrets?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`,
    );

    assert.equal(expired.status, 410);
    assert.equal(expired.body.reason, 'Expired');
    assert.match(expired.body.message, /^The provided continue parameter is too old to display a consistent list result/);
    const resumed = await api(
      emu,
      'GET',
      `/api/v1/namespaces/a/secrets?limit=10&continue=${encodeURIComponent(expired.body.metadata.continue)}`,
    );
    assert.deepEqual(
      resumed.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ['s2', 's3', 's4'],
    );
  });

  it('answers 400 for a malformed continue token, like kube-apiserver', async () => {
    const res = await api(emu, 'GET', '/api/v1/secrets?limit=2&continue=garbage');

    assert.equal(res.status, 400);
    assert.equal(res.body.reason, 'BadRequest');
  });

  it('lets the continue TTL be changed at runtime', async () => {
    emu.continueTokenTtlMs = 10;
    const first = await api(emu, 'GET', '/api/v1/namespaces/a/secrets?limit=2');
    clock += 11;

    const res = await api(emu, 'GET', `/api/v1/namespaces/a/secrets?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`);

    assert.equal(res.status, 410);
  });
});

describe('test/emulator/selectors', () => {
  let emu: KubeEmulator;

  before(async () => {
    emu = await KubeEmulator.start();
    const add = (name: string, labels: Record<string, string>, type = 'Opaque') =>
      emu.create({ ...secret(name), metadata: { name, namespace: 'default', labels }, type } as never);
    add('prod-db', { env: 'prod', tier: 'db', rotate: 'true' });
    add('prod-web', { env: 'prod', tier: 'web' });
    add('dev-db', { env: 'dev', tier: 'db', rotate: 'false' });
    add('plain', {});
    emu.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'default', labels: { env: 'prod' } },
      type: 'kubernetes.io/basic-auth',
      data: { username: 'dQ==' },
    });
  });
  after(async () => {
    await emu.stop();
  });

  const labelCases: [string, string[]][] = [
    ['env=prod', ['creds', 'prod-db', 'prod-web']],
    ['env==prod', ['creds', 'prod-db', 'prod-web']],
    ['env!=prod', ['dev-db', 'plain']],
    ['env=prod,tier=db', ['prod-db']],
    ['tier in (db,web)', ['dev-db', 'prod-db', 'prod-web']],
    ['tier notin (db)', ['creds', 'plain', 'prod-web']],
    ['rotate', ['dev-db', 'prod-db']],
    ['!rotate', ['creds', 'plain', 'prod-web']],
    ['env in (prod),!rotate', ['creds', 'prod-web']],
  ];
  for (const [selector, expected] of labelCases) {
    it(`labelSelector ${selector}`, async () => {
      const res = await api(emu, 'GET', `/api/v1/namespaces/default/secrets?labelSelector=${encodeURIComponent(selector)}`);

      assert.deepEqual(
        res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        expected,
      );
    });
  }

  const fieldCases: [string, string[]][] = [
    ['metadata.name=plain', ['plain']],
    ['metadata.name!=plain,metadata.namespace=default', ['creds', 'dev-db', 'prod-db', 'prod-web']],
    ['type=kubernetes.io/basic-auth', ['creds']],
    ['type!=Opaque', ['creds']],
  ];
  for (const [selector, expected] of fieldCases) {
    it(`fieldSelector ${selector}`, async () => {
      const res = await api(emu, 'GET', `/api/v1/secrets?fieldSelector=${encodeURIComponent(selector)}`);

      assert.deepEqual(
        res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        expected,
      );
    });
  }

  it('rejects unsupported field labels and malformed label selectors with 400', async () => {
    const field = await api(emu, 'GET', '/api/v1/secrets?fieldSelector=data.key%3Dx');
    const label = await api(emu, 'GET', '/api/v1/secrets?labelSelector=a%20b%20c');

    assert.equal(field.status, 400);
    assert.equal(field.body.message, 'field label not supported: data.key');
    assert.equal(label.status, 400);
    assert.match(label.body.message, /unable to parse requirement/);
  });

  it('deletes a collection by label selector', async () => {
    const extra = await KubeEmulator.start();
    try {
      for (const [name, env] of [
        ['x1', 'tmp'],
        ['x2', 'tmp'],
        ['keep', 'prod'],
      ])
        extra.create({ ...secret(name), metadata: { name, namespace: 'default', labels: { env } } } as never);

      const res = await api(extra, 'DELETE', '/api/v1/namespaces/default/secrets?labelSelector=env%3Dtmp');

      assert.equal(res.status, 200);
      assert.equal(res.body.kind, 'SecretList');
      assert.deepEqual(
        res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ['x1', 'x2'],
      );
      assert.deepEqual(
        extra.list('v1', 'Secret', 'default').map((s) => s.metadata.name),
        ['keep'],
      );
    } finally {
      await extra.stop();
    }
  });
});
