import assert from 'node:assert/strict';
import { secret } from './helpers.js';
import { KubeEmulator } from './index.js';

interface WatchEvent {
  type: string;
  object: {
    kind?: string;
    code?: number;
    reason?: string;
    metadata: { name: string; resourceVersion: string; labels?: Record<string, string> };
  };
}

/** Opens a watch and collects events until `count` arrived (or the stream ends). */
async function collect(emu: KubeEmulator, path: string, count: number, act?: () => void | Promise<void>): Promise<WatchEvent[]> {
  const controller = new AbortController();
  const res = await fetch(`${emu.url}${path}`, { signal: controller.signal });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: WatchEvent[] = [];
  let buffer = '';
  const acting = act ? Promise.resolve().then(act) : Promise.resolve();
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buffer.slice(0, nl)) as WatchEvent);
      buffer = buffer.slice(nl + 1);
    }
  }
  await acting;
  controller.abort();
  return events;
}

describe('test/emulator/watch', () => {
  let emu: KubeEmulator;
  const base = '/api/v1/namespaces/default/secrets';

  beforeEach(async () => {
    emu = await KubeEmulator.start();
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('sends the current objects as ADDED, then live ADDED/MODIFIED/DELETED events', async () => {
    emu.create({ ...secret('existing'), metadata: { name: 'existing', namespace: 'default' } } as never);

    const events = await collect(emu, `${base}?watch=true`, 4, () => {
      const s = emu.create({ ...secret('new'), metadata: { name: 'new', namespace: 'default' } } as never);
      emu.update({ ...s, data: { key: 'Mg==' } });
      emu.delete('v1', 'Secret', 'default', 'new');
    });

    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED existing', 'ADDED new', 'MODIFIED new', 'DELETED new'],
    );
    assert.equal(events[1].object.kind, 'Secret');
    const rvs = events.slice(1).map((e) => Number(e.object.metadata.resourceVersion));
    assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], 'the DELETED event carries a new resourceVersion');
  });

  it('replays history after a resourceVersion', async () => {
    const first = emu.create({ ...secret('a'), metadata: { name: 'a', namespace: 'default' } } as never);
    emu.create({ ...secret('b'), metadata: { name: 'b', namespace: 'default' } } as never);
    emu.delete('v1', 'Secret', 'default', 'a');

    const events = await collect(emu, `${base}?watch=1&resourceVersion=${first.metadata.resourceVersion}`, 2);

    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED b', 'DELETED a'],
    );
  });

  it('filters by field and label selector and turns label changes into ADDED/DELETED', async () => {
    const events = await collect(emu, `${base}?watch=true&labelSelector=rotate%3Dtrue`, 3, () => {
      const s = emu.create({ ...secret('x'), metadata: { name: 'x', namespace: 'default' } } as never);
      emu.create({ ...secret('ignored'), metadata: { name: 'ignored', namespace: 'default' } } as never);
      const labelled = emu.update({ ...s, metadata: { ...s.metadata, labels: { rotate: 'true' } } });
      const again = emu.update({ ...labelled, data: { key: 'Mw==' } });
      emu.update({ ...again, metadata: { ...again.metadata, labels: {} } });
    });

    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED x', 'MODIFIED x', 'DELETED x'],
    );
  });

  it('watches one object by metadata.name field selector', async () => {
    const events = await collect(emu, `${base}?watch=true&fieldSelector=metadata.name%3Dme`, 1, () => {
      emu.create({ ...secret('other'), metadata: { name: 'other', namespace: 'default' } } as never);
      emu.create({ ...secret('me'), metadata: { name: 'me', namespace: 'default' } } as never);
    });

    assert.deepEqual(
      events.map((e) => e.object.metadata.name),
      ['me'],
    );
  });

  it('sends a 410 ERROR event for a resourceVersion older than the retained history', async () => {
    const small = await KubeEmulator.start();
    try {
      // Push the secrets history past its retention window (10k events kept).
      for (let i = 0; i < 20_100; i++) small.create({ ...secret(`s${i}`), metadata: { name: `s${i}`, namespace: 'default' } } as never);

      const events = await collect(small, `${base}?watch=true&resourceVersion=5`, 1);

      assert.equal(events[0].type, 'ERROR');
      assert.equal(events[0].object.code, 410);
      assert.equal(events[0].object.reason, 'Expired');
    } finally {
      await small.stop();
    }
  });

  it('ends the stream after timeoutSeconds', async () => {
    const started = Date.now();

    const events = await collect(emu, `${base}?watch=true&timeoutSeconds=1`, 1);

    assert.deepEqual(events, []);
    assert.ok(Date.now() - started >= 900);
  });

  it('sends a BOOKMARK after initial events when asked (watch-list)', async () => {
    emu.create({ ...secret('a'), metadata: { name: 'a', namespace: 'default' } } as never);

    const events = await collect(
      emu,
      `${base}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`,
      2,
    );

    assert.deepEqual(
      events.map((e) => e.type),
      ['ADDED', 'BOOKMARK'],
    );
  });
});
