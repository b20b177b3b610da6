import assert from 'node:assert/strict';
import { api, secret } from './helpers.js';
import { KubeEmulator } from './index.js';

/**
 * Requests in flight, counted as kube-apiserver's max-in-flight filter counts them
 * (staging/src/k8s.io/apiserver/pkg/server/filters/maxinflight.go, WithMaxInFlightLimit): two
 * pools, read-only (`nonMutatingRequestVerbs`: get, list, watch) and mutating (every other
 * verb), long-running requests (watches, followed logs) skipped, and a watermark of the most in
 * flight at once (`watermark.recordMutating(len(c))` on entry and exit), which it reports as
 * `apiserver_current_inflight_requests`.
 */
describe('test/emulator/request-log', () => {
  let emu: KubeEmulator;
  const base = '/api/v1/namespaces/default/secrets';

  beforeEach(async () => {
    emu = await KubeEmulator.start();
  });
  afterEach(async () => {
    await emu.stop();
  });

  it('keeps the peak of mutating and read-only requests served at once, apart', async () => {
    emu.faults.inject({ method: 'POST', path: base, delayMs: 100, times: 3 });

    await Promise.all([1, 2, 3].map((n) => api(emu, 'POST', base, secret(`s${n}`))));
    await api(emu, 'GET', base);

    assert.deepEqual(emu.requests.peakInFlight, { readOnly: 1, mutating: 3 });
    assert.deepEqual(emu.requests.inFlight, { readOnly: 0, mutating: 0 });
  });

  it('does not count a watch, which is long-running', async () => {
    const watch = new AbortController();
    const res = await fetch(`${emu.url}${base}?watch=true`, { signal: watch.signal });

    const whileWatching = { ...emu.requests.inFlight };
    watch.abort();
    await res.body?.cancel().catch(() => undefined);

    assert.equal(res.status, 200);
    assert.deepEqual(whileWatching, { readOnly: 0, mutating: 0 });
  });

  it('starts the peaks again at clear()', async () => {
    emu.faults.inject({ method: 'POST', path: base, delayMs: 50, times: 2 });
    await Promise.all([1, 2].map((n) => api(emu, 'POST', base, secret(`s${n}`))));

    emu.requests.clear();
    await api(emu, 'POST', base, secret('s3'));

    assert.equal(emu.requests.peakInFlight.mutating, 1);
  });
});
