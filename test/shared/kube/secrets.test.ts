import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { StewardError } from '../../../shared/errors/index.js';
import { createKubeClients } from '../../../shared/kube/client.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import { METADATA_LIST_ACCEPT, toMetadataPage } from '../../../shared/kube/list-pages.js';
import { KubeSecretStore, SecretJson, type SecretMetadata } from '../../../shared/kube/secrets.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { type Clock, fixedClock } from '../../../shared/runtime/clock.js';
import { KubeEmulator } from '../../emulator/index.js';

const instantClock: Clock = { now: () => new Date(), sleep: async () => {} };

/** A store on the emulator; `typed`: without the kubeconfig, so that its fast paths go through the typed client. */
function storeFor(emu: KubeEmulator, token?: string, o: { typed?: boolean } = {}): { store: KubeSecretStore; sink: MemorySink } {
  const kc = new KubeConfig();
  kc.loadFromString(emu.kubeconfigYaml({ token }));
  const sink = new MemorySink();
  const log = createLogger({ sink });
  const kube = createKubeClients(kc, { command: 'test', clock: instantClock, log });
  return { store: new KubeSecretStore(kube.core, kube.caller, log, o.typed ? undefined : kc), sink };
}

async function collect(
  pages: AsyncGenerator<{ items: Array<{ metadata?: { namespace?: string; name?: string } }>; restarted: boolean }>,
): Promise<{ names: string[]; pages: number; restarts: number }> {
  let names: string[] = [];
  let count = 0;
  let restarts = 0;
  for await (const page of pages) {
    count++;
    if (page.restarted) {
      restarts++;
      names = [];
    }
    names.push(...page.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`));
  }
  return { names, pages: count, restarts };
}

describe('shared/kube/secrets', () => {
  describe('KubeSecretStore.listMetadata (against the API emulator)', () => {
    let emu: KubeEmulator;
    let clock: number;

    beforeEach(async () => {
      clock = Date.parse('2026-03-01T00:00:00Z');
      emu = await KubeEmulator.start({ now: () => new Date(clock), continueTtlMs: 60_000 });
      for (const ns of ['a', 'b', 'c']) {
        emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
        for (let i = 0; i < 5; i++) {
          emu.create({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: `s${i}`,
              namespace: ns,
              labels: { app: i < 2 ? 'api' : 'web' },
              annotations: { 'secret-steward.io/rotation': 'maxAge: 30d' },
            },
            type: i === 4 ? 'helm.sh/release.v1' : 'Opaque',
            data: { password: Buffer.from(`canary-${ns}-${i}`).toString('base64') },
          });
        }
      }
    });
    afterEach(async () => {
      await emu.stop();
    });

    it('pages through every Secret with metadata-only list requests: names, labels, annotations, uid and resourceVersion, never data', async () => {
      const { store, sink } = storeFor(emu);
      const seen: SecretMetadata[] = [];

      for await (const page of store.listMetadata(undefined, { pageSize: 4 })) seen.push(...page.items);

      assert.equal(seen.length, 15);
      const stored = emu.get('v1', 'Secret', 'b', 's3')!;
      const item = seen.find((s) => s.metadata.namespace === 'b' && s.metadata.name === 's3')!;
      assert.deepEqual(Object.keys(item), ['metadata']);
      assert.equal(item.metadata.uid, stored.metadata.uid);
      assert.equal(item.metadata.resourceVersion, stored.metadata.resourceVersion);
      assert.deepEqual(item.metadata.labels, { app: 'web' });
      assert.equal(item.metadata.annotations!['secret-steward.io/rotation'], 'maxAge: 30d');
      assert.ok(item.metadata.creationTimestamp instanceof Date);
      assert.ok(!JSON.stringify(seen).includes(Buffer.from('canary-').toString('base64').slice(0, 8)), 'no data value');
      const lists = emu.requests.filter((e) => e.resource === 'secrets');
      assert.deepEqual([...new Set(lists.map((e) => `${e.verb} ${e.accept}`))], [`list ${METADATA_LIST_ACCEPT}`]);
      assert.deepEqual(
        lists.map((e) => e.query.limit),
        ['4', '16'],
        'after the first page, pages grow to what about 4 MiB of metadata allows (at most 4 x pageSize)',
      );
      assert.equal(sink.records().filter((r) => r.level === 'warn').length, 0, 'the server converted every page');
    });

    it('counts managedFields when sizing metadata-only pages: they come with every object a real server returns', async () => {
      emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'heavy' } });
      // About 700 KB of managedFields per Secret (a body's managedFields are kept, as on a real server).
      const managedFields = [
        {
          manager: 'many-writers',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-03-01T00:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:annotations': { [`f:${'x'.repeat(700_000)}`]: {} } } },
        },
      ];
      for (let i = 0; i < 6; i++) {
        emu.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `h${i}`, namespace: 'heavy', managedFields } } as never);
      }
      const { store } = storeFor(emu);
      emu.requests.clear();

      const { names } = await collect(store.listMetadata('heavy', { pageSize: 4 }));

      assert.equal(names.length, 6);
      assert.deepEqual(
        emu.requests.filter((e) => e.resource === 'secrets').map((e) => e.query.limit),
        ['4', '10'],
        'about 4 MiB per page: the floor of 10 items, not 4 x pageSize',
      );
    });

    const scoped: Array<[string, string | undefined, { labelSelector?: string; fieldSelector?: string }, string[]]> = [
      ['one namespace', 'b', {}, ['b/s0', 'b/s1', 'b/s2', 'b/s3', 'b/s4']],
      ['a label selector', undefined, { labelSelector: 'app=api' }, ['a/s0', 'a/s1', 'b/s0', 'b/s1', 'c/s0', 'c/s1']],
      ['a field selector on type', 'c', { fieldSelector: 'type!=helm.sh/release.v1' }, ['c/s0', 'c/s1', 'c/s2', 'c/s3']],
      ['both, matching nothing', 'a', { labelSelector: 'app=nothing', fieldSelector: 'type=Opaque' }, []],
    ];
    for (const [what, namespace, options, expected] of scoped) {
      it(`lists with ${what}`, async () => {
        const { store } = storeFor(emu);

        const { names } = await collect(store.listMetadata(namespace, { ...options, pageSize: 2 }));

        assert.deepEqual(names, expected);
      });
    }

    it('restarts from the first page when a continue token expired (410), flagging the restart', async () => {
      const { store } = storeFor(emu);
      const pages = store.listMetadata(undefined, { pageSize: 10 });
      const first = await pages.next();
      clock += 61_000;

      const rest = await collect(pages);

      assert.equal(first.value!.items.length, 10);
      assert.equal(rest.restarts, 1);
      assert.equal(rest.names.length, 15, 'the restarted list holds every Secret once');
    });

    it('retries a list page the server answered with 503 (default pages of 500)', async () => {
      const { store } = storeFor(emu);
      emu.faults.inject({ method: 'GET', path: '/api/v1/namespaces/a/secrets', status: 503, times: 1 });

      const { names } = await collect(store.listMetadata('a'));

      assert.equal(names.length, 5);
      assert.deepEqual(
        emu.requests.filter((e) => e.resource === 'secrets').map((e) => `${e.status} limit=${e.query.limit}`),
        ['503 limit=500', '200 limit=500'],
        'the same page asked again; pages of 500 by default',
      );
    });

    it('fails with a KubeError naming the list when RBAC forbids it', async () => {
      const token = emu.serviceAccountToken('a', 'nobody');
      const { store } = storeFor(emu, token);

      await assert.rejects(
        collect(store.listMetadata(undefined)),
        (e: unknown) => e instanceof KubeError && e.forbidden && /failed to list Secrets in all namespaces: 403 Forbidden/.test(e.message),
      );
    });
  });

  describe('KubeSecretStore writes and fast paths (against the API emulator)', () => {
    let emu: KubeEmulator;
    let clock: number;
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const secret = (name: string, value: string, labels?: Record<string, string>): V1Secret => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'a', ...(labels ? { labels } : {}) },
      type: 'Opaque',
      data: { v: b64(value) },
    });
    const stored = (name: string) => emu.get('v1', 'Secret', 'a', name) as unknown as V1Secret | undefined;
    const secretRequests = () => emu.requests.filter((e) => e.resource === 'secrets');

    beforeEach(async () => {
      clock = Date.parse('2026-03-01T00:00:00Z');
      emu = await KubeEmulator.start({ now: () => new Date(clock), continueTtlMs: 60_000 });
      emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
      for (let i = 0; i < 4; i++) emu.create(secret(`s${i}`, `value-${i}`, { app: i < 2 ? 'api' : 'web' }) as never);
      emu.requests.clear();
    });
    afterEach(async () => {
      await emu.stop();
    });

    it('sends create, replace and delete with dryRun=All when asked: nothing is persisted, errors say "(dry run)"', async () => {
      const { store } = storeFor(emu);
      const live = stored('s0')!;

      const created = await store.create('a', secret('new', 'x'), { dryRun: true });
      await store.replace('a', 's0', { ...secret('s0', 'changed'), metadata: { ...live.metadata } }, { dryRun: true });
      const deleted = await store.delete('a', 's1', { uid: stored('s1')!.metadata!.uid }, { dryRun: true });

      assert.equal(created.metadata?.name, 'new');
      assert.equal(deleted, true);
      assert.equal(stored('new'), undefined);
      assert.equal(stored('s0')!.data!.v, b64('value-0'));
      assert.ok(stored('s1'));
      assert.deepEqual(
        secretRequests().map((e) => `${e.verb} ${e.dryRun}`),
        ['create true', 'update true', 'delete true'],
      );
      await assert.rejects(
        store.create('a', secret('s2', 'x'), { dryRun: true }),
        (e: unknown) =>
          e instanceof KubeError && e.alreadyExists && /failed to create Secret a\/s2 \(dry run\): 409 AlreadyExists/.test(e.message),
      );
    });

    it('returns the same Secret from a create with a plain JSON request as through the typed client (dates as Date)', async () => {
      const answers: V1Secret[] = [];
      for (const typed of [false, true]) {
        const { store } = storeFor(emu, undefined, { typed });
        answers.push(await store.create('a', secret(typed ? 'typed' : 'plain', 'v', { app: 'x' })));
      }

      const [plain, typed] = answers;
      assert.ok(plain.metadata?.creationTimestamp instanceof Date);
      assert.ok(plain.metadata?.managedFields?.every((f) => f.time instanceof Date));
      // As plain JSON: the typed client's answer is made of model class instances.
      const comparable = (s: V1Secret) =>
        JSON.parse(JSON.stringify({ ...s, metadata: { ...s.metadata, name: '', uid: '', resourceVersion: '' } }));
      assert.deepEqual(comparable(plain), comparable(typed));
      assert.deepEqual(
        secretRequests().map((e) => `${e.method} ${e.status} ${e.accept}`),
        ['POST 201 application/json', 'POST 201 application/json, */*;q=0.8'],
      );
      await assert.rejects(
        storeFor(emu).store.create('a', secret('s0', 'x')),
        (e: unknown) => e instanceof KubeError && e.alreadyExists && /failed to create Secret a\/s0: 409 AlreadyExists/.test(e.message),
      );
    });

    for (const typed of [false, true]) {
      it(`creates from the JSON a caller kept (SecretJson) as from the object ${typed ? 'through the typed client' : 'with a plain request'}`, async () => {
        const { store } = storeFor(emu, undefined, { typed });
        const asJson = (s: V1Secret) => new SecretJson(s.metadata!.name!, Buffer.from(JSON.stringify(s)));

        const fromJson = await store.create('a', asJson(secret('from-json', 'v', { app: 'x' })));
        const fromObject = await store.create('a', secret('from-object', 'v', { app: 'x' }));

        const comparable = (x: V1Secret | undefined) =>
          JSON.parse(JSON.stringify({ ...x, metadata: { ...x?.metadata, name: '', uid: '', resourceVersion: '' } }));
        assert.deepEqual(comparable(fromJson), comparable(fromObject));
        assert.deepEqual(comparable(stored('from-json')), comparable(stored('from-object')));
        assert.ok(fromJson.metadata?.creationTimestamp instanceof Date);
        await assert.rejects(
          store.create('a', asJson(secret('s0', 'x')), { dryRun: true }),
          (e: unknown) =>
            e instanceof KubeError && e.alreadyExists && /failed to create Secret a\/s0 \(dry run\): 409 AlreadyExists/.test(e.message),
        );
      });

      it(`creates without reading the echo ${typed ? 'through the typed client (no kubeconfig)' : 'with a plain request'}`, async () => {
        const { store } = storeFor(emu, undefined, { typed });

        await store.createWithoutEcho('a', secret('copy', 'copied'));

        assert.equal(stored('copy')!.data!.v, b64('copied'));
        assert.deepEqual(
          secretRequests().map((e) => `${e.method} ${e.path} ${e.accept}`),
          [`POST /api/v1/namespaces/a/secrets ${typed ? 'application/json, */*;q=0.8' : 'application/json'}`],
        );
      });
    }

    it('fails a create without echo like a create, and retries it after a 500 only with retryUnknownOutcome', async () => {
      const { store } = storeFor(emu);
      const post = { method: 'POST', path: '/api/v1/namespaces/a/secrets', status: 500 };

      await assert.rejects(store.createWithoutEcho('a', secret('s0', 'x')), (e: unknown) => e instanceof KubeError && e.alreadyExists);
      emu.faults.inject(post);
      await assert.rejects(
        store.createWithoutEcho('a', secret('once', 'x')),
        (e: unknown) => e instanceof KubeError && e.outcomeUnknown && /failed to create Secret a\/once: 500/.test(e.message),
      );
      emu.faults.inject(post);
      await store.createWithoutEcho('a', secret('retried', 'x'), { retryUnknownOutcome: true });

      assert.equal(stored('once'), undefined);
      assert.ok(stored('retried'));
      assert.deepEqual(
        secretRequests().map((e) => e.status),
        [409, 500, 500, 201],
      );
    });

    it('retries a replace after a 503 (guarded by resourceVersion) unless retryUnknownOutcome is false', async () => {
      const { store } = storeFor(emu);
      const put = { method: 'PUT', path: '/api/v1/namespaces/a/secrets/s0', status: 503 };
      const body = () => ({ ...secret('s0', 'new'), metadata: { ...stored('s0')!.metadata } });

      emu.faults.inject(put);
      await assert.rejects(
        store.replace('a', 's0', body(), { retryUnknownOutcome: false }),
        (e: unknown) => e instanceof KubeError && e.outcomeUnknown,
      );
      emu.faults.inject(put);
      await store.replace('a', 's0', body());

      assert.equal(stored('s0')!.data!.v, b64('new'));
      assert.deepEqual(
        secretRequests().map((e) => e.status),
        [503, 503, 200],
      );
    });

    for (const typed of [false, true]) {
      it(`deletes by label selector with ONE deletecollection ${typed ? 'through the typed client' : 'with a plain request'}`, async () => {
        const { store } = storeFor(emu, undefined, { typed });

        await store.deleteCollection('a', 'app=api');

        assert.deepEqual(
          emu.list('v1', 'Secret', 'a').map((x) => (x.metadata as { name: string }).name),
          ['s2', 's3'],
        );
        assert.deepEqual(
          secretRequests().map((e) => `${e.verb} ${e.query.labelSelector}`),
          ['deletecollection app=api'],
        );
      });
    }

    it('lists the same pages with a plain JSON request as through the typed client (dates as Date, continue followed)', async () => {
      emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } });
      emu.create({ ...secret('other', 'x', { app: 'api' }), metadata: { name: 'other', namespace: 'b', labels: { app: 'api' } } } as never);
      const comparable = (x: unknown) => JSON.parse(JSON.stringify(x));
      const listed: Array<{ typed: boolean; a: unknown[]; all: unknown[] }> = [];
      for (const typed of [false, true]) {
        const { store } = storeFor(emu, undefined, { typed });
        const a: unknown[] = [];
        for await (const page of store.list('a', { labelSelector: 'app=api', pageSize: 1 })) a.push(comparable(page));
        const all: unknown[] = [];
        for await (const page of store.list(undefined, { fieldSelector: 'metadata.name!=s3', pageSize: 2 })) {
          if (!typed) assert.ok(page.items.every((x) => x.metadata?.creationTimestamp instanceof Date));
          if (!typed) assert.ok(page.items.every((x) => x.metadata?.managedFields?.every((f) => f.time instanceof Date)));
          all.push(comparable(page));
        }
        listed.push({ typed, a, all });
      }

      const [plain, typed] = listed;
      assert.equal(plain.a.length, 2, 'two pages of one Secret each');
      assert.equal(plain.all.length, 2, 'four Secrets (not s3), two per page');
      assert.deepEqual(plain.a, typed.a);
      assert.deepEqual(plain.all, typed.all);
      const lists = secretRequests().map((e) => `${e.path} ${e.query.continue === undefined ? 'first' : 'continued'} ${e.accept}`);
      assert.deepEqual(lists.slice(0, 4), [
        '/api/v1/namespaces/a/secrets first application/json',
        '/api/v1/namespaces/a/secrets continued application/json',
        '/api/v1/secrets first application/json',
        '/api/v1/secrets continued application/json',
      ]);
      assert.equal(lists.length, 8);
      assert.ok(
        lists.slice(4).every((l) => l.endsWith('application/json, */*;q=0.8')),
        'the typed client sends its own Accept',
      );
    });

    it('refuses a list answer that is not a SecretList instead of reading it as empty', async () => {
      const { store } = storeFor(emu);
      // A 200 whose body is a Status: what a proxy or a broken aggregation layer might send.
      emu.faults.inject({ method: 'GET', path: '/api/v1/namespaces/a/secrets', status: 200 });

      await assert.rejects(
        collect(store.list('a', { labelSelector: 'app=api', detail: '(read back, label app=api)' })),
        (e: unknown) =>
          e instanceof StewardError &&
          e.message ===
            'failed to list Secrets in namespace a (read back, label app=api): the API server answered with kind Status, not a SecretList with items',
      );
    });

    it('names the selector when a deletecollection or a list with a detail is refused', async () => {
      const { store } = storeFor(emu, emu.serviceAccountToken('a', 'nobody'));

      await assert.rejects(
        store.deleteCollection('a', 'app=api'),
        (e: unknown) =>
          e instanceof KubeError &&
          e.forbidden &&
          /failed to deletecollection Secrets in namespace a \(label app=api\): 403/.test(e.message),
      );
      await assert.rejects(
        collect(store.list('a', { labelSelector: 'app=api', detail: '(read back, label app=api)' })),
        (e: unknown) => e instanceof KubeError && /failed to list Secrets in namespace a \(read back, label app=api\): 403/.test(e.message),
      );
    });

    it('lists with a field selector, sizes later pages by pageBytes, and leaves a 410 to the caller with maxRestarts 0', async () => {
      const { store } = storeFor(emu);

      const { names } = await collect(store.list('a', { fieldSelector: 'metadata.name!=s3', pageSize: 2, pageBytes: 1 }));
      const pages = store.list('a', { pageSize: 2, maxRestarts: 0 });
      await pages.next();
      clock += 61_000;

      assert.deepEqual(names, ['a/s0', 'a/s1', 'a/s2']);
      assert.deepEqual(
        secretRequests().map((e) => e.query.limit),
        ['2', '10', '2'],
        'a page of at least 10 once the size of the first is known',
      );
      await assert.rejects(pages.next(), (e: unknown) => e instanceof KubeError && e.expired);
    });
  });

  describe('a server that cannot convert', () => {
    it('keeps only the metadata of full objects and warns once per list', async () => {
      const full = {
        kind: 'SecretList',
        items: [
          { metadata: { name: 'x', namespace: 'n' }, type: 'Opaque', data: { k: 'dmFsdWU=' } },
          { metadata: { name: 'y', namespace: 'n' }, data: { k: 'dmFsdWU=' } },
        ],
        metadata: {},
      };
      const core = { listNamespacedSecret: async () => full } as unknown as CoreV1Api;
      const sink = new MemorySink();
      const log = createLogger({ sink });
      const { KubeCaller } = await import('../../../shared/kube/kube-call.js');
      const store = new KubeSecretStore(core, new KubeCaller({ clock: fixedClock(new Date(0)), log }), log);

      const { names } = await collect(store.listMetadata('n'));

      assert.deepEqual(names, ['n/x', 'n/y']);
      assert.deepEqual(toMetadataPage(full).items, [
        { metadata: { name: 'x', namespace: 'n' } },
        { metadata: { name: 'y', namespace: 'n' } },
      ]);
      assert.equal(
        sink.records().filter((r) => r.level === 'warn' && /answered a metadata-only list of Secrets with full Secrets/.test(String(r.msg)))
          .length,
        1,
      );
    });

    const value = Buffer.from('canary-value-in-a-hostile-answer').toString('base64');
    const truncated = `{"kind":"SecretList","items":[{"metadata":{"name":"x"},"data":{"k":"${value}"`;
    for (const [what, body, message] of [
      [
        'not JSON (truncated), by its size, never by its text (it holds values)',
        truncated,
        `GET /api/v1/namespaces/n/secrets: the API server answered 200 with ${truncated.length} characters that are not JSON`,
      ],
      [
        'a list with an item that is not an object',
        `{"kind":"SecretList","items":[{"metadata":{"name":"x"},"data":{"k":"${value}"}},null]}`,
        'failed to list Secrets in namespace n: an item of the answer is not an object',
      ],
      [
        'a JSON array',
        `[{"data":{"k":"${value}"}}]`,
        'failed to list Secrets in namespace n: the API server answered with a JSON array, not a SecretList with items',
      ],
    ]) {
      it(`refuses a list answer that is ${what}`, async () => {
        const server = createServer((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        });
        await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
        try {
          const kc = new KubeConfig();
          const { port } = server.address() as AddressInfo;
          kc.loadFromOptions({
            clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
            users: [{ name: 'u' }],
            contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
            currentContext: 'x',
          });
          const log = createLogger({ sink: new MemorySink() });
          const kube = createKubeClients(kc, { command: 'test', clock: instantClock, log });
          const store = new KubeSecretStore(kube.core, kube.caller, log, kc);

          await assert.rejects(collect(store.list('n')), (e: unknown) => {
            assert.ok(e instanceof StewardError);
            assert.equal(e.message, message);
            assert.equal(e.cause, undefined, "JSON.parse's own message quotes the text");
            return true;
          });
        } finally {
          server.close();
        }
      });
    }

    it('reads "items": null (an empty PartialObjectMetadataList) as no items', () => {
      const page = toMetadataPage({ kind: 'PartialObjectMetadataList', items: null, metadata: { resourceVersion: '9' } });

      assert.deepEqual(page, { items: [], metadata: { resourceVersion: '9' }, converted: true });
    });
  });
});
