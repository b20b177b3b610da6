import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator } from './index.js';
import { isValidBase64 } from './validation.js';

describe('test/emulator/validation', () => {
  let emu: KubeEmulator;
  const base = '/api/v1/namespaces/default/secrets';
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  before(async () => {
    emu = await KubeEmulator.start();
  });
  after(async () => {
    await emu.stop();
  });

  const invalidCases: { title: string; body: Record<string, unknown>; field: string; message: RegExp }[] = [
    {
      title: 'upper-case name',
      body: secret('Bad_Name'),
      field: 'metadata.name',
      message: /a lowercase RFC 1123 subdomain must consist of/,
    },
    {
      title: 'name longer than 253',
      body: secret('a'.repeat(254)),
      field: 'metadata.name',
      message: /must be no more than 253 characters/,
    },
    {
      title: 'missing name',
      body: { apiVersion: 'v1', kind: 'Secret', metadata: {} },
      field: 'metadata.name',
      message: /Required value: name or generateName is required/,
    },
    {
      title: 'bad data key',
      body: secret('k', { 'a b': b64('x') }),
      field: 'data[a b]',
      message: /a valid config key must consist of alphanumeric characters/,
    },
    {
      title: 'data over 1 MiB',
      body: secret('big', { a: b64('x'.repeat(600_000)), b: b64('y'.repeat(500_000)) }),
      field: 'data',
      message: /^Too long: must have at most 1048576 bytes$/,
    },
    {
      title: 'tls without tls.key',
      body: secret('tls', { 'tls.crt': b64('c') }, { type: 'kubernetes.io/tls' }),
      field: 'data[tls.key]',
      message: /^Required value$/,
    },
    {
      title: 'dockerconfigjson without key',
      body: secret('reg', {}, { type: 'kubernetes.io/dockerconfigjson' }),
      field: 'data[.dockerconfigjson]',
      message: /^Required value$/,
    },
    {
      title: 'dockerconfigjson not JSON',
      body: secret('reg2', { '.dockerconfigjson': b64('nope') }, { type: 'kubernetes.io/dockerconfigjson' }),
      field: 'data[.dockerconfigjson]',
      message: /Invalid value: "<secret contents redacted>"/,
    },
    {
      title: 'basic-auth without username/password',
      body: secret('ba', { other: b64('x') }, { type: 'kubernetes.io/basic-auth' }),
      field: 'data[username]',
      message: /^Required value$/,
    },
    {
      title: 'SA token without annotation',
      body: secret('sat', {}, { type: 'kubernetes.io/service-account-token' }),
      field: 'metadata.annotations[kubernetes.io/service-account.name]',
      message: /^Required value$/,
    },
    {
      title: 'bad label value',
      body: { ...secret('l'), metadata: { name: 'l', labels: { a: 'not valid!' } } },
      field: 'metadata.labels',
      message: /a valid label must be an empty string/,
    },
    {
      // apimachinery pkg/api/validation/objectmeta.go ValidateFinalizers -> ValidateFinalizerName (IsQualifiedName).
      title: 'a finalizer that is not a qualified name',
      body: { ...secret('f'), metadata: { name: 'f', finalizers: ['example.com/ok', 'not ok!'] } },
      field: 'metadata.finalizers',
      message: /^Invalid value: "not ok!": name part must consist of alphanumeric characters/,
    },
    {
      title: 'both garbage-collector finalizers',
      body: { ...secret('g'), metadata: { name: 'g', finalizers: ['orphan', 'foregroundDeletion'] } },
      field: 'metadata.finalizers',
      message: /finalizer orphan and foregroundDeletion cannot be both set/,
    },
  ];

  it('defaults and validates a create before the name is found taken, dry runs included (422 before 409)', async () => {
    // genericregistry Store.Create (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go):
    // rest.BeforeCreate (strategy PrepareForCreate, defaulting, Validate) -> createValidation
    // (admission) -> Storage.Create, the only step that answers AlreadyExists; dryRun=All runs all
    // of it against the dry-run storage, which still sees the existing key.
    await api(emu, 'POST', base, secret('taken-once'));
    const invalidBody = { ...secret('taken-once', { 'a b': b64('x') }) };

    const invalid = await api(emu, 'POST', base, invalidBody);
    const invalidDry = await api(emu, 'POST', `${base}?dryRun=All`, invalidBody);
    const validDry = await api(emu, 'POST', `${base}?dryRun=All`, secret('taken-once'));
    const defaultedDry = await api(emu, 'POST', `${base}?dryRun=All`, secret('not-taken-yet'));

    assert.equal(invalid.status, 422, invalid.text);
    assert.equal(invalidDry.status, 422, invalidDry.text);
    assert.equal(invalidDry.body.details.causes[0].field, 'data[a b]');
    assert.equal(validDry.status, 409, validDry.text);
    assert.equal(validDry.body.reason, 'AlreadyExists');
    assert.equal(defaultedDry.status, 201, defaultedDry.text);
    assert.equal(defaultedDry.body.type, 'Opaque', 'defaulted as a real create would be');
    assert.equal(emu.get('v1', 'Secret', 'default', 'not-taken-yet'), undefined);
  });

  for (const c of invalidCases) {
    it(`rejects ${c.title} with 422 Invalid`, async () => {
      const res = await api(emu, 'POST', base, c.body);

      assert.equal(res.status, 422, res.text);
      assert.equal(res.body.reason, 'Invalid');
      assert.equal(res.body.details.kind, 'Secret');
      const cause = res.body.details.causes.find((x: { field: string }) => x.field === c.field);
      assert.ok(cause, `cause for ${c.field} in ${res.text}`);
      assert.match(cause.message, c.message);
      assert.ok(res.body.message.startsWith(`Secret "${res.body.details.name ?? ''}" is invalid: `));
    });
  }

  it('accepts the valid forms of each Secret type', async () => {
    const ok = [
      secret('tls-ok', { 'tls.crt': b64('c'), 'tls.key': b64('k') }, { type: 'kubernetes.io/tls' }),
      secret('reg-ok', { '.dockerconfigjson': b64('{"auths":{}}') }, { type: 'kubernetes.io/dockerconfigjson' }),
      secret('ba-ok', { username: b64('u') }, { type: 'kubernetes.io/basic-auth' }),
      {
        ...secret('sat-ok', {}, { type: 'kubernetes.io/service-account-token' }),
        metadata: { name: 'sat-ok', annotations: { 'kubernetes.io/service-account.name': 'default' } },
      },
      secret('exactly-1mib', { a: b64('x'.repeat(1048576)) }),
    ];

    for (const body of ok) assert.equal((await api(emu, 'POST', base, body)).status, 201, JSON.stringify(body).slice(0, 80));
  });

  it('isValidBase64 accepts what Go base64.StdEncoding decodes (padded, with line breaks) and nothing else', () => {
    const valid = ['', 'QQ==', 'QUI=', 'QUJD', 'QUJDRA==', 'a+/9', 'QUJD\nRA==', 'QUJD\r\nRA=='];
    const invalid = ['Q', 'QQ=', 'QQ', 'Q===', '=QQQ', 'QQ=Q', 'QU JD', 'QUJ-', 'QUJ_', 'QUJé', 'QUJ\u0100'];
    assert.deepEqual(
      valid.filter((v) => !isValidBase64(v)),
      [],
    );
    assert.deepEqual(
      invalid.filter((v) => isValidBase64(v)),
      [],
    );
  });

  it('rejects data values that are not base64 with 400 like the real decoder', async () => {
    const res = await api(emu, 'POST', base, secret('notb64', { a: 'not base64!' }));

    assert.equal(res.status, 400);
    assert.equal(res.body.reason, 'BadRequest');
    assert.match(res.body.message, /illegal base64 data at input byte 3/);
  });

  it('merges stringData into data and never stores it', async () => {
    const res = await api(emu, 'POST', base, { ...secret('sd', { a: b64('old') }), stringData: { a: 'new', b: 'two' } });

    assert.deepEqual(res.body.data, { a: b64('new'), b: b64('two') });
    assert.equal(res.body.stringData, undefined);
    assert.equal(emu.get('v1', 'Secret', 'default', 'sd')?.stringData, undefined);
  });

  it('enforces immutable Secrets: data, stringData and un-setting immutable are refused', async () => {
    const created = (await api(emu, 'POST', base, { ...secret('frozen'), immutable: true })).body;

    const dataChange = await api(emu, 'PUT', `${base}/frozen`, { ...created, data: { key: b64('other') } });
    const stringDataChange = await api(
      emu,
      'PATCH',
      `${base}/frozen`,
      { stringData: { key: 'other' } },
      { contentType: 'application/merge-patch+json' },
    );
    const unfreeze = await api(emu, 'PATCH', `${base}/frozen`, { immutable: false }, { contentType: 'application/merge-patch+json' });
    const labels = await api(
      emu,
      'PATCH',
      `${base}/frozen`,
      { metadata: { labels: { a: 'b' } } },
      { contentType: 'application/merge-patch+json' },
    );

    for (const res of [dataChange, stringDataChange]) {
      assert.equal(res.status, 422);
      assert.deepEqual(res.body.details.causes, [
        { reason: 'FieldValueForbidden', message: 'Forbidden: field is immutable when `immutable` is set', field: 'data' },
      ]);
    }
    assert.equal(unfreeze.status, 422);
    assert.ok(unfreeze.body.details.causes.some((c: { field: string }) => c.field === 'immutable'));
    assert.equal(labels.status, 200, 'metadata stays mutable');
  });

  it('enforces immutable ConfigMaps', async () => {
    await api(emu, 'POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm' },
      data: { a: '1' },
      immutable: true,
    });

    const res = await api(
      emu,
      'PATCH',
      '/api/v1/namespaces/default/configmaps/cm',
      { data: { a: '2' } },
      { contentType: 'application/merge-patch+json' },
    );

    assert.equal(res.status, 422);
    assert.match(res.body.message, /data: Forbidden: field is immutable when `immutable` is set/);
  });

  it('refuses Secret type changes', async () => {
    await api(emu, 'POST', base, secret('typed'));

    const res = await api(
      emu,
      'PATCH',
      `${base}/typed`,
      { type: 'kubernetes.io/basic-auth', data: { username: b64('u') } },
      { contentType: 'application/merge-patch+json' },
    );

    assert.equal(res.status, 422);
    assert.match(res.body.message, /type: Invalid value: "kubernetes.io\/basic-auth": field is immutable/);
  });

  it('validates namespace names as DNS-1123 labels and RBAC names as path segments', async () => {
    const longNs = await api(emu, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'a'.repeat(64) },
    });
    const dottedNs = await api(emu, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } });
    const colonRole = await api(emu, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:thing' },
      rules: [],
    });

    assert.equal(longNs.status, 422);
    assert.match(longNs.body.message, /must be no more than 63 characters/);
    assert.equal(dottedNs.status, 422);
    assert.equal(colonRole.status, 201);
  });

  it('validates CronJobs: CRON_TZ in schedule, unknown time zone, Job restartPolicy', async () => {
    const cron = (spec: Record<string, unknown>) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'backup' },
      spec: {
        schedule: '0 * * * *',
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } } } },
        ...spec,
      },
    });
    const path = '/apis/batch/v1/namespaces/default/cronjobs';

    const tz = await api(emu, 'POST', path, cron({ schedule: 'CRON_TZ=UTC 0 * * * *' }));
    const zone = await api(emu, 'POST', path, cron({ timeZone: 'Mars/Olympus' }));
    const restart = await api(
      emu,
      'POST',
      path,
      cron({ jobTemplate: { spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'i' }] } } } } }),
    );
    const ok = await api(emu, 'POST', path, cron({ timeZone: 'Etc/UTC' }));

    assert.match(tz.body.message, /cannot use TZ or CRON_TZ in schedule, use timeZone field instead/);
    assert.match(zone.body.message, /spec.timeZone: Invalid value: "Mars\/Olympus": unknown time zone Mars\/Olympus/);
    assert.match(restart.body.message, /spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always"/);
    assert.equal(ok.status, 201);
    assert.equal(ok.body.spec.concurrencyPolicy, 'Allow');
  });

  it('validates Deployments: selector must match the template labels and is immutable', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments';
    const body = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        template: { metadata: { labels: { app: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };

    const mismatch = await api(emu, 'POST', path, body);
    const created = await api(emu, 'POST', path, {
      ...body,
      spec: { ...body.spec, template: { ...body.spec.template, metadata: { labels: { app: 'x', v: '1' } } } },
    });
    const changed = await api(
      emu,
      'PATCH',
      `${path}/d`,
      { spec: { selector: { matchLabels: { app: 'x', v: '1' } } } },
      { contentType: 'application/merge-patch+json' },
    );

    assert.equal(mismatch.status, 422);
    assert.match(mismatch.body.message, /selector` does not match template `labels`/);
    assert.equal(created.status, 201);
    assert.equal(changed.status, 422);
    assert.match(changed.body.message, /spec.selector: Invalid value: .*field is immutable/);
  });

  it('rejects unknown fields with fieldValidation=Strict and drops them with a warning otherwise', async () => {
    const strict = await api(emu, 'POST', `${base}?fieldValidation=Strict`, { ...secret('strict'), bogus: 1 });
    const warn = await api(emu, 'POST', base, { ...secret('warn'), bogus: 1 });

    assert.equal(strict.status, 400);
    assert.equal(strict.body.message, 'strict decoding error: unknown field "bogus"');
    assert.equal(warn.status, 201);
    assert.equal(warn.body.bogus, undefined);
    assert.match(warn.headers.get('warning') ?? '', /unknown field \\"bogus\\"/);
  });

  it('validates with dryRun=All but persists nothing and keeps the resourceVersion', async () => {
    // The Deployment created above is still being rolled out by the workload controller, whose
    // status writes move the cluster-wide resourceVersion: wait for it to settle first.
    await emu.workloads.idle();
    const before = (await api(emu, 'GET', base)).body.metadata.resourceVersion;

    const bad = await api(emu, 'POST', `${base}?dryRun=All`, secret('BAD'));
    const good = await api(emu, 'POST', `${base}?dryRun=All`, secret('dry'));

    assert.equal(bad.status, 422);
    assert.equal(good.status, 201);
    assert.equal(good.body.metadata.name, 'dry');
    assert.equal((await api(emu, 'GET', `${base}/dry`)).status, 404);
    assert.equal((await api(emu, 'GET', base)).body.metadata.resourceVersion, before);
  });

  it('applies dryRun=All to update, patch and delete', async () => {
    const created = (await api(emu, 'POST', base, secret('wet', { k: b64('1') }))).body;

    const put = await api(emu, 'PUT', `${base}/wet?dryRun=All`, { ...created, data: { k: b64('2') } });
    const patch = await api(
      emu,
      'PATCH',
      `${base}/wet?dryRun=All`,
      { data: { k: b64('3') } },
      { contentType: 'application/merge-patch+json' },
    );
    const del = await api(emu, 'DELETE', `${base}/wet?dryRun=All`);

    assert.equal(put.body.data.k, b64('2'));
    assert.equal(patch.body.data.k, b64('3'));
    assert.equal(del.status, 200);
    const stored = (await api(emu, 'GET', `${base}/wet`)).body;
    assert.equal(stored.data.k, b64('1'));
    assert.equal(stored.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.ok(emu.requests.entries.filter((e) => e.dryRun).length >= 3);
  });
});
