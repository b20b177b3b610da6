import assert from 'node:assert/strict';
import { signDetached } from '../../../shared/crypto/index.js';
import { readVerificationHistory } from '../../../shared/verify-restore/verification-history.js';
import { type SealedBucket, useSealedBuckets } from '../backup/catalogue-fixtures.js';

const NOW = new Date('2026-12-10T12:00:00Z');
const A = '20261201T030000Z-aaaaaa';
const B = '20261202T030000Z-bbbbbb';
const C = '20261203T030000Z-cccccc';

describe('shared/verify-restore/verification-history', function () {
  this.timeout(60_000);
  let b: SealedBucket;
  useSealedBuckets((x) => {
    b = x;
  });

  /** A passing drill report of backup `id` at `at`, signed by the drill signer unless `signed` is false. */
  async function report(at: string, id: string, body: Record<string, unknown>, signed = true): Promise<void> {
    const key = `prod/reports/${at.replace(/[-:]/g, '').replace(/\.\d+/, '')}_${id}_pass.json`;
    const bytes = Buffer.from(
      JSON.stringify({
        cluster: 'prod',
        result: 'pass',
        startedAt: at,
        finishedAt: at,
        backup: { id },
        checks: [{ name: 'integrity', status: 'pass' }],
        ...body,
      }),
    );
    await b.put(key, bytes);
    if (signed) await b.put(`${key}.asc`, await signDetached(bytes, b.keys.stranger, { now: new Date(at) }));
  }

  it('takes the drilled backup of each signed report and its passing deep checks, newest verification per backup', async () => {
    await report('2026-12-08T04:00:00.000Z', C, { deepCheck: undefined });
    await report('2026-12-09T04:00:00.000Z', C, {
      checks: [{ name: 'integrity', status: 'fail' }],
      deepCheck: {
        checked: [
          { backupId: A, result: 'pass', at: '2026-12-09T04:00:00.000Z' },
          { backupId: B, result: 'fail', at: '2026-12-09T04:00:00.000Z' },
        ],
        backups: [
          { id: A, lastVerified: '2026-12-09T04:00:00.000Z' },
          { id: B, lastVerified: null },
          { id: C, lastVerified: '2026-12-08T04:00:00.000Z' },
        ],
      },
    });

    const h = await readVerificationHistory(b.store, b.layout, b.trusted.stranger, { now: NOW });

    assert.deepEqual(Object.fromEntries(h.lastVerified), { [A]: '2026-12-09T04:00:00.000Z', [C]: '2026-12-08T04:00:00.000Z' });
    assert.equal(h.reportsRead, 1, 'the newest report carries every backup: the older one is not read');
    assert.equal(h.newest?.report.startedAt, '2026-12-09T04:00:00.000Z');
  });

  it('an unsigned report, or one signed by another key, proves nothing', async () => {
    await report('2026-12-08T04:00:00.000Z', A, {});
    await report(
      '2026-12-09T04:00:00.000Z',
      B,
      { deepCheck: { checked: [], backups: [{ id: C, lastVerified: '2026-12-09T04:00:00.000Z' }] } },
      false,
    );

    const h = await readVerificationHistory(b.store, b.layout, b.trusted.stranger, { now: NOW });
    const none = await readVerificationHistory(b.store, b.layout, [], { now: NOW });

    assert.deepEqual(Object.fromEntries(h.lastVerified), { [A]: '2026-12-08T04:00:00.000Z' });
    assert.deepEqual([...none.lastVerified], []);
    assert.match(none.note, /no drill report signer key/);
  });

  it('does not read reports older than the oldest backup of interest', async () => {
    await report('2026-11-20T04:00:00.000Z', A, {});
    await report('2026-12-08T04:00:00.000Z', B, {});

    const h = await readVerificationHistory(b.store, b.layout, b.trusted.stranger, {
      now: NOW,
      since: new Date('2026-12-01T00:00:00Z'),
    });

    assert.deepEqual(Object.fromEntries(h.lastVerified), { [B]: '2026-12-08T04:00:00.000Z' });
    assert.equal(h.reportsRead, 1);
  });

  it('reads a report whose key names the same second as the oldest backup (keys hold whole seconds)', async () => {
    // A drill that runs within a second of the backup it verifies: its key says 04:00:00, the backup was made at 04:00:00.400.
    await report('2026-12-08T04:00:00.700Z', B, {});

    const h = await readVerificationHistory(b.store, b.layout, b.trusted.stranger, {
      now: NOW,
      since: new Date('2026-12-08T04:00:00.400Z'),
    });

    assert.deepEqual(Object.fromEntries(h.lastVerified), { [B]: '2026-12-08T04:00:00.700Z' });
    assert.equal(h.reportsRead, 1);
  });
});
