import assert from 'node:assert/strict';
import type { DrillEvidence } from '../../../shared/backup/drill-evidence.js';
import type { CheckResult, DrillReport } from '../../../shared/verify-restore/drill-report.js';
import {
  escapeHtml,
  historyChart,
  parseStoredDrillReport,
  type RenderReportInput,
  renderDrillReportHtml,
} from '../../../shared/verify-restore/render-report-html.js';

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
const KEY = 'prod/reports/20261207T040100Z_20261207T030000Z-3f9a1c_pass.json';

function check(name: CheckResult['name'], over: Partial<CheckResult> = {}): CheckResult {
  return { name, status: 'pass', summary: `${name} summary`, durationMs: 1500, findings: [], findingsTotal: 0, ...over };
}

function report(over: Partial<DrillReport> = {}): DrillReport {
  return {
    format: 'secret-steward.io/drill-report/v1',
    drillId: 'ab12',
    result: 'pass',
    cluster: 'prod',
    store: 's3://b/p',
    drillNamespace: 'secret-steward-drill',
    startedAt: '2026-12-07T04:00:00.000Z',
    finishedAt: '2026-12-07T04:01:00.000Z',
    durationMs: 60_000,
    backup: {
      id: '20261207T030000Z-3f9a1c',
      kind: 'scheduled',
      createdAt: '2026-12-07T03:00:00.000Z',
      ageSeconds: 3600,
      signature: 'valid',
      signer: 'AAAABBBBCCCCDDDD',
      secrets: 12,
      segments: 1,
      storedBytes: 4096,
    },
    checks: [
      check('freshness', {
        summary: 'newest backup is on schedule',
        details: { schedule: '0 3 * * *', timeZone: 'UTC', graceSeconds: 3600, expectedAfter: '2026-12-07T03:00:00.000Z' },
      }),
      check('integrity'),
      check('validity'),
      check('restorability', { durationMs: 4200, summary: '12 Secrets created in namespace secret-steward-drill' }),
      check('drift', { status: 'skipped', summary: '--compare-live not given' }),
      check('key-health', {
        summary: 'no key expires within the warning window',
        details: {
          decryptionKeys: [{ fingerprint: 'DECRYPTFPR0001', expiresAt: '2027-06-01T00:00:00.000Z', recipientOfBackup: true }],
          trustedSigners: [{ fingerprint: 'SIGNERFPR0002' }],
          warnings: [],
        },
      }),
      check('catalogue'),
    ],
    counts: {
      secretsInBackup: 12,
      secretsVerified: 12,
      secretsValid: 12,
      secretsRestored: 12,
      secretsSkipped: 0,
      segments: 1,
      segmentsVerified: 1,
    },
    namespaces: { payments: { secrets: 12, verified: 12, valid: 12, restored: 12, skipped: 0, problems: 0 } },
    warnings: [],
    tool: { version: '0.2.0', runner: 'pod' },
    ...over,
  };
}

function drill(at: string, over: Partial<DrillEvidence> = {}): DrillEvidence {
  return {
    backupId: '20261207T030000Z-3f9a1c',
    at,
    result: 'pass',
    report: `prod/reports/${at}.json`,
    verified: true,
    durationMs: 30_000,
    ...over,
  };
}

function input(over: Partial<RenderReportInput> = {}): RenderReportInput {
  return {
    report: report(),
    location: `s3://b/p/${KEY}`,
    reportKey: KEY,
    signature: { verified: true, signer: 'DRILLSIGNERFPR' },
    history: [drill('2026-12-07T04:01:00.000Z', { report: KEY, durationMs: 60_000 }), drill('2026-12-06T04:01:00.000Z')],
    renderedAt: new Date('2026-12-07T12:00:00Z'),
    toolVersion: '0.2.0',
    ...over,
  };
}

/** The text of an element with this id (the renderer writes no nested sections). */
function sectionOf(html: string, id: string): string {
  const m = new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`).exec(html);
  assert.ok(m, `no section ${id}`);
  return m[1]!;
}

describe('shared/verify-restore/render-report-html', () => {
  it('escapes &, <, >, double and single quotes', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });

  it('has every section: signature, backup, each check with result and time, RTO, freshness, key health, Secrets, history chart', () => {
    const html = renderDrillReportHtml(input());

    for (const id of ['signature', 'backup', 'checks', 'rto', 'freshness', 'key-health', 'secrets', 'history']) sectionOf(html, id);
    assert.match(sectionOf(html, 'signature'), /verified<\/span> by trusted drill signer key DRILLSIGNERFPR/);
    assert.match(sectionOf(html, 'backup'), /20261207T030000Z-3f9a1c/);
    for (const name of ['freshness', 'integrity', 'validity', 'restorability', 'drift', 'key-health', 'catalogue'])
      assert.match(
        html,
        new RegExp(
          `data-check="${name}"><td>${name}</td><td class="(pass status">PASS|skipped status">SKIPPED)</td><td class="num">\\d+\\.\\ds</td>`,
        ),
      );
    assert.match(sectionOf(html, 'rto'), /4\.2s \(the restorability check, pass/);
    assert.match(sectionOf(html, 'rto'), /Projected RTO<\/th><td><strong>not measured yet/);
    assert.match(sectionOf(html, 'freshness'), /<code>0 3 \* \* \*<\/code> \(UTC\)/);
    assert.match(sectionOf(html, 'key-health'), /DECRYPTFPR0001<\/code><\/td><td>2027-06-01T00:00:00.000Z<\/td><td>yes/);
    assert.match(sectionOf(html, 'key-health'), /SIGNERFPR0002<\/code><\/td><td>never/);
    assert.match(sectionOf(html, 'history'), /2 verified pass\(es\)/);
    assert.match(sectionOf(html, 'history'), /<svg [^>]*role="img"/);
    assert.doesNotMatch(html, /id="unverified"/);
  });

  it('is self-contained: no script, no external URL, a CSP that forbids both, print CSS', () => {
    const html = renderDrillReportHtml(input());

    assert.doesNotMatch(html, /<script|<link|<iframe|\bsrc=|url\((?!#)/i);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
    assert.match(html, /@media print/);
  });

  it('escapes every string a hostile report carries: names, summaries, findings, warnings, details, history', () => {
    const hostile = report({
      cluster: HOSTILE,
      drillId: HOSTILE,
      store: HOSTILE,
      backup: { ...report().backup!, id: HOSTILE, signer: HOSTILE, kind: HOSTILE },
      checks: report().checks.map((c) => ({
        ...c,
        summary: HOSTILE,
        findings: [{ message: HOSTILE }],
        findingsTotal: 1,
        details: {
          schedule: HOSTILE,
          timeZone: HOSTILE,
          decryptionKeys: [{ fingerprint: HOSTILE, expiresAt: HOSTILE }],
          warnings: [HOSTILE],
        },
      })),
      namespaces: { [HOSTILE]: { secrets: 1, verified: 1, valid: 1, restored: 1, skipped: 0, problems: 0 } },
      warnings: [HOSTILE],
      tool: { version: HOSTILE, runner: HOSTILE },
      keyReadability: {
        decryptionKeys: [HOSTILE],
        backups: [{ id: HOSTILE, kind: HOSTILE as 'scheduled', recipients: [HOSTILE], readable: false, readableBy: [] }],
        unreadable: [HOSTILE],
      },
    });

    const html = renderDrillReportHtml(
      input({
        report: hostile,
        location: HOSTILE,
        signature: { verified: false, why: HOSTILE },
        history: [drill(HOSTILE, { backupId: HOSTILE, verified: false, unverified: HOSTILE })],
      }),
    );

    assert.doesNotMatch(html, /<script|<img|"'&[^#]/);
    assert.ok(html.split('&#60;script&#62;alert(1)&#60;/script&#62;').length > 20, 'the hostile text is shown, escaped');
  });

  it('key health lists the retained backups no decryption key can read, with the keys they are encrypted to', () => {
    const backup = (id: string, recipients: string[], readable: boolean) => ({
      id,
      kind: 'scheduled' as const,
      recipients,
      readable,
      readableBy: readable ? recipients : [],
    });
    const keyReadability = {
      decryptionKeys: ['NEWFPR'],
      backups: [
        backup('20261205T030000Z-aaaaaa', ['OLDFPR'], false),
        backup('20261206T030000Z-bbbbbb', ['OLDFPR'], false),
        backup('20261207T030000Z-3f9a1c', ['NEWFPR'], true),
      ],
      unreadable: ['20261205T030000Z-aaaaaa', '20261206T030000Z-bbbbbb'],
    };

    const bad = sectionOf(renderDrillReportHtml(input({ report: report({ keyReadability }) })), 'key-health');
    const none = sectionOf(renderDrillReportHtml(input()), 'key-health');

    assert.match(bad, /<p class="fail">Retained backups readable with the drill's decryption keys: 1 of 3\.<\/p>/);
    assert.deepEqual(
      [...bad.matchAll(/<tr><td><code>([^<]+)<\/code><\/td><td>scheduled<\/td><td><code>([^<]+)<\/code>/g)].map((m) => [m[1], m[2]]),
      [
        ['20261205T030000Z-aaaaaa', 'OLDFPR'],
        ['20261206T030000Z-bbbbbb', 'OLDFPR'],
      ],
    );
    assert.match(none, /Readability of the retained backups: not in this report\./);
  });

  it('an unverified report gets a banner before anything else, and says it is not evidence', () => {
    const html = renderDrillReportHtml(input({ signature: { verified: false, why: 'its signature is invalid' } }));

    const body = html.slice(html.indexOf('<body>'));
    assert.match(
      body,
      /^<body>\n<div class="banner" id="unverified" role="alert"><strong>UNVERIFIED REPORT\.<\/strong> Its signature did not verify: its signature is invalid\./,
    );
    assert.match(body, /not evidence that a drill ran or passed/);
    assert.match(sectionOf(html, 'signature'), /NOT verified<\/span>: its signature is invalid/);
  });

  it('without a restore (restorability skipped) shows no restore time and still no projected RTO', () => {
    const checks = report().checks.map((c) =>
      c.name === 'restorability' ? check('restorability', { status: 'skipped', summary: 'integrity failed' }) : c,
    );

    const rto = sectionOf(renderDrillReportHtml(input({ report: report({ checks }) })), 'rto');

    assert.match(rto, /not run: integrity failed/);
    assert.match(rto, /not measured yet/);
    assert.doesNotMatch(rto, /the restorability check,/);
  });

  it('with the measured restore time (rto) shows it and the projection to the whole backup', () => {
    const rto = {
      measuredMs: 4200,
      secretsRestored: 9,
      secretsRead: 9,
      secretsInBackup: 12,
      projectedFullRestoreMs: 5600,
      namespaces: 2,
      byNamespace: [],
    };

    const html = sectionOf(renderDrillReportHtml(input({ report: report({ rto }) })), 'rto');

    assert.match(html, /Measured restore \(read, verify, create, read back\)<\/th><td>4\.2s for 9 Secrets/);
    assert.match(html, /Projected RTO \(whole backup, empty cluster\)<\/th><td><strong>5\.6s/);
    assert.match(html, /over 9 of the backup's 12 Secrets/);
    assert.doesNotMatch(html, /not measured yet/);
  });

  it('the chart draws one bar per drill, oldest left, marks the current one, and counts only verified passes', () => {
    const history = [
      drill('2026-12-07T04:00:00.000Z', { report: 'c', durationMs: 60_000 }),
      drill('2026-12-06T04:00:00.000Z', { result: 'fail', durationMs: 30_000 }),
      drill('2026-12-05T04:00:00.000Z', { verified: false, unverified: 'its signature is missing', durationMs: undefined }),
    ];

    const svg = historyChart(history, 'c');
    const html = renderDrillReportHtml(input({ history, reportKey: 'c' }));

    const bars = [...svg.matchAll(/<rect class="bar ([a-z ]+)" x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)">/g)];
    assert.deepEqual(
      bars.map((b) => b[1]),
      ['unverified', 'fail', 'pass current'],
    );
    assert.ok(Number(bars[0]![2]) < Number(bars[1]![2]) && Number(bars[1]![2]) < Number(bars[2]![2]), 'oldest left');
    assert.equal(Number(bars[2]![3]), 2 * Number(bars[1]![3]), 'height proportional to duration');
    assert.match(sectionOf(html, 'history'), /1 verified pass\(es\), 1 unverified \(never counted as passed\)/);
  });

  it('parseStoredDrillReport accepts a report and names what is wrong with anything else', () => {
    const table: Array<[unknown, RegExp | 'ok']> = [
      [report(), 'ok'],
      [[], /not a JSON object/],
      [{ ...report(), format: 'other/v9' }, /its format is "other\/v9"/],
      [{ ...report(), cluster: 7 }, /cluster is not text/],
      [{ ...report(), result: '<b>' }, /result is not pass, fail or error/],
      [{ ...report(), durationMs: '1' }, /durationMs is not a number/],
      [
        { ...report(), checks: [{ name: 'x', status: 'pass', summary: '', durationMs: '<b>', findingsTotal: 0, findings: [] }] },
        /checks\[0\] lacks durationMs/,
      ],
      [{ ...report(), checks: [{ ...check('integrity'), findings: [null] }] }, /checks\[0\]\.findings is not a list of findings/],
      [{ ...report(), backup: { id: 'x' } }, /backup lacks id or ageSeconds/],
    ];
    for (const [json, want] of table) {
      const got = parseStoredDrillReport(json);
      if (want === 'ok') assert.equal(typeof got, 'object');
      else assert.match(String(got), want);
    }
  });
});
