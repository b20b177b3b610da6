import assert from 'node:assert/strict';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
import { METRICS, sample } from '../../../shared/metrics/catalogue.js';
import { pushMetrics } from '../../../shared/metrics/pushgateway.js';
import { requireDependency } from '../../support/dependencies.js';
import { hasPushgateway, PUSHGATEWAY_INSTALL, type PushgatewayHandle, startPushgateway } from '../../support/pushgateway.js';

describe('shared/metrics/pushgateway', function () {
  this.timeout(30_000);
  let gw: PushgatewayHandle;
  before(async function () {
    requireDependency(this, 'prometheus-pushgateway', hasPushgateway(), PUSHGATEWAY_INSTALL);
    gw = await startPushgateway();
  });
  after(async () => gw?.stop());

  it('pushes gauges and their labels under the job and cluster to a real Pushgateway', async () => {
    const log = createLogger({ sink: new MemorySink() });

    const ok = await pushMetrics(
      gw.url,
      'backup',
      'prod-eu',
      [
        sample(METRICS.backup.secrets, 42),
        sample(METRICS.backup.lastSuccess, 1764200000),
        sample(METRICS.keyExpiry, 1800000000, { role: 'recipient', fingerprint: 'A'.repeat(40) }),
        sample(METRICS.keyExpiry, 1900000000, { role: 'signing', fingerprint: 'B'.repeat(40) }),
      ],
      log,
    );

    assert.equal(ok, true);
    const text = await gw.metrics();
    assert.match(text, /secret_steward_backup_secrets\{cluster="prod-eu",instance="",job="secret-steward-backup"\} 42/);
    assert.match(text, /secret_steward_backup_last_success_timestamp_seconds\{[^}]*\} 1\.7642e\+09/);
    assert.match(
      text,
      /secret_steward_key_expiry_timestamp_seconds\{cluster="prod-eu",fingerprint="A{40}",[^}]*role="recipient"\} 1\.8e\+09/,
    );
    assert.match(
      text,
      /secret_steward_key_expiry_timestamp_seconds\{cluster="prod-eu",fingerprint="B{40}",[^}]*role="signing"\} 1\.9e\+09/,
    );
  });

  it('keeps metrics a later push omits (a failed run leaves the last success visible)', async () => {
    const log = createLogger({ sink: new MemorySink() });
    await pushMetrics(gw.url, 'prune', 'keep-test', [sample(METRICS.prune.lastSuccess, 100), sample(METRICS.prune.success, 1)], log);

    await pushMetrics(gw.url, 'prune', 'keep-test', [sample(METRICS.prune.success, 0)], log);

    const text = await gw.metrics();
    assert.match(text, /secret_steward_prune_last_success_timestamp_seconds\{cluster="keep-test",[^}]*\} 100/);
    assert.match(text, /secret_steward_prune_success\{cluster="keep-test",[^}]*\} 0/);
  });

  it('keeps the pushes of two clusters apart', async () => {
    const log = createLogger({ sink: new MemorySink() });

    await pushMetrics(gw.url, 'rotate', 'east', [sample(METRICS.rotate.success, 1)], log);
    await pushMetrics(gw.url, 'rotate', 'west', [sample(METRICS.rotate.success, 0)], log);

    const text = await gw.metrics();
    assert.match(text, /secret_steward_rotate_success\{cluster="east",[^}]*\} 1/);
    assert.match(text, /secret_steward_rotate_success\{cluster="west",[^}]*\} 0/);
  });

  it('logs a warning without credentials and never throws when the gateway is unreachable', async () => {
    const sink = new MemorySink();

    const ok = await pushMetrics(
      'http://user:hunter2pass@127.0.0.1:1',
      'backup',
      'x',
      [sample(METRICS.backup.success, 1)],
      createLogger({ sink }),
    );

    assert.equal(ok, false);
    assert.match(sink.lines.join(''), /could not push metrics/);
    assert.ok(!sink.lines.join('').includes('hunter2pass'));
  });
});
