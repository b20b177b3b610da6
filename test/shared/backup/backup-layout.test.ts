import assert from 'node:assert/strict';
import { BackupLayout, backupIdTime, isBackupId, newBackupId, parseCompactTime } from '../../../shared/backup/backup-layout.js';

describe('shared/backup/backup-layout', () => {
  const ids: [string, boolean][] = [
    ['20261207T030000Z-3f9a1c', true],
    ['20240229T235959Z-000000', true],
    ['20261301T000000Z-ffffff', false],
    ['20261232T000000Z-ffffff', false],
    ['20230229T000000Z-ffffff', false],
    ['20261207T240000Z-ffffff', false],
    ['20261207T030000Z-3F9A1C', false],
    ['20261207T030000Z', false],
  ];
  for (const [id, valid] of ids) {
    it(`${id} is ${valid ? '' : 'not '}a backup id`, () => assert.equal(isBackupId(id), valid));
  }

  it('a new id carries its time to the second', () => {
    const at = new Date('2026-12-07T03:04:05.678Z');

    const id = newBackupId(at);

    assert.ok(isBackupId(id));
    assert.equal(backupIdTime(id).toISOString(), '2026-12-07T03:04:05.000Z');
    assert.throws(() => parseCompactTime('20261301T000000Z'), /not a compact UTC time/);
  });

  it('builds every key of a backup under its prefix, and parses report keys only with real times and ids', () => {
    const l = new BackupLayout('prod');

    assert.equal(l.sealKey('20261207T030000Z-3f9a1c'), 'prod/backups/20261207T030000Z-3f9a1c/seal.json.asc');
    assert.equal(l.backupIdOf('prod/backups/20261207T030000Z-3f9a1c/segment-00001.json.gz.pgp'), '20261207T030000Z-3f9a1c');
    assert.equal(l.backupIdOf('prod/backups/20261307T030000Z-3f9a1c/x'), undefined);
    assert.equal(l.parseReportKey('prod/reports/20261207T040000Z_20261207T030000Z-3f9a1c_pass.json')?.passed, true);
    assert.equal(l.parseReportKey('prod/reports/20261307T040000Z_20261207T030000Z-3f9a1c_pass.json'), undefined);
  });
});
