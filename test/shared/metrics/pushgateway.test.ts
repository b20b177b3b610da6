import assert from 'node:assert/strict';
import { createLogger, MemorySink } from '../../../shared/log/index.js';
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

  it('pushes gauges under the job and grouping to a real Pushgateway', async () => {
    const log = createLogger({ sink: new MemorySink() });

    const ok = await pushMetrics(
      gw.url,
      'secret-steward-backup',
      { cluster: 'prod-eu' },
      [
        { name: 'secret_steward_backup_items', help: 'Secrets in the last backup', value: 42 },
        { name: 'secret_steward_backup_last_success_timestamp_seconds', help: 'Last success', value: 1764200000 },
      ],
      log,
    );

    assert.equal(ok, true);
    const text = await gw.metrics();
    assert.match(text, /secret_steward_backup_items\{cluster="prod-eu",instance="",job="secret-steward-backup"\} 42/);
    assert.match(text, /secret_steward_backup_last_success_timestamp_seconds\{[^}]*\} 1\.7642e\+09/);
  });

  it('keeps metrics a later push omits (a failed run leaves the last success visible)', async () => {
    const log = createLogger({ sink: new MemorySink() });
    await pushMetrics(
      gw.url,
      'keep-test',
      {},
      [
        { name: 'ss_last_success', help: 'h', value: 100 },
        { name: 'ss_success', help: 'h', value: 1 },
      ],
      log,
    );

    await pushMetrics(gw.url, 'keep-test', {}, [{ name: 'ss_success', help: 'h', value: 0 }], log);

    const text = await gw.metrics();
    assert.match(text, /ss_last_success\{[^}]*job="keep-test"\} 100/);
    assert.match(text, /ss_success\{[^}]*job="keep-test"\} 0/);
  });

  it('logs a warning without credentials and never throws when the gateway is unreachable', async () => {
    const sink = new MemorySink();

    const ok = await pushMetrics(
      'http://user:hunter2pass@127.0.0.1:1',
      'x',
      {},
      [{ name: 'ss_x', help: 'h', value: 1 }],
      createLogger({ sink }),
    );

    assert.equal(ok, false);
    assert.match(sink.lines.join(''), /could not push metrics/);
    assert.ok(!sink.lines.join('').includes('hunter2pass'));
  });
});
