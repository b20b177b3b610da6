import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { backupCommand } from '../../jobs/backup.js';
import { renderReportCommand } from '../../jobs/render-report.js';
import { verifyRestoreCommand } from '../../jobs/verify-restore.js';
import { createObjectStore } from '../../shared/storage/index.js';
import { backupKeyArgs, createDrillNamespace, drillArgs, seedDrillSecrets } from '../shared/verify-restore/drill-fixtures.js';
import { CHROMIUM_INSTALL, dumpDom, hasChromium, printToPdf, screenshot, textOf } from '../support/chromium.js';
import { requireDependency } from '../support/dependencies.js';
import { type Harness, startHarness, type TestKeyFiles, writeTestKeyPair } from '../support/job-harness.js';

const CANARY = 'CANARY-render-5d1c9e2f7a';
const HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>';

describe('jobs/render-report', function () {
  this.timeout(300_000);
  let h: Harness;
  let drillKey: TestKeyFiles;
  let backupId: string;
  let reportKey: string;

  beforeEach(async () => {
    h = await startHarness();
    createDrillNamespace(h);
    await seedDrillSecrets(h, ['payments']);
    h.emulator.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'canary', namespace: 'payments' },
      data: { pw: Buffer.from(CANARY).toString('base64') },
    } as never);
    const b = await h.run(backupCommand, [...h.baseArgs(), ...backupKeyArgs(h), '--output', 'json']);
    assert.equal(b.code, 0, b.stderr);
    backupId = JSON.parse(b.stdout).backupId as string;
    drillKey = await writeTestKeyPair(h.dir, 'drill');
    const d = await h.run(verifyRestoreCommand, [
      ...drillArgs(h),
      '--backup-schedule',
      '0 3 * * *',
      '--report-signing-key',
      drillKey.privateKey,
      '--report-signing-key-passphrase-file',
      drillKey.passphraseFile,
    ]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    reportKey = (await reportKeys()).find((k) => k.endsWith('_pass.json'))!;
  });
  afterEach(async () => h?.stop());

  const store = () => createObjectStore(h.s3.settings('bk'));

  async function reportKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of store().list('test-cluster/reports/')) keys.push(o.key);
    return keys;
  }

  const args = (...extra: string[]) => [...h.s3.args('bk'), '--cluster-name', 'test-cluster', ...extra];

  it('renders a real drill, verified, and headless Chromium shows every section; screenshot and PDF made; no Secret value', async function () {
    requireDependency(this, 'chromium', hasChromium(), CHROMIUM_INSTALL);
    const out = join(h.dir, 'drill.html');

    const r = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey, '--out', out));

    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\(verified\) rendered to .*drill\.html/);
    const html = await readFile(out, 'utf8');
    const dom = await dumpDom(h.dir, out);
    const text = textOf(dom);
    assert.match(text, new RegExp(`DR drill report: cluster test-cluster, backup ${backupId}`));
    assert.match(text, / PASSED /);
    assert.match(text, /Report signature verified by trusted drill signer key [0-9A-F]{40}/);
    for (const check of ['freshness', 'integrity', 'validity', 'restorability', 'key-health', 'catalogue'])
      assert.match(text, new RegExp(` ${check} PASS \\d+\\.\\ds `));
    assert.match(text, / drift SKIPPED \d+\.\ds --compare-live not given/);
    assert.match(text, /Restore into the drill namespace \d+\.\ds \(the restorability check, pass/);
    assert.match(text, /Projected RTO \(whole backup, empty cluster\) \d+\.\ds /);
    assert.match(text, /Schedule 0 3 \* \* \*/);
    assert.match(text, new RegExp(`Decryption key Expires Recipient of the backup ${h.recipient.fingerprint}`));
    assert.match(text, /The last 1 drill\(s\) of this cluster: 1 verified pass\(es\)\./);
    assert.match(dom, /<svg [^>]*role="img"[\s\S]*<rect class="bar pass current"/);
    assert.doesNotMatch(dom, /id="unverified"|<script/);
    for (const leak of [CANARY, Buffer.from(CANARY).toString('base64')]) {
      assert.ok(!html.includes(leak), 'no Secret value in the page');
      assert.ok(!dom.includes(leak), 'no Secret value in the DOM');
    }
    const png = join(h.dir, 'drill.png');
    const pdf = join(h.dir, 'drill.pdf');
    await screenshot(h.dir, out, png);
    await printToPdf(h.dir, out, pdf);
    const pngBytes = await readFile(png);
    assert.deepEqual([...pngBytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.ok(pngBytes.length > 20_000, `a screenshot with content (${pngBytes.length} bytes)`);
    assert.equal((await readFile(pdf)).subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok((await stat(pdf)).size > 10_000);
  });

  it('picks the report by --report KEY or --backup ID, and prints the page on stdout without --out', async () => {
    const byKey = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey, '--report', reportKey));
    const byName = await h.run(
      renderReportCommand,
      args('--drill-signer-key', drillKey.publicKey, '--report', reportKey.split('/').pop()!),
    );
    const byBackup = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey, '--backup', backupId));
    const none = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey, '--backup', '20200101T000000Z-aaaaaa'));

    for (const r of [byKey, byName, byBackup]) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^<!DOCTYPE html>/);
      assert.ok(r.stdout.includes(`s3://`) && r.stdout.includes(reportKey));
    }
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no drill report of backup 20200101T000000Z-aaaaaa under .*test-cluster\/reports\//);
  });

  it('by default renders the newest report that verifies: a newer planted one does not hide it', async () => {
    const s = store();
    const original = JSON.parse((await s.getBytes(reportKey)).toString());
    const name = reportKey.split('/').pop() as string;
    const planted = reportKey.replace(name, name.replace(/^\d{8}T\d{6}Z/, '20991231T000000Z'));
    await s.put(planted, Buffer.from(JSON.stringify({ ...original, drillId: 'planted-drill' })));

    const r = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey));

    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /1 newer drill report\(s\) do not verify by --drill-signer-key \(newest: \S+20991231T000000Z\S+\); rendering the newest that does/,
    );
    assert.ok(r.stdout.includes(String(original.drillId)), 'the real report is rendered');
    assert.ok(!r.stdout.includes('planted-drill'));
  });

  it('names what is wrong with a stored object that is not a drill report, and writes no page', async () => {
    const bogus = `test-cluster/reports/20300101T000000Z_${backupId}_pass.json`;
    await store().put(bogus, Buffer.from(JSON.stringify({ format: 'something-else/v1', cluster: HOSTILE })));
    await store().put(`test-cluster/reports/20300102T000000Z_${backupId}_pass.json`, Buffer.from('{ not json'));
    const out = join(h.dir, 'never.html');

    const wrongShape = await h.run(renderReportCommand, args('--allow-unverified', '--report', bogus, '--out', out));
    const notJson = await h.run(renderReportCommand, args('--allow-unverified', '--out', out));

    assert.equal(wrongShape.code, 1);
    assert.match(wrongShape.stderr, /_pass\.json is not a drill report: its format is "something-else\/v1"/);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /drill report s3:\/\/\S+20300102T000000Z_\S+ is not JSON/);
    await assert.rejects(stat(out), { code: 'ENOENT' });
  });

  it('refuses a report that does not verify (exit 1); --allow-unverified renders it under a banner, hostile strings inert', async function () {
    requireDependency(this, 'chromium', hasChromium(), CHROMIUM_INSTALL);
    // Someone with write access to the bucket edits the signed report: the signature no longer matches.
    const s = store();
    const original = JSON.parse((await s.getBytes(reportKey)).toString());
    await s.put(reportKey, Buffer.from(JSON.stringify({ ...original, drillId: HOSTILE, drillNamespace: HOSTILE })));
    const stranger = await writeTestKeyPair(h.dir, 'stranger');
    const out = join(h.dir, 'unverified.html');

    const refused = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey));
    const wrongKey = await h.run(renderReportCommand, args('--drill-signer-key', stranger.publicKey));
    const noKey = await h.run(renderReportCommand, args());
    const allowed = await h.run(renderReportCommand, args('--drill-signer-key', drillKey.publicKey, '--allow-unverified', '--out', out));

    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /refusing drill report s3:\/\/\S+_pass\.json: it is not verified by --drill-signer-key \(its signature is invalid/,
    );
    assert.equal(refused.stdout, '');
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /its signature is untrusted/);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--drill-signer-key.*required: the report is verified before it is rendered/);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /\(UNVERIFIED\) rendered to/);
    const dom = await dumpDom(h.dir, out);
    assert.match(textOf(dom), /^ ?UNVERIFIED REPORT\. Its signature did not verify: its signature is invalid/);
    assert.doesNotMatch(dom, /<script|<img/);
    assert.match(dom, /<title>DR drill report: cluster test-cluster/, 'the hostile script did not run');
    assert.ok(textOf(dom).includes(HOSTILE), 'the hostile text is shown as text');
  });
});
