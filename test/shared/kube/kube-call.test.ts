import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { KubeCaller, toKubeError } from '../../../shared/kube/kube-call.js';
import { KubeError } from '../../../shared/kube/kube-error.js';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { fixedClock } from '../../../shared/runtime/clock.js';

const op = { verb: 'update', kind: 'Secret', namespace: 'payments', name: 'db-creds' } as const;

function apiError(code: number, reason: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason,
    code,
    message: 'data: {"password":"cGFzc3dvcmQ="}',
    ...extra,
  });
  return new ApiException(code, 'message with body', body, headers);
}

function caller() {
  const sink = new MemorySink();
  const clock = fixedClock(new Date('2026-01-01T00:00:00Z'));
  return { sink, clock, caller: new KubeCaller({ clock, log: createLogger({ sink }), random: () => 0.5 }) };
}

describe('shared/kube/kube-call', () => {
  it('names the operation and object with status and reason, and drops the response body', () => {
    const e = toKubeError(op, apiError(409, 'Conflict'), new Date()) as KubeError;

    assert.ok(e instanceof KubeError);
    assert.equal(
      e.message,
      'failed to replace Secret payments/db-creds: 409 Conflict (resourceVersion stale: the object changed since it was read)',
    );
    assert.equal(e.conflict, true);
    assert.equal(e.alreadyExists, false);
    assert.equal(e.exitCode, 1);
    assert.ok(!JSON.stringify(e).includes('cGFzc3dvcmQ'));
    assert.ok(!String(e.stack).includes('cGFzc3dvcmQ'));
  });

  it('keeps field paths of a 422 (keys, not values)', () => {
    const e = toKubeError(
      op,
      apiError(422, 'Invalid', { details: { causes: [{ field: 'data[tls.key]', message: 'value x' }] } }),
      new Date(),
    ) as KubeError;

    assert.equal(e.invalid, true);
    assert.match(e.message, /422 Invalid \(fields: data\[tls\.key\]\)/);
    assert.ok(!e.message.includes('value x'));
  });

  it('names the admission policy or webhook that denied a request, not RBAC, and keeps none of its message', () => {
    // kube-apiserver's Status messages: policy/validating (ValidatingAdmissionPolicy ... denied
    // request: <message>) and the webhook dispatcher (admission webhook "<name>" denied the request: ...).
    const policy = toKubeError(
      op,
      apiError(403, 'Forbidden', {
        message: `secrets "db-creds" is forbidden: ValidatingAdmissionPolicy 'no-copies' with binding 'no-copies-prod' denied request: value cGFzc3dvcmQ= is reused`,
      }),
      new Date(),
    ) as KubeError;
    const webhook = toKubeError(
      op,
      apiError(400, 'BadRequest', { message: 'admission webhook "secrets.example.com" denied the request: cGFzc3dvcmQ=' }),
      new Date(),
    ) as KubeError;
    const rbac = toKubeError(op, apiError(403, 'Forbidden'), new Date()) as KubeError;

    assert.equal(
      policy.message,
      "failed to replace Secret payments/db-creds: 403 Forbidden (denied by ValidatingAdmissionPolicy 'no-copies' (binding 'no-copies-prod'))",
    );
    assert.equal(policy.deniedBy, "ValidatingAdmissionPolicy 'no-copies' (binding 'no-copies-prod')");
    assert.equal(
      webhook.message,
      'failed to replace Secret payments/db-creds: 400 BadRequest (denied by admission webhook "secrets.example.com")',
    );
    assert.match(rbac.message, /check the RBAC rules of this job's ServiceAccount/);
    assert.ok(!policy.message.includes('cGFzc3dvcmQ') && !webhook.message.includes('cGFzc3dvcmQ'));
  });

  it('classifies network failures as transient (exit 4) and returns other errors unchanged', () => {
    const net = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect'), { code: 'ECONNRESET' }) });
    const bug = new TypeError('x is undefined');

    const e = toKubeError({ verb: 'list', kind: 'Secret' }, net, new Date()) as KubeError;

    assert.equal(e.status, 0);
    assert.equal(e.transient, true);
    assert.equal(e.exitCode, 4);
    assert.equal(e.message, 'failed to list Secrets in all namespaces: ECONNRESET');
    assert.equal(toKubeError(op, bug, new Date()), bug);
  });

  it('says where to look when nothing answers at all', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });

    const e = toKubeError({ verb: 'get', kind: 'Lease', namespace: 'ops', name: 'lock' }, refused, new Date()) as KubeError;

    assert.equal(e.exitCode, 4);
    assert.match(
      e.message,
      /^failed to get Lease ops\/lock: ECONNREFUSED \(the API server cannot be reached: check the server of --kubeconfig \/ KUBECONFIG/,
    );
  });

  it('retries reads on 5xx and 429 honouring Retry-After', async () => {
    const { caller: c, clock, sink } = caller();
    const errors = [apiError(429, 'TooManyRequests', {}, { 'retry-after': '7' }), apiError(503, 'ServiceUnavailable')];

    const result = await c.call({ verb: 'get', kind: 'Secret', namespace: 'a', name: 'b' }, async () => {
      const e = errors.shift();
      if (e) throw e;
      return 'secret';
    });

    assert.equal(result, 'secret');
    assert.ok(clock.now().getTime() - Date.parse('2026-01-01T00:00:00Z') >= 7000);
    assert.equal(sink.lines.length, 2);
    assert.match(sink.lines[0], /429 TooManyRequests/);
  });

  it('does not repeat a non-idempotent write after a 500 (outcome unknown: the caller re-reads)', async () => {
    const { caller: c } = caller();
    let calls = 0;

    await assert.rejects(
      c.call({ verb: 'create', kind: 'Secret', namespace: 'a', name: 'b' }, async () => {
        calls++;
        throw apiError(500, 'InternalError');
      }),
      (e) => e instanceof KubeError && e.outcomeUnknown && e.exitCode === 4,
    );
    assert.equal(calls, 1);
  });

  it('repeats writes after 429 (rejected before processing) and idempotent writes after a 500', async () => {
    const { caller: c } = caller();
    const seq = [apiError(429, 'TooManyRequests'), apiError(500, 'InternalError')];
    let calls = 0;

    const r = await c.call(
      op,
      async () => {
        calls++;
        const e = seq.shift();
        if (e) throw e;
        return 'done';
      },
      { idempotent: true },
    );

    assert.equal(r, 'done');
    assert.equal(calls, 3);
  });

  it('never retries 4xx answers other than 429', async () => {
    const { caller: c } = caller();
    for (const [code, reason] of [
      [404, 'NotFound'],
      [403, 'Forbidden'],
      [409, 'Conflict'],
      [422, 'Invalid'],
    ] as const) {
      let calls = 0;
      await assert.rejects(
        c.call({ verb: 'get', kind: 'Secret', namespace: 'a', name: 'b' }, async () => {
          calls++;
          throw apiError(code, reason);
        }),
      );
      assert.equal(calls, 1, reason);
    }
  });

  it('tells its congestion signal of every 429 and 5xx with the Retry-After, retried or not, and of nothing else', async () => {
    const clock = fixedClock(new Date('2026-01-01T00:00:00Z'));
    const told: Array<number | undefined> = [];
    const c = new KubeCaller({
      clock,
      log: createLogger({ sink: new MemorySink() }),
      random: () => 0.5,
      congestion: { congested: (o) => told.push(o.retryAfterMs) },
    });
    const failing = (...errors: ApiException<string>[]) => {
      let n = 0;
      return async () => {
        if (n < errors.length) throw errors[n++];
        return 'ok';
      };
    };

    await c.call(op, failing(apiError(429, 'TooManyRequests', {}, { 'retry-after': '2' })));
    await c.call({ ...op, verb: 'get' }, failing(apiError(503, 'ServiceUnavailable')));
    await assert.rejects(c.call({ ...op, verb: 'create' }, failing(apiError(500, 'InternalError'))));
    await assert.rejects(c.call(op, failing(apiError(404, 'NotFound'))));
    await assert.rejects(c.call(op, failing(apiError(409, 'Conflict'))));

    assert.deepEqual(told, [2000, undefined, undefined]);
  });
});
