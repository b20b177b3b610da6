import assert from 'node:assert/strict';
import { listDrillReports, readDrillReport, verifyDrillReports } from '../../../shared/backup/drill-evidence.js';
import { signDetached } from '../../../shared/crypto/index.js';
import { type SealedBucket, useSealedBuckets } from './catalogue-fixtures.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const ID = '20261207T030000Z-3f9a1c';

describe('shared/backup/drill-evidence', function () {
  this.timeout(60_000);
  let b: SealedBucket;
  useSealedBuckets((x) => {
    b = x;
  });

  /** A drill report at `key`, signed by `by` (the drill signer by default). */
  async function report(
    name: string,
    body: Record<string, unknown>,
    by = b.keys.stranger,
    signedAt = new Date('2026-12-07T04:01:00Z'),
  ): Promise<string> {
    const key = `prod/reports/${name}`;
    const bytes = Buffer.from(JSON.stringify({ cluster: 'prod', backup: { id: ID }, finishedAt: '2026-12-07T04:01:00.000Z', ...body }));
    await b.put(key, bytes);
    await b.put(`${key}.asc`, await signDetached(bytes, by, { now: signedAt }));
    return key;
  }

  const verify = async () => {
    const claims = await listDrillReports(b.store, b.layout);
    return verifyDrillReports(b.store, b.layout, claims, b.trusted.stranger, { now: NOW });
  };

  it('believes a report that verifies by the drill signer and says what its name says', async () => {
    await report(`20261207T040000Z_${ID}_pass.json`, { result: 'pass' });

    const [e] = await verify();

    assert.deepEqual(e, {
      backupId: ID,
      at: '2026-12-07T04:01:00.000Z',
      result: 'pass',
      report: `prod/reports/20261207T040000Z_${ID}_pass.json`,
      verified: true,
    });
  });

  it('readDrillReport returns the bytes it verified, the signing key and the signed duration', async () => {
    await report(`20261207T040000Z_${ID}_pass.json`, { result: 'pass', durationMs: 61_500 });
    const [claim] = await listDrillReports(b.store, b.layout);

    const read = await readDrillReport(b.store, b.layout, claim!, b.trusted.stranger, NOW);
    const unchecked = await readDrillReport(b.store, b.layout, claim!, [], NOW);

    assert.equal(read.evidence.verified, true);
    assert.equal(read.evidence.durationMs, 61_500);
    assert.equal(read.signerFingerprint, b.keys.stranger.fingerprint);
    assert.equal(JSON.parse(read.bytes!.toString()).durationMs, 61_500);
    assert.equal(unchecked.evidence.verified, false);
    assert.match(unchecked.evidence.unverified ?? '', /no drill signer key configured/);
    assert.equal(JSON.parse(unchecked.bytes!.toString()).durationMs, 61_500);
  });

  it('believes a report signed after the reader read its clock, within the clock skew only', async () => {
    // A drill finishing while status or list-backups runs signs its report after their clock was read.
    await report(`20261207T040000Z_${ID}_pass.json`, { result: 'pass' }, b.keys.stranger, new Date('2026-12-07T12:04:00Z'));
    await report(`20261207T050000Z_${ID}_pass.json`, { result: 'pass' }, b.keys.stranger, new Date('2026-12-07T12:11:00Z'));

    const byName = new Map((await verify()).map((e) => [e.report.split('/').pop(), e]));

    assert.equal(byName.get(`20261207T040000Z_${ID}_pass.json`)?.verified, true);
    assert.equal(byName.get(`20261207T050000Z_${ID}_pass.json`)?.verified, false);
  });

  const forged: { name: string; make: () => Promise<unknown>; why: RegExp }[] = [
    {
      name: 'a "pass" report nobody signed',
      make: () =>
        b.put(`prod/reports/20261207T050000Z_${ID}_pass.json`, JSON.stringify({ cluster: 'prod', result: 'pass', backup: { id: ID } })),
      why: /report or its signature is missing/,
    },
    {
      name: 'a "pass" report signed by another key (the backup signer)',
      make: () => report(`20261207T050000Z_${ID}_pass.json`, { result: 'pass' }, b.keys.scheduled),
      why: /signature is untrusted/,
    },
    {
      name: 'a failed drill renamed to _pass',
      make: () => report(`20261207T050000Z_${ID}_pass.json`, { result: 'fail' }),
      why: /its name says pass, its content says fail/,
    },
    {
      name: 'a real report copied under another backup id',
      make: () => report('20261207T050000Z_20261206T030000Z-aaaaaa_pass.json', { result: 'pass' }),
      why: /reports on backup 20261207T030000Z-3f9a1c, not the one its name says/,
    },
    {
      name: "another cluster's report",
      make: () => report(`20261207T050000Z_${ID}_pass.json`, { result: 'pass', cluster: 'staging' }),
      why: /report of cluster staging/,
    },
  ];
  for (const c of forged) {
    it(`does not believe ${c.name}`, async () => {
      await c.make();

      const [e] = await verify();

      assert.equal(e.verified, false);
      assert.match(e.unverified ?? '', c.why);
    });
  }

  it('without a drill signer key, lists reports as unverified and reads none', async () => {
    await report(`20261207T040000Z_${ID}_pass.json`, { result: 'pass' });

    const [e] = await verifyDrillReports(b.store, b.layout, await listDrillReports(b.store, b.layout), [], { now: NOW });

    assert.equal(e.verified, false);
    assert.match(e.unverified ?? '', /no drill signer key configured/);
  });
});
