import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import { InterruptedError } from '../../../shared/errors/index.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import type { ListPage } from '../../../shared/kube/list-pages.js';
import type { SecretMetadata, SecretStore } from '../../../shared/kube/secrets.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { BackendRegistry } from '../../../shared/rotate/backend.js';
import { startRotations } from '../../../shared/rotate/candidates.js';
import { scanSecrets } from '../../../shared/rotate/inventory.js';
import type { RotationDeps } from '../../../shared/rotate/rotation.js';
import { Shutdown } from '../../../shared/runtime/shutdown.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const POLICY = 'maxAge: 30d\nkeys: { p: password }';
const LONG_AGO = { 'secret-steward.io/last-rotated': '2020-01-01T00:00:00Z' };

/** What the fake API does on a GET of one Secret. */
type OnGet = 'forbidden' | { delayMs: number } | ((s: V1Secret) => V1Secret | undefined);

/**
 * An in-memory SecretStore: `listMetadata` pages metadata only, `get` returns copies, counts
 * reads, and can fail, delay or change a Secret when it is read.
 */
class FakeSecrets implements Pick<SecretStore, 'listMetadata' | 'get'> {
  readonly gets: string[] = [];
  readonly onGet = new Map<string, OnGet>();
  private readonly secrets = new Map<string, V1Secret>();

  add(
    name: string,
    o: {
      annotations?: Record<string, string>;
      labels?: Record<string, string>;
      immutable?: boolean;
      type?: string;
      data?: Record<string, string>;
    } = {},
  ): void {
    this.secrets.set(`ns/${name}`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        namespace: 'ns',
        name,
        uid: `uid-${name}`,
        resourceVersion: '1',
        creationTimestamp: new Date('2020-01-01T00:00:00Z'),
        annotations: o.annotations,
        labels: o.labels,
      },
      type: o.type ?? 'Opaque',
      immutable: o.immutable,
      data: o.data ?? { p: Buffer.from(`old-${name}`).toString('base64') },
    });
  }

  async *listMetadata(): AsyncGenerator<ListPage<SecretMetadata>> {
    yield {
      items: [...this.secrets.values()].map((s) => ({ metadata: structuredClone(s.metadata!) })),
      resourceVersion: '1',
      restarted: false,
    };
  }

  async get(namespace: string, name: string): Promise<V1Secret | undefined> {
    this.gets.push(name);
    const behaviour = this.onGet.get(name);
    if (behaviour === 'forbidden')
      throw new KubeError({ verb: 'get', kind: 'Secret', namespace, name }, { status: 403, reason: 'Forbidden' });
    if (behaviour !== undefined && typeof behaviour === 'object') await new Promise((r) => setTimeout(r, behaviour.delayMs));
    const s = this.secrets.get(`${namespace}/${name}`);
    const copy = s === undefined ? undefined : structuredClone(s);
    return typeof behaviour === 'function' && copy !== undefined ? behaviour(copy) : copy;
  }
}

function depsFor(secrets: FakeSecrets, shutdown = new Shutdown()): RotationDeps {
  return {
    secrets: secrets as unknown as SecretStore,
    log: createLogger({ sink: new MemorySink() }),
    shutdown,
    register: () => {},
    backends: new BackendRegistry(),
  } as unknown as RotationDeps;
}

async function plan(
  secrets: FakeSecrets,
  maxRotations: number,
  o: { concurrency?: number; act?: (name: string) => Promise<void>; shutdown?: Shutdown } = {},
) {
  const deps = depsFor(secrets, o.shutdown);
  const inv = await scanSecrets(deps, { namespaces: [], now: NOW, backends: deps.backends });
  const started = await startRotations(
    inv.candidates,
    deps,
    { maxRotations, concurrency: o.concurrency ?? 4, now: NOW, backends: deps.backends },
    (rot) => o.act?.(rot.name) ?? Promise.resolve(),
  );
  return {
    inv,
    rotated: started.rotations.map((r) => r.rotation.name),
    unrotated: started.unrotated.map((i) => `${i.name}:${i.action}`),
    unreadable: started.unreadable.map((u) => u.candidate.head.metadata.name),
    deferred: started.deferred.map((c) => c.head.metadata.name),
  };
}

describe('shared/rotate/candidates', () => {
  it('reads nothing to plan: the scan judges from metadata, and only the candidates are read', async () => {
    const secrets = new FakeSecrets();
    secrets.add('due', { annotations: { 'secret-steward.io/rotation': POLICY, ...LONG_AGO } });
    secrets.add('fresh', {
      annotations: { 'secret-steward.io/rotation': POLICY, 'secret-steward.io/last-rotated': '2026-05-30T00:00:00Z' },
    });
    secrets.add('plain');

    const r = await plan(secrets, 0);

    assert.deepEqual(
      r.inv.items.map((i) => `${i.name}:${i.action}`),
      ['fresh:not-due'],
    );
    assert.deepEqual(r.rotated, ['due']);
    assert.deepEqual(secrets.gets, ['due']);
  });

  // Each row: Secrets in name order (`ok` rotatable, `frozen` immutable in-place: invalid once read,
  // `forbidden` unreadable), --max-rotations, then what happens to each.
  const limits: Array<
    [string, string[], number, { rotated: string[]; unrotated: string[]; unreadable: string[]; deferred: string[]; read: string[] }]
  > = [
    [
      'a Secret found invalid when read gives its place to the next',
      ['frozen', 'ok', 'ok'],
      1,
      { rotated: ['s2'], unrotated: ['s1:invalid'], unreadable: [], deferred: ['s3'], read: ['s1', 's2'] },
    ],
    [
      'two places, one invalid among them',
      ['ok', 'frozen', 'ok', 'ok'],
      2,
      { rotated: ['s1', 's3'], unrotated: ['s2:invalid'], unreadable: [], deferred: ['s4'], read: ['s1', 's2', 's3'] },
    ],
    [
      'an unreadable Secret keeps its place (it was attempted)',
      ['forbidden', 'ok'],
      1,
      { rotated: [], unrotated: [], unreadable: ['s1'], deferred: ['s2'], read: ['s1'] },
    ],
    [
      'no limit',
      ['ok', 'frozen', 'forbidden', 'ok'],
      0,
      { rotated: ['s1', 's4'], unrotated: ['s2:invalid'], unreadable: ['s3'], deferred: [], read: ['s1', 's2', 's3', 's4'] },
    ],
    ['more places than candidates', ['ok'], 5, { rotated: ['s1'], unrotated: [], unreadable: [], deferred: [], read: ['s1'] }],
  ];
  for (const [what, kinds, max, expected] of limits) {
    for (const concurrency of [1, 4]) {
      it(`--max-rotations ${max}, ${concurrency} at once: ${what}`, async () => {
        const secrets = new FakeSecrets();
        kinds.forEach((k, i) => {
          secrets.add(`s${i + 1}`, { annotations: { 'secret-steward.io/rotation': POLICY, ...LONG_AGO }, immutable: k === 'frozen' });
          if (k === 'forbidden') secrets.onGet.set(`s${i + 1}`, 'forbidden');
        });

        const r = await plan(secrets, max, { concurrency });

        assert.deepEqual(
          { rotated: r.rotated, unrotated: r.unrotated, unreadable: r.unreadable, deferred: r.deferred, read: [...secrets.gets].sort() },
          expected,
        );
      });
    }
  }

  it('continues rotations in flight first and does not count them against --max-rotations', async () => {
    const secrets = new FakeSecrets();
    secrets.add('a-due', { annotations: { 'secret-steward.io/rotation': POLICY, ...LONG_AGO } });
    secrets.add('b-due', { annotations: { 'secret-steward.io/rotation': POLICY, ...LONG_AGO } });
    secrets.add('z-in-flight', { annotations: { 'secret-steward.io/rotation': POLICY } });
    secrets.add('z-in-flight-pending', {
      labels: { 'secret-steward.io/role': 'pending', 'secret-steward.io/rotation-id': 'r-1' },
      annotations: {
        'secret-steward.io/companion-of': 'z-in-flight',
        'secret-steward.io/rotation-step': 'created',
        'secret-steward.io/rotated-keys': 'p',
      },
      data: { p: Buffer.from('new-value').toString('base64') },
    });

    const r = await plan(secrets, 1);

    assert.deepEqual(r.rotated, ['z-in-flight', 'a-due']);
    assert.deepEqual(r.deferred, ['b-due']);
    assert.deepEqual(
      [...secrets.gets].sort(),
      ['a-due', 'z-in-flight', 'z-in-flight-pending'],
      "the pending companion is read (its values are the rotation's); b-due is not",
    );
  });

  it("returns rotations in the scan's order whatever order the reads finish in", async () => {
    const secrets = new FakeSecrets();
    for (const name of ['s1', 's2', 's3']) secrets.add(name, { annotations: { 'secret-steward.io/rotation': POLICY, ...LONG_AGO } });
    secrets.onGet.set('s1', { delayMs: 30 });
    const acted: string[] = [];

    const r = await plan(secrets, 0, { act: async (name) => void acted.push(name) });

    assert.deepEqual(acted, ['s2', 's3', 's1'], 'each acted on right after its own read');
    assert.deepEqual(r.rotated, ['s1', 's2', 's3']);
  });

  const changes: Array<[string, (s: V1Secret) => V1Secret | undefined, string[], string[]]> = [
    ['deleted', () => undefined, [], []],
    ['policy removed', (s) => ({ ...s, metadata: { ...s.metadata, annotations: {} } }), [], []],
    [
      'rotated by someone else',
      (s) => ({
        ...s,
        metadata: { ...s.metadata, annotations: { ...s.metadata!.annotations, 'secret-steward.io/last-rotated': '2026-05-31T00:00:00Z' } },
      }),
      [],
      ['s1:not-due'],
    ],
    ['now of type helm.sh/release.v1', (s) => ({ ...s, type: 'helm.sh/release.v1' }), [], ['s1:skip']],
    ['a template input key removed', (s) => ({ ...s, data: {} }), [], ['s1:invalid']],
    ['unchanged', (s) => s, ['s1'], []],
  ];
  for (const [what, change, rotated, unrotated] of changes) {
    it(`judges a Secret again when read: ${what}`, async () => {
      const secrets = new FakeSecrets();
      secrets.add('s1', {
        annotations: {
          'secret-steward.io/rotation': 'maxAge: 30d\nkeys: { url: { generator: template, template: "{{ user }}" } }',
          ...LONG_AGO,
        },
        data: { user: 'dQ==' },
      });
      secrets.onGet.set('s1', change);

      const r = await plan(secrets, 0);

      assert.deepEqual(r.rotated, rotated);
      assert.deepEqual(r.unrotated, unrotated);
    });
  }

  it('stops reading when a stop is requested, once the work in flight has settled', async () => {
    const secrets = new FakeSecrets();
    for (const name of ['s1', 's2', 's3', 's4']) secrets.add(name, { annotations: { 'secret-steward.io/rotation': POLICY, ...LONG_AGO } });
    const shutdown = new Shutdown();

    const run = plan(secrets, 0, { concurrency: 1, shutdown, act: async () => shutdown.request('SIGTERM') });

    await assert.rejects(run, InterruptedError);
    assert.deepEqual(secrets.gets, ['s1']);
  });
});
