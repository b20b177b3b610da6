import assert from 'node:assert/strict';
import { api } from './helpers.js';
import { KubeEmulator } from './index.js';

describe('test/emulator/perf', function () {
  this.timeout(120_000);
  let emu: KubeEmulator;

  before(async () => {
    emu = await KubeEmulator.start();
    for (const ns of ['ns-a', 'ns-b']) emu.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (let i = 0; i < 20_000; i++) {
      const ns = i % 2 === 0 ? 'ns-a' : 'ns-b';
      emu.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `secret-${String(i).padStart(5, '0')}`, namespace: ns, labels: { shard: String(i % 4) } },
        data: { v: Buffer.from(String(i)).toString('base64') },
      });
    }
  });
  after(async () => {
    await emu.stop();
  });

  async function pages(path: string, limit: number): Promise<{ names: string[]; pages: number }> {
    const names: string[] = [];
    let token: string | undefined;
    let count = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await api(emu, 'GET', `${path}${sep}limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      assert.equal(res.status, 200);
      count++;
      for (const item of res.body.items) names.push(`${item.metadata.namespace}/${item.metadata.name}`);
      token = res.body.metadata.continue;
    } while (token);
    return { names, pages: count };
  }

  it('lists 20,000 Secrets cluster-wide in pages of 500, complete and in order', async () => {
    const { names, pages: count } = await pages('/api/v1/secrets', 500);

    assert.equal(count, 40);
    assert.equal(names.length, 20_000);
    assert.equal(new Set(names).size, 20_000);
    assert.deepEqual(names, [...names].sort());
  });

  it('lists one namespace with a label selector in pages', async () => {
    const { names } = await pages('/api/v1/namespaces/ns-a/secrets?labelSelector=shard%3D2', 500);

    assert.equal(names.length, 5_000);
    assert.ok(names.every((n) => n.startsWith('ns-a/')));
  });
});
