import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator, RequestSequence } from './index.js';

describe('test/emulator/faults', () => {
  let emu: KubeEmulator;
  const base = '/api/v1/namespaces/default/secrets';

  beforeEach(async () => {
    emu = await KubeEmulator.start();
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('answers 429 TooManyRequests with Retry-After', async () => {
    const fault = emu.faults.inject({ method: 'GET', path: base, status: 429, retryAfterSeconds: 7 });

    const limited = await api(emu, 'GET', base);
    const next = await api(emu, 'GET', base);

    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal(limited.body.kind, 'Status');
    assert.equal(limited.body.reason, 'TooManyRequests');
    assert.equal(limited.body.details.retryAfterSeconds, 7);
    assert.equal(next.status, 200, 'times defaults to 1');
    assert.equal(fault.hits, 1);
  });

  it('answers 500 InternalError and 503, with a custom message', async () => {
    emu.faults.inject({ path: /\/secrets\/x$/, status: 500, body: { message: 'etcdserver: request timed out' } });
    emu.faults.inject({ path: /\/configmaps$/, status: 503 });

    const internal = await api(emu, 'GET', `${base}/x`);
    const unavailable = await api(emu, 'GET', '/api/v1/namespaces/default/configmaps');

    assert.equal(internal.status, 500);
    assert.equal(internal.body.reason, 'InternalError');
    assert.equal(internal.body.message, 'etcdserver: request timed out');
    assert.equal(unavailable.body.reason, 'ServiceUnavailable');
  });

  it('does not execute the request a status fault answers', async () => {
    emu.faults.inject({ method: 'POST', path: base, status: 500 });

    await api(emu, 'POST', base, secret('lost'));

    assert.equal(emu.get('v1', 'Secret', 'default', 'lost'), undefined);
  });

  it('drops the connection without a response', async () => {
    emu.faults.inject({ path: base, drop: true });

    await assert.rejects(fetch(`${emu.url}${base}`), /fetch failed/);
    assert.equal((await api(emu, 'GET', base)).status, 200);
  });

  it('honours after and times: skips N matches, then fires M times', async () => {
    const fault = emu.faults.inject({ method: 'GET', path: base, status: 500, after: 2, times: 2 });

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await api(emu, 'GET', base)).status);

    assert.deepEqual(statuses, [200, 200, 500, 500, 200, 200]);
    assert.equal(fault.hits, 2);
    assert.equal(fault.matched, 6);
  });

  it('supports Infinity, query matching, remove() and clear()', async () => {
    const always = emu.faults.inject({ path: base, query: /labelSelector=/, status: 503, times: Infinity });

    const withQuery = await api(emu, 'GET', `${base}?labelSelector=a%3Db`);
    const withoutQuery = await api(emu, 'GET', base);
    always.remove();
    const removed = await api(emu, 'GET', `${base}?labelSelector=a%3Db`);
    emu.faults.inject({ path: base, status: 500, times: Infinity });
    emu.faults.clear();

    assert.equal(withQuery.status, 503);
    assert.equal(withoutQuery.status, 200);
    assert.equal(removed.status, 200);
    assert.equal((await api(emu, 'GET', base)).status, 200);
  });

  it('loseResponse: serves the write in full, then resets the connection instead of answering', async () => {
    const fault = emu.faults.inject({ method: 'POST', path: base, loseResponse: true });

    await assert.rejects(
      fetch(`${emu.url}${base}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(secret('committed')),
      }),
      /fetch failed/,
    );

    assert.equal(fault.hits, 1);
    assert.ok(emu.get('v1', 'Secret', 'default', 'committed'), 'the create was committed');
    const entry = emu.requests.entries.at(-1)!;
    assert.equal(entry.fault, true);
    assert.equal(entry.status, 201, 'the log keeps the status that was never delivered');
    assert.equal((await api(emu, 'POST', base, secret('committed'))).status, 409, 'a retry of the create sees it exist');
  });

  it('loseResponse: an error the server would have answered is lost too', async () => {
    emu.faults.inject({ method: 'PUT', path: `${base}/missing`, loseResponse: true });

    await assert.rejects(
      fetch(`${emu.url}${base}/missing`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(secret('missing')),
      }),
      /fetch failed/,
    );

    assert.equal(emu.requests.entries.at(-1)!.status, 404);
  });

  it('atRequest: fires at the nth request overall, counted in a sequence another server can share', async () => {
    const shared = new RequestSequence();
    shared.next(); // request 1 went to another server
    emu.faults.useSequence(shared);
    emu.requests.clear();
    const fault = emu.faults.inject({ atRequest: 4, status: 503 });

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api(emu, 'GET', i === 1 ? '/api/v1/namespaces' : base)).status);

    assert.deepEqual(statuses, [200, 200, 503, 200], 'requests 2, 3, 4, 5 of the shared sequence');
    assert.deepEqual(
      emu.requests.entries.map((e) => e.seq),
      [2, 3, 4, 5],
    );
    assert.equal(shared.count, 5);
    assert.equal(fault.hits, 1);
  });

  it('when: a predicate picks the request; onFire runs before the action', async () => {
    const seen: string[] = [];
    emu.faults.inject({
      when: (r) => r.method === 'DELETE' && r.path.endsWith('/victim'),
      status: 500,
      onFire: async (r) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen.push(`${r.method} ${r.path} #${r.seq}`);
      },
    });
    await api(emu, 'POST', base, secret('victim'));

    const other = await api(emu, 'GET', `${base}/victim`);
    const failed = await api(emu, 'DELETE', `${base}/victim`);

    assert.equal(other.status, 200);
    assert.equal(failed.status, 500);
    assert.deepEqual(seen, [`DELETE ${base}/victim #${emu.requests.entries.at(-1)!.seq}`]);
    assert.ok(emu.get('v1', 'Secret', 'default', 'victim'), 'a status fault does not execute the request');
  });

  it('delays requests', async () => {
    emu.faults.inject({ path: base, delayMs: 150 });
    const started = Date.now();

    const res = await api(emu, 'GET', base);

    assert.equal(res.status, 200);
    assert.ok(Date.now() - started >= 140);
  });
});

describe('test/emulator/request-log', () => {
  let emu: KubeEmulator;

  before(async () => {
    emu = await KubeEmulator.start();
  });
  after(async () => {
    await emu.stop();
  });

  it('records verb, resource, namespace, name, subresource, status and dryRun of each request', async () => {
    emu.requests.clear();
    const token = 't-reader';
    emu.addToken(token, 'reader');

    await api(emu, 'GET', '/api/v1/namespaces/default/secrets?labelSelector=a%3Db');
    await api(emu, 'POST', '/api/v1/namespaces/default/secrets?dryRun=All', secret('x'));
    await api(emu, 'GET', '/api/v1/secrets?watch=true&timeoutSeconds=1');
    await api(emu, 'DELETE', '/api/v1/namespaces/default/secrets');
    await api(emu, 'PATCH', '/apis/apps/v1/namespaces/default/deployments/web/status', {}, { contentType: 'application/merge-patch+json' });
    await api(emu, 'GET', '/api/v1/namespaces/default/secrets', undefined, { token });

    const e = emu.requests.entries;
    assert.deepEqual(
      e.map((x) => [x.verb, x.resource, x.namespace, x.name, x.subresource, x.status]),
      [
        ['list', 'secrets', 'default', '', '', 200],
        ['create', 'secrets', 'default', '', '', 201],
        ['watch', 'secrets', '', '', '', 200],
        ['deletecollection', 'secrets', 'default', '', '', 200],
        ['patch', 'deployments', 'default', 'web', 'status', 404],
        ['list', 'secrets', 'default', '', '', 403],
      ],
    );
    assert.deepEqual(e[0].query, { labelSelector: 'a=b' });
    assert.equal(e[1].dryRun, true);
    assert.equal(e[4].apiGroup, 'apps');
    assert.equal(e[5].user, 'reader');
    assert.equal(
      emu.requests.count((x) => x.verb === 'list'),
      2,
    );
    assert.equal(emu.requests.filter((x) => x.status === 403).length, 1);
  });
});
