import assert from 'node:assert/strict';
import { ALL_METRICS, keyExpirySamples, METRICS, PUSHING_COMMANDS, sample } from '../../../shared/metrics/catalogue.js';

describe('shared/metrics/catalogue', () => {
  it('names every metric once, in Prometheus style (base units, no _total on gauges)', () => {
    const names = ALL_METRICS.map((m) => m.name);

    assert.equal(new Set(names).size, names.length, 'duplicate metric names');
    for (const n of names) {
      assert.match(n, /^secret_steward_[a-z_]+$/, n);
      assert.doesNotMatch(n, /_total$|_ms$|_milliseconds$|_items$|_(rotated|failed|rolled_back|skipped|deferred|verified|restored)$/, n);
    }
  });

  it('has every pushing command push a success, last-run and last-success metric', () => {
    for (const command of PUSHING_COMMANDS) {
      const mine = ALL_METRICS.filter((m) => m.pushedBy.includes(command)).map((m) => m.name);

      for (const suffix of ['_success', '_last_run_timestamp_seconds', '_last_success_timestamp_seconds'])
        assert.ok(
          mine.some((n) => n.endsWith(suffix) && !n.includes('unauthenticated')),
          `${command} pushes no ${suffix}`,
        );
    }
  });

  it('refuses labels and label values the catalogue does not declare', () => {
    assert.throws(() => sample(METRICS.rotate.secrets, 1), /labels \{\} given, \{result\} declared/);
    assert.throws(() => sample(METRICS.rotate.secrets, 1, { result: 'exploded' }), /result="exploded" is not a declared value/);
    assert.throws(() => sample(METRICS.backup.success, 1, { secret: 'x' }), /labels \{secret\} given/);
    assert.throws(
      () => sample(METRICS.keyExpiry, 1, { role: 'signing', fingerprint: 'hunter2' }),
      (e: Error) => /fingerprint is not a fingerprint/.test(e.message) && !e.message.includes('hunter2'),
    );
  });

  it('gives each expiring key a sample by role and fingerprint, none for keys that never expire', () => {
    const fpr = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';

    const samples = keyExpirySamples([
      { role: 'recipient', fingerprint: fpr, expiresAt: new Date('2027-01-01T00:00:00Z') },
      { role: 'signing', fingerprint: fpr },
    ]);

    assert.deepEqual(
      samples.map((s) => [s.metric.name, s.labels, s.value]),
      [['secret_steward_key_expiry_timestamp_seconds', { role: 'recipient', fingerprint: fpr }, 1798761600]],
    );
  });
});
