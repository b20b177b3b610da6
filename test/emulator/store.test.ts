import assert from 'node:assert/strict';
import { ObjectStore } from './store.js';
import type { StoredKubeObject } from './types.js';

describe('test/emulator/store', () => {
  // etcd lists a range of keys `namespace/name` in byte order; `a-b/` sorts before `a/` ('-' is
  // below '/'), so the order is not namespace by namespace in namespace name order.
  const namespaces = ['a', 'a-b', 'a0', 'b', 'ab'];
  const secret = (namespace: string, name: string): StoredKubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace, name, uid: `uid-${namespace}-${name}`, resourceVersion: '', creationTimestamp: '2026-12-08T00:00:00Z' },
  });

  it('keeps keys in etcd order across creates and deletes, per namespace and cluster-wide', () => {
    const store = new ObjectStore();
    const live = new Set<string>();
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 2_000; i++) {
      const ns = namespaces[next() % namespaces.length];
      const key = `${ns}/s-${next() % 300}`;
      if (live.has(key) && next() % 2 === 0) {
        store.remove('secrets', key);
        live.delete(key);
      } else {
        store.put('secrets', secret(ns, key.slice(ns.length + 1)));
        live.add(key);
      }
      if (i % 97 === 0) assert.deepEqual([...store.collection('secrets').sortedKeys()], [...live].sort());
    }
    const c = store.collection('secrets');
    assert.deepEqual(
      c.sortedEntries().map((e) => e.key),
      [...live].sort(),
    );
    for (const ns of namespaces) {
      assert.deepEqual(
        c.sortedEntries(ns).map((e) => e.key),
        [...live].filter((k) => k.startsWith(`${ns}/`)).sort(),
      );
    }
  });

  it('forgets a namespace whose last object is deleted, and orders it again when it returns', () => {
    const store = new ObjectStore();
    store.put('secrets', secret('a', 'x'));
    store.put('secrets', secret('a-b', 'y'));
    store.remove('secrets', 'a/x');
    const c = store.collection('secrets');
    assert.deepEqual(c.sortedEntries('a'), []);
    assert.deepEqual([...c.sortedKeys()], ['a-b/y']);
    store.put('secrets', secret('a', 'x'));
    assert.deepEqual([...c.sortedKeys()], ['a-b/y', 'a/x']);
  });
});
