import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator } from './index.js';

const LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const OBJECT_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

interface Partial {
  kind: string;
  apiVersion: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    ownerReferences?: unknown[];
  };
}

const names = (items: Partial[] | null) => (items ?? []).map((i) => `${i.metadata.namespace}/${i.metadata.name}`);

describe('test/emulator metadata-only responses (as=PartialObjectMetadataList / as=PartialObjectMetadata)', () => {
  let emu: KubeEmulator;
  let clock: number;

  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00Z');
    emu = await KubeEmulator.start({ now: () => new Date(clock), continueTtlMs: 60_000 });
    for (const ns of ['a', 'b']) {
      emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      for (let i = 0; i < 4; i++) {
        emu.create({
          ...secret(`s${i}`, { password: Buffer.from(`value-${ns}-${i}`).toString('base64') }),
          metadata: {
            name: `s${i}`,
            namespace: ns,
            labels: { tier: i % 2 === 0 ? 'db' : 'web' },
            annotations: { note: `n${i}`, ...(i === 3 ? { 'kubernetes.io/service-account.name': 'default' } : {}) },
          },
          type: i === 3 ? 'kubernetes.io/service-account-token' : 'Opaque',
        } as never);
      }
    }
  });
  afterEach(async () => {
    await emu.stop();
  });

  const get = (path: string, accept: string) => api(emu, 'GET', path, undefined, { headers: { Accept: accept } });

  it('lists metadata only: a meta.k8s.io/v1 PartialObjectMetadataList of PartialObjectMetadata, without data or type', async () => {
    const res = await get('/api/v1/secrets', LIST_ACCEPT);

    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.kind, 'PartialObjectMetadataList');
    assert.equal(res.body.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(names(res.body.items), ['a/s0', 'a/s1', 'a/s2', 'a/s3', 'b/s0', 'b/s1', 'b/s2', 'b/s3']);
    const stored = emu.get('v1', 'Secret', 'a', 's1')!;
    const item = res.body.items[1] as Partial & Record<string, unknown>;
    assert.deepEqual(Object.keys(item).sort(), ['apiVersion', 'kind', 'metadata']);
    assert.equal(item.kind, 'PartialObjectMetadata');
    assert.equal(item.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(item.metadata, stored.metadata, 'the whole ObjectMeta: labels, annotations, uid, resourceVersion, creationTimestamp');
    assert.ok(!res.text.includes(Buffer.from('value-a-1').toString('base64')), 'no data value in the response');
    assert.ok(!res.text.includes('service-account-token'), 'no type');
    assert.equal(
      res.body.metadata.resourceVersion,
      String(Math.max(...res.body.items.map((i: Partial) => Number(i.metadata.resourceVersion)))),
    );
  });

  it('pages with limit and continue from one snapshot, like a full list', async () => {
    const first = await get('/api/v1/secrets?limit=3', LIST_ACCEPT);
    emu.delete('v1', 'Secret', 'b', 's0');
    const pages = [first];
    while (pages.at(-1)!.body.metadata.continue) {
      pages.push(await get(`/api/v1/secrets?limit=3&continue=${encodeURIComponent(pages.at(-1)!.body.metadata.continue)}`, LIST_ACCEPT));
    }

    assert.equal(pages.length, 3);
    assert.ok(pages.every((p) => p.body.kind === 'PartialObjectMetadataList'));
    assert.deepEqual(
      pages.flatMap((p) => names(p.body.items)),
      ['a/s0', 'a/s1', 'a/s2', 'a/s3', 'b/s0', 'b/s1', 'b/s2', 'b/s3'],
      'b/s0 deleted after the first page is still in the snapshot',
    );
    assert.equal(first.body.metadata.remainingItemCount, 5);
    assert.equal(new Set(pages.map((p) => p.body.metadata.resourceVersion)).size, 1);
  });

  it('answers 410 Expired for a stale continue token, as for a full list', async () => {
    const first = await get('/api/v1/namespaces/a/secrets?limit=2', LIST_ACCEPT);
    clock += 61_000;

    const res = await get(`/api/v1/namespaces/a/secrets?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`, LIST_ACCEPT);

    assert.equal(res.status, 410);
    assert.equal(res.body.reason, 'Expired');
    assert.equal(res.body.kind, 'Status');
  });

  const selectorCases: Array<[string, string[]]> = [
    ['labelSelector=tier%3Ddb', ['a/s0', 'a/s2', 'b/s0', 'b/s2']],
    ['fieldSelector=type!%3Dkubernetes.io%2Fservice-account-token', ['a/s0', 'a/s1', 'a/s2', 'b/s0', 'b/s1', 'b/s2']],
    ['fieldSelector=type%3Dkubernetes.io%2Fservice-account-token', ['a/s3', 'b/s3']],
    ['labelSelector=tier%3Dweb&fieldSelector=metadata.namespace%3Db,type!%3Dkubernetes.io%2Fservice-account-token', ['b/s1']],
  ];
  for (const [query, expected] of selectorCases) {
    it(`applies selectors: ${decodeURIComponent(query)}`, async () => {
      const res = await get(`/api/v1/secrets?${query}&limit=2`, LIST_ACCEPT);
      const all = [...names(res.body.items)];
      let token = res.body.metadata.continue as string | undefined;
      while (token) {
        const next = await get(`/api/v1/secrets?${query}&limit=2&continue=${encodeURIComponent(token)}`, LIST_ACCEPT);
        all.push(...names(next.body.items));
        token = next.body.metadata.continue;
      }

      assert.equal(res.status, 200, res.text);
      assert.deepEqual(all, expected);
    });
  }

  it('rejects an unsupported field selector with the real message', async () => {
    const res = await get('/api/v1/secrets?fieldSelector=data.password%3Dx', LIST_ACCEPT);

    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'field label not supported: data.password');
  });

  it('answers an empty list with "items": null (the real server appends to a nil slice)', async () => {
    const res = await get('/api/v1/namespaces/a/secrets?labelSelector=nothing%3Dhere', LIST_ACCEPT);

    assert.equal(res.status, 200);
    assert.equal(res.body.kind, 'PartialObjectMetadataList');
    assert.match(res.text, /"items":null/);
  });

  it('serves meta.k8s.io/v1beta1 when asked for it', async () => {
    const res = await get('/api/v1/namespaces/b/secrets', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1');

    assert.equal(res.body.apiVersion, 'meta.k8s.io/v1beta1');
    assert.equal(res.body.items[0].apiVersion, 'meta.k8s.io/v1beta1');
  });

  it('answers a GET of one object with as=PartialObjectMetadata with its metadata only', async () => {
    const res = await get('/api/v1/namespaces/a/secrets/s2', OBJECT_ACCEPT);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: emu.get('v1', 'Secret', 'a', 's2')!.metadata,
    });
  });

  const notAcceptable: Array<[string, string, string, RegExp]> = [
    [
      'a GET of one object asking for a list (its JSON fallback clause is not used)',
      '/api/v1/namespaces/a/secrets/s2',
      LIST_ACCEPT,
      /^you requested PartialObjectMetadataList, but the requested object is not a list \(\*core\.Secret\)$/,
    ],
    [
      'a list asking for one object (its JSON fallback clause is not used)',
      '/apis/apps/v1/namespaces/a/deployments',
      OBJECT_ACCEPT,
      /^you requested PartialObjectMetadata, but the requested object is a list \(\*apps\.DeploymentList\)$/,
    ],
    ['a watch asking for a list', '/api/v1/namespaces/a/secrets?watch=true', LIST_ACCEPT, /not a list \(\*core\.Secret\)/],
    [
      'an unknown conversion with no fallback',
      '/api/v1/secrets',
      'application/json;as=Widget;g=meta.k8s.io;v=v1',
      /^only the following media types are accepted: application\/json, application\/yaml, application\/vnd.kubernetes.protobuf$/,
    ],
    [
      'an unknown meta version with no fallback',
      '/api/v1/secrets',
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v2',
      /^only the following media types are accepted/,
    ],
  ];
  for (const [what, path, accept, message] of notAcceptable) {
    it(`answers 406 NotAcceptable to ${what}`, async () => {
      const res = await get(path, accept);

      assert.equal(res.status, 406, res.text);
      assert.equal(res.body.kind, 'Status');
      assert.equal(res.body.reason, 'NotAcceptable');
      assert.match(res.body.message, message);
    });
  }

  it('skips clauses it cannot serve and takes the next acceptable one, in order of q', async () => {
    const fallback = await get('/api/v1/namespaces/a/secrets', 'application/json;as=Widget;g=meta.k8s.io;v=v1,application/json');
    const preferred = await get('/api/v1/namespaces/a/secrets', `application/json;q=0.5,${LIST_ACCEPT.split(',')[0]};q=0.9`);

    assert.equal(fallback.body.kind, 'SecretList');
    assert.equal(fallback.body.items[0].data.password, Buffer.from('value-a-0').toString('base64'));
    assert.equal(preferred.body.kind, 'PartialObjectMetadataList');
  });

  it('answers 404 for a missing object whatever form was asked for', async () => {
    const res = await get('/api/v1/namespaces/a/secrets/missing', LIST_ACCEPT);

    assert.equal(res.status, 404);
  });

  it('is the list verb for RBAC, and logs the Accept header', async () => {
    await emu.applyObjects([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'lister' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'lister' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lister' },
        subjects: [{ kind: 'ServiceAccount', name: 'scanner', namespace: 'a' }],
      },
    ]);
    const token = emu.serviceAccountToken('a', 'scanner');
    emu.requests.clear();

    const list = await api(emu, 'GET', '/api/v1/secrets', undefined, { token, headers: { Accept: LIST_ACCEPT } });
    const one = await api(emu, 'GET', '/api/v1/namespaces/a/secrets/s0', undefined, { token, headers: { Accept: OBJECT_ACCEPT } });

    assert.equal(list.status, 200);
    assert.equal(one.status, 403, 'a metadata-only GET is still the get verb');
    assert.deepEqual(
      emu.requests.entries.map((e) => [e.verb, e.accept]),
      [
        ['list', LIST_ACCEPT],
        ['get', OBJECT_ACCEPT],
      ],
    );
  });

  it('watches with as=PartialObjectMetadata: events and bookmarks carry metadata only', async () => {
    const controller = new AbortController();
    const res = await fetch(
      `${emu.url}/api/v1/namespaces/a/secrets?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`,
      {
        headers: { Accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1' },
        signal: controller.signal,
      },
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (text.split('\n').length <= 5) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const events = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; object: Partial & Record<string, unknown> });

    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.kind} ${e.object.metadata.name ?? ''}`),
      [
        'ADDED PartialObjectMetadata s0',
        'ADDED PartialObjectMetadata s1',
        'ADDED PartialObjectMetadata s2',
        'ADDED PartialObjectMetadata s3',
        'BOOKMARK PartialObjectMetadata ',
      ],
    );
    assert.ok(events.every((e) => e.object.data === undefined && e.object.type === undefined));
  });

  it('still serves server-side Tables to kubectl-style Accept headers', async () => {
    const res = await get(
      '/api/v1/namespaces/a/secrets',
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
    );

    assert.equal(res.body.kind, 'Table');
    assert.deepEqual(
      res.body.rows.map((r: { cells: unknown[] }) => r.cells[1]),
      ['Opaque', 'Opaque', 'Opaque', 'kubernetes.io/service-account-token'],
    );
  });
});
