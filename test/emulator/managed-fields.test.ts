import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator } from './index.js';

/**
 * metadata.managedFields as kube-apiserver's field manager keeps them for non-apply writes
 * (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager, now k8s.io/apimachinery/pkg/util/
 * managedfields; docs "Server-Side Apply", sections "Field management" and "Clearing
 * managedFields"): one `Update` entry per manager, named by `fieldManager` or the User-Agent's
 * first part, owning the fields it set in FieldsV1 form; a later writer takes over the fields it
 * changes; `[{}]` in a body clears them; they are part of every response, metadata-only ones too.
 */
describe('test/emulator/managed-fields', () => {
  let emu: KubeEmulator;
  const base = '/api/v1/namespaces/default/secrets';

  beforeEach(async () => {
    emu = await KubeEmulator.start();
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('records the creating manager and the fields it set', async () => {
    const created = await api(
      emu,
      'POST',
      `${base}?fieldManager=alpha`,
      secret('s', { key: 'dg==' }, { metadata: { labels: { app: 'a' } } }),
    );

    const [entry, ...more] = created.body.metadata.managedFields;
    assert.deepEqual(more, []);
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(
      { ...entry, time: undefined },
      {
        manager: 'alpha',
        operation: 'Update',
        apiVersion: 'v1',
        time: undefined,
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { '.': {}, 'f:key': {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:type': {} },
      },
    );
  });

  it('gives a later writer (named by its User-Agent) the fields it changed, and keeps no-op writes no-ops', async () => {
    const created = await api(
      emu,
      'POST',
      `${base}?fieldManager=alpha`,
      secret('s', { key: 'dg==' }, { metadata: { labels: { app: 'a' } } }),
    );

    const replaced = await api(
      emu,
      'PUT',
      `${base}/s`,
      { ...created.body, data: { key: 'dzI=', other: 'eA==' } },
      { headers: { 'User-Agent': 'kubectl/v1.32.0 (linux/amd64) kubernetes/abc' } },
    );
    const again = await api(emu, 'PUT', `${base}/s?fieldManager=beta`, replaced.body);

    assert.deepEqual(
      replaced.body.metadata.managedFields.map((e: { manager: string; fieldsV1: unknown }) => [e.manager, e.fieldsV1]),
      [
        ['alpha', { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:type': {} }],
        ['kubectl', { 'f:data': { '.': {}, 'f:key': {}, 'f:other': {} } }],
      ],
    );
    assert.equal(again.body.metadata.resourceVersion, replaced.body.metadata.resourceVersion);
    assert.deepEqual(again.body.metadata.managedFields, replaced.body.metadata.managedFields);
  });

  it('is cleared by [{}] in a body, kept when a body has none, and served in metadata-only lists', async () => {
    await api(emu, 'POST', `${base}?fieldManager=alpha`, secret('s'));
    const current = (await api(emu, 'GET', `${base}/s`)).body;
    const { managedFields: _dropped, ...metadata } = current.metadata;

    const kept = await api(emu, 'PUT', `${base}/s?fieldManager=alpha`, { ...current, metadata, data: { key: 'eQ==' } });
    const listed = await api(emu, 'GET', base, undefined, {
      headers: { Accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1' },
    });
    const cleared = await api(emu, 'PUT', `${base}/s?fieldManager=alpha`, {
      ...kept.body,
      metadata: { ...kept.body.metadata, managedFields: [{}] },
    });

    assert.deepEqual(
      kept.body.metadata.managedFields.map((e: { manager: string }) => e.manager),
      ['alpha'],
    );
    assert.deepEqual(listed.body.items[0].metadata.managedFields, kept.body.metadata.managedFields);
    assert.equal(cleared.status, 200);
    assert.equal(cleared.body.metadata.managedFields, undefined);
  });
});
